/*
 * orders_consumer.c - the consumer thread: Kafka's seckill.orders into
 * PostgreSQL, exactly once in effect.
 *
 * The idea: offsets live in the database, next to the orders. A batch (up to
 * --batch messages or --batch-ms old) is written in one transaction together
 * with the next offset of every partition it covers (orders_write.c); Kafka's
 * own offset commits are switched off. When the group assigns partitions,
 * the consumer reads their offsets from the table and starts there. So:
 *
 *   - a crash before COMMIT loses the batch and its offsets alike: the next
 *     owner starts where the table says and reads the batch again;
 *   - a crash after COMMIT: the table has both, nothing is read twice;
 *   - the front end's own copies (at-least-once delivery) carry the same
 *     order_id and are absorbed by the primary key;
 *   - a consumer that lost a partition in a rebalance and commits late is
 *     fenced: its offset move finds the table changed and its transaction
 *     rolls back (ORDERS_SQL_OFFSET_MOVE).
 *
 * Any failed write (database down, fenced, refused) drops the batch, stops
 * fetching (an empty local assignment) and re-reads the offsets from the
 * table before fetching again, with a back-off: the table is the only truth.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ctl_order_json.h"
#include "now.h"
#include "orders.h"
#include "orders_pg.h"

#define OC_POLL_MS 100              /* longest poll: the stop flag is read this often */
#define OC_BACKOFF_MIN_MS 100
#define OC_BACKOFF_MAX_MS 2000
#define OC_LOG_BAD_MAX 20           /* bad messages logged one by one, then counted only */
#define OC_LAG_QUERY_MS 100         /* a broker's answer for one partition's end, stalled */

_Static_assert(ORDERS_LAG_PARTITIONS == ORDERS_MAX_PARTITIONS, "a lag gauge per partition");
_Atomic int64_t orders_lag[ORDERS_LAG_PARTITIONS];

struct oc {
	const struct orders_conf *c;
	rd_kafka_t *rk;
	PGconn *pg;
	char err[ORDERS_ERR_CAP];
	/* The group's assignment (our copy) and what the table says for it. */
	rd_kafka_topic_partition_list_t *assigned;
	int64_t stored[ORDERS_MAX_PARTITIONS];   /* next offset in the table; -1: no row */
	int64_t expect[ORDERS_MAX_PARTITIONS];   /* next offset fetched; -1: any */
	bool need_resync;
	uint64_t retry_at_ms, backoff_ms;
	/* The batch being filled. */
	struct ord_record *rec;
	int32_t *rec_part;
	int64_t *rec_off;
	size_t n, pending;                       /* records; messages (bad ones too) */
	struct ow_part parts[ORDERS_MAX_PARTITIONS];
	size_t n_parts;
	int32_t slot[ORDERS_MAX_PARTITIONS];     /* partition -> index in parts, -1 */
	uint64_t first_ms;                       /* when the batch's first message came */
	uint64_t lag_at_ms;                      /* next oc_lag_update */
};

static void oc_batch_reset(struct oc *o)
{
	for (size_t i = 0; i < o->n_parts; i++)
		o->slot[o->parts[i].partition] = -1;
	o->n = o->pending = o->n_parts = 0;
}

/* Stops fetching until the offsets are read again (after any failed write). */
static void oc_stall(struct oc *o, const char *why)
{
	orders_log("%s; dropping the batch, re-reading the offsets from the database in %" PRIu64
		   " ms", why, o->backoff_ms);
	oc_batch_reset(o);
	rd_kafka_assign(o->rk, NULL);
	o->need_resync = true;
	o->retry_at_ms = now_mono_ms() + o->backoff_ms;
	o->backoff_ms = o->backoff_ms * 2 > OC_BACKOFF_MAX_MS ? OC_BACKOFF_MAX_MS : o->backoff_ms * 2;
}

/* Reads the stored offsets of the assignment and starts fetching there. */
static int oc_resync(struct oc *o)
{
	static int64_t next[ORDERS_MAX_PARTITIONS];
	rd_kafka_topic_partition_list_t *l;

	o->need_resync = false;
	if (o->assigned == NULL)
		return 0;
	if (o->pg == NULL && (o->pg = orders_pg_open(o->c->pg, o->err, sizeof(o->err))) == NULL)
		goto fail;
	if (orders_pg_offsets(o->pg, o->c->topic, next, ORDERS_MAX_PARTITIONS, o->err,
			      sizeof(o->err)) < 0)
		goto fail;
	l = rd_kafka_topic_partition_list_copy(o->assigned);
	for (int i = 0; i < l->cnt; i++) {
		int32_t p = l->elems[i].partition;

		o->stored[p] = o->expect[p] = next[p];
		l->elems[i].offset = next[p] >= 0 ? next[p] : RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(o->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	orders_count(&orders_stats.resyncs, 1);
	o->backoff_ms = OC_BACKOFF_MIN_MS;
	return 0;
fail:
	if (o->pg && PQstatus(o->pg) != CONNECTION_OK) {
		PQfinish(o->pg);
		o->pg = NULL;
	}
	oc_stall(o, o->err);
	return -1;
}

/* Writes the batch; on failure stalls (the batch is read again). */
static void oc_flush(struct oc *o)
{
	struct ow_batch b = {
		.topic = o->c->topic, .rec = o->rec, .rec_part = o->rec_part, .rec_off = o->rec_off,
		.n = o->n, .parts = o->parts, .n_parts = o->n_parts,
		.pay_within_s = o->c->pay_within_s,
	};
	uint64_t ins = 0;
	bool staged = false;
	int rc;

	if (o->pending == 0)
		return;
	rc = o->pg ? ow_write(o->pg, o->c->writer, &b, &ins, &staged, o->err, sizeof(o->err)) :
		     OW_DOWN;
	orders_count(&orders_stats.staged_batches, staged);
	if (rc == OW_OK) {
		for (size_t i = 0; i < o->n_parts; i++)
			o->stored[o->parts[i].partition] = o->parts[i].stored;
		orders_count(&orders_stats.batches, 1);
		orders_count(&orders_stats.inserted, ins);
		orders_count(&orders_stats.duplicates, o->n - ins);
		oc_batch_reset(o);
		return;
	}
	orders_count(rc == OW_FENCED ? &orders_stats.fenced : &orders_stats.write_errors, 1);
	if (rc == OW_DOWN && o->pg) {
		PQfinish(o->pg);
		o->pg = NULL;
	}
	oc_stall(o, o->pg || rc != OW_DOWN ? o->err : "PostgreSQL connection lost");
}

/* One message into the batch (bad ones move the offset, nothing else). */
static void oc_add(struct oc *o, const rd_kafka_message_t *m)
{
	int32_t p = m->partition;
	const char *why = NULL;
	struct ow_part *pt;

	if (p < 0 || p >= ORDERS_MAX_PARTITIONS || o->stored[p] < -1 ||
	    (o->expect[p] >= 0 && m->offset < o->expect[p]))
		return;     /* not ours (any more), or fetched before a re-read: stale */
	o->expect[p] = m->offset + 1;
	if (o->slot[p] < 0) {
		o->slot[p] = (int32_t)o->n_parts;
		o->parts[o->n_parts++] = (struct ow_part){ .partition = p, .stored = o->stored[p] };
	}
	pt = &o->parts[o->slot[p]];
	pt->next = m->offset + 1;
	if (o->pending++ == 0)
		o->first_ms = now_mono_ms();
	orders_count(&orders_stats.consumed, 1);
	if (ctl_order_json_parse(m->payload, m->len, &o->rec[o->n], &why) < 0) {
		if (atomic_fetch_add(&orders_stats.bad_messages, 1) < OC_LOG_BAD_MAX)
			orders_log("skipping a bad message at %s/%" PRId32 "@%" PRId64 ": %s",
				   o->c->topic, p, m->offset, why);
		return;
	}
	o->rec_part[o->n] = o->slot[p];
	o->rec_off[o->n] = m->offset;
	o->n++;
}

static void oc_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct oc *o = opaque;

	(void)rk;
	orders_count(&orders_stats.rebalances, 1);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (o->assigned)
			rd_kafka_topic_partition_list_destroy(o->assigned);
		o->assigned = rd_kafka_topic_partition_list_copy(parts);
		for (int i = 0; i < parts->cnt; i++)
			if (parts->elems[i].partition >= ORDERS_MAX_PARTITIONS)
				orders_log("partition %" PRId32 " ignored: at most %d partitions",
					   parts->elems[i].partition, ORDERS_MAX_PARTITIONS);
		if (!o->c->quiet)
			orders_log("assigned %d partition(s) of %s", parts->cnt, o->c->topic);
		if (oc_resync(o) < 0)
			return;     /* oc_stall assigned nothing; the loop retries */
		return;
	}
	/* Revoked: what we hold is still ours until we return. */
	if (!o->need_resync)
		oc_flush(o);
	oc_batch_reset(o);
	rd_kafka_assign(rk, NULL);
	for (int i = 0; o->assigned && i < o->assigned->cnt; i++)
		if (o->assigned->elems[i].partition < ORDERS_MAX_PARTITIONS)
			o->stored[o->assigned->elems[i].partition] = -2;
	if (o->assigned)
		rd_kafka_topic_partition_list_destroy(o->assigned);
	o->assigned = NULL;
	o->need_resync = false;
}

static rd_kafka_t *oc_kafka(struct oc *o)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char session[16], err[ORDERS_ERR_CAP];
	const char *kv[][2] = {
		{ "bootstrap.servers", o->c->kafka }, { "group.id", o->c->group },
		{ "enable.auto.commit", "false" }, { "enable.auto.offset.store", "false" },
		{ "auto.offset.reset", "earliest" }, { "session.timeout.ms", session },
		{ "heartbeat.interval.ms", "1000" }, { "client.id", "seckill-orders" },
		{ "log_level", "3" },
	};
	rd_kafka_t *rk;

	snprintf(session, sizeof(session), "%" PRIu32, o->c->session_ms);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (rd_kafka_conf_set(kc, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
			orders_log("Kafka: %s=%s: %s", kv[i][0], kv[i][1], err);
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	rd_kafka_conf_set_rebalance_cb(kc, oc_rebalance);
	rd_kafka_conf_set_opaque(kc, o);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
	if (rk == NULL) {
		orders_log("Kafka: cannot create the consumer: %s", err);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

static int oc_init(struct oc *o, const struct orders_conf *c)
{
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t e;

	memset(o, 0, sizeof(*o));
	o->c = c;
	for (int i = 0; i < ORDERS_LAG_PARTITIONS; i++)
		atomic_store_explicit(&orders_lag[i], -1, memory_order_relaxed);
	o->backoff_ms = OC_BACKOFF_MIN_MS;
	for (int i = 0; i < ORDERS_MAX_PARTITIONS; i++) {
		o->slot[i] = -1;
		o->stored[i] = -2;      /* not assigned */
	}
	o->rec = calloc(c->batch, sizeof(*o->rec));
	o->rec_part = calloc(c->batch, sizeof(*o->rec_part));
	o->rec_off = calloc(c->batch, sizeof(*o->rec_off));
	if (!o->rec || !o->rec_part || !o->rec_off) {
		orders_log("no memory for a batch of %" PRIu32 " orders; lower --batch", c->batch);
		return -1;
	}
	if ((o->pg = orders_pg_open(c->pg, o->err, sizeof(o->err))) == NULL)
		orders_log("%s; retrying", o->err);   /* a database down at start is waited for */
	if ((o->rk = oc_kafka(o)) == NULL)
		return -1;
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(o->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		orders_log("Kafka: cannot subscribe to %s: %s", c->topic, rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

/*
 * orders_lag for the assignment: what is in Kafka and not yet written here.
 * The next offset is what the database holds (o->stored), or the
 * partition's start when it has no row yet. The partition's end is
 * librdkafka's cached watermark from the last fetch response (no request
 * to a broker) while fetching; while stalled nothing is fetched and that
 * copy goes stale just when the lag grows (the database is down), so then
 * the brokers are asked, OC_LAG_QUERY_MS at most per partition: the
 * thread has nothing else to do until its retry.
 */
static void oc_lag_update(struct oc *o)
{
	static bool shown[ORDERS_MAX_PARTITIONS];
	bool now_shown[ORDERS_MAX_PARTITIONS] = { false };

	for (int i = 0; o->assigned && i < o->assigned->cnt; i++) {
		int32_t p = o->assigned->elems[i].partition;
		int64_t lo, hi, from;

		if (p < 0 || p >= ORDERS_MAX_PARTITIONS || o->stored[p] < -1)
			continue;
		if ((o->need_resync ? rd_kafka_query_watermark_offsets(o->rk, o->c->topic, p,
								       &lo, &hi, OC_LAG_QUERY_MS)
				    : rd_kafka_get_watermark_offsets(o->rk, o->c->topic, p,
								     &lo, &hi)) || hi < 0)
			continue;
		from = o->stored[p] >= 0 ? o->stored[p] : (lo >= 0 ? lo : 0);
		atomic_store_explicit(&orders_lag[p], hi > from ? hi - from : 0,
				      memory_order_relaxed);
		now_shown[p] = true;
	}
	for (int p = 0; p < ORDERS_MAX_PARTITIONS; p++) {
		if (shown[p] && !now_shown[p])
			atomic_store_explicit(&orders_lag[p], -1, memory_order_relaxed);
		shown[p] = now_shown[p];
	}
}

static void oc_poll_once(struct oc *o)
{
	uint64_t now = now_mono_ms(), wait = OC_POLL_MS;
	rd_kafka_message_t *m;

	if (o->pending && o->first_ms + o->c->batch_ms > now &&
	    o->first_ms + o->c->batch_ms - now < wait)
		wait = o->first_ms + o->c->batch_ms - now;
	else if (o->pending)
		wait = 0;
	m = rd_kafka_consumer_poll(o->rk, (int)wait);
	if (m && m->err == 0 && !o->need_resync)
		oc_add(o, m);
	else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		orders_log("Kafka: %s", rd_kafka_message_errstr(m));
	if (m)
		rd_kafka_message_destroy(m);
	if (o->pending >= o->c->batch ||
	    (o->pending && now_mono_ms() >= o->first_ms + o->c->batch_ms))
		oc_flush(o);
	if (now_mono_ms() >= o->lag_at_ms) {
		oc_lag_update(o);
		o->lag_at_ms = now_mono_ms() + ORDERS_LAG_MS;
	}
}

void *orders_consumer_run(void *arg)
{
	static struct oc o;     /* large (per-partition arrays): not on the stack */

	if (oc_init(&o, arg) < 0) {
		atomic_store(&orders_stop, true);
		return NULL;
	}
	while (!atomic_load(&orders_stop)) {
		if (o.need_resync && now_mono_ms() >= o.retry_at_ms)
			oc_resync(&o);
		oc_poll_once(&o);
	}
	if (!o.need_resync)
		oc_flush(&o);
	rd_kafka_consumer_close(o.rk);      /* leaves the group: the revoke flushes nothing more */
	rd_kafka_destroy(o.rk);
	if (o.assigned)
		rd_kafka_topic_partition_list_destroy(o.assigned);
	PQfinish(o.pg);
	free(o.rec);
	free(o.rec_part);
	free(o.rec_off);
	return NULL;
}
