/*
 * pow.h - the proof of work a campaign may ask of every order: stateless
 * challenges, and their check on the core.
 *
 * A bot that holds many valid buyer tokens is stopped by nothing else; a
 * proof of work makes each of its attempts cost CPU time it must spend
 * before the sale hears from it, while a person's browser pays it once.
 *
 * The challenge (GET /api/campaigns/{id}/challenge) is text:
 *
 *   <campaign>.<bits>.<issued_s>.<mac>
 *
 * campaign and bits and issued_s (Unix seconds) in canonical decimal, mac
 * 16 lowercase hex digits: SipHash-2-4, under a key derived from the sale's
 * token key (pow_key_derive), of (buyer, campaign, bits, issued_s). The
 * buyer is not in the text: the token of the request says who it is, so a
 * challenge (and its solution) is good for one buyer, one campaign and
 * POW_TTL_S seconds, and the core keeps nothing per challenge.
 *
 * A solution is a nonce of 1..POW_NONCE_MAX characters [A-Za-z0-9_-] such
 * that SHA-256(challenge || nonce), over the texts' bytes, starts with
 * `bits` zero bits. It comes with the order as one header:
 *
 *   X-Seckill-PoW: <challenge>:<nonce>
 *
 * The check (pow_verify) is one SipHash and one SHA-256 of one 64-byte
 * block (OpenSSL's libcrypto: the SHA instructions where the CPU has them).
 * A solution may be sent again until it expires; what it buys is bounded by
 * the purchase set (one per buyer) and the rate limits.
 */
#ifndef SECKILL_POW_H
#define SECKILL_POW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "token.h"

/* 2^32 hashes is an hour of a phone's time: a campaign asking more is a typo. */
#define POW_MAX_BITS 32
/* What `seckillctl campaign pow` sets without --bits: 2^16 hashes on
 * average, ~0.1-0.3 s for one core of this machine in Python or Node, so a
 * second or two on a low-end phone (README "Proof of work"). */
#define POW_DEFAULT_BITS 16
/* How long a challenge is good: a click, the solve and the POST, with room
 * for a slow phone and a retry after a 429. */
#define POW_TTL_S 120
/* Hosts' clocks differ a little: a challenge another host issued up to this
 * far in our future is still good. */
#define POW_SKEW_S 5
#define POW_NONCE_MAX 32
/* "4294967295.32.18446744073709551615.0123456789abcdef" and a NUL. */
#define POW_CHALLENGE_CAP 64
#define POW_HEADER "X-Seckill-PoW"

struct pow_key {
	uint64_t k[2];
};

enum pow_status {
	POW_OK = 0,
	POW_MALFORMED,      /* not <challenge>:<nonce> of the shape above */
	POW_BAD_MAC,        /* not issued for this buyer and campaign (or altered) */
	POW_EXPIRED,        /* issued POW_TTL_S or more ago (or too far ahead) */
	POW_WEAK,           /* issued for fewer bits than the campaign asks now */
	POW_UNSOLVED,       /* the hash lacks the zero bits */
};

/* Per-core counters for the sale to keep, one per pow_status but OK, plus
 * the challenges issued. */
#define POW_STATS(X) X(pow_challenges) X(pow_malformed) X(pow_bad_mac) X(pow_expired) \
	X(pow_weak) X(pow_unsolved)
struct pow_stats { POW_STATS(STATS_FIELD) };
extern const char *const pow_stats_names[];
#define POW_STATS_N (0 POW_STATS(STATS_COUNT))

/* The challenge key, derived from the token key (domain-separated: no token
 * MAC is ever a challenge MAC), so no second secret needs handing out. */
void pow_key_derive(const struct token_key *tk, struct pow_key *out);

/*
 * Writes the challenge for (buyer, campaign, bits) issued at now_s, and a
 * NUL, into out; returns its length, or -1 when cap is too small
 * (POW_CHALLENGE_CAP is always enough) or bits > POW_MAX_BITS.
 */
int pow_challenge(const struct pow_key *k, uint64_t buyer, uint32_t campaign, unsigned bits,
		  uint64_t now_s, char *out, size_t cap);

/* When a challenge issued at issued_s stops being good, Unix ms. */
static inline uint64_t pow_expires_ms(uint64_t issued_s)
{
	return (issued_s + POW_TTL_S) * 1000;
}

/*
 * Checks the header value v[0..len) (challenge ':' nonce) for buyer and
 * campaign at now_s, when the campaign asks for min_bits (> 0). The order:
 * shape, MAC, time, bits, hash; the first failure is the answer.
 * prev (may be NULL): a second key tried when the MAC does not match under
 * k (a token key rotation, token.h).
 */
enum pow_status pow_verify(const struct pow_key *k, const struct pow_key *prev, const char *v,
			   size_t len, uint64_t buyer, uint32_t campaign, unsigned min_bits,
			   uint64_t now_s);

/* Whether the digest starts with bits (0..POW_MAX_BITS) zero bits. */
static inline bool pow_zero_bits(const uint8_t digest[32], unsigned bits)
{
	uint32_t w = (uint32_t)digest[0] << 24 | (uint32_t)digest[1] << 16 |
		     (uint32_t)digest[2] << 8 | digest[3];

	return bits == 0 || (w >> (32 - bits)) == 0;
}

/* SHA-256 of a then b (either length may be 0), into digest. */
void pow_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t digest[32]);

/* A solution for challenge ch at `bits` by counting up from *nonce (decimal
 * nonces): for tools and tests, not the server. Writes the nonce's text and
 * a NUL into out (cap >= 21) and returns its length. */
int pow_solve(const char *ch, size_t ch_len, unsigned bits, uint64_t *nonce, char *out,
	      size_t cap);

const char *pow_status_str(enum pow_status st);

#endif
