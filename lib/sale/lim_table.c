/*
 * lim_table.c - the lock-free open-addressing table of lim_table.h.
 *
 * Slot life cycle, and the only transitions any core ever makes:
 *
 *   1-word key:  key 0 --CAS--> key+1            (insert into an empty slot)
 *                value v --CAS--> LIM_VAL_BUSY    (evict: we own the slot)
 *                  then key := new+1 (release), value := FRESH (release)
 *   2-word key:  key0 0 --CAS--> key0+1, then key1 0 --CAS--> key1+1
 *                (never evicted: both words are final once set)
 *
 * A slot never goes back to empty. So an inserter that scans its probe range
 * in order and takes the first empty slot cannot skip a slot another inserter
 * of the same key took: both meet in the same slot. That is what makes the
 * purchase set's "one key, one slot, one winner" hold without a lock.
 *
 * Memory orders follow DPDK's rte_cuckoo_hash: every load that is followed by
 * a load of something the writer published after it uses acquire, every
 * publishing store uses release, and each one names its pair.
 */
#include "lim_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mem_table.h"
#include "siphash.h"

/* Smallest table: one bucket of each layout, so the index math needs no
 * special case. */
#define LIM_MIN_SLOTS 4

static inline uint64_t *slot_at(const struct lim_table *t, size_t idx)
{
	return t->slots + idx * t->stride;
}

/* A key's probe sequence: its first bucket and a bucket stride, both from
 * one SipHash. Double hashing over whole buckets (an odd stride visits every
 * bucket of a power-of-two table) instead of walking to the next bucket:
 * linear probing grows clusters, and at load 0.5 a few keys in a million
 * found 32 taken slots in a row; with independent buckets that is ~1e-8. */
struct probe {
	size_t bucket;
	size_t step;
};

static inline struct probe probe_start(const struct lim_table *t, const uint64_t *key)
{
	uint64_t h = siphash24(t->sipkey, key, t->key_words * sizeof(uint64_t));

	return (struct probe){ (size_t)(h & t->bucket_mask),
			       (size_t)(((h >> 32) | 1) & t->bucket_mask) };
}

/* The i-th slot of the probe sequence: bucket after bucket, slot by slot. */
static inline uint64_t *probe_slot(const struct lim_table *t, struct probe p, uint32_t i)
{
	size_t b = (p.bucket + (i >> t->spb_shift) * p.step) & t->bucket_mask;

	return slot_at(t, (b << t->spb_shift) + (i & (t->slots_per_bucket - 1)));
}

static size_t next_pow2(size_t n)
{
	size_t p = LIM_MIN_SLOTS;

	while (p < n)
		p <<= 1;
	return p;
}

struct lim_table *lim_table_create(size_t capacity, unsigned key_words,
				   const uint64_t sipkey[2])
{
	struct lim_table *t;
	size_t bytes;

	if (capacity == 0 || capacity > ((size_t)1 << 40) ||
	    (key_words != 1 && key_words != 2)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->key_words = key_words;
	t->stride = key_words == 1 ? 2 : 4;
	t->slots_per_bucket = LIM_CACHE_LINE / (t->stride * sizeof(uint64_t));
	t->spb_shift = t->slots_per_bucket == 4 ? 2 : 1;
	t->capacity = capacity;
	t->nslots = next_pow2(2 * capacity);
	t->bucket_mask = t->nslots / t->slots_per_bucket - 1;
	t->probe_slots = t->nslots < LIM_PROBE_SLOTS ? (uint32_t)t->nslots : LIM_PROBE_SLOTS;
	if (sipkey != NULL) {
		t->sipkey[0] = sipkey[0];
		t->sipkey[1] = sipkey[1];
	} else if (getrandom(t->sipkey, sizeof(t->sipkey), 0) != sizeof(t->sipkey)) {
		free(t);
		return NULL;
	}
	/* Zero (= every slot empty), page aligned (so buckets sit on cache
	 * lines), populated now (the first touch of a page is not a page fault
	 * on a worker core in the middle of a sale), on huge pages where the
	 * kernel has them (a probe is a TLB miss otherwise): mem_table.h. */
	bytes = t->nslots * t->stride * sizeof(uint64_t);
	t->slots = mem_table_map(bytes, true);
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void lim_table_free(struct lim_table *t)
{
	if (t == NULL)
		return;
	mem_table_unmap(t->slots, t->nslots * t->stride * sizeof(uint64_t));
	free(t);
}

/* Make word *w hold `want`, if it is still 0. Returns the word's value after
 * the attempt (== want when it is ours or when someone stored the same). */
static inline uint64_t claim_word(uint64_t *w, uint64_t cur, uint64_t want, bool *won)
{
	/* Relaxed is enough on both sides: the only thing the CAS decides is
	 * which key the word holds, and CAS on one word is totally ordered. The
	 * value word of a never-used slot is 0 since create, which happens
	 * before the table is shared with the other cores. */
	*won = __atomic_compare_exchange_n(w, &cur, want, false,
					   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return *won ? want : cur;
}

static enum lim_table_res get1(struct lim_table *t, uint64_t key, bool insert,
			       uint64_t **val)
{
	const uint64_t enc = key + 1;
	struct probe p = probe_start(t, &key);

	for (uint32_t i = 0; i < t->probe_slots; i++) {
		uint64_t *s = probe_slot(t, p, i);
		/* Acquire pairs with the release store of the key in
		 * lim_table_evict: if we see the new key, our value load below
		 * sees LIM_VAL_BUSY or the new key's value, never the old key's. */
		uint64_t k = __atomic_load_n(&s[0], __ATOMIC_ACQUIRE);
		bool won = false;

		if (k == 0) {
			if (!insert)
				return LIM_T_ABSENT; /* first-empty rule: not further on */
			k = claim_word(&s[0], 0, enc, &won);
		}
		if (k != enc)
			continue;
		/* Acquire pairs with the release store of FRESH in evict. */
		if (__atomic_load_n(&s[1], __ATOMIC_ACQUIRE) == LIM_VAL_BUSY)
			return LIM_T_BUSY;
		*val = &s[1];
		return won ? LIM_T_INSERTED : LIM_T_FOUND;
	}
	return insert ? LIM_T_FULL : LIM_T_ABSENT;
}

static enum lim_table_res get2(struct lim_table *t, const uint64_t *key, bool insert,
			       uint64_t **val)
{
	const uint64_t e0 = key[0] + 1, e1 = key[1] + 1;
	struct probe p = probe_start(t, key);

	for (uint32_t i = 0; i < t->probe_slots; i++) {
		uint64_t *s = probe_slot(t, p, i);
		/* Relaxed loads of key words: each word is written once (0 ->
		 * final) and nothing else is published with it; the decision
		 * "this slot is my key" depends only on the two values. */
		uint64_t k0 = __atomic_load_n(&s[0], __ATOMIC_RELAXED), k1;
		bool won = false;

		if (k0 == 0) {
			if (!insert)
				return LIM_T_ABSENT;
			k0 = claim_word(&s[0], 0, e0, &won);
		}
		if (k0 != e0)
			continue;
		k1 = __atomic_load_n(&s[1], __ATOMIC_RELAXED);
		if (k1 == 0) {
			/* Someone with our first word is mid-insert (maybe us).
			 * Whoever sets the second word owns the slot; a slot
			 * never left half-set can hide our key further on. */
			if (!insert)
				return LIM_T_ABSENT;
			k1 = claim_word(&s[1], 0, e1, &won);
		} else {
			won = false;
		}
		if (k1 != e1)
			continue;
		*val = &s[2];
		return won ? LIM_T_INSERTED : LIM_T_FOUND;
	}
	return insert ? LIM_T_FULL : LIM_T_ABSENT;
}

enum lim_table_res lim_table_get(struct lim_table *t, const uint64_t *key,
				 bool insert, uint64_t **val)
{
	if (key[0] == UINT64_MAX || (t->key_words == 2 && key[1] == UINT64_MAX))
		return LIM_T_BADKEY;
	return t->key_words == 1 ? get1(t, key[0], insert, val)
				 : get2(t, key, insert, val);
}

const void *lim_table_slot(const struct lim_table *t, const uint64_t *key)
{
	return probe_slot(t, probe_start(t, key), 0);
}

void lim_table_prefetch(const struct lim_table *t, const uint64_t *key)
{
	/* For writing: an insert or a CAS on the value follows. */
	__builtin_prefetch(lim_table_slot(t, key), 1, 3);
}

uint64_t *lim_table_evict(struct lim_table *t, uint64_t key,
			  bool (*idle)(uint64_t value, void *ctx), void *ctx)
{
	struct probe p;

	if (t->key_words != 1 || key == UINT64_MAX)
		return NULL;
	p = probe_start(t, &key);
	for (uint32_t i = 0; i < t->probe_slots; i++) {
		uint64_t *s = probe_slot(t, p, i);
		/* Acquire pairs with the release stores below (another evictor):
		 * the value we judge idle is at least as new as the key we saw. */
		uint64_t k = __atomic_load_n(&s[0], __ATOMIC_ACQUIRE);
		uint64_t v = __atomic_load_n(&s[1], __ATOMIC_ACQUIRE);

		if (k == key + 1 && v != LIM_VAL_BUSY)
			return &s[1]; /* another core installed our key meanwhile */
		if (k == 0 || v == LIM_VAL_BUSY || !idle(v, ctx))
			continue;
		/* Taking the value word to BUSY makes the slot ours: every
		 * updater of the old key CASes from the value it read, so its
		 * CAS fails from here on and it goes back to the lookup.
		 * Acquire keeps the key store below after this CAS. */
		if (!__atomic_compare_exchange_n(&s[1], &v, LIM_VAL_BUSY, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		/* Release: a reader that sees the new key (acquire load in get1)
		 * also sees BUSY or later in the value word, never the old
		 * key's value under the new key. */
		__atomic_store_n(&s[0], key + 1, __ATOMIC_RELEASE);
		/* Release pairs with the acquire value loads in get1 and
		 * lim_check: whoever sees FRESH also sees the new key. */
		__atomic_store_n(&s[1], LIM_VAL_FRESH, __ATOMIC_RELEASE);
		return &s[1];
	}
	return NULL;
}

size_t lim_table_count(const struct lim_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nslots; i++) {
		const uint64_t *s = slot_at(t, i);

		/* The last key word is set last: it says the slot is complete. */
		n += __atomic_load_n(&s[t->key_words - 1], __ATOMIC_RELAXED) != 0;
	}
	return n;
}
