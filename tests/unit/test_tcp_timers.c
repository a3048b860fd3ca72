/* Timers, driven by tcp_set_now + tcp_timers_run: SYN-ACK and data
 * retransmission with exponential back-off (RFC 6298), giving up, the RTO
 * from a measured RTT, zero-window probes, idle / FIN_WAIT_2 / LAST_ACK
 * timeouts, TIME_WAIT expiry, its bound and reuse by a newer SYN. */
#include "tcp_harness.h"

Test(tcp_timers, synack_retransmitted_1_2_4_s_then_half_open_dropped)
{
	struct th *h = th_new();
	uint32_t iss = th_syn(h, 1460).seq;

	for (uint32_t rto = 1000; rto <= 4000; rto *= 2) {
		th_just_before_and_at(h, rto);
		struct th_frame f = th_next(h);

		cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
		cr_assert_eq(f.seq, iss);
		cr_assert_eq(f.ack, TH_ISN + 1);
		cr_assert_eq(f.mss, 1460);
	}
	cr_assert_eq(TH_ST(h, synack_retrans), 3);
	th_just_before_and_at(h, 8000);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(TH_ST(h, conns_timed_out), 1);
	cr_assert_eq(h->closed, 0, "a half-open entry was never the application's");
	th_free(h);
}

Test(tcp_timers, data_backoff_doubles_and_clamps_then_gives_up)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rto_min_ms = 1000;
	conf.send_timeout_ms = 0;       /* the retries alone (test_tcp_deadlines.c: with it) */
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_app_send(h, "answer", 6);
	const uint32_t waits[] = { 1000, 2000, 4000, 8000, 10000, 10000 };

	for (int i = 0; i < 6; i++) {
		th_just_before_and_at(h, waits[i]);
		struct th_frame f = th_next(h);

		cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
		cr_assert_eq(f.seq, iss + 1);
		cr_assert_eq(f.ack, TH_ISN + 2);
		cr_assert_arr_eq(f.data, "answer", 6);
	}
	cr_assert_eq(TH_ST(h, retrans_segs), 6);
	th_just_before_and_at(h, 10000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 7, TH_ISN + 2);
	cr_assert_eq(h->why, TCP_CLOSE_RETRANS);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_free(h);
}

Test(tcp_timers, rto_follows_measured_rtt)
{
	struct th *h = th_new();
	uint32_t iss = th_syn(h, 1460).seq;

	th_advance(h, 300);        /* RTT 300 ms: SRTT 300, RTTVAR 150, RTO 900 */
	th_first_request(h, iss, "q");
	th_app_send(h, "a", 1);
	th_just_before_and_at(h, 900);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2);
	th_free(h);
}

Test(tcp_timers, rto_floor_is_rto_min)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);        /* RTT 0 */

	th_first_request(h, iss, "q");
	th_app_send(h, "a", 1);
	th_just_before_and_at(h, 200);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2);
	th_free(h);
}

Test(tcp_timers, ack_of_new_data_stops_retransmission)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_app_send(h, "ab", 2);
	th_send(h, TH_ISN + 2, iss + 3, TCP_ACK, NULL, 0);
	th_advance(h, 5000);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_timers, fin_is_retransmitted_with_the_data)
{
	struct th *h = th_new();
	uint32_t iss = th_answer_close(h, TH_PEER_PORT, "req", "ok");

	th_just_before_and_at(h, 200);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH | TCP_FIN);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.len, 2);
	/* Data acked, FIN not: only the FIN goes again. */
	th_send(h, TH_ISN + 4, iss + 3, TCP_ACK, NULL, 0);
	th_none(h);
	th_just_before_and_at(h, 400);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 3, TH_ISN + 4);
	th_free(h);
}

Test(tcp_timers, idle_connection_reset_after_idle_timeout)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_just_before_and_at(h, 30000);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 2);
	cr_assert_eq(h->why, TCP_CLOSE_IDLE);
	cr_assert_eq(TH_ST(h, conns_timed_out), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_timers, data_postpones_idle_timeout)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.first_request_timeout_ms = 0;      /* 20 s before a first byte: off for this */
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	th_advance(h, 20000);
	th_first_request(h, iss, "q");
	th_advance(h, 20000);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	th_just_before_and_at(h, 10000);
	th_next(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_timers, idle_timeout_in_small_steps)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.idle_timeout_ms = 5000;
	struct th *h = th_new_conf(&conf);

	th_open(h);
	for (int i = 0; i < 4999; i++)
		th_advance(h, 1);
	th_none(h);
	th_advance(h, 1);
	cr_assert_eq(th_next(h).flags, TCP_RST | TCP_ACK);
	th_free(h);
}

Test(tcp_timers, fin_wait_2_times_out)
{
	struct th *h = th_new();
	uint32_t iss = th_answer_close(h, TH_PEER_PORT, "req", "ok");

	th_send(h, TH_ISN + 4, iss + 4, TCP_ACK, NULL, 0);      /* FIN_WAIT_2 */
	th_just_before_and_at(h, 5000);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_IDLE);
	th_free(h);
}

Test(tcp_timers, last_ack_bounded_by_fin_timeout)
{
	struct th *h = th_new();
	uint32_t iss = th_peer_closes_first(h);

	/* FIN resent at 200, 600, 1400, 3000 ms; then the 5 s bound. */
	for (int i = 0; i < 4999; i++)
		th_advance(h, 1);
	cr_assert_eq(h->nframes - h->seen, 4);
	for (int i = 0; i < 4; i++)
		th_expect(h, TCP_ACK | TCP_FIN, iss + 1, TH_ISN + 2);
	cr_assert_eq(th_gauges(h).conns, 1);
	th_advance(h, 1);
	th_expect(h, TCP_RST | TCP_ACK, iss + 2, TH_ISN + 2);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_timers, time_wait_expires)
{
	struct th *h = th_new();

	th_close_to_time_wait(h, TH_PEER_PORT, "r", "ok");
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_just_before_and_at(h, 2000);
	cr_assert_eq(th_gauges(h).time_wait, 0);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(h->closed, 1);
	th_free(h);
}

Test(tcp_timers, time_wait_bounded_by_max_time_wait)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.max_time_wait = 2;
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 3; p++)
		th_close_to_time_wait(h, p, "r", "ok");
	cr_assert_eq(th_gauges(h).time_wait, 2);
	cr_assert_eq(th_gauges(h).conns, 2);
	cr_assert_eq(TH_ST(h, time_wait_recycled), 1);
	cr_assert_eq(h->closed, 3);
	th_free(h);
}

Test(tcp_timers, newer_syn_reopens_time_wait_tuple)
{
	struct th *h = th_new();

	th_close_to_time_wait(h, TH_PEER_PORT, "r", "ok");
	th_send_from(h, TH_PEER_PORT, TH_ISN + 100000, 0, TCP_SYN, 65535, 1460, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 100001);
	cr_assert_eq(th_gauges(h).time_wait, 0);
	cr_assert_eq(th_gauges(h).syn_rcvd, 1);
	th_free(h);
}

Test(tcp_timers, older_syn_in_time_wait_gets_challenge_ack)
{
	struct th *h = th_new();

	th_close_to_time_wait(h, TH_PEER_PORT, "r", "ok");
	th_send_from(h, TH_PEER_PORT, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 3);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_free(h);
}

Test(tcp_timers, zero_window_is_probed_then_data_flows)
{
	struct th *h = th_new();
	uint32_t iss = th_syn(h, 1460).seq;

	th_send_from(h, TH_PEER_PORT, TH_ISN + 1, iss + 1, TCP_ACK, 0, 0, "q", 1);
	th_next(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, "hello", 5), 0);
	th_none(h);                          /* window shut: hold the data */
	th_just_before_and_at(h, 200);
	struct th_frame f = th_next(h);      /* the probe: one byte */

	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.len, 1);
	cr_assert_eq(f.data[0], 'h');
	/* Still shut: the byte is not taken; the next probe backs off. */
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 1, TCP_ACK, 0, 0, NULL, 0);
	th_none(h);
	th_just_before_and_at(h, 400);
	cr_assert_eq(th_next(h).len, 1);
	/* Opens: the byte is acknowledged and the rest follows at once. */
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 2, TCP_ACK, 1000, 0, NULL, 0);
	f = th_next(h);
	cr_assert_eq(f.seq, iss + 2);
	cr_assert_eq(f.len, 4);
	cr_assert_arr_eq(f.data, "ello", 4);
	th_free(h);
}

Test(tcp_timers, timers_run_is_idempotent_without_time)
{
	struct th *h = th_new();

	th_open(h);
	for (int i = 0; i < 100; i++)
		tcp_timers_run(h->tc);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_timers, rto_is_3_s_after_synack_was_lost)
{
	struct th *h = th_new();
	uint32_t iss = th_syn(h, 1460).seq;

	th_just_before_and_at(h, 1000);
	th_next(h);                          /* SYN-ACK resent */
	th_first_request(h, iss, "q");
	th_app_send(h, "a", 1);
	th_just_before_and_at(h, 3000);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2);
	th_free(h);
}

Test(tcp_timers, lost_tx_buffer_is_counted_and_recovered_by_retransmission)
{
	struct th *h = th_new();

	h->tx_fail = true;
	th_send_from(h, TH_PEER_PORT, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_no_tx), 1);
	cr_assert_eq(th_gauges(h).syn_rcvd, 1);
	h->tx_fail = false;
	th_just_before_and_at(h, 1000);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 1);
	th_free(h);
}

Test(tcp_timers, lost_data_segment_is_retransmitted)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->reply = "answer";
	h->tx_fail = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	th_none(h);
	h->tx_fail = false;
	th_just_before_and_at(h, 200);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.ack, TH_ISN + 2);
	cr_assert_arr_eq(f.data, "answer", 6);
	th_free(h);
}

/* Lazy arming: the RTX of a second answer is armed while the entry still sits
 * at the first answer's RTX tick (200); it must fire 200 ms after its own send. */
Test(tcp_timers, rto_exact_when_armed_behind_an_earlier_entry)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);        /* RTT 0: RTO 200 */

	h->reply = "ok";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 1, TH_ISN + 2);
	th_send(h, TH_ISN + 2, iss + 3, TCP_ACK, NULL, 0);
	th_none(h);
	th_advance(h, 150);
	th_send(h, TH_ISN + 2, iss + 3, TCP_ACK, "q", 1);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 3, TH_ISN + 3);
	th_just_before_and_at(h, 200);
	th_expect(h, TCP_ACK | TCP_PSH, iss + 3, TH_ISN + 3);
	th_just_before_and_at(h, 400);       /* backed off: 400 */
	th_expect(h, TCP_ACK | TCP_PSH, iss + 3, TH_ISN + 3);
	cr_assert_eq(TH_ST(h, retrans_segs), 2);
	th_free(h);
}

/* Lazy arming: keep-alive requests every 70 ms move the entry only now and
 * then; the idle reset still comes idle_timeout_ms after the last request. */
Test(tcp_timers, idle_timeout_exact_after_keep_alive_requests)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->reply = "ok";
	for (uint32_t i = 0; i < 5; i++) {
		th_send(h, TH_ISN + 1 + i, iss + 1 + 2 * i, TCP_ACK, "q", 1);
		th_expect(h, TCP_ACK | TCP_PSH, iss + 1 + 2 * i, TH_ISN + 2 + i);
		th_send(h, TH_ISN + 2 + i, iss + 3 + 2 * i, TCP_ACK, NULL, 0);
		th_advance(h, 70);
		th_none(h);
	}
	/* Last request at 280, now 350: the reset is due at 30280. */
	th_just_before_and_at(h, 30000 - 70);
	th_expect(h, TCP_RST | TCP_ACK, iss + 11, TH_ISN + 6);
	cr_assert_eq(h->why, TCP_CLOSE_IDLE);
	cr_assert_eq(TH_ST(h, retrans_segs), 0);
	th_free(h);
}
