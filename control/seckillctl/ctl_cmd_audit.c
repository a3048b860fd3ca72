/*
 * ctl_cmd_audit.c - "seckillctl audit --campaign ID": every record of a
 * campaign's orders side by side, and every disagreement by order id.
 *
 * Sources: PostgreSQL (--pg, the order service's rows: sold, paid, expired,
 * returned), Redis (--redis: stock, sold, held by hosts, the returned and
 * paid sets, buyer claims), and when given, Kafka (--kafka: the orders topic
 * read from the start to its end), the order journal of a stopped dataplane
 * (--journal DIR) and a running dataplane's counters (--socket PATH).
 *
 * Listed by order id (kind: order id):
 *   kafka_not_in_pg        in Kafka, no row: lost, or a second live order of a buyer
 *   pg_not_in_kafka        a row no message explains
 *   journal_not_in_kafka   journaled (not rejected), never published
 *   expired_not_returned   expired, its unit not (yet) back in Redis
 *   returned_not_expired   given back in Redis, not expired in PostgreSQL
 *   paid_not_announced     paid, not (yet) announced in Redis
 *   claim_missing          live order whose buyer claim in Redis names another order or none
 * And the sums (no order id):
 *   redis_invariant        stock + sold + held = campaign stock (control/ctl_redis.h)
 *   units                  rows - returned + left = campaign stock, left = stock + held
 *   redis_sold             Redis sold = live rows (awaiting_payment + paid)
 *
 * Exit 1 when anything is listed, 0 when clean, 2 usage. --json: one object.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "ctl.h"
#include "ctl_client.h"
#include "ctl_order_json.h"
#include "ctl_redis.h"
#include "ctl_redis_buckets.h"
#include "ctl_redis_route.h"
#include "ord_journal.h"
#include "str2int.h"

#define AU_KAFKA_TIMEOUT_MS 10000
#define AU_MAX_PARTS 4096
#define AU_JOURNAL_MAX (UINT64_C(1) << 62)
#define AU_LIST_MAX 1000            /* mismatches printed (all are counted) */

static const char audit_usage[] =
	"Usage: seckillctl audit --campaign ID [--pg CONNINFO] [--redis IP:PORT]\n"
	"                        [--kafka BOOTSTRAP [--topic NAME]] [--journal DIR]\n"
	"                        [--socket PATH] [--json]\n"
	"\n"
	"Puts a campaign's records side by side: the dataplane's counters (--socket),\n"
	"its order journal (--journal, of a stopped seckill-dp), Kafka (--kafka), Redis\n"
	"(--redis, default $SECKILL_REDIS) and the order service's PostgreSQL (--pg,\n"
	"default $SECKILL_PG): sold, paid, expired, returned, left; lists every\n"
	"mismatch by order id. Exit 1 if there is any.\n";

struct au_id { char s[ORD_ID_STR_CAP]; };
struct au_row { char id[ORD_ID_STR_CAP]; char status; bool synced; char buyer[24]; };

struct au_set {
	struct au_id *v;
	size_t n, cap;
};

struct audit {
	uint32_t campaign;
	const char *pg, *redis, *kafka, *topic, *journal, *socket;
	bool json;
	struct au_row *rows;            /* PostgreSQL, sorted by id */
	size_t n_rows, n_paid, n_expired, n_awaiting, n_synced_expired;
	struct au_set kafka_ids, journal_ids, tomb_ids, returned, paid;
	uint64_t kafka_msgs;
	bool have_kafka, have_journal, have_dp;
	uint64_t dp_sold, dp_left;
	int64_t r_total, r_stock, r_sold, r_held;
	bool *claim_ok;                 /* per row */
	unsigned n_mis;
	char *out;                      /* the mismatch list, text or JSON */
	size_t out_len, out_cap;
};

static int au_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void au_add(struct au_set *s, const char *id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL) {
			ctl_fail("out of memory");
			exit(CTL_EXIT_FAIL);
		}
	}
	snprintf(s->v[s->n++].s, ORD_ID_STR_CAP, "%s", id);
}

/* Sorts and removes repeats (Kafka's copies). */
static void au_finish(struct au_set *s)
{
	size_t w = 0;

	qsort(s->v, s->n, sizeof(*s->v), au_id_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || strcmp(s->v[w - 1].s, s->v[i].s) != 0)
			s->v[w++] = s->v[i];
	s->n = w;
}

static bool au_has(const struct au_set *s, const char *id)
{
	return s->n && bsearch(id, s->v, s->n, sizeof(*s->v), au_id_cmp) != NULL;
}

static const struct au_row *au_row(const struct audit *a, const char *id)
{
	return a->n_rows ? bsearch(id, a->rows, a->n_rows, sizeof(*a->rows), au_id_cmp) : NULL;
}

static void au_mis(struct audit *a, const char *kind, const char *id, const char *detail)
{
	char line[256];
	int n;

	if (a->n_mis++ >= AU_LIST_MAX)
		return;
	if (a->json)
		n = snprintf(line, sizeof(line), "%s{\"kind\":\"%s\",\"order_id\":\"%s\","
			     "\"detail\":\"%s\"}", a->n_mis > 1 ? "," : "", kind, id, detail);
	else
		n = snprintf(line, sizeof(line), "  %-22s %-35s %s\n", kind, *id ? id : "-", detail);
	if (a->out_len + (size_t)n + 1 > a->out_cap) {
		a->out_cap = (a->out_cap + (size_t)n + 1) * 2;
		a->out = realloc(a->out, a->out_cap);
		if (a->out == NULL)
			exit(CTL_EXIT_FAIL);
	}
	memcpy(a->out + a->out_len, line, (size_t)n + 1);
	a->out_len += (size_t)n;
}

/* ---- PostgreSQL ------------------------------------------------------------- */

static int au_pg(struct audit *a)
{
	char camp[16];
	const char *v[1] = { camp };
	PGconn *pg = PQconnectdb(a->pg);
	PGresult *r;

	if (PQstatus(pg) != CONNECTION_OK) {
		ctl_fail("cannot connect to PostgreSQL with --pg: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	snprintf(camp, sizeof(camp), "%" PRIu32, a->campaign);
	r = PQexecParams(pg, "select order_id, status, synced_at is not null, buyer from orders "
			 "where campaign = $1 order by order_id collate \"C\"", 1, NULL, v, NULL,
			 NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ctl_fail("PostgreSQL: %s(is --pg the order service's database?)",
			 PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(pg);
		return -1;
	}
	a->n_rows = (size_t)PQntuples(r);
	a->rows = calloc(a->n_rows + 1, sizeof(*a->rows));
	a->claim_ok = calloc(a->n_rows + 1, sizeof(*a->claim_ok));
	for (size_t i = 0; i < a->n_rows; i++) {
		struct au_row *w = &a->rows[i];

		snprintf(w->id, sizeof(w->id), "%s", PQgetvalue(r, (int)i, 0));
		w->status = PQgetvalue(r, (int)i, 1)[0];        /* a, p or e */
		w->synced = PQgetvalue(r, (int)i, 2)[0] == 't';
		snprintf(w->buyer, sizeof(w->buyer), "%s", PQgetvalue(r, (int)i, 3));
		a->n_paid += w->status == 'p';
		a->n_expired += w->status == 'e';
		a->n_awaiting += w->status == 'a';
	}
	PQclear(r);
	PQfinish(pg);
	return 0;
}

/* ---- Redis ------------------------------------------------------------------ */

/* A command (formatted as redisCommand) to the node of key's slot (one
 * Redis or a cluster's primaries); fails the command when none answers. */
static redisReply *au_cmd(struct ctl_route *rt, const char *key, const char *fmt, ...)
{
	redisReply *r = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ctl_route_vcommand(rt, "audit", key, &r, fmt, ap);
	va_end(ap);
	if (rc != CTL_REDIS_OK) {
		ctl_fail("Redis: %s", ctl_route_error(rt));
		r = NULL;
	}
	return r;
}

static int64_t au_int(redisReply *r)
{
	long long v = 0;

	if (r && r->type == REDIS_REPLY_STRING)
		str2ll(r->str, r->len, &v);
	else if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	freeReplyObject(r);
	return v;
}

static void au_members(struct ctl_route *rt, const char *key, struct au_set *s)
{
	redisReply *r = au_cmd(rt, key, "SMEMBERS %s", key);

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		au_add(s, r->element[i]->str);
	freeReplyObject(r);
	au_finish(s);
}

/* Live rows: is the buyer's claim this order's? (In its bucket when the
 * campaign is sharded.) One round trip per node. */
static void au_claims(struct audit *a, struct ctl_route *rt, unsigned buckets)
{
	struct ctl_route_cmd *cmds = calloc(a->n_rows + 1, sizeof(*cmds));
	char (*keys)[CTL_REDIS_KEY_CAP] = malloc((a->n_rows + 1) * sizeof(*keys));
	size_t m = 0;

	if (cmds == NULL || keys == NULL) {
		ctl_fail("out of memory for %zu claims", a->n_rows);
		free(cmds);
		free(keys);
		return;
	}
	for (; m < a->n_rows; m++) {
		uint64_t buyer = 0;
		int len;

		char field[CTL_REDIS_FIELD_CAP];

		str2u64(a->rows[m].buyer, 0, UINT64_MAX, &buyer);
		if (ctl_redis_claim_at(keys[m], sizeof(keys[m]), field, sizeof(field), a->campaign,
				       buckets, buyer))
			len = redisFormatCommand((char **)&cmds[m].cmd, "HGET %s %s", keys[m], field);
		else
			len = redisFormatCommand((char **)&cmds[m].cmd, "GET %s", keys[m]);
		if (len < 0)
			break;
		cmds[m].len = (size_t)len;
		cmds[m].key = keys[m];
		cmds[m].what = "GET";
	}
	ctl_route_pipeline(rt, cmds, m);
	for (size_t i = 0; i < m; i++) {
		redisReply *r = cmds[i].rep;

		if (cmds[i].rc == CTL_REDIS_OK) {
			a->claim_ok[i] = r->type == REDIS_REPLY_STRING &&
					 strcmp(r->str, a->rows[i].id) == 0;
			freeReplyObject(r);
		}
		redisFreeCommand((char *)cmds[i].cmd);
	}
	free(cmds);
	free(keys);
}

static int au_redis(struct audit *a)
{
	struct timeval tv = { 5, 0 };
	char key[96], err[CTL_REDIS_ERR_CAP];
	struct ctl_buckets bk = { 0 };
	unsigned buckets = 1;
	struct ctl_route *rt;
	redisReply *r;

	rt = ctl_route_new(a->redis, tv, NULL, NULL, err, sizeof(err));
	if (rt == NULL) {
		ctl_fail("cannot connect to Redis at %s: %s", a->redis, err);
		return -1;
	}
	snprintf(key, sizeof(key), "seckill:campaign:{%" PRIu32 "}", a->campaign);
	a->r_total = au_int(au_cmd(rt, key, "HGET %s stock", key));
	if (ctl_buckets_get(&bk, rt, a->campaign, &buckets, err, sizeof(err)) != CTL_REDIS_OK)
		ctl_fail("Redis: %s", err);
	snprintf(key, sizeof(key), "seckill:stock:{%" PRIu32 "}", a->campaign);
	a->r_stock = au_int(au_cmd(rt, key, "GET %s", key));
	snprintf(key, sizeof(key), "seckill:sold:{%" PRIu32 "}", a->campaign);
	a->r_sold = au_int(au_cmd(rt, key, "GET %s", key));
	snprintf(key, sizeof(key), "seckill:hosts:{%" PRIu32 "}", a->campaign);
	r = au_cmd(rt, key, "HVALS %s", key);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		long long v = 0;

		str2ll(r->element[i]->str, r->element[i]->len, &v);
		a->r_held += v;
	}
	freeReplyObject(r);
	snprintf(key, sizeof(key), "seckill:returned:{%" PRIu32 "}", a->campaign);
	au_members(rt, key, &a->returned);
	snprintf(key, sizeof(key), "seckill:paid:{%" PRIu32 "}", a->campaign);
	au_members(rt, key, &a->paid);
	au_claims(a, rt, buckets);
	ctl_route_free(rt);
	return 0;
}

/* ---- Kafka ------------------------------------------------------------------- */

static int au_kafka_assign(rd_kafka_t *rk, const char *topic, int64_t *hi, int *n_parts)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, AU_KAFKA_TIMEOUT_MS);

	rd_kafka_topic_destroy(t);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		ctl_fail("Kafka: no metadata for topic %s: %s", topic,
			 rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err : e));
		if (md)
			rd_kafka_metadata_destroy(md);
		return -1;
	}
	*n_parts = md->topics[0].partition_cnt < AU_MAX_PARTS ? md->topics[0].partition_cnt :
								  AU_MAX_PARTS;
	rd_kafka_metadata_destroy(md);
	l = rd_kafka_topic_partition_list_new(*n_parts);
	for (int p = 0; p < *n_parts; p++) {
		int64_t lo = 0;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], AU_KAFKA_TIMEOUT_MS)) {
			ctl_fail("Kafka: cannot read the end of %s/%d", topic, p);
			rd_kafka_topic_partition_list_destroy(l);
			return -1;
		}
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	return 0;
}

static void au_kafka_msg(struct audit *a, const rd_kafka_message_t *m)
{
	struct ord_record rec;
	char id[ORD_ID_STR_CAP];

	if (ctl_order_json_parse(m->payload, m->len, &rec, NULL) < 0 || rec.campaign != a->campaign)
		return;
	ord_id_format(rec.id, id, sizeof(id));
	au_add(&a->kafka_ids, id);
	a->kafka_msgs++;
}

static int au_kafka(struct audit *a)
{
	static int64_t hi[AU_MAX_PARTS], at[AU_MAX_PARTS];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char err[256], group[64];
	rd_kafka_t *rk;
	int n_parts = 0, left, rc = -1;

	snprintf(group, sizeof(group), "seckillctl-audit-%d", (int)getpid());
	rd_kafka_conf_set(kc, "bootstrap.servers", a->kafka, err, sizeof(err));
	rd_kafka_conf_set(kc, "group.id", group, err, sizeof(err));
	rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_conf_set(kc, "log_level", "3", err, sizeof(err));
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err))) == NULL)
		return ctl_fail("Kafka: %s", err) ? -1 : -1;
	if (au_kafka_assign(rk, a->topic, hi, &n_parts) == 0) {
		uint64_t deadline = AU_KAFKA_TIMEOUT_MS / 100;

		for (int p = 0; p < n_parts; p++)
			at[p] = 0;
		do {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

			if (m && !m->err && m->partition < n_parts) {
				au_kafka_msg(a, m);
				at[m->partition] = m->offset + 1;
			}
			if (m)
				rd_kafka_message_destroy(m);
			else
				deadline--;
			left = 0;
			for (int p = 0; p < n_parts; p++)
				left += at[p] < hi[p];
		} while (left && deadline);
		rc = 0;
		if (left) {
			ctl_fail("Kafka: %s not read to its end in %d s", a->topic,
				 AU_KAFKA_TIMEOUT_MS / 1000);
			rc = -1;
		}
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	au_finish(&a->kafka_ids);
	a->have_kafka = rc == 0;
	return rc;
}

/* ---- the journal and the dataplane --------------------------------------------- */

static int au_journal_one(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct audit *a = arg;
	char id[ORD_ID_STR_CAP];

	(void)seq;
	if (rec->campaign != a->campaign)
		return 0;
	ord_id_format(rec->id, id, sizeof(id));
	au_add(rec->qty ? &a->journal_ids : &a->tomb_ids, id);
	return 0;
}

static int au_journal(struct audit *a)
{
	char err[512];
	struct ord_journal *j = ord_journal_open_flags(a->journal, AU_JOURNAL_MAX,
						       ORD_JOURNAL_KEEP_ACKED, err, sizeof(err));

	if (j == NULL)
		return ctl_fail("journal %s: %s", a->journal, err) ? -1 : -1;
	ord_journal_replay_all(j, au_journal_one, a);
	ord_journal_close(j);
	au_finish(&a->journal_ids);
	au_finish(&a->tomb_ids);
	a->have_journal = true;
	return 0;
}

static int au_dataplane(struct audit *a)
{
	struct ctl_opts o = { .socket = a->socket };
	struct ctl_answer ans;
	char req[96];
	int camp;

	snprintf(req, sizeof(req), "{\"cmd\":\"campaign.show\",\"id\":%" PRIu32 "}", a->campaign);
	if (ctl_call(&o, req, &ans) != 0)
		return -1;
	camp = ctl_json_get(ans.text, ans.t, 0, "campaign");
	a->dp_sold = camp >= 0 ? ctl_ans_u64(&ans, camp, "sold") : 0;
	a->dp_left = camp >= 0 ? ctl_ans_u64(&ans, camp, "left") : 0;
	ctl_answer_free(&ans);
	a->have_dp = true;
	return 0;
}

/* ---- the comparison ---------------------------------------------------------- */

static void au_compare_ids(struct audit *a)
{
	for (size_t i = 0; a->have_kafka && i < a->kafka_ids.n; i++)
		if (!au_row(a, a->kafka_ids.v[i].s))
			au_mis(a, "kafka_not_in_pg", a->kafka_ids.v[i].s, "in the topic, no row");
	for (size_t i = 0; a->have_journal && a->have_kafka && i < a->journal_ids.n; i++)
		if (!au_has(&a->tomb_ids, a->journal_ids.v[i].s) &&
		    !au_has(&a->kafka_ids, a->journal_ids.v[i].s))
			au_mis(a, "journal_not_in_kafka", a->journal_ids.v[i].s, "journaled, not published");
	for (size_t i = 0; i < a->n_rows; i++) {
		const struct au_row *w = &a->rows[i];

		if (a->have_kafka && !au_has(&a->kafka_ids, w->id))
			au_mis(a, "pg_not_in_kafka", w->id, "a row no message explains");
		if (w->status == 'e' && !au_has(&a->returned, w->id))
			au_mis(a, "expired_not_returned", w->id, w->synced ? "marked synced" :
			       "waiting for the sweeper or Redis");
		if (w->status == 'p' && !au_has(&a->paid, w->id))
			au_mis(a, "paid_not_announced", w->id, "waiting for the sweeper or Redis");
		if (w->status != 'e' && !a->claim_ok[i])
			au_mis(a, "claim_missing", w->id, "the buyer's claim names another order or none");
	}
	for (size_t i = 0; i < a->returned.n; i++) {
		const struct au_row *w = au_row(a, a->returned.v[i].s);

		if (!w || w->status != 'e')
			au_mis(a, "returned_not_expired", a->returned.v[i].s,
			       w ? "the row is not expired" : "no row");
	}
}

static void au_compare_sums(struct audit *a)
{
	char d[160];
	int64_t live = (int64_t)(a->n_awaiting + a->n_paid);
	int64_t units = (int64_t)a->n_rows - (int64_t)a->returned.n + a->r_stock + a->r_held;

	if (a->r_stock + a->r_sold + a->r_held != a->r_total) {
		snprintf(d, sizeof(d), "stock %" PRId64 " + sold %" PRId64 " + held %" PRId64
			 " != %" PRId64, a->r_stock, a->r_sold, a->r_held, a->r_total);
		au_mis(a, "redis_invariant", "", d);
	}
	if (units != a->r_total) {
		snprintf(d, sizeof(d), "rows %zu - returned %zu + left %" PRId64 " != stock %" PRId64,
			 a->n_rows, a->returned.n, a->r_stock + a->r_held, a->r_total);
		au_mis(a, "units", "", d);
	}
	if (a->r_sold != live) {
		snprintf(d, sizeof(d), "Redis sold %" PRId64 " != live rows %" PRId64, a->r_sold,
			 live);
		au_mis(a, "redis_sold", "", d);
	}
}

static void au_print(const struct audit *a)
{
	if (a->json) {
		printf("{\"ok\":%s,\"campaign\":%" PRIu32 ",\"stock\":%" PRId64 ",", a->n_mis ?
		       "false" : "true", a->campaign, a->r_total);
		if (a->have_dp)
			printf("\"dataplane\":{\"sold\":%" PRIu64 ",\"left\":%" PRIu64 "},", a->dp_sold,
			       a->dp_left);
		if (a->have_journal)
			printf("\"journal\":{\"sold\":%zu,\"rejected\":%zu},", a->journal_ids.n,
			       a->tomb_ids.n);
		if (a->have_kafka)
			printf("\"kafka\":{\"sold\":%zu,\"messages\":%" PRIu64 "},", a->kafka_ids.n,
			       a->kafka_msgs);
		printf("\"redis\":{\"stock\":%" PRId64 ",\"sold\":%" PRId64 ",\"held\":%" PRId64
		       ",\"returned\":%zu,\"paid\":%zu},\"postgres\":{\"sold\":%zu,\"awaiting_payment\":"
		       "%zu,\"paid\":%zu,\"expired\":%zu},\"mismatches\":%u,\"list\":[%s]}\n",
		       a->r_stock, a->r_sold, a->r_held, a->returned.n, a->paid.n, a->n_rows,
		       a->n_awaiting, a->n_paid, a->n_expired, a->n_mis, a->out ? a->out : "");
		return;
	}
	printf("campaign %" PRIu32 ": stock %" PRId64 "\n", a->campaign, a->r_total);
	printf("%-10s %8s %8s %8s %8s %8s %8s\n", "SOURCE", "SOLD", "AWAITING", "PAID", "EXPIRED",
	       "RETURNED", "LEFT");
	if (a->have_dp)
		printf("%-10s %8" PRIu64 " %8s %8s %8s %8s %8" PRIu64 "\n", "dataplane", a->dp_sold,
		       "-", "-", "-", "-", a->dp_left);
	if (a->have_journal)
		printf("%-10s %8zu %8s %8s %8s %8s %8s   (%zu rejected)\n", "journal",
		       a->journal_ids.n, "-", "-", "-", "-", "-", a->tomb_ids.n);
	if (a->have_kafka)
		printf("%-10s %8zu %8s %8s %8s %8s %8s   (%" PRIu64 " messages)\n", "kafka",
		       a->kafka_ids.n, "-", "-", "-", "-", "-", a->kafka_msgs);
	printf("%-10s %8zu %8zu %8zu %8zu %8s %8s\n", "postgres", a->n_rows, a->n_awaiting,
	       a->n_paid, a->n_expired, "-", "-");
	printf("%-10s %8" PRId64 " %8s %8zu %8s %8zu %8" PRId64 "   (sold: live; left: stock %"
	       PRId64 " + held %" PRId64 ")\n", "redis", a->r_sold, "-", a->paid.n, "-",
	       a->returned.n, a->r_stock + a->r_held, a->r_stock, a->r_held);
	if (a->n_mis == 0)
		printf("clean: no mismatch\n");
	else
		printf("%u mismatch(es)%s:\n%s", a->n_mis, a->n_mis > AU_LIST_MAX ?
		       " (first 1000 listed)" : "", a->out);
}

static int audit_parse(int argc, char **argv, struct audit *a)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, 400 }, { "pg", required_argument, NULL, 401 },
		{ "redis", required_argument, NULL, 402 }, { "kafka", required_argument, NULL, 403 },
		{ "topic", required_argument, NULL, 404 }, { "journal", required_argument, NULL, 405 },
		{ "socket", required_argument, NULL, 406 }, { "json", no_argument, NULL, 407 },
		{ "help", no_argument, NULL, 408 }, { NULL, 0, NULL, 0 },
	};
	static const struct ctl_optspec spec = { opts, 400, "cgrktdsjh" };
	const char *hint = "seckillctl audit --help", *camp = NULL;
	const char **slots[] = { &camp, &a->pg, &a->redis, &a->kafka, &a->topic, &a->journal,
				 &a->socket, NULL, NULL };
	unsigned flags;
	uint64_t id;
	int first, rc = ctl_getopt(argc, argv, &spec, "cgrktdsjh", hint, slots, &flags, &first);

	if (rc)
		return rc;
	if (flags & (1u << 8)) {
		fputs(audit_usage, stdout);
		exit(CTL_EXIT_OK);
	}
	a->json = flags & (1u << 7);
	if (first < argc)
		return ctl_usage_error(hint, "unexpected argument '%s'", argv[first]);
	if (!camp || !str2u64(camp, 1, UINT32_MAX, &id))
		return ctl_usage_error(hint, "--campaign ID is required: 1..4294967295");
	a->campaign = (uint32_t)id;
	a->pg = a->pg ? a->pg : getenv("SECKILL_PG");
	a->redis = a->redis ? a->redis : getenv("SECKILL_REDIS");
	a->topic = a->topic ? a->topic : "seckill.orders";
	if (!a->pg || !a->redis)
		return ctl_usage_error(hint, "give --pg CONNINFO and --redis IP:PORT (or set "
				       "SECKILL_PG and SECKILL_REDIS)");
	return 0;
}

static int audit_run(int argc, char **argv)
{
	static struct audit a;
	int rc = audit_parse(argc, argv, &a);

	if (rc)
		return rc;
	if (au_pg(&a) < 0 || au_redis(&a) < 0)
		return CTL_EXIT_FAIL;
	if ((a.kafka && au_kafka(&a) < 0) || (a.journal && au_journal(&a) < 0) ||
	    (a.socket && au_dataplane(&a) < 0))
		return CTL_EXIT_FAIL;
	au_compare_ids(&a);
	au_compare_sums(&a);
	au_print(&a);
	return a.n_mis ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

const struct ctl_group ctl_audit_group = {
	.name = "audit",
	.summary = "a campaign's orders in every record side by side; mismatches by order id",
	.run = audit_run,
};
