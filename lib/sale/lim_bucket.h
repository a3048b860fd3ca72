/*
 * lim_bucket.h - nginx limit_req rate limits (per IP, per buyer) on a lim_table.
 *
 * Semantics are those of nginx's ngx_http_limit_req_module, to the
 * millisecond and milli-request, so an operator's `rate=10r/s burst=5`
 * means here what it means there:
 *
 *   excess (milli-requests) drains at `rate` (milli-requests per second);
 *   a new key passes with excess 0;
 *   a known key: ms = now - last (clock going back: 0, or 1 beyond a minute)
 *                excess' = max(0, excess - rate * ms / 1000 + 1000)
 *                excess' > burst * 1000  -> rejected, state unchanged
 *                otherwise               -> passed, excess = excess',
 *                                           last = now (only when ms != 0)
 *
 * So at one instant 1 + burst requests pass, then one per 1/rate seconds.
 * nginx can also *delay* requests within the burst; we answer every request
 * at once, so we implement `burst=N nodelay` only: a request over the burst
 * is rejected and told when to come back (Retry-After, from the excess).
 *
 * The whole state of a key is one 64-bit word updated with one CAS:
 *   bits 63..40  excess + 1 (milli-requests; 0 = key just inserted)
 *   bits 39..0   last pass, ms (mod 2^40, ~34 years)
 *
 * When a key's probe range is full: evict an entry that is idle, i.e. whose
 * bucket has drained so far that it would behave exactly like a new key
 * (excess - rate * ms / 1000 <= -1000), so eviction never changes an answer.
 * If nothing is idle: fail open (pass, count lim_full_pass). A rate limit is
 * load shedding; what guarantees one sale per buyer is the purchase set.
 *
 * Use one table per rule (the idle test assumes every key has the same rate).
 */
#ifndef SECKILL_LIM_BUCKET_H
#define SECKILL_LIM_BUCKET_H

#include <stdint.h>

#include "lim_table.h"
#include "stats.h"

/* Largest excess the 24-bit field holds: the field stores excess + 1, and
 * its all-ones value belongs to LIM_VAL_BUSY. */
#define LIM_EXCESS_MAX ((1u << 24) - 3)
#define LIM_TS_BITS 40
#define LIM_TS_MASK ((UINT64_C(1) << LIM_TS_BITS) - 1)
/* nginx: a clock that went back by more than this counts as 1 ms forward. */
#define LIM_CLOCK_BACK_MS 60000
/* How often lim_check retries a key whose slot is being recycled before it
 * gives up and fails open; recycling takes two stores, so 1 retry is normal. */
#define LIM_BUSY_RETRIES 8

enum lim_verdict {
	LIM_PASS,
	LIM_LIMITED,
};

struct lim_rule {
	uint32_t rate;  /* milli-requests per second, as nginx's ctx->rate */
	uint32_t burst; /* milli-requests, as nginx's limit->burst */
};

/* Counters per core (plain increments; see stats.h). */
#define LIM_STATS(X)                                                          \
	X(lim_pass)         /* passed within rate + burst */                   \
	X(lim_limited)      /* rejected: over the burst (429/503) */           \
	X(lim_new)          /* a key seen for the first time */                \
	X(lim_evict)        /* an idle key was evicted to make room */         \
	X(lim_full_pass)    /* probe range full, nothing idle: failed open */  \
	X(lim_busy_pass)    /* slot kept being recycled: failed open */        \
	X(lim_bad_key_pass) /* key UINT64_MAX cannot be stored: failed open */ \
	X(lim_cas_retry)    /* another core updated the key first */

struct lim_stats {
	LIM_STATS(STATS_FIELD)
};
extern const char *const lim_stats_names[];

/* Set `rule` to `rate` requests per `per_seconds` (1 for r/s, 60 for r/m, as
 * nginx) with a burst of `burst` requests. Returns 0, or -1 when rate is 0,
 * per_seconds is not 1 or 60, or the burst does not fit the state word. */
int lim_rule_set(struct lim_rule *rule, uint32_t rate, uint32_t per_seconds,
		 uint32_t burst);

/* Account one request of `key` at `now_ms` (any monotonic ms clock shared by
 * the cores). LIM_LIMITED sets *retry_after_s (>= 1) to the whole seconds
 * after which a request will pass again; LIM_PASS sets it to 0. Lock-free;
 * `st` (may be NULL) is the calling core's counters. */
enum lim_verdict lim_check(struct lim_table *t, uint64_t key, uint64_t now_ms,
			   const struct lim_rule *rule, uint32_t *retry_after_s,
			   struct lim_stats *st);

/* The pure step behind lim_check: the verdict for one request on a key whose
 * state word is `state`, and the word to store if it passes. */
enum lim_verdict lim_step(uint64_t state, uint64_t now_ms, const struct lim_rule *rule,
			  uint64_t *new_state, uint32_t *retry_after_s);

/* True when a key in `state` at `now_ms` behaves exactly as a new key. */
int lim_state_idle(uint64_t state, uint64_t now_ms, const struct lim_rule *rule);

static inline uint64_t lim_state_make(uint32_t excess, uint64_t last_ms)
{
	return ((uint64_t)(excess + 1) << LIM_TS_BITS) | (last_ms & LIM_TS_MASK);
}

static inline uint32_t lim_state_excess(uint64_t state)
{
	return (uint32_t)(state >> LIM_TS_BITS) - 1;
}

#endif
