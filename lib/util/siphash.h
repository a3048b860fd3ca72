/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein), a keyed PRF.
 *
 * Used wherever an attacker chooses the input: SYN cookies, buyer-token MACs,
 * and the bucket index of the shared tables (so nobody can aim a flood of keys
 * at one bucket). 64-bit output, 128-bit key.
 */
#ifndef SECKILL_SIPHASH_H
#define SECKILL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

/* One SipRound (the paper's ARX round); shared by both variants. */
#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = SIPHASH_ROTL(v0, 32); \
	v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = SIPHASH_ROTL(v2, 32); \
} while (0)

/*
 * SipHash-1-3 of a message of len <= 7 bytes, given as one little-endian
 * word m. For the bucket of a hash table that runs for every packet (the
 * TCP connection table): still a keyed PRF whose collisions nobody finds
 * without the key, at about half the rounds of SipHash-2-4; it is what
 * Linux's hsiphash (on 64-bit) and Rust's HashMap use for the same job.
 */
static inline uint64_t siphash13_short(const uint64_t key[2], uint64_t m, unsigned len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56 | m;

	v3 ^= b;
	SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
