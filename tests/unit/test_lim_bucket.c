/* Tests for lib/sale/lim_bucket.c: nginx limit_req (burst nodelay) semantics,
 * Retry-After, eviction of idle keys, fail-open when full, and the rate bound
 * under concurrent cores. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "lim_bucket.h"

static const uint64_t sipkey[2] = { 1, 2 };

static struct lim_rule rule_of(uint32_t rate, uint32_t per, uint32_t burst)
{
	struct lim_rule r;

	cr_assert_eq(lim_rule_set(&r, rate, per, burst), 0);
	return r;
}

Test(lim_bucket, rule_units_are_nginx_milli_requests)
{
	struct lim_rule r = rule_of(10, 1, 5);

	cr_assert_eq(r.rate, 10000);
	cr_assert_eq(r.burst, 5000);
	r = rule_of(1, 60, 0);
	cr_assert_eq(r.rate, 16); /* nginx: 1000 / 60 */
	cr_assert_eq(lim_rule_set(&r, 0, 1, 5), -1);
	cr_assert_eq(lim_rule_set(&r, 5, 2, 5), -1);
	cr_assert_eq(lim_rule_set(&r, 5, 1, LIM_EXCESS_MAX / 1000 + 1), -1);
	cr_assert_eq(lim_rule_set(&r, 5, 1, LIM_EXCESS_MAX / 1000), 0);
}

/* rate=10r/s burst=5: 1 + burst at one instant, then one per 100 ms. */
Test(lim_bucket, burst_then_one_per_interval)
{
	struct lim_table *t = lim_table_create(16, 1, sipkey);
	struct lim_rule r = rule_of(10, 1, 5);
	struct lim_stats st = { 0 };
	uint64_t t0 = 1000000;
	uint32_t ra;
	int pass = 0;

	for (int i = 0; i < 20; i++)
		pass += lim_check(t, 7, t0, &r, &ra, &st) == LIM_PASS;
	cr_assert_eq(pass, 6);
	cr_assert_eq(st.lim_pass, 6);
	cr_assert_eq(st.lim_limited, 14);
	cr_assert_eq(st.lim_new, 1);
	for (int step = 1; step <= 10; step++) {
		uint64_t now = t0 + 100 * (uint64_t)step;

		cr_assert_eq(lim_check(t, 7, now - 1, &r, &ra, &st), LIM_LIMITED, "step %d", step);
		cr_assert_eq(lim_check(t, 7, now, &r, &ra, &st), LIM_PASS, "step %d", step);
		cr_assert_eq(lim_check(t, 7, now, &r, &ra, &st), LIM_LIMITED, "step %d", step);
		cr_assert_eq(ra, 1);
	}
	/* another key has its own bucket */
	cr_assert_eq(lim_check(t, 8, t0 + 1000, &r, &ra, &st), LIM_PASS);
	lim_table_free(t);
}

Test(lim_bucket, state_after_passes_is_nginx_excess)
{
	struct lim_rule r = rule_of(10, 1, 5);
	uint64_t s = LIM_VAL_FRESH, ns;
	uint32_t ra;

	cr_assert_eq(lim_step(s, 5000, &r, &ns, &ra), LIM_PASS);
	cr_assert_eq(lim_state_excess(ns), 0);
	s = ns;
	cr_assert_eq(lim_step(s, 5000, &r, &ns, &ra), LIM_PASS);
	cr_assert_eq(lim_state_excess(ns), 1000);
	s = ns;
	/* 30 ms later: 1000 - 10000 * 30 / 1000 + 1000 = 1700 */
	cr_assert_eq(lim_step(s, 5030, &r, &ns, &ra), LIM_PASS);
	cr_assert_eq(lim_state_excess(ns), 1700);
	cr_assert_eq(ns & LIM_TS_MASK, 5030);
	s = ns;
	/* clock 10 ms behind on another core: no drain, last kept */
	cr_assert_eq(lim_step(s, 5020, &r, &ns, &ra), LIM_PASS);
	cr_assert_eq(lim_state_excess(ns), 2700);
	cr_assert_eq(ns & LIM_TS_MASK, 5030);
}

Test(lim_bucket, retry_after_from_excess)
{
	struct lim_rule r = rule_of(1, 60, 5); /* rate 16 milli/s */
	uint64_t s = lim_state_make(5000, 0), ns;
	uint32_t ra;

	/* need 1000 milli drained: ceil(1000 * 1000 / 16) = 62500 ms -> 63 s */
	cr_assert_eq(lim_step(s, 0, &r, &ns, &ra), LIM_LIMITED);
	cr_assert_eq(ra, 63);
	cr_assert_eq(lim_step(s, 2500, &r, &ns, &ra), LIM_LIMITED);
	cr_assert_eq(ra, 60);
	cr_assert_eq(lim_step(s, 62499, &r, &ns, &ra), LIM_LIMITED);
	cr_assert_eq(ra, 1);
	cr_assert_eq(lim_step(s, 62500, &r, &ns, &ra), LIM_PASS);
	cr_assert_eq(ra, 0);

	r = rule_of(2, 1, 0);  /* 2 r/s, no burst: a pass every 500 ms */
	s = lim_state_make(0, 1000);
	cr_assert_eq(lim_step(s, 1000, &r, &ns, &ra), LIM_LIMITED);
	cr_assert_eq(ra, 1);
	cr_assert_eq(lim_step(s, 1499, &r, &ns, &ra), LIM_LIMITED);
	cr_assert_eq(lim_step(s, 1500, &r, &ns, &ra), LIM_PASS);
}

/* nginx's ngx_http_limit_req_lookup, transcribed with its signed arithmetic
 * and one node per key: the reference our packed CAS word must match. */
struct ref_node {
	int exists;
	int64_t excess;
	uint64_t last;
};

static enum lim_verdict ref_step(struct ref_node *n, uint64_t now, int64_t rate, int64_t burst)
{
	int64_t ms, excess;

	if (!n->exists) {
		*n = (struct ref_node){ 1, 0, now };
		return LIM_PASS;
	}
	ms = (int64_t)(now - n->last);
	if (ms < -60000)
		ms = 1;
	else if (ms < 0)
		ms = 0;
	excess = n->excess - rate * ms / 1000 + 1000;
	if (excess < 0)
		excess = 0;
	if (excess > burst)
		return LIM_LIMITED;
	n->excess = excess;
	if (ms)
		n->last = now;
	return LIM_PASS;
}

static void compare_with_nginx(uint32_t rate, uint32_t per, uint32_t burst, unsigned seed)
{
	struct lim_table *t = lim_table_create(4, 1, sipkey);
	struct lim_rule r = rule_of(rate, per, burst);
	struct ref_node ref = { 0 };
	const uint64_t interval = 1000 * per / rate; /* ms between passes */
	uint64_t now = 1u << 20;
	int passes = 0;
	uint32_t ra;

	srand(seed);
	for (int i = 0; i < 100000; i++) {
		int g = rand() % 100;

		if (g == 0 && rand() % 64 == 0)
			now -= 70000; /* clock stepped back over a minute: nginx's ms = 1 */
		else if (g < 5)
			now -= (uint64_t)(rand() % (10 * interval + 1)); /* another core's clock */
		else if (g < 60)
			now += (uint64_t)(rand() % (2 * interval + 1));
		enum lim_verdict want = ref_step(&ref, now, r.rate, r.burst);

		cr_assert_eq(lim_check(t, 42, now, &r, &ra, NULL), want, "step %d now %lu", i, now);
		passes += want == LIM_PASS;
	}
	cr_assert_gt(passes, 1000);
	cr_assert_lt(passes, 99000);
	lim_table_free(t);
}

Test(lim_bucket, matches_nginx_10rs_burst5) { compare_with_nginx(10, 1, 5, 1); }
Test(lim_bucket, matches_nginx_7rm_burst3) { compare_with_nginx(7, 60, 3, 2); }
Test(lim_bucket, matches_nginx_1000rs_burst100) { compare_with_nginx(1000, 1, 100, 3); }
Test(lim_bucket, matches_nginx_3rs_burst0) { compare_with_nginx(3, 1, 0, 4); }

/* A 4-slot table (every key shares one probe range), 10 r/s, no burst. */
Test(lim_bucket, full_table_evicts_idle_or_fails_open)
{
	struct lim_table *t = lim_table_create(2, 1, sipkey);
	struct lim_rule r = rule_of(10, 1, 0);
	struct lim_stats st = { 0 };
	uint32_t ra;

	for (uint64_t k = 1; k <= 4; k++)
		cr_assert_eq(lim_check(t, k, 1000, &r, &ra, &st), LIM_PASS);
	/* full, and nobody drained a whole request yet: fail open, counted */
	cr_assert_eq(lim_check(t, 5, 1000, &r, &ra, &st), LIM_PASS);
	cr_assert_eq(lim_check(t, 5, 1099, &r, &ra, &st), LIM_PASS);
	cr_assert_eq(st.lim_full_pass, 2);
	cr_assert_eq(st.lim_evict, 0);
	/* key 1 is still limited: it was not evicted */
	cr_assert_eq(lim_check(t, 1, 1099, &r, &ra, &st), LIM_LIMITED);
	/* at 1100 every key is idle: 5 takes one slot, and is then limited
	 * like any key that just passed */
	cr_assert_eq(lim_check(t, 5, 1100, &r, &ra, &st), LIM_PASS);
	cr_assert_eq(st.lim_evict, 1);
	cr_assert_eq(lim_check(t, 5, 1100, &r, &ra, &st), LIM_LIMITED);
	cr_assert_eq(lim_table_count(t), 4);
	cr_assert_eq(st.lim_full_pass, 2);
	cr_assert_eq(st.lim_new, 5);
	lim_table_free(t);
}

Test(lim_bucket, idle_means_behaves_as_new)
{
	struct lim_rule r = rule_of(10, 1, 5);

	cr_assert(lim_state_idle(LIM_VAL_FRESH, 0, &r));
	cr_assert(!lim_state_idle(LIM_VAL_BUSY, 0, &r));
	/* excess 3000 needs 4000 milli drained = 400 ms */
	cr_assert(!lim_state_idle(lim_state_make(3000, 100), 499, &r));
	cr_assert(lim_state_idle(lim_state_make(3000, 100), 500, &r));
	cr_assert(!lim_state_idle(lim_state_make(0, 100), 199, &r));
	cr_assert(lim_state_idle(lim_state_make(0, 100), 200, &r));
}

Test(lim_bucket, bad_key_fails_open_counted)
{
	struct lim_table *t = lim_table_create(4, 1, sipkey);
	struct lim_rule r = rule_of(1, 1, 0);
	struct lim_stats st = { 0 };
	uint32_t ra;

	cr_assert_eq(lim_check(t, UINT64_MAX, 0, &r, &ra, &st), LIM_PASS);
	cr_assert_eq(lim_check(t, UINT64_MAX, 0, &r, &ra, &st), LIM_PASS);
	cr_assert_eq(st.lim_bad_key_pass, 2);
	cr_assert_eq(st.lim_pass, 0);
	lim_table_free(t);
}

/* --- concurrency: the leaky bucket bound holds across cores ---------------- */

#define HAMMER_THREADS 4
#define HAMMER_KEYS 4
#define HAMMER_MS 400

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct hammer {
	struct lim_table *t;
	struct lim_rule rule;
	uint64_t start_ms;
	uint64_t last_ms[HAMMER_KEYS];
	long passes[HAMMER_KEYS];
	struct lim_stats st;
};

static void *hammer_thread(void *p)
{
	struct hammer *h = p;
	uint64_t now;
	uint32_t ra;

	while ((now = mono_ms()) < h->start_ms + HAMMER_MS) {
		for (int k = 0; k < HAMMER_KEYS; k++) {
			if (lim_check(h->t, (uint64_t)k * 1000003, now, &h->rule, &ra,
				      &h->st) == LIM_PASS) {
				h->passes[k]++;
				h->last_ms[k] = now;
			}
		}
	}
	return NULL;
}

Test(lim_bucket, concurrent_passes_within_rate_times_t_plus_burst, .timeout = 30)
{
	struct lim_table *t = lim_table_create(64, 1, NULL);
	struct hammer h[HAMMER_THREADS];
	pthread_t th[HAMMER_THREADS];
	uint64_t start = mono_ms();

	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .t = t, .rule = rule_of(50, 1, 10), .start_ms = start };
		pthread_create(&th[i], NULL, hammer_thread, &h[i]);
	}
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int k = 0; k < HAMMER_KEYS; k++) {
		long total = 0;
		uint64_t last = start;

		for (int i = 0; i < HAMMER_THREADS; i++) {
			total += h[i].passes[k];
			if (h[i].last_ms[k] > last)
				last = h[i].last_ms[k];
		}
		/* n passes between start and last: n <= 1 + burst + rate * dt */
		long bound = 1 + 10 + (long)(50 * (last - start) / 1000);

		cr_assert_leq(total, bound, "key %d: %ld passes > bound %ld", k, total, bound);
		/* and the limiter did let traffic through at about the rate */
		cr_assert_geq(total, bound / 2, "key %d: %ld passes, bound %ld", k, total, bound);
	}
	for (int i = 0; i < HAMMER_THREADS; i++)
		cr_assert_eq(h[i].st.lim_full_pass + h[i].st.lim_busy_pass, 0);
	lim_table_free(t);
}
