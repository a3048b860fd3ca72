/*
 * http_response.c - the response writer and the date formatter.
 *
 * A bounded appender: every piece is copied only if it fits, and one sticky
 * flag says whether anything did not, so the writer has one check at the end
 * instead of one per line. Status lines are always HTTP/1.1: a server sends
 * its own highest version whatever the request's was (RFC 9110 6.2).
 *
 * The head cache of http_head_cache.h lives here too: its heads are built by
 * the same appenders as the general writer's, so the two cannot drift apart.
 */
#include "http_response.h"

#include <string.h>

#include "http_head_cache.h"

struct writer {
	uint8_t *p;
	uint8_t *end;
	int full;
};

static void put(struct writer *w, const void *s, size_t n)
{
	if (w->full || (size_t)(w->end - w->p) < n) {
		w->full = 1;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

static void put_str(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u32(struct writer *w, uint32_t v)
{
	char tmp[10];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, tmp + i, sizeof(tmp) - (size_t)i);
}

const char *http_reason(uint16_t status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";     /* RFC 6585 3: the proof of work */
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";             /* reason-phrase may be empty (RFC 9112 4) */
	}
}

/* 1xx, 204 and 304 carry neither content nor Content-Length (RFC 9110 8.6). */
static int status_has_content(uint16_t status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* The status line, then the Date line when there is a date (no CRLF after it). */
static void put_status_date(struct writer *w, uint16_t status, const char *date)
{
	char code[4] = { (char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
			 (char)('0' + status % 10), ' ' };

	put_str(w, "HTTP/1.1 ");
	put(w, code, sizeof(code));
	put_str(w, http_reason(status));
	if (date) {
		put_str(w, "\r\nDate: ");
		put(w, date, HTTP_DATE_LEN);
	}
}

/* Content-Type, and Content-Length's name: its value comes next. */
static void put_type_length_name(struct writer *w, const char *type)
{
	put_str(w, "\r\nContent-Type: ");
	put_str(w, type ? type : "application/json");
	put_str(w, "\r\nContent-Length: ");
}

int http_response_write(uint8_t *out, uint32_t cap, const struct http_response *r)
{
	struct writer w = { out, out + cap, 0 };
	int content = status_has_content(r->status);

	put_status_date(&w, r->status, r->date);
	if (content) {
		put_type_length_name(&w, r->content_type);
		put_u32(&w, r->body_len);
	}
	if (r->connection == HTTP_CONN_KEEP_ALIVE)
		put_str(&w, "\r\nConnection: keep-alive");
	else if (r->connection == HTTP_CONN_CLOSE)
		put_str(&w, "\r\nConnection: close");
	put_str(&w, "\r\n");
	if (r->extra_headers)
		put_str(&w, r->extra_headers);
	put_str(&w, "\r\n");
	if (content && !r->head_only && r->body_len)
		put(&w, r->body, r->body_len);
	return w.full ? -1 : (int)(w.p - out);
}

/* ---- the head cache (http_head_cache.h) ---- */

static const uint16_t head_cache_status[HTTP_HEAD_CACHE_N] = { 200, 409, 410 };

static int head_cache_slot(uint16_t status)
{
	switch (status) {
	case 200: return 0;
	case 409: return 1;
	case 410: return 2;
	default: return -1;
	}
}

/* What http_response_write puts after Content-Length's value, with no extra
 * headers, for each enum http_conn_hdr. */
#define HEAD_TAIL_NONE       "\r\n\r\n"
#define HEAD_TAIL_KEEP_ALIVE "\r\nConnection: keep-alive\r\n\r\n"
#define HEAD_TAIL_CLOSE      "\r\nConnection: close\r\n\r\n"
/* Heads are copied as two fixed 64-byte blocks, the second one ending at the
 * head's end (overlapping the first): a head must be 64 bytes or more. Every
 * one is (the status line and the Date line alone are 55). */
#define HEAD_COPY_BLOCK 64

void http_head_cache_set_time(struct http_head_cache *hc, uint64_t unix_sec)
{
	if (hc->valid && hc->date_sec == unix_sec)
		return;
	http_date_format(unix_sec, hc->date);
	for (int i = 0; i < HTTP_HEAD_CACHE_N; i++) {
		uint8_t *head = (uint8_t *)hc->head[i];
		struct writer w = { head, head + HTTP_HEAD_CACHE_CAP, 0 };

		put_status_date(&w, head_cache_status[i], hc->date);
		put_type_length_name(&w, NULL);
		/* 0: never used, the general writer answers instead */
		hc->head_len[i] = w.full || w.p - head < HEAD_COPY_BLOCK ? 0 : (uint8_t)(w.p - head);
	}
	hc->date_sec = unix_sec;
	hc->valid = 1;
}

static uint32_t u32_digits(uint32_t v)
{
	uint32_t n = 1;

	for (; v >= 100; v /= 100)
		n += 2;
	return n + (v >= 10);
}

/* Writes v's decimal digits backwards, the last one just before end. */
static void put_digits_before(uint8_t *end, uint32_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";

	for (; v >= 100; v /= 100) {
		end -= 2;
		memcpy(end, pairs + v % 100 * 2, 2);
	}
	if (v >= 10)
		memcpy(end - 2, pairs + v * 2, 2);
	else
		end[-1] = (uint8_t)('0' + v);
}

/* The tail of the head after Content-Length's value; its length. */
static uint32_t put_head_tail(uint8_t *p, enum http_conn_hdr conn)
{
	switch (conn) {
	case HTTP_CONN_KEEP_ALIVE:
		memcpy(p, HEAD_TAIL_KEEP_ALIVE, sizeof(HEAD_TAIL_KEEP_ALIVE) - 1);
		return sizeof(HEAD_TAIL_KEEP_ALIVE) - 1;
	case HTTP_CONN_CLOSE:
		memcpy(p, HEAD_TAIL_CLOSE, sizeof(HEAD_TAIL_CLOSE) - 1);
		return sizeof(HEAD_TAIL_CLOSE) - 1;
	default:
		memcpy(p, HEAD_TAIL_NONE, sizeof(HEAD_TAIL_NONE) - 1);
		return sizeof(HEAD_TAIL_NONE) - 1;
	}
}

static uint32_t head_tail_len(enum http_conn_hdr conn)
{
	return conn == HTTP_CONN_KEEP_ALIVE ? sizeof(HEAD_TAIL_KEEP_ALIVE) - 1
		: conn == HTTP_CONN_CLOSE ? sizeof(HEAD_TAIL_CLOSE) - 1
		: sizeof(HEAD_TAIL_NONE) - 1;
}

int http_response_write_cached(const struct http_head_cache *hc, uint8_t *out, uint32_t cap,
			       const struct http_response *r)
{
	int i = head_cache_slot(r->status);

	if (i < 0 || r->date != hc->date || !hc->valid || hc->head_len[i] == 0 ||
	    r->content_type || r->extra_headers || (unsigned)r->connection > HTTP_CONN_CLOSE)
		return http_response_write(out, cap, r);

	const char *head = hc->head[i];
	uint32_t hlen = hc->head_len[i], nd = u32_digits(r->body_len);
	uint32_t body = r->head_only ? 0 : r->body_len;
	uint64_t n = (uint64_t)hlen + nd + head_tail_len(r->connection) + body;
	uint8_t *p = out + hlen + nd;

	if (n > cap)
		return -1;
	memcpy(out, head, HEAD_COPY_BLOCK);
	memcpy(out + hlen - HEAD_COPY_BLOCK, head + hlen - HEAD_COPY_BLOCK, HEAD_COPY_BLOCK);
	put_digits_before(p, r->body_len);
	p += put_head_tail(p, r->connection);
	if (body)
		memcpy(p, r->body, body);
	return (int)n;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil inverse). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void two_digits(char *out, unsigned v)
{
	out[0] = (char)('0' + v / 10 % 10);
	out[1] = (char)('0' + v % 10);
}

void http_date_format(uint64_t unix_sec, char out[HTTP_DATE_BUF])
{
	static const char wdays[] = "ThuFriSatSunMonTueWed";   /* 1970-01-01 was a Thursday */
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	uint64_t days = unix_sec / 86400, secs = unix_sec % 86400;
	int year;
	unsigned mon, mday;

	civil_from_days((int64_t)days, &year, &mon, &mday);
	memcpy(out, wdays + days % 7 * 3, 3);
	memcpy(out + 3, ", ", 2);
	two_digits(out + 5, mday);
	out[7] = ' ';
	memcpy(out + 8, months + (mon - 1) * 3, 3);
	out[11] = ' ';
	two_digits(out + 12, (unsigned)year / 100);  /* four-digit years: up to 9999 */
	two_digits(out + 14, (unsigned)year % 100);
	out[16] = ' ';
	two_digits(out + 17, (unsigned)(secs / 3600));
	out[19] = ':';
	two_digits(out + 20, (unsigned)(secs / 60 % 60));
	out[22] = ':';
	two_digits(out + 23, (unsigned)(secs % 60));
	memcpy(out + 25, " GMT", 5);
}
