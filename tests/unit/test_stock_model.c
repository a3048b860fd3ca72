/*
 * Exhaustive check of the stock protocol for small cases, on the real code:
 * lib/sale/stock_pool.c and stock_pool.h's stock_take() are compiled into this
 * file with <stdatomic.h>'s operations replaced by hooks, and 2 or 3
 * simulated cores run them through every interleaving of their accesses to
 * shared memory, under sequential consistency, for stocks of 1 to 12.
 *
 * How the real code is stepped. A step of a core is one access to a protocol
 * word (the pool's remaining, ret_begin and ret_end, a share's units word)
 * and the core's local work up to its next one, where the hook stops it
 * (longjmp). To take the next step, the core's call (stock_take() or
 * stock_return()) runs again from its start with the values its earlier
 * accesses read fed back and nothing written (the code is deterministic, so
 * it comes back to the same point with the same locals), and one more access
 * is made for real. A core's state is therefore its place in its script and
 * what its accesses read so far; with the protocol words that is a state of
 * the search. A depth-first search expands each state once (states are
 * hashed, 128 bits standing for a state), so every interleaving is covered.
 * The chunk a refill takes is the real stock_chunk_size() in one case, with
 * the real round bound STOCK_SCAN_TRIES; in the others it is every chunk from
 * 1 to what the pool held, so any later rule is covered too, with fewer
 * rounds (see "The size of the search" below). Takes and returns are
 * modelled; stock_grant() and the upstream flag (always clear) are not.
 *
 * The oracle: where every unit is. The hooks see each change to a count (the
 * pool, a share), so the units each core holds in hand (taken from a count,
 * not yet put into one nor given to a buyer) are known without trusting the
 * code under test. Checked:
 *  - at every access: no count leaves 0..stock (a take below 0 wraps);
 *  - in every state: no core has put in more than it took;
 *  - at every answer: STOCK_OK leaves exactly one unit in hand, the buyer's;
 *    SOLD_OUT, RETRY and a return leave none (no unit created or lost);
 *  - SOLD_OUT: some state during the call had no unit in the pool, in any
 *    share or in the hand of a refilling core beyond its buyer's (the promise
 *    in stock_pool.h);
 *  - RETRY: some state during the call had a unit in motion (a share flagged
 *    mid-refill, or a return between its two counter bumps);
 *  - in every final state: no refill flag left set.
 *
 * The bug variants at the end make one kind of access behave as a one-line
 * edit of stock_pool.{c,h} would; each must be caught: they show the check can
 * fail, and why each part of the protocol is there.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MC_CORES 3
/* Accesses and chunk choices one call may make (the 8-round slow path with
 * a busy peer makes up to 45 in the cases below). */
#define MC_HIST 64
/* A units word in a state: the count, and the refill flag as bit 7. */
#define MC_FLAG 0x80u
#define MC_COUNT 0x7fu

enum { BUG_NONE = 0, BUG_NO_FLAG = 1, BUG_NO_STEAL = 2, BUG_RET_END_ONLY = 4,
       BUG_TAKE_NOT_ATOMIC = 8 };

/* What a call's run ended in, besides STOCK_OK, STOCK_SOLD_OUT, STOCK_RETRY. */
enum { MC_RETURNED = 3, MC_PAUSED, MC_FAILED };

/* One simulated core. Bytes only: a state is hashed as its bytes. */
struct mc_core {
	uint8_t op;              /* position in its script */
	uint8_t in_call;         /* the op has taken its first step */
	uint8_t held;            /* units this core's buyers hold */
	int8_t hand;             /* units taken from counts, not put back or sold */
	uint8_t saw_empty, saw_motion;
	uint8_t hlen;            /* accesses and choices of the call so far */
	uint8_t hist[MC_HIST];   /* what each one read (or chose), in order */
};

struct mc_state {
	uint8_t pool, ret_begin, ret_end;
	uint8_t units[MC_CORES];                     /* count | MC_FLAG */
	uint8_t sold_out[MC_CORES], seen_ret[MC_CORES]; /* owner-only fields */
	struct mc_core core[MC_CORES];
};

struct mc {
	unsigned n, stock, max_chunk, bugs;
	bool any_chunk;  /* every chunk 1..left, not only stock_chunk_size() */
	const char *script[MC_CORES];  /* 'T' take, 'R' return one if held */
	/* the step being taken */
	struct mc_state *s;
	unsigned me, pos, choice, n_choices;
	bool stepped;    /* this step's access is done: the next one pauses */
	unsigned chose;  /* a chunk was chosen in this step, among 1..chose */
	unsigned choice_at;  /* where in hist */
	jmp_buf jb;
	/* visited set: 128-bit hashes of states */
	uint64_t (*seen)[2];
	size_t cap, count;
	/* the DFS stack */
	struct mc_state *stack;
	size_t depth, stack_cap;
	uint64_t answers[3];
	unsigned max_hlen;
	char why[256];
};

static struct mc *mc_cur;       /* the search the hooks serve; NULL: plain atomics */
static unsigned mc_tries;       /* the slow path's round bound (see below) */

static uint64_t mc_load(void *p, size_t size);
static void mc_store(void *p, size_t size, uint64_t v);
static bool mc_cas(_Atomic uint64_t *p, uint64_t *expected, uint64_t desired);
static uint64_t mc_add(_Atomic uint64_t *p, uint64_t v);
static uint64_t mc_xchg(_Atomic uint64_t *p, uint64_t v);
static uint64_t mc_chunk(uint64_t left, unsigned n_takers, uint64_t max_chunk);

/* Every atomic of stock_pool.{h,c} goes through a hook; orders are all
 * treated as seq_cst (the search is under sequential consistency). */
#undef atomic_init
#undef atomic_load
#undef atomic_load_explicit
#undef atomic_store
#undef atomic_store_explicit
#undef atomic_compare_exchange_weak
#undef atomic_compare_exchange_weak_explicit
#undef atomic_fetch_add
#undef atomic_fetch_add_explicit
#undef atomic_exchange
#define atomic_init(p, v) mc_store((void *)(p), sizeof(*(p)), (uint64_t)(v))
#define atomic_load(p) mc_load((void *)(p), sizeof(*(p)))
#define atomic_load_explicit(p, o) mc_load((void *)(p), sizeof(*(p)))
#define atomic_store(p, v) mc_store((void *)(p), sizeof(*(p)), (uint64_t)(v))
#define atomic_store_explicit(p, v, o) mc_store((void *)(p), sizeof(*(p)), (uint64_t)(v))
#define atomic_compare_exchange_weak(p, e, d) mc_cas((p), (e), (d))
#define atomic_compare_exchange_weak_explicit(p, e, d, os, of) mc_cas((p), (e), (d))
#define atomic_fetch_add(p, v) mc_add((p), (v))
#define atomic_fetch_add_explicit(p, v, o) mc_add((p), (v))
#define atomic_exchange(p, v) mc_xchg((p), (v))

#include "stock_pool.h"

/* The real round bound, kept before the code under test reads mc_tries. */
enum { MC_SCAN_TRIES = STOCK_SCAN_TRIES };
#undef STOCK_SCAN_TRIES
#define STOCK_SCAN_TRIES ((int)mc_tries)
#define stock_chunk_size(left, n, max) mc_chunk((left), (n), (max))

#include "stock_pool.c"

#undef stock_chunk_size

static struct stock_pool mc_pool;

/* ---- the hooks ---- */

static int
mc_check_fail(struct mc *m, const char *what)
{
	if (!m->why[0])
		snprintf(m->why, sizeof(m->why), "%s (core %u, n %u, stock %u, chunk %u)",
			 what, m->me, m->n, m->stock, m->max_chunk);
	return -1;
}

/* A violation inside a step: the step ends here. */
static __attribute__((noreturn)) void
mc_fail(struct mc *m, const char *what)
{
	mc_check_fail(m, what);
	longjmp(m->jb, 2);
}

/* A word as a state keeps it: count and flag in a byte (count <= MC_COUNT). */
static uint8_t
mc_compact_word(uint64_t v)
{
	return (uint8_t)((v & STOCK_COUNT_MASK) | (v & STOCK_REFILLING ? MC_FLAG : 0));
}

static uint8_t
mc_compact(struct mc *m, uint64_t v)
{
	if ((v & STOCK_COUNT_MASK) > MC_COUNT)
		mc_fail(m, "count out of 0..stock");
	return mc_compact_word(v);
}

static uint64_t
mc_wide(uint8_t b)
{
	return (b & MC_COUNT) | (b & MC_FLAG ? STOCK_REFILLING : 0);
}

/* Which protocol word p is: 0 remaining, 1 ret_begin, 2 ret_end, 3 + j share
 * j's units; -1 for the statistics (sold, returned, ...), which the search
 * neither steps on nor keeps. */
static int
mc_word(const struct mc *m, const void *p)
{
	struct stock_pool *pool = &mc_pool;

	if (p == &pool->remaining)
		return 0;
	if (p == &pool->ret_begin)
		return 1;
	if (p == &pool->ret_end)
		return 2;
	for (unsigned j = 0; j < m->n; j++)
		if (p == &pool->share[j].units)
			return 3 + (int)j;
	return -1;
}

enum mc_kind { MC_LOAD, MC_STORE, MC_CAS, MC_ADD, MC_XCHG };

/* The access itself, on plain memory: returns the old value, sets *new. */
static uint64_t
mc_do(enum mc_kind k, _Atomic uint64_t *p, const uint64_t *expected, uint64_t v,
      uint64_t *new)
{
	uint64_t old = *p;

	switch (k) {
	case MC_LOAD:
		*new = old;
		break;
	case MC_STORE:
	case MC_XCHG:
		*new = v;
		break;
	case MC_CAS:
		*new = old == *expected ? v : old;
		break;
	case MC_ADD:
		*new = old + v;
		break;
	}
	*p = *new;
	return old;
}

/* What the code gets back from an access that saw `seen`. */
static uint64_t
mc_result(enum mc_kind k, uint64_t seen, uint64_t *expected)
{
	if (k != MC_CAS)
		return seen;
	if (seen == *expected)
		return 1;
	*expected = seen;
	return 0;
}

/* Units leaving (> 0) or entering (< 0) a count that goes from old to new. */
static int8_t
mc_moved(uint64_t old, uint64_t new)
{
	return (int8_t)((int64_t)(old & STOCK_COUNT_MASK) - (int64_t)(new & STOCK_COUNT_MASK));
}

/*
 * The bug variants, each one access of stock_pool.{h,c} edited. Returns what
 * the code sees (the word's value unless a variant says otherwise); *done
 * when the variant did the access itself, or none.
 */
static uint64_t
mc_mutate(struct mc *m, int word, enum mc_kind k, _Atomic uint64_t *p, uint64_t *v,
	  const uint64_t *expected, bool *done)
{
	bool own = word >= 3 && (unsigned)word - 3 == m->me;

	*done = false;
	/* NO_FLAG: stock_refill() stores a plain 0 instead of STOCK_REFILLING. */
	if ((m->bugs & BUG_NO_FLAG) && k == MC_STORE && word >= 3)
		*v &= ~STOCK_REFILLING;
	/* RET_END_ONLY: one counter, bumped after the units land (stock_add()
	 * without its first fetch_add, its readers reading ret_end). */
	if ((m->bugs & BUG_RET_END_ONLY) && word == 1) {
		*done = true;
		return mc_pool.ret_end;
	}
	/* NO_STEAL: stock_steal() never finds a count in another share (its
	 * loop is never entered; it still notes a share mid-refill). */
	if ((m->bugs & BUG_NO_STEAL) && k == MC_LOAD && word >= 3 && !own)
		return *p & ~STOCK_COUNT_MASK;
	/* TAKE_NOT_ATOMIC: stock_take()'s own-share CAS is a load and a store:
	 * the store goes in whatever the share holds by now. */
	if ((m->bugs & BUG_TAKE_NOT_ATOMIC) && k == MC_CAS && own) {
		m->s->core[m->me].hand += mc_moved(*p, *v);
		*p = *v;
		*done = true;
		return *expected;
	}
	return *p;
}

static uint64_t
mc_access(enum mc_kind k, _Atomic uint64_t *p, uint64_t *expected, uint64_t v)
{
	struct mc *m = mc_cur;
	struct mc_core *c;
	uint64_t seen, old, new;
	int word;
	bool done;

	if (m == NULL || m->s == NULL || (word = mc_word(m, p)) < 0) {
		/* Not a protocol word (or set-up): plain, except that a call
		 * being re-run writes nothing it wrote before. */
		c = m && m->s ? &m->s->core[m->me] : NULL;
		if (c && m->pos < c->hlen && k != MC_LOAD)
			return k == MC_CAS ? 1 : *p;
		old = mc_do(k, p, expected, v, &new);
		return mc_result(k, old, expected);
	}
	c = &m->s->core[m->me];
	if (m->pos < c->hlen)           /* re-running: what it read before */
		return mc_result(k, mc_wide(c->hist[m->pos++]), expected);
	if (m->stepped)                 /* the next step's access: stop here */
		longjmp(m->jb, 1);
	m->stepped = true;
	seen = mc_mutate(m, word, k, p, &v, expected, &done);
	if (!done) {
		old = mc_do(k, p, expected, v, &new);
		/* The counts: the pool and the shares (ret_* are not units). */
		if (word == 0 || word >= 3) {
			if ((new & STOCK_COUNT_MASK) > m->stock)
				mc_fail(m, "count out of 0..stock");
			c->hand += mc_moved(old, new);
		}
	}
	if (m->chose) {
		/* The chunk matters only if the CAS takes it; otherwise the
		 * code computes a new one, and choice 1 stands for them all. */
		if (k != MC_CAS || word != 0)
			mc_fail(m, "a chunk chosen but not taken from the pool");
		if (seen == *expected)
			m->n_choices = m->chose;
		else
			c->hist[m->choice_at] = 1;
	}
	if (c->hlen == MC_HIST)
		mc_fail(m, "a call longer than MC_HIST accesses");
	c->hist[c->hlen++] = mc_compact(m, seen);
	m->pos++;
	return mc_result(k, seen, expected);
}

static uint64_t
mc_load(void *p, size_t size)
{
	if (size == sizeof(uint32_t))   /* upstream: not modelled, always 0 */
		return *(_Atomic uint32_t *)p;
	return mc_access(MC_LOAD, p, NULL, 0);
}

static void
mc_store(void *p, size_t size, uint64_t v)
{
	if (size == sizeof(uint32_t))
		*(_Atomic uint32_t *)p = (uint32_t)v;
	else
		mc_access(MC_STORE, p, NULL, v);
}

static bool
mc_cas(_Atomic uint64_t *p, uint64_t *expected, uint64_t desired)
{
	return mc_access(MC_CAS, p, expected, desired) != 0;
}

static uint64_t
mc_add(_Atomic uint64_t *p, uint64_t v)
{
	return mc_access(MC_ADD, p, NULL, v);
}

static uint64_t
mc_xchg(_Atomic uint64_t *p, uint64_t v)
{
	return mc_access(MC_XCHG, p, NULL, v);
}

/*
 * The refill's chunk: the real rule, or (any_chunk) the step's choice among
 * 1..left. A choice starts a step, the one of the pool CAS that follows it,
 * so it is made at the moment the CAS takes it, as one atomic step.
 */
static uint64_t
mc_chunk(uint64_t left, unsigned n_takers, uint64_t max_chunk)
{
	struct mc *m = mc_cur;
	struct mc_core *c;

	if (m == NULL || !m->any_chunk)
		return (stock_chunk_size)(left, n_takers, max_chunk);
	c = &m->s->core[m->me];
	if (m->pos < c->hlen)
		return c->hist[m->pos++];
	if (m->stepped)
		longjmp(m->jb, 1);
	if (m->chose || left == 0 || left > MC_COUNT)
		mc_fail(m, "a chunk chosen outside a refill");
	if (c->hlen == MC_HIST)
		mc_fail(m, "a call longer than MC_HIST accesses");
	m->chose = (unsigned)left;
	m->choice_at = c->hlen;
	c->hist[c->hlen++] = (uint8_t)(m->choice <= left ? m->choice : 1);
	m->pos++;
	return c->hist[m->choice_at];
}

/* ---- the search ---- */

static unsigned
mc_in_stock(const struct mc *m, const struct mc_state *s)
{
	unsigned u = s->pool;

	for (unsigned i = 0; i < m->n; i++) {
		const struct mc_core *c = &s->core[i];

		u += s->units[i] & MC_COUNT;
		/* A refill's chunk on its way to the share, the buyer's unit aside. */
		if (c->in_call && m->script[i][c->op] == 'T' && c->hand > 1)
			u += (unsigned)c->hand - 1;
	}
	return u;
}

/* Is a unit in motion: a share mid-refill, or a return half done? */
static bool
mc_in_motion(const struct mc *m, const struct mc_state *s)
{
	for (unsigned i = 0; i < m->n; i++)
		if (s->units[i] & MC_FLAG)
			return true;
	return s->ret_begin != s->ret_end;
}

static void
mc_to_memory(const struct mc *m, const struct mc_state *s)
{
	struct stock_pool *pool = &mc_pool;

	pool->remaining = s->pool;
	pool->ret_begin = s->ret_begin;
	pool->ret_end = s->ret_end;
	for (unsigned j = 0; j < m->n; j++) {
		pool->share[j].units = mc_wide(s->units[j]);
		pool->share[j].sold_out = s->sold_out[j];
		pool->share[j].seen_ret = s->seen_ret[j];
	}
}

static int
mc_from_memory(struct mc *m, struct mc_state *s)
{
	struct stock_pool *pool = &mc_pool;
	uint64_t w[3] = { pool->remaining, pool->ret_begin, pool->ret_end };

	for (int i = 0; i < 3; i++)
		if (w[i] > MC_COUNT)
			return -1;
	s->pool = (uint8_t)w[0];
	s->ret_begin = (uint8_t)w[1];
	s->ret_end = (uint8_t)w[2];
	for (unsigned j = 0; j < m->n; j++) {
		uint64_t u = pool->share[j].units;

		if ((u & STOCK_COUNT_MASK) > MC_COUNT || pool->share[j].seen_ret > 0xff)
			return -1;
		s->units[j] = mc_compact_word(u);
		s->sold_out[j] = pool->share[j].sold_out;
		s->seen_ret[j] = (uint8_t)pool->share[j].seen_ret;
	}
	return 0;
}

/* Runs core m->me's call until it pauses, answers or fails. */
static int
mc_call(struct mc *m, bool taking)
{
	int r = setjmp(m->jb);

	if (r)
		return r == 1 ? MC_PAUSED : MC_FAILED;
	if (taking)
		return stock_take(&mc_pool, m->me);
	stock_return(&mc_pool, 1);
	return MC_RETURNED;
}

/* The call ended with rc: check the answer against where the units are. */
static int
mc_answer(struct mc *m, struct mc_core *c, int rc)
{
	if (rc == STOCK_OK) {
		if (c->hand != 1)
			return mc_check_fail(m, "units created or lost");
		c->held++;
	} else if (c->hand != 0) {
		return mc_check_fail(m, "units created or lost");
	}
	if (rc == STOCK_SOLD_OUT && !c->saw_empty)
		return mc_check_fail(m, "SOLD_OUT while stock remained");
	if (rc == STOCK_RETRY && !c->saw_motion)
		return mc_check_fail(m, "RETRY with nothing in motion");
	if (rc <= STOCK_RETRY)
		m->answers[rc]++;
	*c = (struct mc_core){ .op = c->op + 1, .held = c->held };
	return 0;
}

/*
 * One step of core `me` on `s`: `choice` picks the chunk if the step makes a
 * refill's choice, whose range it returns in *n_choices (0: none).
 */
static int
mc_step(struct mc *m, struct mc_state *s, unsigned me, unsigned choice, unsigned *n_choices)
{
	struct mc_core *c = &s->core[me];
	bool taking = m->script[me][c->op] == 'T';
	int rc;

	*n_choices = 0;
	m->me = me;
	if (!c->in_call) {
		if (!taking && !c->held) {      /* nothing to give back: a no-op */
			c->op++;
			return 0;
		}
		c->in_call = 1;
		if (taking) {   /* the state before the first step is in the call */
			c->saw_empty = mc_in_stock(m, s) == 0;
			c->saw_motion = mc_in_motion(m, s);
		} else {        /* the buyer's unit is in the returning hand */
			c->held--;
			c->hand++;
		}
	}
	mc_to_memory(m, s);
	m->s = s;
	m->pos = 0;
	m->choice = choice;
	m->n_choices = 0;
	m->chose = 0;
	m->stepped = false;
	rc = mc_call(m, taking);
	m->s = NULL;
	*n_choices = m->n_choices;
	if (rc == MC_FAILED)
		return -1;
	if (mc_from_memory(m, s) < 0)
		return mc_check_fail(m, "count out of 0..stock");
	if (c->hlen > m->max_hlen)
		m->max_hlen = c->hlen;
	if (rc != MC_PAUSED && mc_answer(m, c, rc == MC_RETURNED ? -1 : rc) < 0)
		return -1;
	/* The steps that answer SOLD_OUT or RETRY are loads, so the state they
	 * answer in was counted after the previous step; now count this one. */
	for (unsigned i = 0; i < m->n; i++) {
		struct mc_core *o = &s->core[i];

		if (o->hand < 0)
			return mc_check_fail(m, "units created or lost");
		if (o->in_call && m->script[i][o->op] == 'T') {
			o->saw_empty |= mc_in_stock(m, s) == 0;
			o->saw_motion |= mc_in_motion(m, s);
		}
	}
	return 0;
}

static void
mc_hash(const struct mc_state *s, uint64_t h[2])
{
	const uint8_t *b = (const uint8_t *)s;
	uint64_t a = 0x9e3779b97f4a7c15ULL, z = 0xc2b2ae3d27d4eb4fULL;
	size_t i;

	for (i = 0; i + 8 <= sizeof(*s); i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		a = (a ^ w) * 0xff51afd7ed558ccdULL;
		a ^= a >> 32;
		z = (z + w) * 0x9fb21c651e98df25ULL;
		z ^= z >> 29;
	}
	for (; i < sizeof(*s); i++) {
		a = (a ^ b[i]) * 0x100000001b3ULL;
		z = (z + b[i]) * 0xc4ceb9fe1a85ec53ULL;
	}
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ULL;
	a ^= a >> 33;
	z ^= z >> 31;
	z *= 0xff51afd7ed558ccdULL;
	z ^= z >> 33;
	h[0] = a | 1;   /* never 0: that marks a free slot */
	h[1] = z;       /* the slot */
}

/* Add `s` to the visited set; false if it was there already. */
static bool
mc_visit(struct mc *m, const struct mc_state *s)
{
	uint64_t h[2];
	size_t i;

	if (2 * (m->count + 1) > m->cap) {
		uint64_t (*old)[2] = m->seen;
		size_t old_cap = m->cap;

		m->cap = old_cap ? 2 * old_cap : 1 << 16;
		m->seen = calloc(m->cap, sizeof(*m->seen));
		cr_assert_not_null(m->seen);
		for (size_t j = 0; j < old_cap; j++) {
			if (!old[j][0])
				continue;
			i = old[j][1] & (m->cap - 1);
			while (m->seen[i][0])
				i = (i + 1) & (m->cap - 1);
			memcpy(m->seen[i], old[j], sizeof(old[j]));
		}
		free(old);
	}
	mc_hash(s, h);
	for (i = h[1] & (m->cap - 1); m->seen[i][0]; i = (i + 1) & (m->cap - 1))
		if (m->seen[i][0] == h[0] && m->seen[i][1] == h[1])
			return false;
	memcpy(m->seen[i], h, sizeof(h));
	m->count++;
	return true;
}

static void
mc_push(struct mc *m, const struct mc_state *s)
{
	if (m->depth == m->stack_cap) {
		m->stack_cap = m->stack_cap ? 2 * m->stack_cap : 1024;
		m->stack = realloc(m->stack, m->stack_cap * sizeof(*m->stack));
		cr_assert_not_null(m->stack);
	}
	m->stack[m->depth++] = *s;
}

static int
mc_check_final(struct mc *m, const struct mc_state *s)
{
	for (unsigned i = 0; i < m->n; i++)
		if (s->units[i] & MC_FLAG)
			return mc_check_fail(m, "refill left half done");
	return 0;
}

/* Explore every interleaving; returns 0, or -1 with m->why set. */
static int
mc_run(struct mc *m)
{
	struct mc_state init;

	memset(&init, 0, sizeof(init));
	init.pool = (uint8_t)m->stock;
	mc_visit(m, &init);
	mc_push(m, &init);
	while (m->depth) {
		struct mc_state s = m->stack[--m->depth];
		bool done = true;

		for (unsigned i = 0; i < m->n; i++) {
			unsigned n_choices = 1;

			if (!m->script[i][s.core[i].op])
				continue;
			done = false;
			/* The first run of a step tells how many chunks it may choose. */
			for (unsigned k = 1; k <= n_choices; k++) {
				struct mc_state next = s;
				unsigned got;

				if (mc_step(m, &next, i, k, &got) < 0)
					return -1;
				if (k == 1 && got > 1)
					n_choices = got;
				if (mc_visit(m, &next))
					mc_push(m, &next);
			}
		}
		if (done && mc_check_final(m, &s) < 0)
			return -1;
	}
	return 0;
}

/* max_chunk value meaning "any chunk from 1 to what is left" */
#define ANY_CHUNK 0

/* Check one configuration; returns the number of states (0 on a violation). */
static size_t
mc_check(unsigned n, unsigned stock, unsigned max_chunk, unsigned tries,
	 unsigned bugs, const char *const script[], char *why, size_t why_len,
	 uint64_t answers[3])
{
	struct mc m = { .n = n, .stock = stock, .max_chunk = max_chunk,
			.any_chunk = max_chunk == ANY_CHUNK, .bugs = bugs };
	size_t states;

	cr_assert(stock <= MC_COUNT && n <= MC_CORES);
	for (unsigned i = 0; i < n; i++)
		m.script[i] = script[i];
	cr_assert_eq(stock_pool_init(&mc_pool, stock, n, max_chunk ? max_chunk : stock), 0);
	mc_tries = tries;
	mc_cur = &m;
	states = mc_run(&m) < 0 ? 0 : m.count;
	mc_cur = NULL;
	snprintf(why, why_len, "%s", m.why);
	for (int i = 0; i < 3; i++)
		answers[i] += m.answers[i];
	cr_log_info("n %u stock %u chunk %u: %zu states, calls of up to %u steps", n,
		    stock, max_chunk, states, m.max_hlen);
	free(m.seen);
	free(m.stack);
	return states;
}

static void
check_stocks(unsigned n, unsigned from, unsigned to, unsigned max_chunk,
	     unsigned tries, const char *const script[])
{
	uint64_t answers[3] = { 0 };
	char why[256];

	for (unsigned stock = from; stock <= to; stock++) {
		size_t states = mc_check(n, stock, max_chunk, tries, BUG_NONE,
					 script, why, sizeof(why), answers);

		cr_assert_gt(states, 0, "%s", why);
	}
	cr_log_info("answers checked: %lu OK, %lu SOLD_OUT, %lu RETRY",
		    (unsigned long)answers[STOCK_OK], (unsigned long)answers[STOCK_SOLD_OUT],
		    (unsigned long)answers[STOCK_RETRY]);
	/* The scripts reach the end of the stock: SOLD_OUT was really checked. */
	cr_assert_gt(answers[STOCK_SOLD_OUT], 0);
}

/*
 * The size of the search. A core's state is what its call read so far, so
 * every round of the slow path multiplies the states by what the other cores
 * may have done meanwhile: the cases with every chunk bound the rounds (the
 * bound only decides when a core gives up with RETRY, which every checked
 * property allows at any round); the real bound, STOCK_SCAN_TRIES, runs with
 * the real chunk rule.
 */
#define MC_TRIES_2_CORES 4
#define MC_TRIES_3_CORES 2

/*
 * The protocol must be safe whatever chunk a refill takes (1..what is left),
 * so these cases try every chunk size at every refill: that covers
 * stock_chunk_size() and any later change to it. Scripts: enough takes to
 * sell out, a return, then takes that must see it.
 */
Test(stock_model, two_cores_stock_1_to_6_every_interleaving_every_chunk)
{
	const char *const script[] = { "TTTRTT", "TTTRT" };

	check_stocks(2, 1, 6, ANY_CHUNK, MC_TRIES_2_CORES, script);
}

/* Three cores: a return racing two takers. */
Test(stock_model, three_cores_stock_1_to_4_every_interleaving_every_chunk)
{
	const char *const script[] = { "TRT", "T", "T" };

	check_stocks(3, 1, 4, ANY_CHUNK, MC_TRIES_3_CORES, script);
}

/* The real chunk rule and round bound, on stocks where the rule hands out
 * chunks of 2 and 3. */
Test(stock_model, two_cores_real_chunk_rule_stock_8_to_12)
{
	const char *const script[] = { "TTTTTTTR", "TTTTTTT" };

	check_stocks(2, 8, 12, 64, MC_SCAN_TRIES, script);
}

/* ---- the checker catches each protocol part's removal ---- */

static void
expect_caught(unsigned bugs, unsigned n, unsigned stock, const char *const script[],
	      const char *what)
{
	uint64_t answers[3] = { 0 };
	char why[256];

	cr_assert_eq(mc_check(n, stock, ANY_CHUNK, MC_SCAN_TRIES, bugs, script,
			      why, sizeof(why), answers), 0,
		     "bug %u not caught", bugs);
	cr_assert(strstr(why, what), "caught as \"%s\", expected \"%s\"", why, what);
}

Test(stock_model, catches_sold_out_without_refill_flag)
{
	const char *const script[] = { "TT", "TT" };

	expect_caught(BUG_NO_FLAG, 2, 3, script, "SOLD_OUT while stock remained");
}

Test(stock_model, catches_sold_out_without_steal)
{
	const char *const script[] = { "TT", "TT" };

	expect_caught(BUG_NO_STEAL, 2, 3, script, "SOLD_OUT while stock remained");
}

Test(stock_model, catches_return_signalled_only_after_its_units_land)
{
	const char *const script[] = { "TTRT", "TTT" };

	expect_caught(BUG_RET_END_ONLY, 2, 2, script, "SOLD_OUT while stock remained");
}

Test(stock_model, catches_a_take_that_is_not_one_cas)
{
	const char *const script[] = { "TTT", "TTT" };

	expect_caught(BUG_TAKE_NOT_ATOMIC, 2, 3, script, "units created or lost");
}
