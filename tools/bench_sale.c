/*
 * bench_sale.c - what one buy decision costs (lib/sale/sale.h: sale_buy),
 * on 1 core and on 2 threads pinned to 2 CPUs, in stock and sold out.
 *
 * In stock, every call is a sale by a new buyer: token check (SipHash),
 * per-IP and per-buyer limit look-ups (limits on, generous enough that all
 * pass), blacklist skipped (empty), ring reserve, purchase-set insert, stock
 * take, book entry, ring commit. Sold out, every call is a 410 from the
 * core's flag: the token check and two loads, no shared write, so the
 * 2-thread time should equal the 1-core one. A token_verify row shows how
 * much of either is the token. Each repetition builds a fresh sale (not
 * timed); the table prints min and median over the repetitions.
 *
 *   bench_sale [buyers per thread per repetition]     default 100000, 7 repetitions
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "now.h"
#include "sale.h"
#include "str2int.h"

#define BENCH_DEFAULT_BUYERS 100000
#define BENCH_REPS 7
#define BENCH_MAX_THREADS 2
#define BENCH_NOW_MS 1700000000000ull
#define BENCH_TTL_S 3600

static const struct token_key bench_key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

struct bench_tok {
	char s[TOKEN_STR_CAP];
	uint32_t len;
};

enum bench_kind { BENCH_IN_STOCK, BENCH_SOLD_OUT, BENCH_TOKEN_ONLY };

struct bench_run {
	struct sale *s;
	const struct bench_tok *tok;    /* this thread's buyers */
	long n;
	unsigned core;
	enum bench_kind kind;
	pthread_barrier_t *go;
	double ns_per_op;
	long bad;                       /* answers that were not the expected one */
};

static volatile uint64_t sink;

static void pin(unsigned core)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(core % (ncpu > 0 ? (unsigned)ncpu : 1), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *bench_thread(void *arg)
{
	struct bench_run *r = arg;
	struct sale_core *c = r->s ? sale_core(r->s, r->core) : NULL;
	enum sale_result want = r->kind == BENCH_IN_STOCK ? SALE_OK : SALE_SOLD_OUT;
	struct sale_out out;
	uint64_t t0;

	pin(r->core);
	pthread_barrier_wait(r->go);
	t0 = now_mono_ns();
	for (long i = 0; i < r->n; i++) {
		const struct bench_tok *t = &r->tok[i];
		uint32_t ip = (uint32_t)(i * 2654435761u) & 0xffff;   /* 64 Ki peers */

		if (r->kind == BENCH_TOKEN_ONLY) {
			uint64_t b = 0;

			r->bad += token_verify(&bench_key, t->s, t->len,
					       BENCH_NOW_MS / 1000, &b) != TOKEN_OK;
			sink += b;
			continue;
		}
		r->bad += sale_buy(c, 1, t->s, t->len, ip, BENCH_NOW_MS, &out) != want;
		sink += out.id.lo;
	}
	r->ns_per_op = (double)(now_mono_ns() - t0) / (double)r->n;
	return NULL;
}

static struct sale *bench_sale(unsigned threads, long n, enum bench_kind kind)
{
	struct sale_conf cf;
	char err[SALE_ERR_CAP];
	struct sale *s;
	struct sale_out out;
	uint64_t total = (uint64_t)n * threads;

	sale_conf_default(&cf);
	cf.n_cores = threads;
	cf.key = bench_key;
	lim_rule_set(&cf.ip_rule, 1000000, 1, 1000);           /* on, never limiting */
	lim_rule_set(&cf.buyer_rule, 10, 1, 10);
	cf.ip_capacity = 1 << 16;
	cf.buyer_capacity = (uint32_t)total;
	cf.purchase_capacity = (uint32_t)total;
	cf.ring_size = 1;
	while (cf.ring_size < n)
		cf.ring_size <<= 1;
	cf.max_stock = total;
	cf.return_headroom = 1;
	s = sale_create(&cf, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "bench_sale: %s\n", err);
		exit(1);
	}
	if (sale_campaign_add(s, 1, kind == BENCH_SOLD_OUT ? 1 : total, 0) < 0) {
		fprintf(stderr, "bench_sale: cannot add the campaign\n");
		exit(1);
	}
	if (kind == BENCH_SOLD_OUT) {
		/* Sell the one unit, then let every core see sold out once (new
		 * buyers: a repeat buyer stops at 409 and never reaches the stock). */
		for (unsigned i = 0; i <= threads; i++) {
			struct bench_tok t;

			t.len = (uint32_t)token_mint(&bench_key, (uint64_t)UINT32_MAX + i,
						     BENCH_NOW_MS / 1000 + BENCH_TTL_S, t.s,
						     sizeof(t.s));
			sale_buy(sale_core(s, i ? i - 1 : 0), 1, t.s, t.len, 1, BENCH_NOW_MS, &out);
		}
	}
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One row: min and median ns per call, per thread, over BENCH_REPS. */
static void bench_row(const char *name, unsigned threads, enum bench_kind kind, long n,
		      const struct bench_tok *tok)
{
	double ns[BENCH_REPS];
	long bad = 0;

	for (int rep = 0; rep < BENCH_REPS; rep++) {
		struct bench_run r[BENCH_MAX_THREADS];
		pthread_t th[BENCH_MAX_THREADS];
		pthread_barrier_t go;
		struct sale *s = kind == BENCH_TOKEN_ONLY ? NULL : bench_sale(threads, n, kind);

		pthread_barrier_init(&go, NULL, threads);
		ns[rep] = 0;
		for (unsigned i = 0; i < threads; i++) {
			r[i] = (struct bench_run){ .s = s, .tok = tok + (size_t)i * (size_t)n,
				.n = n, .core = i, .kind = kind, .go = &go };
			pthread_create(&th[i], NULL, bench_thread, &r[i]);
		}
		for (unsigned i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			ns[rep] += r[i].ns_per_op / threads;
			bad += r[i].bad;
		}
		pthread_barrier_destroy(&go);
		sale_destroy(s);
	}
	qsort(ns, BENCH_REPS, sizeof(ns[0]), cmp_double);
	printf("%-28s %7u %10.1f %10.1f%s\n", name, threads, ns[0], ns[BENCH_REPS / 2],
	       bad ? "   UNEXPECTED ANSWERS" : "");
}

int main(int argc, char **argv)
{
	uint64_t v = BENCH_DEFAULT_BUYERS;
	size_t total;
	struct bench_tok *tok;
	long n;

	if (argc > 1 && !str2u64(argv[1], 1, 1 << 22, &v)) {
		fprintf(stderr, "usage: bench_sale [buyers per thread, 1..4194304]\n");
		return 2;
	}
	n = (long)v;
	total = (size_t)n * BENCH_MAX_THREADS;
	tok = malloc(total * sizeof(*tok));
	if (tok == NULL) {
		fprintf(stderr, "bench_sale: no memory for %zu tokens\n", total);
		return 1;
	}
	for (size_t i = 0; i < total; i++)
		tok[i].len = (uint32_t)token_mint(&bench_key, i + 1, BENCH_NOW_MS / 1000 +
						  BENCH_TTL_S, tok[i].s, sizeof(tok[i].s));
	printf("bench_sale: %ld buyers per thread, %d repetitions, ns per call per thread\n",
	       n, BENCH_REPS);
	printf("%-28s %7s %10s %10s\n", "case", "threads", "min", "median");
	for (unsigned t = 1; t <= BENCH_MAX_THREADS; t++) {
		bench_row("token_verify alone", t, BENCH_TOKEN_ONLY, n, tok);
		bench_row("sale_buy in stock (200)", t, BENCH_IN_STOCK, n, tok);
		bench_row("sale_buy sold out (410)", t, BENCH_SOLD_OUT, n, tok);
	}
	free(tok);
	return 0;
}
