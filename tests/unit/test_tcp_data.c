/* In-order data: delivery to on_data, answers piggybacking the ACK, the
 * receive window, dropping what is out of order or duplicate, MSS and window
 * limits on what we send, and the receive buffer pool. */
#include "tcp_harness.h"

static char big[8192];

Test(tcp_data, request_delivered_and_answer_carries_ack)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->reply = "HTTP/1.1 200 OK\r\n\r\n";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK | TCP_PSH, "GET / HTTP/1.1\r\n\r\n", 18);
	cr_assert_eq(h->data_calls, 1);
	cr_assert_eq(h->rx_total, 18);
	cr_assert_arr_eq(h->rx, "GET / HTTP/1.1\r\n\r\n", 18);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.ack, TH_ISN + 1 + 18);
	cr_assert_eq(f.win, 4096);
	cr_assert_eq(f.len, 19);
	cr_assert_arr_eq(f.data, "HTTP/1.1 200 OK\r\n\r\n", 19);
	th_none(h);
	cr_assert_eq(TH_ST(h, rx_bytes), 18);
	cr_assert_eq(TH_ST(h, tx_bytes), 19);
	th_free(h);
}

Test(tcp_data, pure_ack_when_nothing_to_send)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "abc", 3);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 4);
	th_none(h);
	th_free(h);
}

Test(tcp_data, answer_acked_releases_tx_buffer)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->reply = "12345";
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "x", 1);
	th_next(h);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 1);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_send(h, TH_ISN + 2, iss + 6, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	th_free(h);
}

Test(tcp_data, unconsumed_bytes_are_kept_and_shrink_window)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 0;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "GET /", 5);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.ack, TH_ISN + 6);
	cr_assert_eq(f.win, 4096 - 5);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 1);
	h->consume = -1;
	th_send(h, TH_ISN + 6, iss + 1, TCP_ACK, " HTTP", 5);
	cr_assert_eq(h->data_calls, 2);
	cr_assert_eq(h->last_offer, 10);
	cr_assert_arr_eq(h->rx, "GET / HTTP", 10);
	f = th_next(h);
	cr_assert_eq(f.ack, TH_ISN + 11);
	cr_assert_eq(f.win, 4096);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_free(h);
}

Test(tcp_data, partial_consume_keeps_the_rest)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 2;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "abcdef", 6);
	cr_assert_eq(th_next(h).win, 4096 - 4);
	h->consume = -1;
	th_send(h, TH_ISN + 7, iss + 1, TCP_ACK, "g", 1);
	cr_assert_eq(h->last_offer, 5);
	cr_assert_arr_eq(h->rx, "abcdefg", 7);
	th_free(h);
}

Test(tcp_data, out_of_order_segment_acked_and_dropped)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 11, iss + 1, TCP_ACK, "later", 5);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1);
	cr_assert_eq(h->data_calls, 0);
	cr_assert_eq(TH_ST(h, drop_ooo), 1);
	th_free(h);
}

Test(tcp_data, duplicate_segment_acked_and_dropped)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "abc");
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "abc", 3);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 4);
	cr_assert_eq(h->data_calls, 1);
	cr_assert_eq(TH_ST(h, drop_dup), 1);
	th_free(h);
}

Test(tcp_data, overlapping_segment_delivers_only_new_bytes)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "abc");
	th_send(h, TH_ISN + 2, iss + 1, TCP_ACK, "bcdef", 5);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 7);
	cr_assert_eq(h->rx_total, 6);
	cr_assert_arr_eq(h->rx, "abcdef", 6);
	th_free(h);
}

Test(tcp_data, segment_beyond_window_is_trimmed)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_buf = 1460;                     /* the smallest: one full segment */
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	memset(big, 'k', 1000);
	h->consume = 0;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, big, 1000);
	cr_assert_eq(th_next(h).win, 460);
	th_send(h, TH_ISN + 1001, iss + 1, TCP_ACK, big, 1000);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.ack, TH_ISN + 1461);
	cr_assert_eq(f.win, 0);
	cr_assert_eq(h->last_offer, 1460);
	th_free(h);
}

Test(tcp_data, zero_window_segment_gets_ack_only)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_buf = 1460;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	memset(big, 'd', 1460);
	h->consume = 0;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, big, 1460);
	cr_assert_eq(th_next(h).win, 0);
	th_send(h, TH_ISN + 1461, iss + 1, TCP_ACK, "e", 1);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.ack, TH_ISN + 1461);
	cr_assert_eq(f.win, 0);
	cr_assert_eq(h->data_calls, 1);
	th_free(h);
}

Test(tcp_data, answer_split_at_peer_mss)
{
	struct th *h = th_new();

	memset(big, 'z', 1200);
	big[1200] = 0;
	uint32_t iss = th_syn(h, 536).seq;

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, NULL, 0);
	h->reply = big;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	struct th_frame a = th_next(h), b = th_next(h), c = th_next(h);

	th_none(h);
	cr_assert_eq(a.len, 536);
	cr_assert_eq(a.seq, iss + 1);
	cr_assert_eq(b.len, 536);
	cr_assert_eq(b.seq, iss + 537);
	cr_assert_eq(c.len, 128);
	cr_assert_eq(c.seq, iss + 1073);
	cr_assert_eq(c.ack, TH_ISN + 2);
	cr_assert_eq(c.flags, TCP_ACK | TCP_PSH);
	th_free(h);
}

Test(tcp_data, no_mss_option_means_536)
{
	struct th *h = th_new();

	memset(big, 'y', 600);
	big[600] = 0;
	uint32_t iss = th_syn(h, 0).seq;

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, NULL, 0);
	h->reply = big;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	cr_assert_eq(th_next(h).len, 536);
	cr_assert_eq(th_next(h).len, 64);
	th_free(h);
}

Test(tcp_data, peer_window_limits_sending_until_acked)
{
	struct th *h = th_new();

	memset(big, 'w', 1000);
	big[1000] = 0;
	th_send_from(h, TH_PEER_PORT, TH_ISN, 0, TCP_SYN, 300, 1460, NULL, 0);
	uint32_t iss = th_next(h).seq;

	th_send_from(h, TH_PEER_PORT, TH_ISN + 1, iss + 1, TCP_ACK, 300, 0, NULL, 0);
	h->reply = big;
	th_send_from(h, TH_PEER_PORT, TH_ISN + 1, iss + 1, TCP_ACK, 300, 0, "q", 1);
	cr_assert_eq(th_next(h).len, 300);
	th_none(h);
	/* The peer takes the 300 bytes and opens 1000. */
	th_send_from(h, TH_PEER_PORT, TH_ISN + 2, iss + 301, TCP_ACK, 1000, 0, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.seq, iss + 301);
	cr_assert_eq(f.len, 700);
	th_none(h);
	th_free(h);
}

Test(tcp_data, tcp_send_is_all_or_nothing)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, NULL, 0);
	cr_assert_not_null(th_cur);
	/* Find the connection through a data call. */
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "a", 1);
	cr_assert_not_null(h->conn);
	cr_assert_eq(tcp_send_space(h->tc, h->conn), 8192);
	cr_assert_eq(tcp_send(h->tc, h->conn, big, 8193), -1);
	cr_assert_eq(tcp_send(h->tc, h->conn, big, 0), 0);
	cr_assert_eq(tcp_conn_peer_port(h->conn), TH_PEER_PORT);
	cr_assert_eq(tcp_conn_peer_ip(h->conn), TH_PEER_IP);
	cr_assert_eq(*tcp_conn_app(h->conn), 0);
	th_free(h);
}

Test(tcp_data, send_outside_callback_goes_out_at_once)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "a");
	struct th_frame f = th_app_send(h, "later", 5);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.ack, TH_ISN + 2);
	cr_assert_arr_eq(f.data, "later", 5);
	th_free(h);
}

Test(tcp_data, ack_freeing_space_reoffers_buffered_bytes)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.tx_buf = 8000;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	memset(big, 'b', sizeof(big));
	/* First request: answer 5000 bytes (peer window 65535, MSS 1460). */
	h->reply = NULL;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "r1", 2);
	th_next(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, big, 5000), 0);
	for (int i = 0; i < 4; i++)
		th_next(h);
	/* Second request arrives; the app cannot answer yet: it keeps it. */
	h->consume = 0;
	th_send(h, TH_ISN + 3, iss + 1, TCP_ACK, "r2", 2);
	cr_assert_eq(h->data_calls, 2);
	th_next(h);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 1);
	/* The ACK of the answer frees space: the kept bytes are offered again. */
	h->consume = -1;
	th_send(h, TH_ISN + 5, iss + 5001, TCP_ACK, NULL, 0);
	cr_assert_eq(h->data_calls, 3);
	cr_assert_eq(h->last_offer, 2);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_free(h);
}

Test(tcp_data, empty_rx_pool_drops_and_does_not_ack)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_bufs = 1;
	struct th *h = th_new_conf(&conf);
	uint32_t a = th_open_port(h, 1001), b = th_open_port(h, 1002);

	h->consume = 0;
	th_send_from(h, 1001, TH_ISN + 1, a + 1, TCP_ACK, 65535, 0, "aaaa", 4);
	cr_assert_eq(th_next(h).ack, TH_ISN + 5);
	th_send_from(h, 1002, TH_ISN + 1, b + 1, TCP_ACK, 65535, 0, "bbbb", 4);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.ack, TH_ISN + 1, "bytes without a buffer must not be acked");
	cr_assert_eq(f.win, 4096);
	cr_assert_eq(TH_ST(h, drop_no_buf), 1);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 1);
	th_free(h);
}

Test(tcp_data, consumed_without_buffer_needs_no_pool)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_bufs = 1;
	struct th *h = th_new_conf(&conf);
	uint32_t a = th_open_port(h, 1001), b = th_open_port(h, 1002);

	h->consume = 0;
	th_send_from(h, 1001, TH_ISN + 1, a + 1, TCP_ACK, 65535, 0, "aaaa", 4);
	th_next(h);
	h->consume = 2;   /* half is taken straight from the segment */
	th_send_from(h, 1002, TH_ISN + 1, b + 1, TCP_ACK, 65535, 0, "bbbb", 4);
	cr_assert_eq(th_next(h).ack, TH_ISN + 3);
	th_free(h);
}

Test(tcp_data, window_update_sent_when_kept_bytes_drain)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.rx_buf = 1460;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "a");
	th_app_send(h, "xy", 2);
	memset(big, 'c', 1460);
	h->consume = 0;
	th_send(h, TH_ISN + 2, iss + 1, TCP_ACK, big, 1460);
	cr_assert_eq(th_next(h).win, 0);
	/* The ACK of "xy" frees send space: the kept bytes are offered, taken,
	 * and the reopened window is announced. */
	h->consume = -1;
	th_send(h, TH_ISN + 1462, iss + 3, TCP_ACK, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 1462);
	cr_assert_eq(f.win, 1460);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_free(h);
}

Test(tcp_data, nothing_buffered_means_zero_copy_delivery)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);
	uint8_t buf[256];
	uint32_t n = th_build(buf, TH_PEER_IP, TH_PEER_PORT, TH_PORT, TH_ISN + 1, iss + 1,
			      TCP_ACK, 65535, 0, "GET", 3);

	th_input_frame(h, buf, n);
	cr_assert_eq(h->last_ptr, buf + NET_ETH_HLEN + NET_IPV4_HLEN + NET_TCP_HLEN,
		     "on_data must see the segment itself");
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	th_free(h);
}

/* The receive and send buffers are rings (tcp_buf.c): a partial read or a
 * partial ACK advances an index and moves no byte. */

/* A stream whose every byte says where it is, to catch a misplaced copy. */
static uint8_t ring_stream[12000];

static void ring_stream_fill(void)
{
	for (uint32_t i = 0; i < sizeof(ring_stream); i++)
		ring_stream[i] = (uint8_t)(i * 7 + i / 251);
}

/* Sends ring_stream[*off, *off + n) from the peer in segments of 1000. */
static void ring_send(struct th *h, uint32_t iss, uint32_t *off, uint32_t n)
{
	while (n) {
		uint32_t k = n < 1000 ? n : 1000;

		th_send(h, TH_ISN + 1 + *off, iss + 1, TCP_ACK, ring_stream + *off, k);
		*off += k;
		n -= k;
	}
}

Test(tcp_data, partial_read_advances_without_moving_the_rest)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h);

	h->consume = 0;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "abcdef", 6);
	h->consume = 2;
	th_send(h, TH_ISN + 7, iss + 1, TCP_ACK, "gh", 2);
	const uint8_t *kept = h->last_ptr;

	cr_assert_eq(h->last_offer, 8);
	h->consume = 0;
	th_send(h, TH_ISN + 9, iss + 1, TCP_ACK, "ij", 2);
	cr_assert_eq(h->last_ptr, kept + 2, "the kept bytes were moved");
	cr_assert_eq(h->last_offer, 8);
	cr_assert_arr_eq(h->last_ptr, "cdefghij", 8);
	th_free(h);
}

Test(tcp_data, kept_bytes_across_the_ring_end_are_offered_as_one_span)
{
	struct th *h = th_new();
	uint32_t iss = th_open(h), off = 0;

	ring_stream_fill();
	h->consume = 0;
	ring_send(h, iss, &off, 3000);          /* kept at [0, 3000) of 4096 */
	h->consume = 2500;
	ring_send(h, iss, &off, 500);           /* 2500 read: [2500, 3500) kept */
	cr_assert_eq(h->rx_total, 2500);
	h->consume = 0;
	ring_send(h, iss, &off, 1000);          /* [2500, 4096) + [0, 404): wraps */
	const uint8_t *span = h->last_ptr;

	cr_assert_eq(h->last_offer, 2000);
	cr_assert_arr_eq(span, ring_stream + 2500, 2000);
	ring_send(h, iss, &off, 1000);          /* follows on, in place */
	cr_assert_eq(h->last_ptr, span);
	cr_assert_eq(h->last_offer, 3000);
	cr_assert_arr_eq(span, ring_stream + 2500, 3000);
	h->consume = -1;
	ring_send(h, iss, &off, 10);
	cr_assert_eq(h->rx_total, 5510);
	cr_assert_arr_eq(h->rx, ring_stream, 5510);
	cr_assert_eq(th_gauges(h).rx_bufs_used, 0);
	struct th_frame f;

	do
		f = th_next(h);
	while (h->seen < h->nframes);
	cr_assert_eq(f.ack, TH_ISN + 1 + 5510);
	cr_assert_eq(f.win, 4096);
	th_free(h);
}

/* Checks that the next segment is ring_stream[off, off + len) of the answer. */
static void ring_expect(struct th *h, uint32_t iss, uint32_t off, uint32_t len)
{
	struct th_frame f = th_next(h);

	cr_assert_eq(f.seq, iss + 1 + off, "segment at %u, expected %u", f.seq - iss - 1, off);
	cr_assert_eq(f.len, len);
	cr_assert_arr_eq(f.data, ring_stream + off, len, "bytes of the segment at %u", off);
}

Test(tcp_data, segments_cut_across_the_send_ring_end_carry_the_right_bytes)
{
	struct th *h = th_new();           /* tx_buf 8192, peer MSS 1460 */
	uint32_t iss = th_open(h);

	ring_stream_fill();
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	th_next(h);
	cr_assert_eq(tcp_send(h->tc, h->conn, ring_stream, 6000), 0);
	for (uint32_t o = 0; o < 6000; o += 1460)
		ring_expect(h, iss, o, o + 1460 <= 6000 ? 1460 : 6000 - o);
	/* A partial ACK: 5000 of 6000. The next 4000 bytes run past the
	 * ring's end (6000 + 4000 > 8192) and go out at once. */
	th_send(h, TH_ISN + 2, iss + 1 + 5000, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(tcp_send_space(h->tc, h->conn), 8192 - 1000);
	cr_assert_eq(tcp_send(h->tc, h->conn, ring_stream + 6000, 4000), 0);
	ring_expect(h, iss, 6000, 1460);
	ring_expect(h, iss, 7460, 1460);        /* [7460, 8192) + [0, 728) */
	ring_expect(h, iss, 8920, 1080);
	th_none(h);
	/* ACK into the middle of a segment, then a timeout: the resent
	 * segment starts there and is cut across the end too. */
	th_send(h, TH_ISN + 2, iss + 1 + 7000, TCP_ACK, NULL, 0);
	th_advance(h, 1000);
	ring_expect(h, iss, 7000, 1460);
	th_send(h, TH_ISN + 2, iss + 1 + 10000, TCP_ACK, NULL, 0);
	cr_assert_eq(th_gauges(h).tx_bufs_used, 0);
	cr_assert_eq(tcp_send_space(h->tc, h->conn), 8192);
	th_free(h);
}
