/* Loss recovery: a retransmission timeout goes back to the oldest
 * unacknowledged byte and each ACK of resent data brings the next segments
 * out at once (go-back-N, RFC 6298 5.4 the BSD way), with a congestion window
 * that restarts at one MSS and doubles per round trip; a window shut or
 * shrunk over data in flight; and ACK-only segments whose sequence number
 * stays inside the peer's window so that it does not discard them. */
#include "tcp_harness.h"

#define MSS 1460u

static uint8_t pattern[32768];

/* Opens a connection (RTT 0, so RTO = rto_min = 200 ms), has the peer send
 * one byte, and queues len bytes of answer from outside the callback. The
 * segments that go out at once are left for the test to read. Returns ISS. */
static uint32_t open_and_send(struct th *h, uint32_t len)
{
	uint32_t iss = th_open(h);

	for (uint32_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)('a' + i % 26);
	th_first_request(h, iss, "q");
	cr_assert_eq(tcp_send(h->tc, h->conn, pattern, len), 0);
	return iss;
}

/* The next frame is a data segment of len bytes at seq (payload checked). */
static void expect_data(struct th *h, uint32_t iss, uint32_t seq, uint32_t len)
{
	struct th_frame f = th_next(h);

	cr_assert_eq(f.seq, seq, "seq %u, expected %u (offset %u)", f.seq, seq, seq - iss - 1);
	cr_assert_eq(f.len, len, "len %u, expected %u", f.len, len);
	cr_assert_eq(f.ack, TH_ISN + 2);
	cr_assert_eq(f.flags & (TCP_ACK | TCP_SYN | TCP_RST), TCP_ACK);
	cr_assert_arr_eq(f.data, pattern + (seq - iss - 1), len);
}

/* A peer ACK of ack with window win, no data. */
static void peer_ack(struct th *h, uint32_t ack, uint16_t win)
{
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, ack, TCP_ACK, win, 0, NULL, 0);
}

/* A flight of three full segments, all lost. */
static uint32_t lost_flight_of_three(struct th *h)
{
	uint32_t iss = open_and_send(h, 3 * MSS);

	for (uint32_t i = 0; i < 3; i++)
		expect_data(h, iss, iss + 1 + i * MSS, MSS);
	th_none(h);
	return iss;
}

Test(tcp_recovery, rto_resends_the_oldest_segment_first)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_just_before_and_at(h, 200);
	expect_data(h, iss, iss + 1, MSS);
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 1);
	th_free(h);
}

Test(tcp_recovery, ack_of_resent_segment_sends_the_next_two_at_once)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_advance(h, 200);
	expect_data(h, iss, iss + 1, MSS);
	peer_ack(h, iss + 1 + MSS, 65535);
	expect_data(h, iss, iss + 1 + MSS, MSS);
	expect_data(h, iss, iss + 1 + 2 * MSS, MSS);
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 3);
	/* Everything acknowledged: nothing more goes out, the buffer is free. */
	peer_ack(h, iss + 1 + 3 * MSS, 65535);
	th_advance(h, 5000);
	th_none(h);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_free(h);
}

Test(tcp_recovery, partial_ack_sends_nothing_twice_and_the_timer_resends_the_rest)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_advance(h, 200);                     /* RTO, backed off to 400 ms */
	expect_data(h, iss, iss + 1, MSS);
	peer_ack(h, iss + 1 + MSS, 65535);
	expect_data(h, iss, iss + 1 + MSS, MSS);
	expect_data(h, iss, iss + 1 + 2 * MSS, MSS);
	/* Only the second arrives: the third is already on its way again. */
	peer_ack(h, iss + 1 + 2 * MSS, 65535);
	th_none(h);
	/* It was lost too: the restarted timer (400 ms) resends it alone. */
	th_just_before_and_at(h, 400);
	expect_data(h, iss, iss + 1 + 2 * MSS, MSS);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, ack_of_first_copies_beyond_snd_nxt_is_accepted)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_advance(h, 200);
	expect_data(h, iss, iss + 1, MSS);
	/* The originals were only late: one ACK covers the whole flight,
	 * beyond what this round resent. */
	peer_ack(h, iss + 1 + 3 * MSS, 65535);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_out_of_window), 0);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_advance(h, 5000);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, cwnd_restarts_at_one_mss_and_doubles_per_round_trip)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.tx_buf = 16384;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = open_and_send(h, 7 * MSS);

	for (uint32_t i = 0; i < 7; i++)
		expect_data(h, iss, iss + 1 + i * MSS, MSS);
	th_advance(h, 200);
	expect_data(h, iss, iss + 1, MSS);               /* cwnd 1 MSS */
	th_none(h);
	peer_ack(h, iss + 1 + MSS, 65535);               /* cwnd 2 MSS */
	expect_data(h, iss, iss + 1 + MSS, MSS);
	expect_data(h, iss, iss + 1 + 2 * MSS, MSS);
	th_none(h);
	peer_ack(h, iss + 1 + 2 * MSS, 65535);           /* 3 MSS, 1 in flight */
	expect_data(h, iss, iss + 1 + 3 * MSS, MSS);
	expect_data(h, iss, iss + 1 + 4 * MSS, MSS);
	th_none(h);
	peer_ack(h, iss + 1 + 3 * MSS, 65535);           /* 4 MSS, 2 in flight */
	expect_data(h, iss, iss + 1 + 5 * MSS, MSS);
	expect_data(h, iss, iss + 1 + 6 * MSS, MSS);
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 7);
	th_free(h);
}

Test(tcp_recovery, initial_window_is_ten_segments)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.tx_buf = 32768;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = open_and_send(h, 12 * MSS);

	for (uint32_t i = 0; i < 10; i++)
		expect_data(h, iss, iss + 1 + i * MSS, MSS);
	th_none(h);
	/* Slow start: one ACK of two segments opens room for two more. */
	peer_ack(h, iss + 1 + 2 * MSS, 65535);
	expect_data(h, iss, iss + 1 + 10 * MSS, MSS);
	expect_data(h, iss, iss + 1 + 11 * MSS, MSS);
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 0);
	th_free(h);
}

Test(tcp_recovery, fin_follows_the_resent_flight)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	tcp_close(h->tc, h->conn);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 1 + 3 * MSS, TH_ISN + 2);
	th_advance(h, 200);
	expect_data(h, iss, iss + 1, MSS);
	th_none(h);
	peer_ack(h, iss + 1 + MSS, 65535);
	expect_data(h, iss, iss + 1 + MSS, MSS);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.seq, iss + 1 + 2 * MSS);
	cr_assert_eq(f.len, MSS);
	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH | TCP_FIN);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, window_shut_over_a_flight_then_reopened_resends_it_at_once)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	/* The peer took nothing and shut its window: the flight is gone. */
	peer_ack(h, iss + 1, 0);
	th_none(h);
	/* It opens again before any timeout: all of it goes out now. */
	peer_ack(h, iss + 1, 65535);
	for (uint32_t i = 0; i < 3; i++)
		expect_data(h, iss, iss + 1 + i * MSS, MSS);
	th_none(h);
	cr_assert_eq(TH_ST(h, retrans_segs), 3);
	th_free(h);
}

Test(tcp_recovery, zero_window_probe_then_opening_sends_the_rest_at_once)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	/* The first segment got in, then the window shut. */
	peer_ack(h, iss + 1 + MSS, 0);
	th_none(h);
	th_just_before_and_at(h, 200);
	expect_data(h, iss, iss + 1 + MSS, 1);           /* the probe: one byte */
	th_none(h);
	/* Not taken, still shut: the probe does not count as sent data. */
	peer_ack(h, iss + 1 + MSS, 0);
	th_none(h);
	/* Open: the two segments go at once, full sized (a shut window is not
	 * congestion, the window was not cut). */
	peer_ack(h, iss + 1 + MSS, 65535);
	expect_data(h, iss, iss + 1 + MSS, MSS);
	expect_data(h, iss, iss + 1 + 2 * MSS, MSS);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, lone_fin_is_not_resent_on_each_zero_window_ack)
{
	struct th *h = th_new();
	uint32_t iss = open_and_send(h, 5);

	expect_data(h, iss, iss + 1, 5);
	peer_ack(h, iss + 6, 65535);
	tcp_close(h->tc, h->conn);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 6, TH_ISN + 2);
	peer_ack(h, iss + 6, 0);
	peer_ack(h, iss + 6, 0);
	th_none(h);
	th_just_before_and_at(h, 200);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 6, TH_ISN + 2);
	th_free(h);
}

Test(tcp_recovery, pure_ack_seq_stays_inside_a_shrunk_window)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	/* The peer shrank its window to 1000 bytes past what it has. */
	peer_ack(h, iss + 1, 1000);
	th_none(h);
	/* Its next request must be acknowledged with a sequence number it
	 * accepts: the right edge of its window, not snd_nxt beyond it. */
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 1000, 0, "r", 1);
	th_expect(h, TCP_ACK, iss + 1001, TH_ISN + 3);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, pure_ack_seq_after_rto_is_inside_a_shut_window)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_advance(h, 200);
	expect_data(h, iss, iss + 1, MSS);
	/* Nothing arrived and the window is shut: snd_una is the only
	 * sequence number the peer takes. */
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 0, 0, "r", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 3);
	th_none(h);
	th_free(h);
}

Test(tcp_recovery, pure_ack_seq_is_snd_nxt_inside_the_window)
{
	struct th *h = th_new();
	uint32_t iss = lost_flight_of_three(h);

	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 65535, 0, "r", 1);
	th_expect(h, TCP_ACK, iss + 1 + 3 * MSS, TH_ISN + 3);
	th_free(h);
}

Test(tcp_recovery, gives_up_after_data_retries_timeouts_without_progress)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.send_timeout_ms = 0;       /* the retries alone (test_tcp_deadlines.c: with it) */
	struct th *h = th_new_conf(&conf);
	uint32_t iss = lost_flight_of_three(h);
	uint32_t rto = 200;

	for (int i = 0; i < 6; i++) {
		th_just_before_and_at(h, rto);
		expect_data(h, iss, iss + 1, MSS);
		th_none(h);
		rto *= 2;
	}
	th_advance(h, 10000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1 + MSS, TH_ISN + 2);
	cr_assert_eq(h->why, TCP_CLOSE_RETRANS);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}
