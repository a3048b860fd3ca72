/* What a slow or greedy peer may hold (issue 14): a first request must begin
 * within first_request_timeout_ms of the handshake, a request must be whole
 * within header_timeout_ms of its first byte whatever trickles in, a peer
 * that takes none of our bytes is reset after send_timeout_ms, and a full
 * table takes the entry of the connection idle the longest rather than turn
 * a newcomer away, never one with an answer held or in flight. Each end is
 * counted by reason and on_closed says why. */
#include "tcp_harness.h"

/* Advances 1 ms at a time, answering every segment we send with an ACK of
 * ack and window win when reply is set, until we send a RST; returns the ms
 * it took (asserts it comes within max_ms). */
static uint32_t ms_until_rst(struct th *h, uint32_t max_ms, bool reply, uint32_t ack,
			     uint16_t win)
{
	for (uint32_t ms = 1; ms <= max_ms; ms++) {
		th_advance(h, 1);
		while (h->seen < h->nframes) {
			struct th_frame f = th_next(h);

			if (f.flags & TCP_RST)
				return ms;
			if (reply)
				th_send_from(h, f.dport, f.ack, ack, TCP_ACK, win, 0, NULL, 0);
		}
	}
	cr_assert_fail("no RST within %u ms", max_ms);
	return 0;
}

/* ---- the first request ---------------------------------------------------- */

Test(tcp_deadlines, a_connection_that_never_sends_is_reset_at_first_request_timeout)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_just_before_and_at(h, 5000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_DEADLINE);
	cr_assert_eq(TH_ST(h, timeout_first_request), 1);
	cr_assert_eq(TH_ST(h, timeout_header), 0);
	cr_assert_eq(TH_ST(h, conns_timed_out), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_deadlines, a_first_request_in_time_leaves_the_idle_timeout)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_advance(h, 4000);
	th_first_request(h, iss, "q");          /* consumed whole: idle from here */
	th_advance(h, 29999);
	th_none(h);
	th_advance(h, 1);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 2);
	cr_assert_eq(h->why, TCP_CLOSE_IDLE);
	cr_assert_eq(TH_ST(h, timeout_first_request), 0);
	th_free(h);
}

/* ---- the request's head --------------------------------------------------- */

/* A slowloris: a byte a second, never a whole request. The deadline runs from
 * the first byte; the later ones do not move it. */
Test(tcp_deadlines, trickled_bytes_do_not_extend_the_header_deadline)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 0;                         /* never a whole request */
	th_advance(h, 1000);
	for (uint32_t i = 0; i < 9; i++) {
		th_send(h, TH_ISN + 1 + i, iss + 1, TCP_ACK, "G", 1);
		th_expect(h, TCP_ACK, iss + 1, TH_ISN + 2 + i);
		th_advance(h, 1000);
	}
	/* 9 s after the first byte, 1 s after the last: 1 s to go. */
	th_just_before_and_at(h, 1000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 10);
	cr_assert_eq(h->why, TCP_CLOSE_DEADLINE);
	cr_assert_eq(TH_ST(h, timeout_header), 1);
	cr_assert_eq(TH_ST(h, timeout_first_request), 0);
	cr_assert_eq(TH_ST(h, conns_timed_out), 1);
	th_free(h);
}

Test(tcp_deadlines, a_request_completed_in_time_is_not_timed_out)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 0;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "GE", 2);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 3);
	th_advance(h, 9999);
	h->consume = -1;                        /* the last byte makes it whole */
	th_send(h, TH_ISN + 3, iss + 1, TCP_ACK, "T", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 4);
	cr_assert_eq(h->rx_total, 3);
	th_advance(h, 20000);
	th_none(h);
	cr_assert_eq(TH_ST(h, timeout_header), 0);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

/* Requests one after another on a connection: "ab" whole with the first
 * byte of "cd" behind it, "cd" completed 4 s later, then "e..." begun and
 * never completed. Each incomplete request has its own deadline from its
 * own first byte, not from the connection's first. */
Test(tcp_deadlines, the_next_request_of_a_pipeline_gets_its_own_deadline)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 2;                         /* "ab" whole, then the rest is short */
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "abc", 3);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 4);
	th_advance(h, 4000);
	th_send(h, TH_ISN + 4, iss + 1, TCP_ACK, "d", 1); /* "cd" whole; nothing left */
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 5);
	h->consume = 0;
	th_send(h, TH_ISN + 5, iss + 1, TCP_ACK, "e", 1); /* a new request begins */
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 6);
	th_just_before_and_at(h, 10000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 6);
	cr_assert_eq(TH_ST(h, timeout_header), 1);
	th_free(h);
}

/* An answer held for durability (tcp_hold) with the next request begun
 * behind it: the connection owes its peer an answer, the peer owes nothing. */
Test(tcp_deadlines, a_held_answer_is_not_killed_by_the_header_deadline)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	tcp_hold(h->tc, h->conn, 7);
	cr_assert_eq(tcp_send(h->tc, h->conn, "late", 4), 0);
	h->consume = 0;
	th_send(h, TH_ISN + 2, iss + 1, TCP_ACK, "GE", 2);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 4);
	for (int i = 0; i < 20; i++)
		th_advance(h, 1000);
	th_none(h);
	cr_assert_eq(TH_ST(h, timeout_header), 0);
	cr_assert_eq(h->closed, 0);
	cr_assert(tcp_release(h->tc, h->conn, 7));
	struct th_frame f = th_next(h);

	cr_assert_eq(f.len, 4);
	cr_assert_arr_eq(f.data, "late", 4);
	/* Answered: from the ACK on, the peer owes the rest of its request,
	 * and has the whole header timeout for it. */
	th_send(h, TH_ISN + 4, iss + 5, TCP_ACK, NULL, 0);
	th_just_before_and_at(h, 10000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 5, TH_ISN + 4);
	cr_assert_eq(TH_ST(h, timeout_header), 1);
	th_free(h);
}

/* With every receive block taken, a peer's bytes are refused (drop_no_buf):
 * resending them neither begins its request nor keeps it alive. */
Test(tcp_deadlines, refused_bytes_do_not_hold_a_connection)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_bufs = 1;
	struct th *h = th_new_conf(&conf);
	uint32_t a = th_open_port(h, 1), b = th_open_port(h, 2);

	h->consume = 0;
	th_send_from(h, 1, TH_ISN + 1, a + 1, TCP_ACK, 65535, 0, "GE", 2);  /* the one block */
	th_expect(h, TCP_ACK, a + 1, TH_ISN + 3);
	for (int i = 0; i < 4; i++) {
		th_advance(h, 1000);
		th_send_from(h, 2, TH_ISN + 1, b + 1, TCP_ACK, 65535, 0, "GE", 2);
		th_expect(h, TCP_ACK, b + 1, TH_ISN + 1);     /* not taken */
	}
	cr_assert_eq(TH_ST(h, drop_no_buf), 4);
	th_advance(h, 999);
	th_none(h);
	th_advance(h, 1);                       /* 5 s after b's handshake */
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_RST | TCP_ACK);
	cr_assert_eq(f.dport, 2);
	cr_assert_eq(TH_ST(h, timeout_first_request), 1);
	th_free(h);
}

/* ---- send_timeout --------------------------------------------------------- */

Test(tcp_deadlines, a_peer_that_acks_nothing_is_reset_at_send_timeout)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_app_send(h, "answer", 6);
	/* Retransmissions at 200, 600, 1400, 3000, 6200 ms (RTO 200 ms doubling);
	 * the sixth would be at 12600: the deadline comes first, exactly. */
	cr_assert_eq(ms_until_rst(h, 20000, false, 0, 0), 10000);
	cr_assert_eq(h->why, TCP_CLOSE_SEND_TIMEOUT);
	cr_assert_eq(TH_ST(h, retrans_segs), 5);
	cr_assert_eq(TH_ST(h, timeout_send), 1);
	cr_assert_eq(TH_ST(h, conns_timed_out), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_free(h);
}

/* The slow reader: its window shut, it answers every probe with window 0. */
Test(tcp_deadlines, a_zero_window_held_past_send_timeout_is_reset)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 0, 0, NULL, 0);
	th_none(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, "answer", 6), 0);
	th_none(h);                             /* the window is shut */
	cr_assert_eq(ms_until_rst(h, 20000, true, iss + 1, 0), 10000);
	cr_assert_eq(h->why, TCP_CLOSE_SEND_TIMEOUT);
	cr_assert_eq(TH_ST(h, timeout_send), 1);
	th_free(h);
}

/* A peer that takes our bytes, however late, starts the deadline again. */
Test(tcp_deadlines, progress_restarts_the_send_deadline)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_app_send(h, "answer", 6);
	for (int i = 0; i < 90; i++) {          /* 9 s, retransmissions and all */
		th_advance(h, 100);
		while (h->seen < h->nframes)
			cr_assert_eq(th_next(h).flags & TCP_RST, 0);
	}
	th_send(h, TH_ISN + 2, iss + 7, TCP_ACK, NULL, 0);
	th_app_send(h, "more", 4);
	cr_assert_eq(ms_until_rst(h, 30000, false, 0, 0), 10000);
	cr_assert_eq(TH_ST(h, timeout_send), 1);
	th_free(h);
}

/* ---- a full table --------------------------------------------------------- */

static struct th *small_table(enum tcp_cookie_mode cookies)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 4;
	conf.syn_backlog = 4;
	conf.cookies = cookies;
	conf.tx_bufs = 4;               /* a send block for each */
	return th_new_conf(&conf);
}

/* A connection from port that sent one request, consumed and unanswered:
 * idle. Returns our ISS. */
static uint32_t open_idle(struct th *h, uint16_t port)
{
	uint32_t iss = th_open_port(h, port);

	th_send_from(h, port, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "q", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 2);
	return iss;
}

/* A SYN from port to a full table: the victim on victim_port gets a RST
 * first, then the newcomer its SYN-ACK; the handshake completes. Returns
 * the newcomer's ISS. */
static uint32_t syn_evicts(struct th *h, uint16_t port, uint16_t victim_port)
{
	th_send_from(h, port, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	struct th_frame rst = th_next(h);

	cr_assert_eq(rst.flags & TCP_RST, TCP_RST, "no RST to the evicted");
	cr_assert_eq(rst.dport, victim_port, "evicted port %u, expected %u", rst.dport,
		     victim_port);
	struct th_frame sa = th_next(h);

	cr_assert_eq(sa.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(sa.dport, port);
	th_send_from(h, port, TH_ISN + 1, sa.seq + 1, TCP_ACK, 65535, 0, NULL, 0);
	th_none(h);
	return sa.seq;
}

/* The connection from port (our ISS iss) sends a request whose answer stays
 * in flight: the peer never acknowledges it. */
static void answer_in_flight(struct th *h, uint16_t port, uint32_t iss)
{
	h->reply = "ok";
	th_send_from(h, port, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "q", 1);
	cr_assert_eq(th_next(h).len, 2);
	h->reply = NULL;
}

Test(tcp_deadlines, a_full_table_of_idle_connections_evicts_the_longest_idle)
{
	struct th *h = small_table(TCP_COOKIES_NEVER);

	for (uint16_t p = 1; p <= 4; p++) {
		open_idle(h, p);
		th_advance(h, 1);
	}
	syn_evicts(h, 9, 1);
	cr_assert_eq(h->why, TCP_CLOSE_EVICTED);
	syn_evicts(h, 10, 2);
	cr_assert_eq(TH_ST(h, evicted_idle), 2);
	cr_assert_eq(TH_ST(h, evicted_head), 0);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_eq(h->closed, 2, "on_closed once per eviction");
	cr_assert_eq(th_gauges(h).established, 4);
	th_free(h);
}

/* The order is when a connection last became idle (its answer acknowledged),
 * and an incomplete request ranks from its first byte. */
Test(tcp_deadlines, eviction_order_follows_idleness_not_arrival)
{
	struct th *h = small_table(TCP_COOKIES_NEVER);
	uint32_t iss[5];

	for (uint16_t p = 1; p <= 4; p++) {
		iss[p] = th_open_port(h, p);    /* no request yet */
		th_advance(h, 1);
	}
	/* Port 1 begins a request it will never finish. */
	h->consume = 0;
	th_send_from(h, 1, TH_ISN + 1, iss[1] + 1, TCP_ACK, 65535, 0, "GE", 2);
	th_expect(h, TCP_ACK, iss[1] + 1, TH_ISN + 3);
	th_advance(h, 1);
	/* Port 2 makes a whole request; its answer is acknowledged. */
	h->consume = -1;
	h->reply = "ok";
	th_send_from(h, 2, TH_ISN + 1, iss[2] + 1, TCP_ACK, 65535, 0, "q", 1);
	cr_assert_eq(th_next(h).len, 2);
	th_send_from(h, 2, TH_ISN + 2, iss[2] + 3, TCP_ACK, 65535, 0, NULL, 0);
	h->reply = NULL;
	th_advance(h, 1);
	/* Port 1 trickles on: its request still began before port 2 went idle. */
	h->consume = 0;
	th_send_from(h, 1, TH_ISN + 3, iss[1] + 1, TCP_ACK, 65535, 0, "T", 1);
	th_expect(h, TCP_ACK, iss[1] + 1, TH_ISN + 4);
	th_none(h);

	syn_evicts(h, 9, 3);                    /* 3 and 4: no request since the handshake */
	syn_evicts(h, 10, 4);
	cr_assert_eq(TH_ST(h, evicted_idle), 2);
	syn_evicts(h, 11, 1);                   /* the incomplete request, before port 2 */
	cr_assert_eq(TH_ST(h, evicted_head), 1);
	syn_evicts(h, 12, 2);
	cr_assert_eq(TH_ST(h, evicted_idle), 3);
	th_free(h);
}

Test(tcp_deadlines, connections_held_or_in_flight_are_never_evicted)
{
	struct th *h = small_table(TCP_COOKIES_NEVER);
	struct tcp_conn *held;

	/* 1: an answer in flight, never acknowledged. */
	answer_in_flight(h, 1, th_open_port(h, 1));
	/* 2: its answer held for durability. */
	open_idle(h, 2);
	held = h->conn;
	tcp_hold(h->tc, held, 5);
	cr_assert_eq(tcp_send(h->tc, held, "sold", 4), 0);
	th_none(h);
	/* 3, 4: idle. */
	open_idle(h, 3);
	open_idle(h, 4);

	answer_in_flight(h, 9, syn_evicts(h, 9, 3));
	answer_in_flight(h, 10, syn_evicts(h, 10, 4));
	/* Every connection is busy: a newcomer is dropped, counted. */
	th_send_from(h, 11, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_table_full), 1);
	cr_assert_eq(TH_ST(h, evicted_idle), 2);
	cr_assert_eq(h->closed, 2);
	cr_assert_eq(th_gauges(h).conns, 4);
	/* The held answer still goes out when released. */
	cr_assert(tcp_release(h->tc, held, 5));
	cr_assert_eq(th_next(h).len, 4);
	th_free(h);
}

/* With cookies (the default), a SYN to a full table costs no connection:
 * only the ACK that brings its cookie back, a proven round trip, evicts. */
Test(tcp_deadlines, with_cookies_only_the_cookie_ack_evicts)
{
	struct th *h = small_table(TCP_COOKIES_AUTO);

	for (uint16_t p = 1; p <= 4; p++)
		open_idle(h, p);
	struct th_frame f = th_syn_port(h, 9, 1460);

	cr_assert_eq(TH_ST(h, cookies_sent), 1);
	cr_assert_eq(TH_ST(h, evicted_idle), 0, "a SYN alone evicted");
	th_send_from(h, 9, TH_ISN + 1, f.seq + 1, TCP_ACK, 65535, 0, NULL, 0);
	struct th_frame rst = th_next(h);

	cr_assert_eq(rst.flags & TCP_RST, TCP_RST);
	cr_assert_eq(rst.dport, 1);
	th_none(h);
	cr_assert_eq(TH_ST(h, cookies_accepted), 1);
	cr_assert_eq(TH_ST(h, evicted_idle), 1);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_eq(th_gauges(h).established, 4);
	th_free(h);
}

/* A connection freed otherwise (timed out, reset) leaves the order intact. */
Test(tcp_deadlines, freed_connections_leave_the_eviction_order)
{
	struct th *h = small_table(TCP_COOKIES_NEVER);

	for (uint16_t p = 1; p <= 4; p++)
		open_idle(h, p);
	th_send_from(h, 2, TH_ISN + 2, 0, TCP_RST, 0, 0, NULL, 0);
	cr_assert_eq(th_gauges(h).conns, 3);
	th_open_port(h, 5);                     /* a free entry: nothing evicted */
	cr_assert_eq(TH_ST(h, evicted_idle), 0);
	syn_evicts(h, 9, 1);
	syn_evicts(h, 10, 3);
	syn_evicts(h, 11, 4);
	syn_evicts(h, 12, 5);
	cr_assert_eq(TH_ST(h, evicted_idle), 4);
	th_free(h);
}
