/*
 * ord_ring.c - the ring's allocation and its consumer side (the producer's
 * reserve/commit/cancel are inline in ord_ring.h; the design is there too).
 */
#include "ord_ring.h"

#include <stdlib.h>
#include <string.h>

/* Far beyond any sane per-core backlog (16 M records, 640 MB); a bound keeps sizes sane. */
#define ORD_RING_MAX_SLOTS (1u << 24)

const char *const ord_ring_stats_names[] = { ORD_RING_STATS(STATS_NAME) };
_Static_assert(sizeof(ord_ring_stats_names) / sizeof(ord_ring_stats_names[0]) == ORD_RING_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct ord_ring_stats) == ORD_RING_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

struct ord_ring *ord_ring_create(uint32_t count)
{
	struct ord_ring *r;
	size_t bytes;

	if (count < 2 || count > ORD_RING_MAX_SLOTS || (count & (count - 1)) != 0)
		return NULL;
	bytes = sizeof(*r) + (size_t)count * sizeof(struct ord_record);
	/* aligned_alloc wants a multiple of the alignment. */
	bytes = (bytes + ORD_CACHE_LINE - 1) & ~(size_t)(ORD_CACHE_LINE - 1);
	r = aligned_alloc(ORD_CACHE_LINE, bytes);
	if (!r)
		return NULL;
	memset(r, 0, bytes);
	r->size = count;
	r->mask = count - 1;
	atomic_init(&r->prod.head, 0);
	atomic_init(&r->cons.tail, 0);
	return r;
}

void ord_ring_free(struct ord_ring *r)
{
	free(r);
}

unsigned ord_ring_dequeue_burst(struct ord_ring *r, struct ord_record *out, unsigned n)
{
	/* Relaxed: cons.tail is written by this thread only. */
	uint64_t tail = atomic_load_explicit(&r->cons.tail, memory_order_relaxed);
	uint64_t avail = r->cons.prod_head - tail;

	if (avail < n) {
		/*
		 * Acquire pairs with the release store of prod.head in
		 * ord_ring_commit: every record below the head we see is
		 * fully written.
		 */
		r->cons.prod_head = atomic_load_explicit(&r->prod.head, memory_order_acquire);
		avail = r->cons.prod_head - tail;
	}
	if (n > avail)
		n = (unsigned)avail;
	if (n == 0)
		return 0;   /* leave the shared line alone */
	for (unsigned i = 0; i < n; i++)
		out[i] = r->slots[(tail + i) & r->mask];
	/*
	 * Release pairs with the acquire load of cons.tail in
	 * ord_ring_reserve: our reads of these slots are done before the
	 * producer may overwrite them.
	 */
	atomic_store_explicit(&r->cons.tail, tail + n, memory_order_release);
	r->cons.dequeued += n;
	return n;
}

uint64_t ord_ring_count(struct ord_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->cons.tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&r->prod.head, memory_order_acquire);

	/* Loaded tail first: the head can only be ahead of it. */
	return head - tail;
}
