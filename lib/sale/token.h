/*
 * token.h - buyer tokens: who is buying, until when, signed by the operator.
 *
 * A site's login service mints one token per logged-in buyer; the dataplane
 * checks it on every sale request, so nobody can buy as another buyer and the
 * per-buyer limits mean something. The token is a short ASCII string, safe in
 * a URL, a cookie or an HTTP header without escaping:
 *
 *   v1.<buyer>.<expiry>.<mac>
 *
 *   buyer   the buyer id, an unsigned 64-bit decimal, 1..18446744073709551615,
 *           no sign, no leading zero (buyer 0 is reserved: "no buyer")
 *   expiry  Unix time in seconds, decimal, no leading zero ("0" allowed); the
 *           token is valid while now < expiry (at now == expiry it has expired)
 *   mac     16 lowercase hex digits: SipHash-2-4 under the 128-bit operator key
 *           of the bytes "v1.<buyer>.<expiry>" (everything before the last
 *           dot), printed as a 64-bit number, most significant digit first
 *
 *   e.g.    v1.42.1700000000.3f1c0a9e5b7d2468
 *
 * The operator key is 16 bytes, kept in a key file as 32 hex digits and a
 * newline. As in the SipHash reference code, key bytes 0..7 and 8..15 are read
 * as two little-endian 64-bit words, so any standard SipHash-2-4 library given
 * the same 16 bytes mints the same tokens (Python: a 20-line reference in
 * tests/cli/test_ctl.py).
 *
 * Why SipHash-2-4 and a 64-bit tag: it is a keyed PRF designed for short
 * inputs. Measured by tools/bench_token.c on the dev box (one core, -O2,
 * quiet machine): a whole token_verify costs ~100 ns (SipHash of the ~25
 * signed bytes is ~30 ns of it), against ~300 ns for HMAC-SHA-256 even with
 * the keyed context reused and ~2 us one-shot (OpenSSL 3); under load the
 * ratios hold (3-5x, 25-30x). That matters when a million requests arrive in
 * one second. A 64-bit tag is enough because a
 * forger can only guess online, one request per guess, against a
 * rate-limited server: at a million guesses per second an expected success
 * takes 2^63 / 10^6 s, about 290,000 years; offline search needs the key,
 * which never leaves the operator's machines. Strictly one canonical text per
 * (buyer, expiry): lowercase hex only, no leading zeros, so a token string
 * can be used as a cache or log key. The token is signed, not encrypted:
 * anyone holding it can read the buyer id and expiry.
 *
 * Key rotation: the dataplane may hold a current and a previous key and accept
 * a token when token_verify succeeds under either; the login service switches
 * to the new key first, and the old key is dropped after the longest token
 * lifetime (the TTL) has passed, so no valid token is ever refused. Two live
 * keys double a forger's odds, 2^-63 per guess: still nothing. A leaked key
 * is rotated the same way, minus the grace period. A format change gets a
 * new version prefix ("v2."), which v1 parsing refuses as malformed.
 */
#ifndef SECKILL_TOKEN_H
#define SECKILL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define TOKEN_KEY_BYTES 16
#define TOKEN_KEY_HEX_LEN (2 * TOKEN_KEY_BYTES)
/* "v1." + 20 digits + "." + 20 digits + "." + 16 hex: the longest valid token. */
#define TOKEN_MAX_LEN 61
#define TOKEN_STR_CAP (TOKEN_MAX_LEN + 1)
#define TOKEN_MAC_HEX_LEN 16
/* Room for an error message from the key functions. */
#define TOKEN_ERR_CAP 256

struct token_key {
	uint64_t k[2];      /* SipHash key words: bytes 0..7 and 8..15, little-endian */
};

enum token_status {
	TOKEN_OK = 0,
	TOKEN_MALFORMED,    /* not the v1 shape: all four map to 401, counted apart */
	TOKEN_BAD_MAC,      /* right shape, wrong MAC: forged, altered or another key */
	TOKEN_EXPIRED,      /* genuine, but now >= expiry */
};

/* Per-core counters for the app to keep, one per token_status. */
#define TOKEN_STATS(X) X(token_ok) X(token_malformed) X(token_bad_mac) X(token_expired)
struct token_stats { TOKEN_STATS(STATS_FIELD) };
extern const char *const token_stats_names[];
#define TOKEN_STATS_N (0 TOKEN_STATS(STATS_COUNT))

/* "ok", "malformed", "bad MAC", "expired". */
const char *token_status_str(enum token_status st);

/*
 * Writes the token for (buyer, expiry) and a NUL into out; returns its length,
 * or -1 when buyer is 0 or cap is too small (TOKEN_STR_CAP is always enough).
 */
int token_mint(const struct token_key *key, uint64_t buyer, uint64_t expiry,
	       char *out, size_t cap);

/*
 * Checks str[0..len) (not NUL-terminated) at Unix time now. On TOKEN_OK
 * *buyer is the buyer id; otherwise *buyer is left alone. The shape is checked
 * first, then the MAC (compared in constant time), then the expiry, so
 * TOKEN_EXPIRED is only ever said of a token this key really minted.
 */
enum token_status token_verify(const struct token_key *key, const char *str, size_t len,
			       uint64_t now, uint64_t *buyer);

/*
 * Only the shape: splits a token into its fields without checking the MAC.
 * Returns false when it is not a well-formed v1 token. For tools that report
 * what a token claims (seckillctl token verify); never trust the fields alone.
 */
bool token_decode(const char *str, size_t len, uint64_t *buyer, uint64_t *expiry,
		  uint64_t *mac);

/* n bytes equal? Time depends on n only, never on where a difference is. */
bool token_ct_equal(const void *a, const void *b, size_t n);

/*
 * A key from its text: exactly 32 hex digits (either case), optionally
 * followed by one "\n". An all-zero key is refused. On error returns -1 and
 * writes a sentence saying what is wrong into err (cap bytes).
 */
int token_key_parse(const char *s, size_t len, struct token_key *key, char *err, size_t cap);

/* token_key_parse of a key file's contents; errors name the file. */
int token_key_load(const char *path, struct token_key *key, char *err, size_t cap);

/* The key as 32 lowercase hex digits and a NUL (out: TOKEN_KEY_HEX_LEN + 1 bytes). */
void token_key_format(const struct token_key *key, char *out);

#endif
