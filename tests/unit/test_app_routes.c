/* Tests for lib/app/app_routes.c: each route's exact answer and the refusals. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <string.h>

#include "app.h"

struct routed {
	struct http_request req;
	struct http_reply rep;
	uint8_t body[HTTP_REPLY_BODY_CAP];
};

static const struct http_limits lim = {
	.max_head_bytes = 4096, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 2048,
};

/* Parses raw and runs app_handle on it the way the server does. */
static void route(struct app *a, const char *raw, struct routed *r)
{
	int rc = http_parse_request((const uint8_t *)raw, strlen(raw), 0, &lim, &r->req);

	cr_assert_eq(rc, (int)strlen(raw), "parse: %d", rc);
	memset(&r->rep, 0, sizeof(r->rep));
	r->rep.status = 200;
	r->rep.body = r->body;
	r->rep.body_cap = sizeof(r->body);
	app_handle(a, NULL, &r->req, &r->rep);
}

static void assert_body(const struct routed *r, const char *exp)
{
	cr_assert_eq(r->rep.body_len, strlen(exp), "body '%.*s'", (int)r->rep.body_len, r->body);
	cr_assert(memcmp(r->body, exp, r->rep.body_len) == 0, "body '%.*s'",
		  (int)r->rep.body_len, r->body);
}

Test(app_routes, healthz_get_and_head)
{
	struct app a;
	struct routed r;

	app_init(&a);
	route(&a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	cr_assert_null(r.rep.content_type, "JSON is the server's default type");
	cr_assert_null(r.rep.extra_headers);
	assert_body(&r, "{\"status\":\"ok\"}");
	route(&a, "HEAD /healthz?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	assert_body(&r, "{\"status\":\"ok\"}");
	cr_assert_eq(app_stats(&a)->healthz, 2);
}

Test(app_routes, index_is_a_small_html_page)
{
	struct app a;
	struct routed r;

	app_init(&a);
	route(&a, "GET / HTTP/1.0\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	cr_assert_str_eq(r.rep.content_type, "text/html; charset=utf-8");
	cr_assert_gt(r.rep.body_len, 200);
	cr_assert_lt(r.rep.body_len, 1024);
	cr_assert(memcmp(r.body, "<!DOCTYPE html>\n", 16) == 0);
	cr_assert_not_null(memmem(r.body, r.rep.body_len, "/healthz", 8));
	cr_assert_eq(app_stats(&a)->index, 1);
}

Test(app_routes, unknown_path_is_404)
{
	struct app a;
	struct routed r;
	static const char *const raws[] = {
		"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthzz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET //healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	};

	app_init(&a);
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		route(&a, raws[i], &r);
		cr_assert_eq(r.rep.status, 404, "%s", raws[i]);
		assert_body(&r, "{\"error\":\"not_found\"}");
	}
	cr_assert_eq(app_stats(&a)->not_found, 6);
	cr_assert_eq(app_stats(&a)->healthz, 0);
}

Test(app_routes, known_path_wrong_method_is_405_with_allow)
{
	struct app a;
	struct routed r;
	static const char *const raws[] = {
		"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	};

	app_init(&a);
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		route(&a, raws[i], &r);
		cr_assert_eq(r.rep.status, 405, "%s", raws[i]);
		cr_assert_str_eq(r.rep.extra_headers, "Allow: GET, HEAD\r\n");
		assert_body(&r, "{\"error\":\"method_not_allowed\"}");
	}
	cr_assert_eq(app_stats(&a)->method_not_allowed, 4);
}
