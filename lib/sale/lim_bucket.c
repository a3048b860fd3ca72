/*
 * lim_bucket.c - nginx limit_req (burst=N nodelay) on the shared lock-free table.
 *
 * lim_step is the arithmetic of ngx_http_limit_req_lookup on one packed word;
 * lim_check finds the key's word and applies lim_step with a CAS loop, so
 * concurrent requests of one key on several cores serialise on that word and
 * the key sees exactly the sequence of passes a single nginx worker would.
 */
#include "lim_bucket.h"

#include <stdbool.h>
#include <stddef.h>

const char *const lim_stats_names[] = { LIM_STATS(STATS_NAME) };
_Static_assert(sizeof(struct lim_stats) ==
	       sizeof(lim_stats_names) / sizeof(lim_stats_names[0]) * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

/* Milli-requests per request, nginx's unit. */
#define LIM_MILLI 1000
#define MS_PER_S 1000

int lim_rule_set(struct lim_rule *rule, uint32_t rate, uint32_t per_seconds,
		 uint32_t burst)
{
	uint64_t r;

	if (rate == 0 || (per_seconds != 1 && per_seconds != 60))
		return -1;
	/* nginx: rate = r/s * 1000, or r/m * 1000 / 60 (integer division). */
	r = (uint64_t)rate * LIM_MILLI / per_seconds;
	if (r == 0 || r > UINT32_MAX || burst > LIM_EXCESS_MAX / LIM_MILLI)
		return -1;
	rule->rate = (uint32_t)r;
	rule->burst = burst * LIM_MILLI;
	return 0;
}

/* ms since `last`, on the 40-bit clock, with nginx's treatment of a clock
 * that went back (cores' clocks may differ by a little): 0, or 1 when it went
 * back by more than a minute. */
static int64_t elapsed_ms(uint64_t now_ms, uint64_t state)
{
	uint64_t d = (now_ms - state) & LIM_TS_MASK;
	int64_t ms = (int64_t)d;

	if (d >= (UINT64_C(1) << (LIM_TS_BITS - 1)))
		ms -= (int64_t)(UINT64_C(1) << LIM_TS_BITS);
	if (ms < -LIM_CLOCK_BACK_MS)
		return 1;
	return ms < 0 ? 0 : ms;
}

/* Milli-requests drained in `ms`: rate * ms / 1000, saturating. */
static uint64_t drained(uint32_t rate, int64_t ms)
{
	if ((uint64_t)ms > UINT64_MAX / rate)
		return UINT64_MAX;
	return (uint64_t)rate * (uint64_t)ms / MS_PER_S;
}

enum lim_verdict lim_step(uint64_t state, uint64_t now_ms, const struct lim_rule *rule,
			  uint64_t *new_state, uint32_t *retry_after_s)
{
	uint64_t ex, want, d, excess, need, wait_ms;
	int64_t ms;

	*retry_after_s = 0;
	if (state == LIM_VAL_FRESH) { /* nginx: a new node passes with excess 0 */
		*new_state = lim_state_make(0, now_ms);
		return LIM_PASS;
	}
	ex = lim_state_excess(state);
	ms = elapsed_ms(now_ms, state);
	d = drained(rule->rate, ms);
	want = ex + LIM_MILLI;
	excess = d >= want ? 0 : want - d;
	if (excess > rule->burst) {
		/* Passes again at the first ms where rate * ms / 1000 >= need. */
		need = want - rule->burst;
		wait_ms = (need * MS_PER_S + rule->rate - 1) / rule->rate - (uint64_t)ms;
		*retry_after_s = (uint32_t)((wait_ms + MS_PER_S - 1) / MS_PER_S);
		if (*retry_after_s == 0)
			*retry_after_s = 1;
		return LIM_LIMITED;
	}
	*new_state = lim_state_make((uint32_t)excess, ms != 0 ? now_ms : state);
	return LIM_PASS;
}

int lim_state_idle(uint64_t state, uint64_t now_ms, const struct lim_rule *rule)
{
	if (state == LIM_VAL_FRESH)
		return 1;
	if (state == LIM_VAL_BUSY)
		return 0;
	return drained(rule->rate, elapsed_ms(now_ms, state)) >=
	       (uint64_t)lim_state_excess(state) + LIM_MILLI;
}

struct idle_ctx {
	uint64_t now_ms;
	const struct lim_rule *rule;
};

static bool idle_cb(uint64_t value, void *arg)
{
	const struct idle_ctx *c = arg;

	return lim_state_idle(value, c->now_ms, c->rule);
}

/* Find (or make room for) key's state word. NULL with *verdict set when the
 * request is decided without one (fail open). */
static uint64_t *find_state(struct lim_table *t, uint64_t key, uint64_t now_ms,
			    const struct lim_rule *rule, struct lim_stats *st,
			    bool *busy)
{
	struct idle_ctx ctx = { now_ms, rule };
	uint64_t *val = NULL;

	*busy = false;
	switch (lim_table_get(t, &key, true, &val)) {
	case LIM_T_INSERTED:
		if (st) st->lim_new++;
		return val;
	case LIM_T_FOUND:
		return val;
	case LIM_T_FULL:
		val = lim_table_evict(t, key, idle_cb, &ctx);
		if (val == NULL) {
			if (st) st->lim_full_pass++;
		} else if (st) {
			st->lim_evict++;
			st->lim_new++;
		}
		return val;
	case LIM_T_BUSY:
		*busy = true;
		return NULL;
	case LIM_T_BADKEY:
	case LIM_T_ABSENT:
	default:
		if (st) st->lim_bad_key_pass++;
		return NULL;
	}
}

/* Apply one request to the state word; false when the slot stopped being
 * key's under us (recycled), so the caller looks the key up again. */
static bool update_state(struct lim_table *t, uint64_t *val, uint64_t key, uint64_t now_ms,
			 const struct lim_rule *rule, enum lim_verdict *verdict,
			 uint32_t *retry_after_s, struct lim_stats *st)
{
	/* Acquire pairs with the release CAS below on other cores and with the
	 * release store of FRESH in lim_table_evict, and orders the ownership
	 * check after it (see lim_table_owns). */
	uint64_t v = __atomic_load_n(val, __ATOMIC_ACQUIRE), nv;

	for (;;) {
		if (v == LIM_VAL_BUSY || !lim_table_owns(t, val, key))
			return false;
		*verdict = lim_step(v, now_ms, rule, &nv, retry_after_s);
		if (*verdict == LIM_LIMITED)
			return true; /* nginx leaves the state alone on a reject */
		/* Success: acq_rel so this state word is a release like the
		 * others (the state is self-contained; nothing else rides on it).
		 * Failure: acquire, for the same reason as the first load. The
		 * CAS fails if anybody updated or evicted the key since we read
		 * v; an evictor only recycles a slot whose key is idle, and the
		 * new key's timestamps are later, so v cannot come back (ABA). */
		if (__atomic_compare_exchange_n(val, &v, nv, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
		if (st) st->lim_cas_retry++;
	}
}

enum lim_verdict lim_check(struct lim_table *t, uint64_t key, uint64_t now_ms,
			   const struct lim_rule *rule, uint32_t *retry_after_s,
			   struct lim_stats *st)
{
	enum lim_verdict verdict = LIM_PASS;

	*retry_after_s = 0;
	for (int attempt = 0; attempt < LIM_BUSY_RETRIES; attempt++) {
		bool busy;
		uint64_t *val = find_state(t, key, now_ms, rule, st, &busy);

		if (val == NULL && !busy)
			return LIM_PASS; /* failed open, counted by find_state */
		if (val == NULL)
			continue;
		if (update_state(t, val, key, now_ms, rule, &verdict, retry_after_s, st)) {
			if (st) {
				if (verdict == LIM_PASS)
					st->lim_pass++;
				else
					st->lim_limited++;
			}
			return verdict;
		}
	}
	if (st) st->lim_busy_pass++;
	return LIM_PASS;
}
