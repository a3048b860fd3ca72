/* Resets: RST for segments to no connection (RFC 9293 3.10.7.1/2), what an
 * incoming RST does (RFC 5961 3.2), challenge ACKs for in-window RST and for
 * SYN on a synchronized connection, their rate limit, and tcp_abort. */
#include "tcp_harness.h"

Test(tcp_rst, ack_to_unknown_connection_gets_rst_from_its_ack)
{
	struct th *h = th_new();

	th_send(h, 5000, 777777, TCP_ACK, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_RST);
	cr_assert_eq(f.seq, 777777);
	cr_assert_eq(f.win, 0);
	cr_assert_eq(TH_ST(h, drop_no_conn), 1);
	cr_assert_eq(TH_ST(h, rst_sent), 1);
	th_free(h);
}

Test(tcp_rst, data_without_ack_to_closed_port_gets_rst_ack)
{
	struct th *h = th_new();
	uint8_t buf[256];

	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, TH_PEER_PORT, 8080, 5000, 0, TCP_FIN,
					 65535, 0, "abc", 3));
	struct th_frame f = th_out(h, h->seen++);

	cr_assert_eq(f.sport, 8080);
	cr_assert_eq(f.dport, TH_PEER_PORT);
	cr_assert_eq(f.flags, TCP_RST | TCP_ACK);
	cr_assert_eq(f.seq, 0);
	cr_assert_eq(f.ack, 5000 + 3 + 1);
	cr_assert_eq(TH_ST(h, drop_bad_port), 1);
	cr_assert_eq(TH_ST(h, rst_sent), 1);
	th_free(h);
}

Test(tcp_rst, rst_to_unknown_connection_is_not_answered)
{
	struct th *h = th_new();

	th_send(h, 5000, 0, TCP_RST, NULL, 0);
	th_send(h, 5000, 9, TCP_RST | TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_no_conn), 2);
	th_free(h);
}

Test(tcp_rst, segment_without_ack_or_syn_in_listen_is_dropped)
{
	struct th *h = th_new();

	th_send(h, 5000, 0, TCP_PSH, "x", 1);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_no_conn), 1);
	th_free(h);
}

Test(tcp_rst, exact_rst_closes_connection)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "a");
	th_send(h, TH_ISN + 2, 0, TCP_RST, NULL, 0);
	th_none(h);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_RESET);
	cr_assert_eq(TH_ST(h, conns_reset), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_rst, in_window_rst_gets_challenge_ack)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 100, 0, TCP_RST, NULL, 0);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(h->closed, 0);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(TH_ST(h, challenge_acks), 1);
	th_free(h);
}

Test(tcp_rst, out_of_window_rst_is_ignored)
{
	struct th *h = th_new();

	th_open(h);
	th_send(h, TH_ISN + 100000, 0, TCP_RST, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(TH_ST(h, drop_out_of_window), 1);
	th_free(h);
}

Test(tcp_rst, syn_on_established_gets_challenge_ack)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send_from(h, TH_PEER_PORT, 123456, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(TH_ST(h, challenge_acks), 1);
	th_free(h);
}

Test(tcp_rst, challenge_acks_are_rate_limited_per_second)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.challenge_ack_limit = 2;
	struct th *h = th_new_conf(&conf);

	th_open(h);
	for (int i = 0; i < 5; i++)
		th_send(h, TH_ISN + 100 + (uint32_t)i, 0, TCP_RST, NULL, 0);
	th_next(h);
	th_next(h);
	th_none(h);
	cr_assert_eq(TH_ST(h, challenge_acks), 2);
	th_advance(h, 1000);
	th_send(h, TH_ISN + 100, 0, TCP_RST, NULL, 0);
	th_next(h);
	th_free(h);
}

Test(tcp_rst, ack_of_unsent_data_is_acked_and_dropped)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 1, iss + 500, TCP_ACK, "x", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(h->data_calls, 0);
	cr_assert_eq(TH_ST(h, drop_out_of_window), 1);
	th_free(h);
}

Test(tcp_rst, old_duplicate_ack_far_below_una_gets_challenge_ack)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 1, iss - 100000, TCP_ACK, "x", 1);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(TH_ST(h, challenge_acks), 1);
	cr_assert_eq(TH_ST(h, drop_out_of_window), 1);
	cr_assert_eq(h->data_calls, 0);
	th_free(h);
}

Test(tcp_rst, abort_sends_rst_and_calls_on_closed)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "a");
	tcp_abort(h->tc, h->conn);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 2);
	cr_assert_eq(h->why, TCP_CLOSE_ABORT);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_rst, abort_from_on_data_stops_processing)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->abort_on_data = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK | TCP_FIN, "a", 1);
	th_expect(h, TCP_RST | TCP_ACK, iss + 1, TH_ISN + 1);
	th_none(h);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->peer_fins, 0);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

/* RFC 9293 3.10.7.1: the reset to a SYN for a port we do not serve comes
 * from that port, so the peer's stack matches it and reports "connection
 * refused" (from port 80 it was dropped and curl waited out its timeout). */
Test(tcp_rst, syn_to_unserved_port_gets_rst_from_that_port)
{
	struct th *h = th_new();
	uint8_t buf[256];

	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, TH_PEER_PORT, 81, TH_ISN, 0, TCP_SYN,
					 65535, 1460, NULL, 0));
	cr_assert_eq(h->nframes, 1, "one reply, the reset");
	struct th_frame f = th_out(h, h->seen++);

	cr_assert(f.eth_ok && f.ip_csum_ok && f.tcp_csum_ok);
	cr_assert_eq(f.src_ip, TH_OUR_IP);
	cr_assert_eq(f.dst_ip, TH_PEER_IP);
	cr_assert_eq(f.sport, 81);
	cr_assert_eq(f.dport, TH_PEER_PORT);
	cr_assert_eq(f.flags, TCP_RST | TCP_ACK);
	cr_assert_eq(f.seq, 0);
	cr_assert_eq(f.ack, TH_ISN + 1);
	cr_assert_eq(f.len, 0);
	cr_assert_eq(TH_ST(h, drop_bad_port), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_advance(h, 5000);
	th_none(h);
	th_free(h);
}
