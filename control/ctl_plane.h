/*
 * ctl_plane.h - the control thread: its state and the steps of one order's path.
 *
 * The main lcore becomes the control thread once the workers run. Each pass
 * (ctl_loop.c) drains every worker's order ring, appends the records to the
 * order journal and fsyncs them (lib/journal), claims the buyers in Redis
 * (ctl_sale_redis.c over the hiredis adapter ctl_redis.c) and produces the
 * journaled orders to Kafka (ctl_sale_kafka.c over the librdkafka adapter
 * ctl_kafka.c), whose delivery reports confirm them. Around it: the sale's
 * set-up and state directory (ctl_sale.c), seckillctl's socket and its
 * commands (ctl_sock*.c), the counters (ctl_stats.c), DPDK telemetry
 * (ctl_telemetry.c) and Prometheus's GET /metrics (ctl_metrics.c). The workers never see this header: dataplane/dp.h is
 * theirs, and it includes neither Kafka, Redis nor the journal.
 */
#ifndef SECKILL_CTL_PLANE_H
#define SECKILL_CTL_PLANE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_kafka.h"
#include "ctl_prom.h"
#include "dp.h"
#include "now.h"
#include "ord_journal.h"
#include "sale.h"
#include "stats.h"

/*
 * The control thread's state (ctl_loop.c): the main lcore drains every
 * worker's order ring into the order journal and keeps these counters.
 */
#define CTL_LOOP_STATS(X) \
	X(drained)          /* records taken from the rings */ \
	X(journaled)        /* records appended to the journal */ \
	X(syncs)            /* ord_journal_sync calls that made records durable */ \
	X(journal_errors)   /* appends or syncs that failed: the journal is unusable */ \
	X(pauses)           /* times sales were paused for a (nearly) full journal */ \
	X(unjournaled)      /* records left in memory at exit: lost (logged) */
struct ctl_loop_stats { CTL_LOOP_STATS(STATS_FIELD) };
extern const char *const ctl_loop_stats_names[];
#define CTL_LOOP_STATS_N (0 CTL_LOOP_STATS(STATS_COUNT))

/* The Redis side's counters (ctl_sale_redis.c). */
#define CTL_SALE_REDIS_STATS(X) \
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
	X(given_back)       /* unsold units given back (campaign closed, or stop) */ \
	X(starved)          /* passes that found an open campaign's stock here empty \
	                     * while Redis still had units: the cores answered 503 */ \
	X(campaign_syncs)   /* campaigns loaded or changed from Redis (another host's \
	                     * create, open or close) */ \
	X(released_rejects) /* orders rejected: sold from a holding an operator \
	                     * released, and Redis had no unit left */ \
	X(released_dropped) /* units dropped: this host's holding was released */
struct ctl_sale_redis_stats { CTL_SALE_REDIS_STATS(STATS_FIELD) };
extern const char *const ctl_sale_redis_stats_names[];
#define CTL_SALE_REDIS_STATS_N (0 CTL_SALE_REDIS_STATS(STATS_COUNT))

/* The order service's events (ctl_sale_events.c). */
#define CTL_SALE_EVENTS_STATS(X) \
	X(read)             /* events read from seckill:order_events:{id} */ \
	X(paid)             /* orders of this run marked paid */ \
	X(expired)          /* orders of this run marked expired, their buyer released */ \
	X(released)         /* buyers released for an expired order of another host or \
	                     * an earlier run (no claim left in Redis) */ \
	X(kept)             /* ... not released: Redis claims the buyer for another order */ \
	X(others)           /* events with nothing to do here (another host's order, \
	                     * its buyer not claimed here) */ \
	X(repeats)          /* events applied before (read again after a failed poll) */ \
	X(conflicts)        /* events about an order this run has rejected or in the \
	                     * other final state (logged) */ \
	X(malformed)        /* events that are not "expired|paid <order id> <buyer>" */ \
	X(failures)         /* polls Redis did not answer (down, or a bad reply) */
struct ctl_sale_events_stats { CTL_SALE_EVENTS_STATS(STATS_FIELD) };
extern const char *const ctl_sale_events_stats_names[];
#define CTL_SALE_EVENTS_STATS_N (0 CTL_SALE_EVENTS_STATS(STATS_COUNT))

/* Records moved from a ring to the journal per dequeue. */
#define CTL_LOOP_BURST 256

/* The durable position (ctl_durable.c): what the cores may answer. */
#define CTL_DURABLE_SNAPS 1024
struct ctl_durable_snap {
	uint64_t jseq;                       /* the journal's synced seq at that sync */
	uint64_t seq[SALE_MAX_CORES];        /* each core's highest order seq in it */
};
struct ctl_durable {
	uint64_t appended[SALE_MAX_CORES];   /* each core's last order seq appended */
	uint64_t synced[SALE_MAX_CORES];     /* ... as of the last sync */
	/* --answer-after kafka: syncs not yet acked by Kafka, oldest at head. */
	struct ctl_durable_snap snap[CTL_DURABLE_SNAPS];
	unsigned head, n;
	uint64_t coalesced;                  /* snapshots merged into the newest (FIFO full) */
};

struct ctl_plane {
	struct sale *sale;           /* NULL: no campaign, nothing to drain */
	struct ord_journal *journal;
	uint32_t epoch;
	unsigned n_cores;
	uint64_t max_bytes;
	uint64_t pause_room;         /* pause sales when fewer records fit */
	bool broken;                 /* the journal failed: it takes nothing more */
	bool paused;
	/* Records dequeued but not yet appended (only when the journal refused). */
	struct ord_record carry[CTL_LOOP_BURST];
	unsigned carry_i, carry_n;
	uint64_t ring_drained[SALE_MAX_CORES];
	/* Journal gauges, refreshed after every pass (the journal itself is
	 * closed before the final counters are printed). */
	uint64_t journal_depth, journal_bytes, synced_seq, sync_us_max;
	struct ctl_loop_stats st;
	int answer_after;            /* enum dp_answer_after (--answer-after) */
	struct ctl_durable dur;      /* what the cores may answer (ctl_durable.c) */
	struct ctl_sock *sock;       /* seckillctl's socket (ctl_sock.c), polled each pass */
	struct ctl_kafka *kafka;     /* --kafka: the producer (ctl_sale_kafka.c); NULL: none */
	struct ctl_kafka_stats kafka_st;   /* as of the last pass */
	bool kafka_on;               /* --kafka given: kafka_st is worth printing */
	bool kafka_down;             /* deliveries failing: logged once until one succeeds */
	struct ctl_sale_redis *redis;      /* --redis (ctl_sale_redis.c); NULL: none */
	struct ctl_sale_redis_stats redis_st;
	bool redis_on;               /* --redis given: redis_st is worth printing */
	struct ctl_sale_events *events;    /* --redis: the order service's events
	                                    * (ctl_sale_events.c); NULL: none */
	struct ctl_sale_events_stats events_st;
	struct ctl_campaigns *camps; /* without --redis: the state dir's record (ctl_campaigns.c) */
	struct ctl_metrics *metrics; /* --metrics-listen (ctl_metrics.c), polled each pass; NULL: none */
	struct lim_conn *ip_conns;   /* --ip-conns' table, shared with the workers (dp_main.c) */
	/* Per order journaled: its pass's drain start to the durable position
	 * published (ctl_loop.c), for /metrics. */
	struct ctl_prom_hist durable_hist;
};

/* ctl_sale.c */
int ctl_sale_open(const struct dp_conf *conf, struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_create(const struct dp_conf *conf, struct ctl_plane *ctl, unsigned workers,
		   char *err, size_t errlen);
void ctl_sale_close(struct ctl_plane *ctl);

/* ctl_campaigns.c: without --redis, every campaign and its state in the
 * state dir, so those made at run time outlive the process. */
int ctl_campaigns_restore(const struct dp_conf *conf, struct ctl_plane *ctl, char *err,
			  size_t errlen);
int ctl_campaigns_created(struct ctl_plane *ctl, uint32_t id, uint64_t stock,
			  uint64_t starts_at_ms, char *err, size_t errlen);
int ctl_campaigns_state(struct ctl_plane *ctl, uint32_t id, enum sale_state st, char *err,
			size_t errlen);
int ctl_campaigns_pow(struct ctl_plane *ctl, uint32_t id, unsigned bits, char *err,
		      size_t errlen);
void ctl_campaigns_free(struct ctl_plane *ctl);

/* ctl_sale_kafka.c */
int ctl_sale_kafka_open(const struct dp_conf *conf, struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_kafka_poll(struct ctl_plane *ctl);
void ctl_sale_kafka_close(struct ctl_plane *ctl);

/* ctl_sale_redis.c */
enum { CTL_SALE_REDIS_RESTORE_KEEP, CTL_SALE_REDIS_RESTORE_SKIP, CTL_SALE_REDIS_RESTORE_FAILED };
int ctl_sale_redis_open(const struct dp_conf *conf, struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_redis_add(struct ctl_plane *ctl, uint32_t id, char *err, size_t errlen);
int ctl_sale_redis_add_all(struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_redis_campaign_create(struct ctl_plane *ctl, const struct dp_campaign *cp, char *err,
			     size_t errlen);
bool ctl_sale_redis_has(const struct ctl_plane *ctl, uint32_t id);
int ctl_sale_redis_restore_begin(struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_redis_restore_check(struct ctl_plane *ctl, uint64_t seq, const struct ord_record *rec);
int ctl_sale_redis_restore_end(struct ctl_plane *ctl, char *err, size_t errlen);
int ctl_sale_redis_before_produce(void *arg, uint64_t seq, const struct ord_record *rec);
void ctl_sale_redis_poll(struct ctl_plane *ctl);
void ctl_sale_redis_confirm_ahead(struct ctl_plane *ctl);
int ctl_sale_redis_set_state(struct ctl_plane *ctl, uint32_t id, enum sale_state st);
int ctl_sale_redis_set_pow(struct ctl_plane *ctl, uint32_t id, unsigned bits);
int ctl_sale_redis_release_host(struct ctl_plane *ctl, uint32_t id, const char *host,
				uint64_t *given, char *err, size_t errlen);
void ctl_sale_redis_close(struct ctl_plane *ctl);
/* Whether Redis was unreachable at the last command (for /metrics). */
bool ctl_sale_redis_down(const struct ctl_plane *ctl);

/* ctl_sale_events.c: --redis: what the order service (seckill-orders) made of
 * the orders, paid or expired, read from Redis into the order books and the
 * purchase set; open after ctl_sale_create, poll every pass after the Redis
 * poll, close after ctl_loop_finish. */
int ctl_sale_events_open(const struct dp_conf *conf, struct ctl_plane *ctl, char *err,
			 size_t errlen);
void ctl_sale_events_poll(struct ctl_plane *ctl);
void ctl_sale_events_close(struct ctl_plane *ctl);

/* ctl_loop.c */
void ctl_loop_run(struct ctl_plane *ctl, const struct dp_conf *conf);
void ctl_loop_finish(struct ctl_plane *ctl);

/* ctl_durable.c: the durable position, for answers held until then. */
void ctl_durable_appended(struct ctl_plane *ctl, const struct ord_record *rec);
void ctl_durable_synced(struct ctl_plane *ctl);
void ctl_durable_acked(struct ctl_plane *ctl);

/* ctl_stats.c */
void ctl_stats_summary(FILE *f, uint64_t elapsed_s, const struct ctl_plane *ctl);
void ctl_stats_print_final(FILE *f, const struct ctl_plane *ctl);

#endif
