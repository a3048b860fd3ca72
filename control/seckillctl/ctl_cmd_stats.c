/*
 * ctl_cmd_stats.c - "seckillctl stats": what each worker core is doing.
 *
 * One line per worker: packet and request rates (the dataplane's own, over
 * its last one-second sample), totals, open connections and its order ring's
 * depth; then the journal's depth, the orders confirmed and rejected, the
 * Kafka producer's counters, and every drop or refusal counter that is not
 * zero, per core. --json gives all of it, zeros included.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_client.h"

static const char stats_usage[] =
	"Usage: seckillctl stats [--socket PATH] [--json]\n"
	"\n"
	"Per worker core: rx/tx packets per second, requests and sales per second\n"
	"(over the dataplane's last one-second sample), totals, connections, order\n"
	"ring depth; the order journal's depth; orders confirmed and rejected; Kafka\n"
	"deliveries; Redis takes and confirms; drops and refusals by reason.\n";

static void stats_drops(const struct ctl_answer *a, int cores)
{
	char name[64];
	int header = 0;

	for (int c = cores + 1; c < (int)a->t[cores].next; c = (int)a->t[c].next) {
		int d = ctl_json_get(a->text, a->t, c, "drops");

		for (int k = d + 1; d >= 0 && k < (int)a->t[d].next; k += 2) {
			if (a->t[k + 1].num == 0)
				continue;
			if (!header++)
				printf("drops and refusals (non-zero):\n");
			ctl_json_str(a->text, a->t, k, name, sizeof(name));
			printf("  core %-3" PRIu64 " %-28s %12" PRIu64 "\n",
			       ctl_ans_u64(a, c, "core"), name, a->t[k + 1].num);
		}
	}
	if (!header)
		printf("drops and refusals: none\n");
}

/* The control plane's lines: orders decided, Kafka's and Redis's sides when they run. */
static void stats_orders(const struct ctl_answer *a)
{
	int o = ctl_json_get(a->text, a->t, 0, "orders");
	int k = ctl_json_get(a->text, a->t, 0, "kafka");
	int r = ctl_json_get(a->text, a->t, 0, "redis");

	if (o >= 0)
		printf("orders confirmed %" PRIu64 ", rejected %" PRIu64 "\n",
		       ctl_ans_u64(a, o, "confirmed"), ctl_ans_u64(a, o, "rejected"));
	if (k < 0 || ctl_json_get(a->text, a->t, k, "delivered") < 0)
		printf("kafka: off (orders stay pending; seckill-dp -- --kafka BROKERS)\n");
	else
		printf("kafka: delivered %" PRIu64 ", awaiting report %" PRIu64 ", delivery errors %"
		       PRIu64 ", replayed %" PRIu64 "\n", ctl_ans_u64(a, k, "delivered"),
		       ctl_ans_u64(a, k, "queue_depth"), ctl_ans_u64(a, k, "delivery_errors"),
		       ctl_ans_u64(a, k, "replayed"));
	if (r >= 0 && ctl_json_get(a->text, a->t, r, "takes") >= 0)
		printf("redis: %" PRIu64 " units taken in %" PRIu64 " takes, %" PRIu64 " confirmed, %"
		       PRIu64 " duplicates rejected, %" PRIu64 " confirms failed\n",
		       ctl_ans_u64(a, r, "units_taken"), ctl_ans_u64(a, r, "takes"),
		       ctl_ans_u64(a, r, "confirms"), ctl_ans_u64(a, r, "duplicates"),
		       ctl_ans_u64(a, r, "confirm_failures"));
}

static void stats_print(const struct ctl_answer *a)
{
	int cores = ctl_json_get(a->text, a->t, 0, "cores"), p;

	printf("%-4s %-5s %10s %10s %9s %9s %12s %10s %7s %6s\n", "CORE", "LCORE", "RX_PPS",
	       "TX_PPS", "REQ/S", "SALES/S", "REQUESTS", "SALES", "CONNS", "RING");
	for (int c = cores + 1; cores >= 0 && c < (int)a->t[cores].next; c = (int)a->t[c].next)
		printf("%-4" PRIu64 " %-5" PRIu64 " %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %9"
		       PRIu64 " %12" PRIu64 " %10" PRIu64 " %7" PRIu64 " %6" PRIu64 "\n",
		       ctl_ans_u64(a, c, "core"), ctl_ans_u64(a, c, "lcore"),
		       ctl_ans_u64(a, c, "rx_pps"), ctl_ans_u64(a, c, "tx_pps"),
		       ctl_ans_u64(a, c, "requests_ps"), ctl_ans_u64(a, c, "sales_ps"),
		       ctl_ans_u64(a, c, "requests"), ctl_ans_u64(a, c, "sales"),
		       ctl_ans_u64(a, c, "conns"), ctl_ans_u64(a, c, "ring_depth"));
	p = ctl_json_get(a->text, a->t, 0, "paused");
	printf("journal depth %" PRIu64 ", sales %s\n", ctl_ans_u64(a, 0, "journal_depth"),
	       p >= 0 && a->t[p].num ? "PAUSED (journal nearly full or failed)" : "not paused");
	stats_orders(a);
	if (cores >= 0)
		stats_drops(a, cores);
}

static int stats_run(int argc, char **argv)
{
	struct ctl_opts o;
	struct ctl_answer a;
	int rc = ctl_opts_parse(argc, argv, "sjh", "seckillctl stats --help", &o);

	if (rc || o.help)
		return rc ? rc : (fputs(stats_usage, stdout), CTL_EXIT_OK);
	if ((rc = ctl_call(&o, "{\"cmd\":\"stats\"}", &a)) != 0)
		return rc;
	if (!o.json)
		stats_print(&a);
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

const struct ctl_group ctl_stats_group = {
	.name = "stats",
	.summary = "Per-core rates, totals, ring and journal depth, drops by reason",
	.run = stats_run,
};
