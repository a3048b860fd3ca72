/*
 * http_head_cache.h - the heads of the common answers, formatted once a second.
 *
 * Internal to lib/http (the server, and its tests). Nearly every answer of a
 * flash sale is a 200, a 409 or a 410 in application/json with no extra
 * header, and within one second its head differs from the last one only in
 * Content-Length. So the server keeps, per cached status, the head formatted
 * up to "Content-Length: " with the current Date (rebuilt when the second
 * changes), and http_response_write_cached writes an answer as that prefix,
 * the length's digits, the connection mode's fixed tail and the body: a few
 * copies instead of a dozen bounded appends. Anything else (other statuses,
 * another type, extra headers, another Date) goes to http_response_write.
 * The bytes are exactly http_response_write's: the prefix is built by the same
 * code, and the tests compare both writers for every cached combination.
 */
#ifndef SECKILL_HTTP_HEAD_CACHE_H
#define SECKILL_HTTP_HEAD_CACHE_H

#include <stdint.h>

#include "http_response.h"

/* 200 (every success), 409 (already bought), 410 (sold out, closed: what
 * most buyers get once the stock is gone). */
#define HTTP_HEAD_CACHE_N 3
/* "HTTP/1.1 410 Gone\r\nDate: <29>\r\nContent-Type: application/json\r\n
 * Content-Length: " is 102 bytes; room for a longer reason phrase. */
#define HTTP_HEAD_CACHE_CAP 128

struct http_head_cache {
	char date[HTTP_DATE_BUF];    /* the heads' Date: a response's date must point HERE */
	uint64_t date_sec;
	uint8_t valid;               /* date and heads are set */
	uint8_t head_len[HTTP_HEAD_CACHE_N];
	char head[HTTP_HEAD_CACHE_N][HTTP_HEAD_CACHE_CAP];
};

/* Formats the Date of unix_sec into hc->date and rebuilds the heads; nothing
 * to do when it is the second the cache already holds. */
void http_head_cache_set_time(struct http_head_cache *hc, uint64_t unix_sec);

/*
 * http_response_write's contract and bytes, from the cache when r is a cached
 * status, application/json (content_type NULL), no extra headers, and r->date
 * points to hc->date of a set cache; from http_response_write otherwise.
 */
int http_response_write_cached(const struct http_head_cache *hc, uint8_t *out, uint32_t cap,
			       const struct http_response *r);

#endif
