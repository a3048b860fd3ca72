/*
 * dp_stats.c - the dataplane's counters as operators and tests read them.
 *
 * Every module keeps per-reason counters in an X-macro struct (stats.h); this
 * file walks them all as arrays of uint64_t with their name tables, so a
 * counter added to any module shows up here without an edit. Workers write
 * their own counters with plain stores; the main lcore reads them from
 * another thread, which may see a value a moment old but never a torn one.
 *
 * Two outputs: one summary line every --stats-interval seconds while running,
 * and at exit the full table, one "module.counter total per-lcore..." line per
 * counter (tests/integration parses it), then the connection gauges.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dp.h"

const char *const dp_stats_names[] = { DP_STATS(STATS_NAME) };

/* How often the main lcore wakes up to look at dp_quit while waiting. */
#define DP_STATS_POLL_MS 100

struct dp_counter_set {
	const char *prefix;
	const char *const *names;
	unsigned int n;
	const uint64_t *(*get)(const struct dp_lcore *lc);
};

static const uint64_t *dp_get_dp(const struct dp_lcore *lc)
{
	return (const uint64_t *)&lc->st;
}

static const uint64_t *dp_get_net(const struct dp_lcore *lc)
{
	return (const uint64_t *)&lc->net.st;
}

static const uint64_t *dp_get_tcp(const struct dp_lcore *lc)
{
	return (const uint64_t *)tcp_core_stats(lc->tcp);
}

static const uint64_t *dp_get_http(const struct dp_lcore *lc)
{
	return (const uint64_t *)http_server_stats(lc->http);
}

static const uint64_t *dp_get_app(const struct dp_lcore *lc)
{
	return (const uint64_t *)app_stats(&lc->app);
}

enum { DP_SET_DP, DP_SET_NET, DP_SET_TCP, DP_SET_HTTP, DP_SET_APP };

static const struct dp_counter_set dp_sets[] = {
	[DP_SET_DP]   = { "dp",   dp_stats_names,          DP_STATS_N,          dp_get_dp },
	[DP_SET_NET]  = { "net",  net_stats_names,         NET_STATS_N,         dp_get_net },
	[DP_SET_TCP]  = { "tcp",  tcp_stats_names,         TCP_STATS_N,         dp_get_tcp },
	[DP_SET_HTTP] = { "http", http_server_stats_names, HTTP_SERVER_STATS_N, dp_get_http },
	[DP_SET_APP]  = { "app",  app_stats_names,         APP_STATS_N,         dp_get_app },
};

/* Workers that got as far as building their stack (others have nothing to show). */
static bool dp_stats_has_stack(const struct dp_lcore *lc)
{
	return lc != NULL && lc->tcp != NULL && lc->http != NULL;
}

static uint64_t dp_sum(const struct dp_counter_set *set, unsigned int i)
{
	uint64_t sum = 0;
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (dp_stats_has_stack(dp_lcores[id]))
			sum += set->get(dp_lcores[id])[i];
	}
	return sum;
}

static void dp_print_counters(FILE *f)
{
	const struct dp_counter_set *set;
	unsigned int s, i, id;
	char name[64];

	for (s = 0; s < RTE_DIM(dp_sets); s++) {
		set = &dp_sets[s];
		for (i = 0; i < set->n; i++) {
			snprintf(name, sizeof(name), "%s.%s", set->prefix, set->names[i]);
			fprintf(f, "%-28s %12" PRIu64, name, dp_sum(set, i));
			RTE_LCORE_FOREACH_WORKER(id) {
				if (dp_stats_has_stack(dp_lcores[id]))
					fprintf(f, " %12" PRIu64, set->get(dp_lcores[id])[i]);
			}
			fputc('\n', f);
		}
	}
}

/* The gauges in the same layout; fields in struct tcp_gauges order. */
#define DP_GAUGES(X) X(conns) X(syn_rcvd) X(established) X(closing) X(time_wait) \
	X(rx_bufs_used) X(tx_bufs_used)

static void dp_print_gauges(FILE *f)
{
	unsigned int id;
	uint64_t sum;

#define DP_GAUGE_LINE(field)                                                   \
	sum = 0;                                                               \
	RTE_LCORE_FOREACH_WORKER(id) {                                         \
		if (dp_stats_has_stack(dp_lcores[id]))                         \
			sum += dp_lcores[id]->gauges.field;                    \
	}                                                                      \
	fprintf(f, "%-28s %12" PRIu64, "gauge." #field, sum);                  \
	RTE_LCORE_FOREACH_WORKER(id) {                                         \
		if (dp_stats_has_stack(dp_lcores[id]))                         \
			fprintf(f, " %12" PRIu32, dp_lcores[id]->gauges.field); \
	}                                                                      \
	fputc('\n', f);
	DP_GAUGES(DP_GAUGE_LINE)
#undef DP_GAUGE_LINE
}

/* After rte_eal_mp_wait_lcore: workers are stopped, their stacks intact. */
void dp_stats_print_final(FILE *f)
{
	unsigned int id;
	char name[16];

	fprintf(f, "seckill-dp: final counters\n%-28s %12s", "counter", "total");
	RTE_LCORE_FOREACH_WORKER(id) {
		if (dp_stats_has_stack(dp_lcores[id])) {
			tcp_core_gauges(dp_lcores[id]->tcp, &dp_lcores[id]->gauges);
			snprintf(name, sizeof(name), "lcore%u", id);
			fprintf(f, " %12s", name);
		}
	}
	fputc('\n', f);
	dp_print_counters(f);
	dp_print_gauges(f);
	fprintf(f, "seckill-dp: end of counters\n");
	fflush(f);
}

/* Sum of one named counter of one set over all workers. */
static uint64_t dp_total(const struct dp_counter_set *set, const char *name)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->names[i], name) == 0)
			return dp_sum(set, i);
	return 0;
}

static void dp_print_summary(FILE *f, uint64_t elapsed_s)
{
	struct tcp_gauges g = { 0 };
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (!dp_stats_has_stack(dp_lcores[id]))
			continue;
		g.conns += dp_lcores[id]->gauges.conns;
		g.established += dp_lcores[id]->gauges.established;
		g.time_wait += dp_lcores[id]->gauges.time_wait;
	}
	fprintf(f, "seckill-dp: [%" PRIu64 "s] rx %" PRIu64 " tx %" PRIu64 " tx_drops %" PRIu64
		" | conns %" PRIu32 " est %" PRIu32 " tw %" PRIu32 " opened %" PRIu64
		" | http req %" PRIu64 " 2xx %" PRIu64 " 4xx %" PRIu64 " 5xx %" PRIu64 "\n",
		elapsed_s, dp_total(&dp_sets[DP_SET_DP], "rx_pkts"),
		dp_total(&dp_sets[DP_SET_DP], "tx_pkts"), dp_total(&dp_sets[DP_SET_DP], "tx_drops"),
		g.conns, g.established, g.time_wait, dp_total(&dp_sets[DP_SET_TCP], "conns_opened"),
		dp_total(&dp_sets[DP_SET_HTTP], "requests"),
		dp_total(&dp_sets[DP_SET_HTTP], "responses_2xx"),
		dp_total(&dp_sets[DP_SET_HTTP], "responses_4xx"),
		dp_total(&dp_sets[DP_SET_HTTP], "responses_5xx"));
	fflush(f);
}

/* The main lcore's job while workers run: wait for dp_quit, print summaries. */
void dp_stats_loop(const struct dp_conf *conf)
{
	const struct timespec step = { 0, DP_STATS_POLL_MS * 1000000L };
	uint64_t ticks = 0, per_print = (uint64_t)conf->stats_interval_s * 1000 / DP_STATS_POLL_MS;

	while (!__atomic_load_n(&dp_quit, __ATOMIC_RELAXED)) {
		nanosleep(&step, NULL);
		ticks++;
		if (per_print != 0 && ticks % per_print == 0)
			dp_print_summary(stdout, ticks * DP_STATS_POLL_MS / 1000);
	}
}
