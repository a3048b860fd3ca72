/*
 * bench_token.c - what a buyer-token check costs, SipHash-2-4 against
 * HMAC-SHA-256 (the argument for the choice is in lib/sale/token.h).
 *
 * Times, per operation on one core: SipHash-2-4 of a token's signed prefix,
 * a whole token_verify (parse + MAC + constant-time compare) and token_mint;
 * and, when built with OpenSSL's libcrypto (Debian: libssl-dev; optional,
 * only this tool links it), HMAC-SHA-256 of the same bytes, both one-shot and
 * with the keyed context reused (HMAC's best case: the key's inner and outer
 * pads already hashed). Then the proof of work's check on an order
 * (lib/sale/pow.h): pow_verify of a solved challenge (parse, SipHash,
 * SHA-256), its SHA-256 alone, and a wrong nonce (the same work, refused).
 *
 *   bench_token [iterations]     default 2000000
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "now.h"
#include "pow.h"
#include "siphash.h"
#include "str2int.h"
#include "token.h"

#ifdef BENCH_HAVE_OPENSSL
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

#define BENCH_DEFAULT_ITERS 2000000
#define BENCH_NOW 1699999000ULL

static volatile uint64_t sink;     /* keeps results alive past the optimiser */

static const struct token_key key = { { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL } };
static const uint8_t key_bytes[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static void report(const char *what, uint64_t t0, long iters)
{
	printf("%-44s %8.1f ns/op\n", what, (double)(now_mono_ns() - t0) / (double)iters);
}

static void bench_siphash(const char *msg, size_t len, long iters)
{
	uint64_t t0 = now_mono_ns();
	uint64_t acc = 0;

	for (long i = 0; i < iters; i++)
		acc += siphash24(key.k, msg, len);
	sink = acc;
	report("siphash24(signed prefix)", t0, iters);
}

static void bench_verify(const char *tok, size_t len, long iters)
{
	uint64_t t0 = now_mono_ns();
	uint64_t buyer = 0, acc = 0;

	for (long i = 0; i < iters; i++)
		acc += token_verify(&key, tok, len, BENCH_NOW, &buyer) + buyer;
	sink = acc;
	report("token_verify (parse + SipHash + ct compare)", t0, iters);
}

static void bench_mint(long iters)
{
	char out[TOKEN_STR_CAP];
	uint64_t t0 = now_mono_ns();
	uint64_t acc = 0;

	for (long i = 0; i < iters; i++)
		acc += (uint64_t)token_mint(&key, 42 + (uint64_t)i, 1700000000, out, sizeof(out));
	sink = acc;
	report("token_mint (snprintf + SipHash)", t0, iters);
}

/* A solved X-Seckill-PoW value for buyer 123456789, campaign 7, at BENCH_NOW. */
#define BENCH_POW_BITS 12
static size_t pow_value(const struct pow_key *k, char *out, size_t cap)
{
	char ch[POW_CHALLENGE_CAP], nonce[24];
	uint64_t i = 0;
	int n = pow_challenge(k, 123456789, 7, BENCH_POW_BITS, BENCH_NOW, ch, sizeof(ch));

	pow_solve(ch, (size_t)n, BENCH_POW_BITS, &i, nonce, sizeof(nonce));
	return (size_t)snprintf(out, cap, "%s:%s", ch, nonce);
}

static void bench_pow(long iters)
{
	struct pow_key k;
	char v[128], bad[128];
	size_t len, colon;
	uint8_t d[32];
	uint64_t t0, acc = 0;

	pow_key_derive(&key, &k);
	len = pow_value(&k, v, sizeof(v));
	if (pow_verify(&k, NULL, v, len, 123456789, 7, BENCH_POW_BITS, BENCH_NOW) != POW_OK) {
		fprintf(stderr, "bench_token: the solved challenge does not verify\n");
		exit(1);
	}
	printf("X-Seckill-PoW: %s (%zu bytes, %d bits)\n", v, len, BENCH_POW_BITS);
	t0 = now_mono_ns();
	for (long i = 0; i < iters; i++)
		acc += pow_verify(&k, NULL, v, len, 123456789, 7, BENCH_POW_BITS, BENCH_NOW);
	sink = acc;
	report("pow_verify (parse + SipHash + SHA-256)", t0, iters);
	colon = (size_t)(strchr(v, ':') - v);
	t0 = now_mono_ns();
	for (long i = 0; i < iters; i++) {
		v[len - 1] ^= (char)(i & 1);     /* keep the hash from being hoisted */
		pow_sha256(v, colon, v + colon + 1, len - colon - 1, d);
		acc += d[0];
	}
	sink = acc;
	report("SHA-256 of challenge || nonce (OpenSSL)", t0, iters);
	/* A nonce that does not solve it: the whole check, then refused. */
	memcpy(bad, v, len + 1);
	for (bad[len - 1] = '0'; bad[len - 1] <= '9'; bad[len - 1]++)
		if (pow_verify(&k, NULL, bad, len, 123456789, 7, BENCH_POW_BITS, BENCH_NOW) ==
		    POW_UNSOLVED)
			break;
	t0 = now_mono_ns();
	for (long i = 0; i < iters; i++)
		acc += pow_verify(&k, NULL, bad, len, 123456789, 7, BENCH_POW_BITS, BENCH_NOW);
	sink = acc;
	report("pow_verify, wrong nonce (refused)", t0, iters);
	/* What a solver pays per try, natively (the bot's side): pow_solve at
	 * the default bits over a few challenges, per hash. */
	{
		uint64_t tries = 0, n;
		char ch[POW_CHALLENGE_CAP], nonce[24];

		t0 = now_mono_ns();
		for (uint64_t c = 0; c < 16; c++) {
			int len = pow_challenge(&k, 1000 + c, 7, POW_DEFAULT_BITS, BENCH_NOW, ch,
						sizeof(ch));

			n = 0;
			pow_solve(ch, (size_t)len, POW_DEFAULT_BITS, &n, nonce, sizeof(nonce));
			tries += n + 1;
		}
		printf("%-44s %8.1f ns/hash, %.1f ms per solve (%d bits, 16 solves)\n",
		       "pow_solve (the solver's side, one core)",
		       (double)(now_mono_ns() - t0) / (double)tries,
		       (double)(now_mono_ns() - t0) / 16e6, POW_DEFAULT_BITS);
	}
}

#ifdef BENCH_HAVE_OPENSSL
static void bench_hmac_oneshot(const char *msg, size_t len, long iters)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	uint64_t t0 = now_mono_ns();
	uint64_t acc = 0;

	for (long i = 0; i < iters; i++) {
		HMAC(EVP_sha256(), key_bytes, sizeof(key_bytes), (const unsigned char *)msg, len,
		     md, &mdlen);
		acc += md[0];
	}
	sink = acc;
	report("HMAC-SHA-256 one-shot (OpenSSL HMAC())", t0, iters);
}

static void bench_hmac_reused(const char *msg, size_t len, long iters)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen;
	uint64_t t0;
	uint64_t acc = 0;

	if (!ctx || !EVP_MAC_init(ctx, key_bytes, sizeof(key_bytes), params)) {
		fprintf(stderr, "bench_token: OpenSSL HMAC context setup failed\n");
		exit(1);
	}
	t0 = now_mono_ns();
	for (long i = 0; i < iters; i++) {
		/* A NULL key re-initialises with the key already set: pads pre-hashed. */
		EVP_MAC_init(ctx, NULL, 0, NULL);
		EVP_MAC_update(ctx, (const unsigned char *)msg, len);
		EVP_MAC_final(ctx, md, &mdlen, sizeof(md));
		acc += md[0];
	}
	sink = acc;
	report("HMAC-SHA-256 keyed context reused (EVP_MAC)", t0, iters);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}
#endif

int main(int argc, char **argv)
{
	uint64_t v = BENCH_DEFAULT_ITERS;
	long iters;
	char tok[TOKEN_STR_CAP];
	int len = token_mint(&key, 123456789, 1700000000, tok, sizeof(tok));
	size_t signed_len = (size_t)len - TOKEN_MAC_HEX_LEN - 1;
	uint64_t buyer = 0;

	if ((argc > 1 && !str2u64(argv[1], 1, LONG_MAX, &v)) || len < 0 ||
	    token_verify(&key, tok, (size_t)len, BENCH_NOW, &buyer) != TOKEN_OK) {
		fprintf(stderr, "usage: bench_token [iterations > 0]\n");
		return 2;
	}
	iters = (long)v;
	printf("token %s (%d bytes, %zu signed), %ld iterations\n", tok, len, signed_len, iters);
	bench_siphash(tok, signed_len, iters);
	bench_verify(tok, (size_t)len, iters);
	bench_mint(iters);
	bench_pow(iters);
#ifdef BENCH_HAVE_OPENSSL
	bench_hmac_oneshot(tok, signed_len, iters);
	bench_hmac_reused(tok, signed_len, iters);
#else
	printf("HMAC-SHA-256: not built (install libssl-dev and reconfigure)\n");
#endif
	return 0;
}
