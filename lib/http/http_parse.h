/*
 * http_parse.h - a strict, zero-copy HTTP/1.1 request parser.
 *
 * In the picohttpparser mould: the caller owns the bytes, the parser never
 * copies or allocates and fills a struct of spans (pointer + length) into the
 * caller's buffer. It is stateless: the caller calls it again from the start
 * of the request with more bytes, and may pass the previous length so that a
 * head arriving byte by byte is scanned once, not once per byte.
 *
 * The grammar is RFC 9112 read strictly, because a front end that is lenient
 * about framing is how requests get smuggled and how parsers disagree:
 *
 *   - lines end in CRLF only. A bare LF (which RFC 9112 2.2 lets a recipient
 *     accept) and a CR not followed by LF are both 400: every client we serve
 *     (browsers, curl, load generators) sends CRLF, and one line ending means
 *     one way to frame. Empty lines before the request line are skipped
 *     (RFC 9112 2.2 SHOULD; some clients send a CRLF after a POST body).
 *   - request line: token SP origin-form SP "HTTP/1." DIGIT CRLF, one SP
 *     exactly. Only origin-form targets ("/path?query"), plus "*" for OPTIONS;
 *     absolute-form and authority-form are 400 (we are an origin, not a proxy).
 *     HTTP/<other major> is 505; HTTP/1.2..1.9 are read as 1.1 (RFC 9110 2.5).
 *   - header names are tokens immediately followed by ':' (whitespace before
 *     the colon is 400, RFC 9112 5.1); obs-fold (a line starting with SP or
 *     HTAB) is 400; values may hold VCHAR, SP, HTAB and obs-text; any other
 *     control byte (NUL included) is 400, in values and in the target alike.
 *   - bodies are framed by Content-Length only. We implement no transfer
 *     coding (no chunked uploads), so Transfer-Encoding alone is 501 (RFC 9112
 *     6.1: a server that receives a transfer coding it does not understand
 *     SHOULD answer 501), decided when the head is complete, and the server
 *     closes since it cannot find where the body ends. Transfer-Encoding
 *     together with Content-Length, in either order, is 400 at the second of
 *     the two: the classic smuggling shape (RFC 9112 6.3 item 3). Content-
 *     Length must be 1*DIGIT without sign, space inside or list; repeats must
 *     agree.
 *   - HTTP/1.1 requires exactly one Host (RFC 9112 3.2); Content-Type,
 *     Authorization and X-Seckill-PoW may appear once.
 *
 * Errors are decided left to right from the bytes seen so far, so a prefix of
 * a request either returns HTTP_PARSE_INCOMPLETE or the very answer the whole
 * request gets: an attacker's head is refused as soon as it is wrong or too
 * long, not when it ends.
 */
#ifndef SECKILL_HTTP_PARSE_H
#define SECKILL_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Return values below zero; each maps to one status code (http_parse_status). */
enum http_parse_err {
	HTTP_PARSE_BAD_REQUEST = -1,       /* 400 */
	HTTP_PARSE_INCOMPLETE = -2,        /* call again with more bytes */
	HTTP_PARSE_URI_TOO_LONG = -3,      /* 414 */
	HTTP_PARSE_HEADER_TOO_LARGE = -4,  /* 431: head bytes or header count */
	HTTP_PARSE_BODY_TOO_LARGE = -5,    /* 413 */
	HTTP_PARSE_BAD_VERSION = -6,       /* 505 */
	HTTP_PARSE_NOT_IMPLEMENTED = -7,   /* 501: Transfer-Encoding (no coding implemented) */
	/* The lowest code there is: move it when adding one (checks and the fuzzer use it). */
	HTTP_PARSE_MIN_ERROR = HTTP_PARSE_NOT_IMPLEMENTED,
};

enum http_method {
	HTTP_METHOD_OTHER = 0,       /* a valid token we do not implement (501) */
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_OPTIONS,
};

/* Bytes in the caller's buffer; p is NULL and len 0 when absent. */
struct http_span {
	const char *p;
	uint32_t len;
};

struct http_header {
	struct http_span name;
	struct http_span value;      /* leading and trailing OWS removed */
};

/* The array in struct http_request; http_limits.max_headers above it is clamped. */
#define HTTP_MAX_HEADERS 64

struct http_limits {
	uint32_t max_head_bytes;     /* request line + headers + blank line; more is 431 */
	uint32_t max_target_bytes;   /* more is 414 */
	uint32_t max_headers;        /* more header lines is 431 */
	uint32_t max_body_bytes;     /* Content-Length above it is 413 */
};

struct http_request {
	enum http_method method;
	struct http_span method_name;
	struct http_span target;     /* as sent: path[?query] or "*" */
	struct http_span path;       /* target up to '?' */
	struct http_span query;      /* after '?', without it; p NULL when there is no '?' */
	uint8_t version_minor;       /* 0 or 1 */
	uint8_t keep_alive;          /* after the version default and Connection tokens */
	uint32_t head_len;           /* bytes of the head; 0 while the head is incomplete */
	uint32_t content_length;
	struct http_span body;       /* content_length bytes after the head */
	struct http_span host;
	struct http_span authorization;
	struct http_span content_type;
	struct http_span pow;        /* X-Seckill-PoW: an order's proof of work (lib/sale/pow.h) */
	uint32_t n_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Parses one request at the start of buf. Returns the bytes it takes (head
 * plus body, > 0), HTTP_PARSE_INCOMPLETE, or another http_parse_err.
 *
 * last_len is 0, or the len of the previous call on the same request if that
 * call returned HTTP_PARSE_INCOMPLETE with req->head_len == 0 (head not yet
 * complete): for a long head (1 KiB and more) the parser may then only look
 * for the end of the head in the new bytes, so that a head dribbled in tiny
 * segments costs O(n) in all. An error in such a head is then reported when
 * the head ends, reaches the limit or has doubled in length since its last
 * full parse, rather than at its first bad byte; the answer is the same.
 * Anything else in last_len gives wrong answers.
 */
int http_parse_request(const uint8_t *buf, size_t len, size_t last_len,
		       const struct http_limits *lim, struct http_request *req);

/* The status code for a parse error (400 for anything unknown). */
uint16_t http_parse_status(int err);

/* The first header named name (case-insensitive), or NULL. */
const struct http_span *http_request_header(const struct http_request *req, const char *name);

/* Whether span s is exactly the string lit. */
static inline int http_span_eq(struct http_span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

#endif
