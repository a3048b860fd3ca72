/*
 * gen_report.c - what a seckill-gen run measured, as "name value" lines
 * (tools/bench reads them with awk), and the latency distribution for plots.
 *
 * Rates are over the engine's own span, first request to last answer, of
 * the slowest worker: ARP and the drain after the last answer do not count.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "gen.h"

static const char *const gen_dp_stats_names[] = { GEN_DP_STATS(STATS_NAME) };
#define GEN_DP_STATS_N (0 GEN_DP_STATS(STATS_COUNT))

/* Percentiles of the distribution file: HdrHistogram's ladder, halving the
 * distance to 100% each step, so the tail gets as many points as the body. */
static void gen_hist_write(const char *path, const struct gen_hist *h)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "seckill-gen: cannot write %s: %m\n", path);
		return;
	}
	fprintf(f, "# latency_us percentile 1/(1-percentile)  (%" PRIu64 " samples)\n", h->n);
	for (double rest = 1.0; rest > 1e-6; rest /= 2) {
		for (int k = 0; k < 5; k++) {
			double q = 1.0 - rest * (1.0 - k / 10.0);

			fprintf(f, "%.3f %.6f %.1f\n", gen_hist_quantile(h, q) / 1e3, q * 100,
				1.0 / (1.0 - q));
		}
	}
	fprintf(f, "%.3f 100.000000 inf\n", h->max / 1e3);
	fclose(f);
}

static void gen_mode(FILE *f, const struct gen_opts *o, unsigned n)
{
	const struct gen_conf *l = &o->load;

	fprintf(f, "seckill-gen: %s%s", o->label, *o->label ? ": " : "");
	if (o->no_load)
		fprintf(f, "replay only");
	else if (l->rate)
		fprintf(f, "open loop at %" PRIu64 " requests/s, up to %u conns", l->rate, l->conns);
	else
		fprintf(f, "closed loop, %u conns", l->conns);
	if (!o->no_load) {
		if (l->reqs_per_conn == 0)
			fprintf(f, ", keep-alive");
		else
			fprintf(f, ", %u request%s per connection", l->reqs_per_conn,
				l->reqs_per_conn == 1 ? "" : "s");
		if (l->campaign)
			fprintf(f, ", buying campaign %u as %" PRIu64 " buyers", l->campaign, l->buyers);
		else
			fprintf(f, ", GET %s", l->path);
		if (l->pow_bits)
			fprintf(f, ", proof of work %u bits", l->pow_bits);
		for (unsigned i = 0; i < l->n_headers; i++)
			fprintf(f, ", \"%s\"", l->headers[i]);
	}
	if (o->pcap)
		fprintf(f, ", replaying %s at %" PRIu64 " frames/s", o->pcap, o->pcap_rate);
	fprintf(f, ", %u worker%s\n", n, n == 1 ? "" : "s");
}

void gen_report(FILE *f, const struct gen_opts *o, struct gen_lcore *const *lcs, unsigned n)
{
	static struct gen_hist h;
	uint64_t tot[GEN_STATS_N] = { 0 }, dp[GEN_DP_STATS_N] = { 0 }, elapsed = 0;
	double secs, per_s;

	gen_hist_init(&h);
	for (unsigned w = 0; w < n; w++) {
		const uint64_t *d = (const uint64_t *)&lcs[w]->st;

		for (unsigned i = 0; i < GEN_DP_STATS_N; i++)
			dp[i] += d[i];
		if (lcs[w]->load == NULL) {
			uint64_t span = lcs[w]->t_end_tsc - lcs[w]->t_start_tsc;

			elapsed = RTE_MAX(elapsed, span * 1000000000u / rte_get_tsc_hz());
			continue;
		}
		const uint64_t *s = (const uint64_t *)gen_load_stats(lcs[w]->load);

		for (unsigned i = 0; i < GEN_STATS_N; i++)
			tot[i] += s[i];
		gen_hist_merge(&h, gen_load_hist(lcs[w]->load));
		elapsed = RTE_MAX(elapsed, gen_load_elapsed_ns(lcs[w]->load));
	}
	const struct gen_stats *st = (const struct gen_stats *)tot;
	const struct gen_dp_stats *ds = (const struct gen_dp_stats *)dp;

	secs = elapsed / 1e9;
	per_s = secs > 0 ? 1.0 / secs : 0;
	gen_mode(f, o, n);
	fprintf(f, "gen.elapsed_s %.3f\n", secs);
	fprintf(f, "gen.requests_per_s %.0f\n", st->responses * per_s);
	fprintf(f, "gen.conns_per_s %.0f\n", st->conns_opened * per_s);
	fprintf(f, "gen.latency_us.p50 %.1f\n", gen_hist_quantile(&h, 0.50) / 1e3);
	fprintf(f, "gen.latency_us.p90 %.1f\n", gen_hist_quantile(&h, 0.90) / 1e3);
	fprintf(f, "gen.latency_us.p99 %.1f\n", gen_hist_quantile(&h, 0.99) / 1e3);
	fprintf(f, "gen.latency_us.p99_9 %.1f\n", gen_hist_quantile(&h, 0.999) / 1e3);
	fprintf(f, "gen.latency_us.max %.1f\n", h.max / 1e3);
	fprintf(f, "gen.latency_us.mean %.1f\n", h.n ? (double)h.sum / (double)h.n / 1e3 : 0.0);
	fprintf(f, "gen.cycles_per_request %.0f\n",
		st->responses ? (double)ds->busy_cycles / (double)st->responses : 0.0);
	fprintf(f, "gen.resp_bytes_per_request %.0f\n",
		st->responses ? (double)st->resp_bytes / (double)st->responses : 0.0);
	fprintf(f, "gen.errors %" PRIu64 "\n", st->connects_failed + st->conns_broken +
		st->bad_responses + st->send_failed + st->backlog_full + st->no_port +
		st->unanswered + st->retry_overflow);
	if (o->pcap)
		fprintf(f, "gen.pcap_per_s %.0f\n", ds->pcap_sent * per_s);
	for (unsigned i = 0; i < GEN_STATS_N; i++)
		fprintf(f, "gen.%s %" PRIu64 "\n", gen_stats_names[i], tot[i]);
	for (unsigned i = 0; i < GEN_DP_STATS_N; i++)
		fprintf(f, "port.%s %" PRIu64 "\n", gen_dp_stats_names[i], dp[i]);
	if (o->hist_out != NULL)
		gen_hist_write(o->hist_out, &h);
}
