/*
 * orders.h - seckill-orders, the order service: orders from Kafka into
 * PostgreSQL exactly once in effect, unpaid orders expired and their units
 * sold again.
 *
 * Three threads, each with its own connections, share nothing but the
 * configuration, the stop flag and the counters below:
 *
 *   consumer (orders_consumer.c)  Kafka consumer group -> batches -> one
 *                                 transaction each with the offsets they
 *                                 cover (orders_write.c, orders_pg.c)
 *   sweeper  (orders_sweep.c)     expires unpaid orders past their deadline,
 *                                 then tells Redis (orders_redis.c): the
 *                                 unit goes back to the sale, the buyer is
 *                                 released, hosts are told
 *   http     (orders_http.c)      POST /orders/{id}/paid for the payment
 *                                 provider, GET /orders/{id}, GET /stats
 */
#ifndef SECKILL_ORDERS_H
#define SECKILL_ORDERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orders_write.h"

#define ORDERS_DEFAULT_GROUP "seckill-orders"
#define ORDERS_DEFAULT_TOPIC "seckill.orders"
#define ORDERS_DEFAULT_PAY_WITHIN_S (15 * 60)
#define ORDERS_DEFAULT_BATCH 5000
#define ORDERS_DEFAULT_BATCH_MS 50
#define ORDERS_DEFAULT_SWEEP_MS 200
/* Kafka's group session: a SIGKILLed member's partitions move on after it. */
#define ORDERS_DEFAULT_SESSION_MS 6000
#define ORDERS_DEFAULT_HTTP_BIND "127.0.0.1"
#define ORDERS_ERR_CAP 512

struct orders_conf {
	const char *kafka;          /* bootstrap servers */
	const char *pg;             /* libpq conninfo */
	char redis_host[256];
	int redis_port;
	const char *group, *topic;
	uint32_t pay_within_s;
	uint32_t batch, batch_ms, sweep_ms, session_ms;
	enum ow_mode writer;
	int http_port;              /* 0: no HTTP endpoint */
	const char *http_bind;
	char metrics_ip[16];        /* --metrics-listen [IP:]PORT: GET /metrics alone */
	int metrics_port;           /* 0: none (GET /metrics is on --http too) */
	bool quiet;
};

/* Counters: each has one writing thread; relaxed atomics for the readers. */
#define ORDERS_STATS(X) \
	X(consumed) X(bad_messages) X(batches) X(staged_batches) X(inserted) X(duplicates) \
	X(fenced) X(write_errors) X(resyncs) X(rebalances) \
	X(expired) X(returned) X(return_replays) X(paid_announced) X(redis_errors) \
	X(pay_requests) X(paid) X(pay_refused) X(http_requests)

struct orders_stats {
#define ORDERS_STATS_FIELD(n) _Atomic uint64_t n;
	ORDERS_STATS(ORDERS_STATS_FIELD)
#undef ORDERS_STATS_FIELD
};

static inline void orders_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * Consumer lag, per partition: the partition's end (its high watermark, as
 * the last fetch response said) minus the next offset the database holds
 * for it, i.e. orders in Kafka not yet in PostgreSQL. -1 while the partition
 * is not assigned here or its end is not known yet. Written by the consumer
 * thread at most every ORDERS_LAG_MS, read by GET /metrics.
 */
#define ORDERS_LAG_PARTITIONS 4096      /* = ORDERS_MAX_PARTITIONS (orders_pg.h) */
#define ORDERS_LAG_MS 500
extern _Atomic int64_t orders_lag[ORDERS_LAG_PARTITIONS];

/* Writes "name value\n" lines (or one JSON object) into buf; length. */
int orders_stats_format(const struct orders_stats *st, bool json, char *buf, size_t cap);

extern struct orders_stats orders_stats;
/* Set by SIGINT/SIGTERM; every loop checks it at least every 100 ms. */
extern atomic_bool orders_stop;

/* orders_opts.c: 0, or the exit code of a usage error it has printed. */
int orders_opts_parse(int argc, char **argv, struct orders_conf *c);

/* The threads' bodies (arg: the conf). */
void *orders_consumer_run(void *arg);
void *orders_sweep_run(void *arg);
void *orders_http_run(void *arg);
/* orders_http.c: binds the listening sockets (--http, --metrics-listen)
 * before the threads start, so a port in use is an error at start. -1 with err. */
int orders_http_listen(const struct orders_conf *c, char *err, size_t cap);

/* Logging: "seckill-orders: ..." on stderr, one line. */
void orders_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
