/* Tests for lib/sale/lim_table.c: placement, full policy, eviction, and that
 * concurrent inserters of one key always meet in one slot. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "lim_table.h"

static const uint64_t sipkey[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };

Test(lim_table, create_sizes_to_half_load)
{
	struct lim_table *t = lim_table_create(1000, 1, sipkey);

	cr_assert_not_null(t);
	cr_assert_eq(t->nslots, 2048);
	cr_assert_eq(t->slots_per_bucket, 4);
	cr_assert_eq(t->probe_slots, LIM_PROBE_SLOTS);
	cr_assert_eq((uintptr_t)t->slots % LIM_CACHE_LINE, 0);
	lim_table_free(t);
	t = lim_table_create(1000, 2, NULL);
	cr_assert_eq(t->slots_per_bucket, 2);
	lim_table_free(t);
	cr_assert_null(lim_table_create(0, 1, NULL));
	cr_assert_null(lim_table_create(10, 3, NULL));
}

/* lim_table_slot names the slot a key's insert into an empty table takes:
 * the line a prefetch must load. */
Test(lim_table, slot_is_where_the_first_insert_lands)
{
	for (unsigned words = 1; words <= 2; words++) {
		struct lim_table *t = lim_table_create(1 << 16, words, sipkey);

		cr_assert_not_null(t);
		for (uint64_t i = 0; i < 64; i++) {
			const uint64_t key[2] = { 3 + i * 0x9e3779b97f4a7c15ULL, i };
			const uint8_t *slot = lim_table_slot(t, key);
			uint64_t *val;

			cr_assert_eq(lim_table_get(t, key, true, &val), LIM_T_INSERTED);
			cr_assert((const uint8_t *)val > slot &&
				  (const uint8_t *)val < slot + t->stride * sizeof(uint64_t),
				  "%u-word key %" PRIu64 ": value at %p, outside the named slot %p",
				  words, i, (void *)val, (const void *)slot);
		}
		lim_table_free(t);
	}
}

Test(lim_table, insert_find_and_key_zero)
{
	struct lim_table *t = lim_table_create(64, 1, sipkey);
	uint64_t *v1, *v2, *v0, key;

	key = 0;
	cr_assert_eq(lim_table_get(t, &key, false, &v0), LIM_T_ABSENT);
	cr_assert_eq(lim_table_get(t, &key, true, &v0), LIM_T_INSERTED);
	cr_assert_eq(*v0, LIM_VAL_FRESH);
	*v0 = 77;
	key = 0xc0a80001;
	cr_assert_eq(lim_table_get(t, &key, true, &v1), LIM_T_INSERTED);
	cr_assert_eq(lim_table_get(t, &key, true, &v2), LIM_T_FOUND);
	cr_assert_eq(v1, v2);
	cr_assert_neq(v0, v1);
	key = 0;
	cr_assert_eq(lim_table_get(t, &key, false, &v2), LIM_T_FOUND);
	cr_assert_eq(*v2, 77);
	key = UINT64_MAX;
	cr_assert_eq(lim_table_get(t, &key, true, &v2), LIM_T_BADKEY);
	key = UINT64_MAX - 1;
	cr_assert_eq(lim_table_get(t, &key, true, &v2), LIM_T_INSERTED);
	cr_assert_eq(lim_table_count(t), 3);
	lim_table_free(t);
}

Test(lim_table, two_word_keys_are_ordered_pairs)
{
	struct lim_table *t = lim_table_create(64, 2, sipkey);
	uint64_t a[2] = { 1, 2 }, b[2] = { 2, 1 }, z[2] = { 0, 0 }, bad[2] = { 3, UINT64_MAX };
	uint64_t *va, *vb, *vz, *v;

	cr_assert_eq(lim_table_get(t, a, true, &va), LIM_T_INSERTED);
	cr_assert_eq(lim_table_get(t, b, false, &vb), LIM_T_ABSENT);
	cr_assert_eq(lim_table_get(t, b, true, &vb), LIM_T_INSERTED);
	cr_assert_eq(lim_table_get(t, z, true, &vz), LIM_T_INSERTED);
	cr_assert_neq(va, vb);
	cr_assert_eq(lim_table_get(t, a, true, &v), LIM_T_FOUND);
	cr_assert_eq(v, va);
	cr_assert_eq(lim_table_get(t, z, false, &v), LIM_T_FOUND);
	cr_assert_eq(v, vz);
	cr_assert_eq(lim_table_get(t, bad, true, &v), LIM_T_BADKEY);
	cr_assert_eq(lim_table_count(t), 3);
	lim_table_free(t);
}

/* capacity 2 -> 4 slots, all in every key's probe range */
Test(lim_table, full_when_probe_range_taken)
{
	struct lim_table *t = lim_table_create(2, 1, sipkey);
	uint64_t *v, key;

	cr_assert_eq(t->nslots, 4);
	cr_assert_eq(t->probe_slots, 4);
	for (key = 10; key < 14; key++)
		cr_assert_eq(lim_table_get(t, &key, true, &v), LIM_T_INSERTED);
	key = 14;
	cr_assert_eq(lim_table_get(t, &key, true, &v), LIM_T_FULL);
	cr_assert_eq(lim_table_get(t, &key, false, &v), LIM_T_ABSENT);
	for (key = 10; key < 14; key++)
		cr_assert_eq(lim_table_get(t, &key, true, &v), LIM_T_FOUND);
	lim_table_free(t);
}

static bool idle_if_42(uint64_t value, void *ctx)
{
	(void)ctx;
	return value == 42;
}

Test(lim_table, evict_takes_only_an_idle_slot)
{
	struct lim_table *t = lim_table_create(2, 1, sipkey);
	uint64_t *v, *e, key;

	for (key = 10; key < 14; key++) {
		lim_table_get(t, &key, true, &v);
		*v = key == 12 ? 42 : 7;
	}
	e = lim_table_evict(t, 20, idle_if_42, NULL);
	cr_assert_not_null(e);
	cr_assert_eq(*e, LIM_VAL_FRESH);
	cr_assert(lim_table_owns(t, e, 20));
	key = 12;
	cr_assert_eq(lim_table_get(t, &key, false, &v), LIM_T_ABSENT);
	key = 20;
	cr_assert_eq(lim_table_get(t, &key, false, &v), LIM_T_FOUND);
	cr_assert_eq(v, e);
	/* nothing else is idle now */
	cr_assert_null(lim_table_evict(t, 21, idle_if_42, NULL));
	cr_assert_eq(lim_table_count(t), 4);
	lim_table_free(t);
}

/* At the sized load (capacity keys) no key should find its range full. */
Test(lim_table, holds_capacity_keys)
{
	const size_t n = 200000;
	struct lim_table *t1 = lim_table_create(n, 1, NULL);
	struct lim_table *t2 = lim_table_create(n, 2, NULL);
	uint64_t *v;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t k2[2] = { i % 7, i * 2654435761u };

		cr_assert_eq(lim_table_get(t1, &i, true, &v), LIM_T_INSERTED, "key %lu", i);
		cr_assert_eq(lim_table_get(t2, k2, true, &v), LIM_T_INSERTED, "key %lu", i);
	}
	cr_assert_eq(lim_table_count(t1), n);
	cr_assert_eq(lim_table_count(t2), n);
	lim_table_free(t1);
	lim_table_free(t2);
}

/* Every thread inserts the same keys in a different order; all must get the
 * same slot for each key, and the table must hold each key once. */
#define RACE_THREADS 4
#define RACE_KEYS 50000

struct race_arg {
	struct lim_table *t;
	uint64_t **where;
	unsigned seed;
	int inserted;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;

	for (uint64_t i = 0; i < RACE_KEYS; i++) {
		uint64_t j = (i * (2 * a->seed + 1) + a->seed) % RACE_KEYS;
		uint64_t k2[2] = { j & 3, j >> 2 };
		enum lim_table_res r = lim_table_get(a->t, k2, true, &a->where[j]);

		cr_assert(r == LIM_T_INSERTED || r == LIM_T_FOUND);
		a->inserted += r == LIM_T_INSERTED;
	}
	return NULL;
}

Test(lim_table, concurrent_inserters_meet_in_one_slot)
{
	struct lim_table *t = lim_table_create(RACE_KEYS, 2, NULL);
	struct race_arg args[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	int total = 0;

	for (int i = 0; i < RACE_THREADS; i++) {
		args[i] = (struct race_arg){ t, calloc(RACE_KEYS, sizeof(uint64_t *)),
					     (unsigned)i / 2, 0 }; /* pairs race key by key */
		pthread_create(&th[i], NULL, race_thread, &args[i]);
	}
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < RACE_THREADS; i++)
		total += args[i].inserted;
	cr_assert_eq(total, RACE_KEYS);
	cr_assert_eq(lim_table_count(t), RACE_KEYS);
	for (int k = 0; k < RACE_KEYS; k++)
		for (int i = 1; i < RACE_THREADS; i++)
			cr_assert_eq(args[i].where[k], args[0].where[k], "key %d", k);
	for (int i = 0; i < RACE_THREADS; i++)
		free(args[i].where);
	lim_table_free(t);
}
