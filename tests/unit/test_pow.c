/*
 * Tests for lib/sale/pow.c (challenges and their check) and for the proof
 * of work in sale_buy_pow: 428 without one, 403 with a bad one, 200 with a
 * good one, nothing asked while the campaign's bits are 0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "pow.h"
#include "sale.h"

#define NOW_S 1700000000ull
#define NOW (NOW_S * 1000)               /* Unix ms */
#define BUYER 4242
#define CAMP 7
#define BITS 8
#define IP_A 0x0100a8c0u

static const struct token_key tkey = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

static struct pow_key key(void)
{
	struct pow_key k;

	pow_key_derive(&tkey, &k);
	return k;
}

/* "<challenge>:<nonce>" in out, solved at `bits`. */
static size_t solved(const struct pow_key *k, uint64_t buyer, uint32_t camp, unsigned bits,
		     uint64_t now_s, char *out, size_t cap)
{
	char ch[POW_CHALLENGE_CAP], nonce[32];
	uint64_t n = 0;
	int len = pow_challenge(k, buyer, camp, bits, now_s, ch, sizeof(ch));

	cr_assert_gt(len, 0);
	cr_assert_gt(pow_solve(ch, (size_t)len, bits, &n, nonce, sizeof(nonce)), 0);
	return (size_t)snprintf(out, cap, "%s:%s", ch, nonce);
}

static enum pow_status check(const char *v, uint64_t buyer, uint32_t camp, unsigned bits,
			     uint64_t now_s)
{
	struct pow_key k = key();

	return pow_verify(&k, NULL, v, strlen(v), buyer, camp, bits, now_s);
}

Test(pow, challenge_has_its_documented_shape)
{
	struct pow_key k = key();
	char ch[POW_CHALLENGE_CAP], want[32];
	int n = pow_challenge(&k, BUYER, CAMP, BITS, NOW_S, ch, sizeof(ch));

	snprintf(want, sizeof(want), "%u.%u.%llu.", CAMP, BITS, NOW_S);
	cr_assert_eq((size_t)n, strlen(want) + 16, "%s", ch);
	cr_assert_eq(strncmp(ch, want, strlen(want)), 0, "%s", ch);
	cr_assert_eq(pow_challenge(&k, BUYER, CAMP, POW_MAX_BITS + 1, NOW_S, ch, sizeof(ch)), -1);
	cr_assert_eq(pow_challenge(&k, BUYER, CAMP, BITS, NOW_S, ch, 10), -1);
	/* The longest fits the cap. */
	cr_assert_gt(pow_challenge(&k, UINT64_MAX, UINT32_MAX, POW_MAX_BITS, UINT64_MAX, ch,
				   sizeof(ch)), 0);
	cr_assert_eq(pow_expires_ms(NOW_S), (NOW_S + POW_TTL_S) * 1000);
}

Test(pow, a_solution_passes_for_its_buyer_campaign_and_time)
{
	struct pow_key k = key();
	char v[128];

	solved(&k, BUYER, CAMP, BITS, NOW_S, v, sizeof(v));
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S), POW_OK);
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S + POW_TTL_S - 1), POW_OK);
	/* A campaign that asks fewer bits than the challenge was solved for. */
	cr_assert_eq(check(v, BUYER, CAMP, 1, NOW_S), POW_OK);
}

Test(pow, another_buyer_or_campaign_is_refused)
{
	struct pow_key k = key();
	char v[128];

	solved(&k, BUYER, CAMP, BITS, NOW_S, v, sizeof(v));
	cr_assert_eq(check(v, BUYER + 1, CAMP, BITS, NOW_S), POW_BAD_MAC);
	cr_assert_eq(check(v, BUYER, CAMP + 1, BITS, NOW_S), POW_BAD_MAC);
}

Test(pow, another_key_is_refused_unless_it_is_the_previous_one)
{
	static const struct token_key other = { { 1, 2 } };
	struct pow_key k = key(), o;
	char v[128];

	pow_key_derive(&other, &o);
	solved(&o, BUYER, CAMP, BITS, NOW_S, v, sizeof(v));
	cr_assert_eq(pow_verify(&k, NULL, v, strlen(v), BUYER, CAMP, BITS, NOW_S), POW_BAD_MAC);
	cr_assert_eq(pow_verify(&k, &o, v, strlen(v), BUYER, CAMP, BITS, NOW_S), POW_OK);
}

Test(pow, expired_or_far_future_is_refused)
{
	struct pow_key k = key();
	char v[128];

	solved(&k, BUYER, CAMP, BITS, NOW_S, v, sizeof(v));
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S + POW_TTL_S), POW_EXPIRED);
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S - POW_SKEW_S), POW_OK);
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S - POW_SKEW_S - 1), POW_EXPIRED);
}

Test(pow, fewer_bits_than_the_campaign_asks_now_is_refused)
{
	struct pow_key k = key();
	char v[128];

	solved(&k, BUYER, CAMP, 4, NOW_S, v, sizeof(v));
	cr_assert_eq(check(v, BUYER, CAMP, 5, NOW_S), POW_WEAK);
}

Test(pow, altered_fields_break_the_mac)
{
	struct pow_key k = key();
	char v[128], w[160];
	size_t n = solved(&k, BUYER, CAMP, BITS, NOW_S, v, sizeof(v));

	(void)n;
	/* The bits lowered in the text: the MAC covers them. */
	snprintf(w, sizeof(w), "%u.%u.%s", CAMP, BITS - 1, strchr(strchr(v, '.') + 1, '.') + 1);
	cr_assert_eq(check(w, BUYER, CAMP, 1, NOW_S), POW_BAD_MAC, "%s", w);
	/* The issue time moved on. */
	snprintf(w, sizeof(w), "%u.%u.%llu.%s", CAMP, BITS, NOW_S + 60,
		 strrchr(v, '.') + 1);
	cr_assert_eq(check(w, BUYER, CAMP, BITS, NOW_S), POW_BAD_MAC, "%s", w);
}

/* A nonce whose hash has exactly `zeros` leading zero bits (the next bit set). */
static uint64_t nonce_with_exact_zeros(const char *ch, unsigned zeros)
{
	uint8_t d[32];
	char s[24];

	for (uint64_t n = 0;; n++) {
		int len = snprintf(s, sizeof(s), "%" PRIu64, n);

		pow_sha256(ch, strlen(ch), s, (size_t)len, d);
		if (pow_zero_bits(d, zeros) && !pow_zero_bits(d, zeros + 1))
			return n;
	}
}

Test(pow, exactly_n_zero_bits_pass_at_n_and_fail_at_n_plus_1)
{
	struct pow_key k = key();
	char ch[POW_CHALLENGE_CAP], v[128];
	uint64_t n;

	/* Solved for 10 bits with a hash of exactly 10 zeros: passes. */
	pow_challenge(&k, BUYER, CAMP, 10, NOW_S, ch, sizeof(ch));
	n = nonce_with_exact_zeros(ch, 10);
	snprintf(v, sizeof(v), "%s:%" PRIu64, ch, n);
	cr_assert_eq(check(v, BUYER, CAMP, 10, NOW_S), POW_OK);
	/* A challenge of 10 bits with a hash of only 9 zeros: refused. */
	n = nonce_with_exact_zeros(ch, 9);
	snprintf(v, sizeof(v), "%s:%" PRIu64, ch, n);
	cr_assert_eq(check(v, BUYER, CAMP, 10, NOW_S), POW_UNSOLVED);
}

Test(pow, zero_bits_boundary_on_raw_digests)
{
	uint8_t d[32] = { 0 };

	d[1] = 0x80;                    /* 8 zero bits exactly */
	cr_assert(pow_zero_bits(d, 8));
	cr_assert_not(pow_zero_bits(d, 9));
	cr_assert(pow_zero_bits(d, 0));
	memset(d, 0, sizeof(d));
	cr_assert(pow_zero_bits(d, 32));
	d[3] = 1;
	cr_assert(pow_zero_bits(d, 31));
	cr_assert_not(pow_zero_bits(d, 32));
}

Test(pow, wrong_nonce_is_unsolved)
{
	struct pow_key k = key();
	char ch[POW_CHALLENGE_CAP], v[128];
	uint8_t d[32];
	char s[24];
	uint64_t n;

	/* 16 bits: find a nonce that does not solve it (most do not). */
	pow_challenge(&k, BUYER, CAMP, 16, NOW_S, ch, sizeof(ch));
	for (n = 0;; n++) {
		int len = snprintf(s, sizeof(s), "%" PRIu64, n);

		pow_sha256(ch, strlen(ch), s, (size_t)len, d);
		if (!pow_zero_bits(d, 16))
			break;
	}
	snprintf(v, sizeof(v), "%s:%" PRIu64, ch, n);
	cr_assert_eq(check(v, BUYER, CAMP, 16, NOW_S), POW_UNSOLVED);
}

Test(pow, malformed_values_are_refused)
{
	struct pow_key k = key();
	char ch[POW_CHALLENGE_CAP], v[256];
	static const char *const bad[] = {
		"", ":", "7.8.1700000000.0123456789abcdef", "7.8.1700000000.0123456789abcdef:",
		"7.8.1700000000.0123456789ABCDEF:1", "7.8.1700000000.0123456789abcde:1",
		"07.8.1700000000.0123456789abcdef:1", "7.33.1700000000.0123456789abcdef:1",
		"7.8.1700000000.0123456789abcdef:1 2", "7.8.1700000000.0123456789abcdef:1:2",
		"4294967296.8.1700000000.0123456789abcdef:1", "7..1700000000.0123456789abcdef:1",
		"7.8.1700000000.0123456789abcdef0:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(check(bad[i], BUYER, CAMP, BITS, NOW_S), POW_MALFORMED, "%s", bad[i]);
	/* A nonce longer than POW_NONCE_MAX. */
	pow_challenge(&k, BUYER, CAMP, BITS, NOW_S, ch, sizeof(ch));
	snprintf(v, sizeof(v), "%s:%0*d", ch, POW_NONCE_MAX + 1, 1);
	cr_assert_eq(check(v, BUYER, CAMP, BITS, NOW_S), POW_MALFORMED);
	/* Letters, '-' and '_' are nonce characters. */
	snprintf(v, sizeof(v), "%s:aZ-_09", ch);
	cr_assert_neq(check(v, BUYER, CAMP, BITS, NOW_S), POW_MALFORMED);
}

/* ---- sale_buy_pow ------------------------------------------------------- */

static struct sale *make_sale(void)
{
	struct sale_conf cf;
	char err[SALE_ERR_CAP];
	struct sale *s;

	sale_conf_default(&cf);
	cf.key = tkey;
	cf.max_stock = 100;
	cf.return_headroom = 10;
	cf.ring_size = 64;
	cf.purchase_capacity = 1024;
	cf.blacklist_capacity = 16;
	s = sale_create(&cf, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(sale_campaign_add(s, CAMP, 10, NOW - 1000), 0);
	return s;
}

static enum sale_result buy(struct sale *s, uint64_t buyer, const char *pow)
{
	char tok[TOKEN_STR_CAP];
	int n = token_mint(&tkey, buyer, NOW_S + 3600, tok, sizeof(tok));
	struct sale_out out;

	cr_assert_gt(n, 0);
	return sale_buy_pow(sale_core(s, 0), CAMP, tok, (size_t)n, pow, pow ? strlen(pow) : 0,
			    IP_A, NOW, &out);
}

/* The challenge the sale gives buyer, solved. */
static void sale_solved(struct sale *s, uint64_t buyer, char *out, size_t cap)
{
	char tok[TOKEN_STR_CAP], nonce[32];
	int n = token_mint(&tkey, buyer, NOW_S + 3600, tok, sizeof(tok));
	struct sale_challenge ch;
	uint64_t i = 0;

	cr_assert_eq(sale_challenge(sale_core(s, 0), CAMP, tok, (size_t)n, NOW, &ch), SALE_OK);
	cr_assert_eq(ch.expires_ms, (NOW_S + POW_TTL_S) * 1000);
	pow_solve(ch.text, strlen(ch.text), ch.bits, &i, nonce, sizeof(nonce));
	snprintf(out, cap, "%s:%s", ch.text, nonce);
}

Test(sale_pow, off_by_default_and_no_header_needed)
{
	struct sale *s = make_sale();
	struct sale_campaign_view v;

	cr_assert(sale_campaign_info(s, CAMP, NOW, &v));
	cr_assert_eq(v.pow_bits, 0);
	cr_assert_eq(buy(s, 1, NULL), SALE_OK);
	/* A header sent to a campaign that asks nothing is not even read. */
	cr_assert_eq(buy(s, 2, "junk"), SALE_OK);
	sale_destroy(s);
}

Test(sale_pow, required_invalid_and_ok_are_428_403_200)
{
	struct sale *s = make_sale();
	struct sale_core *c = sale_core(s, 0);
	struct sale_campaign_view v;
	char mine[128], theirs[128];

	cr_assert_eq(sale_campaign_set_pow(s, CAMP, BITS), 0);
	cr_assert(sale_campaign_info(s, CAMP, NOW, &v));
	cr_assert_eq(v.pow_bits, BITS);
	sale_solved(s, 1, mine, sizeof(mine));
	sale_solved(s, 2, theirs, sizeof(theirs));

	cr_assert_eq(buy(s, 1, NULL), SALE_POW_REQUIRED);
	cr_assert_eq(sale_result_status(SALE_POW_REQUIRED), 428);
	cr_assert_eq(buy(s, 1, theirs), SALE_POW_INVALID);
	cr_assert_eq(sale_result_status(SALE_POW_INVALID), 403);
	cr_assert_eq(buy(s, 1, "not a solution"), SALE_POW_INVALID);
	cr_assert_eq(buy(s, 1, mine), SALE_OK);
	cr_assert_eq(c->results[SALE_POW_REQUIRED], 1);
	cr_assert_eq(c->results[SALE_POW_INVALID], 2);
	cr_assert_eq(c->results[SALE_OK], 1);
	cr_assert_eq(c->pow.pow_bad_mac, 1);
	cr_assert_eq(c->pow.pow_malformed, 1);
	cr_assert_eq(c->pow.pow_challenges, 2);
	cr_assert_eq(stock_left(sale_campaign_pool(s, CAMP)), 9);

	/* Raised live: the 8-bit solution is now too weak; back to 0: off. */
	sale_solved(s, 3, mine, sizeof(mine));
	cr_assert_eq(sale_campaign_set_pow(s, CAMP, BITS + 1), 0);
	cr_assert_eq(buy(s, 3, mine), SALE_POW_INVALID);
	cr_assert_eq(c->pow.pow_weak, 1);
	cr_assert_eq(sale_campaign_set_pow(s, CAMP, 0), 0);
	cr_assert_eq(buy(s, 3, NULL), SALE_OK);
	sale_destroy(s);
}

Test(sale_pow, token_first_then_sold_out_then_pow)
{
	struct sale *s = make_sale();
	struct sale_out out;

	cr_assert_eq(sale_campaign_set_pow(s, CAMP, BITS), 0);
	/* No token: 401, not 428 (the challenge is the buyer's). */
	cr_assert_eq(sale_buy_pow(sale_core(s, 0), CAMP, NULL, 0, NULL, 0, IP_A, NOW, &out),
		     SALE_TOKEN_MISSING);
	sale_destroy(s);
}

Test(sale_pow, set_pow_checks_id_and_range)
{
	struct sale *s = make_sale();

	cr_assert_eq(sale_campaign_set_pow(s, CAMP + 1, 4), -ENOENT);
	cr_assert_eq(sale_campaign_set_pow(s, CAMP, POW_MAX_BITS + 1), -EINVAL);
	cr_assert_eq(sale_campaign_set_pow(s, CAMP, POW_MAX_BITS), 0);
	sale_destroy(s);
}

Test(sale_pow, challenge_refusals)
{
	struct sale *s = make_sale();
	struct sale_challenge ch;

	cr_assert_eq(sale_challenge(sale_core(s, 0), CAMP + 1, "x", 1, NOW, &ch),
		     SALE_NO_CAMPAIGN);
	cr_assert_eq(sale_challenge(sale_core(s, 0), CAMP, NULL, 0, NOW, &ch), SALE_TOKEN_MISSING);
	cr_assert_eq(sale_challenge(sale_core(s, 0), CAMP, "v1.x", 4, NOW, &ch),
		     SALE_TOKEN_MALFORMED);
	sale_destroy(s);
}

/* ---- the header and the routes (http_parse, app_sale) ------------------- */

static const struct http_limits lim = {
	.max_head_bytes = 4096, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 2048,
};

Test(pow_http, header_is_captured_once_and_a_repeat_is_400)
{
	static const char one[] = "POST /api/campaigns/7/orders HTTP/1.1\r\nHost: x\r\n"
				  "x-seckill-POW: 7.8.1.0123456789abcdef:42\r\n\r\n";
	static const char two[] = "POST /api/campaigns/7/orders HTTP/1.1\r\nHost: x\r\n"
				  "X-Seckill-PoW: a:1\r\nX-Seckill-PoW: b:2\r\n\r\n";
	struct http_request req;

	cr_assert_eq(http_parse_request((const uint8_t *)one, strlen(one), 0, &lim, &req),
		     (int)strlen(one));
	cr_assert(http_span_eq(req.pow, "7.8.1.0123456789abcdef:42"));
	cr_assert_eq(http_parse_request((const uint8_t *)two, strlen(two), 0, &lim, &req),
		     HTTP_PARSE_BAD_REQUEST);
}

/* app_handle on raw; the reply's body in body (NUL-terminated). */
static uint16_t app_route(struct app *a, const char *raw, char *body, size_t cap)
{
	static uint8_t buf[HTTP_REPLY_BODY_CAP];
	struct http_request req;
	struct http_reply rep;

	cr_assert_eq(http_parse_request((const uint8_t *)raw, strlen(raw), 0, &lim, &req),
		     (int)strlen(raw), "%s", raw);
	memset(&rep, 0, sizeof(rep));
	rep.body = buf;
	rep.body_cap = sizeof(buf);
	app_handle(a, NULL, &req, &rep);
	snprintf(body, cap, "%.*s", (int)rep.body_len, (const char *)buf);
	return rep.status;
}

Test(pow_http, challenge_route_then_a_solved_order)
{
	struct sale *s = make_sale();
	struct app a;
	char tok[TOKEN_STR_CAP], raw[1024], body[512], want[128], nonce[24], ch[POW_CHALLENGE_CAP];
	uint64_t i = 0;

	token_mint(&tkey, 9, NOW_S + 3600, tok, sizeof(tok));
	app_init(&a);
	app_set_sale(&a, sale_core(s, 0));
	app_set_time_ms(&a, NOW);
	cr_assert_eq(sale_campaign_set_pow(s, CAMP, BITS), 0);

	snprintf(raw, sizeof(raw), "GET /api/campaigns/%u/challenge HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", CAMP, tok);
	cr_assert_eq(app_route(&a, raw, body, sizeof(body)), 200, "%s", body);
	snprintf(want, sizeof(want), "{\"challenge\":\"%u.%u.%llu.", CAMP, BITS, NOW_S);
	cr_assert_eq(strncmp(body, want, strlen(want)), 0, "%s", body);
	snprintf(want, sizeof(want), "\",\"bits\":%u,\"expires_ms\":%llu}", BITS,
		 (NOW_S + POW_TTL_S) * 1000);
	cr_assert(strstr(body, want) != NULL, "%s", body);
	cr_assert_eq(app_stats(&a)->challenge, 1);

	snprintf(raw, sizeof(raw), "GET /api/campaigns/%u/challenge HTTP/1.1\r\nHost: x\r\n\r\n",
		 CAMP);
	cr_assert_eq(app_route(&a, raw, body, sizeof(body)), 401);
	cr_assert_str_eq(body, "{\"error\":\"token_missing\"}");
	snprintf(raw, sizeof(raw), "POST /api/campaigns/%u/challenge HTTP/1.1\r\nHost: x\r\n\r\n",
		 CAMP);
	cr_assert_eq(app_route(&a, raw, body, sizeof(body)), 405);
	cr_assert_eq(app_stats(&a)->challenge_refused, 1);

	/* The challenge from the first answer, solved, with the order. */
	snprintf(raw, sizeof(raw), "GET /api/campaigns/%u/challenge HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", CAMP, tok);
	app_route(&a, raw, body, sizeof(body));
	*strchr(body + strlen("{\"challenge\":\""), '"') = '\0';
	snprintf(ch, sizeof(ch), "%.*s", POW_CHALLENGE_CAP - 1, body + strlen("{\"challenge\":\""));
	pow_solve(ch, strlen(ch), BITS, &i, nonce, sizeof(nonce));
	snprintf(raw, sizeof(raw), "POST /api/campaigns/%u/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", CAMP, tok);
	cr_assert_eq(app_route(&a, raw, body, sizeof(body)), 428);
	cr_assert_str_eq(body, "{\"error\":\"pow_required\"}");
	snprintf(raw, sizeof(raw), "POST /api/campaigns/%u/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\nX-Seckill-PoW: %s:%s\r\n\r\n", CAMP, tok, ch,
		 nonce);
	cr_assert_eq(app_route(&a, raw, body, sizeof(body)), 200, "%s", body);
	sale_destroy(s);
}
