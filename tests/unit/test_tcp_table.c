/* The connection table: capacity, the policy when full (recycle the oldest
 * TIME_WAIT entry, else cookies or drop), the cap on TIME_WAIT, many
 * connections side by side, and 10,000 connections opened and closed in
 * sequence leaving nothing behind. */
#include "tcp_harness.h"

Test(tcp_table, full_table_drops_syn_without_cookies)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 8;
	conf.syn_backlog = 8;
	conf.tx_bufs = 8;
	struct th *h = th_new_conf(&conf);

	/* Each has an answer in flight: none may be evicted (test_tcp_deadlines.c
	 * has a table of idle ones). */
	h->reply = "a";
	for (uint16_t p = 1; p <= 8; p++) {
		uint32_t iss = th_open_port(h, p);

		th_send_from(h, p, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "q", 1);
		th_next(h);
	}
	cr_assert_eq(th_gauges(h).conns, 8);
	th_send_from(h, 9, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_table_full), 1);
	th_free(h);
}

Test(tcp_table, full_table_answers_cookie_and_drops_its_ack_until_room)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 4;
	conf.syn_backlog = 4;
	conf.cookies = TCP_COOKIES_AUTO;
	conf.tx_bufs = 4;
	struct th *h = th_new_conf(&conf);
	struct tcp_conn *victim = NULL;

	h->reply = "y";                 /* answers in flight: none may be evicted */
	for (uint16_t p = 1; p <= 4; p++) {
		uint32_t iss = th_open_port(h, p);

		th_send_from(h, p, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "x", 1);
		th_next(h);
		if (p == 2)
			victim = h->conn;
	}
	struct th_frame f = th_syn_port(h, 9, 1460);

	cr_assert_eq(TH_ST(h, cookies_sent), 1);
	/* Valid cookie, no entry: dropped without a RST. */
	th_send_from(h, 9, TH_ISN + 1, f.seq + 1, TCP_ACK, 65535, 0, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_table_full), 1);
	/* Room appears; the client's retransmitted ACK gets in. */
	tcp_abort(h->tc, victim);
	th_next(h);
	th_send_from(h, 9, TH_ISN + 1, f.seq + 1, TCP_ACK, 65535, 0, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 4);
	cr_assert_eq(TH_ST(h, cookies_accepted), 1);
	th_free(h);
}

Test(tcp_table, connections_are_kept_apart)
{
	struct th *h = th_new();
	uint32_t iss[65];

	for (uint16_t p = 1; p <= 64; p++)
		iss[p] = th_open_port(h, p);
	th_reset_capture(h);
	/* Free every other one (unlinking from the middle of chains). */
	for (uint16_t p = 2; p <= 64; p += 2) {
		th_send_from(h, p, TH_ISN + 1, 0, TCP_RST, 65535, 0, NULL, 0);
		th_none(h);
	}
	cr_assert_eq(th_gauges(h).conns, 32);
	for (uint16_t p = 1; p <= 64; p += 2) {
		th_send_from(h, p, TH_ISN + 1, iss[p] + 1, TCP_ACK, 65535, 0, "abc", p % 3 + 1);
		struct th_frame f = th_next(h);

		cr_assert_eq(f.dport, p);
		cr_assert_eq(f.seq, iss[p] + 1);
		cr_assert_eq(f.ack, TH_ISN + 1 + p % 3 + 1);
	}
	/* The freed entries are reused. */
	for (uint16_t p = 100; p < 132; p++)
		th_open_port(h, p);
	cr_assert_eq(th_gauges(h).conns, 64);
	th_free(h);
}

/* One whole exchange on port p: open, request, answer + FIN, close. The
 * peer closes first on odd i (LAST_ACK), we do on even i (TIME_WAIT). */
static void one_exchange(struct th *h, uint16_t p, bool we_close)
{
	const char *ok = "HTTP/1.1 200 OK\r\n\r\n";

	h->close_on_peer_fin = !we_close;
	if (we_close) {
		th_close_to_time_wait(h, p, "GET", ok);
	} else {
		uint32_t iss = th_open_port(h, p);

		h->reply = ok;
		h->close_after_reply = false;
		th_send_from(h, p, TH_ISN + 1, iss + 1, TCP_ACK | TCP_FIN, 65535, 0, "GET", 3);
		/* Answer, our FIN and the ACK of theirs in one segment. */
		struct th_frame f = th_next(h);

		cr_assert_eq(f.flags, TCP_ACK | TCP_PSH | TCP_FIN);
		cr_assert_eq(f.ack, TH_ISN + 5);
		th_send_from(h, p, TH_ISN + 5, iss + 21, TCP_ACK, 65535, 0, NULL, 0);
	}
	th_none(h);
}

Test(tcp_table, ten_thousand_connections_in_sequence_leave_nothing)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 64;
	conf.max_time_wait = 32;
	struct th *h = th_new_conf(&conf);
	struct tcp_gauges g;

	for (uint32_t i = 0; i < 10000; i++) {
		th_reset_capture(h);
		one_exchange(h, (uint16_t)(1024 + i), i % 2 == 0);
		th_advance(h, 1);
	}
	th_advance(h, 2000);                   /* TIME_WAIT runs out */
	tcp_core_gauges(h->tc, &g);
	cr_assert_eq(g.conns, 0);
	cr_assert_eq(g.syn_rcvd + g.established + g.closing + g.time_wait, 0);
	cr_assert_eq(g.rx_bufs_used, 0);
	cr_assert_eq(g.tx_bufs_used, 0);
	cr_assert_eq(TH_ST(h, conns_opened), 10000);
	cr_assert_eq(TH_ST(h, conns_closed), 10000);
	cr_assert_eq(h->closed, 10000);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_gt(TH_ST(h, time_wait_recycled), 0);
	th_free(h);
}

/* We close first: the entry for port p ends in TIME_WAIT. */
static void to_time_wait(struct th *h, uint16_t p)
{
	th_reset_capture(h);
	one_exchange(h, p, true);
}

/* Whether port p still has an entry: a resent FIN of the peer is ACKed in
 * TIME_WAIT; without an entry it is answered by a RST. */
static bool still_in_time_wait(struct th *h, uint16_t p)
{
	th_reset_capture(h);
	th_send_from(h, p, TH_ISN + 4, 0, TCP_ACK | TCP_FIN, 65535, 0, NULL, 0);
	struct th_frame f = th_next(h);

	th_none(h);
	return !(f.flags & TCP_RST);
}

/* A full table of 4: ports 1 and 2 in TIME_WAIT (1 the older), 3 and 4
 * established. */
static struct th *full_with_two_time_waits(enum tcp_cookie_mode cookies)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 4;
	conf.syn_backlog = 4;
	conf.cookies = cookies;
	struct th *h = th_new_conf(&conf);

	to_time_wait(h, 1);
	to_time_wait(h, 2);
	th_open_port(h, 3);
	th_open_port(h, 4);
	cr_assert_eq(th_gauges(h).conns, 4);
	return h;
}

Test(tcp_table, max_time_wait_is_capped_at_half_the_table)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 8;                     /* max_time_wait stays 4096 */
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 6; p++)
		to_time_wait(h, p);
	cr_assert_eq(th_gauges(h).time_wait, 4);
	cr_assert_eq(th_gauges(h).conns, 4);
	cr_assert_eq(TH_ST(h, time_wait_recycled), 2);
	th_free(h);
}

Test(tcp_table, full_table_syn_takes_the_oldest_time_wait_entry)
{
	struct th *h = full_with_two_time_waits(TCP_COOKIES_NEVER);

	th_reset_capture(h);
	struct th_frame f = th_syn_port(h, 9, 1460);

	cr_assert_eq(f.dport, 9);
	cr_assert_eq(TH_ST(h, time_wait_recycled), 1);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert_eq(th_gauges(h).syn_rcvd, 1);
	cr_assert(still_in_time_wait(h, 2), "the newer TIME_WAIT entry must stay");
	cr_assert(!still_in_time_wait(h, 1), "the oldest TIME_WAIT entry is the one taken");
	th_free(h);
}

Test(tcp_table, restarted_time_wait_becomes_the_newest)
{
	struct th *h = full_with_two_time_waits(TCP_COOKIES_NEVER);

	th_advance(h, 1000);
	/* Port 1's FIN again (our ACK was lost): its 2 MSL start over, so it
	 * now expires after port 2's. */
	cr_assert(still_in_time_wait(h, 1));
	th_syn_port(h, 9, 1460);
	cr_assert(still_in_time_wait(h, 1));
	cr_assert(!still_in_time_wait(h, 2));
	/* Port 1 expires 2 s after its restart, not 2 s after it entered. */
	th_advance(h, 1999);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_advance(h, 1);
	cr_assert_eq(th_gauges(h).time_wait, 0);
	th_free(h);
}

Test(tcp_table, full_table_cookie_ack_takes_the_oldest_time_wait_entry)
{
	struct th *h = full_with_two_time_waits(TCP_COOKIES_ALWAYS);

	th_reset_capture(h);
	struct th_frame f = th_syn_port(h, 9, 1460);

	th_send_from(h, 9, TH_ISN + 1, f.seq + 1, TCP_ACK, 65535, 0, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, cookies_accepted), 5);
	cr_assert_eq(TH_ST(h, time_wait_recycled), 1);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_eq(th_gauges(h).established, 3);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert(still_in_time_wait(h, 2));
	th_free(h);
}

/* The dataplane's case in small: a table far smaller than the number of
 * connections the server closes within one TIME_WAIT period. */
Test(tcp_table, server_closed_connections_never_find_the_table_full)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 16;
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 200; p++)
		to_time_wait(h, p);
	cr_assert_eq(TH_ST(h, conns_opened), 200);
	cr_assert_eq(TH_ST(h, drop_table_full), 0);
	cr_assert_eq(th_gauges(h).time_wait, 8);
	cr_assert_eq(TH_ST(h, time_wait_recycled), 192);
	th_free(h);
}

/* xorshift32: a fixed sequence, so a failure replays. */
static uint32_t rnd_state = 0x9e3779b9;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Random segments (random flags, sequence numbers near and far, payloads)
 * from a few ports, mixed with the clock moving on: the gauges always add
 * up, no more buffers are held than connections exist, and after every
 * timeout has run the core is empty. */
Test(tcp_table, random_segments_keep_invariants)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_conns = 8;
	conf.syn_backlog = 4;
	conf.cookies = TCP_COOKIES_AUTO;
	conf.mss = 536;
	conf.rx_buf = 536;                      /* the smallest allowed... */
	struct th *h = th_new_conf(&conf);
	uint32_t last_seq[8] = { 0 }, last_ack[8] = { 0 };
	uint8_t payload[600];                   /* ...and segments that fill it */

	memset(payload, 'r', sizeof(payload));
	h->reply = "HTTP/1.1 200 OK\r\n\r\n";
	h->send_may_fail = true;
	for (int i = 0; i < 200000; i++) {
		uint32_t r = rnd(), p = r % 8, kind = (r >> 3) % 16;
		/* Mostly what a peer would send next, sometimes anything. */
		uint32_t seq = (r & 0x7000) ? last_seq[p] : last_seq[p] + rnd() % 200 - 100;
		uint32_t ack = (r & 0x38000) ? last_ack[p] : last_ack[p] + rnd() % 200 - 100;
		uint32_t len = 0;
		uint8_t flags;

		if (kind < 2) {
			flags = TCP_SYN;
			seq = rnd();
		} else if (kind < 9) {
			flags = TCP_ACK | TCP_PSH;
			len = rnd() % sizeof(payload);
		} else if (kind < 11) {
			flags = TCP_ACK | TCP_FIN;
			len = rnd() % 3;
		} else if (kind < 12) {
			flags = TCP_RST | ((r & 0x40000) ? TCP_ACK : 0);
		} else if (kind < 14) {
			flags = TCP_ACK;
		} else {
			flags = (uint8_t)(rnd() & 0x3f);
			seq = rnd();
			ack = rnd();
			len = rnd() % sizeof(payload);
		}
		h->consume = (r & 0x80000) ? -1 : (int32_t)(rnd() % 8);
		h->close_after_reply = (r & 0x100000) != 0;
		h->close_on_peer_fin = (r & 0x200000) != 0;
		th_reset_capture(h);
		th_send_from(h, (uint16_t)(1 + p), seq, ack, flags, (uint16_t)rnd(), 0, payload,
			     len);
		/* Learn from our replies, as a real peer would. */
		for (int k = 0; k < h->nframes; k++) {
			struct th_frame f = th_out(h, k);

			cr_assert(f.ip_csum_ok && f.tcp_csum_ok);
			if (f.dport >= 1 && f.dport <= 8) {
				last_seq[f.dport - 1] = f.ack;
				last_ack[f.dport - 1] = f.seq + f.len + !!(f.flags & (TCP_SYN | TCP_FIN));
			}
		}
		if ((r & 0x3c00000) == 0)
			th_advance(h, rnd() % 3000);
		struct tcp_gauges g = th_gauges(h);

		cr_assert_eq(g.conns, g.syn_rcvd + g.established + g.closing + g.time_wait);
		cr_assert_leq(g.conns, 8);
		cr_assert_leq(g.rx_bufs_used, g.conns);
		cr_assert_leq(g.tx_bufs_used, g.conns);
	}
	th_reset_capture(h);
	for (int i = 0; i < 100; i++)
		th_advance(h, 1000);
	struct tcp_gauges g = th_gauges(h);

	cr_assert_eq(g.conns, 0);
	cr_assert_eq(g.rx_bufs_used + g.tx_bufs_used, 0);
	cr_log_info("random: opened %lu cookies %lu/%lu reset %lu timed_out %lu chal %lu ooo %lu "
		    "dup %lu rx_bytes %lu data_calls %d send_fails %d", (unsigned long)TH_ST(h, conns_opened),
		    (unsigned long)TH_ST(h, cookies_accepted), (unsigned long)TH_ST(h, cookies_sent),
		    (unsigned long)TH_ST(h, conns_reset), (unsigned long)TH_ST(h, conns_timed_out),
		    (unsigned long)TH_ST(h, challenge_acks), (unsigned long)TH_ST(h, drop_ooo),
		    (unsigned long)TH_ST(h, drop_dup), (unsigned long)TH_ST(h, rx_bytes),
		    h->data_calls, h->send_fails);
	cr_assert_eq(TH_ST(h, conns_opened), TH_ST(h, conns_closed));
	cr_assert_gt(TH_ST(h, conns_opened), 1000);
	cr_assert_leq(h->rx_total, TH_ST(h, rx_bytes), "the application took bytes never accepted");
	th_free(h);
}
