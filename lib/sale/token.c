/*
 * token.c - minting and checking buyer tokens (format and reasoning: token.h).
 *
 * Verification runs on every sale request, so it parses in one pass without
 * copying, hashes the signed prefix straight from the request buffer and
 * compares the MAC in constant time. Parsing is strict: exactly one text
 * is accepted per (buyer, expiry, key), anything else is TOKEN_MALFORMED.
 */
#include "token.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "siphash.h"

#define TOKEN_PREFIX "v1."
#define TOKEN_PREFIX_LEN 3
/* UINT64_MAX has 20 decimal digits. */
#define TOKEN_U64_MAX_DIGITS 20
/* A key file is 33 bytes; read a little more to tell "too long" from "just right". */
#define TOKEN_KEY_FILE_READ 128

const char *const token_stats_names[] = { TOKEN_STATS(STATS_NAME) };

static const char hex_lower[16] = "0123456789abcdef";

const char *token_status_str(enum token_status st)
{
	switch (st) {
	case TOKEN_OK: return "ok";
	case TOKEN_MALFORMED: return "malformed";
	case TOKEN_BAD_MAC: return "bad MAC";
	case TOKEN_EXPIRED: return "expired";
	}
	return "unknown";
}

bool token_ct_equal(const void *a, const void *b, size_t n)
{
	/* volatile keeps the compiler from turning the loop into an early-exit memcmp. */
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

static void hex16(uint64_t v, char out[TOKEN_MAC_HEX_LEN])
{
	for (int i = TOKEN_MAC_HEX_LEN - 1; i >= 0; i--) {
		out[i] = hex_lower[v & 0xf];
		v >>= 4;
	}
}

/* Lowercase hex digit value, or -1 (uppercase is not canonical). */
static int hex_val_lower(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex_val_any(char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return hex_val_lower(c);
}

/*
 * A canonical u64 decimal at s[*pos], ended by a '.' before len: 1..20
 * digits, no leading zero unless it is "0", no overflow. Advances *pos past
 * the dot. One pass, no search for the dot first; up to 19 digits cannot
 * overflow, so only a 20th digit pays for checked arithmetic.
 */
static bool scan_u64_dot(const char *s, size_t len, size_t *pos, uint64_t *out)
{
	size_t start = *pos, i = start;
	uint64_t v = 0;
	unsigned d;

	while (i < len && i - start < TOKEN_U64_MAX_DIGITS - 1 &&
	       (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
		v = v * 10 + d;
		i++;
	}
	if (i < len && i - start == TOKEN_U64_MAX_DIGITS - 1 &&
	    (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
			return false;
		i++;
	}
	if (i == start || i >= len || s[i] != '.' || (s[start] == '0' && i - start > 1))
		return false;
	*pos = i + 1;
	*out = v;
	return true;
}

/* Lowercase hex digit value + 1; 0 (every byte not listed) marks a non-digit. */
static const uint8_t mac_hex_val[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
	['e'] = 15, ['f'] = 16,
};

/* The 16 lowercase hex digits at s as a number; false on any other byte. */
static bool parse_mac_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned bad = 0;

	/* A table and no branches: as fast for any digits, and no early exit. */
	for (int i = 0; i < TOKEN_MAC_HEX_LEN; i++) {
		unsigned d = mac_hex_val[(unsigned char)s[i]];

		bad |= d == 0;
		v = v << 4 | ((d - 1) & 0xf);
	}
	*out = v;
	return !bad;
}

/*
 * The shape check shared by token_verify and token_decode; *signed_len is the
 * length of the MAC'd prefix "v1.<buyer>.<expiry>".
 */
static bool token_split(const char *s, size_t len, uint64_t *buyer, uint64_t *expiry,
			uint64_t *mac, size_t *signed_len)
{
	size_t pos = TOKEN_PREFIX_LEN;

	if (len > TOKEN_MAX_LEN || len < TOKEN_PREFIX_LEN ||
	    memcmp(s, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return false;
	if (!scan_u64_dot(s, len, &pos, buyer) || *buyer == 0 ||
	    !scan_u64_dot(s, len, &pos, expiry))
		return false;
	/* pos is just past the dot that ends the signed part. */
	if (len - pos != TOKEN_MAC_HEX_LEN || !parse_mac_hex(s + pos, mac))
		return false;
	*signed_len = pos - 1;
	return true;
}

bool token_decode(const char *str, size_t len, uint64_t *buyer, uint64_t *expiry,
		  uint64_t *mac)
{
	uint64_t b, e, m;
	size_t signed_len;

	if (!token_split(str, len, &b, &e, &m, &signed_len))
		return false;
	*buyer = b;
	*expiry = e;
	*mac = m;
	return true;
}

enum token_status token_verify(const struct token_key *key, const char *str, size_t len,
			       uint64_t now, uint64_t *buyer)
{
	uint64_t b, e, got, want;
	size_t signed_len;

	if (!token_split(str, len, &b, &e, &got, &signed_len))
		return TOKEN_MALFORMED;
	want = siphash24(key->k, str, signed_len);
	/* The text is canonical, so equal numbers mean equal MAC text. */
	if (!token_ct_equal(&want, &got, sizeof(want)))
		return TOKEN_BAD_MAC;
	if (now >= e)
		return TOKEN_EXPIRED;
	*buyer = b;
	return TOKEN_OK;
}

int token_mint(const struct token_key *key, uint64_t buyer, uint64_t expiry,
	       char *out, size_t cap)
{
	char buf[TOKEN_STR_CAP];
	int n;

	if (buyer == 0)
		return -1;
	n = snprintf(buf, sizeof(buf), TOKEN_PREFIX "%" PRIu64 ".%" PRIu64 ".", buyer, expiry);
	/* The signed part excludes the dot that introduces the MAC. */
	hex16(siphash24(key->k, buf, (size_t)n - 1), buf + n);
	n += TOKEN_MAC_HEX_LEN;
	if ((size_t)n + 1 > cap)
		return -1;
	memcpy(out, buf, (size_t)n);
	out[n] = '\0';
	return n;
}

int token_key_parse(const char *s, size_t len, struct token_key *key, char *err, size_t cap)
{
	uint8_t bytes[TOKEN_KEY_BYTES];
	uint64_t k0 = 0, k1 = 0;
	size_t digits = 0;

	while (digits < len && digits < TOKEN_KEY_HEX_LEN && hex_val_any(s[digits]) >= 0)
		digits++;
	if (digits < TOKEN_KEY_HEX_LEN && digits < len && s[digits] != '\n')
		return err_printf(err, cap, "key has a character that is not a hex digit at "
			       "position %zu; expected 32 hex digits and a newline", digits + 1);
	if (digits < TOKEN_KEY_HEX_LEN)
		return err_printf(err, cap, "key has %zu hex digits; expected 32 (make one with "
			       "'seckillctl token keygen')", digits);
	if (!(len == TOKEN_KEY_HEX_LEN || (len == TOKEN_KEY_HEX_LEN + 1 && s[len - 1] == '\n')))
		return err_printf(err, cap, "key has more than 32 hex digits, or something "
			       "other than one newline after them");
	for (size_t i = 0; i < TOKEN_KEY_BYTES; i++)
		bytes[i] = (uint8_t)(hex_val_any(s[2 * i]) << 4 | hex_val_any(s[2 * i + 1]));
	/* Little-endian words, as the SipHash reference reads its 16-byte key. */
	for (int i = 7; i >= 0; i--) {
		k0 = k0 << 8 | bytes[i];
		k1 = k1 << 8 | bytes[8 + i];
	}
	if ((k0 | k1) == 0)
		return err_printf(err, cap, "key is all zeros; make a random one with "
			       "'seckillctl token keygen'");
	key->k[0] = k0;
	key->k[1] = k1;
	return 0;
}

int token_key_load(const char *path, struct token_key *key, char *err, size_t cap)
{
	char buf[TOKEN_KEY_FILE_READ], why[TOKEN_ERR_CAP];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (cap)
			snprintf(err, cap, "can't open key file %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && cap)
		snprintf(err, cap, "can't read key file %s: %s", path, strerror(errno));
	close(fd);
	if (n < 0)
		return -1;
	if (token_key_parse(buf, (size_t)n, key, why, sizeof(why)) < 0) {
		if (cap)
			snprintf(err, cap, "key file %s: %s", path, why);
		return -1;
	}
	return 0;
}

void token_key_format(const struct token_key *key, char *out)
{
	for (size_t i = 0; i < TOKEN_KEY_BYTES; i++) {
		uint8_t b = (uint8_t)(key->k[i / 8] >> (8 * (i % 8)));

		out[2 * i] = hex_lower[b >> 4];
		out[2 * i + 1] = hex_lower[b & 0xf];
	}
	out[TOKEN_KEY_HEX_LEN] = '\0';
}
