/* Known answers for the Internet checksum (net_csum.h): the RFC 1071 example,
 * a real IPv4 header, odd lengths and odd alignments against a byte-wise
 * reference, and the pseudo-header against the 12 bytes it stands for. */
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

Test(csum, captured_ipv4_header)
{
	/* 192.168.0.1 -> 192.168.0.199 UDP, checksum b861 as captured. */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t w[2];

	cr_assert_eq(net_csum_fold(net_csum_add(0, h, 20)), 0, "a valid header verifies to 0");
	h[10] = h[11] = 0;
	wire(net_csum_fold(net_csum_add(0, h, 20)), w);
	cr_assert_eq(w[0], 0xb8);
	cr_assert_eq(w[1], 0x61);
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

Test(csum, captured_tcp_syn)
{
	/* A SYN 198.18.0.2:40000 -> 198.18.0.1:80 with MSS 1460, checksum from the
	 * reference: the pseudo-header plus header must verify to zero. */
	uint8_t seg[24] = { 0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0, 0, 0, 0,
			    0x60, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, 0x02, 0x04, 0x05, 0xb4 };
	uint8_t pseudo_and_seg[12 + 24] = { 198, 18, 0, 2, 198, 18, 0, 1, 0, 6, 0, 24 };
	uint32_t sum;

	memcpy(pseudo_and_seg + 12, seg, 24);
	ref_fix_csum(pseudo_and_seg, sizeof(pseudo_and_seg), 12 + 16);
	memcpy(seg, pseudo_and_seg + 12, 24);
	sum = net_csum_pseudo(ip_of(PEER_IP), ip_of(OUR_IP), 6, 24);
	cr_assert_eq(net_csum_fold(net_csum_add(sum, seg, 24)), 0);
}
