/*
 * net_csum.h - the Internet checksum (RFC 1071) in three steps: add bytes to a
 * 32-bit running sum, add the IPv4 pseudo-header, fold and invert.
 *
 * The ones' complement sum is byte-order independent (RFC 1071 section 2(B)):
 * summing 16-bit words as they lie in memory and storing the folded result
 * as-is gives the right bytes on the wire on any host, so no swaps are needed.
 */
#ifndef SECKILL_NET_CSUM_H
#define SECKILL_NET_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Adds len bytes at data to sum (not folded). An odd last byte is padded with zero. */
static inline uint32_t net_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum, acc1 = 0, acc2 = 0, acc3 = 0;

	/* 64-bit accumulators over 32-bit loads: carries pile up above bit 32
	 * and are folded once at the end, so the loop has no branch on them.
	 * Four of them, so that the adds of a 16-byte step do not wait on each
	 * other (a payload is summed at up to 4 words a cycle, not 1). */
	for (; len >= 16; p += 16, len -= 16) {
		uint32_t w[4];

		memcpy(w, p, 16);
		acc += w[0];
		acc1 += w[1];
		acc2 += w[2];
		acc3 += w[3];
	}
	acc += acc1 + acc2 + acc3;
	for (; len >= 4; p += 4, len -= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc += w;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

/* Folds a running sum to 16 bits and inverts it: the value for the checksum field. */
static inline uint16_t net_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IPv4 pseudo-header's sum; src and dst in network order, l4_len in host order. */
static inline uint32_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
	uint64_t acc = (uint64_t)src + dst;
	uint8_t tail[4] = { 0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len };
	uint32_t t;

	memcpy(&t, tail, 4);
	acc += t;
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

#endif
