/*
 * http_server.c - HTTP/1.1 on tcp_app: the pipelining loop of http_server.h.
 *
 * The server keeps no per-connection state of its own: TCP keeps the bytes we
 * did not consume and hands them again with what came after, so a request cut
 * across segments is simply parsed again once more bytes are there. The one
 * thing remembered, in the eight bytes tcp_conn_app gives, is a hint: how much
 * of an incomplete head was already seen (the parser's last_len), plus two
 * flags for a peer that half-closed while we were stalled on a full send
 * buffer, so its last pipelined requests are still answered before our FIN.
 *
 * Each answer (head and body) is formatted into one buffer of the server and
 * queued with one tcp_send; an answer whose body is by reference (a static
 * asset larger than the send buffer) is queued in pieces as ACKs free space,
 * its request left unconsumed until the last piece (stream_body). Handlers have side effects (an order placed), so
 * the send space is checked for the largest possible answer BEFORE the handler
 * runs: a request that cannot be answered now is left unconsumed and handed
 * again once ACKs free space, never run twice.
 *
 * TCP's request deadlines and its full-table policy rest on this (tcp.h,
 * "Requests"): a request is consumed whole or not at all, and a stall is
 * always either an answer in the send ring or tcp_wait_space, so bytes left
 * unconsumed while nothing is owed are an incomplete request. TCP then ends
 * it after --header-timeout, or hands its entry to a newcomer when the table
 * is full, and on_closed says so (TCP_CLOSE_DEADLINE, TCP_CLOSE_EVICTED).
 */
#include "http_server.h"

#include <stdlib.h>
#include <string.h>

#include "http_head_cache.h"
#include "http_response.h"

/* Status line, Date, Content-Type, Content-Length, Connection, the handler's
 * extra headers: an answer whose head needs more is the handler's bug (500). */
#define HTTP_HEAD_RESERVE 512
#define HTTP_ANSWER_MAX (HTTP_REPLY_BODY_CAP + HTTP_HEAD_RESERVE)

/* tcp_conn_app word: low 32 bits the parser's last_len, then flags. While an
 * answer by reference is being streamed (HTTP_ST_STREAM) the low 32 bits are
 * instead the body bytes already queued, and the top 24 bits the low bits of
 * its ext_tag: its head is complete, so no last_len hint is needed. */
#define HTTP_ST_LAST_LEN  0xffffffffULL
#define HTTP_ST_STALLED   (1ULL << 32)   /* on_data stopped on a full send buffer */
#define HTTP_ST_PEER_FIN  (1ULL << 33)   /* the peer's FIN came while stalled */
#define HTTP_ST_STREAM    (1ULL << 34)   /* the first request's body is half sent */
#define HTTP_ST_TAG_SHIFT 40
#define HTTP_ST_TAG_MASK  0xffffffULL

/* answer_request's outcomes. */
enum { ANSWER_CLOSED = 0, ANSWER_KEEP, ANSWER_STREAMING, ANSWER_ABORTED };

const char *const http_server_stats_names[] = { HTTP_SERVER_STATS(STATS_NAME) };
_Static_assert(sizeof(http_server_stats_names) / sizeof(http_server_stats_names[0]) ==
	       HTTP_SERVER_STATS_N, "a name for every counter");
_Static_assert(sizeof(struct http_server_stats) == HTTP_SERVER_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

struct http_server {
	struct http_limits lim;
	http_handler_fn handler;
	void *handler_ctx;
	/* The Date, and the common heads with it; no Date until we have a
	 * clock (RFC 9110 6.6.1): head.valid says whether we do. */
	struct http_head_cache head;
	struct http_server_stats stats;
	struct http_request req;     /* per core, one request at a time: off the stack */
	uint8_t body[HTTP_REPLY_BODY_CAP];
	uint8_t out[HTTP_ANSWER_MAX];
};

void http_server_conf_default(struct http_server_conf *conf)
{
	/* A whole request at the limits (head + body) must fit TCP's rx_buf,
	 * or it could never be consumed: these fit the 4 KiB default. */
	conf->max_header_bytes = 3072;   /* a browser's head with cookies is 1-2 KiB */
	conf->max_target_bytes = 1024;   /* the sale API's paths are short */
	conf->max_body_bytes = 1024;     /* an order is a small JSON object */
	conf->max_headers = 32;          /* browsers send ~15 */
}

struct http_server *http_server_create(const struct http_server_conf *conf,
				       http_handler_fn handler, void *handler_ctx)
{
	struct http_server *hs;

	if (!handler || !conf->max_header_bytes || !conf->max_target_bytes)
		return NULL;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return NULL;
	hs->lim = (struct http_limits){
		.max_head_bytes = conf->max_header_bytes,
		.max_target_bytes = conf->max_target_bytes,
		.max_headers = conf->max_headers,
		.max_body_bytes = conf->max_body_bytes,
	};
	hs->handler = handler;
	hs->handler_ctx = handler_ctx;
	return hs;
}

void http_server_destroy(struct http_server *hs)
{
	free(hs);
}

void http_server_set_time(struct http_server *hs, uint64_t unix_sec)
{
	http_head_cache_set_time(&hs->head, unix_sec);
}

const struct http_server_stats *http_server_stats(const struct http_server *hs)
{
	return &hs->stats;
}

static void count_status(struct http_server *hs, uint16_t status)
{
	if (status >= 500)
		hs->stats.responses_5xx++;
	else if (status >= 400)
		hs->stats.responses_4xx++;
	else if (status >= 200 && status < 300)
		hs->stats.responses_2xx++;
}

/* Formats an answer into hs->out; its length, or -1 when it does not fit.
 * The common ones come from the head cache, with the same bytes. */
static int format_answer(struct http_server *hs, uint16_t status, const char *type,
			 enum http_conn_hdr conn, const char *extra,
			 const void *body, uint32_t body_len, int head_only)
{
	struct http_response r = {
		.status = status, .date = hs->head.valid ? hs->head.date : NULL,
		.content_type = type, .connection = conn, .extra_headers = extra,
		.body = body, .body_len = body_len, .head_only = (uint8_t)head_only,
	};

	return http_response_write_cached(&hs->head, hs->out, sizeof(hs->out), &r);
}

/* The stable JSON error code of each status we answer ourselves. */
static const char *error_code(uint16_t status)
{
	switch (status) {
	case 413: return "{\"error\":\"content_too_large\"}";
	case 414: return "{\"error\":\"uri_too_long\"}";
	case 431: return "{\"error\":\"header_fields_too_large\"}";
	case 500: return "{\"error\":\"internal_error\"}";
	case 501: return "{\"error\":\"not_implemented\"}";
	case 505: return "{\"error\":\"version_not_supported\"}";
	default: return "{\"error\":\"bad_request\"}";
	}
}

static void count_parse_error(struct http_server *hs, int rc)
{
	switch (rc) {
	case HTTP_PARSE_URI_TOO_LONG: hs->stats.too_large_target++; break;
	case HTTP_PARSE_HEADER_TOO_LARGE: hs->stats.too_large_header++; break;
	case HTTP_PARSE_BODY_TOO_LARGE: hs->stats.too_large_body++; break;
	case HTTP_PARSE_BAD_VERSION: hs->stats.bad_version++; break;
	default: hs->stats.bad_request++; break;
	}
}

/*
 * Answers a request we cannot parse and closes (RFC 9112 says a server
 * that cannot frame a request cannot read what follows it). Returns false
 * when the send buffer has no room yet, to be tried again.
 */
static int answer_parse_error(struct http_server *hs, struct tcp_core *tc,
			      struct tcp_conn *c, int rc)
{
	uint16_t status = http_parse_status(rc);
	const char *body = error_code(status);
	int n = format_answer(hs, status, NULL, HTTP_CONN_CLOSE, NULL, body,
			      (uint32_t)strlen(body), 0);

	if (n < 0 || tcp_send(tc, c, hs->out, (uint32_t)n) < 0)
		return 0;
	count_parse_error(hs, rc);
	count_status(hs, status);
	tcp_close(tc, c);
	return 1;
}

/* The handler's answer, or a 500 when what it wrote cannot be sent as is. */
static int format_reply(struct http_server *hs, const struct http_request *req,
			const struct http_reply *rep, enum http_conn_hdr conn, uint16_t *status)
{
	int head_only = req->method == HTTP_METHOD_HEAD;
	int n = -1;

	*status = rep->status;
	/* A body by reference: the head alone, saying its length; the bytes
	 * follow from where they are (stream_body). */
	if (rep->ext_body != NULL && rep->body_len == 0 && rep->status >= 100 &&
	    rep->status <= 999)
		n = format_answer(hs, rep->status, rep->content_type, conn, rep->extra_headers,
				  rep->ext_body, rep->ext_len, 1);
	else if (rep->body_len <= rep->body_cap && rep->status >= 100 && rep->status <= 999)
		n = format_answer(hs, rep->status, rep->content_type, conn, rep->extra_headers,
				  rep->body, rep->body_len, head_only);
	if (n < 0) {
		const char *body = error_code(500);

		hs->stats.handler_overflow++;
		*status = 500;
		n = format_answer(hs, 500, NULL, conn, NULL, body, (uint32_t)strlen(body), head_only);
	}
	return n;
}

/*
 * Queues what send space allows of the body by reference, from byte sent on.
 * Returns ANSWER_KEEP when all of it is queued, else ANSWER_STREAMING with
 * the position and the tag recorded in the connection's word.
 */
static int stream_body(struct tcp_core *tc, struct tcp_conn *c, const struct http_reply *rep,
		       uint32_t sent)
{
	uint64_t *st = tcp_conn_app(c);
	uint32_t room = tcp_send_space(tc, c), n = rep->ext_len - sent;

	if (n > room)
		n = room;
	if (n != 0 && tcp_send(tc, c, rep->ext_body + sent, n) == 0)
		sent += n;
	*st &= ~(HTTP_ST_LAST_LEN | HTTP_ST_STREAM | (HTTP_ST_TAG_MASK << HTTP_ST_TAG_SHIFT));
	if (sent == rep->ext_len)
		return ANSWER_KEEP;
	*st |= HTTP_ST_STREAM | sent |
	       ((uint64_t)(rep->ext_tag & HTTP_ST_TAG_MASK) << HTTP_ST_TAG_SHIFT);
	return ANSWER_STREAMING;
}

/*
 * The rest of a streamed answer: the handler is asked again for the same
 * request (resume set) and must give the same bytes. ANSWER_KEEP when the
 * body is now all queued, ANSWER_STREAMING when more waits for space,
 * ANSWER_ABORTED when the bytes changed (c is gone).
 */
static int stream_resume(struct http_server *hs, struct tcp_core *tc, struct tcp_conn *c,
			 const struct http_request *req)
{
	uint64_t st = *tcp_conn_app(c);
	struct http_reply rep = {
		.status = 200, .body = hs->body, .body_cap = sizeof(hs->body), .resume = 1,
	};

	int ret;

	hs->handler(hs->handler_ctx, c, req, &rep);
	if (rep.ext_body == NULL || rep.ext_len <= (uint32_t)(st & HTTP_ST_LAST_LEN) ||
	    (rep.ext_tag & HTTP_ST_TAG_MASK) != ((st >> HTTP_ST_TAG_SHIFT) & HTTP_ST_TAG_MASK)) {
		hs->stats.stream_changed++;
		tcp_abort(tc, c);
		return ANSWER_ABORTED;
	}
	ret = stream_body(tc, c, &rep, (uint32_t)(st & HTTP_ST_LAST_LEN));
	if (ret == ANSWER_KEEP && !(req->keep_alive && !rep.close)) {
		tcp_close(tc, c);
		return ANSWER_CLOSED;
	}
	return ret;
}

/*
 * Runs the handler for one parsed request (or answers 501 for a method we
 * do not implement) and queues the answer. Returns ANSWER_KEEP when the
 * connection stays open, ANSWER_CLOSED when it closes after the answer,
 * ANSWER_STREAMING when a body by reference waits for send space.
 */
static int answer_request(struct http_server *hs, struct tcp_core *tc, struct tcp_conn *c,
			  const struct http_request *req)
{
	struct http_reply rep = {
		.status = 200, .body = hs->body, .body_cap = sizeof(hs->body),
	};
	uint16_t status;
	int ext, ret;

	hs->stats.requests++;
	if (req->method == HTTP_METHOD_OTHER) {
		const char *body = error_code(501);

		hs->stats.bad_method++;
		rep.status = 501;
		rep.body_len = (uint32_t)strlen(body);
		memcpy(hs->body, body, rep.body_len);
	} else {
		hs->handler(hs->handler_ctx, c, req, &rep);
	}
	int keep = req->keep_alive && !rep.close;
	enum http_conn_hdr conn = !keep ? HTTP_CONN_CLOSE
				: req->version_minor == 0 ? HTTP_CONN_KEEP_ALIVE : HTTP_CONN_NONE;
	int n = format_reply(hs, req, &rep, conn, &status);

	/* The handler asked to hold this answer and what follows (a sold
	 * order's 200 until the order is durable): TCP keeps them queued. */
	if (rep.hold)
		tcp_hold(tc, c, rep.hold_ticket);
	/* Space for HTTP_ANSWER_MAX was checked before the handler ran. */
	if (tcp_send(tc, c, hs->out, (uint32_t)n) == 0)
		count_status(hs, status);
	/* Its body by reference, as much as fits now (none for HEAD). */
	ext = rep.ext_body != NULL && rep.body_len == 0 && status == rep.status &&
	      req->method != HTTP_METHOD_HEAD;
	ret = ext ? stream_body(tc, c, &rep, 0) : ANSWER_KEEP;
	if (ret == ANSWER_STREAMING) {
		hs->stats.streamed++;
		return ret;              /* closed, if asked, once all is queued */
	}
	if (!keep)
		tcp_close(tc, c);
	return keep ? ANSWER_KEEP : ANSWER_CLOSED;
}

uint32_t http_server_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			     const uint8_t *data, uint32_t len)
{
	struct http_server *hs = ctx;
	struct http_request *req = &hs->req;
	uint64_t *st = tcp_conn_app(c);
	/* While streaming, the low bits are the body's position, not a hint. */
	size_t last = (*st & HTTP_ST_STREAM) ? 0 : (size_t)(*st & HTTP_ST_LAST_LEN);
	uint32_t off = 0;
	int ret;

	if (!(*st & HTTP_ST_STREAM))
		*st &= ~HTTP_ST_LAST_LEN;
	*st &= ~HTTP_ST_STALLED;
	while (off < len) {
		int rc = http_parse_request(data + off, len - off, off ? 0 : last, &hs->lim, req);

		/* The first request's answer is half sent: its rest first. It
		 * parsed before, so it parses again, whole (TCP kept it). */
		if ((*st & HTTP_ST_STREAM) && off == 0 && rc <= 0) {
			hs->stats.stream_changed++;      /* cannot be: the same bytes */
			tcp_abort(tc, c);
			return 0;
		}
		if ((*st & HTTP_ST_STREAM) && off == 0) {
			ret = stream_resume(hs, tc, c, req);
			if (ret == ANSWER_ABORTED)
				return 0;
			if (ret == ANSWER_STREAMING)
				goto stalled;
			if (ret == ANSWER_CLOSED)
				return len;
			off += (uint32_t)rc;
			continue;
		}

		if (rc == HTTP_PARSE_INCOMPLETE) {
			/* The next delivery starts here: the hint stays valid. */
			if (req->head_len == 0)
				*st |= len - off;
			break;
		}
		if (rc < 0) {
			if (!answer_parse_error(hs, tc, c, rc))
				goto stalled;
			return len;              /* closing: the rest is never read */
		}
		if (tcp_send_space(tc, c) < HTTP_ANSWER_MAX)
			goto stalled;
		ret = answer_request(hs, tc, c, req);
		if (ret == ANSWER_CLOSED)
			return len;
		if (ret == ANSWER_STREAMING)
			goto stalled;    /* this request stays, to be offered again */
		off += (uint32_t)rc;
	}
	if (*st & HTTP_ST_PEER_FIN) {
		/* All we could answer is queued; what is left can never complete. */
		tcp_close(tc, c);
		return len;
	}
	return off;

stalled:
	hs->stats.stalled_tx_full++;
	*st |= HTTP_ST_STALLED;
	tcp_wait_space(tc, c);
	return off;
}

void http_server_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	uint64_t *st = tcp_conn_app(c);

	(void)ctx;
	/* Stalled: complete requests are still waiting for send space. */
	if (*st & HTTP_ST_STALLED) {
		*st |= HTTP_ST_PEER_FIN;
		return;
	}
	tcp_close(tc, c);
}

void http_server_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			   enum tcp_close_reason why)
{
	/* Nothing to free: the server holds no per-connection state, whatever
	 * ended it (TCP counts why: timeouts, evictions). */
	(void)ctx;
	(void)tc;
	(void)c;
	(void)why;
}
