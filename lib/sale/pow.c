/*
 * pow.c - proof-of-work challenges and their check (format and reasoning:
 * pow.h).
 *
 * The check runs on the core for every order of a campaign that asks for
 * one, so it parses the header in one pass without copying, and its two
 * hashes allocate nothing: SHA-256 is OpenSSL's SHA256_Init/Update/Final on
 * a context on the stack. OpenSSL 3 calls those deprecated in favour of
 * EVP, but EVP_DigestInit allocates a provider context at every init (one
 * malloc per request, measured with CRYPTO_set_mem_functions) and costs
 * ~135 ns against ~90 ns; both run the same sha256_block_data_order, with
 * the SHA-NI instructions when the CPU has them.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "pow.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "siphash.h"

#define POW_MAC_HEX 16
/* Digits of UINT64_MAX. */
#define POW_U64_DIGITS 20
/* A challenge's decimal fields: 19 digits never overflow a uint64_t. */
#define POW_FIELD_DIGITS 19

const char *const pow_stats_names[] = { POW_STATS(STATS_NAME) };
_Static_assert(sizeof(pow_stats_names) / sizeof(pow_stats_names[0]) == POW_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct pow_stats) == POW_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

/* The derivation's inputs: no token's signed text starts with "seckill". */
static const char pow_key_label[2][16] = { "seckill pow k0 ", "seckill pow k1 " };

const char *pow_status_str(enum pow_status st)
{
	switch (st) {
	case POW_OK: return "ok";
	case POW_MALFORMED: return "malformed";
	case POW_BAD_MAC: return "bad MAC (another buyer or campaign)";
	case POW_EXPIRED: return "expired";
	case POW_WEAK: return "fewer bits than the campaign asks";
	case POW_UNSOLVED: return "not solved";
	}
	return "unknown";
}

void pow_key_derive(const struct token_key *tk, struct pow_key *out)
{
	out->k[0] = siphash24(tk->k, pow_key_label[0], sizeof(pow_key_label[0]));
	out->k[1] = siphash24(tk->k, pow_key_label[1], sizeof(pow_key_label[1]));
}

/* The MAC'd message: fixed-size words, so no two tuples share one. */
static uint64_t pow_mac(const struct pow_key *k, uint64_t buyer, uint32_t campaign,
			unsigned bits, uint64_t issued_s)
{
	uint64_t m[3] = { buyer, (uint64_t)campaign | (uint64_t)bits << 32, issued_s };

	return siphash24(k->k, m, sizeof(m));
}

int pow_challenge(const struct pow_key *k, uint64_t buyer, uint32_t campaign, unsigned bits,
		  uint64_t now_s, char *out, size_t cap)
{
	char buf[POW_CHALLENGE_CAP];
	int n;

	if (bits > POW_MAX_BITS)
		return -1;
	n = snprintf(buf, sizeof(buf), "%" PRIu32 ".%u.%" PRIu64 ".%016" PRIx64, campaign, bits,
		     now_s, pow_mac(k, buyer, campaign, bits, now_s));
	if (n < 0 || (size_t)n + 1 > cap)
		return -1;
	memcpy(out, buf, (size_t)n + 1);
	return n;
}

void pow_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t digest[32])
{
	SHA256_CTX ctx;

	SHA256_Init(&ctx);
	SHA256_Update(&ctx, a, alen);
	SHA256_Update(&ctx, b, blen);
	SHA256_Final(digest, &ctx);
}

/*
 * A decimal field at s[*pos], ended by a '.' before len: canonical (no
 * leading zero but "0"), at most POW_FIELD_DIGITS digits, which cannot
 * overflow, so one pass without checked arithmetic (str2ull's rules, on the
 * order's path; the challenges we issue have 10-digit times).
 */
static bool pow_field(const char *s, size_t len, size_t *pos, uint64_t *out)
{
	size_t start = *pos, i = start;
	uint64_t v = 0;
	unsigned d;

	while (i < len && i - start < POW_FIELD_DIGITS &&
	       (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
		v = v * 10 + d;
		i++;
	}
	if (i == start || i >= len || s[i] != '.' || (s[start] == '0' && i - start > 1))
		return false;
	*out = v;
	*pos = i + 1;
	return true;
}

static int pow_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool pow_nonce_ok(const char *p, size_t n)
{
	if (n == 0 || n > POW_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The challenge's fields; *ch_len is where the ':' is. */
struct pow_parsed {
	uint64_t campaign, bits, issued, mac;
	size_t ch_len;
};

static bool pow_parse(const char *v, size_t len, struct pow_parsed *p)
{
	const char *colon = memchr(v, ':', len < POW_CHALLENGE_CAP ? len : POW_CHALLENGE_CAP);
	size_t pos = 0;
	int d;

	if (colon == NULL)
		return false;
	p->ch_len = (size_t)(colon - v);
	if (!pow_nonce_ok(colon + 1, len - p->ch_len - 1) ||
	    !pow_field(v, p->ch_len, &pos, &p->campaign) ||
	    !pow_field(v, p->ch_len, &pos, &p->bits) ||
	    !pow_field(v, p->ch_len, &pos, &p->issued) || p->ch_len - pos != POW_MAC_HEX)
		return false;
	p->mac = 0;
	for (size_t i = pos; i < p->ch_len; i++) {
		if ((d = pow_hex(v[i])) < 0)
			return false;
		p->mac = p->mac << 4 | (uint64_t)d;
	}
	return p->campaign <= UINT32_MAX && p->bits <= POW_MAX_BITS;
}

enum pow_status pow_verify(const struct pow_key *k, const struct pow_key *prev, const char *v,
			   size_t len, uint64_t buyer, uint32_t campaign, unsigned min_bits,
			   uint64_t now_s)
{
	struct pow_parsed p;
	uint8_t digest[32];

	if (!pow_parse(v, len, &p))
		return POW_MALFORMED;
	/* Another campaign's challenge, whatever its MAC says. Then the MAC,
	 * compared as one XOR of two words (token_verify's reasoning). */
	if (p.campaign != campaign ||
	    ((pow_mac(k, buyer, campaign, (unsigned)p.bits, p.issued) ^ p.mac) != 0 &&
	     (prev == NULL ||
	      (pow_mac(prev, buyer, campaign, (unsigned)p.bits, p.issued) ^ p.mac) != 0)))
		return POW_BAD_MAC;
	if (now_s >= p.issued + POW_TTL_S || p.issued > now_s + POW_SKEW_S)
		return POW_EXPIRED;
	if (p.bits < min_bits)
		return POW_WEAK;
	pow_sha256(v, p.ch_len, v + p.ch_len + 1, len - p.ch_len - 1, digest);
	return pow_zero_bits(digest, (unsigned)p.bits) ? POW_OK : POW_UNSOLVED;
}

int pow_solve(const char *ch, size_t ch_len, unsigned bits, uint64_t *nonce, char *out,
	      size_t cap)
{
	uint8_t digest[32];
	char d[POW_U64_DIGITS + 1];
	SHA256_CTX pre, ctx;
	int n;

	if (cap < sizeof(d) || bits > POW_MAX_BITS)
		return -1;
	/* The challenge's blocks once; each try hashes only the tail. */
	SHA256_Init(&pre);
	SHA256_Update(&pre, ch, ch_len);
	for (;; (*nonce)++) {
		n = snprintf(d, sizeof(d), "%" PRIu64, *nonce);
		ctx = pre;
		SHA256_Update(&ctx, d, (size_t)n);
		SHA256_Final(digest, &ctx);
		if (pow_zero_bits(digest, bits))
			break;
	}
	memcpy(out, d, (size_t)n + 1);
	return n;
}
