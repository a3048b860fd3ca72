/*
 * ctl_kafka.c - orders to Kafka through a crash-safe journal (API: ctl_kafka.h).
 *
 * The durability pipeline, in the order an order goes through it:
 *
 *   1. submit() appends the record to the ord_journal (buffered) and returns.
 *      The journal, not memory, is the queue: submit refuses (FULL) only when
 *      the journal is full, so no order is ever dropped for want of room.
 *   2. poll() fsyncs the journal in batches: every sync_interval_ms, or at
 *      once when CTL_KAFKA_SYNC_BATCH records wait, so one fsync covers a
 *      burst.
 *   3. poll() produces only durable records, in journal seq order, reading
 *      them back from the journal (page cache; one pread per 1024). At most
 *      queue_max are in librdkafka awaiting a report: they sit in a ring of
 *      queue_max slots indexed by seq % queue_max, which carries each one's
 *      record (for on_confirmed) and "delivered" flag.
 *   4. A delivery report marks its slot delivered and calls on_confirmed.
 *      Reports of different partitions arrive out of order, so "acked" is the
 *      longest delivered prefix of seqs; poll() persists it with
 *      ord_journal_ack at most every ack_interval_ms, which frees segments.
 *   5. A failed report (message.timeout.ms passed with brokers unreachable,
 *      or a non-retriable error) stops production: queued, unsent messages are
 *      purged (they fail NOT_PERSISTED, so they cannot reach Kafka later and
 *      overtake the ones produced again), in-flight ones are awaited. Then,
 *      after CTL_KAFKA_RETRY_MS, the cursor rewinds to the first undelivered
 *      seq and production resumes in seq order, skipping the slots already
 *      delivered (no duplicate of those), one message at a time (a probe of
 *      the brokers) until one is delivered, then the full window again.
 *   6. A restart opens the journal: everything above the ack watermark is
 *      produced first, before anything submitted after it (seq order).
 *   7. A fatal producer error (the idempotent producer's state is lost)
 *      recreates the producer and goes through the same rewind.
 *
 * Crash argument: an order is produced only after its journal fsync, and is
 * acked only after its successful delivery report, so at any crash every
 * order the caller saw synced is either in Kafka and acked, or in the
 * journal above the watermark and produced again by the next run. The only
 * cost is a duplicate for an order delivered but not yet acked (at most
 * ack_interval_ms worth, plus what was in flight): same order_id, so the
 * consumer dedups (ctl_order_json.h). The journal's own watermark is
 * persisted before segments go, so a restart never replays an acked order:
 * no redelivery loop.
 *
 * Per-buyer order: librdkafka keeps one partition's messages in order and
 * the key keeps a buyer in one partition. A failure purges the queue before a
 * younger message of that partition can be sent, and the rewind produces in
 * seq order, so a buyer's orders stay in order except in one race: brokers
 * answering again between a message timing out and our purge (a poll).
 */
#include "ctl_kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ctl_order_json.h"
#include "now.h"
#include "ord_journal.h"

/* After a failed delivery: wait this long before producing again, so a dead
 * cluster costs one probe per message timeout, not a busy loop. */
#define CTL_KAFKA_RETRY_MS 500
/* A sale burst is gathered into one ProduceRequest per partition within
 * this; small beside a buyer's round trip, large beside one order's bytes. */
#define CTL_KAFKA_LINGER_MS "5"
/* Brokers back after an outage are found within this (librdkafka's default
 * backoff grows to 10 s, ten seconds of orders waiting on disk for nothing). */
#define CTL_KAFKA_RECONNECT_MAX_MS "1000"
/* librdkafka's own queue must never refuse what our window allows. */
#define CTL_KAFKA_RDK_QUEUE_SLACK 1024
#define CTL_KAFKA_ERR_CAP 512
#define CTL_KAFKA_DESTROY_POLL_MS 50

const char *const ctl_kafka_stats_names[] = { CTL_KAFKA_STATS(STATS_NAME) };

/* What a replay callback tells ord_journal_replay_from: stop here for now. */
#define REPLAY_STOP 1

struct ctl_kafka {
	char *bootstrap, *topic, *dir;
	uint32_t window;          /* queue_max */
	uint32_t sync_ms, ack_ms, msg_timeout_ms;
	int (*before_produce)(void *arg, uint64_t seq, const struct ord_record *rec);
	void (*on_confirmed)(void *arg, const struct ord_record *rec);
	void *arg;

	struct ord_journal *j;
	bool own_j;               /* opened here (journal_dir), closed by destroy */
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;

	/* The window: seqs (prefix, next_produce) were handed to librdkafka, in
	 * slots seq % window; prefix + window bounds next_produce. */
	struct ord_record *slot_rec;
	uint8_t *slot_done;
	uint64_t prefix;          /* every seq <= prefix is delivered */
	uint64_t next_produce;    /* next seq to hand to librdkafka */
	uint64_t in_flight;       /* handed over, no report yet */
	uint64_t replay_until;    /* seqs <= this were produced before (count as replays) */

	bool failed;              /* a report failed: drain, then rewind */
	bool probing;             /* after a rewind: one at a time until one succeeds */
	bool fatal;               /* librdkafka raised a fatal error */
	bool stopping;            /* producer_stop is destroying the handle */
	uint64_t retry_at;        /* when to rewind; 0 = not yet scheduled */
	uint64_t revive_at;       /* when to try creating a lost producer again */
	uint64_t last_sync_ms, last_ack_ms;

	struct ctl_kafka_stats st;
	char err[CTL_KAFKA_ERR_CAP];
};

static void ck_err(struct ctl_kafka *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ck_err(struct ctl_kafka *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->err, sizeof(k->err), fmt, ap);
	va_end(ap);
}

/* ---- delivery reports ----------------------------------------------------- */

/* Moves the delivered prefix on over consecutive delivered slots, freeing them. */
static void prefix_advance(struct ctl_kafka *k)
{
	while (k->prefix + 1 < k->next_produce) {
		uint8_t *done = &k->slot_done[(k->prefix + 1) % k->window];

		if (!*done)
			break;
		*done = 0;
		k->prefix++;
	}
}

/* Runs inside rd_kafka_poll, on the control thread (librdkafka's contract). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ctl_kafka *k = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;
	uint32_t slot = (uint32_t)(seq % k->window);

	(void)rk;
	k->in_flight--;
	if (k->stopping)
		return;   /* the handle is going away: nothing to purge or retry */
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->slot_done[slot] = 1;
		k->st.delivered++;
		k->probing = false;
		if (k->on_confirmed)
			k->on_confirmed(k->arg, &k->slot_rec[slot]);
		prefix_advance(k);
		return;
	}
	k->st.delivery_errors++;
	ck_err(k, "delivery of journal record %" PRIu64 " to %s failed: %s (%s); it stays in "
	       "the journal and is produced again", seq, k->topic, rd_kafka_err2str(m->err),
	       rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED ?
	       "possibly persisted: a duplicate is possible" : "not persisted");
	if (!k->failed) {
		k->failed = true;
		k->retry_at = 0;
		/* Unsent messages must not overtake the ones we will produce again. */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE);
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ctl_kafka *k = opaque;
	char buf[CTL_KAFKA_ERR_CAP];

	if (err != RD_KAFKA_RESP_ERR__FATAL)
		return;   /* transient (brokers down...): librdkafka retries, reports tell us */
	rd_kafka_fatal_error(rk, buf, sizeof(buf));
	ck_err(k, "fatal producer error: %s (%s); recreating the producer", buf, reason);
	k->fatal = true;
}

/* ---- the producer --------------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *val, char *err,
		    size_t cap)
{
	char e[CTL_KAFKA_ERR_CAP];

	if (rd_kafka_conf_set(c, name, val, e, sizeof(e)) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(err, cap, "librdkafka rejects %s=%s: %s", name, val, e);
	return -1;
}

static int producer_start(struct ctl_kafka *k, char *err, size_t cap)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char tmo[16], qmax[16];

	snprintf(tmo, sizeof(tmo), "%" PRIu32, k->msg_timeout_ms);
	snprintf(qmax, sizeof(qmax), "%" PRIu32, k->window + CTL_KAFKA_RDK_QUEUE_SLACK);
	/* Idempotence (implies acks=all, retries, max 5 in flight in order):
	 * librdkafka's retries never duplicate or reorder within a session.
	 * acks=all: an order is confirmed only once every in-sync replica has it.
	 * murmur2_random: Java's partitioner, so Java producers and consumers agree
	 * where a buyer's key lands. */
	if (conf_set(c, "bootstrap.servers", k->bootstrap, err, cap) ||
	    conf_set(c, "enable.idempotence", "true", err, cap) ||
	    conf_set(c, "acks", "all", err, cap) ||
	    conf_set(c, "message.timeout.ms", tmo, err, cap) ||
	    conf_set(c, "linger.ms", CTL_KAFKA_LINGER_MS, err, cap) ||
	    conf_set(c, "queue.buffering.max.messages", qmax, err, cap) ||
	    conf_set(c, "partitioner", "murmur2_random", err, cap) ||
	    conf_set(c, "reconnect.backoff.max.ms", CTL_KAFKA_RECONNECT_MAX_MS, err, cap)) {
		rd_kafka_conf_destroy(c);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_opaque(c, k);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, cap);   /* owns c on success only */
	if (!k->rk) {
		rd_kafka_conf_destroy(c);
		return -1;
	}
	k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
	if (!k->rkt) {
		snprintf(err, cap, "cannot create topic handle %s: %s", k->topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
		return -1;
	}
	return 0;
}

static void producer_stop(struct ctl_kafka *k)
{
	k->stopping = true;
	if (k->rkt)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	k->rkt = NULL;
	k->rk = NULL;
	k->stopping = false;
}

/* Fatal error: fail everything outstanding, start a fresh producer, rewind. */
static void producer_restart(struct ctl_kafka *k)
{
	char err[CTL_KAFKA_ERR_CAP];

	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(k->rk, 0);     /* serves the purged messages' reports */
	rd_kafka_poll(k->rk, 0);
	producer_stop(k);
	k->in_flight = 0;             /* purged: no report will come from the old handle */
	k->failed = true;
	k->retry_at = 0;
	k->fatal = false;
	k->st.fatal_restarts++;
	if (producer_start(k, err, sizeof(err)) < 0)
		ck_err(k, "cannot recreate the producer after a fatal error: %s; retrying", err);
}

/* A producer that could not be recreated is tried again every CTL_KAFKA_RETRY_MS. */
static void producer_revive(struct ctl_kafka *k, uint64_t now_ms)
{
	char err[CTL_KAFKA_ERR_CAP];

	if (k->rk || now_ms < k->revive_at)
		return;
	if (producer_start(k, err, sizeof(err)) < 0) {
		ck_err(k, "cannot recreate the producer: %s; retrying", err);
		k->revive_at = now_ms + CTL_KAFKA_RETRY_MS;
	}
}

/* ---- producing from the journal ------------------------------------------- */

/* ord_journal_replay_from callback: hands one durable record to librdkafka. */
static int produce_one(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct ctl_kafka *k = arg;
	uint32_t slot = (uint32_t)(seq % k->window);
	char val[CTL_ORDER_JSON_MAX], key[CTL_ORDER_KEY_MAX];
	int vlen, klen;

	if (seq > ord_journal_synced_seq(k->j) || seq - k->prefix > k->window)
		return REPLAY_STOP;
	if (k->slot_done[slot]) {         /* delivered before a rewind: skip */
		k->next_produce = seq + 1;
		return 0;
	}
	if (k->probing && k->in_flight > 0)
		return REPLAY_STOP;
	switch (k->before_produce ? k->before_produce(k->arg, seq, rec) : CTL_KAFKA_PRODUCE) {
	case CTL_KAFKA_SKIP:
		/* Done without Kafka: prefix_advance passes it like a delivery. */
		k->slot_done[slot] = 1;
		k->next_produce = seq + 1;
		k->st.skipped++;
		return 0;
	case CTL_KAFKA_WAIT:
		k->st.waits++;
		return REPLAY_STOP;
	default:
		break;
	}
	vlen = ctl_order_json_write(rec, val, sizeof(val));
	klen = ctl_order_key_write(rec->buyer, key, sizeof(key));
	if (rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val,
			     (size_t)vlen, key, (size_t)klen, (void *)(uintptr_t)seq) < 0) {
		rd_kafka_resp_err_t e = rd_kafka_last_error();

		if (e == RD_KAFKA_RESP_ERR__FATAL)
			k->fatal = true;
		else if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			ck_err(k, "cannot produce journal record %" PRIu64 " to %s: %s", seq,
			       k->topic, rd_kafka_err2str(e));
		return REPLAY_STOP;   /* retried at the next poll */
	}
	k->slot_rec[slot] = *rec;
	k->in_flight++;
	k->st.produced++;
	if (seq <= k->replay_until)
		k->st.replayed++;
	k->next_produce = seq + 1;
	return 0;
}

static int produce_ready(struct ctl_kafka *k)
{
	int rc;

	if (k->failed || k->fatal || !k->rk || k->next_produce > ord_journal_synced_seq(k->j) ||
	    k->next_produce - k->prefix > k->window)
		return 0;
	rc = ord_journal_replay_from(k->j, k->next_produce, produce_one, k);
	if (rc < 0) {
		ck_err(k, "%s", ord_journal_error(k->j));
		return -1;
	}
	prefix_advance(k);    /* over slots skipped as delivered before a rewind */
	return 0;
}

/* After a failure, once every report is in: go back to the first undelivered. */
static void retry_due(struct ctl_kafka *k, uint64_t now_ms)
{
	if (!k->failed || k->in_flight > 0)
		return;
	if (k->retry_at == 0) {
		k->retry_at = now_ms + CTL_KAFKA_RETRY_MS;
		return;
	}
	if (now_ms < k->retry_at)
		return;
	if (k->next_produce - 1 > k->replay_until)
		k->replay_until = k->next_produce - 1;
	k->next_produce = k->prefix + 1;
	k->failed = false;
	k->probing = true;
	k->retry_at = 0;
}

/* ---- journal batches ------------------------------------------------------ */

static int sync_due(struct ctl_kafka *k, uint64_t now_ms)
{
	uint64_t last = ord_journal_last_seq(k->j), synced = ord_journal_synced_seq(k->j);

	if (last == synced)
		return 0;
	if (now_ms - k->last_sync_ms < k->sync_ms && last - synced < CTL_KAFKA_SYNC_BATCH)
		return 0;
	if (ord_journal_sync(k->j) < 0) {
		ck_err(k, "%s", ord_journal_error(k->j));
		return -1;
	}
	k->st.synced += last - synced;
	k->st.syncs++;
	k->last_sync_ms = now_ms;
	return 0;
}

static int ack_due(struct ctl_kafka *k, uint64_t now_ms, bool force)
{
	if (k->prefix <= ord_journal_acked_seq(k->j))
		return 0;
	if (k->last_ack_ms == 0)
		k->last_ack_ms = now_ms;    /* the first interval starts at the first delivery */
	if (!force && now_ms - k->last_ack_ms < k->ack_ms)
		return 0;
	if (ord_journal_ack(k->j, k->prefix) < 0) {
		ck_err(k, "%s", ord_journal_error(k->j));
		return -1;
	}
	k->st.acks++;
	k->last_ack_ms = now_ms;
	return 0;
}

/* ---- the API -------------------------------------------------------------- */

static int conf_check(const struct ctl_kafka_conf *c, char *err, size_t cap)
{
	if (!c->bootstrap || !*c->bootstrap) {
		snprintf(err, cap, "ctl_kafka: no bootstrap servers configured");
		return -1;
	}
	if (!c->journal && (!c->journal_dir || !*c->journal_dir)) {
		snprintf(err, cap, "ctl_kafka: no journal directory configured");
		return -1;
	}
	return 0;
}

static void conf_apply(struct ctl_kafka *k, const struct ctl_kafka_conf *c)
{
	k->window = c->queue_max ? c->queue_max : CTL_KAFKA_DEFAULT_QUEUE_MAX;
	k->sync_ms = c->sync_interval_ms;
	k->ack_ms = c->ack_interval_ms;
	k->msg_timeout_ms = c->msg_timeout_ms ? c->msg_timeout_ms :
		CTL_KAFKA_DEFAULT_MSG_TIMEOUT_MS;
	k->before_produce = c->before_produce;
	k->on_confirmed = c->on_confirmed;
	k->arg = c->arg;
}

struct ctl_kafka *ctl_kafka_create(const struct ctl_kafka_conf *c, char *err, size_t cap)
{
	struct ctl_kafka *k;
	uint64_t jmax = c->journal_max_bytes ? c->journal_max_bytes :
		CTL_KAFKA_DEFAULT_JOURNAL_MAX;

	if (conf_check(c, err, cap) < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, cap, "ctl_kafka: out of memory");
		return NULL;
	}
	conf_apply(k, c);
	k->bootstrap = strdup(c->bootstrap);
	k->topic = strdup(c->topic ? c->topic : CTL_KAFKA_DEFAULT_TOPIC);
	k->dir = strdup(c->journal ? "(borrowed)" : c->journal_dir);
	k->slot_rec = calloc(k->window, sizeof(*k->slot_rec));
	k->slot_done = calloc(k->window, 1);
	if (!k->bootstrap || !k->topic || !k->dir || !k->slot_rec || !k->slot_done) {
		snprintf(err, cap, "ctl_kafka: out of memory for a window of %" PRIu32 " orders",
			 k->window);
		goto fail;
	}
	if (c->journal) {
		k->j = c->journal;
	} else {
		k->j = ord_journal_open(k->dir, jmax, err, cap);
		if (!k->j)
			goto fail;
		k->own_j = true;
	}
	k->prefix = ord_journal_acked_seq(k->j);
	k->next_produce = k->prefix + 1;
	k->replay_until = ord_journal_last_seq(k->j);   /* an earlier run's orders */
	if (producer_start(k, err, cap) < 0)
		goto fail;
	return k;
fail:
	ctl_kafka_destroy(k, 0);
	return NULL;
}

int ctl_kafka_submit(struct ctl_kafka *k, const struct ord_record *rec, uint64_t *seq)
{
	int rc;

	k->st.submitted++;
	rc = ord_journal_append(k->j, rec, seq);
	if (rc == ORD_JOURNAL_OK) {
		k->st.journaled++;
		return CTL_KAFKA_OK;
	}
	ck_err(k, "%s", ord_journal_error(k->j));
	if (rc == ORD_JOURNAL_FULL) {
		k->st.refused_full++;
		return CTL_KAFKA_FULL;
	}
	k->st.refused_error++;
	return CTL_KAFKA_ERR;
}

int ctl_kafka_poll(struct ctl_kafka *k, uint64_t now_ms)
{
	if (sync_due(k, now_ms) < 0)
		return -1;
	if (k->rk)
		rd_kafka_poll(k->rk, 0);
	if (k->fatal)
		producer_restart(k);
	producer_revive(k, now_ms);
	retry_due(k, now_ms);
	if (produce_ready(k) < 0)
		return -1;
	return ack_due(k, now_ms, false);
}

void ctl_kafka_destroy(struct ctl_kafka *k, int flush_ms)
{
	uint64_t deadline;

	if (!k)
		return;
	if (k->j && k->rk) {
		/* Whatever was submitted is made durable; the rest is best effort. */
		deadline = now_mono_ms() + (uint64_t)(flush_ms > 0 ? flush_ms : 0);
		ctl_kafka_poll(k, now_mono_ms());
		ord_journal_sync(k->j);
		while (now_mono_ms() < deadline && (k->in_flight > 0 ||
		       k->next_produce <= ord_journal_synced_seq(k->j))) {
			rd_kafka_poll(k->rk, CTL_KAFKA_DESTROY_POLL_MS);
			ctl_kafka_poll(k, now_mono_ms());
		}
		ack_due(k, now_mono_ms(), true);
	}
	if (k->rk) {
		/* Undelivered ones stay in the journal: no need to wait for them. */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(k->rk, 0);
	}
	producer_stop(k);
	if (k->own_j)
		ord_journal_close(k->j);
	free(k->slot_rec);
	free(k->slot_done);
	free(k->bootstrap);
	free(k->topic);
	free(k->dir);
	free(k);
}

bool ctl_kafka_full(const struct ctl_kafka *k) { return ord_journal_full(k->j); }
uint64_t ctl_kafka_synced_seq(const struct ctl_kafka *k) { return ord_journal_synced_seq(k->j); }
const char *ctl_kafka_error(const struct ctl_kafka *k) { return k->err; }

void ctl_kafka_stats(const struct ctl_kafka *k, struct ctl_kafka_stats *out)
{
	*out = k->st;
	out->journal_depth = ord_journal_depth(k->j);
	out->queue_depth = k->in_flight;
}
