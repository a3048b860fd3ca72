/*
 * Tests for lib/app/app_sale.c: the sale API through app_handle, with real
 * requests parsed by http_parse_request and a real sale engine behind it.
 * Every answer is checked to the byte: status, body, extra headers.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "sale.h"

#define NOW 1700000000000ull
#define EPOCH 1700000000u

static const struct token_key key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

struct routed {
	struct http_request req;
	struct http_reply rep;
	uint8_t body[HTTP_REPLY_BODY_CAP];
};

static const struct http_limits lim = {
	.max_head_bytes = 4096, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 2048,
};

struct fx {
	struct sale *s;
	struct app a;
	char raw[2048];
	struct routed r;
};

static void fx_init(struct fx *f, const struct lim_rule *ip_rule)
{
	struct sale_conf cf;
	char err[SALE_ERR_CAP];

	sale_conf_default(&cf);
	cf.epoch = EPOCH;
	cf.key = key;
	cf.max_stock = 100;
	cf.ring_size = 64;
	cf.purchase_capacity = 1024;
	cf.buyer_capacity = 1024;
	cf.ip_capacity = 1024;
	if (ip_rule)
		cf.ip_rule = *ip_rule;
	f->s = sale_create(&cf, err, sizeof(err));
	cr_assert_not_null(f->s, "%s", err);
	cr_assert_eq(sale_campaign_add(f->s, 1, 2, NOW - 5000), 0);
	cr_assert_eq(sale_campaign_add(f->s, 2, 5, NOW + 10000), 0);
	app_init(&f->a);
	app_set_sale(&f->a, sale_core(f->s, 0));
	app_set_time_ms(&f->a, NOW);
}

/* Parses raw and runs app_handle on it the way the server does. */
static struct routed *route(struct fx *f, const char *raw)
{
	struct routed *r = &f->r;
	int rc = http_parse_request((const uint8_t *)raw, strlen(raw), 0, &lim, &r->req);

	cr_assert_eq(rc, (int)strlen(raw), "parse: %d", rc);
	memset(&r->rep, 0, sizeof(r->rep));
	r->rep.status = 200;
	r->rep.body = r->body;
	r->rep.body_cap = sizeof(r->body);
	app_handle(&f->a, NULL, &r->req, &r->rep);
	return r;
}

static void expect(const struct routed *r, uint16_t status, const char *body, const char *hdrs)
{
	cr_assert_eq(r->rep.status, status, "status %u, body '%.*s'", r->rep.status,
		     (int)r->rep.body_len, r->body);
	cr_assert_null(r->rep.content_type);
	cr_assert_eq(r->rep.body_len, strlen(body), "body '%.*s', want '%s'",
		     (int)r->rep.body_len, r->body, body);
	cr_assert(memcmp(r->body, body, r->rep.body_len) == 0, "body '%.*s', want '%s'",
		  (int)r->rep.body_len, r->body, body);
	if (hdrs == NULL)
		cr_assert_null(r->rep.extra_headers, "headers '%s'", r->rep.extra_headers);
	else
		cr_assert_str_eq(r->rep.extra_headers, hdrs);
}

static const char *post(struct fx *f, uint32_t camp, uint64_t buyer, const char *body)
{
	char tok[TOKEN_STR_CAP];

	token_mint(&key, buyer, NOW / 1000 + 600, tok, sizeof(tok));
	snprintf(f->raw, sizeof(f->raw),
		 "POST /api/campaigns/%u/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n%s",
		 camp, tok, strlen(body), body);
	return f->raw;
}

static uint64_t stock_of(struct fx *f, uint32_t camp)
{
	return stock_left(sale_campaign_pool(f->s, camp));
}

/* GET /api/campaigns (lib/app/app_page.c): every campaign and the server's clock. */
Test(app_sale, campaign_list_with_the_server_clock)
{
	struct fx f;
	struct routed *r;
	char want[512];

	fx_init(&f, NULL);
	r = route(&f, "GET /api/campaigns HTTP/1.1\r\nHost: x\r\n\r\n");
	snprintf(want, sizeof(want), "{\"now_ms\":%llu,\"campaigns\":[{\"id\":1,\"state\":\"open\","
		 "\"starts_at\":%llu,\"stock\":2,\"left\":2,\"pow_bits\":0},{\"id\":2,\"state\":"
		 "\"scheduled\",\"starts_at\":%llu,\"stock\":5,\"left\":5,\"pow_bits\":0}]}",
		 (unsigned long long)NOW, (unsigned long long)(NOW - 5000),
		 (unsigned long long)(NOW + 10000));
	cr_assert_eq(r->rep.status, 200);
	cr_assert_eq(r->rep.ext_len, strlen(want), "%.*s", (int)r->rep.ext_len, r->rep.ext_body);
	cr_assert(memcmp(r->rep.ext_body, want, r->rep.ext_len) == 0, "%.*s",
		  (int)r->rep.ext_len, r->rep.ext_body);
	cr_assert_str_eq(r->rep.extra_headers, "Cache-Control: no-store\r\n");
	cr_assert_eq(app_stats(&f.a)->campaign_list, 1);
	r = route(&f, "POST /api/campaigns HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(r->rep.status, 405);
	sale_destroy(f.s);
}

Test(app_sale, campaign_get_and_head)
{
	struct fx f;

	fx_init(&f, NULL);
	expect(route(&f, "GET /api/campaigns/1 HTTP/1.1\r\nHost: x\r\n\r\n"), 200,
	       "{\"id\":1,\"state\":\"open\",\"starts_at\":1699999995000,\"stock\":2,\"left\":2,"
	       "\"pow_bits\":0}",
	       NULL);
	expect(route(&f, "HEAD /api/campaigns/2?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 200,
	       "{\"id\":2,\"state\":\"scheduled\",\"starts_at\":1700000010000,\"stock\":5,"
	       "\"left\":5,\"pow_bits\":0}",
	       NULL);
	expect(route(&f, "GET /api/campaigns/3 HTTP/1.1\r\nHost: x\r\n\r\n"), 404,
	       "{\"error\":\"unknown_campaign\"}", NULL);
	expect(route(&f, "GET /api/campaigns/4294967295 HTTP/1.1\r\nHost: x\r\n\r\n"), 404,
	       "{\"error\":\"unknown_campaign\"}", NULL);
	cr_assert_eq(app_stats(&f.a)->campaign_get, 2);
	cr_assert_eq(app_stats(&f.a)->campaign_unknown, 2);
	sale_destroy(f.s);
}

Test(app_sale, buy_then_get_the_order_then_reject_it)
{
	struct fx f;
	char id[ORD_ID_STR_CAP], want[256], raw[256];
	struct ord_id oid = ord_id_make(EPOCH, 0, 0, 1);

	fx_init(&f, NULL);
	ord_id_format(oid, id, sizeof(id));
	snprintf(want, sizeof(want), "{\"order_id\":\"%s\",\"status\":\"pending\"}", id);
	expect(route(&f, post(&f, 1, 42, "")), 200, want, NULL);
	cr_assert_str_eq(id, "6553f100-0000-0000-0000000000000001");
	snprintf(raw, sizeof(raw), "GET /api/orders/%s HTTP/1.1\r\nHost: x\r\n\r\n", id);
	snprintf(want, sizeof(want),
		 "{\"order_id\":\"%s\",\"campaign\":1,\"buyer\":42,\"status\":\"pending\"}", id);
	expect(route(&f, raw), 200, want, NULL);
	cr_assert_eq(sale_order_reject(f.s, oid, ORD_REASON_payment_timeout), SALE_DECIDED);
	snprintf(want, sizeof(want),
		 "{\"order_id\":\"%s\",\"campaign\":1,\"buyer\":42,\"status\":\"rejected\","
		 "\"reason\":\"payment_timeout\"}", id);
	expect(route(&f, raw), 200, want, NULL);
	/* The rejected buyer buys again: a new order, with a JSON object body. */
	ord_id_format(ord_id_make(EPOCH, 0, 0, 2), id, sizeof(id));
	snprintf(want, sizeof(want), "{\"order_id\":\"%s\",\"status\":\"pending\"}", id);
	expect(route(&f, post(&f, 1, 42, "{\"qty\": 1, \"note\": [null]}")), 200, want, NULL);
	cr_assert_eq(sale_order_confirm(f.s, ord_id_make(EPOCH, 0, 0, 2)), SALE_DECIDED);
	snprintf(raw, sizeof(raw), "GET /api/orders/%s HTTP/1.1\r\nHost: x\r\n\r\n", id);
	snprintf(want, sizeof(want),
		 "{\"order_id\":\"%s\",\"campaign\":1,\"buyer\":42,\"status\":\"confirmed\"}", id);
	expect(route(&f, raw), 200, want, NULL);
	cr_assert_eq(app_stats(&f.a)->buy, 2);
	cr_assert_eq(app_stats(&f.a)->order_get, 3);
	sale_destroy(f.s);
}

Test(app_sale, engine_refusals_through_http)
{
	struct fx f;

	fx_init(&f, NULL);
	cr_assert_eq(route(&f, post(&f, 1, 1, ""))->rep.status, 200);
	expect(route(&f, post(&f, 1, 1, "")), 409, "{\"error\":\"already_bought\"}", NULL);
	cr_assert_eq(route(&f, post(&f, 1, 2, ""))->rep.status, 200);
	expect(route(&f, post(&f, 1, 3, "")), 410, "{\"error\":\"sold_out\"}", NULL);
	expect(route(&f, post(&f, 1, 1, "")), 410, "{\"error\":\"sold_out\"}", NULL);
	expect(route(&f, post(&f, 2, 1, "")), 425, "{\"error\":\"not_open\"}",
	       "Retry-After: 10\r\n");
	expect(route(&f, post(&f, 9, 1, "")), 404, "{\"error\":\"unknown_campaign\"}", NULL);
	cr_assert_eq(sale_blacklist_buyer_add(f.s, 7), 0);
	cr_assert_eq(sale_campaign_set_state(f.s, 2, SALE_OPEN), 0);
	expect(route(&f, post(&f, 2, 7, "")), 403, "{\"error\":\"blacklisted_buyer\"}", NULL);
	cr_assert_eq(sale_blacklist_ip_add(f.s, 0), 0);   /* the tests' connection-less peer */
	expect(route(&f, post(&f, 2, 8, "")), 403, "{\"error\":\"blacklisted_ip\"}", NULL);
	cr_assert_eq(sale_campaign_set_state(f.s, 2, SALE_CLOSED_STATE), 0);
	expect(route(&f, post(&f, 2, 8, "")), 410, "{\"error\":\"closed\"}", NULL);
	cr_assert_eq(stock_of(&f, 2), 5);
	cr_assert_eq(sale_core(f.s, 0)->results[SALE_SOLD_OUT], 2);
	cr_assert_eq(sale_core(f.s, 0)->results[SALE_ALREADY], 1);
	sale_destroy(f.s);
}

Test(app_sale, authorization_shapes)
{
	struct fx f;
	char tok[TOKEN_STR_CAP], raw[512];
	static const char bad_tok[] = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";

	fx_init(&f, NULL);
	expect(route(&f, "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n\r\n"), 401,
	       "{\"error\":\"token_missing\"}", "WWW-Authenticate: Bearer\r\n");
	expect(route(&f, "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Bearer garbage\r\n\r\n"), 401,
	       "{\"error\":\"token_malformed\"}", bad_tok);
	expect(route(&f, "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Bearer\r\n\r\n"), 401,
	       "{\"error\":\"token_malformed\"}", bad_tok);
	token_mint(&key, 5, NOW / 1000 + 60, tok, sizeof(tok));
	snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Basic %s\r\n\r\n", tok);
	expect(route(&f, raw), 401, "{\"error\":\"token_malformed\"}", bad_tok);
	/* Near misses of the scheme, each one byte off (one folds under | 0x20). */
	for (const char *const *sch = (const char *const[]){ "Be@rer", "Bearex", "Bearer\t", "Bea`er",
							     NULL }; *sch; sch++) {
		snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: %s %s\r\n\r\n", *sch, tok);
		expect(route(&f, raw), 401, "{\"error\":\"token_malformed\"}", bad_tok);
	}
	token_mint(&key, 5, NOW / 1000, tok, sizeof(tok));
	snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", tok);
	expect(route(&f, raw), 401, "{\"error\":\"token_expired\"}", bad_tok);
	tok[strlen(tok) - 1] ^= 1;              /* one hex digit of the MAC changed */
	snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", tok);
	expect(route(&f, raw), 401, "{\"error\":\"token_forged\"}", bad_tok);
	cr_assert_eq(stock_of(&f, 1), 2, "no refusal took stock");
	/* Scheme case-insensitive, more than one space (RFC 6750 2.1, 9110 11.1). */
	token_mint(&key, 5, NOW / 1000 + 60, tok, sizeof(tok));
	snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: bEaReR   %s\r\n\r\n", tok);
	cr_assert_eq(route(&f, raw)->rep.status, 200);
	/* A forged token on an unknown campaign: 404 first. */
	snprintf(raw, sizeof(raw), "POST /api/campaigns/77/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer v1.1.2.0000000000000000\r\n\r\n");
	expect(route(&f, raw), 404, "{\"error\":\"unknown_campaign\"}", NULL);
	sale_destroy(f.s);
}

Test(app_sale, malformed_ids_are_400_and_take_nothing)
{
	struct fx f;
	static const char *const bad_campaign[] = {
		"GET /api/campaigns/abc HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/01 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/99999999999 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/4294967296 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/-1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/+1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/1.0 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/%31 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/campaigns/01/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n",
		"POST /api/campaigns/1x/orders HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	static const char *const bad_order[] = {
		"GET /api/orders/xyz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/orders/6553F100-0000-0000-0000000000000001 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/orders/6553f100-0000-0000-00000000000000001 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/orders/6553f100_0000-0000-0000000000000001 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	static const char *const not_found[] = {
		"GET /api/campaigns/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/1/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/campaigns/1/orders/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns/1/orderz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/campaigns//orders HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/orders/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/orders/a/b HTTP/1.1\r\nHost: x\r\n\r\n",
	};

	fx_init(&f, NULL);
	for (size_t i = 0; i < sizeof(bad_campaign) / sizeof(bad_campaign[0]); i++)
		expect(route(&f, bad_campaign[i]), 400, "{\"error\":\"bad_campaign_id\"}", NULL);
	for (size_t i = 0; i < sizeof(bad_order) / sizeof(bad_order[0]); i++)
		expect(route(&f, bad_order[i]), 400, "{\"error\":\"bad_order_id\"}", NULL);
	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++)
		expect(route(&f, not_found[i]), 404, "{\"error\":\"not_found\"}", NULL);
	expect(route(&f, "GET /api/orders/6553f100-0000-0000-0000000000000001 HTTP/1.1\r\n"
			 "Host: x\r\n\r\n"), 404, "{\"error\":\"unknown_order\"}", NULL);
	expect(route(&f, "GET /api/orders/6553f0ff-0000-0000-0000000000000001 HTTP/1.1\r\n"
			 "Host: x\r\n\r\n"), 404, "{\"error\":\"unknown_order\"}", NULL);
	cr_assert_eq(app_stats(&f.a)->bad_campaign_id, 11);
	cr_assert_eq(app_stats(&f.a)->bad_order_id, 4);
	cr_assert_eq(app_stats(&f.a)->not_found, 7);
	cr_assert_eq(app_stats(&f.a)->order_unknown, 2);
	cr_assert_eq(app_stats(&f.a)->buy, 0);
	cr_assert_eq(stock_of(&f, 1), 2);
	sale_destroy(f.s);
}

Test(app_sale, body_must_be_a_json_object)
{
	struct fx f;
	static const char *const not_json[] = {
		"x", "{", "{\"a\":1,}", "{'a':1}", "{\"a\":01}", "\xff", "{} {}",
	};

	fx_init(&f, NULL);
	for (size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++)
		expect(route(&f, post(&f, 1, 1, not_json[i])), 400, "{\"error\":\"bad_json\"}",
		       NULL);
	expect(route(&f, post(&f, 1, 1, "[1]")), 400, "{\"error\":\"body_not_object\"}", NULL);
	expect(route(&f, post(&f, 1, 1, "\"s\"")), 400, "{\"error\":\"body_not_object\"}", NULL);
	expect(route(&f, post(&f, 1, 1, "[[[[[[[[[[]]]]]]]]]]")), 400, "{\"error\":\"bad_json\"}",
	       NULL);
	cr_assert_eq(stock_of(&f, 1), 2);
	cr_assert(!sale_purchase_held(f.s, 1, 1));
	cr_assert_eq(app_stats(&f.a)->bad_json, 8);
	cr_assert_eq(app_stats(&f.a)->body_not_object, 2);
	cr_assert_eq(route(&f, post(&f, 1, 1, " {} "))->rep.status, 200);
	sale_destroy(f.s);
}

Test(app_sale, rate_limit_is_429_with_retry_after)
{
	struct fx f;
	struct lim_rule rule;

	/* 1 r/m, no burst. As in nginx the rate is 1000 / 60 = 16 milli-requests
	 * per second (integer), so a request drains in 62.5 s, not 60. */
	cr_assert_eq(lim_rule_set(&rule, 1, 60, 0), 0);
	fx_init(&f, &rule);
	cr_assert_eq(route(&f, post(&f, 1, 1, ""))->rep.status, 200);
	expect(route(&f, post(&f, 1, 2, "")), 429, "{\"error\":\"rate_limited_ip\"}",
	       "Retry-After: 63\r\n");
	app_set_time_ms(&f.a, NOW + 30000);
	expect(route(&f, post(&f, 1, 2, "")), 429, "{\"error\":\"rate_limited_ip\"}",
	       "Retry-After: 33\r\n");
	app_set_time_ms(&f.a, NOW + 62499);
	expect(route(&f, post(&f, 1, 2, "")), 429, "{\"error\":\"rate_limited_ip\"}",
	       "Retry-After: 1\r\n");
	app_set_time_ms(&f.a, NOW + 62500);
	cr_assert_eq(route(&f, post(&f, 1, 2, ""))->rep.status, 200);
	sale_destroy(f.s);
}

Test(app_sale, wrong_methods_are_405_with_allow)
{
	struct fx f;

	fx_init(&f, NULL);
	expect(route(&f, "GET /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n\r\n"), 405,
	       "{\"error\":\"method_not_allowed\"}", "Allow: POST\r\n");
	expect(route(&f, "POST /api/campaigns/1 HTTP/1.1\r\nHost: x\r\n\r\n"), 405,
	       "{\"error\":\"method_not_allowed\"}", "Allow: GET, HEAD\r\n");
	expect(route(&f, "DELETE /api/orders/x HTTP/1.1\r\nHost: x\r\n\r\n"), 405,
	       "{\"error\":\"method_not_allowed\"}", "Allow: GET, HEAD\r\n");
	cr_assert_eq(app_stats(&f.a)->method_not_allowed, 3);
	sale_destroy(f.s);
}

Test(app_sale, without_a_sale_the_api_is_404_and_the_rest_works)
{
	struct app a;
	struct fx f;

	app_init(&a);
	f.a = a;
	expect(route(&f, "GET /api/campaigns/1 HTTP/1.1\r\nHost: x\r\n\r\n"), 404,
	       "{\"error\":\"not_found\"}", NULL);
	expect(route(&f, "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n\r\n"), 404,
	       "{\"error\":\"not_found\"}", NULL);
	expect(route(&f, "GET /api/orders/6553f100-0000-0000-0000000000000001 HTTP/1.1\r\n"
			 "Host: x\r\n\r\n"), 404, "{\"error\":\"not_found\"}", NULL);
	expect(route(&f, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200,
	       "{\"status\":\"ok\"}", NULL);
	cr_assert_eq(app_stats(&f.a)->no_sale, 3);
	route(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(f.r.rep.status, 200);
	cr_assert_not_null(memmem(f.r.body, f.r.rep.body_len, "POST /api/campaigns/{id}/orders",
				  31), "the index lists the buy endpoint");
	cr_assert_null(memmem(f.r.body, f.r.rep.body_len, "POST /api/orders<", 17));
}
