/* Tests for lib/http/http_response.c: exact bytes of answers and dates, and
 * the head cache (http_head_cache.h) against the general writer. */
#include <criterion/criterion.h>
#include <string.h>

#include "http_head_cache.h"
#include "http_response.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

static void assert_written(const struct http_response *r, const char *exp)
{
	uint8_t out[1024];
	int n = http_response_write(out, sizeof(out), r);

	cr_assert_eq(n, (int)strlen(exp), "wrote %d bytes: '%.*s'", n, n > 0 ? n : 0, out);
	cr_assert(memcmp(out, exp, (size_t)n) == 0, "wrote '%.*s'\nexpected '%s'", n, out, exp);
}

Test(http_response, json_200_keep_alive_default)
{
	struct http_response r = { .status = 200, .date = DATE, .body = "{\"status\":\"ok\"}",
				   .body_len = 15 };

	assert_written(&r, "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
			   "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}");
}

Test(http_response, close_extra_headers_and_type)
{
	struct http_response r = { .status = 405, .date = DATE, .content_type = "text/plain",
				   .connection = HTTP_CONN_CLOSE, .extra_headers = "Allow: GET, HEAD\r\n",
				   .body = "no", .body_len = 2 };

	assert_written(&r, "HTTP/1.1 405 Method Not Allowed\r\nDate: " DATE "\r\n"
			   "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n"
			   "Allow: GET, HEAD\r\n\r\nno");
}

Test(http_response, http10_keep_alive_and_head_only)
{
	struct http_response r = { .status = 404, .connection = HTTP_CONN_KEEP_ALIVE,
				   .body = "{\"error\":\"not_found\"}", .body_len = 21, .head_only = 1 };

	assert_written(&r, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			   "Content-Length: 21\r\nConnection: keep-alive\r\n\r\n");
}

Test(http_response, no_content_statuses_have_no_length)
{
	struct http_response r = { .status = 204, .date = DATE, .body = "x", .body_len = 1 };

	assert_written(&r, "HTTP/1.1 204 No Content\r\nDate: " DATE "\r\n\r\n");
	r.status = 304;
	assert_written(&r, "HTTP/1.1 304 Not Modified\r\nDate: " DATE "\r\n\r\n");
}

Test(http_response, unknown_status_has_empty_reason_and_zero_length)
{
	struct http_response r = { .status = 299 };

	assert_written(&r, "HTTP/1.1 299 \r\nContent-Type: application/json\r\n"
			   "Content-Length: 0\r\n\r\n");
}

Test(http_response, every_error_status_has_its_phrase)
{
	cr_assert_str_eq(http_reason(400), "Bad Request");
	cr_assert_str_eq(http_reason(413), "Content Too Large");
	cr_assert_str_eq(http_reason(414), "URI Too Long");
	cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	cr_assert_str_eq(http_reason(429), "Too Many Requests");
	cr_assert_str_eq(http_reason(500), "Internal Server Error");
	cr_assert_str_eq(http_reason(501), "Not Implemented");
	cr_assert_str_eq(http_reason(503), "Service Unavailable");
	cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
}

Test(http_response, too_small_buffer_is_refused_at_every_size)
{
	struct http_response r = { .status = 200, .date = DATE, .body = "{\"status\":\"ok\"}",
				   .body_len = 15 };
	uint8_t out[256];
	int full = http_response_write(out, sizeof(out), &r);

	cr_assert_gt(full, 0);
	for (int cap = 0; cap < full; cap++) {
		memset(out, 0xa5, sizeof(out));
		cr_assert_eq(http_response_write(out, (uint32_t)cap, &r), -1, "cap %d", cap);
		for (size_t i = (size_t)cap; i < sizeof(out); i++)
			cr_assert_eq(out[i], 0xa5, "cap %d: wrote at %zu", cap, i);
	}
	cr_assert_eq(http_response_write(out, (uint32_t)full, &r), full);
}

Test(http_response, date_known_values)
{
	static const struct { uint64_t t; const char *s; } cases[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
		{ 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },     /* RFC 9110's example */
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },     /* leap day, century leap */
		{ 1709251199, "Thu, 29 Feb 2024 23:59:59 GMT" },
		{ 1709251200, "Fri, 01 Mar 2024 00:00:00 GMT" },
		{ 4102444800, "Fri, 01 Jan 2100 00:00:00 GMT" },    /* 2100 is not leap */
		{ 4107542400, "Mon, 01 Mar 2100 00:00:00 GMT" },
		{ 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[HTTP_DATE_BUF];

		memset(out, 'x', sizeof(out));
		http_date_format(cases[i].t, out);
		cr_assert_str_eq(out, cases[i].s, "t=%llu", (unsigned long long)cases[i].t);
		cr_assert_eq(strlen(out), HTTP_DATE_LEN);
	}
}

/* ---- the head cache: same bytes as http_response_write, always ---- */

static const uint16_t hc_statuses[] = { 200, 409, 410, 201, 204, 404, 429, 500, 299 };
static const enum http_conn_hdr hc_conns[] = {
	HTTP_CONN_NONE, HTTP_CONN_KEEP_ALIVE, HTTP_CONN_CLOSE,
};
/* Bodies of up to 2048 bytes; longer lengths only as HEAD (no body is read). */
static const uint32_t hc_lens[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 2048, 10000, 99999,
				     100000, 1234567, 999999999, 1000000000, UINT32_MAX };
static uint8_t hc_body[2048];

static int hc_is_cached(const struct http_response *r, const struct http_head_cache *hc)
{
	return (r->status == 200 || r->status == 409 || r->status == 410) &&
		r->date == hc->date && !r->content_type && !r->extra_headers;
}

/* Every status x connection x length x HEAD x type x extra headers. */
static void hc_compare_all(const struct http_head_cache *hc, const char *date)
{
	static const char *const types[] = { NULL, "text/plain" };
	static const char *const extras[] = { NULL, "Retry-After: 1\r\n" };
	uint8_t a[4096], b[4096];
	int cached = 0, plain = 0;

	for (size_t i = 0; i < sizeof(hc_body); i++)
		hc_body[i] = (uint8_t)('a' + i % 26);
	for (size_t s = 0; s < sizeof(hc_statuses) / sizeof(hc_statuses[0]); s++)
	for (size_t c = 0; c < 3; c++)
	for (size_t l = 0; l < sizeof(hc_lens) / sizeof(hc_lens[0]); l++)
	for (int head = 0; head < 2; head++)
	for (size_t t = 0; t < 2; t++)
	for (size_t x = 0; x < 2; x++) {
		struct http_response r = {
			.status = hc_statuses[s], .date = date, .content_type = types[t],
			.connection = hc_conns[c], .extra_headers = extras[x], .body = hc_body,
			.body_len = hc_lens[l], .head_only = (uint8_t)head,
		};
		if (r.body_len > sizeof(hc_body) && !head)
			continue;
		int na = http_response_write(a, sizeof(a), &r);
		int nb = http_response_write_cached(hc, b, sizeof(b), &r);

		cr_assert_gt(na, 0);
		cr_assert_eq(nb, na, "status %u conn %zu len %u head %d type %zu extra %zu: %d vs %d",
			     r.status, c, r.body_len, head, t, x, nb, na);
		cr_assert(memcmp(a, b, (size_t)na) == 0, "status %u conn %zu len %u head %d:\n"
			  "cached  '%.*s'\ngeneral '%.*s'", r.status, c, r.body_len, head,
			  nb, b, na, a);
		cached += hc_is_cached(&r, hc);
		plain += (s < 3 && t == 0 && x == 0);     /* the first three are the cached ones */
	}
	cr_assert_eq(cached, date == hc->date ? plain : 0);
	cr_assert_eq(plain, 3 * 3 * (9 * 2 + 7));
}

Test(http_head_cache, same_bytes_as_the_general_writer_across_date_changes)
{
	static struct http_head_cache hc;
	/* A second, the next one, and midnight of a new year (every field changes). */
	static const uint64_t times[] = { 784111777, 784111778, 1767225599, 1767225600 };

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char date[HTTP_DATE_BUF];

		http_head_cache_set_time(&hc, times[i]);
		http_date_format(times[i], date);
		cr_assert_str_eq(hc.date, date);
		hc_compare_all(&hc, hc.date);
		hc_compare_all(&hc, date);          /* another Date buffer: the general writer */
		hc_compare_all(&hc, NULL);
	}
	http_head_cache_set_time(&hc, 784111777);   /* back again: rebuilt, not stale */
	hc_compare_all(&hc, hc.date);
	cr_assert_str_eq(hc.date, DATE);
}

/* The cache is used for exactly the cached combinations: a poisoned head shows. */
Test(http_head_cache, serves_exactly_200_409_410_json_without_extra_headers)
{
	static struct http_head_cache hc;
	uint8_t out[512];

	http_head_cache_set_time(&hc, 784111777);
	for (int i = 0; i < HTTP_HEAD_CACHE_N; i++) {
		cr_assert_gt(hc.head_len[i], 0);
		hc.head[i][0] = 'X';
	}
	for (size_t s = 0; s < sizeof(hc_statuses) / sizeof(hc_statuses[0]); s++)
	for (size_t c = 0; c < 3; c++)
	for (int extra = 0; extra < 2; extra++) {
		struct http_response r = {
			.status = hc_statuses[s], .date = hc.date, .connection = hc_conns[c],
			.extra_headers = extra ? "Allow: GET\r\n" : NULL, .body = "{}", .body_len = 2,
		};
		int n = http_response_write_cached(&hc, out, sizeof(out), &r);

		cr_assert_gt(n, 0);
		cr_assert_eq(out[0] == 'X', hc_is_cached(&r, &hc), "status %u conn %zu extra %d",
			     r.status, c, extra);
	}
	struct http_response r = { .status = 200, .date = hc.date, .content_type = "text/html",
				   .body = "{}", .body_len = 2 };

	http_response_write_cached(&hc, out, sizeof(out), &r);
	cr_assert_eq(out[0], 'H', "another type is not cached");
	hc.valid = 0;
	r.content_type = NULL;
	http_response_write_cached(&hc, out, sizeof(out), &r);
	cr_assert_eq(out[0], 'H', "a cache never set is not used");
}

Test(http_head_cache, too_small_buffer_is_refused_at_every_size)
{
	static struct http_head_cache hc;
	uint8_t out[256];

	http_head_cache_set_time(&hc, 784111777);
	for (size_t c = 0; c < 3; c++) {
		struct http_response r = { .status = 410, .date = hc.date, .connection = hc_conns[c],
					   .body = "{\"error\":\"sold_out\"}", .body_len = 20 };
		int full = http_response_write(out, sizeof(out), &r);

		cr_assert_gt(full, 0);
		for (int cap = 0; cap < full; cap++) {
			memset(out, 0xa5, sizeof(out));
			cr_assert_eq(http_response_write_cached(&hc, out, (uint32_t)cap, &r), -1,
				     "cap %d", cap);
			for (size_t i = (size_t)cap; i < sizeof(out); i++)
				cr_assert_eq(out[i], 0xa5, "cap %d: wrote at %zu", cap, i);
		}
		cr_assert_eq(http_response_write_cached(&hc, out, (uint32_t)full, &r), full);
	}
}
