/*
 * ord_ring.h - one core's sales, handed to the control thread without ever
 * blocking the core.
 *
 * One ord_ring per worker core: a single-producer single-consumer ring of
 * struct ord_record, the producer being that core and the consumer the control
 * thread (which drains every core's ring in turn). Sale promises are kept by
 * splitting the enqueue in two, so a sale is refused before any stock moves:
 *
 *   if (!ord_ring_reserve(r))          ring full: answer 503, stock untouched
 *           return 503;
 *   if (stock take or purchase claim fails)
 *           ord_ring_cancel(r);        sold out / duplicate: nothing recorded
 *   else
 *           ord_ring_commit(r, &rec);  cannot fail: the reservation holds room
 *
 * A reservation is a claim on capacity, not on a particular slot: commit
 * copies the record into the next slot at that moment. So a core may hold
 * several reservations at once and commit or cancel them in any order, and a
 * cancelled one leaves no hole for the consumer to skip. The consumer sees
 * exactly the committed records, each once, in commit order.
 *
 * Memory ordering follows DPDK's rte_ring (C11 model): each side owns one
 * 64-bit index on its own cache line (prod.head counts records ever
 * committed, cons.tail records ever consumed; 64 bits never wrap) and keeps a
 * private copy of the other side's index, refreshed only when the copy says
 * "full" or "empty", so the shared lines move between cores once per burst,
 * not once per record. The two release stores and their acquire loads are
 * commented where they happen.
 */
#ifndef SECKILL_ORD_RING_H
#define SECKILL_ORD_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ord_record.h"
#include "stats.h"

#define ORD_CACHE_LINE 64

/* Producer-side counters (written by the owning core only). */
#define ORD_RING_STATS(X) X(reserved) X(reserve_full) X(committed) X(cancelled)
struct ord_ring_stats { ORD_RING_STATS(STATS_FIELD) };
extern const char *const ord_ring_stats_names[];
#define ORD_RING_STATS_N (0 ORD_RING_STATS(STATS_COUNT))

struct ord_ring {
	uint64_t size;                  /* slots, a power of two */
	uint64_t mask;                  /* size - 1 */

	struct {
		_Atomic uint64_t head;  /* records committed; written by the producer only */
		uint64_t cons_tail;     /* producer's copy of cons.tail, may lag */
		uint64_t pending;       /* reservations neither committed nor cancelled */
		struct ord_ring_stats stats;
	} prod __attribute__((aligned(ORD_CACHE_LINE)));

	struct {
		_Atomic uint64_t tail;  /* records consumed; written by the consumer only */
		uint64_t prod_head;     /* consumer's copy of prod.head, may lag */
		uint64_t dequeued;
	} cons __attribute__((aligned(ORD_CACHE_LINE)));

	struct ord_record slots[] __attribute__((aligned(ORD_CACHE_LINE)));
};

/*
 * A ring of count slots (a power of two, 2..2^24). Returns NULL when count is
 * not one, or memory is short.
 */
struct ord_ring *ord_ring_create(uint32_t count);
void ord_ring_free(struct ord_ring *r);

/*
 * Producer: claims room for one record. False when the ring is full (the
 * sale must be refused, 503); never waits. Every true must be followed by
 * exactly one ord_ring_commit or ord_ring_cancel.
 */
static inline bool ord_ring_reserve(struct ord_ring *r)
{
	/* Relaxed: prod.head is written by this thread only. */
	uint64_t head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);

	if (__builtin_expect(head - r->prod.cons_tail + r->prod.pending >= r->size, 0)) {
		/*
		 * Acquire pairs with the release store of cons.tail in
		 * ord_ring_dequeue_burst: the consumer has finished reading
		 * every slot below the tail we see before we overwrite one.
		 */
		r->prod.cons_tail = atomic_load_explicit(&r->cons.tail, memory_order_acquire);
		if (head - r->prod.cons_tail + r->prod.pending >= r->size) {
			r->prod.stats.reserve_full++;
			return false;
		}
	}
	r->prod.pending++;
	r->prod.stats.reserved++;
	return true;
}

/*
 * Producer: publishes rec using one reservation. Never fails: since the
 * reservation was made only the consumer has moved, and that only frees room.
 */
static inline void ord_ring_commit(struct ord_ring *r, const struct ord_record *rec)
{
	uint64_t head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);

	r->slots[head & r->mask] = *rec;
	/*
	 * Release pairs with the acquire load of prod.head in
	 * ord_ring_dequeue_burst: the record's bytes are visible to the
	 * consumer before the index that says they are there.
	 */
	atomic_store_explicit(&r->prod.head, head + 1, memory_order_release);
	r->prod.pending--;
	r->prod.stats.committed++;
}

/* Producer: gives a reservation back; nothing reaches the consumer. */
static inline void ord_ring_cancel(struct ord_ring *r)
{
	r->prod.pending--;
	r->prod.stats.cancelled++;
}

/*
 * Consumer: copies up to n committed records, oldest first, into out and
 * frees their slots. Returns how many; 0 when there are none.
 */
unsigned ord_ring_dequeue_burst(struct ord_ring *r, struct ord_record *out, unsigned n);

/* Producer or consumer: records committed and not yet consumed (a snapshot). */
uint64_t ord_ring_count(struct ord_ring *r);

#endif
