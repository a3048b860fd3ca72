/*
 * Buyer tokens: known answers (computed once with an independent Python
 * SipHash-2-4, and cross-checked here by calling siphash24 directly), every
 * forgery a single bit flip can make, keys, expiry boundaries and the strict
 * shape rules.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siphash.h"
#include "token.h"

/* Key bytes 00 01 .. 0f, as in the SipHash paper's test vectors. */
static const struct token_key key = { { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL } };
static const struct token_key other_key = { { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0909ULL } };

#define T42 "v1.42.1700000000.806f4e6caa6a4ab4"
#define NOW 1699999000ULL

static enum token_status verify_str(const struct token_key *k, const char *s, uint64_t now,
				    uint64_t *buyer)
{
	return token_verify(k, s, strlen(s), now, buyer);
}

Test(token_mint, known_answer)
{
	char out[TOKEN_STR_CAP];

	cr_assert_eq(token_mint(&key, 42, 1700000000, out, sizeof(out)), (int)strlen(T42));
	cr_assert_str_eq(out, T42);
}

Test(token_mint, known_answer_extremes)
{
	char out[TOKEN_STR_CAP];
	const char *max = "v1.18446744073709551615.18446744073709551615.a92c3653ab31ab1f";

	cr_assert_eq(token_mint(&key, 1, 0, out, sizeof(out)), 23);
	cr_assert_str_eq(out, "v1.1.0.00849b53392d01d9");
	cr_assert_eq(token_mint(&key, UINT64_MAX, UINT64_MAX, out, sizeof(out)), TOKEN_MAX_LEN);
	cr_assert_str_eq(out, max);
}

Test(token_mint, mac_is_siphash_of_signed_prefix)
{
	const char *signed_part = "v1.42.1700000000";
	char hex[17];

	snprintf(hex, sizeof(hex), "%016" PRIx64, siphash24(key.k, signed_part, strlen(signed_part)));
	cr_assert_str_eq(hex, &T42[strlen(signed_part) + 1]);
}

Test(token_mint, refuses_buyer_zero_and_short_buffer)
{
	char out[TOKEN_STR_CAP];

	memset(out, 'x', sizeof(out));
	cr_assert_eq(token_mint(&key, 0, 1700000000, out, sizeof(out)), -1);
	/* Exactly the length is one short: there is no room for the NUL. */
	cr_assert_eq(token_mint(&key, 42, 1700000000, out, strlen(T42)), -1);
	cr_assert_eq(out[0], 'x');
	cr_assert_eq(token_mint(&key, 42, 1700000000, out, strlen(T42) + 1), (int)strlen(T42));
}

Test(token_verify, accepts_known_token)
{
	uint64_t buyer = 0;

	cr_assert_eq(verify_str(&key, T42, NOW, &buyer), TOKEN_OK);
	cr_assert_eq(buyer, 42);
}

Test(token_verify, round_trips_many)
{
	char out[TOKEN_STR_CAP];
	uint64_t buyer;
	uint64_t buyers[] = { 1, 9, 10, 99, 100, 123456789, 1ULL << 63, UINT64_MAX };

	for (size_t i = 0; i < sizeof(buyers) / sizeof(buyers[0]); i++) {
		int n = token_mint(&key, buyers[i], NOW + 1, out, sizeof(out));

		cr_assert_gt(n, 0);
		buyer = 0;
		cr_assert_eq(token_verify(&key, out, (size_t)n, NOW, &buyer), TOKEN_OK);
		cr_assert_eq(buyer, buyers[i]);
	}
}

Test(token_verify, every_single_bit_flip_is_rejected)
{
	char s[sizeof(T42)];
	size_t len = strlen(T42);
	uint64_t buyer = 7;

	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			enum token_status st;

			memcpy(s, T42, sizeof(s));
			s[i] ^= (char)(1 << bit);
			st = token_verify(&key, s, len, NOW, &buyer);
			cr_assert(st == TOKEN_MALFORMED || st == TOKEN_BAD_MAC,
				  "flip byte %zu bit %d accepted: %s", i, bit, token_status_str(st));
			cr_assert_eq(buyer, 7, "buyer written on failure");
		}
	}
}

Test(token_verify, altered_fields_keep_shape_but_fail_mac)
{
	uint64_t buyer = 7;

	/* Another buyer, a later expiry, another MAC digit: all well-formed. */
	cr_assert_eq(verify_str(&key, "v1.43.1700000000.806f4e6caa6a4ab4", NOW, &buyer), TOKEN_BAD_MAC);
	cr_assert_eq(verify_str(&key, "v1.42.1700000001.806f4e6caa6a4ab4", NOW, &buyer), TOKEN_BAD_MAC);
	cr_assert_eq(verify_str(&key, "v1.42.1700000000.806f4e6caa6a4ab5", NOW, &buyer), TOKEN_BAD_MAC);
	cr_assert_eq(verify_str(&key, "v1.42.1700000000.006f4e6caa6a4ab4", NOW, &buyer), TOKEN_BAD_MAC);
	cr_assert_eq(buyer, 7);
}

Test(token_verify, wrong_key)
{
	uint64_t buyer = 7;

	cr_assert_eq(verify_str(&other_key, T42, NOW, &buyer), TOKEN_BAD_MAC);
	cr_assert_eq(buyer, 7);
}

Test(token_verify, expiry_boundary)
{
	uint64_t buyer = 0;

	cr_assert_eq(verify_str(&key, T42, 1699999999, &buyer), TOKEN_OK);
	buyer = 7;
	cr_assert_eq(verify_str(&key, T42, 1700000000, &buyer), TOKEN_EXPIRED);
	cr_assert_eq(verify_str(&key, T42, 1700000001, &buyer), TOKEN_EXPIRED);
	cr_assert_eq(verify_str(&key, "v1.1.0.00849b53392d01d9", 0, &buyer), TOKEN_EXPIRED);
	cr_assert_eq(buyer, 7);
}

Test(token_verify, expired_and_forged_is_bad_mac)
{
	uint64_t buyer;

	/* MAC first: "expired" is only ever said of a genuine token. */
	cr_assert_eq(verify_str(&key, "v1.42.1700000000.806f4e6caa6a4ab5", UINT64_MAX, &buyer),
		     TOKEN_BAD_MAC);
}

static void assert_malformed(const char *s)
{
	uint64_t buyer = 7, b, e, m;

	cr_assert_eq(token_verify(&key, s, strlen(s), NOW, &buyer), TOKEN_MALFORMED,
		     "accepted as well-formed: \"%s\"", s);
	cr_assert_not(token_decode(s, strlen(s), &b, &e, &m), "decoded: \"%s\"", s);
	cr_assert_eq(buyer, 7);
}

Test(token_verify, malformed_shapes)
{
	assert_malformed("");
	assert_malformed("v");
	assert_malformed("v1");
	assert_malformed("v1.");
	assert_malformed("v1.42");
	assert_malformed("v1.42.");
	assert_malformed("v1.42.1700000000");
	assert_malformed("v1.42.1700000000.");
	assert_malformed("v2.42.1700000000.806f4e6caa6a4ab4");
	assert_malformed("V1.42.1700000000.806f4e6caa6a4ab4");
	assert_malformed(".42.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1..1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.42..806f4e6caa6a4ab4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab4.");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab4x");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab");     /* 15 hex */
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab44");   /* 17 hex */
	assert_malformed("v1.42.17.00000000.806f4e6caa6a4ab4");   /* extra dot */
	assert_malformed(" v1.42.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab4 ");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ab4\n");
}

Test(token_verify, malformed_numbers)
{
	assert_malformed("v1.042.1700000000.806f4e6caa6a4ab4");   /* leading zero */
	assert_malformed("v1.0.1700000000.806f4e6caa6a4ab4");     /* buyer 0 reserved */
	assert_malformed("v1.00.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.42.01700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.+42.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.-42.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.4a.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.42.17000 0000.806f4e6caa6a4ab4");
	assert_malformed("v1.42.1700000000e0.806f4e6caa6a4ab4");
	/* UINT64_MAX + 1, and 21 digits. */
	assert_malformed("v1.18446744073709551616.1.806f4e6caa6a4ab4");
	assert_malformed("v1.1.18446744073709551616.806f4e6caa6a4ab4");
	assert_malformed("v1.100000000000000000000.1.806f4e6caa6a4ab4");
	assert_malformed("v1.99999999999999999999.1.806f4e6caa6a4ab4");
}

Test(token_verify, hex_case_policy_is_lowercase_only)
{
	assert_malformed("v1.42.1700000000.806F4E6CAA6A4AB4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4aB4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4ag4");
	/* Bytes above ASCII, and the ones just outside each digit range. */
	assert_malformed("v1.42.1700000000.806f4e6caa6a4a\xb4");
	assert_malformed("v1.42.1700000000.\xff" "06f4e6caa6a4ab4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4a/4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4a:4");
	assert_malformed("v1.42.1700000000.806f4e6caa6a4a`4");
	assert_malformed("v1.4/.1700000000.806f4e6caa6a4ab4");
	assert_malformed("v1.4:.1700000000.806f4e6caa6a4ab4");
}

Test(token_verify, too_long_is_malformed)
{
	char s[256];

	memset(s, '1', sizeof(s));
	memcpy(s, "v1.", 3);
	cr_assert_eq(token_verify(&key, s, sizeof(s), NOW, &(uint64_t){0}), TOKEN_MALFORMED);
	/* The longest valid token plus one byte anywhere is too long. */
	cr_assert_eq(token_verify(&key, "v1.18446744073709551615.18446744073709551615.a92c3653ab31ab1f",
				  TOKEN_MAX_LEN, 0, &(uint64_t){0}), TOKEN_OK);
	assert_malformed("v1.18446744073709551615.18446744073709551615.a92c3653ab31ab1f0");
}

Test(token_verify, reads_only_len_bytes)
{
	/* A token inside a header line: the bytes after len are not part of it. */
	const char *line = T42 "\r\nHost: x";
	uint64_t buyer = 0;

	cr_assert_eq(token_verify(&key, line, strlen(T42), NOW, &buyer), TOKEN_OK);
	cr_assert_eq(buyer, 42);
	cr_assert_eq(token_verify(&key, line, strlen(T42) - 1, NOW, &buyer), TOKEN_MALFORMED);
}

Test(token_decode, fields)
{
	uint64_t b, e, m;

	cr_assert(token_decode(T42, strlen(T42), &b, &e, &m));
	cr_assert_eq(b, 42);
	cr_assert_eq(e, 1700000000);
	cr_assert_eq(m, 0x806f4e6caa6a4ab4ULL);
}

Test(token_ct_equal, compares_every_byte)
{
	uint8_t a[32], b[32];

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	cr_assert(token_ct_equal(a, b, sizeof(a)));
	cr_assert(token_ct_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		cr_assert_not(token_ct_equal(a, b, sizeof(a)), "difference at %zu missed", i);
		cr_assert(token_ct_equal(a, b, i), "prefix of %zu", i);
		b[i] ^= 0x80;
	}
}

Test(token_status, names)
{
	cr_assert_str_eq(token_status_str(TOKEN_OK), "ok");
	cr_assert_str_eq(token_status_str(TOKEN_MALFORMED), "malformed");
	cr_assert_str_eq(token_status_str(TOKEN_BAD_MAC), "bad MAC");
	cr_assert_str_eq(token_status_str(TOKEN_EXPIRED), "expired");
}

/* ---- keys ---- */

static int parse_key(const char *s, struct token_key *k, char *err)
{
	return token_key_parse(s, strlen(s), k, err, TOKEN_ERR_CAP);
}

Test(token_key, parse_is_bytes_little_endian_words)
{
	struct token_key k;
	char err[TOKEN_ERR_CAP] = "", hex[TOKEN_KEY_HEX_LEN + 1];

	cr_assert_eq(parse_key("000102030405060708090a0b0c0d0e0f\n", &k, err), 0, "%s", err);
	cr_assert_eq(k.k[0], key.k[0]);
	cr_assert_eq(k.k[1], key.k[1]);
	token_key_format(&k, hex);
	cr_assert_str_eq(hex, "000102030405060708090a0b0c0d0e0f");
	/* Without the newline, and in uppercase, it is the same key. */
	cr_assert_eq(parse_key("000102030405060708090A0B0C0D0E0F", &k, err), 0, "%s", err);
	cr_assert_eq(k.k[1], key.k[1]);
}

Test(token_key, parse_errors_say_what_is_wrong)
{
	struct token_key k;
	char err[TOKEN_ERR_CAP];

	cr_assert_eq(parse_key("", &k, err), -1);
	cr_assert_str_eq(err, "key has 0 hex digits; expected 32 (make one with "
			 "'seckillctl token keygen')");
	cr_assert_eq(parse_key("0001020304\n", &k, err), -1);
	cr_assert_str_eq(err, "key has 10 hex digits; expected 32 (make one with "
			 "'seckillctl token keygen')");
	cr_assert_eq(parse_key("000102030405060708090a0b0c0d0e0g\n", &k, err), -1);
	cr_assert_str_eq(err, "key has a character that is not a hex digit at position 32; "
			 "expected 32 hex digits and a newline");
	cr_assert_eq(parse_key(" 000102030405060708090a0b0c0d0e0f", &k, err), -1);
	cr_assert_str_eq(err, "key has a character that is not a hex digit at position 1; "
			 "expected 32 hex digits and a newline");
	cr_assert_eq(parse_key("000102030405060708090a0b0c0d0e0f0\n", &k, err), -1);
	cr_assert_str_eq(err, "key has more than 32 hex digits, or something other than one "
			 "newline after them");
	cr_assert_eq(parse_key("000102030405060708090a0b0c0d0e0f\r\n", &k, err), -1);
	cr_assert_eq(parse_key("000102030405060708090a0b0c0d0e0f\n\n", &k, err), -1);
	k = other_key;
	cr_assert_eq(parse_key("00000000000000000000000000000000\n", &k, err), -1);
	cr_assert_str_eq(err, "key is all zeros; make a random one with 'seckillctl token keygen'");
	cr_assert(k.k[0] == other_key.k[0] && k.k[1] == other_key.k[1], "key written on failure");
}

Test(token_key, load_from_file)
{
	char path[] = "/tmp/test_token_keyXXXXXX", err[TOKEN_ERR_CAP], want[TOKEN_ERR_CAP + 64];
	struct token_key k;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "000102030405060708090a0b0c0d0e0f\n", 33), 33);
	close(fd);
	cr_assert_eq(token_key_load(path, &k, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(k.k[0], key.k[0]);
	cr_assert_eq(k.k[1], key.k[1]);

	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_eq(write(fd, "abc\n", 4), 4);
	close(fd);
	cr_assert_eq(token_key_load(path, &k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "key file %s: key has 3 hex digits; expected 32 (make one "
		 "with 'seckillctl token keygen')", path);
	cr_assert_str_eq(err, want);

	unlink(path);
	cr_assert_eq(token_key_load(path, &k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "can't open key file %s: No such file or directory", path);
	cr_assert_str_eq(err, want);
}

/* ---- the word-at-a-time scans against the grammar, on random shapes ---------- */

/* A canonical u64 decimal at s[*i] ended by '.', written the plain way. */
static bool ref_decimal(const char *s, size_t len, size_t *i, uint64_t *out)
{
	size_t start = *i;
	unsigned __int128 v = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (unsigned)(s[*i] - '0');
		if (v > UINT64_MAX)
			return false;
		(*i)++;
	}
	if (*i == start || *i - start > 20 || *i >= len || s[*i] != '.' ||
	    (s[start] == '0' && *i - start > 1))
		return false;
	(*i)++;
	*out = (uint64_t)v;
	return true;
}

static bool ref_decode(const char *s, size_t len, uint64_t *b, uint64_t *e, uint64_t *m)
{
	size_t i = 3;

	if (len > TOKEN_MAX_LEN || len < 3 || memcmp(s, "v1.", 3) != 0 ||
	    !ref_decimal(s, len, &i, b) || *b == 0 || !ref_decimal(s, len, &i, e) || len - i != 16)
		return false;
	*m = 0;
	for (; i < len; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;

		if (d < 0)
			return false;
		*m = *m << 4 | (uint64_t)d;
	}
	return true;
}

Test(token_decode, agrees_with_the_plain_grammar_on_a_million_shapes)
{
	/* Digits dominate, with the bytes that sit next to each range and a few
	 * of each kind of mistake, so most shapes get deep into the scan. */
	static const char alpha[] = "0123456789012345678901234567890123456789.abcdef/:`gAF\xb4\xff \x00";
	uint64_t seed = 0x9e3779b97f4a7c15ull, agree_ok = 0;
	char s[80];

	for (int n = 0; n < 1000000; n++) {
		size_t len = 3;

		memcpy(s, "v1.", 3);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* Fields of 0..22 characters: buyer, expiry, MAC, each maybe dotted. */
		for (int f = 0; f < 3; f++) {
			unsigned flen = (unsigned)(seed >> (20 + 7 * f)) % 23;

			if (f == 2 && (seed >> 60) < 12)
				flen = 16;
			for (unsigned k = 0; k < flen && len < sizeof(s) - 2; k++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				/* The MAC is mostly hex, one byte in 64 anything. */
				s[len++] = f == 2 && (seed >> 58) != 0 ? "0123456789abcdef"[(seed >> 33) & 15]
								       : alpha[(seed >> 33) % (sizeof(alpha) - 1)];
			}
			if (f < 2)
				s[len++] = '.';
		}
		uint64_t b1 = 0, e1 = 0, m1 = 0, b2 = 0, e2 = 0, m2 = 0;
		bool got = token_decode(s, len, &b1, &e1, &m1);
		bool want = ref_decode(s, len, &b2, &e2, &m2);

		cr_assert_eq(got, want, "shape %.*s: decode says %d, the grammar %d", (int)len, s, got,
			     want);
		if (got) {
			cr_assert(b1 == b2 && e1 == e2 && m1 == m2, "fields of %.*s", (int)len, s);
			agree_ok++;
		}
	}
	cr_assert_gt(agree_ok, 5000, "enough well-formed shapes were drawn (%lu)",
		     (unsigned long)agree_ok);
}
