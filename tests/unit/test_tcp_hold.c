/*
 * Held answers (lib/tcp/tcp_hold.c): a sold order's 200 stays in the send
 * ring until the application releases it with the ticket it held it with.
 * A scripted exchange per rule: what is queued before the hold leaves, what
 * is queued after it does not (nor a FIN) until tcp_release with the right
 * ticket, a second hold replaces the ticket, a retransmission timeout resends
 * only what went out before the hold, and a connection reset while held is
 * harmless to release. The request's ACK waits for its held answer up to
 * delack_ms, then goes alone.
 */
#include "tcp_harness.h"

#define MSS 1460u

/*
 * What the application does in on_data after th_on_data took the bytes:
 * queue `before`, hold with `ticket`, queue `after`, close; each when set.
 * This is what lib/http's server does for a pipelined request followed by
 * a sold buy: the earlier answer, then tcp_hold, then the held 200.
 */
static struct {
	const char *before, *after;
	bool hold, close;
	uint32_t ticket;
} script;

static uint32_t hold_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			     const uint8_t *data, uint32_t len)
{
	uint32_t n = th_on_data(ctx, tc, c, data, len);

	if (script.before)
		cr_assert_eq(tcp_send(tc, c, script.before, (uint32_t)strlen(script.before)), 0);
	if (script.hold)
		tcp_hold(tc, c, script.ticket);
	if (script.after)
		cr_assert_eq(tcp_send(tc, c, script.after, (uint32_t)strlen(script.after)), 0);
	if (script.close)
		tcp_close(tc, c);
	return n;
}

/* th_new with hold_on_data as the application (the rest of the harness as is). */
static struct th *hold_new(void)
{
	struct th *h = th_new();
	struct net_iface ifc = { .ip = TH_OUR_IP, .mtu = NET_MTU };
	struct net_tx tx = { th_alloc, th_sendf, th_discard, h };
	struct tcp_app app = { hold_on_data, th_on_peer_fin, th_on_closed, h, th_on_established };

	memcpy(ifc.mac, th_our_mac, 6);
	tcp_core_destroy(h->tc);
	h->tc = tcp_core_create(&h->conf, &ifc, &tx, &app);
	cr_assert_not_null(h->tc);
	tcp_set_now(h->tc, h->now_us);
	memset(&script, 0, sizeof(script));
	return h;
}

/* Opens a connection and has the peer send "q", which the application takes
 * without answering (our ACK checked). Returns our ISS; RTT 0, RTO 200 ms. */
static uint32_t open_quiet(struct th *h)
{
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	return iss;
}

/* The next frame carries exactly `data` at seq with these flags, acking ack. */
static void expect_seg(struct th *h, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
	struct th_frame f = th_next(h);
	uint32_t n = (uint32_t)strlen(data);

	cr_assert_eq(f.flags, flags, "flags %#x, expected %#x", f.flags, flags);
	cr_assert_eq(f.seq, seq, "seq %u, expected %u", f.seq, seq);
	cr_assert_eq(f.ack, ack, "ack %u, expected %u", f.ack, ack);
	cr_assert_eq(f.len, n, "len %u, expected %u ('%s')", f.len, n, data);
	cr_assert_arr_eq(f.data, data, n);
}

/* A peer ACK of our byte `ack` after its "q", no data. */
static void peer_ack(struct th *h, uint32_t ack)
{
	th_send(h, TH_ISN + 2, ack, TCP_ACK, NULL, 0);
}

Test(tcp_hold, after_the_hold_send_queues_but_nothing_leaves)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);
	const char *a = "HTTP/1.1 200 OK\r\n\r\nsold";

	tcp_hold(h->tc, h->conn, 7);
	th_none(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, a, (uint32_t)strlen(a)), 0);
	th_none(h);
	cr_assert_eq(tcp_send_space(h->tc, h->conn), h->conf.tx_buf - strlen(a),
		     "the held answer takes its room in the send ring");
	/* Neither time, nor the peer's ACKs and window updates, send it. */
	th_advance(h, 100);
	peer_ack(h, iss + 1);
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 1000, 0, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, tx_bytes), 0);
	th_free(h);
}

Test(tcp_hold, release_sends_the_held_answer)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 7);
	cr_assert_eq(tcp_send(h->tc, h->conn, "A", 1), 0);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 7));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "A");
	th_none(h);
	/* Not held any more: the next answer leaves at once. */
	cr_assert_not(tcp_release(h->tc, h->conn, 7), "released twice");
	cr_assert_eq(tcp_send(h->tc, h->conn, "B", 1), 0);
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 2, TH_ISN + 2, "B");
	th_free(h);
}

Test(tcp_hold, answers_queued_before_the_hold_leave)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	cr_assert_eq(tcp_send(h->tc, h->conn, "early", 5), 0);
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "early");
	tcp_hold(h->tc, h->conn, 1);
	cr_assert_eq(tcp_send(h->tc, h->conn, "late", 4), 0);
	th_none(h);
	/* The early answer is acknowledged; the late one still waits. */
	peer_ack(h, iss + 6);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 1));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 6, TH_ISN + 2, "late");
	th_none(h);
	th_free(h);
}

/*
 * As the HTTP server does it: one delivery holding two pipelined requests,
 * the first answered at once, the second a sold buy. The first answer goes
 * out with the hold (acknowledging nothing new: it leaves from inside
 * on_data); the held one after the release, carrying the ACK of both
 * requests, which waited for it (a delayed ACK).
 */
Test(tcp_hold, in_on_data_the_earlier_answer_leaves_and_the_held_one_waits)
{
	struct th *h = hold_new();
	uint32_t iss = th_open(h);
	const char *req = "GET /healthz\r\n\r\nPOST /buy\r\n\r\n";
	uint32_t n = (uint32_t)strlen(req);

	script.before = "healthy";
	script.hold = true;
	script.ticket = 42;
	script.after = "sold";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 1, "healthy");
	th_none(h);
	th_advance(h, 5);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 42));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 8, TH_ISN + 1 + n, "sold");
	th_none(h);
	cr_assert_eq(TH_ST(h, acks_delayed), 1);
	cr_assert_eq(TH_ST(h, acks_delayed_sent), 0);
	th_free(h);
}

/* A lone held answer (the usual buy) released within delack_ms: one segment,
 * the answer, which acknowledges the request. */
Test(tcp_hold, in_on_data_a_lone_held_answer_carries_the_requests_ack)
{
	struct th *h = hold_new();
	uint32_t iss = th_open(h);
	const char *req = "POST /buy\r\n\r\n";
	uint32_t n = (uint32_t)strlen(req);

	script.hold = true;
	script.ticket = 5;
	script.after = "sold";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	th_none(h);
	th_advance(h, h->conf.delack_ms - 1);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 5));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 1 + n, "sold");
	th_none(h);
	/* The ring's entry finds the ACK sent and sends nothing more. */
	th_advance(h, 100);
	th_none(h);
	cr_assert_eq(TH_ST(h, acks_delayed_sent), 0);
	th_free(h);
}

/* Held past delack_ms (Kafka slow, a stalled commit): a pure ACK goes then,
 * long before the peer's RTO would resend the request; the answer follows. */
Test(tcp_hold, in_on_data_a_long_held_answer_acks_the_request_at_delack_ms)
{
	struct th *h = hold_new();
	uint32_t iss = th_open(h);
	const char *req = "POST /buy\r\n\r\n";
	uint32_t n = (uint32_t)strlen(req);

	cr_assert_eq(h->conf.delack_ms, 40, "the default, Linux's shortest delayed ACK");
	script.hold = true;
	script.ticket = 5;
	script.after = "sold";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	th_advance(h, 39);
	th_none(h);
	th_advance(h, 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1 + n);
	th_none(h);
	cr_assert_eq(TH_ST(h, acks_delayed), 1);
	cr_assert_eq(TH_ST(h, acks_delayed_sent), 1);
	th_advance(h, 500);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 5));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 1 + n, "sold");
	th_free(h);
}

/* delack_ms 0: the request is acknowledged at once, by a pure ACK. */
Test(tcp_hold, without_delayed_acks_the_request_is_acked_at_once)
{
	struct th *h = th_new();
	struct net_iface ifc = { .ip = TH_OUR_IP, .mtu = NET_MTU };
	struct net_tx tx = { th_alloc, th_sendf, th_discard, h };
	struct tcp_app app = { hold_on_data, th_on_peer_fin, th_on_closed, h, th_on_established };
	const char *req = "POST /buy\r\n\r\n";
	uint32_t n = (uint32_t)strlen(req), iss;

	memcpy(ifc.mac, th_our_mac, 6);
	tcp_core_destroy(h->tc);
	h->conf.delack_ms = 0;
	h->tc = tcp_core_create(&h->conf, &ifc, &tx, &app);
	cr_assert_not_null(h->tc);
	tcp_set_now(h->tc, h->now_us);
	memset(&script, 0, sizeof(script));
	iss = th_open(h);
	script.hold = true;
	script.ticket = 5;
	script.after = "sold";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1 + n);
	th_none(h);
	cr_assert_eq(TH_ST(h, acks_delayed), 0);
	cr_assert(tcp_release(h->tc, h->conn, 5));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 1 + n, "sold");
	th_free(h);
}

Test(tcp_hold, conf_check_delack_ms_stays_below_a_peers_rto)
{
	struct tcp_conf conf;

	tcp_conf_default(&conf);
	conf.delack_ms = 200;
	cr_assert_null(tcp_conf_check(&conf));
	conf.delack_ms = 201;
	cr_assert_str_eq(tcp_conf_check(&conf),
			 "tcp: delack_ms must be 0 (off)..200 (a peer's retransmission timer is "
			 "at least 200 ms), not 201");
}

Test(tcp_hold, release_with_the_wrong_ticket_does_nothing)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 7);
	cr_assert_eq(tcp_send(h->tc, h->conn, "A", 1), 0);
	cr_assert_not(tcp_release(h->tc, h->conn, 8));
	cr_assert_not(tcp_release(h->tc, h->conn, 0));
	cr_assert_not(tcp_release(h->tc, h->conn, 6));
	th_none(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, "B", 1), 0);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 7));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "AB");
	th_free(h);
}

Test(tcp_hold, held_bytes_leave_in_order_in_mss_segments)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);
	static char big[3 * MSS + 1];

	for (uint32_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	tcp_hold(h->tc, h->conn, 3);
	cr_assert_eq(tcp_send(h->tc, h->conn, "first;", 6), 0);
	cr_assert_eq(tcp_send(h->tc, h->conn, big, 3 * MSS - 6), 0);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 3));
	for (uint32_t i = 0; i < 3; i++) {
		struct th_frame f = th_next(h);

		cr_assert_eq(f.seq, iss + 1 + i * MSS);
		cr_assert_eq(f.len, MSS);
		if (i == 0) {
			cr_assert_arr_eq(f.data, "first;", 6);
			cr_assert_arr_eq(f.data + 6, big, MSS - 6);
		} else {
			cr_assert_arr_eq(f.data, big + i * MSS - 6, MSS);
		}
	}
	th_none(h);
	th_free(h);
}

Test(tcp_hold, a_second_hold_replaces_the_ticket)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 1);
	cr_assert_eq(tcp_send(h->tc, h->conn, "A", 1), 0);
	tcp_hold(h->tc, h->conn, 2);
	cr_assert_eq(tcp_send(h->tc, h->conn, "B", 1), 0);
	th_none(h);
	cr_assert_not(tcp_release(h->tc, h->conn, 1), "the first ticket no longer releases");
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 2));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "AB");
	th_none(h);
	th_free(h);
}

Test(tcp_hold, close_while_held_sends_the_fin_after_the_release)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 9);
	cr_assert_eq(tcp_send(h->tc, h->conn, "bye", 3), 0);
	tcp_close(h->tc, h->conn);
	th_none(h);
	th_advance(h, 1000);
	th_none(h);
	cr_assert_eq(th_gauges(h).closing, 1);
	cr_assert(tcp_release(h->tc, h->conn, 9));
	expect_seg(h, TCP_ACK | TCP_PSH | TCP_FIN, iss + 1, TH_ISN + 2, "bye");
	th_none(h);
	/* The peer acknowledges both and closes: TIME_WAIT as usual. */
	th_send(h, TH_ISN + 2, iss + 5, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 5, TH_ISN + 3);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_free(h);
}

Test(tcp_hold, close_while_held_with_nothing_queued_holds_the_lone_fin)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 9);
	tcp_close(h->tc, h->conn);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 9));
	th_expect(h, TCP_ACK | TCP_FIN, iss + 1, TH_ISN + 2);
	th_none(h);
	th_free(h);
}

/* The HTTP server's Connection: close on a held answer: close from on_data. */
Test(tcp_hold, close_from_on_data_with_a_held_answer)
{
	struct th *h = hold_new();
	uint32_t iss = th_open(h);
	const char *req = "POST /buy\r\nConnection: close\r\n\r\n";
	uint32_t n = (uint32_t)strlen(req);

	script.hold = true;
	script.ticket = 11;
	script.after = "sold";
	script.close = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	while (h->seen < h->nframes) {
		struct th_frame f = th_next(h);

		cr_assert_eq(f.len, 0, "held bytes left before the release");
		cr_assert_eq(f.flags & TCP_FIN, 0, "FIN before the release");
	}
	cr_assert(tcp_release(h->tc, h->conn, 11));
	expect_seg(h, TCP_ACK | TCP_PSH | TCP_FIN, iss + 1, TH_ISN + 1 + n, "sold");
	th_none(h);
	th_free(h);
}

Test(tcp_hold, rto_while_held_resends_only_what_was_sent_before)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	cr_assert_eq(tcp_send(h->tc, h->conn, "sent", 4), 0);
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "sent");
	tcp_hold(h->tc, h->conn, 4);
	cr_assert_eq(tcp_send(h->tc, h->conn, "held", 4), 0);
	th_none(h);
	/* The first copy is lost: RTO (200 ms) resends it, and only it. */
	th_just_before_and_at(h, 200);
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "sent");
	th_none(h);
	th_just_before_and_at(h, 400);     /* backed off */
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "sent");
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 2);
	/* Acknowledged at last: still nothing new while held. */
	peer_ack(h, iss + 5);
	th_none(h);
	cr_assert(tcp_release(h->tc, h->conn, 4));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 5, TH_ISN + 2, "held");
	th_none(h);
	th_free(h);
}

/*
 * A held answer with nothing in flight is not a loss: the peer is there and
 * acknowledging. Held for less than the idle timeout (the control plane's
 * answer may wait for Kafka's acks, seconds with brokers away), the
 * connection must survive, and send nothing meanwhile: the retransmission
 * timer, with nothing to retransmit, must not count retries and give up.
 */
Test(tcp_hold, a_long_hold_does_not_time_the_connection_out)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);

	tcp_hold(h->tc, h->conn, 8);
	cr_assert_eq(tcp_send(h->tc, h->conn, "late", 4), 0);
	for (uint32_t ms = 0; ms + 1000 < h->conf.idle_timeout_ms; ms += 1000)
		th_advance(h, 1000);
	th_none(h);
	cr_assert_eq(TH_ST(h, conns_timed_out), 0, "a held connection was timed out");
	cr_assert_eq(h->closed, 0);
	cr_assert(tcp_release(h->tc, h->conn, 8));
	expect_seg(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2, "late");
	th_free(h);
}

Test(tcp_hold, release_of_a_connection_reset_while_held_is_harmless)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);
	struct tcp_conn *c = h->conn;

	tcp_hold(h->tc, c, 5);
	cr_assert_eq(tcp_send(h->tc, c, "A", 1), 0);
	th_send(h, TH_ISN + 2, iss + 1, TCP_RST, NULL, 0);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	/* The application's queue still names c: releasing it sends nothing. */
	(void)tcp_release(h->tc, c, 5);
	(void)tcp_release(h->tc, c, 6);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_free(h);
}

Test(tcp_hold, a_stale_ticket_never_releases_the_entry_s_next_connection)
{
	struct th *h = hold_new();
	uint32_t iss = open_quiet(h);
	struct tcp_conn *c = h->conn;

	tcp_hold(h->tc, c, 5);
	cr_assert_eq(tcp_send(h->tc, c, "A", 1), 0);
	tcp_abort(h->tc, c);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 2);
	/* The same entry serves the next connection (the free list is LIFO). */
	iss = th_open_port(h, TH_PEER_PORT + 1);
	th_send_from(h, TH_PEER_PORT + 1, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "q", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 2);
	cr_assert_eq(h->conn, c, "the entry was not reused; the test needs it");
	cr_assert_not(tcp_release(h->tc, c, 5), "a stale ticket released a new connection");
	tcp_hold(h->tc, c, 6);
	cr_assert_eq(tcp_send(h->tc, c, "B", 1), 0);
	cr_assert_not(tcp_release(h->tc, c, 5));
	th_none(h);
	cr_assert(tcp_release(h->tc, c, 6));
	struct th_frame f = th_next(h);

	cr_assert_eq(f.dport, TH_PEER_PORT + 1);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.len, 1);
	th_free(h);
}

Test(tcp_hold, release_of_a_connection_never_held_is_false)
{
	struct th *h = hold_new();

	open_quiet(h);
	cr_assert_not(tcp_release(h->tc, h->conn, 0));
	cr_assert_not(tcp_release(h->tc, h->conn, 1));
	th_none(h);
	th_free(h);
}
