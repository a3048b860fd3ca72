/*
 * ctl_stats.c - the dataplane's counters as operators and tests read them.
 *
 * Every module keeps per-reason counters in an X-macro struct (stats.h); this
 * file walks them all as arrays of uint64_t with their name tables, so a
 * counter added to any module shows up here without an edit. Workers write
 * their own counters with plain stores; the main lcore reads them from
 * another thread, which may see a value a moment old but never a torn one.
 *
 * Two outputs: one summary line every --stats-interval seconds while running,
 * and at exit the full table, one "module.counter total per-lcore..." line per
 * counter (tests/integration parses it), then the connection gauges. With a
 * sale the table also has the engine's counters per worker (buy.<result
 * code>, sale.*, token.*, pow.*, lim_ip.*, lim_buyer.*, purchase.*, ring.* for the
 * producer side of each order ring), each campaign's stock counters
 * (stock<ID>.*) and totals (campaign<ID>.left/sold), and the control
 * thread's (ctl.*, ring.depth and ring.drained per worker).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_plane.h"
#include "ctl_sock.h"

const char *const dp_stats_names[] = { DP_STATS(STATS_NAME) };

#define CTL_LIM_STATS_N (0 LIM_STATS(STATS_COUNT))
#define CTL_PURCHASE_STATS_N (0 LIM_PURCHASE_STATS(STATS_COUNT))

struct ctl_counter_set {
	const char *prefix;
	const char *const *names;
	unsigned int n;
	const uint64_t *(*get)(const struct dp_lcore *lc);
};

static const uint64_t *ctl_get_dp(const struct dp_lcore *lc)
{
	return (const uint64_t *)&lc->st;
}

static const uint64_t *ctl_get_net(const struct dp_lcore *lc)
{
	return (const uint64_t *)&lc->net.st;
}

static const uint64_t *ctl_get_tcp(const struct dp_lcore *lc)
{
	return (const uint64_t *)tcp_core_stats(lc->tcp);
}

static const uint64_t *ctl_get_http(const struct dp_lcore *lc)
{
	return (const uint64_t *)http_server_stats(lc->http);
}

static const uint64_t *ctl_get_app(const struct dp_lcore *lc)
{
	return (const uint64_t *)app_stats(&lc->app);
}

/* The sale's sets: NULL when the worker has no sale (the set is left out). */
#define CTL_SALE_GET(fn, expr)                                              \
	static const uint64_t *fn(const struct dp_lcore *lc)               \
	{                                                                  \
		return lc->sale ? (const uint64_t *)(expr) : NULL;          \
	}
CTL_SALE_GET(ctl_get_buy, lc->sale->results)
CTL_SALE_GET(ctl_get_sale, &lc->sale->stats)
CTL_SALE_GET(ctl_get_token, &lc->sale->token)
CTL_SALE_GET(ctl_get_pow, &lc->sale->pow)
CTL_SALE_GET(ctl_get_lim_ip, &lc->sale->lim_ip)
CTL_SALE_GET(ctl_get_lim_buyer, &lc->sale->lim_buyer)
CTL_SALE_GET(ctl_get_purchase, &lc->sale->purchase)
CTL_SALE_GET(ctl_get_ring, &lc->sale->ring->prod.stats)

enum { CTL_SET_DP, CTL_SET_NET, CTL_SET_TCP, CTL_SET_HTTP, CTL_SET_APP, CTL_SET_BUY };

static const struct ctl_counter_set ctl_sets[] = {
	[CTL_SET_DP]   = { "dp",   dp_stats_names,          DP_STATS_N,          ctl_get_dp },
	[CTL_SET_NET]  = { "net",  net_stats_names,         NET_STATS_N,         ctl_get_net },
	[CTL_SET_TCP]  = { "tcp",  tcp_stats_names,         TCP_STATS_N,         ctl_get_tcp },
	[CTL_SET_HTTP] = { "http", http_server_stats_names, HTTP_SERVER_STATS_N, ctl_get_http },
	[CTL_SET_APP]  = { "app",  app_stats_names,         APP_STATS_N,         ctl_get_app },
	[CTL_SET_BUY] = { "buy", sale_result_names,         SALE_RESULT_N,       ctl_get_buy },
	{ "sale",      sale_stats_names,          SALE_STATS_N,        ctl_get_sale },
	{ "token",     token_stats_names,         TOKEN_STATS_N,       ctl_get_token },
	{ "pow",       pow_stats_names,           POW_STATS_N,         ctl_get_pow },
	{ "lim_ip",    lim_stats_names,           CTL_LIM_STATS_N,      ctl_get_lim_ip },
	{ "lim_buyer", lim_stats_names,           CTL_LIM_STATS_N,      ctl_get_lim_buyer },
	{ "purchase",  lim_purchase_stats_names,  CTL_PURCHASE_STATS_N, ctl_get_purchase },
	{ "ring",      ord_ring_stats_names,      ORD_RING_STATS_N,    ctl_get_ring },
};

/* Whether the workers have this set at all (the sale's sets need a sale). */
static bool ctl_set_present(const struct ctl_counter_set *set)
{
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (ctl_has_stack(dp_lcores[id]))
			return set->get(dp_lcores[id]) != NULL;
	}
	return false;
}

static uint64_t ctl_sum(const struct ctl_counter_set *set, unsigned int i)
{
	uint64_t sum = 0;
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (ctl_has_stack(dp_lcores[id]) && set->get(dp_lcores[id]) != NULL)
			sum += set->get(dp_lcores[id])[i];
	}
	return sum;
}

static void ctl_print_counters(FILE *f)
{
	const struct ctl_counter_set *set;
	unsigned int s, i, id;
	char name[64];

	for (s = 0; s < RTE_DIM(ctl_sets); s++) {
		set = &ctl_sets[s];
		if (!ctl_set_present(set))
			continue;
		for (i = 0; i < set->n; i++) {
			snprintf(name, sizeof(name), "%s.%s", set->prefix, set->names[i]);
			fprintf(f, "%-28s %12" PRIu64, name, ctl_sum(set, i));
			RTE_LCORE_FOREACH_WORKER(id) {
				if (ctl_has_stack(dp_lcores[id]))
					fprintf(f, " %12" PRIu64, set->get(dp_lcores[id])[i]);
			}
			fputc('\n', f);
		}
	}
}

/* The gauges in the same layout; fields in struct tcp_gauges order. */
#define CTL_GAUGES(X) X(conns) X(syn_rcvd) X(established) X(closing) X(time_wait) \
	X(rx_bufs_used) X(tx_bufs_used)

static void ctl_print_gauges(FILE *f)
{
	unsigned int id;
	uint64_t sum;

#define CTL_GAUGE_LINE(field)                                                   \
	sum = 0;                                                               \
	RTE_LCORE_FOREACH_WORKER(id) {                                         \
		if (ctl_has_stack(dp_lcores[id]))                               \
			sum += dp_lcores[id]->gauges.field;                    \
	}                                                                      \
	fprintf(f, "%-28s %12" PRIu64, "gauge." #field, sum);                  \
	RTE_LCORE_FOREACH_WORKER(id) {                                         \
		if (ctl_has_stack(dp_lcores[id]))                               \
			fprintf(f, " %12" PRIu32, dp_lcores[id]->gauges.field); \
	}                                                                      \
	fputc('\n', f);
	CTL_GAUGES(CTL_GAUGE_LINE)
#undef CTL_GAUGE_LINE
}

/* One "name total per-worker..." line from a per-worker value function. */
static void ctl_print_line(FILE *f, const char *name,
			  uint64_t (*val)(const struct dp_lcore *lc, const void *arg),
			  const void *arg)
{
	uint64_t sum = 0;
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (ctl_has_stack(dp_lcores[id]))
			sum += val(dp_lcores[id], arg);
	}
	fprintf(f, "%-28s %12" PRIu64, name, sum);
	RTE_LCORE_FOREACH_WORKER(id) {
		if (ctl_has_stack(dp_lcores[id]))
			fprintf(f, " %12" PRIu64, val(dp_lcores[id], arg));
	}
	fputc('\n', f);
}

/* Which counter of which campaign's stock ctl_val_stock reads. */
struct ctl_stock_arg {
	const struct stock_pool *pool;
	unsigned int i;
};

static uint64_t ctl_val_stock(const struct dp_lcore *lc, const void *arg)
{
	const struct ctl_stock_arg *a = arg;

	return ((const uint64_t *)&a->pool->share[lc->sale->index].stats)[a->i];
}

static uint64_t ctl_val_ring_depth(const struct dp_lcore *lc, const void *arg)
{
	(void)arg;
	return ord_ring_count(lc->sale->ring);
}

static uint64_t ctl_val_ring_drained(const struct dp_lcore *lc, const void *arg)
{
	const struct ctl_plane *ctl = arg;

	return ctl->ring_drained[lc->sale->index];
}

static uint64_t ctl_per_request(const struct dp_lcore *lc, uint64_t cycles)
{
	uint64_t req = http_server_stats(lc->http)->requests;

	return req ? cycles / req : 0;
}

static uint64_t ctl_val_busy_per_req(const struct dp_lcore *lc, const void *arg)
{
	(void)arg;
	return ctl_per_request(lc, lc->st.busy_cycles);
}

static uint64_t ctl_val_stack_per_req(const struct dp_lcore *lc, const void *arg)
{
	(void)arg;
	return ctl_per_request(lc, lc->st.stack_cycles);
}

/* Each campaign's stock counters per worker, and its totals: the campaigns
 * of the command line and those created at run time (seckillctl). */
static void ctl_print_campaigns(FILE *f, struct sale *s)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n = sale_campaign_ids(s, ids, SALE_MAX_CAMPAIGNS);
	struct ctl_stock_arg a;
	char name[64];

	for (unsigned int c = 0; c < n; c++) {
		a.pool = sale_campaign_pool(s, ids[c]);
		if (a.pool == NULL)
			continue;
		for (a.i = 0; a.i < STOCK_STATS_N; a.i++) {
			snprintf(name, sizeof(name), "stock%u.%s", ids[c], stock_stats_names[a.i]);
			ctl_print_line(f, name, ctl_val_stock, &a);
		}
		snprintf(name, sizeof(name), "campaign%u.left", ids[c]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, stock_left(a.pool));
		snprintf(name, sizeof(name), "campaign%u.sold", ids[c]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, stock_sold(a.pool));
	}
}

/* The control plane's decisions on orders, the Kafka producer's counters
 * (only with --kafka; kafka.delivered counts reports, an earlier run's
 * orders produced again included) and Redis's (only with --redis). */
static void ctl_print_orders(FILE *f, const struct ctl_plane *ctl)
{
	const uint64_t *k = (const uint64_t *)&ctl->kafka_st;
	struct sale_ctl_stats o;
	char name[64];

	sale_ctl_stats(ctl->sale, &o);
	fprintf(f, "%-28s %12" PRIu64 "\n", "orders.confirmed", o.confirmed);
	fprintf(f, "%-28s %12" PRIu64 "\n", "orders.rejected", o.rejected);
	fprintf(f, "%-28s %12" PRIu64 "\n", "orders.decide_unknown", o.decide_unknown);
	fprintf(f, "%-28s %12" PRIu64 "\n", "orders.paid", o.paid);
	fprintf(f, "%-28s %12" PRIu64 "\n", "orders.expired", o.expired);
	for (unsigned int i = 0; ctl->kafka_on && i < CTL_KAFKA_NSTATS; i++) {
		snprintf(name, sizeof(name), "kafka.%s", ctl_kafka_stats_names[i]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, k[i]);
	}
	for (unsigned int i = 0; ctl->redis_on && i < CTL_SALE_REDIS_STATS_N; i++) {
		snprintf(name, sizeof(name), "redis.%s", ctl_sale_redis_stats_names[i]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, ((const uint64_t *)&ctl->redis_st)[i]);
	}
	for (unsigned int i = 0; ctl->redis_on && i < CTL_SALE_EVENTS_STATS_N; i++) {
		snprintf(name, sizeof(name), "events.%s", ctl_sale_events_stats_names[i]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, ((const uint64_t *)&ctl->events_st)[i]);
	}
}

/* The control thread's counters and the journal gauges (totals only). */
static void ctl_print_ctl(FILE *f, const struct ctl_plane *ctl)
{
	const uint64_t *v = (const uint64_t *)&ctl->st;
	char name[64];

	for (unsigned int i = 0; i < CTL_LOOP_STATS_N; i++) {
		snprintf(name, sizeof(name), "ctl.%s", ctl_loop_stats_names[i]);
		fprintf(f, "%-28s %12" PRIu64 "\n", name, v[i]);
	}
	fprintf(f, "%-28s %12" PRIu64 "\n", "ctl.journal_depth", ctl->journal_depth);
	fprintf(f, "%-28s %12" PRIu64 "\n", "ctl.journal_bytes", ctl->journal_bytes);
	fprintf(f, "%-28s %12" PRIu64 "\n", "ctl.journal_synced_seq", ctl->synced_seq);
	fprintf(f, "%-28s %12" PRIu64 "\n", "ctl.sync_us_max", ctl->sync_us_max);
	fprintf(f, "%-28s %12u\n", "ctl.paused", ctl->paused ? 1u : 0u);
	ctl_print_line(f, "ring.depth", ctl_val_ring_depth, NULL);
	ctl_print_line(f, "ring.drained", ctl_val_ring_drained, ctl);
	ctl_print_orders(f, ctl);
}

/* After rte_eal_mp_wait_lcore: workers are stopped, their stacks intact. */
void ctl_stats_print_final(FILE *f, const struct ctl_plane *ctl)
{
	unsigned int id;
	char name[16];

	fprintf(f, "seckill-dp: final counters\n%-28s %12s", "counter", "total");
	RTE_LCORE_FOREACH_WORKER(id) {
		if (ctl_has_stack(dp_lcores[id])) {
			tcp_core_gauges(dp_lcores[id]->tcp, &dp_lcores[id]->gauges);
			snprintf(name, sizeof(name), "lcore%u", id);
			fprintf(f, " %12s", name);
		}
	}
	fputc('\n', f);
	ctl_print_counters(f);
	ctl_print_line(f, "dp.busy_cycles_per_request", ctl_val_busy_per_req, NULL);
	ctl_print_line(f, "dp.stack_cycles_per_request", ctl_val_stack_per_req, NULL);
	if (ctl->sale != NULL) {
		RTE_LCORE_FOREACH_WORKER(id) {
			if (ctl_has_stack(dp_lcores[id])) {
				ctl_print_campaigns(f, ctl->sale);
				break;
			}
		}
		ctl_print_ctl(f, ctl);
	}
	ctl_print_gauges(f);
	fprintf(f, "seckill-dp: end of counters\n");
	fflush(f);
}

/* Sum of one named counter of one set over all workers. */
static uint64_t ctl_total(const struct ctl_counter_set *set, const char *name)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->names[i], name) == 0)
			return ctl_sum(set, i);
	return 0;
}

void ctl_stats_summary(FILE *f, uint64_t elapsed_s, const struct ctl_plane *ctl)
{
	struct tcp_gauges g = { 0 };
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (!ctl_has_stack(dp_lcores[id]))
			continue;
		g.conns += dp_lcores[id]->gauges.conns;
		g.established += dp_lcores[id]->gauges.established;
		g.time_wait += dp_lcores[id]->gauges.time_wait;
	}
	fprintf(f, "seckill-dp: [%" PRIu64 "s] rx %" PRIu64 " tx %" PRIu64 " tx_drops %" PRIu64
		" | conns %" PRIu32 " est %" PRIu32 " tw %" PRIu32 " opened %" PRIu64
		" | http req %" PRIu64 " 2xx %" PRIu64 " 4xx %" PRIu64 " 5xx %" PRIu64 "\n",
		elapsed_s, ctl_total(&ctl_sets[CTL_SET_DP], "rx_pkts"),
		ctl_total(&ctl_sets[CTL_SET_DP], "tx_pkts"), ctl_total(&ctl_sets[CTL_SET_DP], "tx_drops"),
		g.conns, g.established, g.time_wait, ctl_total(&ctl_sets[CTL_SET_TCP], "conns_opened"),
		ctl_total(&ctl_sets[CTL_SET_HTTP], "requests"),
		ctl_total(&ctl_sets[CTL_SET_HTTP], "responses_2xx"),
		ctl_total(&ctl_sets[CTL_SET_HTTP], "responses_4xx"),
		ctl_total(&ctl_sets[CTL_SET_HTTP], "responses_5xx"));
	if (ctl->sale != NULL)
		fprintf(f, "seckill-dp: [%" PRIu64 "s] sale: sold %" PRIu64 " sold_out %" PRIu64
			" | journal %" PRIu64 " orders, %" PRIu64 " bytes, %" PRIu64 " syncs%s\n",
			elapsed_s, ctl_total(&ctl_sets[CTL_SET_BUY], "ok"),
			ctl_total(&ctl_sets[CTL_SET_BUY], "sold_out"), ctl->journal_depth,
			ctl->journal_bytes, ctl->st.syncs, ctl->paused ? " (sales paused)" : "");
	fflush(f);
}
