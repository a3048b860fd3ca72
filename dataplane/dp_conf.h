/*
 * dp_conf.h - seckill-dp's own options (everything after `--` on the command
 * line), parsed and checked before the EAL starts so that a typo costs no
 * DPDK start-up and gets a message that says what to change.
 */
#ifndef SECKILL_DP_CONF_H
#define SECKILL_DP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http_server.h"
#include "lim_bucket.h"
#include "sale.h"
#include "tcp.h"
#include "token.h"

/* Largest RX burst we accept: the per-core arrays are sized by it. */
#define DP_BURST_MAX 256
/* 32 is what l3fwd uses: enough to amortise the PMD call, small enough for L1. */
#define DP_BURST_DEFAULT 32
/*
 * Without hugepages the EAL's -m memory is ordinary pages; 4095 mbufs of
 * 2 KiB (2^n - 1 is the mempool's sweet spot) fit with room to spare in the
 * 256 MB that tools/serve gives it.
 */
#define DP_MBUFS_DEFAULT 4095
#define DP_MBUFS_MIN 511
/* Longest sleep of the idle back-off: an idle core wakes 5000 times a second. */
#define DP_IDLE_SLEEP_US_DEFAULT 200
#define DP_IDLE_SLEEP_US_MAX 100000

/* The sale's options. Limits: the per-core order books are sized by the
 * total stock (32 bytes a unit per core), hence a total a host can hold. */
#define DP_STOCK_MAX (UINT64_C(1) << 26)
#define DP_BLACKLIST_MAX 4096        /* entries per blacklist (sale_conf) */
#define DP_STATE_DIR_DEFAULT "./seckill-state"
#define DP_PATH_CAP 4096
/* Requests per second (or minute) a limit may be set to: above this a
 * limit is no limit, and the milli-request rate must fit 32 bits. */
#define DP_RATE_MAX 4000000
/* --ip-conns: above this (a whole default table per core, times 1024) a
 * limit is no limit. */
#define DP_IP_CONNS_MAX (1u << 24)
/* Kafka: the broker list and topic as given (the Kafka client parses the list). */
#define DP_KAFKA_CAP 1024
#define DP_KAFKA_TOPIC_CAP 250       /* Kafka's limit on a topic name is 249 */
#define DP_KAFKA_TOPIC_DEFAULT "seckill.orders"
/* sun_path of struct sockaddr_un holds 108 bytes with the NUL. */
#define DP_CTL_SOCKET_CAP 108
/* --metrics-listen [IP:]PORT: Prometheus's /metrics on a kernel socket,
 * loopback unless an address is given (control/ctl_metrics.c). */
#define DP_METRICS_LISTEN_CAP 32
#define DP_METRICS_ADDR_DEFAULT "127.0.0.1"

struct dp_campaign {
	uint32_t id;
	uint64_t stock;
	uint64_t starts_at_ms;       /* Unix ms; 0 = open now */
	unsigned buckets;            /* its claims' hash tags in Redis; 0 or 1: one */
};

/* --answer-after: when a buy that took a unit hears 200 (control/ctl_durable.c). */
enum dp_answer_after {
	DP_ANSWER_AFTER_DISK = 0,       /* its journal record is fsynced (default) */
	DP_ANSWER_AFTER_KAFKA,          /* Kafka acked it (acks=all) */
	DP_ANSWER_AFTER_MEMORY_UNSAFE,  /* at once: a crash can lose answered orders */
};

struct dp_sale_conf {
	bool on;                     /* a sale runs (else /api/ answers 404): see dp_conf.c */
	unsigned n_campaigns;
	struct dp_campaign camp[SALE_MAX_CAMPAIGNS];
	uint64_t total_stock;
	uint64_t max_stock;          /* with run-time campaigns (--max-stock); >= total */
	char key_file[DP_PATH_CAP];
	struct token_key key;        /* loaded from key_file while parsing */
	struct lim_rule ip_rule;     /* rate 0: off */
	struct lim_rule buyer_rule;
	/* As given: rate per `per` seconds (1 or 60), burst in requests. */
	uint32_t ip_rate, ip_per, ip_burst;
	uint32_t buyer_rate, buyer_per, buyer_burst;
	unsigned n_black_ip, n_black_buyer;
	uint32_t black_ip[DP_BLACKLIST_MAX];     /* network order */
	uint64_t black_buyer[DP_BLACKLIST_MAX];
	uint32_t max_buyers;         /* purchase set capacity */
	uint32_t order_ring;         /* per-core ring slots, a power of two */
	uint16_t node_id;
	char state_dir[DP_PATH_CAP];
	uint64_t journal_max_bytes;
	char kafka[DP_KAFKA_CAP];    /* "": no Kafka, orders stay pending */
	char kafka_topic[DP_KAFKA_TOPIC_CAP];
	char redis_seeds[256];       /* --redis: IP:PORT[,IP:PORT...] */
	char redis_ip[16];           /* its first seed; redis_port 0: no Redis */
	uint16_t redis_port;
	char redis_host[64];         /* "": <hostname>-<node id> */
	enum dp_answer_after answer_after;
};

struct dp_conf {
	uint32_t ip;                 /* network byte order */
	char ip_str[16];
	struct tcp_conf tcp;         /* port, table size, buffers, timeouts, cookies */
	struct http_server_conf http;
	uint32_t idle_sleep_us;      /* back-off cap; 0 = busy poll for ever */
	uint16_t burst;
	uint32_t mbufs;
	uint32_t stats_interval_s;   /* 0 = counters only at exit */
	uint32_t ip_conns;           /* --ip-conns: connections per address, all cores; 0 = off */
	struct dp_sale_conf sale;
	char ctl_socket[DP_CTL_SOCKET_CAP];   /* "": /run/seckill/<file-prefix>.sock */
	char metrics_listen[DP_METRICS_LISTEN_CAP];   /* "IP:PORT" of GET /metrics; "": none */
	char site_dir[DP_PATH_CAP];  /* --site: the sale page's files; "": the built-in site */
};

enum dp_conf_result { DP_CONF_OK = 0, DP_CONF_HELP, DP_CONF_ERROR };

/*
 * Fills conf from argv (argv[0] is the program name) on top of the defaults.
 * On DP_CONF_ERROR, err holds a message naming the option and what to do.
 */
enum dp_conf_result dp_conf_parse(struct dp_conf *conf, int argc, char **argv,
				  char *err, size_t errlen);
void dp_conf_usage(FILE *f, const char *prog);

#endif
