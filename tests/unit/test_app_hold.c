/*
 * Durable answers (lib/app/app_hold.c with lib/app/app_sale.c's route_buy,
 * lib/http/http_server.c and lib/tcp/tcp_hold.c): a buy that sold is
 * answered only once app_release says its order is durable; refusals are
 * answered at once; a full hold queue is 503 order_queue_full and takes
 * nothing. Driven the way the dataplane runs it: real segments into a real
 * tcp_core whose application is the HTTP server over app_handle, and a real
 * sale engine behind it; the test plays the control thread's part by
 * calling app_release with the durable position.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "app.h"
#include "sale.h"
#include "tcp_harness.h"

#define NOW 1700000000000ull
#define EPOCH 1700000000u
#define PEERS 8
#define STREAM_CAP 8192

static const struct token_key key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

/* One client connection of the test, from port TH_PEER_PORT + its index. */
struct peer {
	uint32_t iss;                /* our ISS on it */
	uint32_t snd;                /* the peer's next sequence number */
	struct tcp_conn *c;          /* known once it sent bytes */
	char out[STREAM_CAP];        /* what we sent it, in order */
	uint32_t out_len;
	int segs;                    /* data segments it got */
};

static struct {
	struct th *h;
	struct sale *s;
	struct app a;
	struct http_server *hs;
	struct peer p[PEERS];
} fx;

static uint32_t ah_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			   const uint8_t *data, uint32_t len)
{
	uint16_t port = tcp_conn_peer_port(c);

	(void)ctx;
	cr_assert(port >= TH_PEER_PORT && port < TH_PEER_PORT + PEERS);
	fx.p[port - TH_PEER_PORT].c = c;
	return http_server_on_data(fx.hs, tc, c, data, len);
}

static void ah_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	(void)ctx;
	http_server_on_peer_fin(fx.hs, tc, c);
}

static void ah_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			 enum tcp_close_reason why)
{
	th_on_closed(ctx, tc, c, why);
	http_server_on_closed(fx.hs, tc, c, why);
}

/* A sale of campaign 1 (stock units, open), a core with a hold queue of
 * cap entries (0: no hold), its HTTP server on a fresh tcp_core with
 * tx_bufs send blocks (0: the default, a quarter of the table). */
static void ah_init_bufs(uint64_t stock, uint32_t cap, uint32_t tx_bufs)
{
	struct sale_conf cf;
	struct http_server_conf hc;
	char err[SALE_ERR_CAP];
	struct net_iface ifc = { .ip = TH_OUR_IP, .mtu = NET_MTU };
	struct tcp_app tapp = { ah_on_data, ah_on_peer_fin, ah_on_closed, NULL, NULL };

	memset(&fx, 0, sizeof(fx));
	sale_conf_default(&cf);
	cf.epoch = EPOCH;
	cf.key = key;
	cf.max_stock = 100;
	cf.ring_size = 64;
	cf.purchase_capacity = 1024;
	cf.buyer_capacity = 1024;
	cf.ip_capacity = 1024;
	fx.s = sale_create(&cf, err, sizeof(err));
	cr_assert_not_null(fx.s, "%s", err);
	cr_assert_eq(sale_campaign_add(fx.s, 1, stock, NOW - 5000), 0);
	app_init(&fx.a);
	app_set_sale(&fx.a, sale_core(fx.s, 0));
	app_set_time_ms(&fx.a, NOW);
	cr_assert_eq(app_set_hold(&fx.a, cap), 0);
	http_server_conf_default(&hc);
	fx.hs = http_server_create(&hc, app_handle, &fx.a);
	cr_assert_not_null(fx.hs);
	http_server_set_time(fx.hs, NOW / 1000);

	fx.h = th_new();
	fx.h->conf.tx_bufs = tx_bufs;
	memcpy(ifc.mac, th_our_mac, 6);
	struct net_tx tx = { th_alloc, th_sendf, th_discard, fx.h };

	tapp.ctx = fx.h;
	tcp_core_destroy(fx.h->tc);
	fx.h->tc = tcp_core_create(&fx.h->conf, &ifc, &tx, &tapp);
	cr_assert_not_null(fx.h->tc);
	tcp_set_now(fx.h->tc, fx.h->now_us);
}

static void ah_init(uint64_t stock, uint32_t cap)
{
	ah_init_bufs(stock, cap, 0);
}

static void ah_fini(void)
{
	th_free(fx.h);
	app_set_hold(&fx.a, 0);
	http_server_destroy(fx.hs);
	sale_destroy(fx.s);
}

/* Takes every frame sent since the last call: data goes to its peer's stream. */
static void ah_drain(void)
{
	while (fx.h->seen < fx.h->nframes) {
		struct th_frame f = th_next(fx.h);

		cr_assert(f.dport >= TH_PEER_PORT && f.dport < TH_PEER_PORT + PEERS);
		struct peer *p = &fx.p[f.dport - TH_PEER_PORT];

		cr_assert_eq(f.flags & (TCP_RST | TCP_FIN), 0, "RST or FIN to peer %u",
			     f.dport - TH_PEER_PORT);
		if (f.len == 0)
			continue;
		cr_assert_eq(f.seq, p->iss + 1 + p->out_len, "data out of order to peer %u",
			     f.dport - TH_PEER_PORT);
		cr_assert_lt(p->out_len + f.len, STREAM_CAP);
		memcpy(p->out + p->out_len, f.data, f.len);
		p->out_len += f.len;
		p->out[p->out_len] = '\0';
		p->segs++;
	}
}

static void ah_open(unsigned i)
{
	fx.p[i].iss = th_open_port(fx.h, (uint16_t)(TH_PEER_PORT + i));
	fx.p[i].snd = TH_ISN + 1;
}

/* Peer i sends these bytes (its ACK covers the SYN only: our data stays in
 * flight, which is all the test needs); the replies are drained. */
static void ah_send(unsigned i, const char *data)
{
	uint32_t n = (uint32_t)strlen(data);

	th_send_from(fx.h, (uint16_t)(TH_PEER_PORT + i), fx.p[i].snd, fx.p[i].iss + 1, TCP_ACK,
		     65535, 0, data, n);
	fx.p[i].snd += n;
	ah_drain();
}

static char *buy_req(uint64_t buyer)
{
	static char raw[512];
	char tok[TOKEN_STR_CAP];

	token_mint(&key, buyer, NOW / 1000 + 600, tok, sizeof(tok));
	snprintf(raw, sizeof(raw), "POST /api/campaigns/1/orders HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\nContent-Length: 0\r\n\r\n", tok);
	return raw;
}

/* The body of the 200 for this core's order of sequence seq. */
static const char *sold_body(uint64_t seq)
{
	static char want[128];
	char id[ORD_ID_STR_CAP];

	ord_id_format(ord_id_make(EPOCH, 0, 0, seq), id, sizeof(id));
	snprintf(want, sizeof(want), "{\"order_id\":\"%s\",\"status\":\"pending\"}", id);
	return want;
}

/* Peer i's stream holds exactly these answers (status, body), in order; a
 * NULL body is not compared. */
static void expect_answers(unsigned i, int n, const uint16_t *status, const char *const *body)
{
	const char *s = fx.p[i].out;

	for (int k = 0; k < n; k++) {
		char line[32];
		const char *head_end = strstr(s, "\r\n\r\n");

		cr_assert_not_null(head_end, "peer %u: answer %d missing in '%s'", i, k, fx.p[i].out);
		snprintf(line, sizeof(line), "HTTP/1.1 %u ", status[k]);
		cr_assert(strncmp(s, line, strlen(line)) == 0, "peer %u answer %d: '%.40s', want %s",
			  i, k, s, line);
		const char *cl = strstr(s, "Content-Length: ");

		cr_assert(cl != NULL && cl < head_end);
		size_t len = strtoul(cl + 16, NULL, 10);

		if (body[k] != NULL) {
			cr_assert_eq(len, strlen(body[k]), "peer %u answer %d: body '%.*s', want '%s'",
				     i, k, (int)len, head_end + 4, body[k]);
			cr_assert(memcmp(head_end + 4, body[k], len) == 0, "peer %u answer %d: '%.*s'",
				  i, k, (int)len, head_end + 4);
		}
		s = head_end + 4 + len;
	}
	cr_assert_eq(*s, '\0', "peer %u: more than %d answers: '%s'", i, n, s);
}

/* Parses raw and runs app_handle on it with connection c, as the server does. */
static struct http_reply *handle(struct tcp_conn *c, const char *raw)
{
	static const struct http_limits lim = {
		.max_head_bytes = 4096, .max_target_bytes = 1024, .max_headers = 32,
		.max_body_bytes = 2048,
	};
	static struct http_request req;
	static struct http_reply rep;
	static uint8_t body[HTTP_REPLY_BODY_CAP];

	cr_assert_eq(http_parse_request((const uint8_t *)raw, strlen(raw), 0, &lim, &req),
		     (int)strlen(raw));
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	rep.body = body;
	rep.body_cap = sizeof(body);
	app_handle(&fx.a, c, &req, &rep);
	return &rep;
}

Test(app_hold, a_sold_buy_is_held_with_its_order_sequence_as_ticket)
{
	ah_init(10, 16);
	ah_open(0);
	ah_send(0, buy_req(1));
	cr_assert_eq(fx.p[0].out_len, 0, "the 200 left before its order was durable: '%s'",
		     fx.p[0].out);
	cr_assert_eq(fx.a.held_n, 1);
	cr_assert_eq(fx.a.held[fx.a.held_head].seq, 1);
	cr_assert_eq(fx.a.held[fx.a.held_head].c, fx.p[0].c);
	cr_assert_eq(app_stats(&fx.a)->held, 1);
	cr_assert(app_holding(&fx.a));
	/* The reply as the route builds it: hold set, the sequence as ticket. */
	struct http_reply *rep = handle(fx.p[0].c, buy_req(2));

	cr_assert_eq(rep->status, 200);
	cr_assert_eq(rep->hold, 1);
	cr_assert_eq(rep->hold_ticket, 2);
	cr_assert_eq(fx.a.held_n, 2);
	cr_assert_eq(fx.a.held[(fx.a.held_head + 1) % fx.a.held_cap].seq, 2);
	ah_fini();
}

Test(app_hold, released_once_durable)
{
	static const uint16_t ok[] = { 200 };
	const char *body[] = { sold_body(1) };

	ah_init(10, 16);
	ah_open(0);
	ah_send(0, buy_req(1));
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 0), 0);
	ah_drain();
	cr_assert_eq(fx.p[0].out_len, 0);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 1), 1);
	ah_drain();
	expect_answers(0, 1, ok, body);
	cr_assert_not(app_holding(&fx.a));
	cr_assert_eq(app_stats(&fx.a)->released, 1);
	ah_fini();
}

Test(app_hold, refusals_are_answered_at_once)
{
	struct lim_rule rule;
	struct http_reply *rep;

	ah_init(2, 16);
	ah_open(0);
	ah_send(0, buy_req(1));                       /* sold, held: seq 1 */
	cr_assert_eq(fx.a.held_n, 1);
	/* Already bought, on a connection of its own: answered at once. */
	ah_open(1);
	ah_send(1, buy_req(1));
	{
		static const uint16_t st[] = { 409 };
		const char *b[] = { "{\"error\":\"already_bought\"}" };

		expect_answers(1, 1, st, b);
	}
	/* Limited: buyer 3 gets 1 r/m, its second buy is 429. */
	cr_assert_eq(lim_rule_set(&rule, 1, 60, 0), 0);
	cr_assert_eq(sale_set_limit(fx.s, SALE_RULE_BUYER, &rule), 0);
	rep = handle(NULL, buy_req(3));               /* sold: seq 2 (no conn: not queued) */
	cr_assert_eq(rep->status, 200);
	ah_open(2);
	ah_send(2, buy_req(3));
	cr_assert(strncmp(fx.p[2].out, "HTTP/1.1 429 ", 13) == 0, "'%s'", fx.p[2].out);
	/* Sold out. */
	ah_open(3);
	ah_send(3, buy_req(4));
	{
		static const uint16_t st[] = { 410 };
		const char *b[] = { "{\"error\":\"sold_out\"}" };

		expect_answers(3, 1, st, b);
	}
	rep = handle(fx.p[3].c, buy_req(5));
	cr_assert_eq(rep->status, 410);
	cr_assert_eq(rep->hold, 0);
	cr_assert_eq(fx.a.held_n, 1, "a refusal was queued");
	cr_assert_eq(app_stats(&fx.a)->held, 1);
	/* The held 200 still waits; then leaves. */
	cr_assert_eq(fx.p[0].out_len, 0);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 2), 1);
	ah_drain();
	{
		static const uint16_t st[] = { 200 };
		const char *b[] = { sold_body(1) };

		expect_answers(0, 1, st, b);
	}
	ah_fini();
}

Test(app_hold, release_pops_only_what_is_durable_in_order)
{
	static const uint16_t ok[] = { 200 };

	ah_init(10, 16);
	for (unsigned i = 0; i < 3; i++) {
		ah_open(i);
		ah_send(i, buy_req(i + 1));             /* sequences 1, 2, 3 */
	}
	cr_assert_eq(fx.a.held_n, 3);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 0), 0);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 1), 1);
	ah_drain();
	{
		const char *b[] = { sold_body(1) };

		expect_answers(0, 1, ok, b);
	}
	cr_assert_eq(fx.p[1].out_len + fx.p[2].out_len, 0, "a later order's 200 left early");
	cr_assert_eq(fx.a.held_n, 2);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 1), 0, "released twice");
	int before = fx.h->nframes;

	cr_assert_eq(app_release(&fx.a, fx.h->tc, 3), 2);
	/* In sequence order: peer 1's answer goes out before peer 2's. */
	cr_assert_eq(th_out(fx.h, before).dport, TH_PEER_PORT + 1);
	ah_drain();
	for (unsigned i = 1; i < 3; i++) {
		const char *b[] = { sold_body(i + 1) };

		expect_answers(i, 1, ok, b);
	}
	cr_assert_not(app_holding(&fx.a));
	cr_assert_eq(app_stats(&fx.a)->released, 3);
	ah_fini();
}

/* Two buys pipelined on one connection: the connection waits for the later
 * one (tcp_hold replaced the ticket); the earlier entry passes; both answers
 * leave together, in order. A GET before them is not held. */
Test(app_hold, pipelined_buys_wait_for_the_last)
{
	char raw[2048];
	static const uint16_t st[] = { 200, 200, 200 };
	const char *b[3] = { NULL, NULL, NULL };
	char b1[128], b2[128];

	ah_init(10, 16);
	ah_open(0);
	snprintf(raw, sizeof(raw), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n%s", buy_req(1));
	snprintf(raw + strlen(raw), sizeof(raw) - strlen(raw), "%s", buy_req(2));
	ah_send(0, raw);
	cr_assert(strncmp(fx.p[0].out, "HTTP/1.1 200 ", 13) == 0 &&
		  strstr(fx.p[0].out, "order_id") == NULL,
		  "the GET's answer leaves, the buys' wait: '%s'", fx.p[0].out);
	uint32_t first = fx.p[0].out_len;

	cr_assert_eq(fx.a.held_n, 2);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 1), 0, "the earlier ticket released");
	ah_drain();
	cr_assert_eq(fx.p[0].out_len, first, "the first buy's 200 left before the second's order "
		     "was durable");
	cr_assert_eq(fx.a.held_n, 1);
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 2), 1);
	ah_drain();
	snprintf(b1, sizeof(b1), "%s", sold_body(1));
	snprintf(b2, sizeof(b2), "%s", sold_body(2));
	b[1] = b1;
	b[2] = b2;
	expect_answers(0, 3, st, b);
	ah_fini();
}

Test(app_hold, a_full_queue_is_503_order_queue_full_and_takes_no_stock)
{
	struct http_reply *rep;

	ah_init(10, 2);
	ah_open(0);
	ah_open(1);
	ah_send(0, buy_req(1));
	ah_send(1, buy_req(2));
	cr_assert(app_hold_full(&fx.a));
	uint64_t left = stock_left(sale_campaign_pool(fx.s, 1));
	uint64_t ring = ord_ring_count(sale_ring(fx.s, 0));

	cr_assert_eq(left, 8);
	rep = handle(fx.p[1].c, buy_req(3));
	cr_assert_eq(rep->status, 503);
	cr_assert_eq(rep->hold, 0);
	cr_assert_eq(rep->body_len, strlen("{\"error\":\"order_queue_full\"}"));
	cr_assert(memcmp(rep->body, "{\"error\":\"order_queue_full\"}", rep->body_len) == 0);
	cr_assert_str_eq(rep->extra_headers, "Retry-After: 1\r\n");
	cr_assert_eq(app_stats(&fx.a)->hold_full, 1);
	cr_assert_eq(stock_left(sale_campaign_pool(fx.s, 1)), left, "the refusal took stock");
	cr_assert_eq(ord_ring_count(sale_ring(fx.s, 0)), ring, "the refusal queued an order");
	cr_assert_not(sale_purchase_held(fx.s, 1, 3), "the refusal claimed the buyer");
	/* Through HTTP too, on a connection of its own: answered at once. */
	ah_open(2);
	ah_send(2, buy_req(3));
	cr_assert(strncmp(fx.p[2].out, "HTTP/1.1 503 ", 13) == 0, "'%s'", fx.p[2].out);
	cr_assert_not_null(strstr(fx.p[2].out, "\r\nRetry-After: 1\r\n"));
	cr_assert_not_null(strstr(fx.p[2].out, "{\"error\":\"order_queue_full\"}"));
	cr_assert_eq(app_stats(&fx.a)->hold_full, 2);
	/* Room again once the first is durable: buyer 3 buys. */
	cr_assert_eq(app_release(&fx.a, fx.h->tc, 1), 1);
	rep = handle(fx.p[2].c, buy_req(3));
	cr_assert_eq(rep->status, 200);
	cr_assert_eq(rep->hold, 1);
	cr_assert_eq(stock_left(sale_campaign_pool(fx.s, 1)), left - 1);
	ah_fini();
}

Test(app_hold, a_connection_reset_while_held_is_passed_harmlessly)
{
	static const uint16_t ok[] = { 200 };
	const char *b[] = { sold_body(2) };

	ah_init(10, 16);
	ah_open(0);
	ah_open(1);
	ah_send(0, buy_req(1));
	ah_send(1, buy_req(2));
	th_send_from(fx.h, TH_PEER_PORT, fx.p[0].snd, fx.p[0].iss + 1, TCP_RST, 0, 0, NULL, 0);
	cr_assert_eq(fx.h->closed, 1);
	/* Peer 0's entry names a freed connection: passed without a frame. */
	(void)app_release(&fx.a, fx.h->tc, 2);
	ah_drain();
	cr_assert_eq(fx.p[0].out_len, 0);
	expect_answers(1, 1, ok, b);
	cr_assert_not(app_holding(&fx.a));
	ah_fini();
}

Test(app_hold, without_a_hold_queue_answers_leave_at_once)
{
	static const uint16_t ok[] = { 200 };
	const char *b[] = { sold_body(1) };

	ah_init(10, 0);
	ah_open(0);
	ah_send(0, buy_req(1));
	expect_answers(0, 1, ok, b);
	cr_assert_not(app_holding(&fx.a));
	cr_assert_eq(app_stats(&fx.a)->held, 0);
	cr_assert_eq(handle(fx.p[0].c, buy_req(2))->hold, 0);
	ah_fini();
}

/*
 * A held 200 keeps its send block until released: more connections holding
 * than the core has send blocks (--max-conns / 4; the hold queue is two order
 * rings, 32 Ki) must not leave a buyer whose unit was sold without an answer.
 * Either the buy is refused before it takes stock (503), or its 200 leaves
 * once blocks are free again. Here: 2 send blocks, 3 buyers on 3 connections.
 */
Test(app_hold, a_sold_buy_is_answered_when_the_send_blocks_run_short)
{
	ah_init_bufs(10, 16, 2);
	for (unsigned i = 0; i < 3; i++) {
		ah_open(i);
		ah_send(i, buy_req(i + 1));
	}
	uint64_t sold = 10 - stock_left(sale_campaign_pool(fx.s, 1));

	app_release(&fx.a, fx.h->tc, 3);
	ah_drain();
	/* The peers acknowledge what they got: the blocks are free again. */
	for (unsigned i = 0; i < 3; i++) {
		if (fx.p[i].out_len)
			th_send_from(fx.h, (uint16_t)(TH_PEER_PORT + i), fx.p[i].snd,
				     fx.p[i].iss + 1 + fx.p[i].out_len, TCP_ACK, 65535, 0, NULL, 0);
	}
	/* The buyer that found no block was not refused: its request waited,
	 * untouched, and is taken now that blocks are free (tcp_wait_space); a
	 * sale it makes is held like any other until durable. */
	th_advance(fx.h, 1000);
	ah_drain();
	sold = 10 - stock_left(sale_campaign_pool(fx.s, 1));
	app_release(&fx.a, fx.h->tc, 3);
	ah_drain();
	unsigned ok = 0, refused = 0;

	for (unsigned i = 0; i < 3; i++) {
		if (strncmp(fx.p[i].out, "HTTP/1.1 200 ", 13) == 0)
			ok++;
		else if (strncmp(fx.p[i].out, "HTTP/1.1 503 ", 13) == 0)
			refused++;
	}
	cr_assert_eq(ok, sold, "%lu units sold, %u buyers told 200 (%u refused 503; "
		     "tcp.drop_no_buf %lu): a sold buyer got no answer",
		     (unsigned long)sold, ok, refused,
		     (unsigned long)tcp_core_stats(fx.h->tc)->drop_no_buf);
	cr_assert_eq(ok + refused, 3, "a buyer got no answer at all");
	ah_fini();
}
