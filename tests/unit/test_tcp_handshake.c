/* Passive open: SYN -> SYN-ACK with our MSS -> ACK, and what is refused on
 * the way (bad checksum, bad offset, wrong port, wrong ACK, full backlog). */
#include "tcp_harness.h"

Test(tcp_handshake, syn_gets_synack_with_mss_and_window)
{
	struct th *h = th_new();

	struct th_frame f = th_syn(h, 1460);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 1);
	cr_assert_eq(f.win, 4096);
	cr_assert_eq(f.mss, 1460);
	cr_assert_eq(f.hlen, 24);
	cr_assert_eq(f.len, 0);
	cr_assert_eq(f.dst_ip, TH_PEER_IP);
	cr_assert_eq(f.dport, TH_PEER_PORT);
	th_none(h);
	cr_assert_eq(th_gauges(h).syn_rcvd, 1);
	cr_assert_eq(th_gauges(h).conns, 1);
	cr_assert_eq(TH_ST(h, syn_received), 1);
	th_free(h);
}

Test(tcp_handshake, ack_completes_handshake_silently)
{
	struct th *h = th_new();

	th_open(h);
	th_none(h);
	cr_assert_eq(th_gauges(h).syn_rcvd, 0);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(TH_ST(h, conns_opened), 1);
	cr_assert_eq(h->data_calls, 0);
	th_free(h);
}

Test(tcp_handshake, announced_mss_follows_conf)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.mss = 1200;
	struct th *h = th_new_conf(&conf);

	cr_assert_eq(th_syn(h, 0).mss, 1200);
	th_free(h);
}

Test(tcp_handshake, retransmitted_syn_gets_same_synack)
{
	struct th *h = th_new();

	struct th_frame a = th_syn(h, 1460);

	th_send_from(h, TH_PEER_PORT, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_expect(h, TCP_SYN | TCP_ACK, a.seq, TH_ISN + 1);
	cr_assert_eq(th_gauges(h).conns, 1);
	th_free(h);
}

Test(tcp_handshake, isn_differs_between_tuples)
{
	struct th *h = th_new();

	th_send_from(h, 1111, TH_ISN, 0, TCP_SYN, 65535, 0, NULL, 0);
	th_send_from(h, 2222, TH_ISN, 0, TCP_SYN, 65535, 0, NULL, 0);
	cr_assert_neq(th_next(h).seq, th_next(h).seq);
	th_free(h);
}

Test(tcp_handshake, wrong_ack_in_syn_rcvd_gets_rst)
{
	struct th *h = th_new();

	struct th_frame f = th_syn(h, 0);

	th_send(h, TH_ISN + 1, f.seq + 7, TCP_ACK, NULL, 0);
	th_expect(h, TCP_RST, f.seq + 7, 0);
	cr_assert_eq(th_gauges(h).syn_rcvd, 1);
	th_free(h);
}

Test(tcp_handshake, rst_in_syn_rcvd_frees_entry_without_callback)
{
	struct th *h = th_new();

	th_syn(h, 0);
	th_send(h, TH_ISN + 1, 0, TCP_RST, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(h->closed, 0);
	th_free(h);
}

Test(tcp_handshake, ack_with_data_completes_and_delivers)
{
	struct th *h = th_new();

	struct th_frame f = th_syn(h, 0);

	th_send(h, TH_ISN + 1, f.seq + 1, TCP_ACK | TCP_PSH, "GET", 3);
	cr_assert_eq(h->rx_total, 3);
	th_expect(h, TCP_ACK, f.seq + 1, TH_ISN + 4);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_handshake, syn_to_other_port_gets_rst_ack)
{
	struct th *h = th_new();
	uint8_t buf[256];

	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, TH_PEER_PORT, 81, TH_ISN, 0, TCP_SYN,
					 65535, 1460, NULL, 0));
	struct th_frame f = th_out(h, h->seen++);

	cr_assert_eq(f.sport, 81);
	cr_assert_eq(f.flags, TCP_RST | TCP_ACK);
	cr_assert_eq(f.seq, 0);
	cr_assert_eq(f.ack, TH_ISN + 1);
	cr_assert_eq(f.win, 0);
	cr_assert_eq(TH_ST(h, drop_bad_port), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_handshake, bad_checksum_dropped)
{
	struct th *h = th_new();
	uint8_t buf[256];
	uint32_t n = th_build(buf, TH_PEER_IP, TH_PEER_PORT, TH_PORT, TH_ISN, 0, TCP_SYN, 65535,
			      0, NULL, 0);

	buf[NET_ETH_HLEN + NET_IPV4_HLEN + 16] ^= 0x40;     /* checksum field */
	th_input_frame(h, buf, n);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_bad_csum), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_handshake, bad_data_offset_dropped)
{
	struct th *h = th_new();
	uint8_t buf[256];
	uint32_t n = th_build(buf, TH_PEER_IP, TH_PEER_PORT, TH_PORT, TH_ISN, 0, TCP_SYN, 65535,
			      0, NULL, 0);

	buf[NET_ETH_HLEN + NET_IPV4_HLEN + 12] = 4 << 4;   /* 16 bytes: below the minimum */
	th_input_frame(h, buf, n);
	buf[NET_ETH_HLEN + NET_IPV4_HLEN + 12] = 15 << 4;  /* 60 bytes: past the segment */
	th_input_frame(h, buf, n);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_bad_hdr), 2);
	th_free(h);
}

Test(tcp_handshake, syn_over_backlog_dropped_without_cookies)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.syn_backlog = 2;
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 3; p++)
		th_send_from(h, p, TH_ISN, 0, TCP_SYN, 65535, 0, NULL, 0);
	th_next(h);
	th_next(h);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_syn_backlog), 1);
	cr_assert_eq(th_gauges(h).syn_rcvd, 2);
	th_free(h);
}

Test(tcp_handshake, syn_fin_dropped)
{
	struct th *h = th_new();

	th_send(h, TH_ISN, 0, TCP_SYN | TCP_FIN, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_handshake, conf_check_rejects_bad_values)
{
	struct tcp_conf conf;

	tcp_conf_default(&conf);
	cr_assert_null(tcp_conf_check(&conf));
	cr_assert_eq(conf.max_conns, 16384);
	cr_assert_eq(conf.syn_backlog, 1024);
	cr_assert_eq(conf.rto_init_ms, 1000);
	cr_assert_eq(conf.max_time_wait, 4096);
	conf.rx_buf = 70000;
	cr_assert_not_null(tcp_conf_check(&conf));
	tcp_conf_default(&conf);
	conf.rto_min_ms = 2000;
	cr_assert_not_null(tcp_conf_check(&conf));
	tcp_conf_default(&conf);
	conf.max_conns = 0;
	cr_assert_not_null(tcp_conf_check(&conf));
}

Test(tcp_handshake, conf_check_rx_buf_must_hold_one_segment_of_our_mss)
{
	struct tcp_conf conf;

	tcp_conf_default(&conf);
	conf.rx_buf = 1;
	cr_assert_str_eq(tcp_conf_check(&conf),
			 "tcp: rx_buf must be 1460..65535 (at least one segment of the MSS we "
			 "announce, 1460, and never below 536; no window scaling above), not 1");
	conf.rx_buf = 1459;
	cr_assert_not_null(tcp_conf_check(&conf));
	conf.rx_buf = 1460;
	cr_assert_null(tcp_conf_check(&conf));
	conf.rx_buf = 65535;
	cr_assert_null(tcp_conf_check(&conf));
	conf.rx_buf = 65536;
	cr_assert_not_null(tcp_conf_check(&conf));
	/* A small MSS: still never below 536. */
	conf.mss = 100;
	conf.rx_buf = 535;
	cr_assert_str_eq(tcp_conf_check(&conf),
			 "tcp: rx_buf must be 536..65535 (at least one segment of the MSS we "
			 "announce, 100, and never below 536; no window scaling above), not 535");
	conf.rx_buf = 536;
	cr_assert_null(tcp_conf_check(&conf));
}

Test(tcp_handshake, conf_check_tx_buf_must_fit_an_http_answer)
{
	struct tcp_conf conf;

	tcp_conf_default(&conf);
	conf.tx_buf = 2559;
	cr_assert_str_eq(tcp_conf_check(&conf),
			 "tcp: tx_buf must be 2560..1048576 (lib/http needs 2560 bytes of send "
			 "space before it runs a handler), not 2559");
	conf.tx_buf = 2560;
	cr_assert_null(tcp_conf_check(&conf));
	conf.tx_buf = 1048576;
	cr_assert_null(tcp_conf_check(&conf));
	conf.tx_buf = 1048577;
	cr_assert_not_null(tcp_conf_check(&conf));
	cr_assert_null(tcp_core_create(&conf, &(struct net_iface){ .mtu = NET_MTU },
				       &(struct net_tx){ 0 },
				       &(struct tcp_app){ .on_data = th_on_data }));
}

Test(tcp_handshake, tiny_peer_mss_is_raised_to_floor)
{
	struct th *h = th_new();
	static char answer[201];

	memset(answer, 'm', 200);
	uint32_t iss = th_syn(h, 10).seq;

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, NULL, 0);
	h->reply = answer;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	cr_assert_eq(th_next(h).len, 48);
	cr_assert_eq(th_next(h).len, 48);
	cr_assert_eq(th_next(h).len, 48);
	cr_assert_eq(th_next(h).len, 48);
	cr_assert_eq(th_next(h).len, 8);
	th_none(h);
	th_free(h);
}

Test(tcp_handshake, malformed_options_are_ignored)
{
	struct th *h = th_new();
	uint8_t buf[256];
	uint32_t n = th_build(buf, TH_PEER_IP, TH_PEER_PORT, TH_PORT, TH_ISN, 0, TCP_SYN, 65535,
			      1460, NULL, 0);
	uint8_t *opt = buf + NET_ETH_HLEN + NET_IPV4_HLEN + NET_TCP_HLEN;
	struct tcp_hdr *t = (struct tcp_hdr *)(buf + NET_ETH_HLEN + NET_IPV4_HLEN);

	/* An option claiming 40 bytes in a 4-byte option area: no MSS read. */
	opt[0] = TCP_OPT_WSCALE;
	opt[1] = 40;
	t->csum = 0;
	t->csum = net_csum_fold(net_csum_add(net_csum_pseudo(TH_PEER_IP, TH_OUR_IP,
							     NET_IPPROTO_TCP, 24), t, 24));
	th_input_frame(h, buf, n);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	th_free(h);
}
