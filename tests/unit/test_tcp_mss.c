/* The MSS we send with (RFC 9293 3.7.1): never more than the peer announced,
 * down to TCP_MIN_SND_MSS (48, Linux's tcp_min_snd_mss default), below which
 * a peer's MSS is raised to 48; the same whether the handshake kept state or
 * went through a SYN cookie, whose MSS table must never round up. */
#include "tcp_harness.h"

#define MSS_ANSWER_LEN 300

static char answer[MSS_ANSWER_LEN + 1];

static struct th *mss_core(enum tcp_cookie_mode mode)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.cookies = mode;
	return th_new_conf(&conf);
}

/* Opens with a SYN announcing peer_mss (stateful or cookie, the ACK is the
 * same), sends a request, and checks the answer comes in segments of
 * exactly want bytes but the last, contiguous and intact. */
static void check_answer_segments(enum tcp_cookie_mode mode, uint16_t peer_mss, uint32_t want)
{
	struct th *h = mss_core(mode);
	uint32_t got = 0;

	for (int i = 0; i < MSS_ANSWER_LEN; i++)
		answer[i] = (char)('a' + i % 26);
	th_send_from(h, TH_PEER_PORT, TH_ISN, 0, TCP_SYN, 65535, peer_mss, NULL, 0);
	struct th_frame syn_ack = th_next(h);

	cr_assert_eq(syn_ack.flags, TCP_SYN | TCP_ACK);
	th_send(h, TH_ISN + 1, syn_ack.seq + 1, TCP_ACK, NULL, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 1);
	h->reply = answer;
	th_send(h, TH_ISN + 1, syn_ack.seq + 1, TCP_ACK | TCP_PSH, "GET / HTTP/1.1\r\n\r\n", 18);
	while (got < MSS_ANSWER_LEN) {
		struct th_frame f = th_next(h);
		uint32_t left = MSS_ANSWER_LEN - got;

		cr_assert_leq(f.len, peer_mss > 48 ? peer_mss : 48u, "segment of %u bytes", f.len);
		cr_assert_eq(f.len, left < want ? left : want, "segment of %u bytes at %u, want %u",
			     f.len, got, want);
		cr_assert_eq(f.seq, syn_ack.seq + 1 + got);
		cr_assert_arr_eq(f.data, answer + got, f.len);
		got += f.len;
	}
	th_none(h);
	th_free(h);
}

Test(tcp_mss, peer_mss_64_gets_64_byte_segments)
{
	check_answer_segments(TCP_COOKIES_NEVER, 64, 64);
}

/* The cookie table's nearest entry at or below 64 is the floor, 48. */
Test(tcp_mss, peer_mss_64_through_a_cookie_gets_no_more_than_64)
{
	check_answer_segments(TCP_COOKIES_ALWAYS, 64, 48);
}

Test(tcp_mss, peer_mss_40_is_raised_to_48)
{
	check_answer_segments(TCP_COOKIES_NEVER, 40, 48);
}

Test(tcp_mss, peer_mss_40_through_a_cookie_is_raised_to_48)
{
	check_answer_segments(TCP_COOKIES_ALWAYS, 40, 48);
}

/* Between the table's entries a cookie rounds down, never up. */
Test(tcp_mss, peer_mss_535_through_a_cookie_gets_no_more_than_535)
{
	check_answer_segments(TCP_COOKIES_ALWAYS, 535, 48);
}

Test(tcp_mss, peer_mss_48_is_honoured_exactly)
{
	check_answer_segments(TCP_COOKIES_NEVER, 48, 48);
	check_answer_segments(TCP_COOKIES_ALWAYS, 48, 48);
}
