/*
 * Tests for lib/sale/sale.c and sale_ctl.c: every answer of the buy decision,
 * the order of its checks, the classic flash-sale bugs (each impossible by
 * construction, each with a test), rejects that give stock back, and threads
 * racing as cores for the last units.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sale.h"

#define NOW 1700000000000ull            /* Unix ms */
#define EPOCH 1700000000u
#define NODE 3
#define TTL_S 3600
#define IP_A 0x0100a8c0u                /* 192.168.0.1, network order */
#define IP_B 0x0200a8c0u

static const struct token_key key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };
static const struct token_key other_key = { { 0x1111111111111111ull, 0x2222222222222222ull } };

static void conf_small(struct sale_conf *cf, unsigned cores)
{
	sale_conf_default(cf);
	cf->n_cores = cores;
	cf->epoch = EPOCH;
	cf->node = NODE;
	cf->key = key;
	cf->ip_capacity = 1024;
	cf->buyer_capacity = 1024;
	cf->purchase_capacity = 1 << 15;
	cf->blacklist_capacity = 64;
	cf->ring_size = 1024;
	cf->max_stock = 1000;
	cf->return_headroom = 100;
}

static struct sale *make(const struct sale_conf *cf)
{
	char err[SALE_ERR_CAP];
	struct sale *s = sale_create(cf, err, sizeof(err));

	cr_assert_not_null(s, "%s", err);
	return s;
}

/* One sale, one core, campaign 1 with `stock` units open since NOW - 1 s. */
static struct sale *make1(uint64_t stock)
{
	struct sale_conf cf;
	struct sale *s;

	conf_small(&cf, 1);
	s = make(&cf);
	cr_assert_eq(sale_campaign_add(s, 1, stock, NOW - 1000), 0);
	return s;
}

struct tok {
	char s[TOKEN_STR_CAP];
	size_t len;
};

static struct tok mint(const struct token_key *k, uint64_t buyer, uint64_t expiry_s)
{
	struct tok t;
	int n = token_mint(k, buyer, expiry_s, t.s, sizeof(t.s));

	cr_assert_gt(n, 0);
	t.len = (size_t)n;
	return t;
}

static enum sale_result buy_at(struct sale_core *c, uint32_t camp, uint64_t buyer,
			       uint32_t ip, uint64_t now, struct sale_out *out)
{
	struct tok t = mint(&key, buyer, now / 1000 + TTL_S);

	return sale_buy(c, camp, t.s, t.len, ip, now, out);
}

static enum sale_result buy(struct sale_core *c, uint32_t camp, uint64_t buyer,
			    struct sale_out *out)
{
	return buy_at(c, camp, buyer, IP_A, NOW, out);
}

static uint64_t left(struct sale *s, uint32_t camp)
{
	return stock_left(sale_campaign_pool(s, camp));
}

Test(sale, every_result_has_its_status_and_code)
{
	static const struct { enum sale_result r; uint16_t st; const char *code; } t[] = {
		{ SALE_OK, 200, "ok" }, { SALE_NO_CAMPAIGN, 404, "unknown_campaign" },
		{ SALE_NOT_OPEN, 425, "not_open" }, { SALE_CLOSED, 410, "closed" },
		{ SALE_TOKEN_MISSING, 401, "token_missing" },
		{ SALE_TOKEN_MALFORMED, 401, "token_malformed" },
		{ SALE_TOKEN_FORGED, 401, "token_forged" },
		{ SALE_TOKEN_EXPIRED, 401, "token_expired" }, { SALE_BAD_BUYER, 400, "bad_buyer" },
		{ SALE_SOLD_OUT, 410, "sold_out" }, { SALE_BLACKLIST_IP, 403, "blacklisted_ip" },
		{ SALE_BLACKLIST_BUYER, 403, "blacklisted_buyer" },
		{ SALE_LIMIT_IP, 429, "rate_limited_ip" },
		{ SALE_LIMIT_BUYER, 429, "rate_limited_buyer" },
		{ SALE_BOOK_FULL, 503, "order_book_full" },
		{ SALE_RING_FULL, 503, "order_queue_full" },
		{ SALE_ALREADY, 409, "already_bought" },
		{ SALE_PURCHASE_FULL, 503, "buyer_table_full" },
		{ SALE_STOCK_RETRY, 503, "stock_busy" },
		{ SALE_POW_REQUIRED, 428, "pow_required" },
		{ SALE_POW_INVALID, 403, "pow_invalid" },
	};

	cr_assert_eq(sizeof(t) / sizeof(t[0]), SALE_RESULT_N);
	for (size_t i = 0; i < SALE_RESULT_N; i++) {
		cr_assert_eq(t[i].r, i);
		cr_assert_eq(sale_result_status(t[i].r), t[i].st, "%s", t[i].code);
		cr_assert_str_eq(sale_result_code(t[i].r), t[i].code);
		cr_assert_str_eq(sale_result_names[i], t[i].code);
	}
	cr_assert_eq(sale_result_status(SALE_RESULT_N), 500);
	cr_assert_str_eq(sale_result_code(SALE_RESULT_N), "internal");
	cr_assert_eq(SALE_STATS_N, sizeof(struct sale_stats) / sizeof(uint64_t));
}

Test(sale, create_refuses_bad_conf_with_a_sentence)
{
	struct sale_conf cf;
	char err[SALE_ERR_CAP];

	conf_small(&cf, 1);
	cf.key = (struct token_key){ { 0, 0 } };
	cr_assert_null(sale_create(&cf, err, sizeof(err)));
	cr_assert_str_eq(err, "sale: bad configuration: no token key: load one with token_key_load");
	conf_small(&cf, 0);
	cr_assert_null(sale_create(&cf, err, sizeof(err)));
	cr_assert_str_eq(err, "sale: bad configuration: n_cores must be 1..64");
	conf_small(&cf, 1);
	cf.ring_size = 1000;
	cr_assert_null(sale_create(&cf, err, sizeof(err)));
	cr_assert_str_eq(err, "sale: bad configuration: ring_size must be a power of two >= 2");
}

Test(sale, campaign_add_rules)
{
	struct sale *s = make1(10);

	cr_assert_eq(sale_campaign_add(s, 1, 5, NOW), -EEXIST);
	cr_assert_eq(sale_campaign_add(s, 2, 0, NOW), -EINVAL);
	cr_assert_eq(sale_campaign_add(s, 2, 991, NOW), -ENOSPC, "total stock over max_stock");
	cr_assert_eq(sale_campaign_add(s, 2, 990, NOW), 0);
	cr_assert_eq(sale_campaign_add(s, 3, 1, NOW), -ENOSPC);
	cr_assert_eq(sale_campaign_set_state(s, 9, SALE_OPEN), -ENOENT);
	cr_assert_null(sale_core(s, 1));
	cr_assert_eq(sale_n_cores(s), 1);
	sale_destroy(s);
}

Test(sale, ok_records_order_in_ring_and_book)
{
	struct sale *s = make1(10);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;
	struct ord_record rec[4];
	struct ord_book_view v;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(out.buyer, 42);
	cr_assert_eq(out.retry_after_s, 0);
	cr_assert_eq(ord_id_epoch(out.id), EPOCH);
	cr_assert_eq(ord_id_node(out.id), NODE);
	cr_assert_eq(ord_id_core(out.id), 0);
	cr_assert_eq(ord_id_seq(out.id), 1);
	cr_assert_eq(ord_ring_dequeue_burst(sale_ring(s, 0), rec, 4), 1);
	cr_assert(ord_id_eq(rec[0].id, out.id));
	cr_assert_eq(rec[0].buyer, 42);
	cr_assert_eq(rec[0].campaign, 1);
	cr_assert_eq(rec[0].qty, 1);
	cr_assert_eq(rec[0].time_ms, NOW);
	cr_assert(sale_order_get(s, out.id, &v));
	cr_assert_eq(v.state, ORD_PENDING);
	cr_assert_eq(v.buyer, 42);
	cr_assert_eq(v.campaign, 1);
	cr_assert_eq(v.time_ms, NOW);
	cr_assert_eq(left(s, 1), 9);
	cr_assert(sale_purchase_held(s, 1, 42));
	cr_assert(!sale_purchase_held(s, 1, 43));
	cr_assert_eq(c->results[SALE_OK], 1);
	cr_assert_eq(c->token.token_ok, 1);
	cr_assert_eq(buy(c, 1, 43, &out), SALE_OK);
	cr_assert_eq(ord_id_seq(out.id), 2);
	sale_destroy(s);
}

Test(sale, unknown_campaign_is_404_before_the_token)
{
	struct sale *s = make1(10);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;
	struct tok forged = mint(&other_key, 42, NOW / 1000 + TTL_S);

	cr_assert_eq(sale_buy(c, 2, forged.s, forged.len, IP_A, NOW, &out), SALE_NO_CAMPAIGN);
	cr_assert_eq(sale_buy(c, 2, NULL, 0, IP_A, NOW, &out), SALE_NO_CAMPAIGN);
	cr_assert_eq(c->results[SALE_NO_CAMPAIGN], 2);
	cr_assert_eq(c->token.token_bad_mac, 0, "the token was not even looked at");
	sale_destroy(s);
}

/* Per campaign and per core, every answer counted once, and a request for
 * no campaign in the core's counters alone. */
Test(sale, results_are_counted_per_campaign_across_cores)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_out out;
	uint64_t r1[SALE_RESULT_N], r2[SALE_RESULT_N];

	conf_small(&cf, 2);
	s = make(&cf);
	cr_assert_eq(sale_campaign_add(s, 1, 1, NOW - 1000), 0);
	cr_assert_eq(sale_campaign_add(s, 2, 5, NOW - 1000), 0);
	cr_assert_eq(buy(sale_core(s, 0), 1, 42, &out), SALE_OK);
	cr_assert_eq(buy(sale_core(s, 1), 1, 43, &out), SALE_SOLD_OUT);
	cr_assert_eq(buy(sale_core(s, 1), 1, 42, &out), SALE_SOLD_OUT);
	cr_assert_eq(buy(sale_core(s, 1), 2, 42, &out), SALE_OK);
	cr_assert_eq(buy(sale_core(s, 0), 2, 42, &out), SALE_ALREADY);
	cr_assert_eq(sale_buy(sale_core(s, 0), 2, NULL, 0, IP_A, NOW, &out), SALE_TOKEN_MISSING);
	cr_assert_eq(sale_buy(sale_core(s, 0), 9, NULL, 0, IP_A, NOW, &out), SALE_NO_CAMPAIGN);

	cr_assert(sale_campaign_results(s, 1, r1));
	cr_assert(sale_campaign_results(s, 2, r2));
	cr_assert_eq(r1[SALE_OK], 1);
	cr_assert_eq(r1[SALE_SOLD_OUT], 2);
	cr_assert_eq(r1[SALE_ALREADY], 0);
	cr_assert_eq(r2[SALE_OK], 1);
	cr_assert_eq(r2[SALE_ALREADY], 1);
	cr_assert_eq(r2[SALE_TOKEN_MISSING], 1);
	cr_assert_eq(r2[SALE_SOLD_OUT], 0);
	cr_assert_eq(r1[SALE_NO_CAMPAIGN] + r2[SALE_NO_CAMPAIGN], 0,
		     "an unknown id is nobody's campaign");
	cr_assert_eq(sale_core(s, 0)->results[SALE_NO_CAMPAIGN], 1);
	cr_assert_eq(sale_core(s, 0)->results[SALE_OK] + sale_core(s, 1)->results[SALE_OK], 2,
		     "the per-core counters hold the same answers");
	cr_assert_not(sale_campaign_results(s, 9, r1), "no campaign 9");
	cr_assert_eq(r1[SALE_OK], 0, "zeroed when there is no such campaign");
	sale_destroy(s);
}

Test(sale, not_open_is_425_with_seconds_to_start)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;
	struct tok forged = mint(&other_key, 42, NOW / 1000 + TTL_S);

	conf_small(&cf, 1);
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 7, 5, NOW + 2500), 0);
	cr_assert_eq(buy(c, 7, 42, &out), SALE_NOT_OPEN);
	cr_assert_eq(out.retry_after_s, 3, "2.5 s rounds up");
	cr_assert_eq(sale_buy(c, 7, forged.s, forged.len, IP_A, NOW, &out), SALE_NOT_OPEN,
		     "425 before the token");
	cr_assert_eq(buy_at(c, 7, 42, IP_A, NOW + 2499, &out), SALE_NOT_OPEN);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert_eq(buy_at(c, 7, 42, IP_A, NOW + 2500, &out), SALE_OK, "open at starts_at");
	cr_assert_eq(c->results[SALE_NOT_OPEN], 3);
	/* The control plane opens a campaign early, or closes it. */
	cr_assert_eq(sale_campaign_add(s, 8, 5, NOW + 60000), 0);
	cr_assert_eq(sale_campaign_set_state(s, 8, SALE_OPEN), 0);
	cr_assert_eq(buy(c, 8, 42, &out), SALE_OK);
	cr_assert_eq(sale_campaign_set_state(s, 8, SALE_CLOSED_STATE), 0);
	cr_assert_eq(buy(c, 8, 43, &out), SALE_CLOSED);
	cr_assert_eq(out.retry_after_s, 0);
	cr_assert_eq(left(s, 8), 4, "a closed campaign takes nothing");
	sale_destroy(s);
}

Test(sale, token_refusals_are_counted_apart)
{
	struct sale *s = make1(10);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;
	struct tok forged = mint(&other_key, 42, NOW / 1000 + TTL_S);
	struct tok expired = mint(&key, 42, NOW / 1000);
	struct tok good = mint(&key, 42, NOW / 1000 + 1);

	cr_assert_eq(sale_buy(c, 1, NULL, 0, IP_A, NOW, &out), SALE_TOKEN_MISSING);
	cr_assert_eq(sale_buy(c, 1, "", 0, IP_A, NOW, &out), SALE_TOKEN_MISSING);
	cr_assert_eq(sale_buy(c, 1, "v1.42.x.y", 9, IP_A, NOW, &out), SALE_TOKEN_MALFORMED);
	cr_assert_eq(sale_buy(c, 1, good.s, good.len - 1, IP_A, NOW, &out), SALE_TOKEN_MALFORMED);
	cr_assert_eq(sale_buy(c, 1, forged.s, forged.len, IP_A, NOW, &out), SALE_TOKEN_FORGED);
	cr_assert_eq(sale_buy(c, 1, expired.s, expired.len, IP_A, NOW, &out),
		     SALE_TOKEN_EXPIRED, "now == expiry has expired");
	cr_assert_eq(out.buyer, 0);
	cr_assert_eq(c->results[SALE_TOKEN_MISSING], 2);
	cr_assert_eq(c->results[SALE_TOKEN_MALFORMED], 2);
	cr_assert_eq(c->results[SALE_TOKEN_FORGED], 1);
	cr_assert_eq(c->results[SALE_TOKEN_EXPIRED], 1);
	cr_assert_eq(c->token.token_malformed, 2);
	cr_assert_eq(c->token.token_bad_mac, 1);
	cr_assert_eq(c->token.token_expired, 1);
	cr_assert_eq(left(s, 1), 10);
	cr_assert_eq(sale_buy(c, 1, good.s, good.len, IP_A, NOW, &out), SALE_OK);
	sale_destroy(s);
}

Test(sale, previous_key_is_accepted_during_rotation)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_out out;
	struct tok old = mint(&other_key, 42, NOW / 1000 + TTL_S);

	conf_small(&cf, 1);
	cf.key_prev = other_key;
	s = make(&cf);
	cr_assert_eq(sale_campaign_add(s, 1, 5, 0), 0);
	cr_assert_eq(sale_buy(sale_core(s, 0), 1, old.s, old.len, IP_A, NOW, &out), SALE_OK);
	cr_assert_eq(sale_core(s, 0)->stats.key_prev_ok, 1);
	sale_destroy(s);
}

Test(sale, buyer_max_is_400_not_a_silent_pass)
{
	struct sale *s = make1(10);
	struct sale_out out;

	cr_assert_eq(buy(sale_core(s, 0), 1, UINT64_MAX, &out), SALE_BAD_BUYER);
	cr_assert_eq(left(s, 1), 10);
	sale_destroy(s);
}

/* Classic bug: a repeat buyer takes (and strands) a unit before being told 409. */
Test(sale, repeat_buyer_is_409_and_takes_nothing)
{
	struct sale *s = make1(10);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(buy(c, 1, 42, &out), SALE_ALREADY);
	cr_assert_eq(left(s, 1), 9);
	cr_assert_eq(stock_sold(sale_campaign_pool(s, 1)), 1);
	cr_assert_eq(c->ring->prod.pending, 0, "each 409 cancelled its reservation");
	cr_assert_eq(ord_ring_count(c->ring), 1);
	cr_assert_eq(c->results[SALE_ALREADY], 5);
	sale_destroy(s);
}

/* Classic bugs: one too many at the last unit; a counter driven below 0. */
Test(sale, last_unit_is_sold_once_and_nothing_goes_negative)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_out out;
	int ok = 0;

	conf_small(&cf, 2);
	s = make(&cf);
	cr_assert_eq(sale_campaign_add(s, 1, 3, 0), 0);
	for (uint64_t b = 1; b <= 20; b++) {
		enum sale_result r = buy(sale_core(s, b & 1), 1, b, &out);

		cr_assert(r == SALE_OK || r == SALE_SOLD_OUT, "buyer %llu: %d",
			  (unsigned long long)b, r);
		ok += r == SALE_OK;
		cr_assert_eq(r == SALE_OK, b <= 3, "buyer %llu", (unsigned long long)b);
		cr_assert_leq(left(s, 1), 3);
	}
	cr_assert_eq(ok, 3);
	cr_assert_eq(left(s, 1), 0);
	cr_assert_eq(stock_sold(sale_campaign_pool(s, 1)), 3);
	cr_assert_eq(ord_ring_count(sale_ring(s, 0)) + ord_ring_count(sale_ring(s, 1)), 3);
	sale_destroy(s);
}

Test(sale, sold_out_paths_and_their_order)
{
	struct sale *s = make1(2);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;
	struct tok forged = mint(&other_key, 9, NOW / 1000 + TTL_S);

	cr_assert_eq(buy(c, 1, 1, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 2, &out), SALE_OK);
	/* First 410: from stock_take, after a claim that must be given back. */
	cr_assert_eq(buy(c, 1, 3, &out), SALE_SOLD_OUT);
	cr_assert_eq(c->stats.sold_out_after_claim, 1);
	cr_assert(!sale_purchase_held(s, 1, 3), "the claim was released");
	cr_assert_eq(c->ring->prod.pending, 0);
	/* From now on the core's flag answers, before the purchase set: a
	 * repeat buyer is told 410, not 409. */
	cr_assert_eq(buy(c, 1, 1, &out), SALE_SOLD_OUT);
	cr_assert_eq(buy(c, 1, 4, &out), SALE_SOLD_OUT);
	cr_assert_eq(c->stats.sold_out_fast, 2);
	cr_assert_eq(c->results[SALE_SOLD_OUT], 3);
	cr_assert_eq(c->results[SALE_ALREADY], 0);
	cr_assert_eq(c->purchase.purchase_already, 0, "the set was not even asked");
	/* ... but the token is checked first: a forged token is 401, not 410. */
	cr_assert_eq(sale_buy(c, 1, forged.s, forged.len, IP_A, NOW, &out), SALE_TOKEN_FORGED);
	cr_assert_eq(left(s, 1), 0);
	sale_destroy(s);
}

Test(sale, blacklists_are_403_and_changeable_at_run_time)
{
	struct sale *s = make1(10);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out;

	cr_assert_eq(sale_blacklist_ip_add(s, IP_B), 0);
	cr_assert_eq(sale_blacklist_ip_add(s, IP_B), 0, "adding twice is fine");
	cr_assert_eq(sale_blacklist_buyer_add(s, 66), 0);
	cr_assert_eq(sale_blacklist_buyer_add(s, UINT64_MAX), -EINVAL);
	cr_assert(sale_blacklist_ip_has(s, IP_B));
	cr_assert(!sale_blacklist_ip_has(s, IP_A));
	cr_assert(sale_blacklist_buyer_has(s, 66));
	cr_assert_eq(buy_at(c, 1, 42, IP_B, NOW, &out), SALE_BLACKLIST_IP);
	cr_assert_eq(buy_at(c, 1, 66, IP_A, NOW, &out), SALE_BLACKLIST_BUYER);
	cr_assert_eq(buy_at(c, 1, 66, IP_B, NOW, &out), SALE_BLACKLIST_IP, "IP first");
	cr_assert_eq(left(s, 1), 10);
	cr_assert_eq(sale_blacklist_ip_del(s, IP_B), 0);
	cr_assert_eq(sale_blacklist_ip_del(s, IP_B), -ENOENT);
	cr_assert_eq(sale_blacklist_buyer_del(s, 66), 0);
	cr_assert(!sale_blacklist_ip_has(s, IP_B));
	cr_assert_eq(buy_at(c, 1, 66, IP_B, NOW, &out), SALE_OK);
	cr_assert_eq(c->results[SALE_BLACKLIST_IP], 2);
	cr_assert_eq(c->results[SALE_BLACKLIST_BUYER], 1);
	sale_destroy(s);
}

Test(sale, blacklist_full_recycles_deleted_slots_only)
{
	struct sale_conf cf;
	struct sale *s;
	uint32_t ip;
	int added = 0;

	conf_small(&cf, 1);
	cf.blacklist_capacity = 2;              /* 4 one-word slots: one bucket */
	s = make(&cf);
	for (ip = 1; ip <= 8; ip++)
		added += sale_blacklist_ip_add(s, ip) == 0;
	cr_assert_eq(added, 4);
	cr_assert_eq(sale_blacklist_ip_add(s, 100), -ENOSPC);
	cr_assert_eq(sale_blacklist_ip_del(s, 2), 0);
	cr_assert_eq(sale_blacklist_ip_add(s, 100), 0, "the deleted slot is reused");
	cr_assert(sale_blacklist_ip_has(s, 100));
	cr_assert(!sale_blacklist_ip_has(s, 2));
	cr_assert(sale_blacklist_ip_has(s, 1));
	sale_destroy(s);
}

Test(sale, per_ip_limit_is_429_with_retry_after)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;

	conf_small(&cf, 1);
	cr_assert_eq(lim_rule_set(&cf.ip_rule, 1, 1, 2), 0);   /* 1 r/s burst=2 nodelay */
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 100, 0), 0);
	for (uint64_t b = 1; b <= 3; b++)
		cr_assert_eq(buy(c, 1, b, &out), SALE_OK, "1 + burst pass");
	cr_assert_eq(buy(c, 1, 4, &out), SALE_LIMIT_IP);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert(!sale_purchase_held(s, 1, 4));
	cr_assert_eq(buy_at(c, 1, 5, IP_B, NOW, &out), SALE_OK, "another IP has its own bucket");
	cr_assert_eq(buy_at(c, 1, 4, IP_A, NOW + 1000, &out), SALE_OK, "one more a second later");
	cr_assert_eq(left(s, 1), 95);
	cr_assert_eq(c->lim_ip.lim_limited, 1);
	sale_destroy(s);
}

Test(sale, per_buyer_limit_is_429_after_the_409s)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;

	conf_small(&cf, 1);
	cr_assert_eq(lim_rule_set(&cf.buyer_rule, 60, 60, 1), 0);   /* 60 r/m burst=1 */
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 100, 0), 0);
	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 42, &out), SALE_ALREADY);
	cr_assert_eq(buy(c, 1, 42, &out), SALE_LIMIT_BUYER, "a hammering buyer is shed");
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert_eq(buy(c, 1, 43, &out), SALE_OK, "the same IP, another buyer");
	cr_assert_eq(c->results[SALE_LIMIT_BUYER], 1);
	sale_destroy(s);
}

Test(sale, limits_change_while_selling)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;
	struct lim_rule r;

	conf_small(&cf, 1);           /* limits off at start */
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 100, 0), 0);
	for (uint64_t b = 1; b <= 5; b++)
		cr_assert_eq(buy(c, 1, b, &out), SALE_OK, "no limit yet");
	cr_assert_eq(lim_rule_set(&r, 1, 1, 1), 0);             /* 1 r/s burst=1 */
	cr_assert_eq(sale_set_limit(s, SALE_RULE_IP, &r), 0);
	cr_assert_eq(sale_get_limit(s, SALE_RULE_IP).rate, r.rate);
	cr_assert_eq(buy(c, 1, 6, &out), SALE_OK, "a new bucket: 1 + burst");
	cr_assert_eq(buy(c, 1, 7, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 8, &out), SALE_LIMIT_IP, "the new rule holds at once");
	cr_assert(!sale_purchase_held(s, 1, 8), "a limited buyer took nothing");
	r.rate = 0;
	cr_assert_eq(sale_set_limit(s, SALE_RULE_IP, &r), 0);
	cr_assert_eq(buy(c, 1, 8, &out), SALE_OK, "switched off again");
	cr_assert_eq(left(s, 1), 92);
	sale_destroy(s);
}

Test(sale, a_limit_without_a_table_cannot_be_switched_on)
{
	struct sale_conf cf;
	struct sale *s;
	struct lim_rule r;

	conf_small(&cf, 1);
	cf.buyer_capacity = 0;
	s = make(&cf);
	cr_assert_eq(lim_rule_set(&r, 5, 1, 5), 0);
	cr_assert_eq(sale_set_limit(s, SALE_RULE_BUYER, &r), -ENOSPC);
	cr_assert_eq(sale_get_limit(s, SALE_RULE_BUYER).rate, 0, "unchanged");
	sale_destroy(s);
}

/* Classic bug: a queue that drops a sold order when full. */
Test(sale, ring_full_is_503_before_any_stock_moves)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;
	struct ord_record rec[4];

	conf_small(&cf, 1);
	cf.ring_size = 2;
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 10, 0), 0);
	cr_assert_eq(buy(c, 1, 1, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 2, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 3, &out), SALE_RING_FULL);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert_eq(left(s, 1), 8, "no unit taken");
	cr_assert(!sale_purchase_held(s, 1, 3), "no claim taken");
	cr_assert_eq(c->ring->prod.stats.reserve_full, 1);
	cr_assert_eq(c->results[SALE_RING_FULL], 1);
	/* Nothing was lost: both orders are there, and once drained buyer 3 buys. */
	cr_assert_eq(ord_ring_dequeue_burst(c->ring, rec, 4), 2);
	cr_assert_eq(rec[0].buyer, 1);
	cr_assert_eq(rec[1].buyer, 2);
	cr_assert_eq(buy(c, 1, 3, &out), SALE_OK);
	sale_destroy(s);
}

Test(sale, purchase_set_full_is_503_and_takes_nothing)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;

	conf_small(&cf, 1);
	cf.purchase_capacity = 1;               /* lim_table's minimum: 4 slots, all probed */
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 10, 0), 0);
	for (uint64_t b = 1; b <= 4; b++)
		cr_assert_eq(buy(c, 1, b, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 5, &out), SALE_PURCHASE_FULL);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert_eq(buy(c, 1, 1, &out), SALE_ALREADY, "a known buyer is still 409");
	cr_assert_eq(left(s, 1), 6);
	cr_assert_eq(c->ring->prod.pending, 0);
	cr_assert_eq(ord_ring_count(c->ring), 4);
	cr_assert_eq(c->purchase.purchase_full, 1);
	sale_destroy(s);
}

/* A unit in motion on a stalled core: 503 Retry-After 1, never 410, undone. */
Test(sale, stock_in_motion_is_503_not_410)
{
	struct sale_conf cf;
	struct sale *s;
	struct stock_pool *p;
	struct sale_out out;

	conf_small(&cf, 2);
	s = make(&cf);
	cr_assert_eq(sale_campaign_add(s, 1, 1, 0), 0);
	p = sale_campaign_pool(s, 1);
	/* Core 1 is half-way through a refill: the unit left the pool and has
	 * not reached its share (what stock_refill does between its stores). */
	atomic_store(&p->share[1].units, STOCK_REFILLING);
	atomic_store(&p->remaining, 0);
	cr_assert_eq(buy(sale_core(s, 0), 1, 1, &out), SALE_STOCK_RETRY);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert(!sale_purchase_held(s, 1, 1));
	cr_assert_eq(sale_core(s, 0)->ring->prod.pending, 0);
	atomic_store(&p->share[1].units, 1);    /* the refill lands */
	cr_assert_eq(buy(sale_core(s, 0), 1, 1, &out), SALE_OK, "buyer 1 retries and steals it");
	cr_assert_eq(buy(sale_core(s, 1), 1, 2, &out), SALE_SOLD_OUT);
	sale_destroy(s);
}

/* Classic bug: stock never returned after a failed order. */
Test(sale, reject_returns_the_unit_and_the_claim_once)
{
	struct sale *s = make1(1);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out, out2;
	struct ord_book_view v;
	struct sale_ctl_stats cs;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 43, &out2), SALE_SOLD_OUT);
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_payment_failed), SALE_DECIDED);
	cr_assert_eq(left(s, 1), 1);
	cr_assert_eq(stock_sold(sale_campaign_pool(s, 1)), 0);
	cr_assert(!sale_purchase_held(s, 1, 42));
	cr_assert(sale_order_get(s, out.id, &v));
	cr_assert_eq(v.state, ORD_REJECTED);
	cr_assert_eq(v.reason, ORD_REASON_payment_failed);
	/* Idempotent: nothing more comes back. */
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_payment_failed),
		     SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_fraud), SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_confirm(s, out.id), SALE_DECIDE_CONFLICT);
	cr_assert_eq(left(s, 1), 1);
	/* The sold-out core sees the return; the rejected buyer may buy again. */
	cr_assert_eq(buy(c, 1, 42, &out2), SALE_OK);
	cr_assert_eq(ord_id_seq(out2.id), 2);
	cr_assert_eq(left(s, 1), 0);
	cr_assert_eq(sale_order_confirm(s, out2.id), SALE_DECIDED);
	cr_assert_eq(sale_order_confirm(s, out2.id), SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_reject(s, out2.id, ORD_REASON_other), SALE_DECIDE_CONFLICT);
	cr_assert(sale_purchase_held(s, 1, 42));
	cr_assert_eq(left(s, 1), 0);
	sale_ctl_stats(s, &cs);
	cr_assert_eq(cs.rejected, 1);
	cr_assert_eq(cs.confirmed, 1);
	cr_assert_eq(cs.decide_repeat, 3);
	cr_assert_eq(cs.decide_conflict, 2);
	sale_destroy(s);
}

Test(sale, foreign_or_unsold_order_ids_are_unknown)
{
	struct sale *s = make1(5);
	struct sale_out out;
	struct ord_book_view v;
	struct ord_id bad[] = {
		ord_id_make(EPOCH - 1, NODE, 0, 1), ord_id_make(EPOCH, NODE + 1, 0, 1),
		ord_id_make(EPOCH, NODE, 1, 1), ord_id_make(EPOCH, NODE, 0, 0),
		ord_id_make(EPOCH, NODE, 0, 2), ord_id_make(EPOCH, NODE, 0, UINT64_MAX),
	};

	cr_assert_eq(buy(sale_core(s, 0), 1, 42, &out), SALE_OK);
	cr_assert(sale_order_get(s, ord_id_make(EPOCH, NODE, 0, 1), &v));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(!sale_order_get(s, bad[i], &v), "id %zu", i);
		cr_assert_eq(sale_order_reject(s, bad[i], ORD_REASON_other), SALE_DECIDE_UNKNOWN);
		cr_assert_eq(sale_order_confirm(s, bad[i]), SALE_DECIDE_UNKNOWN);
	}
	cr_assert_eq(left(s, 1), 4);
	sale_destroy(s);
}

/* The book is sized at create: full means 503 before stock moves. */
Test(sale, book_full_is_503_before_any_stock_moves)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_out out;

	conf_small(&cf, 1);
	cf.max_stock = 2;
	cf.return_headroom = 1;
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 1, 2, 0), 0);
	cr_assert_eq(buy(c, 1, 1, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 2, &out), SALE_OK);
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_cancelled), SALE_DECIDED);
	cr_assert_eq(buy(c, 1, 3, &out), SALE_OK, "the headroom resells a return");
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_cancelled), SALE_DECIDED);
	cr_assert_eq(buy(c, 1, 4, &out), SALE_BOOK_FULL);
	cr_assert_eq(out.retry_after_s, 1);
	cr_assert_eq(left(s, 1), 1, "the returned unit is still there");
	cr_assert(!sale_purchase_held(s, 1, 4));
	sale_destroy(s);
}

Test(sale, restored_orders_keep_their_units_and_buyers)
{
	struct sale *s = make1(3);
	struct sale_core *c = sale_core(s, 0);
	struct ord_record rec = { .campaign = 1, .buyer = 7, .qty = 1 };
	struct sale_out out;

	/* A restart with stock 3 and two orders of the last run in its journal. */
	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_OK);
	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_DUPLICATE, "one purchase, one unit");
	rec.buyer = 8;
	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_OK);
	rec.campaign = 2;
	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_NO_CAMPAIGN);
	cr_assert_eq(left(s, 1), 1);
	cr_assert_eq(stock_sold(sale_campaign_pool(s, 1)), 2);

	/* Earlier buyers keep their purchase; one unit is left to sell, once. */
	cr_assert_eq(buy(c, 1, 7, &out), SALE_ALREADY);
	cr_assert_eq(buy(c, 1, 8, &out), SALE_ALREADY);
	cr_assert_eq(buy(c, 1, 9, &out), SALE_OK);
	cr_assert_eq(buy(c, 1, 10, &out), SALE_SOLD_OUT);

	/* A journal holding more orders than the stock is refused, never oversold. */
	rec.campaign = 1;
	rec.buyer = 11;
	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_OVERSOLD);
	cr_assert_eq(left(s, 1), 0);
	cr_assert_not(sale_purchase_held(s, 1, 11), "a refused restore leaves no claim");
	sale_destroy(s);
}

Test(sale, campaign_view_phases)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c;
	struct sale_campaign_view v;
	struct sale_out out;

	conf_small(&cf, 1);
	s = make(&cf);
	c = sale_core(s, 0);
	cr_assert_eq(sale_campaign_add(s, 5, 1, NOW + 1000), 0);
	cr_assert(!sale_campaign_get(c, 6, NOW, &v));
	cr_assert(sale_campaign_get(c, 5, NOW, &v));
	cr_assert_eq(v.id, 5);
	cr_assert_eq(v.phase, SALE_PHASE_SCHEDULED);
	cr_assert_eq(v.starts_at_ms, NOW + 1000);
	cr_assert_eq(v.stock, 1);
	cr_assert_eq(v.left, 1);
	cr_assert(sale_campaign_get(c, 5, NOW + 1000, &v));
	cr_assert_eq(v.phase, SALE_PHASE_OPEN);
	cr_assert_eq(buy_at(c, 5, 1, IP_A, NOW + 1000, &out), SALE_OK);
	cr_assert(sale_campaign_get(c, 5, NOW + 1000, &v));
	cr_assert_eq(v.phase, SALE_PHASE_SOLD_OUT);
	cr_assert_eq(v.left, 0);
	sale_campaign_set_state(s, 5, SALE_CLOSED_STATE);
	cr_assert(sale_campaign_get(c, 5, NOW + 1000, &v));
	cr_assert_eq(v.phase, SALE_PHASE_CLOSED);
	cr_assert_str_eq(sale_phase_str(SALE_PHASE_SOLD_OUT), "sold_out");
	cr_assert_str_eq(sale_phase_str(SALE_PHASE_SCHEDULED), "scheduled");
	sale_destroy(s);
}

/* Durable answers: the control plane publishes per core the highest order
 * sequence that is durable; a core sends a held 200 once it reaches the
 * order's. The position never goes back, and a core out of range is ignored. */
Test(sale, durable_position_only_moves_forward_and_per_core)
{
	struct sale_conf cf;
	struct sale *s;

	conf_small(&cf, 3);
	s = make(&cf);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(sale_durable_seq(sale_core(s, i)), 0);
	sale_set_durable(s, 1, 10);
	cr_assert_eq(sale_durable_seq(sale_core(s, 1)), 10);
	cr_assert_eq(sale_durable_seq(sale_core(s, 0)), 0, "another core moved");
	cr_assert_eq(sale_durable_seq(sale_core(s, 2)), 0, "another core moved");
	/* Back, or the same again: ignored. */
	sale_set_durable(s, 1, 9);
	sale_set_durable(s, 1, 0);
	sale_set_durable(s, 1, 10);
	cr_assert_eq(sale_durable_seq(sale_core(s, 1)), 10);
	sale_set_durable(s, 1, 11);
	cr_assert_eq(sale_durable_seq(sale_core(s, 1)), 11);
	/* Cores out of range: this sale's n_cores, the table's end, far away. */
	sale_set_durable(s, 3, 99);
	sale_set_durable(s, SALE_MAX_CORES - 1, 99);
	sale_set_durable(s, SALE_MAX_CORES, 99);
	sale_set_durable(s, ~0u, 99);
	cr_assert_eq(sale_durable_seq(sale_core(s, 0)), 0);
	cr_assert_eq(sale_durable_seq(sale_core(s, 1)), 11);
	cr_assert_eq(sale_durable_seq(sale_core(s, 2)), 0);
	sale_set_durable(s, 2, UINT64_MAX);
	sale_set_durable(s, 2, 5);
	cr_assert_eq(sale_durable_seq(sale_core(s, 2)), UINT64_MAX);
	sale_destroy(s);
}

/* The control thread publishes while a core reads: the core never sees the
 * position go back, whatever order the publications come in. */
struct durable_race {
	struct sale *s;
	_Atomic int done;
};

static void *durable_writer(void *arg)
{
	struct durable_race *r = arg;

	for (uint64_t v = 1; v <= 2000000; v++)
		sale_set_durable(r->s, 0, (v & 7) == 3 ? v / 2 : v);   /* some go back */
	atomic_store(&r->done, 1);
	return NULL;
}

Test(sale, durable_position_never_goes_back_under_a_reader)
{
	struct sale_conf cf;
	struct durable_race r;
	pthread_t t;
	uint64_t last = 0, now;

	conf_small(&cf, 1);
	r.s = make(&cf);
	atomic_init(&r.done, 0);
	cr_assert_eq(pthread_create(&t, NULL, durable_writer, &r), 0);
	while (!atomic_load(&r.done)) {
		now = sale_durable_seq(sale_core(r.s, 0));
		cr_assert_geq(now, last, "the durable position went back: %lu after %lu",
			      (unsigned long)now, (unsigned long)last);
		last = now;
	}
	pthread_join(t, NULL);
	cr_assert_eq(sale_durable_seq(sale_core(r.s, 0)), 2000000);
	sale_destroy(r.s);
}

/* ---- the order service's word: paid, expired (sale_order_paid/expire) ---- */

Test(sale, expiry_frees_the_buyer_but_not_the_unit)
{
	struct sale *s = make1(1);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out, out2;
	struct ord_book_view v;
	struct sale_ctl_stats cs;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(sale_order_confirm(s, out.id), SALE_DECIDED);
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDED);
	cr_assert(sale_order_get(s, out.id, &v));
	cr_assert_eq(v.state, ORD_EXPIRED);
	cr_assert_str_eq(ord_state_str(v.state), "expired");
	cr_assert(!sale_purchase_held(s, 1, 42), "the buyer may buy again");
	/* The unit went back upstream (Redis), not into this host's pool. */
	cr_assert_eq(left(s, 1), 0);
	cr_assert_eq(stock_sold(sale_campaign_pool(s, 1)), 1);
	cr_assert_eq(buy(c, 1, 42, &out2), SALE_SOLD_OUT, "410 sold_out, not 409 already_bought");
	/* Idempotent, and final. */
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_paid(s, out.id), SALE_DECIDE_CONFLICT);
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_other), SALE_DECIDE_CONFLICT);
	cr_assert_eq(sale_order_confirm(s, out.id), SALE_DECIDED_BEFORE, "it was confirmed");
	cr_assert_eq(left(s, 1), 0);
	sale_ctl_stats(s, &cs);
	cr_assert_eq(cs.expired, 1);
	cr_assert_eq(cs.paid, 0);
	cr_assert_eq(cs.confirmed, 1);
	cr_assert_eq(cs.rejected, 0);
	sale_destroy(s);
}

Test(sale, payment_keeps_the_claim)
{
	struct sale *s = make1(2);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out, out2;
	struct ord_book_view v;
	struct sale_ctl_stats cs;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(sale_order_confirm(s, out.id), SALE_DECIDED);
	cr_assert_eq(sale_order_paid(s, out.id), SALE_DECIDED);
	cr_assert(sale_order_get(s, out.id, &v));
	cr_assert_eq(v.state, ORD_PAID);
	cr_assert_eq(sale_order_paid(s, out.id), SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDE_CONFLICT);
	cr_assert(sale_purchase_held(s, 1, 42), "a paid buyer stays bought");
	cr_assert_eq(buy(c, 1, 42, &out2), SALE_ALREADY);
	cr_assert_eq(left(s, 1), 1);
	sale_ctl_stats(s, &cs);
	cr_assert_eq(cs.paid, 1);
	cr_assert_eq(cs.expired, 0);
	sale_destroy(s);
}

/* A delivery report later than the order service: pending moves straight on,
 * and the late confirm is a repeat, not a conflict. */
Test(sale, a_pending_order_may_end_before_its_confirm)
{
	struct sale *s = make1(2);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out a, b;
	struct sale_ctl_stats cs;

	cr_assert_eq(buy(c, 1, 1, &a), SALE_OK);
	cr_assert_eq(buy(c, 1, 2, &b), SALE_OK);
	cr_assert_eq(sale_order_expire(s, a.id), SALE_DECIDED);
	cr_assert_eq(sale_order_paid(s, b.id), SALE_DECIDED);
	cr_assert_eq(sale_order_confirm(s, a.id), SALE_DECIDED_BEFORE);
	cr_assert_eq(sale_order_confirm(s, b.id), SALE_DECIDED_BEFORE);
	cr_assert(!sale_purchase_held(s, 1, 1));
	cr_assert(sale_purchase_held(s, 1, 2));
	sale_ctl_stats(s, &cs);
	cr_assert_eq(cs.confirmed, 0);
	cr_assert_eq(cs.decide_conflict, 0);
	cr_assert_eq(cs.decide_repeat, 2);
	sale_destroy(s);
}

/* A rejected order never reached Kafka: the order service cannot end it. */
Test(sale, a_rejected_order_is_not_paid_or_expired)
{
	struct sale *s = make1(2);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out, out2;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(sale_order_reject(s, out.id, ORD_REASON_duplicate), SALE_DECIDED);
	cr_assert_eq(buy(c, 1, 42, &out2), SALE_OK, "rebought after the reject");
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDE_CONFLICT);
	cr_assert(sale_purchase_held(s, 1, 42), "the new order's claim is not touched");
	cr_assert_eq(sale_order_paid(s, out.id), SALE_DECIDE_CONFLICT);
	sale_destroy(s);
}

/* The expired buyer buys again; an expiry of the old order, read again (a
 * replayed event), never frees the new order's claim. */
Test(sale, a_replayed_expiry_leaves_the_new_claim)
{
	struct sale *s = make1(3);
	struct sale_core *c = sale_core(s, 0);
	struct sale_out out, out2;
	struct ord_book_view v;

	cr_assert_eq(buy(c, 1, 42, &out), SALE_OK);
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDED);
	cr_assert_eq(buy(c, 1, 42, &out2), SALE_OK, "200, a new order");
	cr_assert(!ord_id_eq(out.id, out2.id));
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDED_BEFORE);
	cr_assert(sale_purchase_held(s, 1, 42));
	cr_assert_eq(buy(c, 1, 42, &out), SALE_ALREADY);
	cr_assert(sale_order_get(s, out2.id, &v));
	cr_assert_eq(v.state, ORD_PENDING);
	sale_destroy(s);
}

Test(sale, foreign_order_ids_are_unknown_to_paid_and_expire)
{
	struct sale *s = make1(5);
	struct sale_out out;
	struct ord_id bad[] = {
		ord_id_make(EPOCH - 1, NODE, 0, 1), ord_id_make(EPOCH, NODE + 1, 0, 1),
		ord_id_make(EPOCH, NODE, 1, 1), ord_id_make(EPOCH, NODE, 0, 2),
	};

	cr_assert_eq(buy(sale_core(s, 0), 1, 42, &out), SALE_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(sale_order_expire(s, bad[i]), SALE_DECIDE_UNKNOWN, "id %zu", i);
		cr_assert_eq(sale_order_paid(s, bad[i]), SALE_DECIDE_UNKNOWN, "id %zu", i);
	}
	cr_assert(sale_purchase_held(s, 1, 42));
	sale_destroy(s);
}

/* An earlier run's order (restored from the journal) has no ticket here: the
 * control plane releases the buyer's claim as it stands. */
Test(sale, purchase_release_frees_a_restored_claim_once)
{
	struct sale *s = make1(3);
	struct sale_core *c = sale_core(s, 0);
	struct ord_record rec = { .campaign = 1, .buyer = 7, .qty = 1 };
	struct sale_out out;

	cr_assert_eq(sale_restore_order(s, &rec), SALE_RESTORE_OK);
	cr_assert_eq(buy(c, 1, 7, &out), SALE_ALREADY);
	cr_assert(sale_purchase_release(s, 1, 7));
	cr_assert(!sale_purchase_release(s, 1, 7), "idempotent");
	cr_assert(!sale_purchase_release(s, 2, 7), "another campaign");
	cr_assert(!sale_purchase_release(s, 1, 8), "another buyer");
	cr_assert_eq(buy(c, 1, 7, &out), SALE_OK, "buys again");
	cr_assert_eq(left(s, 1), 1, "the restored order kept its unit");
	sale_destroy(s);
}

/*
 * The whole resale on one host of a Redis sale: the host found Redis empty
 * (upstream cleared: its cores answer 410), an order expires (its unit goes
 * back to Redis, the buyer is freed here), the host's next take gets the
 * unit (upstream set again, then the grant, as ctl_sale_redis.c does) and
 * a sold-out core sells it.
 */
Test(sale, an_expired_unit_sells_again_once_granted_upstream)
{
	struct sale_conf cf;
	struct sale *s;
	struct sale_core *c0, *c1;
	struct stock_pool *p;
	struct sale_out out, late;

	conf_small(&cf, 2);
	s = make(&cf);
	c0 = sale_core(s, 0);
	c1 = sale_core(s, 1);
	cr_assert_eq(sale_campaign_add_upstream(s, 1, 2, NOW - 1000), 0);
	p = sale_campaign_pool(s, 1);
	stock_grant(p, 2);
	cr_assert_eq(buy(c0, 1, 1, &out), SALE_OK);
	cr_assert_eq(buy(c1, 1, 2, &late), SALE_OK);
	cr_assert_eq(buy(c0, 1, 3, &late), SALE_STOCK_RETRY, "Redis may still have units");
	stock_set_upstream(p, false);                   /* the take found Redis empty */
	cr_assert_eq(buy(c0, 1, 3, &late), SALE_SOLD_OUT);
	cr_assert_eq(buy(c1, 1, 4, &late), SALE_SOLD_OUT);
	cr_assert_eq(sale_order_expire(s, out.id), SALE_DECIDED);
	cr_assert_eq(buy(c0, 1, 3, &late), SALE_SOLD_OUT, "the unit is in Redis, not here");
	stock_set_upstream(p, true);                    /* the next take got it */
	stock_grant(p, 1);
	cr_assert_eq(buy(c1, 1, 3, &late), SALE_OK, "a sold-out core sells it again");
	cr_assert_eq(buy(c0, 1, 1, &late), SALE_STOCK_RETRY, "the expired buyer is free: 503, "
		     "not 409, while Redis may have more");
	stock_set_upstream(p, false);
	cr_assert_eq(buy(c0, 1, 1, &late), SALE_SOLD_OUT);
	cr_assert(sale_purchase_held(s, 1, 2), "a buyer whose order did not expire holds on");
	cr_assert(!sale_purchase_held(s, 1, 1));
	sale_destroy(s);
}

/* Threads as cores: the stress lives in test_sale_stress.h, shared with
 * test_sale_tsan.c (the same runs under ThreadSanitizer, without Criterion). */
#include "test_sale_stress.h"

Test(sale_stress, two_cores_race_for_the_last_units, .timeout = 120)
{
	stress_run(2, false);
}

Test(sale_stress, four_cores_race_for_the_last_units, .timeout = 120)
{
	stress_run(4, false);
}

Test(sale_stress, four_cores_with_rejects_and_resales, .timeout = 120)
{
	stress_run(4, true);
}
