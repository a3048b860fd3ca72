/*
 * Tests for lib/http/http_parse.c.
 *
 * Every request in these tables, valid or not, is also fed in every prefix
 * (each copied into a buffer of exactly that size, so ASan sees any read past
 * the end) and byte by byte with last_len: a prefix must answer INCOMPLETE or
 * exactly what the whole request answers, and once it answers something else
 * every longer prefix must answer the same.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static const struct http_limits lim_default = {
	.max_head_bytes = 1024, .max_target_bytes = 256, .max_headers = 16, .max_body_bytes = 1024,
};

/* The span lies inside [buf, buf+len) and holds exactly exp (NULL: absent). */
static void assert_span(const char *what, const char *cname, struct http_span s,
			const uint8_t *buf, size_t len, const char *exp)
{
	if (!exp) {
		cr_assert_null(s.p, "%s: %s should be absent", cname, what);
		cr_assert_eq(s.len, 0, "%s: %s", cname, what);
		return;
	}
	cr_assert_not_null(s.p, "%s: %s missing", cname, what);
	cr_assert((const uint8_t *)s.p >= buf && (const uint8_t *)s.p + s.len <= buf + len,
		  "%s: %s outside the buffer", cname, what);
	cr_assert(s.len == strlen(exp) && memcmp(s.p, exp, s.len) == 0,
		  "%s: %s is '%.*s', expected '%s'", cname, what, (int)s.len, s.p, exp);
}

static uint8_t *copy(const char *raw, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	cr_assert_not_null(b);
	memcpy(b, raw, len);
	return b;
}

/*
 * Parses raw[0..len) whole, then every prefix, then byte by byte with
 * last_len; checks they agree and returns the whole-buffer answer, with req
 * filled from a parse of a private copy that the caller may inspect until the
 * next call (the copy is kept in *keep, freed by the caller).
 */
static int parse_all_ways(const char *cname, const char *raw, size_t len,
			  const struct http_limits *lim, struct http_request *req, uint8_t **keep)
{
	uint8_t *whole = copy(raw, len);
	int want = http_parse_request(whole, len, 0, lim, req);
	struct http_request tmp;
	int settled = 0;

	cr_assert_neq(want, HTTP_PARSE_INCOMPLETE, "%s: whole request incomplete", cname);
	for (size_t k = 0; k < len; k++) {
		uint8_t *pre = copy(raw, k);
		int rc = http_parse_request(pre, k, 0, lim, &tmp);

		free(pre);
		if (want > 0 && k < (size_t)want)
			cr_assert_eq(rc, HTTP_PARSE_INCOMPLETE, "%s: prefix %zu gave %d", cname, k, rc);
		else if (settled)
			cr_assert_eq(rc, want, "%s: prefix %zu gave %d after settling on %d",
				     cname, k, rc, want);
		else
			cr_assert(rc == HTTP_PARSE_INCOMPLETE || rc == want,
				  "%s: prefix %zu gave %d, whole gives %d", cname, k, rc, want);
		settled |= rc != HTTP_PARSE_INCOMPLETE;
	}
	/* Byte by byte, resuming with last_len while the head is incomplete. */
	size_t last = 0;
	int rc = HTTP_PARSE_INCOMPLETE;

	for (size_t k = 1; k <= len && rc == HTTP_PARSE_INCOMPLETE; k++) {
		uint8_t *pre = copy(raw, k);

		rc = http_parse_request(pre, k, last, lim, &tmp);
		last = rc == HTTP_PARSE_INCOMPLETE && tmp.head_len == 0 ? k : 0;
		free(pre);
	}
	cr_assert_eq(rc, want, "%s: byte by byte gave %d, whole %d", cname, rc, want);
	*keep = whole;
	return want;
}

struct valid_case {
	const char *name;
	const char *raw;
	enum http_method method;
	const char *method_name, *target, *path, *query;
	int minor, keep_alive;
	const char *body, *host, *auth, *ctype;
	uint32_t n_headers;
	const char *hdr[4][2];       /* the first headers, name and value */
};

static void check_valid(const struct valid_case *c, const struct http_limits *lim)
{
	struct http_request req;
	uint8_t *buf;
	size_t len = strlen(c->raw);
	int rc = parse_all_ways(c->name, c->raw, len, lim, &req, &buf);

	cr_assert_eq(rc, (int)len, "%s: returned %d, expected %zu", c->name, rc, len);
	cr_assert_eq(req.method, c->method, "%s: method", c->name);
	assert_span("method", c->name, req.method_name, buf, len, c->method_name);
	assert_span("target", c->name, req.target, buf, len, c->target);
	assert_span("path", c->name, req.path, buf, len, c->path);
	assert_span("query", c->name, req.query, buf, len, c->query);
	cr_assert_eq(req.version_minor, c->minor, "%s: minor", c->name);
	cr_assert_eq(req.keep_alive, c->keep_alive, "%s: keep_alive", c->name);
	cr_assert_eq(req.head_len + req.content_length, len, "%s: head+body", c->name);
	cr_assert_eq(req.content_length, c->body ? strlen(c->body) : 0, "%s: CL", c->name);
	if (c->body)
		assert_span("body", c->name, req.body, buf, len, c->body);
	else
		cr_assert_eq(req.body.len, 0, "%s: body", c->name);
	assert_span("host", c->name, req.host, buf, len, c->host);
	assert_span("authorization", c->name, req.authorization, buf, len, c->auth);
	assert_span("content-type", c->name, req.content_type, buf, len, c->ctype);
	cr_assert_eq(req.n_headers, c->n_headers, "%s: n_headers %u", c->name, req.n_headers);
	for (int i = 0; i < 4 && c->hdr[i][0]; i++) {
		assert_span("header name", c->name, req.headers[i].name, buf, len, c->hdr[i][0]);
		assert_span("header value", c->name, req.headers[i].value, buf, len, c->hdr[i][1]);
	}
	free(buf);
}

static const struct valid_case valid_cases[] = {
	{ "curl GET", "GET /healthz HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: curl/7.88.1\r\n"
	  "Accept: */*\r\n\r\n", HTTP_METHOD_GET, "GET", "/healthz", "/healthz", NULL, 1, 1,
	  NULL, "198.18.0.1", NULL, NULL, 3,
	  { { "Host", "198.18.0.1" }, { "User-Agent", "curl/7.88.1" }, { "Accept", "*/*" } } },
	{ "query split", "GET /api/campaigns/7?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
	  HTTP_METHOD_GET, "GET", "/api/campaigns/7?x=1&y=%20", "/api/campaigns/7", "x=1&y=%20",
	  1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "empty query", "HEAD /? HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METHOD_HEAD, "HEAD", "/?",
	  "/", "", 1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "buy POST", "POST /api/orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer abc.def\r\n"
	  "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"qty\":1}",
	  HTTP_METHOD_POST, "POST", "/api/orders", "/api/orders", NULL, 1, 1, "{\"qty\":1}",
	  "shop", "Bearer abc.def", "application/json", 4,
	  { { "Host", "shop" }, { "Authorization", "Bearer abc.def" },
	    { "Content-Type", "application/json" }, { "Content-Length", "9" } } },
	{ "OWS trimmed, tab inside kept", "PUT /x HTTP/1.1\r\nHost:a\r\nX-A: \t v1 \tv2 \t \r\n"
	  "X-B:\r\n\r\n", HTTP_METHOD_PUT, "PUT", "/x", "/x", NULL, 1, 1, NULL, "a", NULL, NULL, 3,
	  { { "Host", "a" }, { "X-A", "v1 \tv2" }, { "X-B", "" } } },
	{ "case-insensitive names", "DELETE /o/1 HTTP/1.1\r\nhOST: h\r\nCONTENT-length: 0\r\n"
	  "authorization: t\r\ncontent-TYPE: text/plain\r\n\r\n", HTTP_METHOD_DELETE, "DELETE",
	  "/o/1", "/o/1", NULL, 1, 1, NULL, "h", "t", "text/plain", 4,
	  { { "hOST", "h" }, { "CONTENT-length", "0" } } },
	{ "OPTIONS star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METHOD_OPTIONS, "OPTIONS",
	  "*", "*", NULL, 1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "unknown method is OTHER", "PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METHOD_OTHER,
	  "PATCH", "/x", "/x", NULL, 1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "methods are case-sensitive", "get /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METHOD_OTHER,
	  "get", "/x", "/x", NULL, 1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "HTTP/1.0 no headers", "GET / HTTP/1.0\r\n\r\n", HTTP_METHOD_GET, "GET", "/", "/", NULL,
	  0, 0, NULL, NULL, NULL, NULL, 0, { { NULL, NULL } } },
	{ "leading empty lines skipped", "\r\n\r\nGET / HTTP/1.0\r\n\r\n", HTTP_METHOD_GET, "GET",
	  "/", "/", NULL, 0, 0, NULL, NULL, NULL, NULL, 0, { { NULL, NULL } } },
	{ "HTTP/1.9 read as 1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", HTTP_METHOD_GET, "GET", "/",
	  "/", NULL, 1, 1, NULL, "a", NULL, NULL, 1, { { "Host", "a" } } },
	{ "obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX-U: caf\xc3\xa9\r\n\r\n",
	  HTTP_METHOD_GET, "GET", "/", "/", NULL, 1, 1, NULL, "a", NULL, NULL, 2,
	  { { "Host", "a" }, { "X-U", "caf\xc3\xa9" } } },
	{ "identical CL repeated", "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	  "Content-Length: 003\r\n\r\nabc", HTTP_METHOD_POST, "POST", "/b", "/b", NULL, 1, 1,
	  "abc", "a", NULL, NULL, 3, { { "Host", "a" }, { "Content-Length", "3" } } },
	{ "long value crosses SIMD blocks", "GET /0123456789abcdef0123456789abcdef HTTP/1.1\r\n"
	  "Host: a\r\nCookie: 0123456789abcdef\t0123456789abcdef0123456789abcdef \r\n\r\n",
	  HTTP_METHOD_GET, "GET", "/0123456789abcdef0123456789abcdef",
	  "/0123456789abcdef0123456789abcdef", NULL, 1, 1, NULL, "a", NULL, NULL, 2,
	  { { "Host", "a" }, { "Cookie", "0123456789abcdef\t0123456789abcdef0123456789abcdef" } } },
};

Test(http_parse, valid_requests_every_span_every_split)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
		check_valid(&valid_cases[i], &lim_default);
}

struct keep_case {
	const char *name, *raw;
	int keep_alive;
};

Test(http_parse, keep_alive_rules)
{
	static const struct keep_case cases[] = {
		{ "1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0 },
		{ "1.1 Close any case", "GET / HTTP/1.1\r\nHost: a\r\nConnection: ClOsE\r\n\r\n", 0 },
		{ "1.1 close in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\n\r\n", 0 },
		{ "1.1 keep-alive", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "1.1 closed-ish token", "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", 1 },
		{ "1.0 default", "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1 },
		{ "1.0 keep-alive in list", "GET / HTTP/1.0\r\nConnection: foo,keep-alive\r\n\r\n", 1 },
		{ "1.0 both: close wins", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0 },
		{ "1.0 two lines", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_request req;
		uint8_t *buf;
		size_t len = strlen(cases[i].raw);
		int rc = parse_all_ways(cases[i].name, cases[i].raw, len, &lim_default, &req, &buf);

		cr_assert_eq(rc, (int)len, "%s: rc %d", cases[i].name, rc);
		cr_assert_eq(req.keep_alive, cases[i].keep_alive, "%s", cases[i].name);
		free(buf);
	}
}

struct bad_case {
	const char *name;
	const char *raw;
	size_t len;                  /* 0: strlen(raw) */
	int rc;
};

static void check_bad(const struct bad_case *cases, size_t n, const struct http_limits *lim)
{
	for (size_t i = 0; i < n; i++) {
		struct http_request req;
		uint8_t *buf;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].raw);
		int rc = parse_all_ways(cases[i].name, cases[i].raw, len, lim, &req, &buf);

		cr_assert_eq(rc, cases[i].rc, "%s: got %d, expected %d", cases[i].name, rc, cases[i].rc);
		free(buf);
	}
}

#define BAD HTTP_PARSE_BAD_REQUEST

Test(http_parse, malformed_request_lines)
{
	static const struct bad_case cases[] = {
		{ "two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "no version", "GET /\r\nHost: a\r\n\r\n", 0, BAD },
		{ "lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 0, BAD },
		{ "version junk", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 0, BAD },
		{ "trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, BAD },
		{ "bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 0, BAD },
		{ "bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 0, BAD },
		{ "CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, BAD },
		{ "CR alone before request", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "bare LF before request", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "method with bad char", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "absolute-form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "authority-form", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "star not OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "star with more", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "ESC in target", "GET /a\x1b[0m HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0, BAD },
		{ "NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 29, BAD },
		{ "NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 27, BAD },
		{ "1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 0, BAD },
		{ "two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 0, BAD },
		{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, HTTP_PARSE_BAD_VERSION },
		{ "HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 0, HTTP_PARSE_BAD_VERSION },
		{ "HTTP/3.0", "GET / HTTP/3.0\r\n", 0, HTTP_PARSE_BAD_VERSION },
	};

	check_bad(cases, sizeof(cases) / sizeof(cases[0]), &lim_default);
}

Test(http_parse, malformed_headers)
{
	static const struct bad_case cases[] = {
		{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, BAD },
		{ "tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, BAD },
		{ "obs-fold SP", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 0, BAD },
		{ "obs-fold HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 0, BAD },
		{ "whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, BAD },
		{ "no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 0, BAD },
		{ "empty name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 0, BAD },
		{ "bad name char", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 0, BAD },
		{ "NUL in value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29, BAD },
		{ "NUL in name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 28, BAD },
		{ "ESC in value", "GET / HTTP/1.1\r\nHost: a\x1b\r\n\r\n", 0, BAD },
		{ "DEL in value", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 0, BAD },
		{ "CR inside value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 0, BAD },
		{ "bare LF ends a header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 0, BAD },
		{ "CR not LF at head end", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 0, BAD },
		{ "control char deep in long value", "GET / HTTP/1.1\r\nHost: a\r\n"
		  "X: 0123456789abcdef0123456789\x01" "abcdef\r\n\r\n", 0, BAD },
		{ "two Content-Type", "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a\r\n"
		  "Content-Type: b\r\n\r\n", 0, BAD },
		{ "two Authorization", "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\n"
		  "Authorization: a\r\n\r\n", 0, BAD },
	};

	check_bad(cases, sizeof(cases) / sizeof(cases[0]), &lim_default);
}

#define NOTIMP HTTP_PARSE_NOT_IMPLEMENTED

/* RFC 9112 6.1: a transfer coding we do not implement (any: we take no
 * chunked bodies) is 501, once the head shows no Content-Length with it. */
Test(http_parse, transfer_encoding_alone_is_not_implemented)
{
	static const struct bad_case cases[] = {
		{ "TE chunked alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "\r\n0\r\n\r\n", 0, NOTIMP },
		{ "TE identity", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: identity\r\n\r\n",
		  0, NOTIMP },
		{ "TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\n"
		  "TRANSFER-ENCODING: gzip, chunked\r\n\r\n", 0, NOTIMP },
		{ "TE twice", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nHost: a\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", 0, NOTIMP },
		{ "TE on GET", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		  0, NOTIMP },
		{ "TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, NOTIMP },
		{ "TE empty value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
		  0, NOTIMP },
	};

	check_bad(cases, sizeof(cases) / sizeof(cases[0]), &lim_default);
	cr_assert_eq(http_parse_status(HTTP_PARSE_NOT_IMPLEMENTED), 501);
}

Test(http_parse, smuggling_shapes)
{
	static const struct bad_case cases[] = {
		{ "CL then TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, BAD },
		{ "TE then CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n0\r\n\r\n", 0, BAD },
		{ "TE then CL over the body limit", "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Transfer-Encoding: chunked\r\nContent-Length: 99999999\r\n\r\n", 0, BAD },
		{ "TE, other fields, then CL", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
		  "Host: a\r\nX: y\r\ncontent-length: 0\r\n\r\n", 0, BAD },
		{ "TE without Host", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, BAD },
		{ "TE with space before colon", "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Transfer-Encoding : chunked\r\n\r\n", 0, BAD },
		{ "TE obs-folded", "POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n"
		  "\r\n", 0, BAD },
		{ "differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		  "Content-Length: 4\r\n\r\nabcd", 0, BAD },
		{ "CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 0, BAD },
		{ "CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 0, BAD },
		{ "CL minus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 0, BAD },
		{ "CL space inside", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 0, BAD },
		{ "CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 0, BAD },
		{ "CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 0, BAD },
		{ "CL overflow", "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Content-Length: 99999999999999999999999\r\n\r\n", 0, BAD },
		{ "CL space before colon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc",
		  0, BAD },
	};

	check_bad(cases, sizeof(cases) / sizeof(cases[0]), &lim_default);
}

Test(http_parse, limits_give_413_414_431)
{
	static const struct http_limits lim = {
		.max_head_bytes = 96, .max_target_bytes = 16, .max_headers = 3, .max_body_bytes = 8,
	};
	static const struct bad_case cases[] = {
		{ "target 17 bytes", "GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n", 0,
		  HTTP_PARSE_URI_TOO_LONG },
		{ "target 17 bytes, no end yet", "GET /0123456789abcdef", 0, HTTP_PARSE_URI_TOO_LONG },
		{ "4 headers", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0,
		  HTTP_PARSE_HEADER_TOO_LARGE },
		{ "head of 97 bytes", "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345678901234567890"
		  "12345678901234567890123456789012345\r\n\r\n", 0, HTTP_PARSE_HEADER_TOO_LARGE },
		{ "endless header line", "GET / HTTP/1.1\r\nHost: a\r\nX: 012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789", 0,
		  HTTP_PARSE_HEADER_TOO_LARGE },
		{ "endless empty lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
		  "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
		  "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 0,
		  HTTP_PARSE_HEADER_TOO_LARGE },
		{ "CL 9", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n123456789", 0,
		  HTTP_PARSE_BODY_TOO_LARGE },
		{ "CL huge, body never sent", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4000000000"
		  "\r\n\r\n", 0, HTTP_PARSE_BODY_TOO_LARGE },
		{ "first error wins: 400 before 431", "GET / HTTP/1.1\r\nHo st: a\r\nX: 01234567890123"
		  "45678901234567890123456789012345678901234567890123456789012345678901234567890", 0, BAD },
	};

	check_bad(cases, sizeof(cases) / sizeof(cases[0]), &lim);
}

Test(http_parse, limits_are_inclusive)
{
	/* 67-byte head, 16-byte target, 3 headers, 8-byte body: each at its limit. */
	static const struct http_limits lim = {
		.max_head_bytes = 67, .max_target_bytes = 16, .max_headers = 3, .max_body_bytes = 8,
	};
	const char *raw = "POST /0123456789abcde HTTP/1.1\r\nHost: a\r\nA: \r\nContent-Length: 8\r\n"
			  "\r\n12345678";
	struct http_request req;
	uint8_t *buf;
	int rc = parse_all_ways("at limits", raw, strlen(raw), &lim, &req, &buf);

	cr_assert_eq(rc, 75);
	cr_assert_eq(req.head_len, 67);
	cr_assert_eq(req.target.len, 16);
	cr_assert_eq(req.n_headers, 3);
	free(buf);

	struct http_limits less = lim;

	less.max_head_bytes = 66;
	cr_assert_eq(parse_all_ways("head one over", raw, strlen(raw), &less, &req, &buf),
		     HTTP_PARSE_HEADER_TOO_LARGE);
	free(buf);
	less = lim;
	less.max_target_bytes = 15;
	cr_assert_eq(parse_all_ways("target one over", raw, strlen(raw), &less, &req, &buf),
		     HTTP_PARSE_URI_TOO_LONG);
	free(buf);
	less = lim;
	less.max_headers = 2;
	cr_assert_eq(parse_all_ways("headers one over", raw, strlen(raw), &less, &req, &buf),
		     HTTP_PARSE_HEADER_TOO_LARGE);
	free(buf);
	less = lim;
	less.max_body_bytes = 7;
	cr_assert_eq(parse_all_ways("body one over", raw, strlen(raw), &less, &req, &buf),
		     HTTP_PARSE_BODY_TOO_LARGE);
	free(buf);
}

Test(http_parse, body_waits_for_content_length)
{
	const char *raw = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
	size_t head = strlen(raw) - 5;
	struct http_request req;

	for (size_t k = head; k < strlen(raw); k++) {
		cr_assert_eq(http_parse_request((const uint8_t *)raw, k, 0, &lim_default, &req),
			     HTTP_PARSE_INCOMPLETE);
		cr_assert_eq(req.head_len, head, "head known while the body is short");
		cr_assert_eq(req.content_length, 5);
	}
}

Test(http_parse, pipelined_requests_in_one_buffer)
{
	const char *raw = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
			  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
			  "\r\nGET /c?q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
			  "GET /d HTT";
	const char *paths[] = { "/a", "/b", "/c" };
	size_t len = strlen(raw), off = 0;
	struct http_request req;

	for (int i = 0; i < 3; i++) {
		int rc = http_parse_request((const uint8_t *)raw + off, len - off, 0, &lim_default, &req);

		cr_assert_gt(rc, 0, "request %d: %d", i, rc);
		assert_span("path", "pipelined", req.path, (const uint8_t *)raw, len, paths[i]);
		cr_assert_eq(req.keep_alive, i < 2);
		if (i == 1)
			assert_span("body", "pipelined", req.body, (const uint8_t *)raw, len, "body");
		off += (size_t)rc;
	}
	cr_assert_eq(http_parse_request((const uint8_t *)raw + off, len - off, 0, &lim_default, &req),
		     HTTP_PARSE_INCOMPLETE);
	cr_assert_eq(len - off, strlen("GET /d HTT"));
}

/* A head of n bytes: a request line, Host and X: padding, no blank line yet. */
static size_t long_head(char *out, size_t n, size_t bad_at, char bad)
{
	size_t k = (size_t)sprintf(out, "GET / HTTP/1.1\r\nHost: a\r\nX: ");

	while (k < n)
		out[k++] = 'v';
	if (bad_at)
		out[bad_at] = bad;
	return k;
}

Test(http_parse, last_len_resumes_long_heads_and_still_finds_errors)
{
	static const struct http_limits lim = {
		.max_head_bytes = 4096, .max_target_bytes = 256, .max_headers = 16, .max_body_bytes = 0,
	};
	static char raw[4096];
	struct http_request req;
	size_t last = 0, len = long_head(raw, 3000, 1100, '\x01');
	int rc = HTTP_PARSE_INCOMPLETE;
	size_t k;

	/* Short heads are parsed in full every time: the error shows at once. */
	cr_assert_eq(http_parse_request((const uint8_t *)raw, 1101, 1100, &lim, &req),
		     HTTP_PARSE_INCOMPLETE, "1101 >= 1024: resumed, error not seen yet");
	cr_assert_eq(http_parse_request((const uint8_t *)raw, 1101, 0, &lim, &req),
		     HTTP_PARSE_BAD_REQUEST);
	for (k = 1; k <= len && rc == HTTP_PARSE_INCOMPLETE; k++) {
		rc = http_parse_request((const uint8_t *)raw, k, last, &lim, &req);
		last = k;
	}
	/* Fed byte by byte the error is found when the length reaches 2048. */
	cr_assert_eq(rc, HTTP_PARSE_BAD_REQUEST);
	cr_assert_eq(k - 1, 2048);

	/* A good long head completes at its blank line through the fast path. */
	len = long_head(raw, 3000, 0, 0);
	memcpy(raw + len, "\r\n\r\n", 4);
	len += 4;
	last = 0;
	rc = HTTP_PARSE_INCOMPLETE;
	for (k = 1; k <= len && rc == HTTP_PARSE_INCOMPLETE; k++) {
		rc = http_parse_request((const uint8_t *)raw, k, last, &lim, &req);
		last = k;
	}
	cr_assert_eq(rc, (int)len);
	cr_assert_eq(k - 1, len);
	cr_assert_eq(req.headers[1].value.len, 3000 - strlen("GET / HTTP/1.1\r\nHost: a\r\nX: "));
}

Test(http_parse, status_codes_and_header_lookup)
{
	cr_assert_eq(http_parse_status(HTTP_PARSE_BAD_REQUEST), 400);
	cr_assert_eq(http_parse_status(HTTP_PARSE_URI_TOO_LONG), 414);
	cr_assert_eq(http_parse_status(HTTP_PARSE_HEADER_TOO_LARGE), 431);
	cr_assert_eq(http_parse_status(HTTP_PARSE_BODY_TOO_LARGE), 413);
	cr_assert_eq(http_parse_status(HTTP_PARSE_BAD_VERSION), 505);
	cr_assert_eq(http_parse_status(HTTP_PARSE_NOT_IMPLEMENTED), 501);

	const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: 42\r\n\r\n";
	struct http_request req;

	cr_assert_gt(http_parse_request((const uint8_t *)raw, strlen(raw), 0, &lim_default, &req), 0);
	const struct http_span *v = http_request_header(&req, "x-request-id");

	cr_assert_not_null(v);
	cr_assert(http_span_eq(*v, "42"));
	cr_assert_null(http_request_header(&req, "x-request"));
}
