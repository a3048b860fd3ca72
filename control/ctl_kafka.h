/*
 * ctl_kafka.h - the control plane's Kafka side: every order reaches the
 * orders topic, none is ever dropped, and the cores refuse sales (503) only
 * when the local journal is full.
 *
 * Pipeline (details and the crash argument: ctl_kafka.c):
 *
 *   submit(rec) -> journal append -> [sync, batched] -> produce (idempotent,
 *   acks=all, key = buyer) -> delivery report -> on_confirmed(rec)
 *                                             -> journal ack (batched)
 *
 * An order is handed to Kafka only once it is durable in the journal
 * (ord_journal.h). submit() only buffers it: the order survives a crash
 * (process or power) once ctl_kafka_synced_seq() has reached its seq, at
 * most sync_interval_ms (or CTL_KAFKA_SYNC_BATCH orders) later. A caller
 * that must never tell a buyer "yes" for an order a crash could lose waits
 * for that, or for on_confirmed. A failed delivery leaves the order in the
 * journal and it is produced again, in journal order, when the brokers
 * answer; a restart produces the unacked journal first.
 *
 * Duplicates: an order delivered but not yet acked in the journal when the
 * process dies is produced again by the next run (the idempotent producer
 * dedups only within one producer session). Acks are persisted at most
 * ack_interval_ms after delivery, which bounds the window; downstream dedups
 * on order_id (unique, see ctl_order_json.h), so the effect is exactly once.
 *
 * Single-threaded: one thread (the control thread) makes every call,
 * including ctl_kafka_poll, which runs the callbacks. No DPDK.
 */
#ifndef SECKILL_CTL_KAFKA_H
#define SECKILL_CTL_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ord_journal.h"
#include "ord_record.h"
#include "stats.h"

#define CTL_KAFKA_DEFAULT_TOPIC "seckill.orders"
#define CTL_KAFKA_DEFAULT_QUEUE_MAX 10000
#define CTL_KAFKA_DEFAULT_JOURNAL_MAX (1ull << 30)   /* 1 GiB: ~19M orders at 56 B */
/* Suggested periods (conf 0 means every poll): an fsync batch every 5 ms costs
 * one fsync per 5 ms however many orders, and bounds what a crash can lose. */
#define CTL_KAFKA_DEFAULT_SYNC_MS 5
/* A burst is synced at once past this many orders, not at the next tick. */
#define CTL_KAFKA_SYNC_BATCH 4096
#define CTL_KAFKA_DEFAULT_ACK_MS 10
/* Kafka's own delivery.timeout.ms default (KIP-91): rides out a leader
 * election or a rolling broker restart without a failed delivery, yet a lost
 * cluster shows in delivery_errors within two minutes. The journal, not
 * librdkafka's queue, is what keeps orders, so this bounds only how long one
 * attempt is trusted. */
#define CTL_KAFKA_DEFAULT_MSG_TIMEOUT_MS 120000

/* Answers of conf.before_produce. */
#define CTL_KAFKA_PRODUCE 0
#define CTL_KAFKA_SKIP 1
#define CTL_KAFKA_WAIT 2

/* Return values of ctl_kafka_submit. */
#define CTL_KAFKA_OK 0
#define CTL_KAFKA_ERR (-1)    /* journal I/O error (ctl_kafka_error): refuse sales too */
#define CTL_KAFKA_FULL (-2)   /* journal full: the cores answer 503 until it drains */

struct ctl_kafka;

struct ctl_kafka_conf {
	const char *bootstrap;        /* "host:port,..." (required) */
	const char *topic;            /* NULL: CTL_KAFKA_DEFAULT_TOPIC */
	const char *journal_dir;      /* created if missing; required without journal */
	/* An open journal to produce from instead of journal_dir, borrowed: its
	 * owner appends and syncs it on this thread (ctl_kafka only produces
	 * what is synced, and acks) and closes it after ctl_kafka_destroy. */
	struct ord_journal *journal;
	uint32_t queue_max;           /* window: orders past the delivered prefix that may be\n\t\t\t\t\t * in librdkafka at once; the rest wait in the journal.\n\t\t\t\t\t * 0: default */
	uint64_t journal_max_bytes;   /* 0: default */
	uint32_t sync_interval_ms;    /* fsync batch period; 0: every poll */
	uint32_t ack_interval_ms;     /* ack persist period; 0: every poll */
	uint32_t msg_timeout_ms;      /* one delivery attempt; 0: default */
	/* Called from ctl_kafka_poll before an order is produced, each time
	 * (a replay after an outage or a restart asks again): CTL_KAFKA_PRODUCE,
	 * CTL_KAFKA_SKIP (the order is not for Kafka, e.g. rejected: it counts
	 * as done and is acked with the rest) or CTL_KAFKA_WAIT (not yet: this
	 * order and those after it wait for a later poll). NULL: produce all.
	 * May not call back into k. */
	int (*before_produce)(void *arg, uint64_t seq, const struct ord_record *rec);
	/* Called from ctl_kafka_poll once per order whose delivery report says
	 * it is in Kafka (replicated, acks=all). May not call back into k. */
	void (*on_confirmed)(void *arg, const struct ord_record *rec);
	void *arg;
};

/*
 * Counters, X-macro as lib/util/stats.h says; gauges marked. Per reason:
 *   submitted        orders passed to ctl_kafka_submit
 *   refused_full     submits refused, journal full (cores answer 503)
 *   refused_error    submits refused, journal I/O error
 *   journaled        orders appended to the journal
 *   synced           orders made durable (fsync'd); syncs = fsync batches
 *   produced         messages handed to librdkafka, replays included
 *   delivered        delivery reports saying "in Kafka"
 *   delivery_errors  delivery reports saying "failed" (produced again later)
 *   replayed         messages produced again, or from an earlier run's journal
 *   skipped          orders before_produce said are not for Kafka
 *   waits            polls where before_produce held the next order back
 *   acks             journal ack watermarks persisted
 *   fatal_restarts   producer recreated after a fatal librdkafka error
 *   journal_depth    gauge: orders in the journal not yet acked
 *   queue_depth      gauge: orders in librdkafka awaiting a delivery report
 */
#define CTL_KAFKA_STATS(X)                                                     \
	X(submitted) X(refused_full) X(refused_error) X(journaled) X(synced)   \
	X(syncs) X(produced) X(delivered) X(delivery_errors) X(replayed)       \
	X(skipped) X(waits)                                                    \
	X(acks) X(fatal_restarts) X(journal_depth) X(queue_depth)

struct ctl_kafka_stats {
	CTL_KAFKA_STATS(STATS_FIELD)
};

/* The counters' names, in struct order, for `seckillctl stats`. */
extern const char *const ctl_kafka_stats_names[];
#define CTL_KAFKA_NSTATS (0 CTL_KAFKA_STATS(STATS_COUNT))

/*
 * Opens the journal, replays nothing yet (the first polls produce what it
 * holds), creates the producer. Returns NULL with a sentence in err (cap
 * bytes) saying what failed: a bad conf value, the journal, librdkafka.
 */
struct ctl_kafka *ctl_kafka_create(const struct ctl_kafka_conf *conf, char *err, size_t cap);

/*
 * Waits up to flush_ms for outstanding deliveries, acks what was delivered,
 * then frees everything. What is not delivered stays in the journal for the
 * next run. NULL is a no-op.
 */
void ctl_kafka_destroy(struct ctl_kafka *k, int flush_ms);

/*
 * Appends one order to the journal (buffered; durable at the next sync).
 * CTL_KAFKA_OK, CTL_KAFKA_FULL (nothing taken: refuse the sale) or
 * CTL_KAFKA_ERR. *seq (may be NULL) gets the order's journal seq.
 */
int ctl_kafka_submit(struct ctl_kafka *k, const struct ord_record *rec, uint64_t *seq);

/*
 * Does the work, never blocking longer than a sync or an ack: fsyncs due
 * batches, produces durable orders, serves delivery reports (callbacks),
 * persists acks, retries after failures. now_ms: a monotonic clock. Returns
 * 0, or -1 when the journal failed (ctl_kafka_error says why).
 */
int ctl_kafka_poll(struct ctl_kafka *k, uint64_t now_ms);

/* True when the next submit would be refused as FULL. */
bool ctl_kafka_full(const struct ctl_kafka *k);

/* Last journal seq made durable; orders up to it survive a crash. */
uint64_t ctl_kafka_synced_seq(const struct ctl_kafka *k);

/* Counters and gauges as of now. */
void ctl_kafka_stats(const struct ctl_kafka *k, struct ctl_kafka_stats *out);

/* The last error, a sentence ("" if none). */
const char *ctl_kafka_error(const struct ctl_kafka *k);

#endif
