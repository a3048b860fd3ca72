/* Tests for lib/sale/lim_purchase.c: one winner per (campaign, buyer), FULL
 * never becomes a second sale, release by ticket, and all of it under threads. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "lim_purchase.h"

static const uint64_t sipkey[2] = { 3, 4 };

Test(lim_purchase, claim_once_then_already)
{
	struct lim_purchase *set = lim_purchase_create(100, sipkey);
	struct lim_purchase_stats st = { 0 };
	uint64_t ticket = 0;

	cr_assert_eq(lim_purchase_claim(set, 1, 1001, &ticket, &st), LIM_CLAIMED);
	cr_assert_eq(ticket, 1);
	cr_assert_eq(lim_purchase_claim(set, 1, 1001, &ticket, &st), LIM_ALREADY);
	cr_assert_eq(lim_purchase_claim(set, 2, 1001, &ticket, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_claim(set, 1001, 1, &ticket, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_claim(set, 0, 0, &ticket, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_claim(set, 0, 0, NULL, &st), LIM_ALREADY);
	cr_assert_eq(lim_purchase_claim(set, 1, UINT64_MAX, NULL, &st), LIM_INVALID);
	cr_assert_eq(lim_purchase_claim(set, UINT64_MAX, 1, NULL, &st), LIM_INVALID);
	cr_assert(lim_purchase_held(set, 1, 1001));
	cr_assert(!lim_purchase_held(set, 3, 1001));
	cr_assert_eq(st.purchase_claimed, 4);
	cr_assert_eq(st.purchase_already, 2);
	cr_assert_eq(st.purchase_invalid, 2);
	lim_purchase_free(set);
}

Test(lim_purchase, release_by_ticket_only)
{
	struct lim_purchase *set = lim_purchase_create(100, sipkey);
	struct lim_purchase_stats st = { 0 };
	uint64_t t1, t2;

	cr_assert_eq(lim_purchase_release(set, 5, 6, 1, &st), -1); /* never claimed */
	cr_assert_eq(lim_purchase_claim(set, 5, 6, &t1, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_release(set, 5, 6, t1 + 1, &st), -1);
	cr_assert(lim_purchase_held(set, 5, 6));
	cr_assert_eq(lim_purchase_release(set, 5, 6, t1, &st), 0);
	cr_assert(!lim_purchase_held(set, 5, 6));
	cr_assert_eq(lim_purchase_release(set, 5, 6, t1, &st), -1); /* twice */
	cr_assert_eq(lim_purchase_claim(set, 5, 6, &t2, &st), LIM_CLAIMED);
	cr_assert_eq(t2, t1 + 1);
	/* a late release of the first order must not free the second */
	cr_assert_eq(lim_purchase_release(set, 5, 6, t1, &st), -1);
	cr_assert(lim_purchase_held(set, 5, 6));
	cr_assert_eq(lim_purchase_claim(set, 5, 6, NULL, &st), LIM_ALREADY);
	cr_assert_eq(st.purchase_released, 1);
	cr_assert_eq(st.purchase_release_stale, 4);
	lim_purchase_free(set);
}

/* An expired order of another host or an earlier run: no ticket here, the
 * claim held now is released, once; a newer claim is a new one. */
Test(lim_purchase, release_held_frees_the_current_claim_once)
{
	struct lim_purchase *set = lim_purchase_create(100, sipkey);
	struct lim_purchase_stats st = { 0 };
	uint64_t t1, t2;

	cr_assert_eq(lim_purchase_release_held(set, 9, 10, &st), -1, "never claimed");
	cr_assert_eq(lim_purchase_claim(set, 9, 10, &t1, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_release_held(set, 9, 10, &st), 0);
	cr_assert(!lim_purchase_held(set, 9, 10));
	cr_assert_eq(lim_purchase_release_held(set, 9, 10, &st), -1, "idempotent");
	cr_assert_eq(lim_purchase_release(set, 9, 10, t1, &st), -1, "the ticket is spent");
	cr_assert_eq(lim_purchase_claim(set, 9, 10, &t2, &st), LIM_CLAIMED, "buys again");
	cr_assert_eq(t2, t1 + 1);
	cr_assert_eq(lim_purchase_claim(set, 9, 10, NULL, &st), LIM_ALREADY);
	cr_assert_eq(lim_purchase_release_held(set, 9, 11, &st), -1, "another buyer's key");
	cr_assert(lim_purchase_held(set, 9, 10));
	cr_assert_eq(st.purchase_released, 1);
	lim_purchase_free(set);
}

/* capacity 2 -> 4 slots, one probe range: the 5th buyer gets FULL, and the
 * four who hold a claim still get ALREADY, never a new claim. */
Test(lim_purchase, full_is_503_never_a_second_sale)
{
	struct lim_purchase *set = lim_purchase_create(2, sipkey);
	struct lim_purchase_stats st = { 0 };

	for (uint64_t b = 1; b <= 4; b++)
		cr_assert_eq(lim_purchase_claim(set, 9, b, NULL, &st), LIM_CLAIMED);
	cr_assert_eq(lim_purchase_claim(set, 9, 5, NULL, &st), LIM_FULL);
	cr_assert_eq(lim_purchase_claim(set, 9, 5, NULL, &st), LIM_FULL);
	for (uint64_t b = 1; b <= 4; b++)
		cr_assert_eq(lim_purchase_claim(set, 9, b, NULL, &st), LIM_ALREADY);
	cr_assert_eq(st.purchase_full, 2);
	cr_assert_eq(st.purchase_claimed, 4);
	cr_assert(!lim_purchase_held(set, 9, 5));
	lim_purchase_free(set);
}

/* --- threads ----------------------------------------------------------------- */

#define CLAIM_THREADS 4
#define CAMPAIGNS 2
#define BUYERS 25000
#define ROUNDS 6
#define NKEYS (CAMPAIGNS * BUYERS)

struct claim_arg {
	struct lim_purchase *set;
	unsigned seed;
	int *wins;      /* per key, atomically incremented */
	int *fulls;     /* per key */
	struct lim_purchase_stats st;
};

/* Strides coprime with NKEYS (2^4 * 5^5), so each round visits every key once. */
static const uint64_t strides[] = { 1, 3, 7, 9, 11, 13, 17, 19 };

static void *claim_thread(void *p)
{
	struct claim_arg *a = p;

	for (int round = 0; round < ROUNDS; round++) {
		for (uint64_t i = 0; i < NKEYS; i++) {
			/* threads 2k and 2k+1 walk the same order: real races */
			uint64_t j = (i * strides[(a->seed + round) % 8] + round) % NKEYS;

			switch (lim_purchase_claim(a->set, j % CAMPAIGNS, j / CAMPAIGNS, NULL, &a->st)) {
			case LIM_CLAIMED:
				__atomic_fetch_add(&a->wins[j], 1, __ATOMIC_RELAXED);
				break;
			case LIM_FULL:
				__atomic_fetch_add(&a->fulls[j], 1, __ATOMIC_RELAXED);
				break;
			default:
				break;
			}
		}
	}
	return NULL;
}

static void run_claims(struct lim_purchase *set, int *wins, int *fulls,
		       struct lim_purchase_stats *sum)
{
	struct claim_arg a[CLAIM_THREADS];
	pthread_t th[CLAIM_THREADS];

	for (int i = 0; i < CLAIM_THREADS; i++) {
		a[i] = (struct claim_arg){ set, (unsigned)i / 2, wins, fulls, { 0 } };
		pthread_create(&th[i], NULL, claim_thread, &a[i]);
	}
	for (int i = 0; i < CLAIM_THREADS; i++) {
		pthread_join(th[i], NULL);
		sum->purchase_claimed += a[i].st.purchase_claimed;
		sum->purchase_already += a[i].st.purchase_already;
		sum->purchase_full += a[i].st.purchase_full;
	}
}

/* 1.2 M claims on 50 000 keys from 4 threads: one CLAIMED per key. */
Test(lim_purchase, threads_exactly_one_winner_per_key, .timeout = 60)
{
	struct lim_purchase *set = lim_purchase_create(NKEYS, NULL);
	int *wins = calloc(NKEYS, sizeof(int)), *fulls = calloc(NKEYS, sizeof(int));
	struct lim_purchase_stats sum = { 0 };

	run_claims(set, wins, fulls, &sum);
	for (int j = 0; j < NKEYS; j++) {
		cr_assert_eq(wins[j], 1, "key %d won %d times", j, wins[j]);
		cr_assert_eq(fulls[j], 0);
	}
	cr_assert_eq(sum.purchase_claimed, NKEYS);
	cr_assert_eq(sum.purchase_already, (uint64_t)NKEYS * ROUNDS * CLAIM_THREADS - NKEYS);
	free(wins);
	free(fulls);
	lim_purchase_free(set);
}

/* A set sized for 1/20 of the buyers: many FULL, yet a key is either won
 * exactly once or never stored at all (all FULL), and never both. */
Test(lim_purchase, threads_full_set_never_double_wins, .timeout = 60)
{
	struct lim_purchase *set = lim_purchase_create(NKEYS / 20, NULL);
	int *wins = calloc(NKEYS, sizeof(int)), *fulls = calloc(NKEYS, sizeof(int));
	struct lim_purchase_stats sum = { 0 };
	long won = 0;

	run_claims(set, wins, fulls, &sum);
	for (int j = 0; j < NKEYS; j++) {
		cr_assert_leq(wins[j], 1, "key %d won %d times", j, wins[j]);
		cr_assert(wins[j] == 0 || fulls[j] == 0, "key %d won and was full", j);
		cr_assert(wins[j] == 1 || fulls[j] == ROUNDS * CLAIM_THREADS, "key %d wins %d fulls %d", j, wins[j], fulls[j]);
		won += wins[j];
	}
	cr_assert_gt(sum.purchase_full, 0);
	cr_assert_eq((size_t)won, lim_table_count(set->t));
	cr_assert_eq(sum.purchase_claimed, (uint64_t)won);
	free(wins);
	free(fulls);
	lim_purchase_free(set);
}

/* Claim/release races on few keys: at no moment do two threads hold one key;
 * stale releases (old tickets) thrown in must never free a live claim. */
#define CR_KEYS 8
#define CR_ITERS 200000

struct cr_arg {
	struct lim_purchase *set;
	int *holder;          /* per key: 0 free, else thread id + 1 */
	uint64_t *last_ticket;
	int id;
	long wins;
	long overlaps;
};

static void *claim_release_thread(void *p)
{
	struct cr_arg *a = p;
	unsigned seed = (unsigned)a->id * 7919u + 1;

	for (int i = 0; i < CR_ITERS; i++) {
		int k = rand_r(&seed) % CR_KEYS;
		uint64_t ticket, stale;
		int expect = 0;

		if (lim_purchase_claim(a->set, 77, (uint64_t)k, &ticket, NULL) != LIM_CLAIMED) {
			/* someone holds k: replay an old ticket at it */
			stale = __atomic_load_n(&a->last_ticket[k], __ATOMIC_RELAXED);
			if (stale != 0 && lim_purchase_release(a->set, 77, (uint64_t)k, stale - 1,
							       NULL) == 0)
				a->overlaps++; /* an old ticket freed a live claim */
			continue;
		}
		a->wins++;
		if (!__atomic_compare_exchange_n(&a->holder[k], &expect, a->id + 1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			a->overlaps++;
		__atomic_store_n(&a->last_ticket[k], ticket, __ATOMIC_RELAXED);
		__atomic_store_n(&a->holder[k], 0, __ATOMIC_RELEASE);
		cr_assert_eq(lim_purchase_release(a->set, 77, (uint64_t)k, ticket, NULL), 0);
	}
	return NULL;
}

Test(lim_purchase, threads_claim_release_no_overlap, .timeout = 60)
{
	struct lim_purchase *set = lim_purchase_create(64, NULL);
	int holder[CR_KEYS] = { 0 };
	uint64_t last_ticket[CR_KEYS] = { 0 };
	struct cr_arg a[CLAIM_THREADS];
	pthread_t th[CLAIM_THREADS];
	long wins = 0;

	for (int i = 0; i < CLAIM_THREADS; i++) {
		a[i] = (struct cr_arg){ set, holder, last_ticket, i, 0, 0 };
		pthread_create(&th[i], NULL, claim_release_thread, &a[i]);
	}
	for (int i = 0; i < CLAIM_THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(a[i].overlaps, 0, "thread %d saw %ld overlaps", i, a[i].overlaps);
		wins += a[i].wins;
	}
	cr_assert_gt(wins, CR_ITERS);
	for (int k = 0; k < CR_KEYS; k++)
		cr_assert(!lim_purchase_held(set, 77, (uint64_t)k));
	lim_purchase_free(set);
}

/* Lockstep: the threads claim the same fresh key at the same instant, round
 * after round, so they collide inside one slot's insert (first word set, second
 * not yet): exactly one may win each round. */
#define LOCK_THREADS 2
#define LOCK_ROUNDS 100000

struct lock_arg {
	struct lim_purchase *set;
	unsigned *arrived;
	int *wins;
};

static void *lockstep_thread(void *p)
{
	struct lock_arg *a = p;

	for (unsigned r = 0; r < LOCK_ROUNDS; r++) {
		/* spin barrier: round r starts when all threads arrived r+1 times */
		__atomic_fetch_add(a->arrived, 1, __ATOMIC_ACQ_REL);
		for (int spin = 0; __atomic_load_n(a->arrived, __ATOMIC_ACQUIRE) <
				   (r + 1) * LOCK_THREADS; spin++)
			if (spin > 1000)
				sched_yield(); /* the other thread is not running: 2 shared cores */
		if (lim_purchase_claim(a->set, 5, r, NULL, NULL) == LIM_CLAIMED)
			__atomic_fetch_add(&a->wins[r], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

Test(lim_purchase, lockstep_same_key_one_winner, .timeout = 60)
{
	struct lim_purchase *set = lim_purchase_create(LOCK_ROUNDS, NULL);
	int *wins = calloc(LOCK_ROUNDS, sizeof(int));
	unsigned arrived = 0;
	struct lock_arg a = { set, &arrived, wins };
	pthread_t th[LOCK_THREADS];

	for (int i = 0; i < LOCK_THREADS; i++)
		pthread_create(&th[i], NULL, lockstep_thread, &a);
	for (int i = 0; i < LOCK_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int r = 0; r < LOCK_ROUNDS; r++)
		cr_assert_eq(wins[r], 1, "round %d: %d winners", r, wins[r]);
	cr_assert_eq(lim_table_count(set->t), LOCK_ROUNDS);
	free(wins);
	lim_purchase_free(set);
}
