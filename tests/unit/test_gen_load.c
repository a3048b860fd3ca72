/*
 * The load generator's engine (lib/gen/gen_load.c) against our own server
 * stack (net_core + server TCP + http_server + app + sale), frames carried
 * between the two in memory and the clock stepped by hand. What the engine
 * counts must be what the server did: requests answered, statuses, the stock
 * sold, connections opened. Also the histogram, response heads and pcap
 * files the generator reads.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "app_site.h"
#include "gen_hist.h"
#include "gen_load.h"
#include "gen_pcap.h"
#include "http_resp.h"
#include "http_server.h"
#include "net_core.h"
#include "sale.h"
#include "tcp.h"

#define SRV_IP  0x010012c6u   /* 198.18.0.1, network order on little-endian */
#define GEN_IP  0x020012c6u   /* 198.18.0.2 */
#define NOW_MS  1800000000000ull
#define QCAP    4096
#define STEP_NS 20000u        /* the clock per round: 20 us */

static const uint8_t srv_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t gen_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const struct token_key key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

/* Frames one side sent, for the other to read. */
struct q {
	uint8_t f[QCAP][NET_FRAME_MAX];
	uint32_t len[QCAP];
	int n;
};

static uint8_t *q_alloc(void *ctx, void **handle)
{
	struct q *q = ctx;

	if (q->n >= QCAP)
		return NULL;
	*handle = (void *)(intptr_t)q->n;
	return q->f[q->n];
}

static void q_send(void *ctx, void *handle, uint32_t len)
{
	struct q *q = ctx;

	q->len[(intptr_t)handle] = len;
	q->n++;
}

static void q_discard(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

static struct q to_srv, to_gen;

struct bench {
	struct net_core net;
	struct tcp_core *tcp;
	struct http_server *http;
	struct app app;
	struct sale *sale;
	struct gen_load *gen;
	uint64_t now_ns;
};

static uint32_t srv_ring = 1024;     /* order ring slots; a test may shrink it */

static void srv_new(struct bench *b, uint64_t stock)
{
	struct tcp_conf tconf;
	struct http_server_conf hconf;
	struct net_iface ifc = { .ip = SRV_IP, .mtu = NET_MTU };
	static struct net_tx tx = { q_alloc, q_send, q_discard, &to_gen };   /* net_core keeps it */
	struct tcp_app tapp = { http_server_on_data, http_server_on_peer_fin,
				http_server_on_closed, NULL, NULL };
	char err[SALE_ERR_CAP];

	memset(b, 0, sizeof(*b));
	memcpy(ifc.mac, srv_mac, 6);
	app_init(&b->app);
	app_set_time_ms(&b->app, NOW_MS);
	if (stock) {
		struct sale_conf sc;

		sale_conf_default(&sc);
		sc.key = key;
		sc.max_stock = 1024;
		sc.ring_size = srv_ring;
		sc.purchase_capacity = 4096;
		sc.buyer_capacity = 4096;
		sc.ip_capacity = 64;
		b->sale = sale_create(&sc, err, sizeof(err));
		cr_assert_not_null(b->sale, "%s", err);
		cr_assert_eq(sale_campaign_add(b->sale, 7, stock, NOW_MS - 1000), 0);
		app_set_sale(&b->app, sale_core(b->sale, 0));
	}
	http_server_conf_default(&hconf);
	b->http = http_server_create(&hconf, app_handle, &b->app);
	cr_assert_not_null(b->http);
	tapp.ctx = b->http;
	tcp_conf_default(&tconf);
	tconf.max_conns = 1024;
	tconf.max_time_wait = 512;
	b->tcp = tcp_core_create(&tconf, &ifc, &tx, &tapp);
	cr_assert_not_null(b->tcp);
	net_core_init(&b->net, &ifc, &tx, b->tcp, tcp_input);
	to_srv.n = to_gen.n = 0;
}

static uint32_t gen_rx_buf;          /* 0: TCP's default; a test may shrink it */

static void gen_new(struct bench *b, struct gen_conf *gc)
{
	struct tcp_conf tconf;
	struct net_iface ifc = { .ip = GEN_IP, .mtu = NET_MTU };
	struct net_tx tx = { q_alloc, q_send, q_discard, &to_srv };
	char err[256];

	memcpy(ifc.mac, gen_mac, 6);
	gc->server_ip = SRV_IP;
	gc->key = key;
	gc->token_expiry = NOW_MS / 1000 + 600;
	tcp_conf_default(&tconf);
	tconf.max_conns = 1024;
	if (gen_rx_buf) {
		tconf.mss = 536;
		tconf.rx_buf = gen_rx_buf;
	}
	b->gen = gen_load_create(gc, &tconf, &ifc, &tx, err, sizeof(err));
	cr_assert_not_null(b->gen, "%s", err);
}

/* One round: the clock, both sides' input, timers. Returns frames moved. */
static int round_trip(struct bench *b)
{
	int moved = to_srv.n + to_gen.n;

	b->now_ns += STEP_NS;
	gen_load_poll(b->gen, b->now_ns);
	tcp_set_now(b->tcp, b->now_ns / 1000);
	/* Each side reads what the other sent up to now; new frames wait a round. */
	static struct q in;
	in = to_srv;
	to_srv.n = 0;
	for (int i = 0; i < in.n; i++)
		net_input(&b->net, in.f[i], in.len[i]);
	in = to_gen;
	to_gen.n = 0;
	for (int i = 0; i < in.n; i++)
		gen_load_input(b->gen, in.f[i], in.len[i]);
	tcp_timers_run(b->tcp);
	return moved;
}

static void run_until_done(struct bench *b, int max_rounds)
{
	for (int r = 0; r < max_rounds; r++) {
		round_trip(b);
		if (gen_load_done(b->gen) && to_srv.n == 0 && to_gen.n == 0)
			return;
	}
	cr_assert_fail("the run never finished: %lu requests, %lu responses",
		       (unsigned long)gen_load_stats(b->gen)->requests,
		       (unsigned long)gen_load_stats(b->gen)->responses);
}

static void bench_free(struct bench *b)
{
	gen_load_destroy(b->gen);
	tcp_core_destroy(b->tcp);
	http_server_destroy(b->http);
	if (b->sale)
		sale_destroy(b->sale);
}

static uint64_t http_st(struct bench *b, int which)
{
	const struct http_server_stats *st = http_server_stats(b->http);

	return which == 2 ? st->responses_2xx : which == 4 ? st->responses_4xx : st->requests;
}

static struct bench B;

Test(gen_load, arp_first_then_closed_loop_keepalive_every_request_answered)
{
	struct gen_conf gc;
	const struct gen_stats *st;

	srv_new(&B, 0);
	gen_conf_default(&gc);
	gc.conns = 8;
	gc.requests = 1000;
	gen_new(&B, &gc);
	run_until_done(&B, 20000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->arp_requests, 1, "one who-has, answered");
	cr_assert_eq(st->requests, 1000);
	cr_assert_eq(st->responses, 1000);
	cr_assert_eq(st->s200, 1000);
	cr_assert_eq(st->conns_opened, 8, "keep-alive: one connection each");
	cr_assert_eq(http_st(&B, 0), 1000, "the server saw every request once");
	cr_assert_eq(gen_load_hist(B.gen)->n, 1000);
	cr_assert_eq(st->unanswered + st->conns_broken + st->bad_responses, 0);
	bench_free(&B);
}

Test(gen_load, one_request_per_connection_opens_one_connection_per_request)
{
	struct gen_conf gc;
	const struct gen_stats *st;
	struct tcp_gauges g;

	srv_new(&B, 0);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);   /* given: no ARP */
	gc.conns = 16;
	gc.requests = 500;
	gc.reqs_per_conn = 1;
	gen_new(&B, &gc);
	run_until_done(&B, 40000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->arp_requests, 0);
	cr_assert_eq(st->responses, 500);
	cr_assert_eq(st->s200, 500);
	cr_assert_eq(st->conns_opened, 500);
	cr_assert_eq(tcp_core_stats(B.tcp)->conns_opened, 500);
	tcp_core_gauges(gen_load_tcp(B.gen), &g);
	cr_assert_eq(g.conns, 0, "the server closed first: no TIME_WAIT on our side");
	bench_free(&B);
}

Test(gen_load, an_answer_larger_than_the_receive_buffer_is_read_as_it_comes)
{
	struct gen_conf gc;
	const struct gen_stats *st;

	srv_new(&B, 0);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 2;
	gc.requests = 50;
	gc.path = "/";          /* the index page: its head and body exceed 536 bytes */
	gen_rx_buf = 536;
	gen_new(&B, &gc);
	gen_rx_buf = 0;
	run_until_done(&B, 40000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->responses, 50);
	cr_assert_eq(st->s200, 50);
	cr_assert_eq(st->bad_responses + st->conns_broken, 0);
	cr_assert_gt(tcp_core_stats(B.tcp)->tx_bytes, 50u * 536, "the answers were larger");
	bench_free(&B);
}

/* A site whose /app.js is compressible: it has a gzip copy. */
static struct app_site *js_site(void)
{
	static char js[3000];
	static const char html[] = "<!DOCTYPE html><title>t</title>\n";
	struct app_site_src src[2] = {
		{ "index.html", (const uint8_t *)html, sizeof(html) - 1 },
		{ "app.js", (const uint8_t *)js, sizeof(js) },
	};
	char err[256];
	struct app_site *s;

	for (size_t i = 0; i < sizeof(js); i++)
		js[i] = "var x = 1; /* compressible */\n"[i % 30];
	s = app_site_build(src, 2, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	return s;
}

Test(gen_load, extra_headers_go_with_every_request_and_answers_are_counted_in_bytes)
{
	struct app_site *site = js_site();
	struct gen_conf gc;
	const struct gen_stats *st;

	srv_new(&B, 0);
	app_set_site(&B.app, site);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 2;
	gc.requests = 20;
	gc.path = "/app.js";
	gc.headers[gc.n_headers++] = "Accept-Encoding: gzip";
	gen_new(&B, &gc);
	run_until_done(&B, 20000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->s200, 20);
	cr_assert_eq(B.app.stats.page_gzip, 20, "every request asked for the gzip copy");
	cr_assert_eq(st->resp_bytes % 20, 0, "twenty answers of the same size");
	cr_assert_gt(st->resp_bytes / 20, 100, "a head and a body");
	cr_assert_lt(st->resp_bytes / 20, 1000, "the gzip copy, not the 3,000 bytes");
	bench_free(&B);

	srv_new(&B, 0);
	app_set_site(&B.app, site);
	gc.headers[gc.n_headers++] = "If-None-Match: *";
	gen_new(&B, &gc);
	run_until_done(&B, 20000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->s304, 20, "If-None-Match: * matches: 304, no body");
	cr_assert_eq(B.app.stats.page_not_modified, 20);
	cr_assert_eq(st->s1xx_3xx + st->bad_responses + st->conns_broken, 0);
	bench_free(&B);
	app_site_free(site);
}

Test(gen_load, buys_count_what_the_sale_did_and_stock_is_exactly_sold)
{
	struct gen_conf gc;
	const struct gen_stats *st;
	const struct sale_core *sc;

	srv_new(&B, 50);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 10;
	gc.campaign = 7;
	gc.buyer_first = 100;
	gc.buyers = 40;         /* 40 buyers for 50 units, each asking three times */
	gc.requests = 120;
	gen_new(&B, &gc);
	run_until_done(&B, 40000);
	st = gen_load_stats(B.gen);
	sc = sale_core(B.sale, 0);
	cr_assert_eq(st->responses, 120);
	cr_assert_eq(st->s200, 40, "one unit per buyer");
	cr_assert_eq(st->s409, 80, "the repeats are refused as already bought");
	cr_assert_eq(st->s200, sc->results[SALE_OK]);
	cr_assert_eq(st->s409, sc->results[SALE_ALREADY]);
	cr_assert_eq(st->s410, 0);
	gen_load_destroy(B.gen);

	/* 20 new buyers for the 10 units left: 10 sold, 10 sold out. */
	gc.buyer_first = 1000;
	gc.buyers = 20;
	gc.requests = 20;
	gen_new(&B, &gc);
	run_until_done(&B, 40000);
	st = gen_load_stats(B.gen);
	cr_assert_eq(st->s200, 10, "exactly the stock left, not one more");
	cr_assert_eq(st->s410, 10);
	cr_assert_eq(sc->results[SALE_OK], 50, "the whole stock, over both runs");
	cr_assert_eq(sc->results[SALE_SOLD_OUT], st->s410);
	cr_assert_eq(st->s200 + st->s410, 20, "nothing else was answered");
	bench_free(&B);
}

Test(gen_load, buyers_answered_503_are_asked_again_until_the_stock_is_sold)
{
	struct gen_conf gc;
	const struct gen_stats *st;
	struct ord_record recs[64];

	srv_ring = 16;          /* the order queue fills: 503 order_queue_full */
	srv_new(&B, 40);
	srv_ring = 1024;
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 4;
	gc.campaign = 7;
	gc.buyer_first = 100;
	gc.buyers = 40;
	gc.requests = 400;
	gc.retry_503 = true;
	gen_new(&B, &gc);
	/* The control plane drains the ring now and then, as a slow one would. */
	for (int r = 0; r < 40000 && !gen_load_done(B.gen); r++) {
		round_trip(&B);
		if (r % 16 == 0)
			ord_ring_dequeue_burst(sale_ring(B.sale, 0), recs, 64);
	}
	cr_assert(gen_load_done(B.gen));
	st = gen_load_stats(B.gen);
	cr_assert_gt(st->s503, 0, "the queue did fill");
	cr_assert_eq(st->s200, 40, "every buyer bought in the end: the whole stock");
	cr_assert_eq(sale_core(B.sale, 0)->results[SALE_OK], 40);
	cr_assert_geq(st->retries, 1);
	cr_assert_leq(st->retries, st->s503, "only 503s are retried");
	cr_assert_eq(st->retry_overflow, 0);
	cr_assert_eq(st->requests, 400 + st->retries, "a retry is not one of the 400 requests");
	cr_assert_eq(st->responses, st->requests);
	cr_assert_eq(st->s200 + st->s409 + st->s410 + st->s503, st->responses);
	bench_free(&B);
}

Test(gen_load, open_loop_counts_latency_from_when_a_request_was_due)
{
	struct gen_conf gc;
	const struct gen_stats *st;
	const struct gen_hist *h;

	srv_new(&B, 0);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 4;
	gc.rate = 100000;       /* one due every 10 us; a round is 20 us */
	gc.requests = 2000;
	gen_new(&B, &gc);
	run_until_done(&B, 40000);
	st = gen_load_stats(B.gen);
	h = gen_load_hist(B.gen);
	cr_assert_eq(st->responses, 2000);
	cr_assert_eq(st->backlog_full, 0);
	cr_assert_leq(st->conns_opened, 4);
	/* Answers come back in the round their request went out, so a latency
	 * measured from the send is 0 for every request. Two are due per round
	 * (10 us into it and at its end): measured from when each was due, half
	 * wait 10 us, and the first ones also wait for the connects, so the
	 * mean is at least 5 us. */
	cr_assert_geq(h->sum / h->n, STEP_NS / 4, "mean %lu", (unsigned long)(h->sum / h->n));
	cr_assert_geq(h->max, STEP_NS / 2);
	cr_assert_leq(gen_hist_quantile(h, 0.99), STEP_NS / 2 * 33 / 32,
		       "once connected, nobody waits more (1/32 is the histogram's precision)");
	cr_assert_geq(h->max, h->min);
	bench_free(&B);
}

Test(gen_load, stop_cuts_the_run_and_counts_what_was_unanswered)
{
	struct gen_conf gc;
	const struct gen_stats *st;

	srv_new(&B, 0);
	gen_conf_default(&gc);
	memcpy(gc.server_mac, srv_mac, 6);
	gc.conns = 4;
	gen_new(&B, &gc);
	for (int r = 0; r < 50; r++)
		round_trip(&B);
	gen_load_abort(B.gen);
	st = gen_load_stats(B.gen);
	cr_assert_gt(st->responses, 0);
	cr_assert_eq(st->requests, st->responses + st->unanswered,
		     "every request sent is answered or counted unanswered");
	for (int r = 0; r < 10; r++)
		round_trip(&B);
	cr_assert(gen_load_done(B.gen));
	bench_free(&B);
}

Test(gen_hist, quantiles_within_a_thirty_second_of_the_samples)
{
	static struct gen_hist h;

	gen_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		gen_hist_add(&h, v * 1000);        /* 1 us .. 100 ms, uniform */
	cr_assert_eq(h.n, 100000);
	cr_assert_eq(h.min, 1000);
	cr_assert_eq(h.max, 100000000);
	for (double q = 0.1; q < 1.0; q += 0.1) {
		double want = q * 100000 * 1000, got = (double)gen_hist_quantile(&h, q);

		cr_assert(got >= want && got <= want * (1 + 1.0 / 32) + 1,
			  "q %.1f: %.0f, want %.0f", q, got, want);
	}
	cr_assert_eq(gen_hist_quantile(&h, 1.0), 100000000);
	cr_assert_eq(gen_hist_quantile(&h, 0), 1000);
	for (uint64_t v = 0; v < 64; v++)
		cr_assert_eq(gen_hist_quantile(&(struct gen_hist){ .n = 0 }, 0.5), 0);
	cr_assert_eq(gen_hist_index(31), 31);
	cr_assert_eq(gen_hist_index(UINT64_MAX), GEN_HIST_BUCKETS - 1);
}

Test(gen_hist, merge_adds_counts_and_keeps_extremes)
{
	static struct gen_hist a, b;

	gen_hist_init(&a);
	gen_hist_init(&b);
	gen_hist_add(&a, 5);
	gen_hist_add(&b, 7000);
	gen_hist_add(&b, 9);
	gen_hist_merge(&a, &b);
	cr_assert_eq(a.n, 3);
	cr_assert_eq(a.min, 5);
	cr_assert_eq(a.max, 7000);
	cr_assert_eq(gen_hist_quantile(&a, 0.5), 9);
}

/* ---- response heads (lib/gen/http_resp.c) ---------------------------------- */

static int head(const char *s, struct http_resp *r)
{
	return http_resp_head((const uint8_t *)s, (uint32_t)strlen(s), r);
}

Test(http_resp, our_answer_is_framed_by_its_content_length)
{
	const char *s = "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\n"
			"Content-Length: 21\r\n\r\n{\"error\":\"sold_out\"}\n";
	struct http_resp r;
	int n = head(s, &r);

	cr_assert_eq(n, (int)(strlen(s) - 21));
	cr_assert_eq(r.status, 410);
	cr_assert_eq(r.content_length, 21);
	cr_assert(!r.close);
}

Test(http_resp, every_prefix_is_incomplete)
{
	const char *s = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n";
	struct http_resp r;

	for (size_t i = 0; i < strlen(s); i++)
		cr_assert_eq(http_resp_head((const uint8_t *)s, (uint32_t)i, &r),
			     HTTP_RESP_INCOMPLETE, "prefix of %zu bytes", i);
	cr_assert_eq(head(s, &r), (int)strlen(s));
	cr_assert(r.close);
}

Test(http_resp, connection_and_version_decide_keep_alive)
{
	struct http_resp r;

	cr_assert_gt(head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &r), 0);
	cr_assert(r.close, "HTTP/1.0 closes by default");
	cr_assert_gt(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
			  &r), 0);
	cr_assert(!r.close);
	cr_assert_gt(head("HTTP/1.1 204 No Content\r\n\r\n", &r), 0, "no body, no length needed");
}

Test(http_resp, framing_it_cannot_trust_is_refused)
{
	struct http_resp r;

	cr_assert_eq(head("HTTP/1.1 200 OK\r\n\r\n", &r), HTTP_RESP_BAD, "no length");
	cr_assert_eq(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &r),
		     HTTP_RESP_BAD);
	cr_assert_eq(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r),
		     HTTP_RESP_BAD, "two lengths");
	cr_assert_eq(head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &r), HTTP_RESP_BAD);
	cr_assert_eq(head("HTTP/2 200 OK\r\n\r\n", &r), HTTP_RESP_BAD);
	cr_assert_eq(head("HTTP/1.1 2x0 OK\r\n\r\n", &r), HTTP_RESP_BAD);
	cr_assert_eq(head("HTTP/1.1 200 OK\rX\n", &r), HTTP_RESP_BAD, "CR without LF");
	cr_assert_eq(head("HTTP/1.1 200 OK\r\n folded\r\n\r\n", &r), HTTP_RESP_BAD);
}

Test(http_resp, a_304_has_no_body_whatever_its_length_says)
{
	struct http_resp r;

	cr_assert_gt(head("HTTP/1.1 304 Not Modified\r\nContent-Length: 548\r\n\r\n", &r), 0);
	cr_assert_eq(r.content_length, 0, "RFC 9112 6.3: a 304 ends at its empty line");
}

/* ---- pcap files (lib/gen/gen_pcap.c) -------------------------------------------- */

static void pcap_write(const char *path, uint32_t magic, const uint32_t *lens, int n,
		       uint32_t caplen_cut)
{
	FILE *f = fopen(path, "wb");
	uint32_t hdr[6] = { magic, 0x00040002u, 0, 0, 65535, 1 };
	uint8_t frame[NET_FRAME_MAX];

	cr_assert_not_null(f);
	fwrite(hdr, 4, 6, f);
	for (int i = 0; i < n; i++) {
		uint32_t rec[4] = { 0, (uint32_t)i, lens[i] - caplen_cut, lens[i] };

		memset(frame, 0x40 + i, sizeof(frame));
		fwrite(rec, 4, 4, f);
		fwrite(frame, 1, lens[i] - caplen_cut, f);
	}
	fclose(f);
}

Test(gen_pcap, frames_come_back_whole_and_in_order)
{
	const uint32_t lens[3] = { 60, 1514, 74 };
	char path[] = "/tmp/test_gen_pcap.XXXXXX", err[256];
	struct gen_pcap p;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	pcap_write(path, 0xa1b2c3d4u, lens, 3, 0);
	cr_assert_eq(gen_pcap_load(path, 100, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		cr_assert_eq(p.len[i], lens[i]);
		cr_assert_eq(p.data[p.off[i]], 0x40 + i);
		cr_assert_eq(p.data[p.off[i] + lens[i] - 1], 0x40 + i);
	}
	gen_pcap_free(&p);
	cr_assert_eq(gen_pcap_load(path, 2, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.n, 2, "max_frames is a cap");
	gen_pcap_free(&p);

	pcap_write(path, 0xa1b2c3d4u, lens, 3, 4);      /* snaplen cut every frame */
	cr_assert_eq(gen_pcap_load(path, 100, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "only whole frames") != NULL, "%s", err);
	pcap_write(path, 0x0a0d0d0au, lens, 3, 0);      /* pcapng's magic */
	cr_assert_eq(gen_pcap_load(path, 100, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "pcapng") != NULL, "%s", err);
	unlink(path);
}
