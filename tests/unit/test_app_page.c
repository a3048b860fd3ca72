/* Tests for lib/app/app_page.c, app_site.c and app_product.c: the sale page's
 * answers (ETag, 304, the gzip copy), the product blob and its bounds. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "app.h"
#include "app_product.h"
#include "app_site.h"

struct routed {
	struct http_request req;
	struct http_reply rep;
	uint8_t body[HTTP_REPLY_BODY_CAP];
};

static const struct http_limits lim = {
	.max_head_bytes = 4096, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 2048,
};

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

static const char index_html[] = "<!DOCTYPE html><title>t</title><p>sale</p></html>\n";
static char big_js[20000];

static struct app_site *test_site(void)
{
	struct app_site_src src[2] = {
		{ "index.html", (const uint8_t *)index_html, sizeof(index_html) - 1 },
		{ "app.js", (const uint8_t *)big_js, sizeof(big_js) },
	};
	char err[256];
	struct app_site *s;

	for (size_t i = 0; i < sizeof(big_js); i++)
		big_js[i] = "var x = 1; /* compressible */\n"[i % 30];
	s = app_site_build(src, 2, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	return s;
}

/* Inflates a gzip body and compares it with want. */
static void assert_gunzips_to(const uint8_t *gz, uint32_t n, const void *want, size_t want_len)
{
	static uint8_t out[1 << 16];
	z_stream z = { 0 };

	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)gz;
	z.avail_in = n;
	z.next_out = out;
	z.avail_out = sizeof(out);
	cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	cr_assert_eq(z.total_out, want_len);
	cr_assert(memcmp(out, want, want_len) == 0);
	inflateEnd(&z);
}

Test(app_page, index_with_etag_cache_control_and_vary)
{
	struct app_site *s = test_site(), *copy = app_site_copy(s);
	struct app a;
	struct routed r;

	app_init(&a);
	app_set_site(&a, copy);
	route(&a, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	cr_assert_str_eq(r.rep.content_type, "text/html; charset=utf-8");
	cr_assert_eq(r.rep.ext_len, sizeof(index_html) - 1);
	cr_assert(memcmp(r.rep.ext_body, index_html, r.rep.ext_len) == 0);
	cr_assert_neq(r.rep.ext_body, (const uint8_t *)index_html, "served from the copy");
	cr_assert_not_null(strstr(r.rep.extra_headers, "ETag: \""));
	cr_assert_not_null(strstr(r.rep.extra_headers, "Cache-Control: public, max-age=60\r\n"));
	cr_assert_eq(app_stats(&a)->page, 1);
	/* /c/{id} is the same page, the same ETag. */
	route(&a, "GET /c/42 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_len, sizeof(index_html) - 1);
	route(&a, "GET /c/x HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 404);
	route(&a, "GET /nothing.js HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 404);
	route(&a, "POST /app.js HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 405);
	app_site_free(copy);
	app_site_free(s);
}

Test(app_page, gzip_copy_chosen_by_accept_encoding)
{
	struct app_site *s = test_site();
	const struct app_asset *f = app_site_find(s, "/app.js", 7);
	struct app a;
	struct routed r;

	app_init(&a);
	app_set_site(&a, s);
	cr_assert_not_null(f);
	cr_assert_not_null(f->gz);
	cr_assert_lt(f->gz_len, f->len / 10);
	assert_gunzips_to(f->gz, f->gz_len, big_js, sizeof(big_js));
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_body, f->gz);
	cr_assert_not_null(strstr(r.rep.extra_headers, "Content-Encoding: gzip\r\n"));
	cr_assert_not_null(strstr(r.rep.extra_headers, "Vary: Accept-Encoding\r\n"));
	cr_assert_not_null(strstr(r.rep.extra_headers, f->etag_gz));
	cr_assert_neq(r.rep.ext_tag, f->tag, "the two copies are two streams");
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br, GZIP;q=0.5\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_body, f->gz);
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_body, f->body);
	cr_assert_null(strstr(r.rep.extra_headers, "Content-Encoding"));
	cr_assert_not_null(strstr(r.rep.extra_headers, "Vary: Accept-Encoding\r\n"));
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: xgzip\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_body, f->body);
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.ext_body, f->body);
	cr_assert_eq(app_stats(&a)->page_gzip, 2);
	app_site_free(s);
}

Test(app_page, if_none_match_gives_304)
{
	struct app_site *s = test_site();
	const struct app_asset *f = app_site_find(s, "/app.js", 7);
	char req[512];
	struct app a;
	struct routed r;

	app_init(&a);
	app_set_site(&a, s);
	snprintf(req, sizeof(req), "GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n",
		 f->etag);
	route(&a, req, &r);
	cr_assert_eq(r.rep.status, 304);
	cr_assert_eq(r.rep.body_len, 0);
	cr_assert_null(r.rep.ext_body);
	cr_assert_not_null(strstr(r.rep.extra_headers, f->etag));
	/* Weak comparison, in a list; the gzip copy's own tag. */
	snprintf(req, sizeof(req), "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
		 "If-None-Match: \"zzz\", W/%s\r\n\r\n", f->etag_gz);
	route(&a, req, &r);
	cr_assert_eq(r.rep.status, 304);
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	route(&a, "GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 304);
	cr_assert_eq(app_stats(&a)->page_not_modified, 3);
	app_site_free(s);
}

Test(app_page, site_needs_index_and_safe_names)
{
	struct app_site_src no_index = { "app.js", (const uint8_t *)"x", 1 };
	struct app_site_src bad_name = { "../etc", (const uint8_t *)"x", 1 };
	char err[256];

	cr_assert_null(app_site_build(&no_index, 1, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "index.html"), "%s", err);
	cr_assert_null(app_site_build(&bad_name, 1, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "'../etc'"), "%s", err);
}

Test(app_page, builtin_site_has_the_contract_ids)
{
	char err[256];
	struct app_site *s = app_site_build(app_site_builtin, app_site_builtin_n, err, sizeof(err));
	const char *ids[] = { "id=\"countdown\"", "id=\"buy\"", "id=\"result\"", "id=\"left\"" };

	cr_assert_not_null(s, "%s", err);
	cr_assert_not_null(app_site_find(s, "/app.js", 7));
	cr_assert_not_null(app_site_find(s, "/worker.js", 10));
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		cr_assert_not_null(memmem(s->index->body, s->index->len, ids[i], strlen(ids[i])),
				   "index.html has %s", ids[i]);
	app_site_free(s);
}

Test(app_page, product_published_and_served)
{
	static const uint8_t png[] = "\x89PNG\r\n\x1a\n....";
	struct app_products t = { 0 };
	struct app_product *p, *old;
	char err[256];
	struct app a;
	struct routed r;

	p = app_product_new(&(struct app_product_in){ .campaign = 7, .name = "Phone \"X\" <b>",
		.price = "19.99", .description = "line\nline", .image = png,
		.image_len = sizeof(png) - 1, .image_type = app_product_sniff(png, sizeof(png) - 1) },
		err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(app_products_publish(&t, p, &old), 0);
	cr_assert_null(old);
	app_init(&a);
	app_set_products(&a, &t);
	route(&a, "GET /c/7/product HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	cr_assert_eq(r.rep.ext_len, strlen((const char *)p->json));
	cr_assert_not_null(strstr((const char *)r.rep.ext_body,
				  "\"name\":\"Phone \\\"X\\\" \\u003cb\\u003e\""), "%s", r.rep.ext_body);
	cr_assert_not_null(strstr((const char *)r.rep.ext_body, "\"price\":\"19.99\""));
	route(&a, "GET /c/7/image HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200);
	cr_assert_str_eq(r.rep.content_type, "image/png");
	cr_assert_eq(r.rep.ext_len, sizeof(png) - 1);
	route(&a, "GET /c/8/image HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 404);
	route(&a, "GET /c/8/product HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.rep.status, 200, "an empty product, not a 404");
	/* Replaced: the old blob comes back for the caller to retire. */
	struct app_product *q = app_product_new(&(struct app_product_in){ .campaign = 7,
		.name = "Y" }, err, sizeof(err));
	cr_assert_eq(app_products_publish(&t, q, &old), 0);
	cr_assert_eq(old, p);
	cr_assert_eq(app_product_get(&t, 7), q);
	app_product_free(p);
	app_product_free(q);
}

Test(app_page, product_bounds)
{
	static uint8_t huge[APP_PRODUCT_IMAGE_MAX + 1];
	char err[256];

	cr_assert_null(app_product_new(&(struct app_product_in){ .campaign = 1, .price = "1.999" },
				       err, sizeof(err)));
	cr_assert_not_null(strstr(err, "--price"), "%s", err);
	cr_assert_null(app_product_new(&(struct app_product_in){ .campaign = 1, .name = "a\x01" },
				       err, sizeof(err)));
	cr_assert_null(app_product_new(&(struct app_product_in){ .campaign = 1, .name = "\xc3" },
				       err, sizeof(err)), "cut UTF-8");
	cr_assert_null(app_product_new(&(struct app_product_in){ .campaign = 1, .image = huge,
		.image_len = sizeof(huge), .image_type = "image/png" }, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "256 KiB"), "%s", err);
	cr_assert_null(app_product_sniff((const uint8_t *)"hello", 5));
}
