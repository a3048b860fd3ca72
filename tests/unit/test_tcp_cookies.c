/* SYN cookies (RFC 4987): stateless SYN-ACKs when asked or under pressure,
 * the ACK that brings a valid cookie back opens the connection with the MSS
 * the cookie encoded, and forged or stale cookies are refused. */
#include "tcp_harness.h"

static struct th *th_cookies(enum tcp_cookie_mode mode)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.cookies = mode;
	return th_new_conf(&conf);
}

/* Sends a SYN with the given MSS option and returns the SYN-ACK's ISN. */
static uint32_t cookie_syn(struct th *h, uint16_t port, uint16_t mss)
{
	struct th_frame f = th_syn_port(h, port, mss);

	cr_assert_eq(f.win, 4096);
	cr_assert_eq(f.mss, 1460);
	return f.seq;
}

Test(tcp_cookies, always_mode_keeps_no_state_for_syn)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	cr_assert_eq(cookie & 7, 7, "MSS index of 1460");
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(TH_ST(h, cookies_sent), 1);
	th_advance(h, 5000);
	th_none(h);                     /* no state: nothing to retransmit */
	th_free(h);
}

Test(tcp_cookies, valid_cookie_ack_opens_connection)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(TH_ST(h, cookies_accepted), 1);
	cr_assert_eq(TH_ST(h, conns_opened), 1);
	h->reply = "ok";
	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK, "req", 3);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
	cr_assert_eq(f.seq, cookie + 1);
	cr_assert_eq(f.ack, TH_ISN + 4);
	th_free(h);
}

Test(tcp_cookies, cookie_ack_carrying_data_delivers_it)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK | TCP_PSH, "GET", 3);
	cr_assert_eq(h->rx_total, 3);
	th_expect(h, TCP_ACK, cookie + 1, TH_ISN + 4);
	th_free(h);
}

static char big[2000];

/* Opens through a cookie with the given MSS and checks the size of the
 * first segment of a 2000-byte answer. */
static void check_cookie_mss(uint16_t syn_mss, uint32_t idx, uint32_t seg)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, syn_mss);

	cr_assert_eq(cookie & 7, idx);
	memset(big, 'c', sizeof(big) - 1);
	h->reply = big;
	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK, "q", 1);
	cr_assert_eq(th_next(h).len, seg);
	th_free(h);
}

Test(tcp_cookies, cookie_carries_peer_mss_1300) { check_cookie_mss(1300, 3, 1300); }
Test(tcp_cookies, cookie_rounds_mss_down_1350) { check_cookie_mss(1350, 3, 1300); }
Test(tcp_cookies, cookie_without_mss_option_is_536) { check_cookie_mss(0, 1, 536); }

Test(tcp_cookies, cookie_from_other_port_is_rejected)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_send_from(h, TH_PEER_PORT + 1, TH_ISN + 1, cookie + 1, TCP_ACK, 65535, 0, NULL, 0);
	th_expect(h, TCP_RST, cookie + 1, 0);
	cr_assert_eq(TH_ST(h, cookies_bad), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_cookies, cookie_from_other_address_is_rejected)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);
	uint8_t buf[256];

	th_input_frame(h, buf, th_build(buf, htonl(0xc6120003), TH_PEER_PORT, TH_PORT,
					 TH_ISN + 1, cookie + 1, TCP_ACK, 65535, 0, NULL, 0));
	cr_assert_eq(th_next(h).flags, TCP_RST);
	cr_assert_eq(TH_ST(h, cookies_bad), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_cookies, cookie_is_bound_to_client_isn)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_send(h, TH_ISN + 2, cookie + 1, TCP_ACK, NULL, 0);
	cr_assert_eq(th_next(h).flags, TCP_RST);
	cr_assert_eq(TH_ST(h, cookies_bad), 1);
	th_free(h);
}

Test(tcp_cookies, forged_cookie_bits_are_rejected)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_send(h, TH_ISN + 1, (cookie ^ 0x100) + 1, TCP_ACK, NULL, 0);
	cr_assert_eq(th_next(h).flags, TCP_RST);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_cookies, cookie_from_previous_period_is_accepted)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_advance(h, 100000);          /* next 64 s counter */
	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_cookies, cookie_two_periods_old_is_rejected)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_advance(h, 130000);          /* two counters later */
	th_send(h, TH_ISN + 1, cookie + 1, TCP_ACK, NULL, 0);
	cr_assert_eq(th_next(h).flags, TCP_RST);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_cookies, auto_mode_uses_cookies_over_backlog)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.cookies = TCP_COOKIES_AUTO;
	conf.syn_backlog = 2;
	struct th *h = th_new_conf(&conf);

	th_send_from(h, 1, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_send_from(h, 2, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
	th_next(h);
	th_next(h);
	cr_assert_eq(TH_ST(h, cookies_sent), 0);
	uint32_t cookie = cookie_syn(h, 3, 1460);

	cr_assert_eq(TH_ST(h, cookies_sent), 1);
	cr_assert_eq(th_gauges(h).syn_rcvd, 2);
	th_send_from(h, 3, TH_ISN + 1, cookie + 1, TCP_ACK, 65535, 0, NULL, 0);
	cr_assert_eq(th_gauges(h).established, 1);
	th_free(h);
}

Test(tcp_cookies, cookie_connection_starts_with_initial_rto)
{
	struct th *h = th_cookies(TCP_COOKIES_ALWAYS);
	uint32_t cookie = cookie_syn(h, TH_PEER_PORT, 1460);

	th_first_request(h, cookie, "q");
	th_app_send(h, "a", 1);
	th_advance(h, 999);
	th_none(h);
	th_advance(h, 1);
	th_expect(h, TCP_ACK | TCP_PSH, cookie + 1, TH_ISN + 2);
	th_free(h);
}

Test(tcp_cookies, never_mode_resets_stray_ack)
{
	struct th *h = th_cookies(TCP_COOKIES_NEVER);

	th_send(h, TH_ISN + 1, 12345, TCP_ACK, NULL, 0);
	th_expect(h, TCP_RST, 12345, 0);
	cr_assert_eq(TH_ST(h, cookies_bad), 0);
	th_free(h);
}
