/*
 * http_parse.c - the request parser declared in http_parse.h.
 *
 * One left-to-right pass over the head with a cursor. Every check looks only
 * at bytes already reached, and running out of bytes is "incomplete" unless
 * the head limit is what ended them (then 431): that is what makes a prefix
 * answer either "incomplete" or exactly what the whole request gets, the
 * property the split-at-every-byte tests and the fuzzer check.
 *
 * The two long runs in a request, the target and the header values, are
 * scanned 16 bytes at a time with SSE2 for the first byte that is not allowed
 * there; everything else goes through one 256-entry class table.
 */
#include "http_parse.h"

#include <limits.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Character classes (RFC 9110 5.6.2 token, 5.5 field-value, 3986 VCHAR). */
#define CL_TCHAR  1      /* token: method and header names */
#define CL_VALUE  2      /* field-value: VCHAR, SP, HTAB, obs-text */
#define CL_TARGET 4      /* request-target: VCHAR */

static const uint8_t char_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,   /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 0x10 */
	2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,   /* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,   /* 0x30 */
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,   /* 0x40 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,   /* 0x50 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,   /* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,   /* 0x70 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0x80 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0x90 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xa0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xb0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xc0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xd0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xe0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xf0 */
};

/*
 * A Content-Length above this is "not a number we can hold" (400) rather than
 * "too large" (413); far above any body limit, far below UINT64_MAX / 10.
 */
#define HTTP_CL_OVERFLOW 1000000000000000000ULL

/* Heads shorter than this are parsed in full on every call (see resume_is_enough). */
#define HTTP_RESCAN_MIN 1024

/* The cursor over one parse; end is the head limit or the bytes we have. */
struct cursor {
	const uint8_t *buf;
	const uint8_t *p;
	const uint8_t *end;
	int end_is_limit;        /* end stops the head at max_head_bytes */
};

/* Framing facts gathered from headers and checked once the head is complete. */
struct fields {
	uint64_t content_length;
	uint8_t has_cl, has_te, conn_close, conn_keep_alive;
};

/* What running out of bytes at cur->end means. */
static int out_of_bytes(const struct cursor *cur)
{
	return cur->end_is_limit ? HTTP_PARSE_HEADER_TOO_LARGE : HTTP_PARSE_INCOMPLETE;
}

static struct http_span span(const uint8_t *from, const uint8_t *to)
{
	return (struct http_span){ (const char *)from, (uint32_t)(to - from) };
}

/* Case-insensitive compare of a token against a lower-case literal of the same length.
 * OR-ing 0x20 folds only letters among token characters onto the literal's
 * letters, and leaves '-' and digits as they are, so no false match is possible
 * (the one token pair it merges, '^' and '~', never occurs in our literals). */
static int token_ieq(const char *tok, const char *lower, size_t n)
{
	const uint64_t fold = 0x2020202020202020ULL;
	uint64_t a, b;

	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if (((uint8_t)tok[i] | 0x20) != (uint8_t)lower[i])
				return 0;
		return 1;
	}
	/* Eight bytes at a time (n is a constant once inlined); the last word
	 * overlaps the one before it when n is not a multiple of eight. */
	for (size_t i = 0; i + 8 < n; i += 8) {
		memcpy(&a, tok + i, 8);
		memcpy(&b, lower + i, 8);
		if ((a | fold) != b)
			return 0;
	}
	memcpy(&a, tok + n - 8, 8);
	memcpy(&b, lower + n - 8, 8);
	return (a | fold) == b;
}

static int span_ieq(struct http_span s, const char *lower)
{
	size_t n = strlen(lower);

	return s.len == n && token_ieq(s.p, lower, n);
}

/* First byte at or after p that may not be in a request-target (ends it). */
static const uint8_t *skip_target(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
	const __m128i first_ok = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		/* Signed compare: below 0x21 catches CTL and SP, and 0x80..0xff too. */
		__m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, first_ok), _mm_cmpeq_epi8(v, del));
		int m = _mm_movemask_epi8(bad);

		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (p < end && (char_class[*p] & CL_TARGET))
		p++;
	return p;
}

/* First byte at or after p that may not be in a field value (CR ends a good one). */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
	const __m128i last_ctl = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		/* Unsigned v <= 0x1f is max(v, 0x1f) == 0x1f; obs-text passes. */
		__m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, last_ctl), last_ctl);
		int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));

		if (!m) {
			p += 16;
			continue;
		}
		p += __builtin_ctz((unsigned)m);
		if (*p != '\t')          /* HTAB is the one control byte a value may hold */
			return p;
		p++;
	}
#endif
	while (p < end && (char_class[*p] & CL_VALUE))
		p++;
	return p;
}

/*
 * First byte at or after p that may not be in a token (method, header name).
 * Header names are almost all letters, digits and '-', so 16 bytes at a time
 * only those are passed and the scalar class loop decides the rest: the
 * other tchars ('_', '!', ...) and the byte that ends the token.
 */
static const uint8_t *skip_token(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
	const __m128i a_1 = _mm_set1_epi8('a' - 1), z_1 = _mm_set1_epi8('z' + 1);
	const __m128i d0_1 = _mm_set1_epi8('0' - 1), d9_1 = _mm_set1_epi8('9' + 1);
	const __m128i lower = _mm_set1_epi8(0x20), dash = _mm_set1_epi8('-');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		/* OR 0x20 folds A-Z onto a-z; signed compares keep 0x80..0xff out. */
		__m128i lv = _mm_or_si128(v, lower);
		__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lv, a_1), _mm_cmplt_epi8(lv, z_1));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d0_1), _mm_cmplt_epi8(v, d9_1));
		__m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit), _mm_cmpeq_epi8(v, dash));
		unsigned m = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;

		if (m) {
			p += __builtin_ctz(m);
			break;
		}
		p += 16;
	}
#endif
	while (p < end && (char_class[*p] & CL_TCHAR))
		p++;
	return p;
}

/* Expects CRLF at the cursor and steps over it. */
static inline int expect_crlf(struct cursor *cur)
{
	if (cur->p == cur->end)
		return out_of_bytes(cur);
	if (cur->p[0] != '\r')
		return HTTP_PARSE_BAD_REQUEST;
	if (cur->p + 1 == cur->end)
		return out_of_bytes(cur);
	if (cur->p[1] != '\n')
		return HTTP_PARSE_BAD_REQUEST;
	cur->p += 2;
	return 0;
}

static enum http_method method_of(struct http_span m)
{
	switch (m.len) {
	case 3:
		if (memcmp(m.p, "GET", 3) == 0)
			return HTTP_METHOD_GET;
		if (memcmp(m.p, "PUT", 3) == 0)
			return HTTP_METHOD_PUT;
		break;
	case 4:
		if (memcmp(m.p, "HEAD", 4) == 0)
			return HTTP_METHOD_HEAD;
		if (memcmp(m.p, "POST", 4) == 0)
			return HTTP_METHOD_POST;
		break;
	case 6:
		if (memcmp(m.p, "DELETE", 6) == 0)
			return HTTP_METHOD_DELETE;
		break;
	case 7:
		if (memcmp(m.p, "OPTIONS", 7) == 0)
			return HTTP_METHOD_OPTIONS;
		break;
	}
	return HTTP_METHOD_OTHER;   /* methods are case-sensitive (RFC 9110 9.1) */
}

/* method SP: a token ended by exactly one SP. */
static int parse_method(struct cursor *cur, struct http_request *req)
{
	const uint8_t *start = cur->p;

	cur->p = skip_token(cur->p, cur->end);
	if (cur->p == cur->end)
		return out_of_bytes(cur);
	if (cur->p == start || *cur->p != ' ')
		return HTTP_PARSE_BAD_REQUEST;
	req->method_name = span(start, cur->p);
	req->method = method_of(req->method_name);
	cur->p++;
	return 0;
}

/* origin-form target (or "*" for OPTIONS) SP; fills target, path and query. */
static int parse_target(struct cursor *cur, struct http_request *req, uint32_t max_target)
{
	const uint8_t *start = cur->p;

	if (cur->p == cur->end)
		return out_of_bytes(cur);
	if (*cur->p == '*' && req->method == HTTP_METHOD_OPTIONS)
		cur->p++;                           /* asterisk-form, RFC 9112 3.2.4 */
	else if (*cur->p == '/')
		cur->p = skip_target(cur->p, cur->end);
	else
		return HTTP_PARSE_BAD_REQUEST;      /* absolute-, authority-form or junk */
	if ((size_t)(cur->p - start) > max_target)
		return HTTP_PARSE_URI_TOO_LONG;
	if (cur->p == cur->end)
		return out_of_bytes(cur);
	if (*cur->p != ' ')
		return HTTP_PARSE_BAD_REQUEST;      /* control byte, non-ASCII, "*x" */

	req->target = span(start, cur->p);
	const uint8_t *q = memchr(start, '?', (size_t)(cur->p - start));
	req->path = span(start, q ? q : cur->p);
	req->query = q ? span(q + 1, cur->p) : (struct http_span){ NULL, 0 };
	cur->p++;
	return 0;
}

/* "HTTP/" DIGIT "." DIGIT CRLF; the grammar first, then whether we speak it. */
static int parse_version(struct cursor *cur, struct http_request *req)
{
	static const char shape[] = "HTTP/d.d";   /* d: a digit */
	const uint8_t *v = cur->p;

	/* The usual case, all eight bytes there and right; the loop below is
	 * the grammar, and decides between incomplete and 400 otherwise. */
	if (cur->end - v >= 8 && memcmp(v, "HTTP/", 5) == 0 && v[6] == '.' &&
	    (uint8_t)(v[5] - '0') <= 9 && (uint8_t)(v[7] - '0') <= 9) {
		cur->p += 8;
	} else {
		for (size_t i = 0; i < sizeof(shape) - 1; i++, cur->p++) {
			if (cur->p == cur->end)
				return out_of_bytes(cur);
			if (shape[i] == 'd' ? (*cur->p < '0' || *cur->p > '9')
					    : *cur->p != shape[i])
				return HTTP_PARSE_BAD_REQUEST;
		}
	}
	int rc = expect_crlf(cur);

	if (rc)
		return rc;
	if (v[5] != '1')
		return HTTP_PARSE_BAD_VERSION;
	req->version_minor = v[7] == '0' ? 0 : 1;  /* 1.2-1.9 speak at least 1.1 */
	return 0;
}

/* Content-Length: 1*DIGIT; repeats must carry the same number (RFC 9112 6.3). */
static int field_content_length(struct http_span v, struct fields *f, const struct http_limits *lim)
{
	uint64_t n = 0;

	if (v.len == 0 || f->has_te)
		return HTTP_PARSE_BAD_REQUEST;  /* TE and CL: RFC 9112 6.3 item 3 */
	for (uint32_t i = 0; i < v.len; i++) {
		uint8_t d = (uint8_t)v.p[i] - '0';

		if (d > 9)
			return HTTP_PARSE_BAD_REQUEST;  /* sign, space, comma list, hex */
		n = n * 10 + d;
		if (n >= HTTP_CL_OVERFLOW)
			return HTTP_PARSE_BAD_REQUEST;
	}
	if (f->has_cl && n != f->content_length)
		return HTTP_PARSE_BAD_REQUEST;
	f->has_cl = 1;
	f->content_length = n;
	if (n > lim->max_body_bytes)
		return HTTP_PARSE_BODY_TOO_LARGE;
	return 0;
}

/* Connection: a comma list of tokens; we act on "close" and "keep-alive". */
static void field_connection(struct http_span v, struct fields *f)
{
	const char *p = v.p, *end = v.p + v.len;

	while (p < end) {
		while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
			p++;
		const char *tok = p;

		while (p < end && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		struct http_span t = { tok, (uint32_t)(p - tok) };

		if (span_ieq(t, "close"))
			f->conn_close = 1;
		else if (span_ieq(t, "keep-alive"))
			f->conn_keep_alive = 1;
	}
}

/* A header the server or the app reads must appear at most once. */
static int field_once(struct http_span *slot, struct http_span v)
{
	if (slot->p)
		return HTTP_PARSE_BAD_REQUEST;
	*slot = v;
	return 0;
}

/* Acts on the header fields that matter for framing and for the app. */
static int field_known(const struct http_header *h, struct http_request *req,
		       struct fields *f, const struct http_limits *lim)
{
	switch (h->name.len) {
	case 4:
		if (token_ieq(h->name.p, "host", 4))
			return field_once(&req->host, h->value);
		break;
	case 10:
		if (token_ieq(h->name.p, "connection", 10))
			field_connection(h->value, f);
		break;
	case 12:
		if (token_ieq(h->name.p, "content-type", 12))
			return field_once(&req->content_type, h->value);
		break;
	case 13:
		if (token_ieq(h->name.p, "authorization", 13))
			return field_once(&req->authorization, h->value);
		/* Same length: only the requests that carry one pay for it. */
		if (token_ieq(h->name.p, "x-seckill-pow", 13))
			return field_once(&req->pow, h->value);
		break;
	case 14:
		if (token_ieq(h->name.p, "content-length", 14))
			return field_content_length(h->value, f, lim);
		break;
	case 17:
		if (token_ieq(h->name.p, "transfer-encoding", 17)) {
			if (f->has_cl)          /* CL and TE: RFC 9112 6.3 item 3 */
				return HTTP_PARSE_BAD_REQUEST;
			f->has_te = 1;          /* 501 once the head is complete */
		}
		break;
	}
	return 0;
}

/* One "name: value" CRLF line; the cursor is at its first byte. */
static int parse_header_line(struct cursor *cur, struct http_header *h)
{
	const uint8_t *name = cur->p, *end = cur->end, *p;

	p = skip_token(name, end);
	if (p == end)
		return out_of_bytes(cur);
	/* Not a token then ':' covers obs-fold, space before the colon, bare LF. */
	if (p == name || *p != ':')
		return HTTP_PARSE_BAD_REQUEST;
	h->name = span(name, p);
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const uint8_t *value = p;
	const uint8_t *vend = skip_value(p, end);

	cur->p = vend;
	int rc = expect_crlf(cur);

	if (rc)
		return rc;
	while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	h->value = span(value, vend);
	return 0;
}

/* Header lines up to and including the empty line. */
static int parse_headers(struct cursor *cur, struct http_request *req,
			 struct fields *f, const struct http_limits *lim)
{
	uint32_t max = lim->max_headers < HTTP_MAX_HEADERS ? lim->max_headers : HTTP_MAX_HEADERS;

	for (;;) {
		if (cur->p == cur->end)
			return out_of_bytes(cur);
		if (*cur->p == '\r')
			return expect_crlf(cur);
		if (req->n_headers == max)
			return HTTP_PARSE_HEADER_TOO_LARGE;
		struct http_header *h = &req->headers[req->n_headers];
		int rc = parse_header_line(cur, h);

		if (rc)
			return rc;
		req->n_headers++;
		rc = field_known(h, req, f, lim);
		if (rc)
			return rc;
	}
}

/* The end of a head, CRLF CRLF, anywhere in [p, end). */
static int has_head_end(const uint8_t *p, const uint8_t *end)
{
	while (end - p >= 4) {
		const uint8_t *lf = memchr(p + 3, '\n', (size_t)(end - p - 3));

		if (!lf)
			return 0;
		if (lf[-3] == '\r' && lf[-2] == '\n' && lf[-1] == '\r')
			return 1;
		p = lf - 2;
	}
	return 0;
}

/*
 * Whether a head that was incomplete at last_len bytes and is now len bytes
 * long only needs its new bytes searched for its end, instead of a full parse.
 * Short heads (the usual case) are always parsed in full, so their errors are
 * found at the first byte that shows them whatever the segmentation. Longer
 * ones are parsed in full again each time their length crosses a power of two:
 * a head dribbled byte by byte then costs O(n) in all, not O(n^2), and an
 * error in it is found at the latest when the length has doubled, the head
 * ends or the head limit is reached (where the answer is the whole-buffer one).
 */
static int resume_is_enough(size_t len, size_t last_len, const struct http_limits *lim)
{
	return last_len >= HTTP_RESCAN_MIN && last_len < len && len < lim->max_head_bytes &&
	       (last_len ^ len) < last_len;      /* same highest set bit: no power of two crossed */
}

static int parse_head(struct cursor *cur, struct http_request *req,
		      struct fields *f, const struct http_limits *lim)
{
	int rc;

	/* Empty lines before the request line are skipped (RFC 9112 2.2). */
	while (cur->p < cur->end && *cur->p == '\r')
		if ((rc = expect_crlf(cur)) != 0)
			return rc;
	if ((rc = parse_method(cur, req)) != 0 ||
	    (rc = parse_target(cur, req, lim->max_target_bytes)) != 0 ||
	    (rc = parse_version(cur, req)) != 0 ||
	    (rc = parse_headers(cur, req, f, lim)) != 0)
		return rc;
	/* RFC 9112 3.2: a 1.1 request without Host is 400 (one Host: field_once). */
	if (req->version_minor == 1 && !req->host.p)
		return HTTP_PARSE_BAD_REQUEST;
	/* A transfer coding we do not implement (RFC 9112 6.1): 501. Decided
	 * here, not at the field, because a Content-Length after it makes the
	 * request 400 instead. */
	if (f->has_te)
		return HTTP_PARSE_NOT_IMPLEMENTED;
	return 0;
}

int http_parse_request(const uint8_t *buf, size_t len, size_t last_len,
		       const struct http_limits *lim, struct http_request *req)
{
	req->head_len = 0;
	if (resume_is_enough(len, last_len, lim) &&
	    !has_head_end(buf + last_len - 3, buf + len))
		return HTTP_PARSE_INCOMPLETE;

	struct cursor cur = { buf, buf, buf + len, 0 };
	struct fields f = { 0 };

	if (len >= lim->max_head_bytes) {
		cur.end = buf + lim->max_head_bytes;
		cur.end_is_limit = 1;
	}
	memset(req, 0, offsetof(struct http_request, headers));
	int rc = parse_head(&cur, req, &f, lim);

	if (rc)
		return rc;
	req->head_len = (uint32_t)(cur.p - buf);
	req->keep_alive = req->version_minor == 1 ? !f.conn_close
						  : f.conn_keep_alive && !f.conn_close;
	if (f.content_length > (uint64_t)(INT_MAX - req->head_len))
		return HTTP_PARSE_BODY_TOO_LARGE;   /* limits too wide for an int answer */
	req->content_length = (uint32_t)f.content_length;
	if (len - req->head_len < req->content_length)
		return HTTP_PARSE_INCOMPLETE;
	req->body = span(cur.p, cur.p + req->content_length);
	return (int)(req->head_len + req->content_length);
}

uint16_t http_parse_status(int err)
{
	switch (err) {
	case HTTP_PARSE_URI_TOO_LONG: return 414;
	case HTTP_PARSE_HEADER_TOO_LARGE: return 431;
	case HTTP_PARSE_BODY_TOO_LARGE: return 413;
	case HTTP_PARSE_BAD_VERSION: return 505;
	case HTTP_PARSE_NOT_IMPLEMENTED: return 501;
	default: return 400;
	}
}

const struct http_span *http_request_header(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);

	for (uint32_t i = 0; i < req->n_headers; i++) {
		const struct http_span *h = &req->headers[i].name;

		if (h->len != n)
			continue;
		uint32_t j = 0;

		while (j < n && (((uint8_t)h->p[j] | 0x20) == ((uint8_t)name[j] | 0x20)))
			j++;
		if (j == n)
			return &req->headers[i].value;
	}
	return NULL;
}
