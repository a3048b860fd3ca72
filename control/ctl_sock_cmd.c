/*
 * ctl_sock_cmd.c - the control commands behind seckill-dp's socket (ctl_sock.c).
 *
 * Each command is one function that reads the request's fields and writes
 * one JSON answer (control/ctl_proto.h); all run on the main lcore, one at a
 * time. The sale is changed only through its control API (sale.h), whose
 * operations are single atomic stores or CASes the workers pair with, so
 * nothing here waits for a worker:
 *  - campaign.create: sale_campaign_add fills a free slot and publishes it
 *    with a release store of the campaign count, which the workers' look-up
 *    (sale_campaign_find) acquires: a core sees the campaign whole or not at
 *    all. Room: SALE_MAX_CAMPAIGNS, and --max-stock units in all (the order
 *    books are sized by it when the sale is created).
 *  - campaign.open/close: the campaign's state word.
 *  - blacklist.add/del: the blacklist tables' value words. The tables cannot
 *    be walked, so this file keeps the list of what it (or the command line)
 *    listed; it is their only writer, so the copy is exact.
 *  - limits.set: sale_set_limit stores the new rule as one word, which the
 *    workers load whole (old or new, never half of each); the limit tables
 *    exist from start, so a rule that was off can be switched on. This file
 *    keeps the rules as given (rate per second or minute), for limits.get.
 *  - stats: the workers' counters, read with plain loads as ctl_stats.c does
 *    (a value a moment old, never torn), and rates over the last one-second
 *    sample that ctl_sock_cmd_tick takes.
 * It also holds what ctl_telemetry.c shares: per-core samples and drops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "ctl_proto.h"
#include "ctl_sock.h"

/* Tokens of a request: "cmd" and a handful of fields, two tokens each. */
#define CTL_SOCK_CMD_TOKS 64
/* The rate window of `stats`. */
#define CTL_SOCK_CMD_RATE_US 1000000ull
#define CTL_US_PER_S 1000000ull
#define DP_MS_PER_S 1000ull

struct ctl_rate_sample {
	uint64_t at_us;
	struct ctl_core_sample c[SALE_MAX_CORES];
};

struct ctl_sock_cmd {
	struct ctl_plane *ctl;
	const struct dp_conf *conf;
	struct ctl_rate_sample prev, cur;    /* rates: cur - prev over their interval */
	unsigned n_black_ip, n_black_buyer;
	uint32_t black_ip[DP_BLACKLIST_MAX];
	uint64_t black_buyer[DP_BLACKLIST_MAX];
	/* The rules in force as given: rate per `per` seconds (1 or 60), burst. */
	struct { uint32_t rate, per, burst; } rule[SALE_RULE_N];
};

/* One request being answered. */
struct ctl_req {
	struct ctl_sock_cmd *st;
	const char *text;
	struct ctl_json_tok *t;
	int n;
	struct ctl_buf *b;
};

static uint64_t ctl_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * DP_MS_PER_S + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Counters shared with ctl_telemetry.c                                 */
/* ------------------------------------------------------------------ */

struct dp_lcore *ctl_lcore_of_core(unsigned i)
{
	unsigned id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (dp_lcores[id] != NULL && dp_lcores[id]->queue == i)
			return dp_lcores[id];
	}
	return NULL;
}

/* A worker that got as far as building its stack. */
static bool ctl_has_stack(const struct dp_lcore *lc)
{
	return lc != NULL && lc->tcp != NULL && lc->http != NULL;
}

void ctl_core_sample(const struct dp_lcore *lc, struct ctl_core_sample *s)
{
	memset(s, 0, sizeof(*s));
	if (!ctl_has_stack(lc))
		return;
	s->rx_pkts = lc->st.rx_pkts;
	s->tx_pkts = lc->st.tx_pkts;
	s->requests = http_server_stats(lc->http)->requests;
	s->sales = lc->sale ? lc->sale->results[SALE_OK] : 0;
}

static void ctl_drops_of(const char *set, const char *const *names, unsigned n,
			const uint64_t *v, bool all,
			void (*fn)(void *, const char *, const char *, uint64_t), void *ctx)
{
	for (unsigned i = 0; i < n; i++)
		if (all || strncmp(names[i], "drop_", 5) == 0)
			fn(ctx, set, names[i], v[i]);
}

void ctl_core_drops(const struct dp_lcore *lc,
		   void (*fn)(void *ctx, const char *set, const char *name, uint64_t v),
		   void *ctx)
{
	if (!ctl_has_stack(lc))
		return;
	fn(ctx, "dp", "rx_drop_multiseg", lc->st.rx_drop_multiseg);
	fn(ctx, "dp", "tx_drops", lc->st.tx_drops);
	fn(ctx, "dp", "tx_nombuf", lc->st.tx_nombuf);
	ctl_drops_of("net", net_stats_names, NET_STATS_N, (const uint64_t *)&lc->net.st,
		    false, fn, ctx);
	ctl_drops_of("tcp", tcp_stats_names, TCP_STATS_N,
		    (const uint64_t *)tcp_core_stats(lc->tcp), false, fn, ctx);
	/* http: the error answers, every counter after the 2xx..5xx ones. */
	ctl_drops_of("http", http_server_stats_names + 4, HTTP_SERVER_STATS_N - 4,
		    (const uint64_t *)http_server_stats(lc->http) + 4, true, fn, ctx);
	/* buy: every refusal, i.e. every result but ok (index 0). */
	if (lc->sale)
		ctl_drops_of("buy", sale_result_names + 1, SALE_RESULT_N - 1,
			    lc->sale->results + 1, true, fn, ctx);
}

static void ctl_rate_take(struct ctl_rate_sample *s, uint64_t now)
{
	s->at_us = now;
	for (unsigned i = 0; i < SALE_MAX_CORES; i++) {
		struct dp_lcore *lc = ctl_lcore_of_core(i);

		if (lc == NULL)
			break;
		ctl_core_sample(lc, &s->c[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Request fields                                                      */
/* ------------------------------------------------------------------ */

static void ctl_err(struct ctl_req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctl_err(struct ctl_req *r, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_buf_init(r->b, r->b->p, r->b->cap);
	ctl_buf_printf(r->b, "{\"ok\":false,\"error\":");
	ctl_buf_json_str(r->b, code);
	ctl_buf_printf(r->b, ",\"message\":");
	ctl_buf_json_str(r->b, msg);
	ctl_buf_printf(r->b, "}");
}

/* Refuses fields the command does not take (allowed: NULL-terminated). */
static bool ctl_fields_ok(struct ctl_req *r, const char *const *allowed)
{
	char key[64];
	int i = 1;

	for (uint32_t m = 0; m < r->t[0].size; m++, i = (int)r->t[i + 1].next) {
		bool known = ctl_json_eq(r->text, r->t, i, "cmd");

		for (const char *const *a = allowed; !known && *a; a++)
			known = ctl_json_eq(r->text, r->t, i, *a);
		if (ctl_json_str(r->text, r->t, i, key, sizeof(key)) < 0)
			snprintf(key, sizeof(key), "(long name)");
		if (!known) {
			ctl_err(r, "bad_request", "unknown field '%s'", key);
			return false;
		}
		if (r->t[i + 1].type == CTL_JSON_OBJECT || r->t[i + 1].type == CTL_JSON_ARRAY) {
			ctl_err(r, "bad_request", "fields are strings, integers or booleans");
			return false;
		}
		/* A repeated field is ambiguous (the first would win): refused. */
		if (ctl_json_get(r->text, r->t, 0, key) != i + 1) {
			ctl_err(r, "bad_request", "field '%s' given twice", key);
			return false;
		}
	}
	return true;
}

/* An integer field in [min, max]: 1 found, 0 absent (when optional), -1 bad. */
static int ctl_u64(struct ctl_req *r, const char *name, uint64_t min, uint64_t max,
		  bool required, uint64_t *out)
{
	int i = ctl_json_get(r->text, r->t, 0, name);

	if (i < 0) {
		if (!required)
			return 0;
		ctl_err(r, "bad_request", "'%s' is required", name);
		return -1;
	}
	if (r->t[i].type != CTL_JSON_INT || r->t[i].num < min || r->t[i].num > max) {
		ctl_err(r, "bad_request", "'%s' must be an integer from %" PRIu64 " to %" PRIu64,
		       name, min, max);
		return -1;
	}
	*out = r->t[i].num;
	return 1;
}

static bool ctl_need_sale(struct ctl_req *r)
{
	if (r->st->ctl->sale != NULL)
		return true;
	ctl_err(r, "no_sale", "seckill-dp runs without a sale (start it with --token-key and "
	       "--campaign, or --max-stock for campaigns made here)");
	return false;
}

/* ------------------------------------------------------------------ */
/* campaign.*                                                          */
/* ------------------------------------------------------------------ */

static void ctl_campaign_json(struct ctl_req *r, uint32_t id)
{
	struct sale *s = r->st->ctl->sale;
	struct stock_pool *pool = sale_campaign_pool(s, id);
	struct sale_campaign_view v;

	sale_campaign_info(s, id, ctl_unix_ms(), &v);
	ctl_buf_printf(r->b, "{\"id\":%" PRIu32 ",\"phase\":\"%s\",\"stock\":%" PRIu64
		       ",\"left\":%" PRIu64 ",\"sold\":%" PRIu64 ",\"starts_at\":%" PRIu64
		       ",\"sold_per_core\":[", id, sale_phase_str(v.phase), v.stock, v.left,
		       v.stock - v.left, v.starts_at_ms);
	for (unsigned i = 0; i < sale_n_cores(s); i++)
		/* share.sold: the owner's atomic store; any thread may load it. */
		ctl_buf_printf(r->b, "%s%" PRIu64, i ? "," : "",
			       (uint64_t)atomic_load_explicit(&pool->share[i].sold,
							      memory_order_relaxed));
	ctl_buf_printf(r->b, "]}");
}

static bool ctl_campaign_id(struct ctl_req *r, uint32_t *id)
{
	uint64_t v;

	if (!ctl_need_sale(r) || ctl_u64(r, "id", 1, UINT32_MAX, true, &v) < 0)
		return false;
	*id = (uint32_t)v;
	if (sale_campaign_pool(r->st->ctl->sale, *id) != NULL)
		return true;
	ctl_err(r, "unknown_campaign", "no campaign %" PRIu32 "; see 'seckillctl campaign list'",
	       *id);
	return false;
}

/* With --redis: made in Redis (or preheated from it if another host made it). */
static void ctl_sock_campaign_create_redis(struct ctl_req *r, uint32_t id, uint64_t stock,
					 uint64_t at)
{
	struct dp_campaign cp = { .id = id, .stock = stock, .starts_at_ms = at };
	char err[512];

	if (ctl_sale_redis_campaign_create(r->st->ctl, &cp, err, sizeof(err)) < 0) {
		ctl_err(r, "failed", "%s", err);
		return;
	}
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":");
	ctl_campaign_json(r, id);
	ctl_buf_printf(r->b, "}");
}

static void ctl_sock_campaign_create(struct ctl_req *r)
{
	static const char *const f[] = { "id", "stock", "starts_at", NULL };
	struct sale *s = r->st->ctl->sale;
	uint64_t id, stock, at = 0;
	int rc;

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r) ||
	    ctl_u64(r, "id", 1, UINT32_MAX, true, &id) < 0 ||
	    ctl_u64(r, "stock", 1, DP_STOCK_MAX, true, &stock) < 0 ||
	    ctl_u64(r, "starts_at", 0, UINT64_MAX, false, &at) < 0)
		return;
	if (r->st->ctl->redis != NULL && sale_campaign_pool(s, (uint32_t)id) == NULL) {
		ctl_sock_campaign_create_redis(r, (uint32_t)id, stock, at);
		return;
	}
	rc = sale_campaign_add(s, (uint32_t)id, stock, at);
	if (rc == -EEXIST) {
		ctl_err(r, "exists", "campaign %" PRIu64 " exists already", id);
		return;
	}
	if (rc == -ENOSPC) {
		ctl_err(r, "no_room", "no room for %" PRIu64 " more units or another campaign "
		       "(at most %u campaigns, %" PRIu64 " units in all: seckill-dp --max-stock)",
		       stock, SALE_MAX_CAMPAIGNS, r->st->conf->sale.max_stock);
		return;
	}
	if (rc < 0) {
		ctl_err(r, "failed", "cannot add campaign %" PRIu64 ": %s", id, strerror(-rc));
		return;
	}
	printf("seckill-dp: campaign %" PRIu64 " created by seckillctl: %" PRIu64 " units, opens "
	       "at %" PRIu64 " ms\n", id, stock, at);
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":");
	ctl_campaign_json(r, (uint32_t)id);
	ctl_buf_printf(r->b, "}");
}

static void ctl_sock_campaign_list(struct ctl_req *r)
{
	static const char *const f[] = { NULL };
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n;

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r))
		return;
	n = sale_campaign_ids(r->st->ctl->sale, ids, SALE_MAX_CAMPAIGNS);
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaigns\":[");
	for (unsigned i = 0; i < n; i++) {
		ctl_buf_printf(r->b, i ? "," : "");
		ctl_campaign_json(r, ids[i]);
	}
	ctl_buf_printf(r->b, "]}");
}

static void ctl_sock_campaign_show(struct ctl_req *r)
{
	static const char *const f[] = { "id", NULL };
	uint32_t id;

	if (!ctl_fields_ok(r, f) || !ctl_campaign_id(r, &id))
		return;
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":");
	ctl_campaign_json(r, id);
	ctl_buf_printf(r->b, "}");
}

static void ctl_campaign_state(struct ctl_req *r, enum sale_state st)
{
	static const char *const f[] = { "id", NULL };
	uint32_t id;

	if (!ctl_fields_ok(r, f) || !ctl_campaign_id(r, &id))
		return;
	sale_campaign_set_state(r->st->ctl->sale, id, st);
	printf("seckill-dp: campaign %" PRIu32 " %s by seckillctl\n", id,
	       st == SALE_OPEN ? "opened" : "closed");
	if (ctl_sale_redis_set_state(r->st->ctl, id, st) < 0)
		fprintf(stderr, "seckill-dp: redis: campaign %" PRIu32 ": state not recorded in "
			"Redis (unreachable); hosts that start later read the old state\n", id);
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":");
	ctl_campaign_json(r, id);
	ctl_buf_printf(r->b, "}");
}

static void ctl_sock_campaign_open(struct ctl_req *r)
{
	ctl_campaign_state(r, SALE_OPEN);
}

static void ctl_sock_campaign_close(struct ctl_req *r)
{
	ctl_campaign_state(r, SALE_CLOSED_STATE);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */
/* ------------------------------------------------------------------ */

static void ctl_drop_json(void *ctx, const char *set, const char *name, uint64_t v)
{
	struct ctl_buf *b = ctx;
	char key[64];

	snprintf(key, sizeof(key), "%s.%s", set, name);
	ctl_buf_key(b, key);
	ctl_buf_printf(b, "%" PRIu64, v);
}

static uint64_t ctl_rate(uint64_t now, uint64_t then, uint64_t us)
{
	return us == 0 || now < then ? 0 : (now - then) * CTL_US_PER_S / us;
}

static void ctl_core_json(struct ctl_req *r, unsigned i, const struct dp_lcore *lc)
{
	const struct ctl_rate_sample *p = &r->st->prev, *c = &r->st->cur;
	uint64_t us = p->at_us ? c->at_us - p->at_us : 0;
	struct ctl_core_sample s;
	struct sale *sale = r->st->ctl->sale;

	ctl_core_sample(lc, &s);
	ctl_buf_printf(r->b, "{\"core\":%u,\"lcore\":%u,\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%"
		       PRIu64 ",\"requests\":%" PRIu64 ",\"sales\":%" PRIu64, i, lc->lcore_id,
		       s.rx_pkts, s.tx_pkts, s.requests, s.sales);
	ctl_buf_printf(r->b, ",\"rx_pps\":%" PRIu64 ",\"tx_pps\":%" PRIu64 ",\"requests_ps\":%"
		       PRIu64 ",\"sales_ps\":%" PRIu64,
		       ctl_rate(c->c[i].rx_pkts, p->c[i].rx_pkts, us),
		       ctl_rate(c->c[i].tx_pkts, p->c[i].tx_pkts, us),
		       ctl_rate(c->c[i].requests, p->c[i].requests, us),
		       ctl_rate(c->c[i].sales, p->c[i].sales, us));
	/* Gauges: 32-bit stores by the worker each tick, never torn. */
	ctl_buf_printf(r->b, ",\"conns\":%" PRIu32 ",\"ring_depth\":%" PRIu64 ",\"drops\":{",
		       lc->gauges.conns,
		       sale ? ord_ring_count(sale_ring(sale, i)) : (uint64_t)0);
	ctl_core_drops(lc, ctl_drop_json, r->b);
	ctl_buf_printf(r->b, "}}");
}

/* ,"orders":{...},"kafka":{...},"redis":{...} (null when not used): the
 * control plane's side. */
static void ctl_orders_json(struct ctl_buf *b, const struct ctl_plane *ctl)
{
	const uint64_t *k = (const uint64_t *)&ctl->kafka_st;
	struct sale_ctl_stats o = { 0 };

	if (ctl->sale)
		sale_ctl_stats(ctl->sale, &o);
	ctl_buf_printf(b, ",\"orders\":{\"confirmed\":%" PRIu64 ",\"rejected\":%" PRIu64 "}",
		       o.confirmed, o.rejected);
	ctl_buf_printf(b, ",\"kafka\":%s", ctl->kafka_on ? "{" : "null");
	for (unsigned i = 0; ctl->kafka_on && i < CTL_KAFKA_NSTATS; i++)
		ctl_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", ctl_kafka_stats_names[i], k[i]);
	if (ctl->kafka_on)
		ctl_buf_printf(b, "}");
	ctl_buf_printf(b, ",\"redis\":%s", ctl->redis_on ? "{" : "null");
	for (unsigned i = 0; ctl->redis_on && i < CTL_SALE_REDIS_STATS_N; i++)
		ctl_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", ctl_sale_redis_stats_names[i],
			       ((const uint64_t *)&ctl->redis_st)[i]);
	if (ctl->redis_on)
		ctl_buf_printf(b, "}");
}

static void ctl_sock_stats(struct ctl_req *r)
{
	static const char *const f[] = { NULL };
	struct ctl_plane *ctl = r->st->ctl;
	struct dp_lcore *lc;

	if (!ctl_fields_ok(r, f))
		return;
	ctl_buf_printf(r->b, "{\"ok\":true,\"rate_interval_ms\":%" PRIu64 ",\"sale\":%s,"
		       "\"paused\":%s,\"journal_depth\":%" PRIu64 ",\"cores\":[",
		       r->st->prev.at_us ? (r->st->cur.at_us - r->st->prev.at_us) / 1000 : 0,
		       ctl->sale ? "true" : "false", ctl->paused ? "true" : "false",
		       ctl->journal_depth);
	for (unsigned i = 0, k = 0; i < SALE_MAX_CORES && (lc = ctl_lcore_of_core(i)); i++) {
		if (!ctl_has_stack(lc))
			continue;
		ctl_buf_printf(r->b, k++ ? "," : "");
		ctl_core_json(r, i, lc);
	}
	ctl_buf_printf(r->b, "]");
	ctl_orders_json(r->b, ctl);
	ctl_buf_printf(r->b, "}");
}

/* ------------------------------------------------------------------ */
/* limits.*                                                            */
/* ------------------------------------------------------------------ */

static void ctl_rule_json(struct ctl_buf *b, const char *key, uint32_t rate, uint32_t per,
			 uint32_t burst)
{
	ctl_buf_key(b, key);
	ctl_buf_printf(b, "{\"rate\":%" PRIu32 ",\"per\":\"%s\",\"burst\":%" PRIu32 "}",
		       rate, per == 60 ? "m" : "s", burst);
}

static void ctl_limits_json(struct ctl_req *r)
{
	ctl_buf_printf(r->b, "{\"ok\":true");
	ctl_rule_json(r->b, "ip", r->st->rule[SALE_RULE_IP].rate, r->st->rule[SALE_RULE_IP].per,
		     r->st->rule[SALE_RULE_IP].burst);
	ctl_rule_json(r->b, "buyer", r->st->rule[SALE_RULE_BUYER].rate,
		     r->st->rule[SALE_RULE_BUYER].per, r->st->rule[SALE_RULE_BUYER].burst);
	ctl_buf_printf(r->b, "}");
}

static void ctl_sock_limits_get(struct ctl_req *r)
{
	static const char *const f[] = { NULL };

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r))
		return;
	ctl_limits_json(r);
}

/* One rule's fields ("ip_rate", "ip_per", "ip_burst") over the rule in force:
 * 0 with *out set, -1 answered with an error. */
static int ctl_rule_fields(struct ctl_req *r, enum sale_rule which, const char *name,
			  struct lim_rule *out, uint32_t *rate, uint32_t *per, uint32_t *burst)
{
	char f_rate[16], f_per[16], f_burst[16];
	uint64_t v_rate = r->st->rule[which].rate, v_per = r->st->rule[which].per;
	uint64_t v_burst = r->st->rule[which].burst;

	snprintf(f_rate, sizeof(f_rate), "%s_rate", name);
	snprintf(f_per, sizeof(f_per), "%s_per", name);
	snprintf(f_burst, sizeof(f_burst), "%s_burst", name);
	if (ctl_u64(r, f_rate, 0, DP_RATE_MAX, false, &v_rate) < 0 ||
	    ctl_u64(r, f_per, 1, 60, false, &v_per) < 0 ||
	    ctl_u64(r, f_burst, 0, LIM_EXCESS_MAX / 1000, false, &v_burst) < 0)
		return -1;
	if (v_per != 1 && v_per != 60) {
		ctl_err(r, "bad_request", "'%s' must be 1 (per second) or 60 (per minute)", f_per);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (v_rate != 0 && lim_rule_set(out, (uint32_t)v_rate, (uint32_t)v_per,
					(uint32_t)v_burst) < 0) {
		ctl_err(r, "bad_request", "%s rate %" PRIu64 " with burst %" PRIu64 " is not a "
		       "usable limit; lower the burst", name, v_rate, v_burst);
		return -1;
	}
	*rate = (uint32_t)v_rate;
	*per = (uint32_t)v_per;
	*burst = (uint32_t)v_burst;
	return 0;
}

static void ctl_sock_limits_set(struct ctl_req *r)
{
	static const char *const f[] = { "ip_rate", "ip_per", "ip_burst", "buyer_rate",
					 "buyer_per", "buyer_burst", NULL };
	static const char *const names[SALE_RULE_N] = { "ip", "buyer" };
	struct lim_rule rule[SALE_RULE_N];
	uint32_t rate[SALE_RULE_N], per[SALE_RULE_N], burst[SALE_RULE_N];

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r))
		return;
	/* Both checked before either is applied: all or nothing. */
	for (int i = 0; i < SALE_RULE_N; i++)
		if (ctl_rule_fields(r, (enum sale_rule)i, names[i], &rule[i], &rate[i], &per[i],
				   &burst[i]) < 0)
			return;
	for (int i = 0; i < SALE_RULE_N; i++) {
		if (sale_set_limit(r->st->ctl->sale, (enum sale_rule)i, &rule[i]) < 0) {
			ctl_err(r, "failed", "the %s limit cannot be switched on: its table has no "
			       "room", names[i]);
			return;
		}
		r->st->rule[i].rate = rate[i];
		r->st->rule[i].per = per[i];
		r->st->rule[i].burst = burst[i];
	}
	printf("seckill-dp: limits set by seckillctl: ip %u/%s burst %u, buyer %u/%s burst %u\n",
	       rate[0], per[0] == 60 ? "m" : "s", burst[0], rate[1], per[1] == 60 ? "m" : "s",
	       burst[1]);
	ctl_limits_json(r);
}

/* ------------------------------------------------------------------ */
/* blacklist.*                                                         */
/* ------------------------------------------------------------------ */

/* The request's one target: an "ip" (dotted quad) or a "buyer" (id). */
static int ctl_black_target(struct ctl_req *r, bool *is_ip, uint32_t *ip, uint64_t *buyer)
{
	static const char *const f[] = { "ip", "buyer", NULL };
	int i = ctl_json_get(r->text, r->t, 0, "ip");
	int b = ctl_json_get(r->text, r->t, 0, "buyer");
	char s[INET_ADDRSTRLEN];

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r))
		return -1;
	if ((i < 0) == (b < 0)) {
		ctl_err(r, "bad_request", "give exactly one of 'ip' and 'buyer'");
		return -1;
	}
	*is_ip = i >= 0;
	if (*is_ip) {
		if (ctl_json_str(r->text, r->t, i, s, sizeof(s)) < 0 ||
		    inet_pton(AF_INET, s, ip) != 1) {
			ctl_err(r, "bad_request", "'ip' must be a dotted quad, e.g. 203.0.113.7");
			return -1;
		}
		return 0;
	}
	return ctl_u64(r, "buyer", 1, UINT64_MAX - 1, true, buyer) < 0 ? -1 : 0;
}

static void ctl_black_ok(struct ctl_req *r, bool is_ip, uint32_t ip, uint64_t buyer,
			const char *done)
{
	char s[INET_ADDRSTRLEN];

	ctl_buf_printf(r->b, "{\"ok\":true,\"%s\":true,", done);
	if (is_ip)
		ctl_buf_printf(r->b, "\"ip\":\"%s\"}", inet_ntop(AF_INET, &ip, s, sizeof(s)));
	else
		ctl_buf_printf(r->b, "\"buyer\":%" PRIu64 "}", buyer);
}

/* Index of v in the copy, or -1. */
static int ctl_black_find(const struct ctl_sock_cmd *st, bool is_ip, uint32_t ip, uint64_t buyer)
{
	unsigned n = is_ip ? st->n_black_ip : st->n_black_buyer;

	for (unsigned k = 0; k < n; k++)
		if (is_ip ? st->black_ip[k] == ip : st->black_buyer[k] == buyer)
			return (int)k;
	return -1;
}

static void ctl_sock_blacklist_add(struct ctl_req *r)
{
	struct ctl_sock_cmd *st = r->st;
	uint64_t buyer = 0;
	uint32_t ip = 0;
	bool is_ip;
	int rc;

	if (ctl_black_target(r, &is_ip, &ip, &buyer) < 0)
		return;
	if (ctl_black_find(st, is_ip, ip, buyer) >= 0) {
		ctl_black_ok(r, is_ip, ip, buyer, "listed_before");
		return;
	}
	rc = is_ip ? sale_blacklist_ip_add(st->ctl->sale, ip)
		   : sale_blacklist_buyer_add(st->ctl->sale, buyer);
	if (rc < 0 || (is_ip ? st->n_black_ip : st->n_black_buyer) == DP_BLACKLIST_MAX) {
		if (rc == 0)   /* listed but not in our copy: take it back out */
			is_ip ? sale_blacklist_ip_del(st->ctl->sale, ip)
			      : sale_blacklist_buyer_del(st->ctl->sale, buyer);
		ctl_err(r, "full", "the %s blacklist is full (%u entries); delete some first",
		       is_ip ? "IP" : "buyer", DP_BLACKLIST_MAX);
		return;
	}
	if (is_ip)
		st->black_ip[st->n_black_ip++] = ip;
	else
		st->black_buyer[st->n_black_buyer++] = buyer;
	ctl_black_ok(r, is_ip, ip, buyer, "added");
}

static void ctl_sock_blacklist_del(struct ctl_req *r)
{
	struct ctl_sock_cmd *st = r->st;
	uint64_t buyer = 0;
	uint32_t ip = 0;
	bool is_ip;
	int k;

	if (ctl_black_target(r, &is_ip, &ip, &buyer) < 0)
		return;
	k = ctl_black_find(st, is_ip, ip, buyer);
	if (k < 0) {
		ctl_err(r, "not_listed", "%s is not on the blacklist", is_ip ? "that IP" :
		       "that buyer");
		return;
	}
	if (is_ip) {
		sale_blacklist_ip_del(st->ctl->sale, ip);
		st->black_ip[k] = st->black_ip[--st->n_black_ip];
	} else {
		sale_blacklist_buyer_del(st->ctl->sale, buyer);
		st->black_buyer[k] = st->black_buyer[--st->n_black_buyer];
	}
	ctl_black_ok(r, is_ip, ip, buyer, "deleted");
}

static void ctl_sock_blacklist_list(struct ctl_req *r)
{
	static const char *const f[] = { NULL };
	struct ctl_sock_cmd *st = r->st;
	char s[INET_ADDRSTRLEN];

	if (!ctl_fields_ok(r, f) || !ctl_need_sale(r))
		return;
	ctl_buf_printf(r->b, "{\"ok\":true,\"ips\":[");
	for (unsigned k = 0; k < st->n_black_ip; k++)
		ctl_buf_printf(r->b, "%s\"%s\"", k ? "," : "",
			       inet_ntop(AF_INET, &st->black_ip[k], s, sizeof(s)));
	ctl_buf_printf(r->b, "],\"buyers\":[");
	for (unsigned k = 0; k < st->n_black_buyer; k++)
		ctl_buf_printf(r->b, "%s%" PRIu64, k ? "," : "", st->black_buyer[k]);
	ctl_buf_printf(r->b, "]}");
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(struct ctl_req *r);
} ctl_sock_cmds[] = {
	{ "campaign.create", ctl_sock_campaign_create },
	{ "campaign.list", ctl_sock_campaign_list },
	{ "campaign.show", ctl_sock_campaign_show },
	{ "campaign.open", ctl_sock_campaign_open },
	{ "campaign.close", ctl_sock_campaign_close },
	{ "stats", ctl_sock_stats },
	{ "limits.get", ctl_sock_limits_get },
	{ "limits.set", ctl_sock_limits_set },
	{ "blacklist.add", ctl_sock_blacklist_add },
	{ "blacklist.del", ctl_sock_blacklist_del },
	{ "blacklist.list", ctl_sock_blacklist_list },
};

/* Answers one request line into b (no newline yet). */
void ctl_sock_cmd_answer(struct ctl_sock_cmd *st, const char *line, size_t len,
		      struct ctl_buf *b)
{
	struct ctl_json_tok toks[CTL_SOCK_CMD_TOKS];
	struct ctl_req r = { st, line, toks, 0, b };
	char perr[128];
	int c;

	r.n = ctl_json_parse(line, len, toks, CTL_SOCK_CMD_TOKS, perr, sizeof(perr));
	if (r.n < 0 || toks[0].type != CTL_JSON_OBJECT) {
		ctl_err(&r, "bad_json", "a request is one JSON object on a line: %s",
		       r.n < 0 ? perr : "not an object");
		return;
	}
	c = ctl_json_get(line, toks, 0, "cmd");
	for (size_t i = 0; c >= 0 && i < RTE_DIM(ctl_sock_cmds); i++)
		if (ctl_json_eq(line, toks, c, ctl_sock_cmds[i].name)) {
			ctl_sock_cmds[i].run(&r);
			if (b->overflow)
				ctl_err(&r, "too_large", "the answer does not fit %u bytes",
				       CTL_ANSWER_MAX);
			return;
		}
	ctl_err(&r, "unknown_cmd", "%s; commands: campaign.create, campaign.list, "
	       "campaign.show, campaign.open, campaign.close, stats, limits.get, limits.set, "
	       "blacklist.add, blacklist.del, blacklist.list",
	       c < 0 ? "no \"cmd\" field" : "unknown \"cmd\"");
}


/* The blacklist copy starts as the command line's (without repeats). */
static void ctl_sock_cmd_seed(struct ctl_sock_cmd *st)
{
	const struct dp_sale_conf *sc = &st->conf->sale;

	for (unsigned i = 0; i < sc->n_black_ip; i++)
		if (ctl_black_find(st, true, sc->black_ip[i], 0) < 0)
			st->black_ip[st->n_black_ip++] = sc->black_ip[i];
	for (unsigned i = 0; i < sc->n_black_buyer; i++)
		if (ctl_black_find(st, false, 0, sc->black_buyer[i]) < 0)
			st->black_buyer[st->n_black_buyer++] = sc->black_buyer[i];
}

struct ctl_sock_cmd *ctl_sock_cmd_create(struct ctl_plane *ctl, const struct dp_conf *conf)
{
	struct ctl_sock_cmd *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->ctl = ctl;
	st->conf = conf;
	st->rule[SALE_RULE_IP].rate = conf->sale.ip_rate;
	st->rule[SALE_RULE_IP].per = conf->sale.ip_per;
	st->rule[SALE_RULE_IP].burst = conf->sale.ip_burst;
	st->rule[SALE_RULE_BUYER].rate = conf->sale.buyer_rate;
	st->rule[SALE_RULE_BUYER].per = conf->sale.buyer_per;
	st->rule[SALE_RULE_BUYER].burst = conf->sale.buyer_burst;
	ctl_sock_cmd_seed(st);
	return st;
}

void ctl_sock_cmd_tick(struct ctl_sock_cmd *st, uint64_t now_us)
{
	if (now_us - st->cur.at_us < CTL_SOCK_CMD_RATE_US)
		return;
	st->prev = st->cur;
	ctl_rate_take(&st->cur, now_us);
}

void ctl_sock_cmd_free(struct ctl_sock_cmd *st)
{
	free(st);
}
