/*
 * Tests for lib/http/http_server.c, driven through a real tcp_core and the
 * real app: a scripted client opens a connection with real segments, sends
 * request bytes, and the test reassembles the server's byte stream from the
 * frames the capturing net_tx got, then asserts it byte for byte.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_server.h"
#include "net_csum.h"
#include "tcp.h"

#define SRV_PORT 80
#define CLI_PORT 40000
#define CLI_ISN  1000u
#define MAX_FRAMES 256
#define STREAM_MAX 65536
#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define T_DATE 784111777

static const uint8_t srv_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t cli_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Frames the stack sent, kept whole until the client reads them. */
struct cap {
	uint8_t frame[MAX_FRAMES][NET_FRAME_MAX];
	uint32_t len[MAX_FRAMES];
	int n, read;
};

/* The client's side of the one connection. */
struct client {
	uint32_t snd_nxt;            /* next sequence number we send */
	uint32_t rcv_nxt;            /* next server byte we expect */
	uint8_t stream[STREAM_MAX];  /* server bytes, in order */
	uint32_t stream_len;
	int got_fin, got_rst;
};

static struct cap cap;
static struct client cli;
static struct tcp_core *tc;
static struct http_server *hs;
static struct app app;
static struct net_iface ifc;
static int handler_calls;

static uint8_t *cap_alloc(void *ctx, void **handle)
{
	struct cap *c = ctx;

	if (c->n >= MAX_FRAMES)
		return NULL;
	*handle = (void *)(intptr_t)c->n;
	return c->frame[c->n++];
}

static void cap_send(void *ctx, void *handle, uint32_t len)
{
	((struct cap *)ctx)->len[(intptr_t)handle] = len;
}

static void cap_discard(void *ctx, void *handle)
{
	((struct cap *)ctx)->len[(intptr_t)handle] = 0;
}

static struct net_tx tx = { cap_alloc, cap_send, cap_discard, &cap };

/* Sends one segment from the client; data may be NULL. */
static void cli_send(uint8_t flags, const void *data, uint32_t len)
{
	static uint8_t frame[NET_FRAME_MAX];
	struct eth_hdr *eh = (struct eth_hdr *)frame;
	struct ipv4_hdr *ih = (struct ipv4_hdr *)(frame + NET_ETH_HLEN);
	struct tcp_hdr *th = (struct tcp_hdr *)(frame + NET_ETH_HLEN + NET_IPV4_HLEN);
	uint32_t seglen = NET_TCP_HLEN + len;

	cr_assert_leq(len, 1400);
	memset(frame, 0, sizeof(frame));
	memcpy(eh->dst, srv_mac, 6);
	memcpy(eh->src, cli_mac, 6);
	eh->type = htons(NET_ETHERTYPE_IPV4);
	ih->ver_ihl = 0x45;
	ih->total_len = htons((uint16_t)(NET_IPV4_HLEN + seglen));
	ih->ttl = 64;
	ih->proto = NET_IPPROTO_TCP;
	ih->src = htonl(0xc6120002);     /* 198.18.0.2 */
	ih->dst = ifc.ip;
	ih->csum = net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN));
	th->sport = htons(CLI_PORT);
	th->dport = htons(SRV_PORT);
	th->seq = htonl(cli.snd_nxt);
	th->ack = htonl(cli.rcv_nxt);
	th->off = 5 << 4;
	th->flags = flags;
	th->win = htons(65535);
	if (len)
		memcpy((uint8_t *)th + NET_TCP_HLEN, data, len);
	th->csum = net_csum_fold(net_csum_add(net_csum_pseudo(ih->src, ih->dst, NET_IPPROTO_TCP,
							      (uint16_t)seglen), th, seglen));
	tcp_input(tc, eh, ih, (const uint8_t *)th, seglen);
	cli.snd_nxt += len + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
}

/* Reads the frames sent since last time into the client; returns the SYN-ACK flag seen. */
static int cli_read(void)
{
	int synack = 0;

	for (; cap.read < cap.n; cap.read++) {
		const uint8_t *f = cap.frame[cap.read];
		const struct ipv4_hdr *ih = (const struct ipv4_hdr *)(f + NET_ETH_HLEN);
		const struct tcp_hdr *th;
		uint32_t ihl, off, plen, seq;

		if (!cap.len[cap.read])
			continue;
		ihl = (ih->ver_ihl & 0xf) * 4u;
		th = (const struct tcp_hdr *)((const uint8_t *)ih + ihl);
		off = (th->off >> 4) * 4u;
		plen = ntohs(ih->total_len) - ihl - off;
		seq = ntohl(th->seq);
		if (th->flags & TCP_RST)
			cli.got_rst = 1;
		if (th->flags & TCP_SYN) {
			cli.rcv_nxt = seq + 1;
			synack = 1;
			continue;
		}
		if (plen && seq == cli.rcv_nxt) {
			cr_assert_leq(cli.stream_len + plen, STREAM_MAX);
			memcpy(cli.stream + cli.stream_len, (const uint8_t *)th + off, plen);
			cli.stream_len += plen;
			cli.rcv_nxt += plen;
		}
		if ((th->flags & TCP_FIN) && seq + plen == cli.rcv_nxt) {
			cli.got_fin = 1;
			cli.rcv_nxt++;
		}
	}
	return synack;
}

static void setup_with(uint32_t tx_buf, http_handler_fn handler, void *ctx)
{
	struct tcp_conf tconf;
	struct http_server_conf hconf;
	struct tcp_app tapp = { http_server_on_data, http_server_on_peer_fin,
				http_server_on_closed, NULL };

	memset(&cap, 0, sizeof(cap));
	memset(&cli, 0, sizeof(cli));
	handler_calls = 0;
	memcpy(ifc.mac, srv_mac, 6);
	ifc.ip = htonl(0xc6120001);      /* 198.18.0.1 */
	ifc.mtu = 1500;
	tcp_conf_default(&tconf);
	tconf.max_conns = 8;
	tconf.cookies = TCP_COOKIES_NEVER;
	tconf.listen_port = SRV_PORT;
	tconf.tx_buf = tx_buf;
	http_server_conf_default(&hconf);
	app_init(&app);
	hs = http_server_create(&hconf, handler, ctx);
	cr_assert_not_null(hs);
	http_server_set_time(hs, T_DATE);
	tapp.ctx = hs;
	tc = tcp_core_create(&tconf, &ifc, &tx, &tapp);
	cr_assert_not_null(tc, "tcp_core_create: %s", tcp_conf_check(&tconf));
	tcp_set_now(tc, 1000000);
	cli.snd_nxt = CLI_ISN;
	cli_send(TCP_SYN, NULL, 0);
	cr_assert(cli_read(), "no SYN-ACK");
	cli_send(TCP_ACK, NULL, 0);
	cli_read();
}

static void setup(void)
{
	setup_with(8192, app_handle, &app);
}

static void teardown(void)
{
	tcp_core_destroy(tc);
	http_server_destroy(hs);
}

/* Sends a string as one segment, then ACKs whatever came back. */
static void send_str(const char *s)
{
	cli_send(TCP_ACK | TCP_PSH, s, (uint32_t)strlen(s));
	cli_read();
	cli_send(TCP_ACK, NULL, 0);
	cli_read();
}

static void assert_stream(const char *exp)
{
	size_t n = strlen(exp);

	cr_assert(cli.stream_len == n && memcmp(cli.stream, exp, n) == 0,
		  "server sent (%u bytes):\n%.*s\nexpected (%zu bytes):\n%s",
		  cli.stream_len, (int)cli.stream_len, cli.stream, n, exp);
}

#define HEALTHZ_200 "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n" \
		    "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}"
#define REQ_HEALTHZ "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

static const struct http_server_stats *st(void)
{
	return http_server_stats(hs);
}

TestSuite(http_server, .init = setup, .fini = teardown);

Test(http_server, get_healthz_keep_alive)
{
	send_str(REQ_HEALTHZ);
	assert_stream(HEALTHZ_200);
	cr_assert_not(cli.got_fin, "1.1 keeps the connection open");
	cr_assert_eq(st()->requests, 1);
	cr_assert_eq(st()->responses_2xx, 1);
	cr_assert_eq(app_stats(&app)->healthz, 1);
}

Test(http_server, pipelined_requests_answered_in_order)
{
	send_str(REQ_HEALTHZ "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\n"
		 "Host: x\r\n\r\n");
	assert_stream(HEALTHZ_200
		      "HTTP/1.1 404 Not Found\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		      "Content-Length: 21\r\n\r\n{\"error\":\"not_found\"}"
		      "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		      "Content-Length: 15\r\n\r\n");
	cr_assert_eq(st()->requests, 3);
	cr_assert_eq(st()->responses_2xx, 2);
	cr_assert_eq(st()->responses_4xx, 1);
	cr_assert_not(cli.got_fin);
}

Test(http_server, request_split_across_segments_byte_by_byte)
{
	const char *req = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";

	for (size_t i = 0; req[i]; i++) {
		cli_send(TCP_ACK | TCP_PSH, req + i, 1);
		cli_read();
		if (req[i + 1])
			cr_assert_eq(cli.stream_len, 0, "answered after %zu bytes", i + 1);
	}
	cli_send(TCP_ACK, NULL, 0);
	assert_stream("HTTP/1.1 405 Method Not Allowed\r\nDate: " DATE "\r\n"
		      "Content-Type: application/json\r\nContent-Length: 30\r\nAllow: GET, HEAD\r\n"
		      "\r\n{\"error\":\"method_not_allowed\"}");
	cr_assert_eq(st()->requests, 1);
}

Test(http_server, http10_closes_after_answer)
{
	send_str("GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n");
	assert_stream("HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		      "Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}");
	cr_assert(cli.got_fin, "FIN after the answer");
	cr_assert_eq(st()->requests, 1, "the pipelined second request is never read");
}

Test(http_server, http10_keep_alive_and_connection_close)
{
	send_str("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_stream("HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		      "Content-Length: 15\r\nConnection: keep-alive\r\n\r\n{\"status\":\"ok\"}");
	cr_assert_not(cli.got_fin);
	cli.stream_len = 0;
	send_str("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_stream("HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		      "Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}");
	cr_assert(cli.got_fin);
}

struct err_case {
	const char *raw, *status_line, *body;
};

static void check_error(const struct err_case *e)
{
	char exp[512];

	send_str(e->raw);
	snprintf(exp, sizeof(exp), "%s\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", e->status_line,
		 strlen(e->body), e->body);
	assert_stream(exp);
	cr_assert(cli.got_fin, "closed after %s", e->status_line);
}

Test(http_server, bad_request_400_then_close_and_ignore_the_rest)
{
	static const struct err_case e = { "GET / HTTP/1.1\r\nHost : x\r\n\r\n" REQ_HEALTHZ,
					   "HTTP/1.1 400 Bad Request", "{\"error\":\"bad_request\"}" };

	check_error(&e);
	cr_assert_eq(st()->bad_request, 1);
	cr_assert_eq(st()->responses_4xx, 1);
	cr_assert_eq(st()->requests, 0);
	cr_assert_eq(app_stats(&app)->healthz, 0, "nothing after the bad request is run");
}

Test(http_server, smuggling_shape_cl_te_is_400)
{
	static const struct err_case e = {
		"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
		"\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request", "{\"error\":\"bad_request\"}" };

	check_error(&e);
	cr_assert_eq(st()->bad_request, 1);
}

Test(http_server, transfer_encoding_alone_is_501_then_close)
{
	/* We cannot find where a chunked body ends: answer 501 and close, so
	 * the body is never read as a next request. */
	static const struct err_case e = {
		"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nGET /\r\n0\r\n\r\n" REQ_HEALTHZ,
		"HTTP/1.1 501 Not Implemented", "{\"error\":\"not_implemented\"}" };

	check_error(&e);
	cr_assert_eq(st()->responses_5xx, 1);
	cr_assert_eq(st()->requests, 0);
	cr_assert_eq(app_stats(&app)->healthz, 0, "nothing after the 501 is run");
}

Test(http_server, target_too_long_414)
{
	static char raw[1200];
	static const struct err_case e = { raw, "HTTP/1.1 414 URI Too Long",
					   "{\"error\":\"uri_too_long\"}" };

	memset(raw, 'a', sizeof(raw) - 1);
	memcpy(raw, "GET /", 5);         /* 1194-byte target, no end: refused early */
	check_error(&e);
	cr_assert_eq(st()->too_large_target, 1);
}

Test(http_server, too_many_headers_431)
{
	static char raw[1024];
	static const struct err_case e = { raw, "HTTP/1.1 431 Request Header Fields Too Large",
					   "{\"error\":\"header_fields_too_large\"}" };
	size_t n = (size_t)sprintf(raw, "GET / HTTP/1.1\r\nHost: x\r\n");

	for (int i = 0; i < 32; i++)
		n += (size_t)sprintf(raw + n, "X-%d: y\r\n", i);
	strcpy(raw + n, "\r\n");
	check_error(&e);
	cr_assert_eq(st()->too_large_header, 1);
}

Test(http_server, body_too_large_413)
{
	static const struct err_case e = {
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n",
		"HTTP/1.1 413 Content Too Large", "{\"error\":\"content_too_large\"}" };

	check_error(&e);
	cr_assert_eq(st()->too_large_body, 1);
}

Test(http_server, version_505)
{
	static const struct err_case e = { "GET / HTTP/2.0\r\n\r\n",
					   "HTTP/1.1 505 HTTP Version Not Supported",
					   "{\"error\":\"version_not_supported\"}" };

	check_error(&e);
	cr_assert_eq(st()->bad_version, 1);
	cr_assert_eq(st()->responses_5xx, 1);
}

Test(http_server, unknown_method_501_keeps_the_connection)
{
	send_str("PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" REQ_HEALTHZ);
	assert_stream("HTTP/1.1 501 Not Implemented\r\nDate: " DATE "\r\n"
		      "Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"
		      "{\"error\":\"not_implemented\"}" HEALTHZ_200);
	cr_assert_not(cli.got_fin);
	cr_assert_eq(st()->bad_method, 1);
	cr_assert_eq(st()->requests, 2);
}

Test(http_server, date_follows_the_clock)
{
	http_server_set_time(hs, 0);
	send_str(REQ_HEALTHZ);
	cr_assert_not_null(memmem(cli.stream, cli.stream_len,
				  "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n", 37));
}

/* The cached head follows the second: exact bytes before and after it changes. */
Test(http_server, cached_head_follows_a_date_change)
{
	send_str(REQ_HEALTHZ);
	http_server_set_time(hs, T_DATE + 1);
	send_str(REQ_HEALTHZ);
	http_server_set_time(hs, T_DATE + 1);
	send_str(REQ_HEALTHZ);
	assert_stream(HEALTHZ_200
		      "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\n"
		      "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
		      "{\"status\":\"ok\"}"
		      "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\n"
		      "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
		      "{\"status\":\"ok\"}");
}

Test(http_server, peer_fin_after_request_answers_then_closes)
{
	cli_send(TCP_ACK | TCP_PSH, REQ_HEALTHZ, (uint32_t)strlen(REQ_HEALTHZ));
	cli_send(TCP_ACK | TCP_FIN, NULL, 0);
	cli_read();
	assert_stream(HEALTHZ_200);
	cr_assert(cli.got_fin);
}

/* A handler that counts its calls and answers the request path as the body. */
static void echo_path(void *ctx, struct tcp_conn *c, const struct http_request *req,
		      struct http_reply *rep)
{
	(void)ctx;
	(void)c;
	handler_calls++;
	memcpy(rep->body, req->path.p, req->path.len);
	rep->body_len = req->path.len;
}

Test(http_server, full_send_buffer_stalls_and_resumes_without_rerunning)
{
	/* 4 KiB of send buffer holds one answer plus room for the next only
	 * while under 4096 - 2560 bytes are unacknowledged. */
	char req[64], all[4096];
	size_t n = 0;

	teardown();
	setup_with(4096, echo_path, NULL);
	for (int i = 0; i < 20; i++)
		n += (size_t)sprintf(all + n, "GET /r%02d HTTP/1.1\r\nHost: x\r\n\r\n", i);
	cli_send(TCP_ACK | TCP_PSH, all, (uint32_t)n);
	cli_read();                      /* no ACK yet: answers pile up */
	cr_assert_gt(st()->stalled_tx_full, 0);
	cr_assert_lt(handler_calls, 20);
	for (int round = 0; round < 20 && handler_calls < 20; round++) {
		cli_send(TCP_ACK, NULL, 0);
		cli_read();
	}
	cr_assert_eq(handler_calls, 20, "each request run exactly once");
	n = 0;
	for (int i = 0; i < 20; i++) {
		sprintf(req, "/r%02d", i);
		n += (size_t)sprintf(all + n, "HTTP/1.1 200 OK\r\nDate: " DATE "\r\n"
				     "Content-Type: application/json\r\nContent-Length: 4\r\n\r\n%s", req);
	}
	assert_stream(all);
	cr_assert_eq(st()->requests, 20);
}

static void overflow_handler(void *ctx, struct tcp_conn *c, const struct http_request *req,
			     struct http_reply *rep)
{
	(void)ctx;
	(void)c;
	(void)req;
	rep->body_len = rep->body_cap + 1;
}

Test(http_server, handler_overflow_is_500)
{
	teardown();
	setup_with(8192, overflow_handler, NULL);
	send_str(REQ_HEALTHZ);
	assert_stream("HTTP/1.1 500 Internal Server Error\r\nDate: " DATE "\r\n"
		      "Content-Type: application/json\r\nContent-Length: 26\r\n\r\n"
		      "{\"error\":\"internal_error\"}");
	cr_assert_eq(st()->handler_overflow, 1);
	cr_assert_eq(st()->responses_5xx, 1);
}

Test(http_server, peer_fin_while_stalled_answers_everything_then_closes)
{
	char all[4096];
	size_t n = 0;

	teardown();
	setup_with(4096, echo_path, NULL);
	for (int i = 0; i < 20; i++)
		n += (size_t)sprintf(all + n, "GET /r%02d HTTP/1.1\r\nHost: x\r\n\r\n", i);
	cli_send(TCP_ACK | TCP_PSH, all, (uint32_t)n);
	cli_send(TCP_ACK | TCP_FIN, NULL, 0);   /* half-close while answers are stuck */
	cli_read();
	cr_assert_lt(handler_calls, 20);
	cr_assert_not(cli.got_fin, "no FIN while requests wait for send space");
	for (int round = 0; round < 20 && !cli.got_fin; round++) {
		cli_send(TCP_ACK, NULL, 0);
		cli_read();
	}
	cr_assert_eq(handler_calls, 20);
	cr_assert(cli.got_fin, "FIN once all answers are queued");
	cr_assert_eq(st()->responses_2xx, 20);
}

/* ---- answers by reference, larger than the send buffer (http_reply.ext_body) ---- */

#define BIG_LEN 20000
static uint8_t big[BIG_LEN];
static uint32_t big_tag = 7;
static int resumes;

/* GET /big: BIG_LEN bytes by reference; anything else goes to the app. */
static void big_handler(void *ctx, struct tcp_conn *c, const struct http_request *req,
			struct http_reply *rep)
{
	(void)ctx;
	handler_calls++;
	if (!http_span_eq(req->path, "/big")) {
		app_handle(&app, c, req, rep);
		return;
	}
	resumes += rep->resume;
	rep->content_type = "text/plain";
	rep->ext_body = big;
	rep->ext_len = BIG_LEN;
	rep->ext_tag = big_tag;
}

/* ACKs what came until the stream stops growing. */
static void ack_until_quiet(void)
{
	uint32_t before;

	do {
		before = cli.stream_len;
		cli_send(TCP_ACK, NULL, 0);
		cli_read();
	} while (cli.stream_len != before);
}

static void big_setup(void)
{
	for (uint32_t i = 0; i < BIG_LEN; i++)
		big[i] = (uint8_t)('a' + i % 26);
	big_tag = 7;
	resumes = 0;
	setup_with(4096, big_handler, NULL);
}

Test(http_server_stream, body_larger_than_the_send_buffer_sent_in_pieces, .fini = teardown)
{
	static char exp[BIG_LEN + 512];
	int n;

	big_setup();
	/* The big answer, then a pipelined healthz that must wait for it. */
	send_str("GET /big HTTP/1.1\r\nHost: x\r\n\r\n" REQ_HEALTHZ);
	ack_until_quiet();
	n = snprintf(exp, sizeof(exp), "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: "
		     "text/plain\r\nContent-Length: %d\r\n\r\n", BIG_LEN);
	memcpy(exp + n, big, BIG_LEN);
	memcpy(exp + n + BIG_LEN, HEALTHZ_200, sizeof(HEALTHZ_200));
	assert_stream(exp);
	cr_assert_gt(resumes, 2, "asked again as space came free (%d)", resumes);
	cr_assert_eq(st()->requests, 2, "a resumed answer is one request");
	cr_assert_eq(st()->streamed, 1);
	cr_assert_eq(st()->responses_2xx, 2);
	cr_assert_not(cli.got_fin);
	cr_assert_not(cli.got_rst);
}

Test(http_server_stream, head_sends_no_body, .fini = teardown)
{
	big_setup();
	send_str("HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_stream("HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: text/plain\r\n"
		      "Content-Length: 20000\r\n\r\n");
	cr_assert_eq(st()->streamed, 0);
}

Test(http_server_stream, close_after_the_last_piece, .fini = teardown)
{
	big_setup();
	send_str("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	ack_until_quiet();
	cr_assert_gt(cli.stream_len, BIG_LEN);
	cr_assert(memcmp(cli.stream + cli.stream_len - BIG_LEN, big, BIG_LEN) == 0);
	cr_assert(cli.got_fin, "FIN after the whole body");
}

Test(http_server_stream, bytes_changed_half_way_reset, .fini = teardown)
{
	big_setup();
	send_str("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_lt(cli.stream_len, BIG_LEN, "not all at once");
	big_tag = 8;                     /* a new image published meanwhile */
	ack_until_quiet();
	cr_assert(cli.got_rst, "reset rather than splice two bodies");
	cr_assert_lt(cli.stream_len, BIG_LEN);
	cr_assert_eq(st()->stream_changed, 1);
}
