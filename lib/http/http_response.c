/*
 * http_response.c - the response writer and the date formatter.
 *
 * A bounded appender: every piece is copied only if it fits, and one sticky
 * flag says whether anything did not, so the writer has one check at the end
 * instead of one per line. Status lines are always HTTP/1.1: a server sends
 * its own highest version whatever the request's was (RFC 9110 6.2).
 */
#include "http_response.h"

#include <string.h>

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

int http_response_write(uint8_t *out, uint32_t cap, const struct http_response *r)
{
	struct writer w = { out, out + cap, 0 };
	int content = status_has_content(r->status);
	char code[4] = { (char)('0' + r->status / 100 % 10), (char)('0' + r->status / 10 % 10),
			 (char)('0' + r->status % 10), ' ' };

	put_str(&w, "HTTP/1.1 ");
	put(&w, code, sizeof(code));
	put_str(&w, http_reason(r->status));
	if (r->date) {
		put_str(&w, "\r\nDate: ");
		put(&w, r->date, HTTP_DATE_LEN);
	}
	if (content) {
		put_str(&w, "\r\nContent-Type: ");
		put_str(&w, r->content_type ? r->content_type : "application/json");
		put_str(&w, "\r\nContent-Length: ");
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
