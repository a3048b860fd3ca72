/* Known answers for the Internet checksum (net_csum.h): the RFC 1071 example,
 * frames the Linux kernel checksummed, odd lengths and odd alignments against a
 * byte-wise reference, and the pseudo-header against the 12 bytes it stands for. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "net_csum.h"
#include "test_net_cap.h"

/* The checksum field's bytes as they go on the wire. */
static void wire(uint16_t c, uint8_t out[2])
{
	memcpy(out, &c, 2);
}

Test(csum, rfc1071_example)
{
	/* RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2; the field is its complement. */
	const uint8_t d[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t w[2];

	wire(net_csum_fold(net_csum_add(0, d, sizeof(d))), w);
	cr_assert_eq(w[0], 0x22);
	cr_assert_eq(w[1], 0x0d);
}

Test(csum, odd_length_pads_with_zero)
{
	/* 0102 + 0300 = 0402 -> fbfd */
	const uint8_t d[3] = { 0x01, 0x02, 0x03 };
	uint8_t w[2];

	wire(net_csum_fold(net_csum_add(0, d, 3)), w);
	cr_assert_eq(w[0], 0xfb);
	cr_assert_eq(w[1], 0xfd);
}

Test(csum, empty_is_ffff)
{
	cr_assert_eq(net_csum_fold(net_csum_add(0, "", 0)), 0xffff);
}

Test(csum, every_length_and_alignment_matches_reference)
{
	uint8_t buf[256 + 8];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 256; len++) {
			uint8_t w[2];
			uint16_t r = ref_csum(buf + off, len);

			wire(net_csum_fold(net_csum_add(0, buf + off, len)), w);
			cr_assert_eq(w[0], r >> 8, "off %zu len %zu", off, len);
			cr_assert_eq(w[1], r & 0xff, "off %zu len %zu", off, len);
		}
	}
}

Test(csum, all_ones_carries_fold)
{
	/* 64 KiB of 0xff: the worst case for carries; ones' complement of ffff is 0. */
	static uint8_t big[65536];

	memset(big, 0xff, sizeof(big));
	cr_assert_eq(net_csum_fold(net_csum_add(0, big, sizeof(big))), 0);
}

Test(csum, add_is_incremental_on_even_boundaries)
{
	const uint8_t d[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	uint32_t whole = net_csum_add(0, d, 10);
	uint32_t split = net_csum_add(net_csum_add(0, d, 6), d + 6, 4);

	cr_assert_eq(net_csum_fold(whole), net_csum_fold(split));
}

Test(csum, pseudo_header_equals_its_bytes)
{
	/* src, dst, zero, proto, length: RFC 9293 section 3.1. */
	const uint8_t ph[12] = { 198, 18, 0, 2, 198, 18, 0, 1, 0, 6, 0x05, 0xdc };
	uint32_t src, dst;

	memcpy(&src, ph, 4);
	memcpy(&dst, ph + 4, 4);
	cr_assert_eq(net_csum_fold(net_csum_pseudo(src, dst, 6, 1500)),
		     net_csum_fold(net_csum_add(0, ph, 12)));
}

/*
 * Two frames the Linux kernel (6.18) built and checksummed itself, captured
 * between two throwaway network namespaces (run as root):
 *
 *   ip netns add csumcap-a; ip netns add csumcap-b
 *   ip link add csa0 netns csumcap-a type veth peer name csb0 netns csumcap-b
 *   ip -n csumcap-a addr add 198.18.0.2/24 dev csa0; ip -n csumcap-a link set csa0 up
 *   ip -n csumcap-b addr add 198.18.0.1/24 dev csb0; ip -n csumcap-b link set csb0 up
 *   ip netns exec csumcap-a ethtool -K csa0 tx off   # the kernel, not an offload,
 *   ip netns exec csumcap-b ethtool -K csb0 tx off   # fills in the TCP checksum
 *   ip netns exec csumcap-a sysctl net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 \
 *       net.ipv4.tcp_window_scaling=0                # a SYN with MSS only
 *   in csumcap-b: a Python AF_PACKET socket bound to csb0 prints each TCP frame
 *       as hex (tcpdump -w would do as well);
 *   ip netns exec csumcap-a ping -c1 198.18.0.1      # ARP settled first
 *   in csumcap-a: python3 socket: bind 198.18.0.2:40000, connect 198.18.0.1:80
 *       (nothing listens, so csumcap-b's kernel answers RST,ACK);
 *   ip netns del csumcap-a; ip netns del csumcap-b
 *
 * Below are the IPv4 and TCP headers of the SYN and of the RST,ACK, with the
 * kernel's checksums as they were on the wire.
 */
struct captured {
	const char *what;
	uint8_t ip[20];          /* IPv4 header, checksum at bytes 10-11 */
	uint8_t tcp[24];         /* TCP header (and options), checksum at 16-17 */
	uint16_t tcp_len;        /* bytes of tcp[] in the segment */
	uint8_t ip_csum[2], tcp_csum[2];
};

static const struct captured captured[] = {
	{ "SYN 198.18.0.2:40000 -> 198.18.0.1:80, MSS 1460",
	  { 0x45, 0x00, 0x00, 0x2c, 0x49, 0xf6, 0x40, 0x00, 0x40, 0x06,
	    0x64, 0xae, 0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01 },
	  { 0x9c, 0x40, 0x00, 0x50, 0x56, 0xb2, 0x9f, 0x62, 0x00, 0x00, 0x00, 0x00,
	    0x60, 0x02, 0xfa, 0xf0, 0x7e, 0x68, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4 },
	  24, { 0x64, 0xae }, { 0x7e, 0x68 } },
	{ "RST,ACK 198.18.0.1:80 -> 198.18.0.2:40000",
	  { 0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	    0xae, 0xa8, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02 },
	  { 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x00, 0x56, 0xb2, 0x9f, 0x63,
	    0x50, 0x14, 0x00, 0x00, 0x91, 0x02, 0x00, 0x00 },
	  20, { 0xae, 0xa8 }, { 0x91, 0x02 } },
};

Test(csum, captured_ipv4_headers)
{
	for (size_t i = 0; i < sizeof(captured) / sizeof(captured[0]); i++) {
		const struct captured *c = &captured[i];
		uint8_t h[20], w[2];

		memcpy(h, c->ip, 20);
		cr_assert_eq(net_csum_fold(net_csum_add(0, h, 20)), 0,
			     "%s: the kernel's header verifies to 0", c->what);
		h[10] = h[11] = 0;
		wire(net_csum_fold(net_csum_add(0, h, 20)), w);
		cr_assert(w[0] == c->ip_csum[0] && w[1] == c->ip_csum[1],
			  "%s: %02x%02x, the kernel wrote %02x%02x", c->what, w[0], w[1],
			  c->ip_csum[0], c->ip_csum[1]);
	}
}

Test(csum, captured_tcp_segments)
{
	for (size_t i = 0; i < sizeof(captured) / sizeof(captured[0]); i++) {
		const struct captured *c = &captured[i];
		uint32_t src, dst, ph;
		uint8_t seg[24], w[2];

		memcpy(&src, c->ip + 12, 4);
		memcpy(&dst, c->ip + 16, 4);
		ph = net_csum_pseudo(src, dst, 6, c->tcp_len);
		memcpy(seg, c->tcp, c->tcp_len);
		cr_assert_eq(net_csum_fold(net_csum_add(ph, seg, c->tcp_len)), 0,
			     "%s: pseudo-header plus segment verify to 0", c->what);
		seg[16] = seg[17] = 0;
		wire(net_csum_fold(net_csum_add(ph, seg, c->tcp_len)), w);
		cr_assert(w[0] == c->tcp_csum[0] && w[1] == c->tcp_csum[1],
			  "%s: %02x%02x, the kernel wrote %02x%02x", c->what, w[0], w[1],
			  c->tcp_csum[0], c->tcp_csum[1]);
	}
}
