/*
 * Unit tests for lib/sale/stock_chunk.h and stock_pool.{h,c}: the chunk rule,
 * single-threaded walks through the protocol with exact counts, and the
 * classic stock bugs (last unit sold twice, a counter driven negative,
 * returned stock lost, a sold-out core that never serves again).
 * The multi-threaded stress tests are in test_stock_stress.c, the exhaustive
 * interleaving check in test_stock_model.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "stock_pool.h"

static struct stock_pool *
pool_new(uint64_t total, unsigned n_cores, uint64_t max_chunk)
{
	struct stock_pool *p = aligned_alloc(STOCK_CACHE_LINE, sizeof(*p));

	cr_assert_not_null(p);
	cr_assert_eq(stock_pool_init(p, total, n_cores, max_chunk), 0);
	return p;
}

static uint64_t
share_count(const struct stock_pool *p, unsigned core)
{
	return atomic_load(&p->share[core].units) & STOCK_COUNT_MASK;
}

/* ---- the chunk rule ---- */

Test(stock_chunk, exact_values)
{
	cr_assert_eq(stock_chunk_size(0, 2, 64), 0);
	cr_assert_eq(stock_chunk_size(1, 2, 64), 1);
	cr_assert_eq(stock_chunk_size(7, 2, 64), 1);   /* 7/4 = 1 */
	cr_assert_eq(stock_chunk_size(8, 2, 64), 2);
	cr_assert_eq(stock_chunk_size(100, 2, 64), 25);
	cr_assert_eq(stock_chunk_size(1000, 4, 64), 64); /* capped */
	cr_assert_eq(stock_chunk_size(1000, 4, 500), 125);
	cr_assert_eq(stock_chunk_size(1000000, 8, 64), 64);
}

Test(stock_chunk, zero_takers_and_zero_cap_mean_one)
{
	cr_assert_eq(stock_chunk_size(10, 0, 64), 5);
	cr_assert_eq(stock_chunk_size(10, 1, 0), 1);
}

Test(stock_chunk, never_empties_pool_except_last_unit)
{
	for (uint64_t r = 1; r <= 5000; r++)
		for (unsigned n = 1; n <= 8; n++) {
			uint64_t c = stock_chunk_size(r, n, 1000);

			cr_assert(c >= 1 && c <= r, "r=%lu n=%u c=%lu", r, n, c);
			cr_assert(r == 1 || c < r, "r=%lu n=%u takes all", r, n);
		}
}

Test(stock_chunk, shrinks_as_pool_drains)
{
	uint64_t prev = UINT64_MAX;

	for (uint64_t r = 100000; r > 0; r--) {
		uint64_t c = stock_chunk_size(r, 4, 256);

		cr_assert_leq(c, prev);
		prev = c;
	}
	cr_assert_eq(prev, 1);
}

/* ---- init ---- */

Test(stock_pool, init_rejects_bad_core_counts_and_huge_stock)
{
	struct stock_pool *p = aligned_alloc(STOCK_CACHE_LINE, sizeof(*p));

	cr_assert_eq(stock_pool_init(p, 10, 0, 4), -EINVAL);
	cr_assert_eq(stock_pool_init(p, 10, STOCK_MAX_CORES + 1, 4), -EINVAL);
	cr_assert_eq(stock_pool_init(p, STOCK_COUNT_MASK + 1, 2, 4), -EINVAL);
	cr_assert_eq(stock_pool_init(p, STOCK_COUNT_MASK, STOCK_MAX_CORES, 4), 0);
	free(p);
}

Test(stock_pool, shared_lines_are_separate)
{
	/* The pool counter, the return counters and each share must not
	 * share a cache line, or selling on one core slows the others. */
	cr_assert_eq(offsetof(struct stock_pool, remaining) % STOCK_CACHE_LINE, 0);
	cr_assert_eq(offsetof(struct stock_pool, ret_begin) % STOCK_CACHE_LINE, 0);
	cr_assert_eq(offsetof(struct stock_pool, initial) % STOCK_CACHE_LINE, 0);
	cr_assert_eq(offsetof(struct stock_pool, share) % STOCK_CACHE_LINE, 0);
	cr_assert_eq(sizeof(struct stock_share) % STOCK_CACHE_LINE, 0);
}

Test(stock_pool, zero_stock_is_sold_out_at_once)
{
	struct stock_pool *p = pool_new(0, 2, 4);

	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	cr_assert_eq(stock_left(p), 0);
	cr_assert_eq(stock_sold(p), 0);
	free(p);
}

/* ---- single-threaded walks with exact counts ---- */

Test(stock_pool, first_take_moves_one_chunk_into_the_share)
{
	struct stock_pool *p = pool_new(100, 2, 64);

	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	/* chunk = 100 / (2 * 2) = 25: one sold, 24 kept, 75 in the pool */
	cr_assert_eq(share_count(p, 0), 24);
	cr_assert_eq(atomic_load(&p->remaining), 75);
	cr_assert_eq(stock_stats(p, 0)->refills, 1);
	cr_assert_eq(stock_left(p), 99);
	cr_assert_eq(stock_sold(p), 1);
	free(p);
}

Test(stock_pool, sells_from_the_share_without_touching_the_pool)
{
	struct stock_pool *p = pool_new(100, 2, 64);

	for (int i = 0; i < 25; i++)
		cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_stats(p, 0)->refills, 1);
	cr_assert_eq(atomic_load(&p->remaining), 75);
	cr_assert_eq(share_count(p, 0), 0);
	free(p);
}

Test(stock_pool, one_core_sells_everything_exactly)
{
	struct stock_pool *p = pool_new(1000, 4, 64);
	int ok = 0;

	while (stock_take(p, 2) == STOCK_OK)
		ok++;
	cr_assert_eq(ok, 1000);
	cr_assert_eq(stock_sold(p), 1000);
	cr_assert_eq(stock_left(p), 0);
	cr_assert_eq(stock_stats(p, 2)->steals, 0);
	free(p);
}

Test(stock_pool, units_held_by_an_idle_core_are_stolen_not_stranded)
{
	struct stock_pool *p = pool_new(100, 2, 64);
	int ok = 0;

	/* Core 0 sells one and keeps 24 in its share, then gets no buyers. */
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(share_count(p, 0), 24);
	/* Core 1 must sell the other 99 before it says sold out. */
	while (stock_take(p, 1) == STOCK_OK)
		ok++;
	cr_assert_eq(ok, 99);
	cr_assert_eq(stock_stats(p, 1)->steals, 24);
	cr_assert_eq(share_count(p, 0), 0);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	free(p);
}

Test(stock_pool, refill_in_flight_elsewhere_answers_retry_not_sold_out)
{
	struct stock_pool *p = pool_new(1, 2, 64);

	/* Core 1 has just moved the last unit out of the pool and has not
	 * stored it in its share yet (as if descheduled mid-refill). */
	atomic_store(&p->remaining, 0);
	atomic_store(&p->share[1].units, STOCK_REFILLING);
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY);
	cr_assert_eq(stock_stats(p, 0)->retries, 1);
	cr_assert_eq(stock_stats(p, 0)->scans, STOCK_SCAN_TRIES);
	/* Core 1 finishes: the unit is visible and core 0 can take it. */
	atomic_store(&p->share[1].units, 1);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	free(p);
}

Test(stock_pool, return_in_progress_answers_retry_not_sold_out)
{
	struct stock_pool *p = pool_new(1, 2, 64);

	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	/* A return has announced itself but its unit is not in the pool. */
	atomic_fetch_add(&p->ret_begin, 1);
	cr_assert_eq(stock_take(p, 1), STOCK_RETRY);
	/* It lands: the unit is sold again. */
	atomic_fetch_add(&p->remaining, 1);
	atomic_fetch_add(&p->ret_end, 1);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	free(p);
}

/* ---- the classic bugs ---- */

Test(stock_bugs, last_unit_sold_exactly_once)
{
	struct stock_pool *p = pool_new(1, 3, 64);

	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 2), STOCK_SOLD_OUT);
	cr_assert_eq(stock_sold(p), 1);
	free(p);
}

struct race {
	struct stock_pool *pool;
	pthread_barrier_t *go;
	unsigned core;
	int asks;
	int ok;
};

static void *
race_main(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->go);
	for (int i = 0; i < r->asks; i++) {
		int rc = stock_take(r->pool, r->core);

		if (rc == STOCK_OK)
			r->ok++;
	}
	return NULL;
}

/* Run `n` threads, each asking `asks` times on its own core; total OKs. */
static int
race(struct stock_pool *p, unsigned n, int asks)
{
	pthread_t tid[8];
	struct race r[8];
	pthread_barrier_t go;
	int ok = 0;

	pthread_barrier_init(&go, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		r[i] = (struct race){ .pool = p, .go = &go, .core = i, .asks = asks };
		pthread_create(&tid[i], NULL, race_main, &r[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		ok += r[i].ok;
	}
	pthread_barrier_destroy(&go);
	return ok;
}

Test(stock_bugs, last_unit_sold_once_under_a_race)
{
	struct stock_pool *p = aligned_alloc(STOCK_CACHE_LINE, sizeof(*p));

	for (int round = 0; round < 300; round++) {
		stock_pool_init(p, 1, 4, 64);
		cr_assert_eq(race(p, 4, 3), 1, "round %d", round);
		cr_assert_eq(stock_left(p), 0);
	}
	free(p);
}

Test(stock_bugs, counters_never_negative_under_concurrent_over_asking)
{
	struct stock_pool *p = pool_new(7, 4, 2);

	/* 4 threads ask 20000 times each for 7 units. */
	cr_assert_eq(race(p, 4, 20000), 7);
	cr_assert_eq(atomic_load(&p->remaining), 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(atomic_load(&p->share[i].units), 0, "share %u", i);
	cr_assert_eq(stock_left(p), 0);
	cr_assert_eq(stock_sold(p), 7);
	/* A wrapped counter would sell forever; a negative one never again. */
	stock_return(p, 3);
	cr_assert_eq(race(p, 4, 20000), 3);
	cr_assert_eq(stock_left(p), 0);
	free(p);
}

Test(stock_bugs, returned_stock_is_sold_again)
{
	struct stock_pool *p = pool_new(10, 2, 64);

	for (int i = 0; i < 10; i++)
		cr_assert_eq(stock_take(p, i % 2), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	stock_return(p, 2);
	cr_assert_eq(stock_left(p), 2);
	cr_assert_eq(stock_sold(p), 8);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_sold(p), 10);
	free(p);
}

static void *
return_one(void *arg)
{
	stock_return(arg, 1);
	return NULL;
}

Test(stock_bugs, sold_out_core_serves_again_after_a_return)
{
	struct stock_pool *p = pool_new(2, 2, 64);
	pthread_t t;

	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	/* Both cores have their sold-out flag up; the return comes from
	 * another thread (the control plane rejecting an order). */
	pthread_create(&t, NULL, return_one, p);
	pthread_join(t, NULL);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	free(p);
}

Test(stock_bugs, sold_out_answer_reads_only_local_state)
{
	struct stock_pool *p = pool_new(3, 2, 64);
	uint64_t scans;

	while (stock_take(p, 0) == STOCK_OK)
		;
	scans = stock_stats(p, 0)->scans;
	cr_assert_eq(scans, 1);
	/* The next million answers come from the flag: no scan, no refill,
	 * no steal, and the pool's counters are untouched. */
	for (int i = 0; i < 1000000; i++)
		cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_stats(p, 0)->scans, scans);
	cr_assert_eq(stock_stats(p, 0)->sold_out, 1000001);
	cr_assert_eq(atomic_load(&p->remaining), 0);
	cr_assert_eq(atomic_load(&p->ret_begin), 0);
	free(p);
}

/* ---- upstream-fed pools (a campaign shared by hosts through Redis) ---- */

Test(stock_upstream, empty_upstream_pool_answers_retry_never_sold_out)
{
	struct stock_pool *p = pool_new(0, 2, 64);

	stock_set_upstream(p, true);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(stock_take(p, i % 2), STOCK_RETRY, "units may still come");
	cr_assert_eq(p->share[0].sold_out, 0, "no core believes it is sold out");
	free(p);
}

Test(stock_upstream, granted_units_sell_exactly_then_sold_out_once_upstream_is_empty)
{
	struct stock_pool *p = pool_new(0, 2, 64);
	unsigned ok = 0;

	stock_set_upstream(p, true);
	stock_grant(p, 5);
	for (int i = 0; i < 20; i++)
		ok += stock_take(p, i % 2) == STOCK_OK;
	cr_assert_eq(ok, 5, "exactly the granted units");
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY, "empty, upstream still open");
	stock_grant(p, 2);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	stock_set_upstream(p, false);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT, "upstream empty: sold out");
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	cr_assert_eq(stock_granted(p), 7);
	cr_assert_eq(stock_sold(p) + stock_left(p), stock_granted(p), "sold + left = granted");
	free(p);
}

Test(stock_upstream, grant_after_sold_out_wakes_every_core)
{
	struct stock_pool *p = pool_new(0, 2, 64);

	stock_set_upstream(p, false);
	cr_assert_eq(stock_take(p, 0), STOCK_SOLD_OUT);
	cr_assert_eq(stock_take(p, 1), STOCK_SOLD_OUT);
	/* Another host gave units back upstream and this host took them. */
	stock_set_upstream(p, true);
	stock_grant(p, 2);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_take(p, 1), STOCK_OK);
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY);
	free(p);
}

Test(stock_upstream, a_peer_in_mid_refill_is_looked_at_again_not_answered_retry_at_once)
{
	struct stock_pool *p = pool_new(0, 2, 64);

	stock_set_upstream(p, true);
	/* Core 1 took a chunk off the pool and has not stored it yet: the
	 * host's units are in motion, so core 0 looks every round. */
	atomic_store(&p->share[1].units, STOCK_REFILLING);
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY, "the peer never finishes here");
	cr_assert_eq(stock_stats(p, 0)->scans, STOCK_SCAN_TRIES, "every round looked");
	/* Its chunk landed: the next take steals from it. */
	atomic_store(&p->share[1].units, 3);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);
	cr_assert_eq(stock_stats(p, 0)->steals, 1);
	/* Nothing in motion, upstream open: one look, then 503. */
	atomic_store(&p->share[1].units, 0);
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY);
	cr_assert_eq(stock_stats(p, 0)->scans, STOCK_SCAN_TRIES + 1);
	free(p);
}

/* Two cores buy while a third thread grants 1,000 units in chunks of 1..37,
 * then says upstream is empty: exactly 1,000 sold, no SOLD_OUT before. */
struct grant_race {
	struct stock_pool *p;
	unsigned core;
	_Atomic int *closed;
	uint64_t ok, early_sold_out;
};

static void *grant_buyer(void *arg)
{
	struct grant_race *g = arg;

	for (;;) {
		int r = stock_take(g->p, g->core);
		/* Read after the take: `closed` is set before upstream is
		 * cleared, so a SOLD_OUT that saw the clear sees closed too. */
		int closed = atomic_load(g->closed);

		if (r == STOCK_OK)
			g->ok++;
		else if (r == STOCK_SOLD_OUT && !closed)
			g->early_sold_out++;
		else if (r == STOCK_SOLD_OUT)
			return NULL;
	}
}

Test(stock_upstream, two_cores_and_a_granter_sell_exactly_the_grants, .timeout = 60)
{
	struct stock_pool *p = pool_new(0, 2, 16);
	struct grant_race g[2];
	pthread_t t[2];
	_Atomic int closed = 0;
	uint64_t given = 0, n = 1;

	stock_set_upstream(p, true);
	for (unsigned i = 0; i < 2; i++) {
		g[i] = (struct grant_race){ .p = p, .core = i, .closed = &closed };
		cr_assert_eq(pthread_create(&t[i], NULL, grant_buyer, &g[i]), 0);
	}
	while (given < 1000) {
		n = n * 7 % 37 + 1;
		if (n > 1000 - given)
			n = 1000 - given;
		stock_grant(p, n);
		given += n;
	}
	/* The granter's word: upstream is empty. Buyers may say SOLD_OUT now. */
	atomic_store(&closed, 1);
	stock_set_upstream(p, false);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(g[0].ok + g[1].ok, 1000, "sold %lu", (unsigned long)(g[0].ok + g[1].ok));
	cr_assert_eq(g[0].early_sold_out + g[1].early_sold_out, 0,
		     "SOLD_OUT while upstream was open");
	cr_assert_eq(stock_left(p), 0);
	free(p);
}

Test(stock_upstream, reclaim_takes_back_what_pool_and_shares_hold)
{
	struct stock_pool *p = pool_new(0, 2, 4);
	uint64_t back;

	stock_set_upstream(p, true);
	stock_grant(p, 20);
	cr_assert_eq(stock_take(p, 0), STOCK_OK);     /* core 0 holds a chunk */
	cr_assert_eq(stock_take(p, 1), STOCK_OK);     /* so does core 1 */
	back = stock_reclaim(p);
	cr_assert_eq(back, 18, "everything not sold: %lu", (unsigned long)back);
	cr_assert_eq(stock_left(p), 0);
	cr_assert_eq(stock_take(p, 0), STOCK_RETRY, "nothing left to sell");
	cr_assert_eq(stock_sold(p) + stock_left(p) + 18, stock_granted(p));
	cr_assert_eq(stock_reclaim(p), 0, "a second reclaim finds nothing");
	free(p);
}
