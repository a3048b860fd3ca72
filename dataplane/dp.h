/*
 * dp.h - the dataplane's per-lcore state and the glue between its files.
 *
 * Everything one worker touches per packet lives in its struct dp_lcore,
 * found through dp_lcores[rte_lcore_id()] as in DPDK's l3fwd: its RX/TX queue
 * pair, its TX burst, its own net_core + tcp_core + http_server, its counters.
 * Workers share only the (read-only) configuration and the mbuf pool, whose
 * per-lcore cache keeps them off each other's cache lines. Flows are pinned to
 * a queue by the port (af_packet fanout, or RSS on a NIC), so each queue's TCP
 * table sees every segment of its connections and nothing is locked.
 */
#ifndef SECKILL_DP_H
#define SECKILL_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "app.h"
#include "ctl_kafka.h"
#include "dp_conf.h"
#include "dp_port.h"
#include "dp_txq.h"
#include "http_server.h"
#include "net_core.h"
#include "ord_journal.h"
#include "sale.h"
#include "stats.h"
#include "tcp.h"

/* Dataplane counters of one core (lib/ modules count their own). */
#define DP_STATS(X) \
	X(rx_pkts) X(rx_bursts) X(rx_drop_multiseg) X(tx_pkts) X(tx_bursts) \
	X(tx_drops) X(tx_nombuf) X(idle_sleeps) \
	X(busy_cycles)  /* TSC cycles spent on non-empty bursts: RX, stack, timers, TX */ \
	X(stack_cycles) /* of them, in the stack: net_input to the answer queued */

struct dp_stats { DP_STATS(STATS_FIELD) };
extern const char *const dp_stats_names[];
#define DP_STATS_N (0 DP_STATS(STATS_COUNT))

enum dp_lcore_state {
	DP_LCORE_STARTING = 0,
	DP_LCORE_RUNNING,            /* set up, polling */
	DP_LCORE_FAILED,             /* set-up failed; err says why */
	DP_LCORE_STOPPED,            /* left its loop after dp_quit */
};

struct dp_lcore {
	/* Written by the main lcore before launch, read-only afterwards. */
	const struct dp_conf *conf;
	struct rte_mempool *pool;
	struct net_iface ifc;
	uint16_t port;
	uint16_t queue;
	unsigned int lcore_id;

	/* The worker's own stack, created on the worker (its socket, its cache). */
	struct net_core net;
	struct tcp_core *tcp;
	struct http_server *http;
	struct app app;              /* the routes' per-core state (app_handle's ctx) */
	struct sale_core *sale;      /* this worker's part of the sale; NULL: none */
	struct net_tx tx;

	/* The TX burst being built (dp_txq.c). */
	struct dp_txq txq;

	/* The sale's clock (dp_worker.c): Unix ms from the TSC, re-anchored to
	 * the wall clock every tick, so the loop makes no syscall for it. */
	uint64_t clock_ms0, clock_tsc0;

	/* Idle back-off (dp_worker.c). */
	uint32_t idle_polls;
	uint32_t idle_sleep_us;

	struct dp_stats st;
	/* Gauges copied out by the worker every clock tick, so the main lcore can
	 * print them without walking a table another core is changing. Each field
	 * is an aligned 32-bit store: a reader sees old or new, never torn. */
	struct tcp_gauges gauges;

	int state;                   /* enum dp_lcore_state; __atomic, see dp_worker.c */
	char err[160];
} __rte_cache_aligned;

/*
 * The control thread's state (dp_ctl.c): the main lcore drains every
 * worker's order ring into the order journal and keeps these counters.
 */
#define DP_CTL_STATS(X) \
	X(drained)          /* records taken from the rings */ \
	X(journaled)        /* records appended to the journal */ \
	X(syncs)            /* ord_journal_sync calls that made records durable */ \
	X(journal_errors)   /* appends or syncs that failed: the journal is unusable */ \
	X(pauses)           /* times sales were paused for a (nearly) full journal */ \
	X(unjournaled)      /* records left in memory at exit: lost (logged) */
struct dp_ctl_stats { DP_CTL_STATS(STATS_FIELD) };
extern const char *const dp_ctl_stats_names[];
#define DP_CTL_STATS_N (0 DP_CTL_STATS(STATS_COUNT))

/* The Redis side's counters (dp_redis.c). */
#define DP_REDIS_STATS(X) \
	X(takes)            /* chunk takes answered by Redis */ \
	X(empty_takes)      /* of them, Redis had nothing left */ \
	X(units_taken)      /* units moved from Redis to this host */ \
	X(confirms)         /* orders confirmed (buyer claimed, sold + 1) */ \
	X(confirm_replays)  /* of them, confirmed before (a replay) */ \
	X(confirm_batches)  /* pipelined round trips that carried them */ \
	X(duplicates)       /* orders rejected: the buyer bought on another host */ \
	X(confirm_failures) /* confirms Redis could not answer (down, error) */ \
	X(confirm_waits)    /* times Kafka's next order waited for its confirm */ \
	X(down)             /* times Redis became unreachable */ \
	X(given_back)       /* unsold units given back (campaign closed, or stop) */
struct dp_redis_stats { DP_REDIS_STATS(STATS_FIELD) };
extern const char *const dp_redis_stats_names[];
#define DP_REDIS_STATS_N (0 DP_REDIS_STATS(STATS_COUNT))

/* Records moved from a ring to the journal per dequeue. */
#define DP_CTL_BURST 256

struct dp_ctl {
	struct sale *sale;           /* NULL: no campaign, nothing to drain */
	struct ord_journal *journal;
	uint32_t epoch;
	unsigned n_cores;
	uint64_t max_bytes;
	uint64_t pause_room;         /* pause sales when fewer records fit */
	bool broken;                 /* the journal failed: it takes nothing more */
	bool paused;
	/* Records dequeued but not yet appended (only when the journal refused). */
	struct ord_record carry[DP_CTL_BURST];
	unsigned carry_i, carry_n;
	uint64_t ring_drained[SALE_MAX_CORES];
	/* Journal gauges, refreshed after every pass (the journal itself is
	 * closed before the final counters are printed). */
	uint64_t journal_depth, journal_bytes, synced_seq, sync_us_max;
	struct dp_ctl_stats st;
	struct dp_ctlsock *sock;     /* seckillctl's socket (dp_ctlsock.c), polled each pass */
	struct ctl_kafka *kafka;     /* --kafka: the producer (dp_kafka.c); NULL: none */
	struct ctl_kafka_stats kafka_st;   /* as of the last pass */
	bool kafka_on;               /* --kafka given: kafka_st is worth printing */
	bool kafka_down;             /* deliveries failing: logged once until one succeeds */
	struct dp_redis *redis;      /* --redis (dp_redis.c); NULL: none */
	struct dp_redis_stats redis_st;
	bool redis_on;               /* --redis given: redis_st is worth printing */
};

extern struct dp_lcore *dp_lcores[RTE_MAX_LCORE];

/* The control thread's clock: CLOCK_MONOTONIC in microseconds (workers use
 * the TSC instead, dp_worker.c). */
static inline uint64_t dp_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
/* Set by the signal handler, polled by every loop; relaxed is enough since a
 * late read only costs one more iteration. */
extern volatile int dp_quit;

/* dp_worker.c */
int dp_worker_main(void *arg);
void dp_worker_fini(struct dp_lcore *lc);

/* dp_sale.c */
int dp_sale_open(const struct dp_conf *conf, struct dp_ctl *ctl, char *err, size_t errlen);
int dp_sale_create(const struct dp_conf *conf, struct dp_ctl *ctl, unsigned workers,
		   char *err, size_t errlen);
void dp_sale_close(struct dp_ctl *ctl);

/* dp_kafka.c */
int dp_kafka_open(const struct dp_conf *conf, struct dp_ctl *ctl, char *err, size_t errlen);
int dp_kafka_poll(struct dp_ctl *ctl);
void dp_kafka_close(struct dp_ctl *ctl);

/* dp_redis.c */
enum { DP_REDIS_RESTORE_KEEP, DP_REDIS_RESTORE_SKIP, DP_REDIS_RESTORE_FAILED };
int dp_redis_open(const struct dp_conf *conf, struct dp_ctl *ctl, char *err, size_t errlen);
int dp_redis_add(struct dp_ctl *ctl, uint32_t id, char *err, size_t errlen);
int dp_redis_campaign_create(struct dp_ctl *ctl, const struct dp_campaign *cp, char *err,
			     size_t errlen);
bool dp_redis_has(const struct dp_ctl *ctl, uint32_t id);
int dp_redis_restore_begin(struct dp_ctl *ctl, char *err, size_t errlen);
int dp_redis_restore_check(struct dp_ctl *ctl, uint64_t seq, const struct ord_record *rec);
int dp_redis_restore_end(struct dp_ctl *ctl, char *err, size_t errlen);
int dp_redis_before_produce(void *arg, uint64_t seq, const struct ord_record *rec);
void dp_redis_poll(struct dp_ctl *ctl);
void dp_redis_confirm_ahead(struct dp_ctl *ctl);
int dp_redis_set_state(struct dp_ctl *ctl, uint32_t id, enum sale_state st);
void dp_redis_close(struct dp_ctl *ctl);

/* dp_ctl.c */
void dp_ctl_loop(struct dp_ctl *ctl, const struct dp_conf *conf);
void dp_ctl_finish(struct dp_ctl *ctl);

/* dp_stats.c */
void dp_stats_summary(FILE *f, uint64_t elapsed_s, const struct dp_ctl *ctl);
void dp_stats_print_final(FILE *f, const struct dp_ctl *ctl);

#endif
