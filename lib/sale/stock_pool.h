/*
 * stock_pool.h - a campaign's stock: one global pool plus one share per core.
 *
 * The idea. A core sells from its own share with no write to shared memory.
 * When the share is empty the core takes a chunk from the pool with one CAS
 * (stock_chunk_size(): chunks shrink as the pool drains). When the pool is
 * empty too, the core steals single units from other cores' shares, so stock
 * never sits stranded in a core that buyers no longer reach. Only when the
 * pool and every share are seen empty does the core answer SOLD_OUT and raise
 * its own sold-out flag; from then on SOLD_OUT (HTTP 410) costs two loads: the
 * core's own flag and one read-mostly word, written only by stock_return().
 *
 * What the answers guarantee (checked exhaustively for small cases by
 * tests/unit/test_stock_model.c, under sequential consistency):
 *
 *  - STOCK_OK: one unit is now this buyer's. Units handed out never exceed
 *    the initial stock plus what was returned: no unit is sold twice.
 *  - STOCK_SOLD_OUT: at some instant during the call there was no unit
 *    anywhere: not in the pool, in any share, nor moving from the pool to a
 *    share (a returned unit counts from when it reaches the pool). So
 *    while any stock remains, nobody is told sold out. Stock given
 *    back by a stock_return() that happens-before the call is always seen;
 *    the sold-out fast path learns of returns through a relaxed load, so on
 *    real hardware a concurrent return is seen within coherence latency.
 *  - STOCK_RETRY: nothing could be taken in STOCK_SCAN_TRIES looks, and
 *    during the call some unit was in motion on another core (a share
 *    flagged mid-refill, or a stock_return() between its two counter
 *    bumps), so SOLD_OUT could not be proven. Answer 503 with Retry-After, not 410.
 *    Only near the last units, and only when a peer stalls (is descheduled)
 *    inside a window of a few instructions: rare on isolated DPDK lcores.
 *
 * Threads: stock_take() for core c must only be called by one thread at a
 * time (the lcore that owns share c). stock_return(), stock_left() and
 * stock_sold() may be called from any thread.
 */
#ifndef SECKILL_STOCK_POOL_H
#define SECKILL_STOCK_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "stats.h"
#include "stock_chunk.h"

/* Shares per pool: worker indexes 0..n_cores-1, not DPDK lcore ids. */
#define STOCK_MAX_CORES 64
#define STOCK_CACHE_LINE 64

/* Slow-path rounds before answering STOCK_RETRY rather than spinning on a
 * peer that stalled mid-refill: each round is a few dozen ns on a live peer. */
#define STOCK_SCAN_TRIES 8

enum stock_result {
	STOCK_OK = 0,       /* one unit is the buyer's */
	STOCK_SOLD_OUT = 1, /* nothing left: answer 410 */
	STOCK_RETRY = 2,    /* last units in motion: answer 503, try again */
};

/*
 * A share's units word: a count, plus a flag that says "this core is moving a
 * chunk from the pool into me" so a core scanning for stock knows the units
 * that have left the pool are not gone. The flag is set only while the count
 * is 0, so a stealer (who only takes from count > 0) never races with it.
 */
#define STOCK_REFILLING (UINT64_C(1) << 63)
#define STOCK_COUNT_MASK (STOCK_REFILLING - 1)

/* Per-core counters, written by the owning core only. */
#define STOCK_STATS(X) \
	X(take_ok)     /* units sold by this core */ \
	X(refills)     /* chunks taken from the pool */ \
	X(steals)      /* units taken from another core's share */ \
	X(scans)       /* slow-path rounds that found the pool empty */ \
	X(sold_out)    /* SOLD_OUT answers (fast or slow path) */ \
	X(retries)     /* RETRY answers */

struct stock_stats {
	STOCK_STATS(STATS_FIELD)
};
#define STOCK_STATS_N (0 STOCK_STATS(STATS_COUNT))
/* Names for struct stock_stats read as an array of uint64_t. */
extern const char *const stock_stats_names[STOCK_STATS_N];

/* One core's share. Its own line: the owner writes it on every sale. */
struct stock_share {
	_Atomic uint64_t units;  /* count | STOCK_REFILLING; others only steal */
	_Atomic uint64_t sold;   /* units sold here; owner stores, any reads */
	uint64_t seen_ret;       /* pool->ret_begin when last found sold out */
	uint8_t sold_out;        /* owner-only: answer SOLD_OUT without a scan */
	struct stock_stats stats;
} __attribute__((aligned(STOCK_CACHE_LINE)));

struct stock_pool {
	/* Written on every refill and every return. */
	_Atomic uint64_t remaining __attribute__((aligned(STOCK_CACHE_LINE)));

	/* Written only by stock_return(): sold-out cores read ret_begin, so
	 * this line stays in every core's cache while nothing is returned. */
	_Atomic uint64_t ret_begin __attribute__((aligned(STOCK_CACHE_LINE)));
	_Atomic uint64_t ret_end;
	_Atomic uint64_t returned; /* units given back, for stock_sold() */
	_Atomic uint64_t granted;  /* units added by stock_grant() */
	_Atomic uint64_t reclaimed;/* units taken back by stock_reclaim() */
	/* stock_set_upstream(): more stock may come from upstream (Redis, for
	 * a campaign shared by hosts), so an empty pool is RETRY, not SOLD_OUT.
	 * Written only by the control plane; read only on the slow path. */
	_Atomic uint32_t upstream;

	/* Read-only after stock_pool_init(). */
	uint64_t initial __attribute__((aligned(STOCK_CACHE_LINE)));
	uint64_t max_chunk;
	unsigned n_cores;

	struct stock_share share[STOCK_MAX_CORES];
};

/*
 * Set up a pool of `total` units for `n_cores` sellers, chunks of at most
 * `max_chunk` (0 means 1). The pool must be 64-byte aligned (static, or
 * aligned_alloc(STOCK_CACHE_LINE, sizeof(struct stock_pool))).
 * total may be 0 for a pool fed by stock_grant().
 * Returns 0, or -EINVAL if n_cores is 0 or above STOCK_MAX_CORES, or total
 * does not fit in STOCK_COUNT_MASK.
 */
int stock_pool_init(struct stock_pool *pool, uint64_t total, unsigned n_cores,
		    uint64_t max_chunk);

/* The slow path of stock_take(): the core's share is empty. */
int stock_take_slow(struct stock_pool *pool, struct stock_share *share);

/*
 * Give `n` units back (a rejected order). They go to the pool, and every
 * sold-out core will scan again on its next take. The caller must only
 * return units it was sold; the pool does not check.
 */
void stock_return(struct stock_pool *pool, uint64_t n);

/*
 * Campaigns whose stock lives upstream (several hosts sell one campaign,
 * each taking chunks from Redis as a core takes chunks from its pool): the
 * pool starts empty (stock_pool_init with total 0) and the control plane
 * grants what it took upstream. While stock_set_upstream(pool, true), a core
 * that finds nothing answers STOCK_RETRY (503, Retry-After), never
 * SOLD_OUT: units may be on their way. The control plane clears it once
 * upstream said it is empty, and from then on the pool sells out as any
 * other. Any thread; grant wakes sold-out cores as a return does.
 */
void stock_grant(struct stock_pool *pool, uint64_t n);
void stock_set_upstream(struct stock_pool *pool, bool more);
bool stock_upstream(const struct stock_pool *pool);
/* Units granted so far: with the initial stock, what this pool ever had. */
uint64_t stock_granted(const struct stock_pool *pool);

/*
 * Takes every unit the pool and the shares hold back out of the sale, for
 * a campaign that no longer sells (closed: its units go back upstream).
 * Any thread: it takes from the shares as a stealer does, with a CAS, so a
 * core that still sells a moment longer loses no unit and gains none; a
 * share in mid-refill is left alone (call again later). Returns the units
 * taken; when quiet, left + sold == initial + granted - reclaimed.
 */
uint64_t stock_reclaim(struct stock_pool *pool);

/* Units not yet sold: pool plus shares. Exact when no call is in flight,
 * otherwise a snapshot that may be off by the units in motion. */
uint64_t stock_left(const struct stock_pool *pool);

/* Units sold minus units returned. Same exactness as stock_left(); when
 * quiet, stock_left() + stock_sold() == initial + granted - reclaimed. */
uint64_t stock_sold(const struct stock_pool *pool);

/* The calling core's counters. */
static inline const struct stock_stats *
stock_stats(const struct stock_pool *pool, unsigned core)
{
	return &pool->share[core].stats;
}

/* Count a sale. The owner is the only writer of `sold`, so a load and a
 * store are enough; relaxed, as readers only want an approximate total. */
static inline void
stock_count_sale(struct stock_share *share)
{
	uint64_t n = atomic_load_explicit(&share->sold, memory_order_relaxed);

	atomic_store_explicit(&share->sold, n + 1, memory_order_relaxed);
	share->stats.take_ok++;
}

/*
 * Take one unit for a buyer on `core`. Returns STOCK_OK, STOCK_SOLD_OUT or
 * STOCK_RETRY (see the top of this file).
 */
static inline int
stock_take(struct stock_pool *pool, unsigned core)
{
	struct stock_share *share = &pool->share[core];
	uint64_t w;

	if (share->sold_out) {
		/*
		 * Relaxed: ret_begin only tells us whether to look again. It
		 * is bumped before a return's units reach the pool, so if we
		 * read the old value no unit has been added since our last
		 * scan saw everything empty (by coherence, a return that
		 * happens-before this call is never missed). No fence, no
		 * shared write: this is the 410 path.
		 */
		if (atomic_load_explicit(&pool->ret_begin, memory_order_relaxed) ==
		    share->seen_ret) {
			share->stats.sold_out++;
			return STOCK_SOLD_OUT;
		}
		share->sold_out = 0;
	}
	/*
	 * Relaxed: a unit is a count, it publishes no other data, so the
	 * atomicity of the CAS is all that keeps two buyers (this core and a
	 * stealer) from getting the same unit. A stale load only fails the CAS.
	 */
	w = atomic_load_explicit(&share->units, memory_order_relaxed);
	while (w & STOCK_COUNT_MASK) {
		if (atomic_compare_exchange_weak_explicit(&share->units, &w, w - 1,
				memory_order_relaxed, memory_order_relaxed)) {
			stock_count_sale(share);
			return STOCK_OK;
		}
	}
	return stock_take_slow(pool, share);
}

#endif
