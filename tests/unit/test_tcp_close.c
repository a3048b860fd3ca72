/* Closing: the FIN state machine in both directions (RFC 9293 3.6), with the
 * application closing after its answer (FIN on the last data segment) or
 * after the peer's FIN, simultaneous close, and TIME_WAIT. */
#include "tcp_harness.h"

Test(tcp_close, close_after_answer_piggybacks_fin)
{
	struct th *h = th_new();

	th_answer_close(h, TH_PEER_PORT, "req", "ok");
	cr_assert_eq(th_gauges(h).closing, 1);
	cr_assert_eq(th_gauges(h).established, 0);
	th_free(h);
}

Test(tcp_close, active_close_full_sequence_to_time_wait)
{
	struct th *h = th_new();
	uint32_t iss = th_answer_close(h, TH_PEER_PORT, "req", "ok");

	/* FIN_WAIT_1 -> FIN_WAIT_2 on the ACK of data and FIN */
	th_send(h, TH_ISN + 4, iss + 4, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).closing, 1);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	/* FIN_WAIT_2 -> TIME_WAIT on the peer's FIN, which we ACK */
	th_send(h, TH_ISN + 4, iss + 4, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 4, TH_ISN + 5);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert_eq(th_gauges(h).closing, 0);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_NORMAL);
	cr_assert_eq(h->peer_fins, 0, "no on_peer_fin after the application closed");
	cr_assert_eq(TH_ST(h, conns_closed), 1);
	th_free(h);
}

Test(tcp_close, fin_and_ack_together_go_straight_to_time_wait)
{
	struct th *h = th_new();

	th_close_to_time_wait(h, TH_PEER_PORT, "req", "ok");
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_free(h);
}

Test(tcp_close, simultaneous_close_goes_through_closing)
{
	struct th *h = th_new();
	uint32_t iss = th_answer_close(h, TH_PEER_PORT, "req", "ok");

	/* The peer's FIN acknowledges our data but not our FIN: CLOSING. */
	th_send(h, TH_ISN + 4, iss + 3, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 4, TH_ISN + 5);
	cr_assert_eq(th_gauges(h).closing, 1);
	cr_assert_eq(h->closed, 0);
	/* The ACK of our FIN: TIME_WAIT. */
	th_send(h, TH_ISN + 5, iss + 4, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert_eq(h->closed, 1);
	th_free(h);
}

Test(tcp_close, peer_fin_first_then_app_close)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "req");
	th_send(h, TH_ISN + 4, iss + 1, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 5);
	cr_assert_eq(h->peer_fins, 1);
	cr_assert_eq(th_gauges(h).closing, 1);      /* CLOSE_WAIT */
	/* The application answers and closes later: data + FIN in one segment. */
	struct th_frame f = th_app_send(h, "bye", 3);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
	tcp_close(h->tc, h->conn);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 4, TH_ISN + 5);
	/* LAST_ACK -> CLOSED on the ACK of the FIN; no TIME_WAIT for us. */
	th_send(h, TH_ISN + 5, iss + 5, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_NORMAL);
	th_free(h);
}

Test(tcp_close, close_on_peer_fin_sends_fin_with_the_ack)
{
	struct th *h = th_new();
	uint32_t iss = th_peer_closes_first(h);

	th_none(h);
	th_send(h, TH_ISN + 2, iss + 2, TCP_ACK, NULL, 0);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_close, data_and_fin_in_one_segment)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->reply = "ok";
	h->close_after_reply = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK | TCP_FIN, "req", 3);
	/* Answer, FIN and the ACK of data + FIN in a single segment. */
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH | TCP_FIN);
	cr_assert_eq(f.ack, TH_ISN + 5);
	cr_assert_eq(f.len, 2);
	th_none(h);
	/* We closed first (FIN_WAIT_1), then took the FIN: CLOSING, and the
	 * ACK of our FIN leaves TIME_WAIT to us. */
	cr_assert_eq(th_gauges(h).closing, 1);
	th_send(h, TH_ISN + 5, iss + 4, TCP_ACK, NULL, 0);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_free(h);
}

Test(tcp_close, fin_after_hole_is_not_taken)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 5, iss + 1, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(h->peer_fins, 0);
	cr_assert_eq(TH_ST(h, drop_ooo), 1);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_close, retransmitted_fin_in_time_wait_is_acked_again)
{
	struct th *h = th_new();
	uint32_t iss = th_close_to_time_wait(h, TH_PEER_PORT, "req", "ok");

	th_send(h, TH_ISN + 4, iss + 4, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK, iss + 4, TH_ISN + 5);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	th_free(h);
}

Test(tcp_close, data_after_close_is_acked_and_discarded)
{
	struct th *h = th_new();
	uint32_t iss = th_answer_close(h, TH_PEER_PORT, "req", "ok");
	int calls = h->data_calls;

	th_send(h, TH_ISN + 4, iss + 4, TCP_ACK, "more", 4);
	th_expect(h, TCP_ACK, iss + 4, TH_ISN + 8);
	cr_assert_eq(h->data_calls, calls);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_free(h);
}

Test(tcp_close, send_after_close_fails)
{
	struct th *h = th_new();

	th_answer_close(h, TH_PEER_PORT, "req", "ok");
	cr_assert_not_null(h->conn);
	cr_assert_eq(tcp_send_space(h->tc, h->conn), 0);
	cr_assert_eq(tcp_send(h->tc, h->conn, "x", 1), -1);
	th_free(h);
}
