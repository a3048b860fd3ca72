/*
 * http_resp.h - the head of an HTTP/1.1 response, for the load generator.
 *
 * The client side of http_parse.h, and as strict about framing, because a
 * load generator that mis-frames one answer counts every later one wrong:
 * status line "HTTP/1.x DDD reason" CRLF, header lines CRLF, an empty line.
 * The body is framed by Content-Length only (our server and nginx's fixed
 * answers send it; a chunked answer is refused as HTTP_RESP_BAD rather than
 * guessed at). Stateless and zero copy like the request parser: called again
 * from the start of the response with more bytes until it answers.
 */
#ifndef SECKILL_HTTP_RESP_H
#define SECKILL_HTTP_RESP_H

#include <stdbool.h>
#include <stdint.h>

#define HTTP_RESP_INCOMPLETE 0   /* no empty line yet: call again with more */
#define HTTP_RESP_BAD        (-1)

/* Longest head accepted: a response head larger than this is HTTP_RESP_BAD. */
#define HTTP_RESP_HEAD_MAX 8192

struct http_resp {
	uint16_t status;             /* 100..599 */
	uint8_t  minor;              /* HTTP/1.<minor> */
	bool     close;              /* Connection: close (or HTTP/1.0 without keep-alive) */
	uint64_t content_length;     /* 0 when the head says nothing (and status allows none) */
};

/*
 * Reads the head at p (len bytes so far). Returns its length in bytes (the
 * body starts there), HTTP_RESP_INCOMPLETE, or HTTP_RESP_BAD.
 */
int http_resp_head(const uint8_t *p, uint32_t len, struct http_resp *r);

#endif
