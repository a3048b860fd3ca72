/* Tests for lib/sale/ord_book.c: publish once, read anywhere, move once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "ord_book.h"

Test(ord_book, empty_and_out_of_range_are_absent)
{
	struct ord_book *b = ord_book_create(4);
	struct ord_book_view v;

	cr_assert_not_null(b);
	cr_assert(!ord_book_has_room(b, 0));
	cr_assert(ord_book_has_room(b, 1));
	cr_assert(ord_book_has_room(b, 4));
	cr_assert(!ord_book_has_room(b, 5));
	for (uint64_t seq = 0; seq <= 6; seq++)
		cr_assert(!ord_book_get(b, seq, &v), "seq %llu", (unsigned long long)seq);
	cr_assert_eq(ord_book_move(b, 1, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, NULL), -1);
	cr_assert_eq(ord_book_move(b, 9, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, NULL), -1);
	cr_assert_null(ord_book_create(0));
	ord_book_free(b);
	ord_book_free(NULL);
}

Test(ord_book, publish_then_get_exact_fields)
{
	struct ord_book *b = ord_book_create(3);
	struct ord_book_view v;

	ord_book_publish(b, 2, 7, 42, 0x55, 1700000000123ull);
	cr_assert(!ord_book_get(b, 1, &v));
	cr_assert(ord_book_get(b, 2, &v));
	cr_assert_eq(v.campaign, 7);
	cr_assert_eq(v.buyer, 42);
	cr_assert_eq(v.ticket, 0x55);
	cr_assert_eq(v.time_ms, 1700000000123ull);
	cr_assert_eq(v.state, ORD_PENDING);
	cr_assert_eq(v.reason, ORD_REASON_none);
	ord_book_publish(b, 3, 1, UINT64_MAX - 1, 0, 0);
	cr_assert(ord_book_get(b, 3, &v));
	cr_assert_eq(v.buyer, UINT64_MAX - 1);
	ord_book_free(b);
}

Test(ord_book, moves_happen_once)
{
	struct ord_book *b = ord_book_create(2);
	struct ord_book_view v;
	enum ord_state now;

	ord_book_publish(b, 1, 1, 10, 1, 5);
	ord_book_publish(b, 2, 1, 11, 1, 5);
	cr_assert_eq(ord_book_move(b, 1, ORD_PENDING, ORD_REJECTED, ORD_REASON_payment_failed,
				   &now), 0);
	cr_assert_eq(now, ORD_REJECTED);
	cr_assert_eq(ord_book_move(b, 1, ORD_PENDING, ORD_REJECTED, ORD_REASON_fraud, &now), -1);
	cr_assert_eq(now, ORD_REJECTED);
	cr_assert_eq(ord_book_move(b, 1, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, &now), -1);
	cr_assert_eq(now, ORD_REJECTED);
	cr_assert(ord_book_get(b, 1, &v));
	cr_assert_eq(v.state, ORD_REJECTED);
	cr_assert_eq(v.reason, ORD_REASON_payment_failed, "the first reason stays");
	cr_assert_eq(v.buyer, 10);
	cr_assert_eq(ord_book_move(b, 2, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, &now), 0);
	cr_assert_eq(ord_book_move(b, 2, ORD_PENDING, ORD_REJECTED, ORD_REASON_other, &now), -1);
	cr_assert_eq(now, ORD_CONFIRMED);
	ord_book_free(b);
}

Test(ord_book, reason_names)
{
	cr_assert_str_eq(ord_reason_str(ORD_REASON_none), "none");
	cr_assert_str_eq(ord_reason_str(ORD_REASON_payment_failed), "payment_failed");
	cr_assert_str_eq(ord_reason_str(ORD_REASON_other), "other");
	cr_assert_null(ord_reason_str(ORD_REASON_N));
	cr_assert_null(ord_reason_str((enum ord_reason)-1));
}

Test(ord_book, state_names)
{
	cr_assert_str_eq(ord_state_str(ORD_PENDING), "pending");
	cr_assert_str_eq(ord_state_str(ORD_CONFIRMED), "confirmed");
	cr_assert_str_eq(ord_state_str(ORD_REJECTED), "rejected");
	cr_assert_str_eq(ord_state_str(ORD_PAID), "paid");
	cr_assert_str_eq(ord_state_str(ORD_EXPIRED), "expired");
	cr_assert_str_eq(ord_state_str(ORD_EMPTY), "");
	cr_assert_str_eq(ord_state_str(ORD_STATE_N), "");
}

/* The order service's word: confirmed -> paid | expired, once. */
Test(ord_book, final_states_after_confirmed)
{
	struct ord_book *b = ord_book_create(2);
	enum ord_state now;
	struct ord_book_view v;

	ord_book_publish(b, 1, 1, 10, 1, 1000);
	ord_book_publish(b, 2, 1, 11, 1, 1000);
	cr_assert_eq(ord_book_move(b, 1, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, NULL), 0);
	cr_assert_eq(ord_book_move(b, 1, ORD_CONFIRMED, ORD_EXPIRED, ORD_REASON_none, &now), 0);
	cr_assert_eq(ord_book_move(b, 1, ORD_CONFIRMED, ORD_PAID, ORD_REASON_none, &now), -1);
	cr_assert_eq(now, ORD_EXPIRED);
	cr_assert(ord_book_get(b, 1, &v));
	cr_assert_eq(v.state, ORD_EXPIRED);
	cr_assert_eq(v.buyer, 10, "the fields stay");
	cr_assert_eq(ord_book_move(b, 2, ORD_PENDING, ORD_PAID, ORD_REASON_none, &now), 0);
	cr_assert_eq(ord_book_move(b, 2, ORD_PENDING, ORD_CONFIRMED, ORD_REASON_none, &now), -1);
	cr_assert_eq(now, ORD_PAID);
	ord_book_free(b);
}

#define RACE_N 20000

struct race {
	struct ord_book *b;
	enum ord_state to;
	uint64_t wins;
};

static void *mover(void *arg)
{
	struct race *r = arg;

	for (uint64_t seq = 1; seq <= RACE_N; seq++) {
		struct ord_book_view v;

		/* Spin until the order is published, then check its fields. */
		while (!ord_book_get(r->b, seq, &v))
			;
		if (v.buyer != seq * 3 || v.campaign != (uint32_t)seq)
			return (void *)1;
		if (ord_book_move(r->b, seq, ORD_PENDING, r->to, ORD_REASON_cancelled, NULL) == 0)
			r->wins++;
	}
	return NULL;
}

/* A publisher and two movers (confirm vs reject) racing on every order: every
 * reader sees the fields of a published entry, and each order moves once. */
Test(ord_book, publish_and_move_race)
{
	struct ord_book *b = ord_book_create(RACE_N);
	struct race r[2] = { { b, ORD_CONFIRMED, 0 }, { b, ORD_REJECTED, 0 } };
	pthread_t th[2];
	void *rc;
	uint64_t confirmed = 0;

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, mover, &r[i]);
	for (uint64_t seq = 1; seq <= RACE_N; seq++)
		ord_book_publish(b, seq, (uint32_t)seq, seq * 3, seq, seq);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], &rc);
		cr_assert_null(rc, "a reader saw a published entry without its fields");
	}
	cr_assert_eq(r[0].wins + r[1].wins, RACE_N);
	for (uint64_t seq = 1; seq <= RACE_N; seq++) {
		struct ord_book_view v;

		cr_assert(ord_book_get(b, seq, &v));
		confirmed += v.state == ORD_CONFIRMED;
		cr_assert(v.state == ORD_CONFIRMED || v.state == ORD_REJECTED);
	}
	cr_assert_eq(confirmed, r[0].wins);
	ord_book_free(b);
}
