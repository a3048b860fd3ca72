/*
 * http_resp.c - reads a response head (http_resp.h).
 *
 * Only what a client needs to frame the next answer is read: the status, the
 * version, Content-Length and Connection. A response without Content-Length
 * is accepted only when it can have no body (1xx, 204, 304: RFC 9112 6.3),
 * since reading until close is no way to frame a keep-alive answer.
 */
#include "http_resp.h"

#include <string.h>
#include <strings.h>

/* "HTTP/1.1 200 " is the shortest status line before the reason. */
#define HTTP_RESP_STATUS_MIN 12
/* Digits of a Content-Length we accept: 15 is a petabyte, plenty, and cannot overflow. */
#define HTTP_RESP_CL_DIGITS 15

static const uint8_t *find_crlf(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *q = memchr(p, '\r', (size_t)(end - p));

	return q != NULL && q + 1 < end ? q : NULL;
}

static int status_line(const uint8_t *p, const uint8_t *eol, struct http_resp *r)
{
	if (eol - p < HTTP_RESP_STATUS_MIN || memcmp(p, "HTTP/1.", 7) != 0 ||
	    p[7] < '0' || p[7] > '9' || p[8] != ' ' || (p[12] != ' ' && p + 12 != eol))
		return HTTP_RESP_BAD;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return HTTP_RESP_BAD;
	r->minor = (uint8_t)(p[7] - '0');
	r->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	if (r->status < 100 || r->status > 599)
		return HTTP_RESP_BAD;
	r->close = r->minor == 0;      /* HTTP/1.0: close unless it says keep-alive */
	return 0;
}

/* Is v (n bytes, leading and trailing blanks already cut) the token tok, any case? */
static bool value_is(const uint8_t *v, size_t n, const char *tok)
{
	return n == strlen(tok) && strncasecmp((const char *)v, tok, n) == 0;
}

/* One header line [p, eol); seen_cl says a Content-Length came before. */
static int header_line(const uint8_t *p, const uint8_t *eol, struct http_resp *r, bool *seen_cl)
{
	const uint8_t *colon = memchr(p, ':', (size_t)(eol - p));
	const uint8_t *v, *ve;
	size_t nlen;

	if (colon == NULL || colon == p || p[0] == ' ' || p[0] == '\t')
		return HTTP_RESP_BAD;    /* no name, or obs-fold */
	nlen = (size_t)(colon - p);
	for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	if (nlen == 14 && strncasecmp((const char *)p, "Content-Length", 14) == 0) {
		uint64_t cl = 0;

		if (ve == v || ve - v > HTTP_RESP_CL_DIGITS)
			return HTTP_RESP_BAD;
		for (const uint8_t *d = v; d < ve; d++) {
			if (*d < '0' || *d > '9')
				return HTTP_RESP_BAD;
			cl = cl * 10 + (uint64_t)(*d - '0');
		}
		if (*seen_cl && cl != r->content_length)
			return HTTP_RESP_BAD;   /* two lengths: which answer ends where? */
		r->content_length = cl;
		*seen_cl = true;
	} else if (nlen == 17 && strncasecmp((const char *)p, "Transfer-Encoding", 17) == 0) {
		return HTTP_RESP_BAD;
	} else if (nlen == 10 && strncasecmp((const char *)p, "Connection", 10) == 0) {
		if (value_is(v, (size_t)(ve - v), "close"))
			r->close = true;
		else if (value_is(v, (size_t)(ve - v), "keep-alive"))
			r->close = false;
	}
	return 0;
}

int http_resp_head(const uint8_t *p, uint32_t len, struct http_resp *r)
{
	const uint8_t *end = p + (len < HTTP_RESP_HEAD_MAX ? len : HTTP_RESP_HEAD_MAX);
	const uint8_t *line = p, *eol;
	bool seen_cl = false;

	memset(r, 0, sizeof(*r));
	for (;;) {
		eol = find_crlf(line, end);
		if (eol == NULL)
			return len >= HTTP_RESP_HEAD_MAX ? HTTP_RESP_BAD : HTTP_RESP_INCOMPLETE;
		if (eol[1] != '\n')
			return HTTP_RESP_BAD;    /* CR without LF */
		if (line == p) {
			if (status_line(line, eol, r) < 0)
				return HTTP_RESP_BAD;
		} else if (eol == line) {
			break;                   /* the empty line: the head is complete */
		} else if (header_line(line, eol, r, &seen_cl) < 0) {
			return HTTP_RESP_BAD;
		}
		line = eol + 2;
	}
	if (r->status < 200 || r->status == 204 || r->status == 304)
		r->content_length = 0;           /* never a body, whatever a length says (RFC 9112 6.3) */
	else if (!seen_cl)
		return HTTP_RESP_BAD;            /* only a close would end the body */
	return (int)(eol + 2 - p);
}
