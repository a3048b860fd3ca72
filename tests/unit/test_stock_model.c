/*
 * Exhaustive check of the stock protocol (lib/sale/stock_pool.{h,c}) for small
 * cases: 2 or 3 simulated cores, stocks of 1 to 6, every interleaving of their
 * shared-memory steps, under sequential consistency.
 *
 * The model is the protocol of stock_take(), stock_take_slow(),
 * stock_refill(), stock_steal() and stock_return() rewritten as a step
 * function: one step per access to shared memory (a load, a store, a CAS, an
 * RMW), local work folded into the step that follows it. The pc numbers
 * below name the line of the real code each step stands for. The chunk rule
 * is the real stock_chunk_size() and the round bound the real
 * STOCK_SCAN_TRIES. A depth-first search visits every reachable state once
 * (states are hashed), so every interleaving is covered.
 *
 * Checked in every reachable state:
 *  - conservation: pool + shares + units moving pool->share + units held by
 *    buyers == the stock; no counter is ever decremented below 0.
 * Checked at every answer:
 *  - SOLD_OUT: some state during the call had no unit in the pool, in any
 *    share or moving into one (the promise in stock_pool.h);
 *  - RETRY: some state during the call had a unit in motion (a share
 *    flagged mid-refill, or a return between its two counter bumps).
 * Checked in every final state: no refill flag left set, nothing in motion.
 *
 * The bug variants at the end must each be caught: they show the check can
 * fail, and why each part of the protocol is there.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stock_pool.h"

#define MC_CORES 3
#define MC_OPS 6

enum { BUG_NONE = 0, BUG_NO_FLAG = 1, BUG_NO_STEAL = 2, BUG_RET_END_ONLY = 4,
       BUG_TAKE_AT_ZERO = 8 };

/* Step names: where each pc sits in the real code. */
enum pc {
	PC_START,      /* stock_take: sold_out flag, load ret_begin (relaxed) */
	PC_OWN_LOAD,   /* stock_take: load share->units */
	PC_OWN_CAS,    /* stock_take: CAS share->units w -> w-1 */
	PC_ENDS,       /* stock_take_slow: ends = load ret_end */
	PC_POOL_LOAD,  /* stock_refill: left = load remaining */
	PC_FLAG,       /* stock_refill: store units = STOCK_REFILLING */
	PC_POOL_CAS,   /* stock_refill: CAS remaining left -> left - chunk */
	PC_PUBLISH,    /* stock_refill: store units = chunk - 1 */
	PC_UNFLAG,     /* stock_refill: store units = 0 (pool was empty) */
	PC_SCAN_LOAD,  /* stock_steal: w = load victim->units */
	PC_SCAN_CAS,   /* stock_steal: CAS victim->units w -> w-1 */
	PC_BEGINS,     /* stock_take_slow: load ret_begin, decide */
	PC_RET_BEGIN,  /* stock_return: ret_begin++ */
	PC_RET_ADD,    /* stock_return: remaining += 1 */
	PC_RET_END,    /* stock_return: ret_end++ */
};

struct mc_core {
	uint8_t op, pc;             /* script position, step within the op */
	uint8_t v, vflag, left;     /* loaded values */
	uint8_t moving;             /* chunk - 1 between pool CAS and publish */
	uint8_t ends, scan, busy, round;
	uint8_t sold_out, seen_ret; /* the share's owner-only fields */
	uint8_t held;               /* units this core's buyers hold */
	uint8_t saw_empty, saw_motion;
};

struct mc_state {
	uint8_t pool, ret_begin, ret_end;
	uint8_t units[MC_CORES], flag[MC_CORES];
	struct mc_core core[MC_CORES];
};

struct mc {
	unsigned n, stock, max_chunk, bugs;
	bool any_chunk;  /* try every chunk 1..left, not only stock_chunk_size() */
	unsigned tries;  /* slow-path rounds before RETRY: STOCK_SCAN_TRIES */
	const char *script[MC_CORES];  /* 'T' take, 'R' return one if held */
	/* visited set: open addressing on the state bytes */
	struct mc_state *seen;
	uint8_t *used;
	size_t cap, count;
	/* the DFS stack */
	struct mc_state *stack;
	size_t depth, stack_cap;
	uint64_t answers[3];
	char why[256];
};

static unsigned
mc_in_stock(const struct mc *m, const struct mc_state *s)
{
	unsigned u = s->pool;

	for (unsigned i = 0; i < m->n; i++)
		u += s->units[i] + s->core[i].moving;
	return u;
}

/* Is a unit in motion: a share mid-refill, or a return half done? */
static bool
mc_in_motion(const struct mc *m, const struct mc_state *s)
{
	for (unsigned i = 0; i < m->n; i++)
		if (s->flag[i])
			return true;
	return s->ret_begin != s->ret_end;
}

static int
mc_fail(struct mc *m, const char *what, unsigned core)
{
	if (!m->why[0])
		snprintf(m->why, sizeof(m->why), "%s (core %u, n %u, stock %u, chunk %u)",
			 what, core, m->n, m->stock, m->max_chunk);
	return -1;
}

/* The op finished with answer `rc` (-1: a return). Check it, move on. */
static int
mc_answer(struct mc *m, struct mc_core *c, unsigned me, int rc)
{
	if (rc == STOCK_SOLD_OUT && !c->saw_empty)
		return mc_fail(m, "SOLD_OUT while stock remained", me);
	if (rc == STOCK_RETRY && !c->saw_motion)
		return mc_fail(m, "RETRY with nothing in motion", me);
	if (rc >= 0)
		m->answers[rc]++;
	/* Only the share's fields and what the buyers hold outlive the op;
	 * clearing the rest lets equal states hash equal. */
	*c = (struct mc_core){ .op = c->op + 1, .pc = PC_START, .held = c->held,
			       .sold_out = c->sold_out, .seen_ret = c->seen_ret };
	return 0;
}

static void
mc_grant(struct mc_core *c)
{
	c->held++;
}

/* Enter the scan of other shares (or skip it with one core). */
static void
mc_scan_start(struct mc *m, struct mc_core *c)
{
	c->scan = 1;
	c->busy = 0;
	c->pc = m->n > 1 ? PC_SCAN_LOAD : PC_BEGINS;
}

/* The victim's share held nothing: note a refill in flight, go on. */
static void
mc_scan_next(struct mc *m, struct mc_core *c)
{
	if (c->vflag && !(m->bugs & BUG_NO_FLAG))
		c->busy = 1;
	c->scan++;
	c->pc = c->scan < m->n ? PC_SCAN_LOAD : PC_BEGINS;
}

/* One step of a take by core `me`. Returns <0 on a violation. */
static int
mc_step_take(struct mc *m, struct mc_state *s, unsigned me, unsigned choice)
{
	struct mc_core *c = &s->core[me];
	unsigned victim = (me + c->scan) % m->n;
	uint8_t begins;

	switch (c->pc) {
	case PC_START:
		if (c->sold_out) {
			begins = m->bugs & BUG_RET_END_ONLY ? s->ret_end : s->ret_begin;
			if (begins == c->seen_ret)
				return mc_answer(m, c, me, STOCK_SOLD_OUT);
			c->sold_out = 0;
			c->pc = PC_OWN_LOAD;
			return 0;
		}
		/* No shared access yet: the own-share load is this step. */
		__attribute__((fallthrough));
	case PC_OWN_LOAD:
		c->v = s->units[me];
		c->pc = c->v || (m->bugs & BUG_TAKE_AT_ZERO) ? PC_OWN_CAS : PC_ENDS;
		return 0;
	case PC_OWN_CAS:
		if (s->units[me] != c->v) {
			c->v = s->units[me];
			c->pc = c->v ? PC_OWN_CAS : PC_ENDS;
			return 0;
		}
		if (s->units[me] == 0)
			return mc_fail(m, "share count taken below 0", me);
		s->units[me]--;
		mc_grant(c);
		return mc_answer(m, c, me, STOCK_OK);
	case PC_ENDS:
		c->ends = s->ret_end;
		c->pc = PC_POOL_LOAD;
		return 0;
	case PC_POOL_LOAD:
		c->left = s->pool;
		if (c->left)
			c->pc = PC_FLAG;
		else
			mc_scan_start(m, c);
		return 0;
	case PC_FLAG:
		if (!(m->bugs & BUG_NO_FLAG))
			s->flag[me] = 1;
		c->pc = PC_POOL_CAS;
		return 0;
	case PC_POOL_CAS:
		if (s->pool == c->left) {
			unsigned chunk = m->any_chunk ? choice :
				(unsigned)stock_chunk_size(c->left, m->n, m->max_chunk);

			if (chunk == 0 || chunk > s->pool)
				return mc_fail(m, "chunk outside 1..remaining", me);
			s->pool -= chunk;
			c->moving = chunk - 1;
			mc_grant(c);
			c->pc = PC_PUBLISH;
			return 0;
		}
		c->left = s->pool;
		c->pc = c->left ? PC_POOL_CAS : PC_UNFLAG;
		return 0;
	case PC_PUBLISH:
		s->units[me] = c->moving;
		s->flag[me] = 0;
		c->moving = 0;
		return mc_answer(m, c, me, STOCK_OK);
	case PC_UNFLAG:
		s->units[me] = 0;
		s->flag[me] = 0;
		mc_scan_start(m, c);
		return 0;
	case PC_SCAN_LOAD:
		c->v = s->units[victim];
		c->vflag = s->flag[victim];
		if (c->v && !(m->bugs & BUG_NO_STEAL))
			c->pc = PC_SCAN_CAS;
		else
			mc_scan_next(m, c);
		return 0;
	case PC_SCAN_CAS:
		if (s->units[victim] != c->v) {
			c->v = s->units[victim];
			c->vflag = s->flag[victim];
			if (!c->v)
				mc_scan_next(m, c);
			return 0;
		}
		s->units[victim]--;
		mc_grant(c);
		return mc_answer(m, c, me, STOCK_OK);
	case PC_BEGINS:
		begins = m->bugs & BUG_RET_END_ONLY ? s->ret_end : s->ret_begin;
		if (!c->busy && begins == c->ends) {
			c->sold_out = 1;
			c->seen_ret = c->ends;
			return mc_answer(m, c, me, STOCK_SOLD_OUT);
		}
		if (++c->round == m->tries) {
			c->round = 0;
			return mc_answer(m, c, me, STOCK_RETRY);
		}
		c->pc = PC_ENDS;
		return 0;
	}
	return mc_fail(m, "bad pc", me);
}

/* One step of a return of one unit by core `me`. */
static int
mc_step_return(struct mc *m, struct mc_state *s, unsigned me)
{
	struct mc_core *c = &s->core[me];

	switch (c->pc) {
	case PC_START:
		if (!c->held)  /* nothing to give back: the op is a no-op */
			return mc_answer(m, c, me, -1);
		if (!(m->bugs & BUG_RET_END_ONLY))
			s->ret_begin++;
		c->pc = PC_RET_ADD;
		return 0;
	case PC_RET_ADD:
		s->pool++;
		c->held--;
		c->pc = PC_RET_END;
		return 0;
	case PC_RET_END:
		s->ret_end++;
		return mc_answer(m, c, me, -1);
	}
	return mc_fail(m, "bad return pc", me);
}

static bool
mc_in_take(const struct mc *m, const struct mc_state *s, unsigned i)
{
	const struct mc_core *c = &s->core[i];

	return m->script[i][c->op] == 'T' && c->pc != PC_START;
}

/* Run one step of core `me` on `s`, then the per-state checks. */
static int
mc_step(struct mc *m, struct mc_state *s, unsigned me, unsigned choice)
{
	struct mc_core *c = &s->core[me];
	bool taking = m->script[me][c->op] == 'T';
	unsigned held = 0;
	int rc;

	if (taking && c->pc == PC_START) {
		/* invocation: the state before the first step is in the call */
		c->saw_empty = mc_in_stock(m, s) == 0;
		c->saw_motion = mc_in_motion(m, s);
		c->round = 0;
	}
	/* Answers are checked inside the step. The steps that answer
	 * SOLD_OUT or RETRY are loads, so the state they answer in is the
	 * one already counted after the previous step (or at invocation). */
	rc = taking ? mc_step_take(m, s, me, choice) : mc_step_return(m, s, me);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < m->n; i++) {
		if (mc_in_take(m, s, i)) {
			s->core[i].saw_empty |= mc_in_stock(m, s) == 0;
			s->core[i].saw_motion |= mc_in_motion(m, s);
		}
		held += s->core[i].held;
	}
	if (mc_in_stock(m, s) + held != m->stock)
		return mc_fail(m, "units created or lost", me);
	return 0;
}

static uint64_t
mc_hash(const struct mc_state *s)
{
	const uint8_t *b = (const uint8_t *)s;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(*s); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* Add `s` to the visited set; false if it was there already. */
static bool
mc_visit(struct mc *m, const struct mc_state *s)
{
	size_t i;

	if (2 * (m->count + 1) > m->cap) {
		struct mc old = *m;

		m->cap = old.cap ? 2 * old.cap : 1 << 16;
		m->seen = malloc(m->cap * sizeof(*m->seen));
		m->used = calloc(m->cap, 1);
		cr_assert(m->seen && m->used);
		m->count = 0;
		for (i = 0; i < old.cap; i++)
			if (old.used[i])
				mc_visit(m, &old.seen[i]);
		free(old.seen);
		free(old.used);
	}
	for (i = mc_hash(s) & (m->cap - 1); m->used[i]; i = (i + 1) & (m->cap - 1))
		if (!memcmp(&m->seen[i], s, sizeof(*s)))
			return false;
	m->used[i] = 1;
	m->seen[i] = *s;
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
		if (s->flag[i] || s->core[i].moving)
			return mc_fail(m, "refill left half done", i);
	return 0;
}

/* How many ways core i's next step can go: every chunk size at a pool CAS
 * that will succeed (in any_chunk mode), otherwise one. */
static unsigned
mc_choices(const struct mc *m, const struct mc_state *s, unsigned i)
{
	const struct mc_core *c = &s->core[i];

	if (m->any_chunk && m->script[i][c->op] == 'T' && c->pc == PC_POOL_CAS &&
	    s->pool == c->left)
		return c->left;
	return 1;
}

/* Explore every interleaving; returns 0, or -1 with m->why set. */
static int
mc_run(struct mc *m)
{
	struct mc_state init;

	memset(&init, 0, sizeof(init));  /* padding too: states are hashed */
	init.pool = (uint8_t)m->stock;
	mc_visit(m, &init);
	mc_push(m, &init);
	while (m->depth) {
		struct mc_state s = m->stack[--m->depth];
		bool done = true;

		for (unsigned i = 0; i < m->n; i++) {
			if (!m->script[i][s.core[i].op])
				continue;
			done = false;
			for (unsigned k = 1; k <= mc_choices(m, &s, i); k++) {
				struct mc_state next = s;

				if (mc_step(m, &next, i, k) < 0)
					return -1;
				if (mc_visit(m, &next))
					mc_push(m, &next);
			}
		}
		if (done && mc_check_final(m, &s) < 0)
			return -1;
	}
	return 0;
}

static void
mc_free(struct mc *m)
{
	free(m->seen);
	free(m->used);
	free(m->stack);
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
			.any_chunk = max_chunk == ANY_CHUNK, .tries = tries,
			.bugs = bugs };
	size_t states;

	for (unsigned i = 0; i < n; i++)
		m.script[i] = script[i];
	states = mc_run(&m) < 0 ? 0 : m.count;
	snprintf(why, why_len, "%s", m.why);
	for (int i = 0; i < 3; i++)
		answers[i] += m.answers[i];
	mc_free(&m);
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
		cr_log_info("n %u stock %u chunk %u: %zu states", n, stock, max_chunk,
			    states);
	}
	cr_log_info("answers checked: %lu OK, %lu SOLD_OUT, %lu RETRY",
		    (unsigned long)answers[STOCK_OK], (unsigned long)answers[STOCK_SOLD_OUT],
		    (unsigned long)answers[STOCK_RETRY]);
	/* The scripts reach the end of the stock: SOLD_OUT was really checked. */
	cr_assert_gt(answers[STOCK_SOLD_OUT], 0);
}

/*
 * The protocol must be safe whatever chunk a refill takes (1..what is left),
 * so the small cases try every chunk size at every refill: that covers
 * stock_chunk_size() and any later change to it. Scripts: enough takes to
 * sell out, a return, then takes that must see it.
 */
Test(stock_model, two_cores_stock_1_to_6_every_interleaving_every_chunk)
{
	const char *const script[] = { "TTTRTT", "TTTRT" };

	check_stocks(2, 1, 6, ANY_CHUNK, STOCK_SCAN_TRIES, script);
}

/* Three cores: 2 slow-path rounds instead of STOCK_SCAN_TRIES keeps the
 * state space in seconds; the bound only decides when a core gives up with
 * RETRY, which every checked property allows at any round. */
Test(stock_model, three_cores_stock_1_to_6_every_interleaving_every_chunk)
{
	const char *const script[] = { "TRT", "TT", "TT" };

	check_stocks(3, 1, 6, ANY_CHUNK, 2, script);
}

/* The real chunk rule, on stocks where it hands out chunks of 2 and 3. */
Test(stock_model, two_cores_real_chunk_rule_stock_8_to_12)
{
	const char *const script[] = { "TTTTTTTR", "TTTTTTT" };

	check_stocks(2, 8, 12, 64, STOCK_SCAN_TRIES, script);
}

/* ---- the checker catches each protocol part's removal ---- */

static void
expect_caught(unsigned bugs, unsigned n, unsigned stock, const char *const script[],
	      const char *what)
{
	uint64_t answers[3] = { 0 };
	char why[256];

	cr_assert_eq(mc_check(n, stock, ANY_CHUNK, STOCK_SCAN_TRIES, bugs, script,
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

Test(stock_model, catches_take_from_an_empty_share)
{
	const char *const script[] = { "TT", "T" };

	expect_caught(BUG_TAKE_AT_ZERO, 2, 1, script, "below 0");
}
