/* lib/net receive path: Ethernet demultiplexing, every IPv4 shape we refuse
 * (each in its own counter, with no frame built), ICMP echo answered with the
 * exact bytes, ICMP we do not answer, and TCP handed to a real tcp_core. */
#include <criterion/criterion.h>

#include "net_tcp_frame.h"
#include "tcp.h"
#include "test_net_cap.h"

/* 198.18.0.2 -> 198.18.0.1 echo request, id 0x1234 seq 7, 21-byte payload
 * (odd, so the checksum's padding is exercised). IP id 0x1c46, DF, TTL 64. */
static const uint8_t icmp_req[63] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x31, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01,
	0x92, 0x5e, 0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x08, 0x00,
	0xe9, 0xd8, 0x12, 0x34, 0x00, 0x07, 0x73, 0x65, 0x63, 0x6b, 0x69, 0x6c,
	0x6c, 0x20, 0x70, 0x69, 0x6e, 0x67, 0x20, 0x70, 0x61, 0x79, 0x6c, 0x6f,
	0x61, 0x64, 0x21,
};

/* Its reply: IP id 0, DF, TTL 64, type 0, same id/seq/payload. */
static const uint8_t icmp_rep[63] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x31, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01,
	0xae, 0xa4, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, 0x00, 0x00,
	0xf1, 0xd8, 0x12, 0x34, 0x00, 0x07, 0x73, 0x65, 0x63, 0x6b, 0x69, 0x6c,
	0x6c, 0x20, 0x70, 0x69, 0x6e, 0x67, 0x20, 0x70, 0x61, 0x79, 0x6c, 0x6f,
	0x61, 0x64, 0x21,
};

/* Offsets in a frame. */
#define E_TYPE   12
#define I_VERIHL 14
#define I_LEN    16
#define I_FRAG   20
#define I_PROTO  23
#define I_CSUM   24
#define I_SRC    26
#define I_DST    30
#define C_TYPE   34
#define C_CSUM   36

static uint8_t f[128];

static void setup(void)
{
	net_fixture(NULL);
	memset(f, 0, sizeof(f));
	memcpy(f, icmp_req, sizeof(icmp_req));
}

TestSuite(net, .init = setup);
TestSuite(ip4, .init = setup);
TestSuite(icmp, .init = setup);

static void fix_ip(void) { ref_fix_csum(f + 14, 20, 10); }
static void fix_icmp(uint32_t len) { ref_fix_csum(f + 34, len, 2); }

static void assert_silent_drop(const uint64_t *counter)
{
	cr_assert_eq(*counter, 1);
	cr_assert_eq(net_events(), 1, "exactly one counter moved");
	cr_assert_eq(cap.allocs, 0, "no frame built");
	cr_assert_eq(cap.n, 0);
}

/* ---- Ethernet ---- */

Test(net, runt)
{
	feed(f, 13);
	assert_silent_drop(&nc.st.drop_runt);
	cr_assert_eq(nc.st.rx_frames, 1);
}

Test(net, empty_frame)
{
	feed(f, 0);
	assert_silent_drop(&nc.st.drop_runt);
}

Test(net, other_unicast_mac)
{
	f[0] = 0x04;
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_not_for_us);
}

Test(net, ipv4_to_broadcast_mac)
{
	memset(f, 0xff, 6);
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_not_for_us);
}

Test(net, ipv4_to_multicast_mac)
{
	const uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

	memcpy(f, mc, 6);
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_not_for_us);
}

Test(net, vlan_tagged)
{
	f[E_TYPE] = 0x81;
	f[E_TYPE + 1] = 0x00;
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ethertype);
}

Test(net, ipv6)
{
	f[E_TYPE] = 0x86;
	f[E_TYPE + 1] = 0xdd;
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ethertype);
}

Test(net, header_only)
{
	feed(f, 14);
	assert_silent_drop(&nc.st.drop_ip_bad_len);
}

/* ---- IPv4 ---- */

Test(ip4, short_header)
{
	feed(f, 14 + 19);
	assert_silent_drop(&nc.st.drop_ip_bad_len);
}

Test(ip4, bad_version)
{
	f[I_VERIHL] = 0x65;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_hdr);
}

Test(ip4, ihl_below_five)
{
	f[I_VERIHL] = 0x44;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_hdr);
}

Test(ip4, ihl_six_is_options)
{
	f[I_VERIHL] = 0x46;
	ref_fix_csum(f + 14, 24, 10);
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_options);
}

Test(ip4, bad_checksum)
{
	f[I_CSUM + 1] ^= 0x01;
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_csum);
}

Test(ip4, total_len_beyond_frame)
{
	f[I_LEN + 1] = 0x32;         /* 50 > the 49 bytes present */
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_len);
}

Test(ip4, total_len_below_header)
{
	f[I_LEN + 1] = 19;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_len);
}

Test(ip4, fragment_more_fragments)
{
	f[I_FRAG] = 0x20;            /* MF, offset 0 */
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_fragment);
}

Test(ip4, fragment_offset)
{
	f[I_FRAG] = 0x40;            /* DF with an offset cannot be, but is still a fragment */
	f[I_FRAG + 1] = 0x01;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_fragment);
}

Test(ip4, last_fragment)
{
	f[I_FRAG] = 0x10;            /* no MF, offset 0x1000 */
	f[I_FRAG + 1] = 0x00;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_fragment);
}

Test(ip4, wrong_destination)
{
	f[I_DST + 3] = 3;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_not_for_us);
}

static void bad_src(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t s[4] = { a, b, c, d };

	setup();
	memcpy(f + I_SRC, s, 4);
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_bad_src);
}

Test(ip4, martian_sources)
{
	bad_src(0, 0, 0, 0);
	bad_src(0, 1, 2, 3);
	bad_src(127, 0, 0, 1);
	bad_src(224, 0, 0, 1);
	bad_src(239, 255, 255, 250);
	bad_src(240, 0, 0, 1);
	bad_src(255, 255, 255, 255);
}

Test(ip4, unknown_protocol)
{
	f[I_PROTO] = 17;             /* UDP */
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_proto);
}

Test(ip4, tcp_without_tcp_core)
{
	f[I_PROTO] = NET_IPPROTO_TCP;
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_ip_proto);
}

/* ---- ICMP ---- */

Test(icmp, echo_gets_exact_reply)
{
	feed(icmp_req, sizeof(icmp_req));
	cr_assert_eq(cap.n, 1);
	cr_assert_eq(cap.len[0], sizeof(icmp_rep));
	cr_assert_arr_eq(cap.buf[0], icmp_rep, sizeof(icmp_rep));
	cr_assert_eq(ref_csum(cap.buf[0] + 14, 20), 0, "IP checksum verifies");
	cr_assert_eq(ref_csum(cap.buf[0] + 34, sizeof(icmp_rep) - 34), 0, "ICMP checksum verifies");
	cr_assert_eq(nc.st.icmp_echo, 1);
	cr_assert_eq(nc.st.tx_frames, 1);
	cr_assert_eq(net_events(), 2);
}

Test(icmp, ethernet_padding_is_not_echoed)
{
	/* An empty echo (28 IP bytes) padded to 60 with junk: reply has 8 ICMP bytes. */
	f[I_LEN + 1] = 28;
	fix_ip();
	fix_icmp(8);
	memset(f + 42, 0xee, 18);
	feed(f, 60);
	cr_assert_eq(cap.n, 1);
	cr_assert_eq(cap.len[0], 60, "padded to the Ethernet minimum");
	cr_assert_eq(cap.buf[0][I_LEN + 1], 28);
	cr_assert_eq(cap.buf[0][C_TYPE], NET_ICMP_ECHO_REPLY);
	cr_assert_eq(ref_csum(cap.buf[0] + 34, 8), 0);
	for (int i = 42; i < 60; i++)
		cr_assert_eq(cap.buf[0][i], 0, "pad byte %d", i);
}

Test(icmp, largest_echo_fits)
{
	static uint8_t big[NET_FRAME_MAX];
	uint32_t l4 = NET_MTU - 20;

	memcpy(big, icmp_req, 42);
	big[I_LEN] = NET_MTU >> 8;
	big[I_LEN + 1] = NET_MTU & 0xff;
	for (uint32_t i = 42; i < NET_FRAME_MAX; i++)
		big[i] = (uint8_t)i;
	ref_fix_csum(big + 14, 20, 10);
	ref_fix_csum(big + 34, l4, 2);
	feed(big, NET_FRAME_MAX);
	cr_assert_eq(cap.n, 1);
	cr_assert_eq(cap.len[0], NET_FRAME_MAX);
	cr_assert_arr_eq(cap.buf[0] + 42, big + 42, NET_FRAME_MAX - 42);
	cr_assert_eq(ref_csum(cap.buf[0] + 34, l4), 0);
}

Test(icmp, bad_checksum)
{
	f[C_CSUM] ^= 0x40;
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_icmp_bad);
}

Test(icmp, payload_corruption_fails_checksum)
{
	f[60] ^= 0x01;               /* the last payload byte (the odd one) */
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_icmp_bad);
}

Test(icmp, shorter_than_header)
{
	f[I_LEN + 1] = 27;           /* 7 ICMP bytes */
	fix_ip();
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_icmp_bad);
}

Test(icmp, echo_reply_is_not_answered)
{
	f[C_TYPE] = NET_ICMP_ECHO_REPLY;
	fix_icmp(sizeof(icmp_req) - 34);
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_icmp_type);
}

Test(icmp, dest_unreachable_is_dropped)
{
	f[C_TYPE] = 3;
	f[C_TYPE + 1] = 4;
	fix_icmp(sizeof(icmp_req) - 34);
	feed(f, sizeof(icmp_req));
	assert_silent_drop(&nc.st.drop_icmp_type);
}

Test(icmp, no_tx_buffer)
{
	cap.fail_alloc = 1;
	feed(icmp_req, sizeof(icmp_req));
	cr_assert_eq(nc.st.drop_no_tx, 1);
	cr_assert_eq(nc.st.tx_frames, 0);
	cr_assert_eq(cap.n, 0);
}

/* ---- TCP hand-off, with a real tcp_core behind net_input ---- */

static struct tcp_core *tc;

static uint32_t no_data(void *ctx, struct tcp_core *t, struct tcp_conn *c,
			const uint8_t *data, uint32_t len)
{
	(void)ctx; (void)t; (void)c; (void)data;
	return len;
}

static void tcp_setup(void)
{
	struct tcp_conf conf;
	struct tcp_app app = { .on_data = no_data };
	struct net_iface ifc = { .mtu = 1500 };

	memcpy(ifc.mac, our_mac, 6);
	ifc.ip = ip_of(OUR_IP);
	tcp_conf_default(&conf);
	conf.listen_port = 80;
	conf.max_conns = 64;
	conf.syn_backlog = 32;
	conf.cookies = TCP_COOKIES_NEVER;
	tc = tcp_core_create(&conf, &ifc, &cap_net_tx, &app);
	cr_assert_not_null(tc);
	tcp_set_now(tc, 1000000);
	net_fixture(tc);
}

static void tcp_teardown(void)
{
	tcp_core_destroy(tc);
}

TestSuite(tcp, .init = tcp_setup, .fini = tcp_teardown);

/* A SYN 198.18.0.2:40000 -> 198.18.0.1:80, seq 1000, no options. */
static uint32_t syn_frame(uint8_t *buf)
{
	struct net_tcp_seg s = { .src_ip = ip_of(PEER_IP), .dst_ip = ip_of(OUR_IP),
				 .sport = 40000, .dport = 80, .seq = 1000, .flags = TCP_SYN,
				 .win = 65535 };

	memcpy(s.src_mac, peer_mac, 6);
	memcpy(s.dst_mac, our_mac, 6);
	return net_tcp_frame(buf, &s);
}

static void assert_synack(void)
{
	struct net_tcp_seg r;

	cr_assert_eq(cap.n, 1);
	cr_assert(net_tcp_frame_parse(cap.buf[0], cap.len[0], &r), "SYN-ACK checksums verify");
	cr_assert_eq(r.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(r.ack, 1001);
	cr_assert_eq(r.sport, 80);
	cr_assert_eq(r.dport, 40000);
	cr_assert_eq(r.dst_ip, ip_of(PEER_IP));
	cr_assert_arr_eq(r.dst_mac, peer_mac, 6, "answered to the frame's source MAC");
	cr_assert_eq(tcp_core_stats(tc)->rx_segs, 1);
	cr_assert_eq(net_events(), 0, "net_core counted no drop");
}

Test(tcp, syn_reaches_tcp_input)
{
	uint8_t f2[NET_FRAME_MAX];

	feed(f2, syn_frame(f2));
	assert_synack();
}

Test(tcp, ethernet_padding_is_not_part_of_the_segment)
{
	/* 54 bytes padded to 60 with junk: had the padding reached TCP, its
	 * checksum (over seglen bytes) would fail and no SYN-ACK would come. */
	uint8_t f2[60];
	uint32_t len = syn_frame(f2);

	cr_assert_eq(len, 54);
	memset(f2 + len, 0xee, sizeof(f2) - len);
	feed(f2, sizeof(f2));
	assert_synack();
}

Test(tcp, bad_tcp_checksum_is_tcps_to_count)
{
	uint8_t f2[NET_FRAME_MAX];
	uint32_t len = syn_frame(f2);

	f2[len - 1] ^= 0x10;         /* the urgent pointer: only TCP's checksum sees it */
	feed(f2, len);
	cr_assert_eq(cap.n, 0);
	cr_assert_eq(tcp_core_stats(tc)->drop_bad_csum, 1);
	cr_assert_eq(net_events(), 0);
}
