/*
 * Stress tests for the sharded stock (lib/sale/stock_pool.c): 2 to 8 threads,
 * each selling on its own core index, millions of attempts in total against
 * stocks of 1, 7, 1,000 and 1,000,000, with and without returns.
 *
 * What is checked, per round and at the end:
 *  - balance: units sold - units returned == stock_sold(), and
 *    stock_sold() + stock_left() == the stock; whatever is left can then be
 *    sold from any one core and not one unit more (nothing stranded, no unit
 *    sold twice: units are a count, so "sold twice" is "more OKs than units").
 *  - no SOLD_OUT while stock remains, checked at every SOLD_OUT answer:
 *    each thread brackets stock_take() with in_take++ / in_take-- and counts
 *    an OK in `granted` before leaving the bracket; `returned` counts returns
 *    once stock_return() has finished. A correct SOLD_OUT had an instant L in
 *    the call with no unit anywhere, so every unit of the stock and of the
 *    returns completed before the call (rt0, read before it) was granted
 *    before L. Those grants not yet counted in `granted` belong to threads
 *    still inside the bracket, one each. Reading in_take (k) and then
 *    granted (g) after the answer, a correct pool always satisfies
 *        stock + rt0 - g <= k - 1        (k includes the asking thread)
 *    and a pool that says SOLD_OUT with units still in a share, in the pool
 *    or not yet moved from a finished thread's share breaks it.
 *  - if no units are returned and anyone was told SOLD_OUT, every unit was
 *    sold (a unit stranded in an idle share would show here).
 *
 * STOCK_STRESS_DIV=n divides the attempts (e.g. under a slow sanitizer).
 * Built a second time with -DSTOCK_STRESS_PLAIN as test_stock_stress_tsan,
 * without Criterion, which crashes under ThreadSanitizer (Criterion#274).
 */
#ifndef STOCK_STRESS_PLAIN
#include <criterion/criterion.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "stock_pool.h"

#ifdef STOCK_STRESS_PLAIN
/* Just enough of Criterion's API for this file, for -Db_sanitize=thread. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"  /* "" __VA_ARGS__ */
struct plain_test { const char *name; void (*fn)(void); };
static struct plain_test plain_tests[32];
static int plain_n;
#define Test(suite, name) \
	static void name(void); \
	__attribute__((constructor)) static void reg_##name(void) \
	{ plain_tests[plain_n++] = (struct plain_test){ #suite "::" #name, name }; } \
	static void name(void)
#define cr_assert_msg(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	fprintf(stderr, "" __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } } while (0)
#define cr_assert_not_null(p, ...) cr_assert_msg((p) != NULL, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert_msg((a) == (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert_msg((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert_msg((a) >= (b), __VA_ARGS__)
#define cr_log_info(...) (printf(__VA_ARGS__), printf("\n"))
#endif

#define MAX_THREADS 8

struct stress {
	struct stock_pool *pool;
	uint64_t stock;
	unsigned n_threads;
	uint64_t max_chunk;
	long rounds;
	long asks;         /* per thread per round */
	int return_every;  /* return every n-th unit a thread gets; 0: never */
	pthread_barrier_t go, done;

	/* Test bookkeeping, seq_cst: see the top of the file. */
	_Atomic uint64_t in_take, granted, returned;
	_Atomic int saw_sold_out;

	/* Totals and the first failure, read by the test after the join. */
	_Atomic uint64_t ok_total, retry_total, answers_checked;
	_Atomic int failed;
	char why[256];
};

struct worker {
	struct stress *s;
	unsigned core;
};

static void __attribute__((format(printf, 2, 3)))
fail(struct stress *s, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	if (atomic_compare_exchange_strong(&s->failed, &expected, 1)) {
		va_start(ap, fmt);
		vsnprintf(s->why, sizeof(s->why), fmt, ap);
		va_end(ap);
	}
}

/* One ask, with the bookkeeping the SOLD_OUT check needs. Returns the answer. */
static int
ask(struct stress *s, unsigned core)
{
	uint64_t rt0 = atomic_load(&s->returned);
	int rc;

	atomic_fetch_add(&s->in_take, 1);
	rc = stock_take(s->pool, core);
	if (rc == STOCK_OK) {
		atomic_fetch_add(&s->granted, 1);
	} else if (rc == STOCK_SOLD_OUT) {
		uint64_t k = atomic_load(&s->in_take);
		uint64_t g = atomic_load(&s->granted);

		atomic_store(&s->saw_sold_out, 1);
		atomic_fetch_add_explicit(&s->answers_checked, 1, memory_order_relaxed);
		if (s->stock + rt0 > g + (k - 1))
			fail(s, "SOLD_OUT with stock %ld + returned %ld, granted %ld, %ld in take",
			     (long)s->stock, (long)rt0, (long)g, (long)k);
	}
	atomic_fetch_sub(&s->in_take, 1);
	return rc;
}

/* Checks between rounds, run by thread 0 while the others wait. */
static void
check_round(struct stress *s)
{
	struct stock_pool *p = s->pool;
	uint64_t g = atomic_load(&s->granted), rt = atomic_load(&s->returned);
	uint64_t sold = stock_sold(p), left = stock_left(p), drained = 0;

	if (g - rt != sold || sold + left != s->stock)
		fail(s, "balance: granted %ld returned %ld sold %ld left %ld",
		     (long)g, (long)rt, (long)sold, (long)left);
	if (s->return_every == 0 && atomic_load(&s->saw_sold_out) && g != s->stock)
		fail(s, "told sold out but only %ld of %ld sold (stranded)",
		     (long)g, (long)s->stock);
	/* Whatever is left is sold from one core, then nothing more anywhere. */
	while (stock_take(p, s->n_threads - 1) == STOCK_OK)
		drained++;
	if (drained != left)
		fail(s, "left %ld but %ld could be sold", (long)left, (long)drained);
	for (unsigned c = 0; c < s->n_threads; c++)
		if (stock_take(p, c) != STOCK_SOLD_OUT)
			fail(s, "core %u not sold out after the drain", c);
	atomic_fetch_add(&s->ok_total, g);
}

static void
reset_round(struct stress *s)
{
	stock_pool_init(s->pool, s->stock, s->n_threads, s->max_chunk);
	atomic_store(&s->granted, 0);
	atomic_store(&s->returned, 0);
	atomic_store(&s->saw_sold_out, 0);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;

	for (long r = 0; r < s->rounds; r++) {
		long got = 0;

		pthread_barrier_wait(&s->go);
		for (long i = 0; i < s->asks; i++) {
			int rc = ask(s, w->core);

			if (rc == STOCK_RETRY)
				atomic_fetch_add_explicit(&s->retry_total, 1,
							  memory_order_relaxed);
			if (rc == STOCK_OK && s->return_every &&
			    ++got % s->return_every == 0) {
				stock_return(s->pool, 1);
				atomic_fetch_add(&s->returned, 1);
			}
		}
		pthread_barrier_wait(&s->done);
		if (w->core == 0) {
			check_round(s);
			reset_round(s);
		}
	}
	return NULL;
}

static long
stress_div(void)
{
	const char *e = getenv("STOCK_STRESS_DIV");
	long d = e ? atol(e) : 1;

	return d > 0 ? d : 1;
}

/*
 * Run `rounds` rounds of `n` threads asking `asks` times each against
 * `stock` units; the divisor shrinks rounds first, then asks, keeping every
 * round long enough to sell out.
 */
static void
stress(uint64_t stock, unsigned n, uint64_t max_chunk, long rounds, long asks,
       int return_every)
{
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t tid[MAX_THREADS];
	struct worker w[MAX_THREADS];
	long div = stress_div();

	cr_assert_not_null(s);
	s->pool = aligned_alloc(STOCK_CACHE_LINE, sizeof(*s->pool));
	cr_assert_not_null(s->pool);
	s->stock = stock;
	s->n_threads = n;
	s->max_chunk = max_chunk;
	s->rounds = rounds > div ? rounds / div : 1;
	s->asks = asks;
	if (rounds < div && (long)(asks / div) * (long)n > 2 * (long)stock)
		s->asks = asks / div;
	s->return_every = return_every;
	reset_round(s);
	pthread_barrier_init(&s->go, NULL, n);
	pthread_barrier_init(&s->done, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){ .s = s, .core = i };
		pthread_create(&tid[i], NULL, worker_main, &w[i]);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(tid[i], NULL);

	cr_log_info("stock %lu x%u: %ld rounds x %ld asks, %lu sold, %lu SOLD_OUT checked, %lu RETRY",
		    stock, n, s->rounds, s->asks, (unsigned long)atomic_load(&s->ok_total),
		    (unsigned long)atomic_load(&s->answers_checked),
		    (unsigned long)atomic_load(&s->retry_total));
	cr_assert_eq(atomic_load(&s->failed), 0, "%s", s->why);
	/* Every round sold out, and SOLD_OUT answers were really checked. */
	cr_assert_geq(atomic_load(&s->ok_total), stock * (uint64_t)s->rounds);
	cr_assert_gt(atomic_load(&s->answers_checked), 0);
	pthread_barrier_destroy(&s->go);
	pthread_barrier_destroy(&s->done);
	free(s->pool);
	free(s);
}

/* No returns: exactly the stock is sold, nobody hears SOLD_OUT early. */
Test(stock_stress, stock_1_to_8_threads_sells_exactly_one) { stress(1, 8, 64, 4000, 60, 0); }
Test(stock_stress, stock_1_to_2_threads_sells_exactly_one) { stress(1, 2, 64, 10000, 100, 0); }
Test(stock_stress, stock_7_to_4_threads_sells_exactly_seven) { stress(7, 4, 64, 4000, 100, 0); }
Test(stock_stress, stock_7_chunk_1_to_3_threads_sells_exactly_seven) { stress(7, 3, 1, 4000, 100, 0); }
Test(stock_stress, stock_1000_to_2_threads_sells_exactly_1000) { stress(1000, 2, 64, 500, 2000, 0); }
Test(stock_stress, stock_1000_to_8_threads_sells_exactly_1000) { stress(1000, 8, 64, 300, 800, 0); }
Test(stock_stress, stock_1000000_to_2_threads_sells_exactly_1000000) { stress(1000000, 2, 64, 1, 1200000, 0); }
Test(stock_stress, stock_1000000_to_8_threads_sells_exactly_1000000) { stress(1000000, 8, 256, 1, 300000, 0); }

/* Returns interleaved: every 3rd unit a thread gets is given back. */
Test(stock_stress, stock_7_with_returns_balances) { stress(7, 4, 64, 4000, 100, 3); }
Test(stock_stress, stock_1000_with_returns_balances) { stress(1000, 8, 64, 300, 800, 3); }
Test(stock_stress, stock_1000000_with_returns_balances) { stress(1000000, 2, 64, 1, 2000000, 3); }

#ifdef STOCK_STRESS_PLAIN
int
main(void)
{
	for (int i = 0; i < plain_n; i++) {
		plain_tests[i].fn();
		printf("PASS %s\n", plain_tests[i].name);
	}
	printf("%d passed, 0 failed\n", plain_n);
	return 0;
}
#endif
