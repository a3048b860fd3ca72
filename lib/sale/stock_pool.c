/*
 * stock_pool.c - the slow paths of a campaign's sharded stock: refilling a
 * core's share from the pool, stealing back from other shares, deciding that
 * everything is sold, and taking returned units back.
 *
 * The fast path (selling from the core's own share, answering SOLD_OUT from
 * the core's own flag) is inline in stock_pool.h.
 *
 * Why SOLD_OUT is never said while stock remains. A unit is always in one
 * place: the pool, a share, in flight from the pool to a share (flagged by
 * STOCK_REFILLING on that share), or with a buyer. A scan reads, in this
 * order and all seq_cst so they sit in one total order S with the writers:
 *
 *   ends = ret_end; pool (reads 0); each other share (count 0, no flag);
 *   begins = ret_begin, and requires begins == ends.
 *
 * A refill sets its flag before its pool CAS, so a scan that read the pool
 * after that CAS sees the flag or the units stored after it. A return bumps
 * ret_begin before adding to the pool and ret_end after, so begins == ends
 * means no return added units between the two reads. Then nothing entered the
 * pool or any share during the scan, and at its last share read there was no
 * unit left: that instant is when SOLD_OUT became true.
 *
 * How a sold-out core learns that stock came back. Either a return writes a
 * flag in every share (O(cores) remote writes per return, and shares stop
 * being written by their owner alone), or sold-out cores read one counter
 * that only returns write. We take the second: while nothing is returned
 * that line stays shared in every core's cache, so the 410 path is two L1
 * hits (bench_stock: ~1.6 ns, the same on 1 core and on 2); a return costs
 * each sold-out core one cache miss and one scan on its next take.
 *
 * Everything here runs only when a core's share is empty, so seq_cst
 * costs nothing that matters (on x86 a seq_cst load is a plain load, RMWs are
 * locked either way); it buys one total order to reason in.
 */
#include <errno.h>
#include <stdbool.h>

#include "stock_pool.h"

const char *const stock_stats_names[] = { STOCK_STATS(STATS_NAME) };
_Static_assert(sizeof(stock_stats_names) / sizeof(stock_stats_names[0]) == STOCK_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct stock_stats) == STOCK_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

static inline void
stock_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

int
stock_pool_init(struct stock_pool *pool, uint64_t total, unsigned n_cores,
		uint64_t max_chunk)
{
	if (n_cores == 0 || n_cores > STOCK_MAX_CORES || total > STOCK_COUNT_MASK)
		return -EINVAL;
	pool->initial = total;
	pool->max_chunk = max_chunk ? max_chunk : 1;
	pool->n_cores = n_cores;
	atomic_init(&pool->remaining, total);
	atomic_init(&pool->ret_begin, 0);
	atomic_init(&pool->ret_end, 0);
	atomic_init(&pool->returned, 0);
	atomic_init(&pool->granted, 0);
	atomic_init(&pool->reclaimed, 0);
	atomic_init(&pool->upstream, 0);
	for (unsigned i = 0; i < STOCK_MAX_CORES; i++) {
		struct stock_share *s = &pool->share[i];

		atomic_init(&s->units, 0);
		atomic_init(&s->sold, 0);
		s->seen_ret = 0;
		s->sold_out = 0;
		s->stats = (struct stock_stats){ 0 };
	}
	return 0;
}

/*
 * Move a chunk from the pool into `share` and keep one unit for the buyer.
 * Returns false, with the pool read as 0, if the pool is empty. The share's
 * count is 0 on entry (only its owner adds to it, and the owner found it 0).
 */
static bool
stock_refill(struct stock_pool *pool, struct stock_share *share)
{
	uint64_t left = atomic_load(&pool->remaining);
	uint64_t chunk;

	if (left == 0)
		return false;
	/* Flag first: a scan that sees the pool after our CAS must see that
	 * units are on their way here (seq_cst orders this store before the
	 * CAS in S). No stealer touches a count of 0, so a store is safe. */
	atomic_store(&share->units, STOCK_REFILLING);
	while (left > 0) {
		chunk = stock_chunk_size(left, pool->n_cores, pool->max_chunk);
		/* Never below 0: we only subtract what we just read is there. */
		if (atomic_compare_exchange_weak(&pool->remaining, &left,
						 left - chunk)) {
			/* Publishes the count and clears the flag in one store. */
			atomic_store(&share->units, chunk - 1);
			share->stats.refills++;
			return true;
		}
	}
	atomic_store(&share->units, 0);
	return false;
}

/*
 * Take one unit from another core's share. Sets *busy if some share was
 * mid-refill (its units are not visible yet, so we may not say SOLD_OUT).
 */
static bool
stock_steal(struct stock_pool *pool, struct stock_share *self, bool *busy)
{
	unsigned n = pool->n_cores;
	unsigned me = (unsigned)(self - pool->share);

	*busy = false;
	/* Start after ourselves so stealers spread over the victims. */
	for (unsigned i = 1; i < n; i++) {
		struct stock_share *victim = &pool->share[(me + i) % n];
		uint64_t w = atomic_load(&victim->units);

		while (w & STOCK_COUNT_MASK) {
			if (atomic_compare_exchange_weak(&victim->units, &w, w - 1)) {
				self->stats.steals++;
				return true;
			}
		}
		if (w & STOCK_REFILLING)
			*busy = true;
	}
	return false;
}

int
stock_take_slow(struct stock_pool *pool, struct stock_share *share)
{
	for (int round = 0; round < STOCK_SCAN_TRIES; round++) {
		/* Read before the pool: see the proof at the top of the file. */
		uint64_t ends = atomic_load(&pool->ret_end);
		bool busy;

		if (stock_refill(pool, share) || stock_steal(pool, share, &busy)) {
			stock_count_sale(share);
			return STOCK_OK;
		}
		share->stats.scans++;
		if (!busy && atomic_load(&pool->ret_begin) == ends) {
			/*
			 * Nothing in motion. Upstream may still send units:
			 * empty here is not sold out, and only the control
			 * plane can end that wait (RETRY). Units in motion on
			 * this host (a peer's refill, a grant or a return under
			 * way) are looked for again below in either case: they
			 * land a few instructions later, so the rounds look
			 * again rather than answer 503 while the host has them.
			 */
			if (atomic_load(&pool->upstream))
				break;
			share->seen_ret = ends;
			share->sold_out = 1;
			share->stats.sold_out++;
			return STOCK_SOLD_OUT;
		}
		stock_cpu_relax();
	}
	share->stats.retries++;
	return STOCK_RETRY;
}

/* Adds n units to the pool, counted in `counter` (returned or granted). */
static void
stock_add(struct stock_pool *pool, uint64_t n, _Atomic uint64_t *counter)
{
	if (n == 0)
		return;
	/* Begin before the units land, end after: a scan that overlaps the
	 * add sees begin != end and looks again. seq_cst for the proof. */
	atomic_fetch_add(&pool->ret_begin, 1);
	atomic_fetch_add(&pool->remaining, n);
	/* Relaxed: a statistic for stock_sold(), ordered by nothing. */
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
	atomic_fetch_add(&pool->ret_end, 1);
}

void
stock_return(struct stock_pool *pool, uint64_t n)
{
	stock_add(pool, n, &pool->returned);
}

void
stock_grant(struct stock_pool *pool, uint64_t n)
{
	stock_add(pool, n, &pool->granted);
}

void
stock_set_upstream(struct stock_pool *pool, bool more)
{
	/*
	 * seq_cst, like the scan's load of it. Clearing it is the control
	 * plane's word that upstream is empty: a scan ordered after the store
	 * may say SOLD_OUT; one before it answered RETRY, which is always safe.
	 * Setting it again comes before the grant that follows (stock_add's
	 * seq_cst RMWs), so no core says SOLD_OUT between them.
	 */
	atomic_store(&pool->upstream, more ? 1u : 0u);
}

bool
stock_upstream(const struct stock_pool *pool)
{
	return atomic_load_explicit(&((struct stock_pool *)pool)->upstream,
				    memory_order_relaxed) != 0;
}

uint64_t
stock_granted(const struct stock_pool *pool)
{
	return atomic_load_explicit(&((struct stock_pool *)pool)->granted,
				    memory_order_relaxed);
}

uint64_t
stock_reclaim(struct stock_pool *pool)
{
	uint64_t taken = atomic_exchange(&pool->remaining, 0);

	for (unsigned i = 0; i < pool->n_cores; i++) {
		struct stock_share *sh = &pool->share[i];
		uint64_t w = atomic_load(&sh->units);

		/* A count without the refill flag: the owner only decrements it
		 * (or a stealer does), so a CAS to 0 takes exactly what is there. */
		while ((w & STOCK_COUNT_MASK) && !(w & STOCK_REFILLING)) {
			if (atomic_compare_exchange_weak(&sh->units, &w, 0)) {
				taken += w;
				break;
			}
		}
	}
	atomic_fetch_add_explicit(&pool->reclaimed, taken, memory_order_relaxed);
	return taken;
}

uint64_t
stock_left(const struct stock_pool *pool)
{
	/* Relaxed: a snapshot for operators and tests, exact when quiet. */
	uint64_t left = atomic_load_explicit(&pool->remaining, memory_order_relaxed);

	for (unsigned i = 0; i < pool->n_cores; i++)
		left += atomic_load_explicit(&pool->share[i].units,
					     memory_order_relaxed) & STOCK_COUNT_MASK;
	return left;
}

uint64_t
stock_sold(const struct stock_pool *pool)
{
	/* Relaxed snapshot, exact when quiet. `returned` is read first: a unit
	 * is sold before it is returned, so reading it first can only make
	 * the difference larger, never wrap below 0 (clamped anyway). */
	uint64_t returned = atomic_load_explicit(&pool->returned, memory_order_relaxed);
	uint64_t sold = 0;

	for (unsigned i = 0; i < pool->n_cores; i++)
		sold += atomic_load_explicit(&pool->share[i].sold, memory_order_relaxed);
	return sold >= returned ? sold - returned : 0;
}
