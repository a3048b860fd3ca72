/*
 * lim_table.h - fixed-capacity lock-free hash table shared by all worker cores.
 *
 * The one data structure under the per-IP and per-buyer rate limits
 * (lim_bucket.h) and the per-(campaign, buyer) purchase set (lim_purchase.h).
 *
 * The idea:
 * - Open addressing over buckets of one cache line: 4 slots of (key, value)
 *   for 1-word keys, 2 slots of (key0, key1, value, pad) for 2-word keys.
 *   SipHash-2-4 of the key, with a random per-table key, gives the first
 *   bucket and an odd bucket stride (double hashing over buckets, slots of a
 *   bucket in order), so an attacker cannot aim a flood at one bucket or one
 *   probe sequence.
 * - A key may only live in the first LIM_PROBE_SLOTS slots of its probe
 *   sequence (8 cache lines for 1-word keys, 16 for 2-word ones). If those are
 *   all taken by other keys, the table counts as full for that key: the caller
 *   applies its own policy (limits evict an idle entry or fail open; the
 *   purchase set answers 503).
 * - Every word is read and written with __atomic builtins; a key word goes
 *   from 0 (empty) to its final value with one CAS, so there is no lock and no
 *   torn key. Key words are stored as key + 1 so that key 0 is representable;
 *   the price is that UINT64_MAX is not a valid key word (LIM_T_BADKEY).
 * - A 2-word key is claimed word by word: whoever CASes the second word from
 *   0 decides which key owns the slot, and anybody else who was inserting into
 *   that slot moves on to the next one. Once both words are set they never
 *   change again, so two inserters of the same key always end in one slot.
 * - The value is one 64-bit word the caller updates with CAS. 0 means "fresh"
 *   (the key was just inserted). LIM_VAL_BUSY is reserved for the eviction
 *   protocol (lim_table_evict) and is never a valid value.
 * - All memory is allocated once in lim_table_create; nothing after.
 *
 * Capacity: create(capacity) allocates the next power of two >= 2 * capacity
 * slots, so the load factor stays <= 0.5 when the table holds `capacity` keys.
 * At 0.5, 32 taken slots in one key's sequence is ~1e-8 per key, so "full
 * for this key" in practice means the table really is full.
 */
#ifndef SECKILL_LIM_TABLE_H
#define SECKILL_LIM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIM_CACHE_LINE 64
/* How many slots a key may be placed in, starting at its hashed bucket:
 * 8 cache lines of 1-word slots. Bounds the worst-case lookup cost. */
#define LIM_PROBE_SLOTS 32
/* Value word reserved for "slot being recycled": never stored by users. */
#define LIM_VAL_BUSY UINT64_MAX
/* Value word of a key that was just inserted and never updated. */
#define LIM_VAL_FRESH 0

enum lim_table_res {
	LIM_T_FOUND,    /* key present; *val points at its value word */
	LIM_T_INSERTED, /* key inserted by this call; value is LIM_VAL_FRESH */
	LIM_T_ABSENT,   /* lookup only: key not present */
	LIM_T_FULL,     /* key absent and its probe range holds other keys */
	LIM_T_BUSY,     /* key's slot is being recycled right now: retry */
	LIM_T_BADKEY,   /* a key word is UINT64_MAX, which cannot be stored */
};

struct lim_table {
	uint64_t *slots;        /* nslots * stride words, cache-line aligned */
	uint64_t bucket_mask;   /* nbuckets - 1 */
	size_t nslots;
	size_t capacity;        /* what the caller asked for */
	uint32_t key_words;     /* 1 or 2 */
	uint32_t stride;        /* words per slot: 2 or 4 */
	uint32_t slots_per_bucket;
	uint32_t spb_shift;     /* log2(slots_per_bucket) */
	uint32_t probe_slots;   /* min(LIM_PROBE_SLOTS, nslots) */
	uint64_t sipkey[2];
};

/* Create a table for `capacity` keys of `key_words` (1 or 2) 64-bit words.
 * sipkey NULL draws a random key from getrandom(). Returns NULL (errno set)
 * on a bad argument or when memory cannot be allocated. */
struct lim_table *lim_table_create(size_t capacity, unsigned key_words,
				   const uint64_t sipkey[2]);
void lim_table_free(struct lim_table *t);
/* Starts loading the first bucket of key's probe sequence into this core's
 * cache, for a lim_table_get soon after: a large table's slot is a cache
 * miss, and issued early it overlaps the caller's other work. Costs the
 * hash; a bad key is ignored. */
void lim_table_prefetch(const struct lim_table *t, const uint64_t *key);
/* The slot lim_table_prefetch loads, for a caller that issues a batch of
 * prefetches together (see sale_prefetch_issue). Costs the hash. */
const void *lim_table_slot(const struct lim_table *t, const uint64_t *key);

/* Find `key` (t->key_words words); when insert is true and the key is
 * absent, insert it in the first empty slot of its probe range. On
 * FOUND/INSERTED, *val points at the key's value word (use __atomic ops).
 * Lock-free: never waits for another core. */
enum lim_table_res lim_table_get(struct lim_table *t, const uint64_t *key,
				 bool insert, uint64_t **val);

/* For 1-word tables that may evict: take over a slot in key's probe range
 * whose value `idle(value, ctx)` says may be dropped, install `key` there with
 * value LIM_VAL_FRESH, and return its value word; NULL if no slot in the range
 * is idle (or every idle one was taken by someone else first). If another
 * core installed `key` in the range meanwhile, returns that key's value word.
 * Two cores evicting for the same absent key at the same instant can both
 * install it (two slots); lookups then use the first in probe order and the
 * other goes idle and is evicted later. For a rate limit that costs at most
 * one extra new-key pass per racing core, so we accept it rather than add a
 * second CAS round to every eviction. */
uint64_t *lim_table_evict(struct lim_table *t, uint64_t key,
			  bool (*idle)(uint64_t value, void *ctx), void *ctx);

/* True when the slot holding value word `val` still belongs to `key`
 * (1-word tables): after loading a value with acquire, a caller checks this
 * to know the value it read was that key's and not a recycled slot's. */
static inline bool lim_table_owns(const struct lim_table *t, const uint64_t *val,
				  uint64_t key)
{
	/* Relaxed is enough: the caller's acquire load of the value word orders
	 * this load after it, and an evictor stores the new key (release) before
	 * it publishes the new value, so a value we saw from the old key can only
	 * be followed here by the old key or a newer one. */
	(void)t;
	return __atomic_load_n(val - 1, __ATOMIC_RELAXED) == key + 1;
}

/* Number of slots whose key is set (walks the table; for tests and stats). */
size_t lim_table_count(const struct lim_table *t);

#endif
