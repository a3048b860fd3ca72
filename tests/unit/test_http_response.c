/* Tests for lib/http/http_response.c: exact bytes of answers and dates. */
#include <criterion/criterion.h>
#include <string.h>

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
