/*
 * The per-core order ring: reserve/commit/cancel accounting on one thread,
 * then a producer and a consumer thread racing through millions of sales,
 * where every committed record must arrive exactly once and in order, a
 * cancelled reservation must never arrive, and a full ring must refuse (not
 * block, not drop). Run under TSan too: the orderings are what is tested.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "ord_ring.h"
#include "test_ord_ring_stress.h"

Test(ord_ring, create_wants_power_of_two)
{
	struct ord_ring *r;

	cr_assert_null(ord_ring_create(0));
	cr_assert_null(ord_ring_create(1));
	cr_assert_null(ord_ring_create(3));
	cr_assert_null(ord_ring_create(1000));
	cr_assert_null(ord_ring_create(1u << 25));
	r = ord_ring_create(1024);
	cr_assert_not_null(r);
	cr_assert_eq(r->size, 1024);
	cr_assert_eq((uintptr_t)&r->prod.head % ORD_CACHE_LINE, 0);
	cr_assert_eq((uintptr_t)&r->cons.tail % ORD_CACHE_LINE, 0);
	cr_assert_neq((uintptr_t)&r->prod.head / ORD_CACHE_LINE,
		      (uintptr_t)&r->cons.tail / ORD_CACHE_LINE);
	ord_ring_free(r);
}

Test(ord_ring, full_ring_refuses_reservation)
{
	struct ord_ring *r = ord_ring_create(8);
	struct ord_record out[16];

	for (int i = 0; i < 8; i++)
		cr_assert(ord_ring_reserve(r));
	/* Pending reservations hold the room even though nothing is committed yet. */
	cr_assert_eq(ord_ring_count(r), 0);
	cr_assert_not(ord_ring_reserve(r));
	ord_ring_cancel(r);
	cr_assert(ord_ring_reserve(r));
	for (uint64_t s = 1; s <= 8; s++)
		ord_ring_commit(r, &(struct ord_record){ .id = ord_id_make(1, 0, 0, s) });
	cr_assert_eq(ord_ring_count(r), 8);
	cr_assert_not(ord_ring_reserve(r));
	cr_assert_not(ord_ring_reserve(r));
	cr_assert_eq(r->prod.stats.reserve_full, 3);
	cr_assert_eq(r->prod.stats.reserved, 9);
	cr_assert_eq(r->prod.stats.cancelled, 1);
	cr_assert_eq(r->prod.stats.committed, 8);

	cr_assert_eq(ord_ring_dequeue_burst(r, out, 3), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ord_id_seq(out[i].id), (uint64_t)i + 1);
	for (int i = 0; i < 3; i++)
		cr_assert(ord_ring_reserve(r));
	cr_assert_not(ord_ring_reserve(r));
	for (uint64_t s = 9; s <= 11; s++)
		ord_ring_commit(r, &(struct ord_record){ .id = ord_id_make(1, 0, 0, s) });
	/* Wraps around the slot array: still in commit order. */
	cr_assert_eq(ord_ring_dequeue_burst(r, out, 16), 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(ord_id_seq(out[i].id), (uint64_t)i + 4);
	cr_assert_eq(ord_ring_dequeue_burst(r, out, 16), 0);
	cr_assert_eq(r->cons.dequeued, 11);
	ord_ring_free(r);
}

Test(ord_ring, out_of_order_commit_and_cancel_leave_no_holes)
{
	struct ord_ring *r = ord_ring_create(4);
	struct ord_record out[4];

	/* Three sales in flight; the middle one sells out. */
	cr_assert(ord_ring_reserve(r));
	cr_assert(ord_ring_reserve(r));
	cr_assert(ord_ring_reserve(r));
	ord_ring_commit(r, &(struct ord_record){ .buyer = 30 });
	ord_ring_cancel(r);
	ord_ring_commit(r, &(struct ord_record){ .buyer = 10 });
	cr_assert_eq(ord_ring_count(r), 2);
	cr_assert_eq(ord_ring_dequeue_burst(r, out, 4), 2);
	cr_assert_eq(out[0].buyer, 30);
	cr_assert_eq(out[1].buyer, 10);
	/* All four slots are free again. */
	for (int i = 0; i < 4; i++)
		cr_assert(ord_ring_reserve(r));
	cr_assert_not(ord_ring_reserve(r));
	ord_ring_free(r);
}

/* ---- two threads ---- */

Test(ord_ring, spsc_stress_every_commit_once_in_order, .timeout = 240)
{
	struct stress st = { .r = ord_ring_create(STRESS_SLOTS) };
	struct ord_record extra;
	pthread_t p, c;

	cr_assert_not_null(st.r);
	cr_assert_eq(pthread_create(&c, NULL, consumer, &st), 0);
	cr_assert_eq(pthread_create(&p, NULL, producer, &st), 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);

	cr_assert_eq(st.first_bad, 0, "wrong record where seq %llu was due",
		     (unsigned long long)st.first_bad);
	cr_assert_eq(st.received, STRESS_SALES);
	cr_assert_eq(ord_ring_dequeue_burst(st.r, &extra, 1), 0, "a record beyond the commits");
	cr_assert_gt(st.refused, 0);
	cr_assert_gt(st.cancelled, 0);
	cr_assert_eq(st.attempts, st.refused + st.cancelled + st.committed);
	cr_assert_eq(st.r->prod.stats.reserve_full, st.refused);
	cr_assert_eq(st.r->prod.stats.cancelled, st.cancelled);
	cr_assert_eq(st.r->prod.stats.committed, STRESS_SALES);
	cr_assert_eq(st.r->cons.dequeued, STRESS_SALES);
	cr_assert_eq(st.r->prod.pending, 0);
	ord_ring_free(st.r);
}
