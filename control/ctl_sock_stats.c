/*
 * ctl_sock_stats.c - `stats` on seckill-dp's control socket (seckillctl's
 * side: ctl_cmd_stats.c), and the per-worker counters it shares with
 * DPDK telemetry (ctl_telemetry.c).
 *
 * The workers write their counters with plain stores; these are read from
 * the main lcore with plain loads, as ctl_stats.c does: a value a moment
 * old, never torn. Rates are over the last two samples ctl_sock_cmd_tick
 * took, about a second apart. Every drop and refusal is listed, zero or
 * not, so a script can read any of them without knowing which happened.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl_sock_priv.h"

#define CTL_US_PER_S 1000000ull

/* ------------------------------------------------------------------ */
/* The workers' counters (also ctl_telemetry.c)                        */
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

/* fn for each counter of one set: all, or only the drops: those named
 * drop_*, and the connections a deadline or a full table ended (timeout_*,
 * evicted_*: lib/tcp's answers to slow and greedy clients). */
static void ctl_drops_of(const char *set, const char *const *names, unsigned n,
			 const uint64_t *v, bool all,
			 void (*fn)(void *, const char *, const char *, uint64_t), void *ctx)
{
	for (unsigned i = 0; i < n; i++)
		if (all || strncmp(names[i], "drop_", 5) == 0 ||
		    strncmp(names[i], "timeout_", 8) == 0 || strncmp(names[i], "evicted_", 8) == 0)
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

/* Per second over us microseconds; 0 before there are two samples. */
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

/* ,"<key>":{"<name>":v,...}, or ,"<key>":null when that side is not used. */
static void ctl_set_json(struct ctl_buf *b, const char *key, bool on, const char *const *names,
			 unsigned n, const uint64_t *v)
{
	ctl_buf_printf(b, ",\"%s\":%s", key, on ? "{" : "null");
	for (unsigned i = 0; on && i < n; i++)
		ctl_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", names[i], v[i]);
	if (on)
		ctl_buf_printf(b, "}");
}

/* ,"orders":{...},"kafka":{...},"redis":{...}: the control plane's side. */
static void ctl_orders_json(struct ctl_buf *b, const struct ctl_plane *ctl)
{
	struct sale_ctl_stats o = { 0 };

	if (ctl->sale)
		sale_ctl_stats(ctl->sale, &o);
	ctl_buf_printf(b, ",\"orders\":{\"confirmed\":%" PRIu64 ",\"rejected\":%" PRIu64 "}",
		       o.confirmed, o.rejected);
	ctl_set_json(b, "kafka", ctl->kafka_on, ctl_kafka_stats_names, CTL_KAFKA_NSTATS,
		     (const uint64_t *)&ctl->kafka_st);
	ctl_set_json(b, "redis", ctl->redis_on, ctl_sale_redis_stats_names,
		     CTL_SALE_REDIS_STATS_N, (const uint64_t *)&ctl->redis_st);
}

void ctl_sock_stats(struct ctl_req *r)
{
	static const char *const f[] = { NULL };
	struct ctl_plane *ctl = r->st->ctl;
	struct dp_lcore *lc;

	if (!ctl_req_fields_ok(r, f))
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
