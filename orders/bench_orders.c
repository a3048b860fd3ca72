/*
 * bench_orders.c - orders/s into PostgreSQL by the order service's writer
 * (orders_write.c), its four ways side by side in one run: COPY straight
 * into orders (redone through the stage when a batch meets a copy), COPY
 * into a staging table + INSERT ... SELECT, pipelined prepared INSERTs, and
 * one row per transaction. Every batch is what seckill-orders commits: the
 * rows, copies absorbed, and the partitions' offsets, fenced, in one
 * transaction. Each way starts from empty tables.
 *
 *   bench-orders-db --pg CONNINFO [--orders N] [--batch N] [--single-orders N]
 *                   [--copies PCT] [--reps N] [--modes copy,stage,pipeline,single]
 *
 * --copies PCT: that share of each batch is sent again in the next batch (the
 * front end's at-least-once copies). Prints one line per way: orders/s
 * (wall), the client's CPU per order, and the rows in the table afterwards.
 * tools/bench-orders runs it on a private PostgreSQL (tools/postgres).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "now.h"
#include "orders_pg.h"
#include "orders_write.h"
#include "str2int.h"

#define BENCH_PARTS 3               /* the orders topic's partitions in the demo */
#define BENCH_EPOCH 1700000000u

struct bench {
	const char *pg, *modes;
	uint64_t orders, batch, single_orders, copies_pct, reps;
};

#define BENCH_REPS_MAX 20

static uint64_t cpu_ns(void)
{
	return now_ts_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Two campaigns, alternating: a window of its own (order_campaigns) applies to
 * one of them when the caller has set it (tests/orders/test_orders_writers.py). */
static void make_orders(struct ord_record *rec, int32_t *part, int64_t *off, uint64_t n)
{
	int64_t next[BENCH_PARTS] = { 0 };

	for (uint64_t i = 0; i < n; i++) {
		int32_t p = (int32_t)(i % BENCH_PARTS);

		rec[i] = (struct ord_record){
			.id = ord_id_make(BENCH_EPOCH, 1, (uint16_t)(i % 4), i + 1),
			.buyer = 1000000 + i, .time_ms = (uint64_t)BENCH_EPOCH * 1000 + i,
			.campaign = 1 + (uint32_t)(i % 2), .qty = 1,
		};
		part[i] = p;
		off[i] = next[p]++;
	}
}

static int reset_tables(PGconn *pg)
{
	PGresult *r = PQexec(pg, "truncate orders, order_offsets; checkpoint");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "bench-orders: truncate: %s", PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static uint64_t count_rows(PGconn *pg)
{
	PGresult *r = PQexec(pg, "select count(*) from orders");
	uint64_t n = 0;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		str2u64(PQgetvalue(r, 0, 0), 0, UINT64_MAX, &n);
	PQclear(r);
	return n;
}

/* One way: n orders in batches; the batch's part indexes are its partitions. */
static int run_mode(PGconn *pg, enum ow_mode m, const struct bench *b, uint64_t n,
		    const struct ord_record *rec, const int32_t *part, const int64_t *off,
		    double *rate)
{
	struct ow_part parts[BENCH_PARTS];
	int64_t stored[BENCH_PARTS] = { -1, -1, -1 };
	uint64_t t0, c0, ins_all = 0, sent = 0, copies = b->batch * b->copies_pct / 100, staged_n = 0;
	char err[512];
	bool staged;

	if (reset_tables(pg) < 0)
		return -1;
	t0 = now_mono_ns();
	c0 = cpu_ns();
	for (uint64_t at = 0; at < n;) {
		/* The copies: the end of the previous batch, once more. */
		uint64_t from = at >= copies && at > 0 ? at - copies : at;
		uint64_t len = at + b->batch <= n ? at + b->batch - from : n - from, ins;
		struct ow_batch bt = {
			.topic = "seckill.orders", .rec = rec + from, .rec_part = part + from,
			.rec_off = off + from, .n = len, .parts = parts, .n_parts = BENCH_PARTS,
			.pay_within_s = 900,
		};

		for (int p = 0; p < BENCH_PARTS; p++)
			parts[p] = (struct ow_part){ .partition = p, .stored = stored[p],
						     .next = stored[p] };
		for (uint64_t i = from; i < from + len; i++)
			if (off[i] + 1 > parts[part[i]].next)
				parts[part[i]].next = off[i] + 1;
		if (ow_write(pg, m, &bt, &ins, &staged, err, sizeof(err)) != OW_OK) {
			fprintf(stderr, "bench-orders: %s: %s\n", ow_mode_str(m), err);
			return -1;
		}
		for (int p = 0; p < BENCH_PARTS; p++)
			stored[p] = parts[p].stored;
		ins_all += ins;
		staged_n += staged;
		sent += len;
		at = from + len;
	}
	{
		double s = (double)(now_mono_ns() - t0) / 1e9;
		double cpu = (double)(cpu_ns() - c0);

		*rate = (double)n / s;
		printf("%-9s %9" PRIu64 " orders %8" PRIu64 " sent %7.2f s %10.0f orders/s "
		       "%7.2f us client CPU/order  rows %" PRIu64 "%s", ow_mode_str(m), n, sent, s,
		       (double)n / s, cpu / 1e3 / (double)n, count_rows(pg),
		       ins_all == n ? "" : "  (MISMATCH)");
		if (m == OW_COPY)
			printf("  (%" PRIu64 " batches redone through the stage)", staged_n);
		printf("\n");
	}
	fflush(stdout);
	return ins_all == n && count_rows(pg) == n ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int parse(int argc, char **argv, struct bench *b)
{
	*b = (struct bench){ .modes = "copy,stage,pipeline,single", .orders = 200000, .batch = 5000,
			     .single_orders = 20000, .copies_pct = 0, .reps = 1 };
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *num = strcmp(argv[i], "--orders") == 0 ? &b->orders :
				strcmp(argv[i], "--batch") == 0 ? &b->batch :
				strcmp(argv[i], "--single-orders") == 0 ? &b->single_orders :
				strcmp(argv[i], "--copies") == 0 ? &b->copies_pct :
				strcmp(argv[i], "--reps") == 0 ? &b->reps : NULL;

		if (v && strcmp(argv[i], "--pg") == 0)
			b->pg = v;
		else if (v && strcmp(argv[i], "--modes") == 0)
			b->modes = v;
		else if (!v || !num || !str2u64(v, num == &b->copies_pct ? 0 : 1,
						  num == &b->copies_pct ? 50 :
						  num == &b->reps ? BENCH_REPS_MAX : 100000000, num)) {
			fprintf(stderr, "usage: bench-orders-db --pg CONNINFO [--orders N] [--batch N] "
				"[--single-orders N] [--copies PCT(0..50)] [--reps N(1..%d)] "
				"[--modes copy,stage,pipeline,single]\n", BENCH_REPS_MAX);
			return -1;
		}
		i++;
	}
	return b->pg ? 0 : (fprintf(stderr, "bench-orders-db: --pg CONNINFO is required\n"), -1);
}

int main(int argc, char **argv)
{
	static const enum ow_mode all[] = { OW_COPY, OW_STAGE, OW_PIPELINE, OW_SINGLE };
	enum { n_modes = sizeof(all) / sizeof(all[0]) };
	static double rate[n_modes][BENCH_REPS_MAX];
	struct bench b;
	struct ord_record *rec;
	int32_t *part;
	int64_t *off;
	char err[512];
	PGconn *pg;
	int rc = 0;

	if (parse(argc, argv, &b) < 0)
		return 2;
	if ((pg = orders_pg_open(b.pg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench-orders-db: %s\n", err);
		return 1;
	}
	rec = calloc(b.orders, sizeof(*rec));
	part = calloc(b.orders, sizeof(*part));
	off = calloc(b.orders, sizeof(*off));
	if (!rec || !part || !off) {
		fprintf(stderr, "bench-orders-db: no memory for %" PRIu64 " orders\n", b.orders);
		rc = 1;
		goto out;
	}
	make_orders(rec, part, off, b.orders);
	printf("# batches of %" PRIu64 " orders (%" PRIu64 "%% sent again as copies), offsets of "
	       "%d partitions, one transaction per batch\n", b.batch, b.copies_pct, BENCH_PARTS);
	/* The ways take turns, rep after rep, so the machine's noise falls on all. */
	for (uint64_t r = 0; r < b.reps; r++)
		for (size_t i = 0; i < n_modes; i++)
			if (strstr(b.modes, ow_mode_str(all[i])))
				rc |= run_mode(pg, all[i], &b, all[i] == OW_SINGLE &&
					       b.single_orders < b.orders ? b.single_orders : b.orders,
					       rec, part, off, &rate[i][r]);
	for (size_t i = 0; b.reps > 1 && i < n_modes; i++)
		if (strstr(b.modes, ow_mode_str(all[i]))) {
			qsort(rate[i], b.reps, sizeof(double), cmp_double);
			printf("%-9s min / median / max of %" PRIu64 " runs: %.0f / %.0f / %.0f "
			       "orders/s\n", ow_mode_str(all[i]), b.reps, rate[i][0],
			       rate[i][b.reps / 2], rate[i][b.reps - 1]);
		}
out:
	PQfinish(pg);
	free(rec);
	free(part);
	free(off);
	return rc ? 1 : 0;
}
