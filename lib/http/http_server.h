/*
 * http_server.h - HTTP/1.1 on top of tcp_app: parse, dispatch, answer.
 *
 * http_server_on_data is the tcp_app.on_data of the dataplane. It parses as
 * many complete requests as the bytes hold (pipelining), calls the handler for
 * each, writes each answer with tcp_send in order, and returns how many bytes
 * it consumed; a partial request is left for TCP to hand again with more
 * bytes. When the send buffer cannot take the next answer it stops there and
 * TCP hands the rest again once ACKs free space. Malformed input gets its 4xx
 * and the connection is closed after the answer, as RFC 9112 asks.
 */
#ifndef SECKILL_HTTP_SERVER_H
#define SECKILL_HTTP_SERVER_H

#include <stdint.h>

#include "http_parse.h"
#include "stats.h"
#include "tcp.h"

struct http_server_conf {
	uint32_t max_header_bytes;   /* request line + headers; more is 431 (414 for the target) */
	uint32_t max_target_bytes;   /* request target; more is 414 */
	uint32_t max_body_bytes;     /* Content-Length above it is 413 */
	uint32_t max_headers;        /* header lines; more is 431 */
};

/*
 * Defaults: 3 KiB head, 1 KiB target, 1 KiB body, 32 headers. Two bounds come
 * from TCP's configuration: a request at the limits (head + body) must fit
 * tcp_conf.rx_buf, or it can never be consumed, and tcp_conf.tx_buf must hold
 * HTTP_REPLY_BODY_CAP + 512 bytes (the largest answer, whose room is checked
 * before the handler runs), or no answer is ever sent. Bodies by reference
 * (http_reply.ext_body) may be any size: they are sent in pieces.
 */
void http_server_conf_default(struct http_server_conf *conf);

/* The handler's body buffer: the largest JSON answer of the sale API, twice over. */
#define HTTP_REPLY_BODY_CAP 2048

/*
 * What a handler answers; the server adds the status line, Date, Content-Length, Connection.
 * The server fills status 200, body/body_cap (HTTP_REPLY_BODY_CAP bytes) and zeroes the rest
 * before the call; HEAD requests reach the handler like GET and the server drops the body.
 * An answer that cannot be sent as written (body_len > body_cap, extra_headers too long for
 * the head reserve) becomes a 500 and counts handler_overflow.
 */
struct http_reply {
	uint16_t status;
	const char *content_type;    /* NULL: application/json */
	uint8_t *body;               /* the server's buffer, body_cap bytes, for the handler to fill */
	uint32_t body_cap;
	uint32_t body_len;
	const char *extra_headers;   /* NULL, or whole "Name: value\r\n" lines (Retry-After ...) */
	uint8_t close;               /* set by the handler to close after this answer */
	/* Set by the handler: the answer, and every one after it on this
	 * connection, stays unsent until tcp_release(.., hold_ticket) (tcp_hold):
	 * a sold order's 200 waits until the order is durable. */
	uint8_t hold;
	uint32_t hold_ticket;
	/*
	 * A body by reference instead of body[] (the page, its scripts, an
	 * image): ext_len bytes at ext_body that stay unchanged while they are
	 * sent, which may take many ACKs when they are larger than the send
	 * buffer. The request then stays unconsumed in TCP's receive buffer and
	 * the handler is asked again each time ACKs free space, with resume set
	 * by the server: it must count nothing and answer the same ext_len and
	 * ext_tag (an identity of the bytes, e.g. a hash), or the connection is
	 * reset (the bytes changed under a half-sent answer). Only for answers
	 * without side effects (GET).
	 */
	const uint8_t *ext_body;
	uint32_t ext_len;
	uint32_t ext_tag;
	uint8_t resume;              /* set by the server: the rest of a streamed answer */
};

typedef void (*http_handler_fn)(void *ctx, struct tcp_conn *c,
				const struct http_request *req, struct http_reply *rep);

#define HTTP_SERVER_STATS(X) \
	X(requests) X(responses_2xx) X(responses_4xx) X(responses_5xx) \
	X(bad_request) X(too_large_header) X(too_large_target) X(too_large_body) \
	X(bad_version) X(bad_method) X(stalled_tx_full) X(handler_overflow) \
	X(streamed)        /* answers by reference too large for one send: sent in pieces */ \
	X(stream_changed)  /* ... whose bytes changed half-way: connection reset */

struct http_server_stats { HTTP_SERVER_STATS(STATS_FIELD) };
extern const char *const http_server_stats_names[];
#define HTTP_SERVER_STATS_N (0 HTTP_SERVER_STATS(STATS_COUNT))

struct http_server;

struct http_server *http_server_create(const struct http_server_conf *conf,
				       http_handler_fn handler, void *handler_ctx);
void http_server_destroy(struct http_server *hs);
/* Unix time in seconds: the Date header is formatted again only when it changes. */
void http_server_set_time(struct http_server *hs, uint64_t unix_sec);
const struct http_server_stats *http_server_stats(const struct http_server *hs);

/* The tcp_app callbacks; ctx is the http_server. */
uint32_t http_server_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			     const uint8_t *data, uint32_t len);
void http_server_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c);
void http_server_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			   enum tcp_close_reason why);

#endif
