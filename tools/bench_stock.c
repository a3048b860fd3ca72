/*
 * bench_stock.c - what stock_take() costs (lib/sale/stock_pool.h), per call,
 * on 1 core and on 2 threads pinned to 2 CPUs, in stock and sold out.
 *
 * In stock, a take sells from the core's own share and touches the shared
 * pool once per chunk; the max_chunk=1 rows take every unit from the pool, to
 * show what the shares save (on 2 threads that is a contended CAS per sale).
 * Sold out, a take must read only the core's own share and the read-mostly
 * return counter: the bench checks that no sold-out call entered the slow
 * path (scans unchanged) and that the pool's counters were not written, and
 * the 2-thread sold-out time should equal the 1-core one (no coherence
 * traffic between the threads).
 *
 *   bench_stock [iterations per repetition]     default 2000000, 7 repetitions
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "now.h"
#include "stock_pool.h"
#include "str2int.h"

#define BENCH_DEFAULT_ITERS 2000000
#define BENCH_REPS 7
#define BENCH_MAX_THREADS 2

static volatile uint64_t sink;     /* keeps results alive past the optimiser */

struct bench_run {
	struct stock_pool *pool;
	unsigned core;
	long iters;
	pthread_barrier_t *go;
	double ns_per_op;
	int bad;                   /* answers that were not the expected one */
	int expect;
};

static void
pin(unsigned core)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(core % (ncpu > 0 ? (unsigned)ncpu : 1), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *
bench_thread(void *arg)
{
	struct bench_run *r = arg;
	uint64_t acc = 0;
	int bad = 0;  /* local: r[0] and r[1] share a line, keep the loop off it */
	uint64_t t0;

	pin(r->core);
	pthread_barrier_wait(r->go);
	t0 = now_mono_ns();
	for (long i = 0; i < r->iters; i++) {
		int rc = stock_take(r->pool, r->core);

		acc += (uint64_t)rc;
		bad += rc != r->expect;
	}
	r->ns_per_op = (double)(now_mono_ns() - t0) / (double)r->iters;
	r->bad = bad;
	sink += acc;
	return NULL;
}

/* One repetition on `n` threads; returns the mean ns per take. */
static double
bench_rep(struct stock_pool *pool, unsigned n, long iters, int expect, int *bad)
{
	pthread_t tid[BENCH_MAX_THREADS];
	struct bench_run r[BENCH_MAX_THREADS];
	pthread_barrier_t go;
	double sum = 0;

	pthread_barrier_init(&go, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		r[i] = (struct bench_run){ .pool = pool, .core = i, .iters = iters,
					   .go = &go, .expect = expect };
		pthread_create(&tid[i], NULL, bench_thread, &r[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		sum += r[i].ns_per_op;
		*bad += r[i].bad;
	}
	pthread_barrier_destroy(&go);
	return sum / n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint64_t
total_scans(const struct stock_pool *pool)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < pool->n_cores; i++)
		s += stock_stats(pool, i)->scans;
	return s;
}

/* Time `what` over BENCH_REPS repetitions; sold_out pools are emptied first. */
static void
bench_case(const char *what, unsigned n, uint64_t max_chunk, int sold_out, long iters)
{
	struct stock_pool *pool = aligned_alloc(STOCK_CACHE_LINE, sizeof(*pool));
	uint64_t stock = sold_out ? 0 : (uint64_t)iters * BENCH_REPS * n + 1;
	double ns[BENCH_REPS];
	uint64_t scans, remaining, ret_begin;
	int bad = 0;

	if (!pool || stock_pool_init(pool, stock, n, max_chunk) != 0) {
		fprintf(stderr, "bench_stock: cannot set up a pool of %lu units\n",
			(unsigned long)stock);
		exit(1);
	}
	for (unsigned i = 0; sold_out && i < n; i++)  /* raise each core's flag */
		stock_take(pool, i);
	scans = total_scans(pool);
	remaining = atomic_load(&pool->remaining);
	ret_begin = atomic_load(&pool->ret_begin);
	for (int rep = 0; rep < BENCH_REPS; rep++)
		ns[rep] = bench_rep(pool, n, iters, sold_out ? STOCK_SOLD_OUT : STOCK_OK, &bad);
	qsort(ns, BENCH_REPS, sizeof(ns[0]), cmp_double);
	printf("%-40s min %6.2f  median %6.2f ns/take", what, ns[0], ns[BENCH_REPS / 2]);
	if (sold_out)
		printf("   slow-path scans %lu, pool writes %s",
		       (unsigned long)(total_scans(pool) - scans),
		       atomic_load(&pool->remaining) == remaining &&
		       atomic_load(&pool->ret_begin) == ret_begin ? "none" : "SOME");
	printf("%s\n", bad ? "   UNEXPECTED ANSWERS" : "");
	free(pool);
}

int
main(int argc, char **argv)
{
	uint64_t v = BENCH_DEFAULT_ITERS;
	long iters;

	if (argc > 1 && !str2u64(argv[1], 1, LONG_MAX, &v)) {
		fprintf(stderr, "usage: bench_stock [iterations per repetition, at least 1]\n");
		return 2;
	}
	iters = (long)v;
	printf("stock_take, %d repetitions of %ld calls per thread\n", BENCH_REPS, iters);
	bench_case("1 core, in stock (max_chunk 64)", 1, 64, 0, iters);
	bench_case("1 core, in stock (max_chunk 1)", 1, 1, 0, iters);
	bench_case("1 core, sold out", 1, 64, 1, iters);
	bench_case("2 threads, in stock (max_chunk 64)", 2, 64, 0, iters);
	bench_case("2 threads, in stock (max_chunk 1)", 2, 1, 0, iters);
	bench_case("2 threads, sold out", 2, 64, 1, iters);
	return 0;
}
