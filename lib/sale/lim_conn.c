/*
 * lim_conn.c - per-address connection counts shared by the worker cores
 * (nginx limit_conn). lim_conn.h states the idea and its one accepted race.
 */
#include "lim_conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

#include "mem_table.h"
#include "siphash.h"

/* A tiny table still has a whole probe range. */
#define LIM_CONN_MIN_SLOTS 64
/* Far more than any core count times any table: a typo, not a plan. */
#define LIM_CONN_MAX_CONNS ((size_t)1 << 32)
/* A claim that loses its CAS scans again; after this many losses in a row
 * (other cores churning the same range) the connection is let in uncounted
 * rather than spin on the accept path. */
#define LIM_CONN_CLAIM_TRIES 8

struct lim_conn {
	uint64_t *slots;         /* nslots words: ip << 32 | count */
	size_t nslots;           /* a power of two */
	size_t mask;
	uint32_t limit;          /* __atomic; 0: off */
	uint64_t unmatched;      /* __atomic; releases with no count to take */
	uint64_t sipkey[2];
};

static inline uint32_t slot_ip(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static inline uint32_t slot_count(uint64_t w)
{
	return (uint32_t)w;
}

static inline size_t home(const struct lim_conn *t, uint32_t ip)
{
	return (size_t)siphash13_short(t->sipkey, ip, 4) & t->mask;
}

static inline uint64_t *slot_at(const struct lim_conn *t, size_t h, unsigned i)
{
	return &t->slots[(h + i) & t->mask];
}

/* Relaxed loads and CASes throughout: each slot word is the whole state of
 * its address, nothing else is read because of what it holds, and a CAS on
 * one word is totally ordered with every other change to it (lim_conn.h). */
static inline uint64_t load(const uint64_t *w)
{
	return __atomic_load_n(w, __ATOMIC_RELAXED);
}

static inline bool cas(uint64_t *w, uint64_t *cur, uint64_t want)
{
	return __atomic_compare_exchange_n(w, cur, want, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

struct lim_conn *lim_conn_create(size_t conns, uint32_t limit, const uint64_t sipkey[2])
{
	struct lim_conn *t;
	size_t n = LIM_CONN_MIN_SLOTS;

	if (conns == 0 || conns > LIM_CONN_MAX_CONNS) {
		errno = EINVAL;
		return NULL;
	}
	while (n < 2 * conns)
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->nslots = n;
	t->mask = n - 1;
	t->limit = limit;
	if (sipkey != NULL) {
		t->sipkey[0] = sipkey[0];
		t->sipkey[1] = sipkey[1];
	} else if (getrandom(t->sipkey, sizeof(t->sipkey), 0) != sizeof(t->sipkey)) {
		free(t);
		return NULL;
	}
	/* Zero (every slot free) and populated now, as lim_table's: no page
	 * fault on a worker in the middle of a sale (mem_table.h). */
	t->slots = mem_table_map(n * sizeof(uint64_t), true);
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void lim_conn_free(struct lim_conn *t)
{
	if (t == NULL)
		return;
	mem_table_unmap(t->slots, t->nslots * sizeof(uint64_t));
	free(t);
}

void lim_conn_set_limit(struct lim_conn *t, uint32_t limit)
{
	/* Relaxed: the limit guards no other data; a core that sees the old
	 * one for a few more admits is the same as those arriving earlier. */
	__atomic_store_n(&t->limit, limit, __ATOMIC_RELAXED);
}

uint32_t lim_conn_limit(const struct lim_conn *t)
{
	return __atomic_load_n(&t->limit, __ATOMIC_RELAXED);
}

/* One more on the slot *w that names ip (its word now cur), below limit.
 * False when the slot stopped naming ip meanwhile (the caller scans again). */
static bool bump(uint64_t *w, uint64_t cur, uint32_t ip, uint32_t limit,
		 enum lim_conn_verdict *v)
{
	do {
		if (slot_ip(cur) != ip)
			return false;
		if (slot_count(cur) >= limit) {
			*v = LIM_CONN_REFUSE;
			return true;
		}
	} while (!cas(w, &cur, cur + 1));
	*v = LIM_CONN_COUNTED;
	return true;
}

enum lim_conn_verdict lim_conn_admit(struct lim_conn *t, uint32_t ip)
{
	uint32_t limit = lim_conn_limit(t);
	size_t h;

	/* 0.0.0.0 is no peer's address (lib/net drops it as a source) and its
	 * word would read as never used once its count fell back to 0. */
	if (limit == 0 || ip == 0)
		return LIM_CONN_OFF;
	h = home(t, ip);
	for (unsigned tries = 0; tries < LIM_CONN_CLAIM_TRIES; tries++) {
		uint64_t *free_w = NULL, free_cur = 0, cur;
		enum lim_conn_verdict v;
		unsigned i;

		/* The whole range first: ip's slot may sit after a free one. */
		for (i = 0; i < LIM_CONN_PROBE; i++) {
			uint64_t *w = slot_at(t, h, i);

			cur = load(w);
			if (slot_ip(cur) == ip && slot_count(cur) != 0)
				break;
			if (slot_count(cur) == 0 && free_w == NULL) {
				free_w = w;
				free_cur = cur;
			}
			if (cur == 0)
				break;          /* never used: nothing lives past it */
		}
		if (i < LIM_CONN_PROBE && cur != 0) {
			if (bump(slot_at(t, h, i), cur, ip, limit, &v))
				return v;
			continue;
		}
		if (free_w == NULL)
			return LIM_CONN_FULL;
		/* Claim the first free slot; lost to another core: scan again
		 * (it may have been ip's own claim). */
		if (cas(free_w, &free_cur, (uint64_t)ip << 32 | 1))
			return LIM_CONN_COUNTED;
	}
	return LIM_CONN_FULL;
}

void lim_conn_release(struct lim_conn *t, uint32_t ip)
{
	size_t h = home(t, ip);

	for (unsigned i = 0; i < LIM_CONN_PROBE; i++) {
		uint64_t *w = slot_at(t, h, i);
		uint64_t cur = load(w);

		/* A slot with a count keeps its address until the count is
		 * taken back to 0, so a failed CAS only means another core
		 * changed the count: look at this slot again. */
		if (cur == 0)
			break;                  /* never used: nothing lives past it */
		while (slot_ip(cur) == ip && slot_count(cur) != 0)
			if (cas(w, &cur, cur - 1))
				return;
	}
	__atomic_fetch_add(&t->unmatched, 1, __ATOMIC_RELAXED);
}

uint32_t lim_conn_count(const struct lim_conn *t, uint32_t ip)
{
	size_t h = home(t, ip);
	uint32_t n = 0;

	for (unsigned i = 0; i < LIM_CONN_PROBE; i++) {
		uint64_t cur = load(slot_at(t, h, i));

		if (cur == 0)
			break;
		if (slot_ip(cur) == ip)
			n += slot_count(cur);
	}
	return n;
}

size_t lim_conn_addresses(const struct lim_conn *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nslots; i++)
		n += slot_count(load(&t->slots[i])) != 0;
	return n;
}

uint64_t lim_conn_unmatched(const struct lim_conn *t)
{
	return __atomic_load_n(&t->unmatched, __ATOMIC_RELAXED);
}

size_t lim_conn_bytes(const struct lim_conn *t)
{
	return t->nslots * sizeof(uint64_t);
}
