/*
 * http_response.h - writes an HTTP/1.1 response into a caller's buffer.
 *
 * The server builds each answer, head and body, in one contiguous buffer and
 * hands it to tcp_send in one call (all or nothing), so the writer is a plain
 * bounded formatter: it either writes the whole response or says it does not
 * fit, and never writes past the end. The Date value is passed in, formatted
 * once per second by the server, not once per answer.
 */
#ifndef SECKILL_HTTP_RESPONSE_H
#define SECKILL_HTTP_RESPONSE_H

#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL. */
#define HTTP_DATE_LEN 29
#define HTTP_DATE_BUF 30

enum http_conn_hdr {
	HTTP_CONN_NONE = 0,          /* persistence is the HTTP/1.1 default: say nothing */
	HTTP_CONN_KEEP_ALIVE,        /* an HTTP/1.0 client asked for keep-alive and gets it */
	HTTP_CONN_CLOSE,             /* we close after this answer */
};

struct http_response {
	uint16_t status;
	const char *date;            /* HTTP_DATE_LEN characters, or NULL for no Date */
	const char *content_type;    /* NULL: application/json */
	enum http_conn_hdr connection;
	const char *extra_headers;   /* NULL, or whole "Name: value\r\n" lines */
	const void *body;
	uint32_t body_len;           /* Content-Length, sent even when the body is not */
	uint8_t head_only;           /* HEAD: headers only, same Content-Length */
};

/* Bytes written to out (at most cap), or -1 when the response does not fit. */
int http_response_write(uint8_t *out, uint32_t cap, const struct http_response *r);

/* The reason phrase for a status code; "" for a code we have no phrase for. */
const char *http_reason(uint16_t status);

/* IMF-fixdate (RFC 9110 5.6.7) of a Unix time; writes HTTP_DATE_LEN chars and a NUL. */
void http_date_format(uint64_t unix_sec, char out[HTTP_DATE_BUF]);

#endif
