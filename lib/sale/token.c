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
_Static_assert(sizeof(token_stats_names) / sizeof(token_stats_names[0]) == TOKEN_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct token_stats) == TOKEN_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

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
 * overflow, so only a 20th digit pays for checked arithmetic. The byte loop;
 * scan_u64_dot below takes the common shapes eight bytes at a time.
 */
static bool scan_u64_dot_bytes(const char *s, size_t len, size_t *pos, uint64_t *out)
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

/*
 * Eight token bytes as one little-endian word (the first byte lowest), and
 * SWAR on it: a sale request's token is verified on every request, and its
 * two decimals were a byte loop of three tests per digit.
 */
static inline uint64_t load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* The high bit of each byte of w that is not '0'..'9'. Exact for the lowest
 * such byte and all below it (a digit byte neither carries nor borrows),
 * which is all a scan needs. */
static inline uint64_t swar_nondigits(uint64_t w)
{
	return (w | (w + 0x4646464646464646ull) | (w - 0x3030303030303030ull)) &
	       0x8080808080808080ull;
}

/* The value of the k (1..8) ASCII digits in the low bytes of w: shifted to
 * the top so the bytes below read as leading zeros, then summed in pairs,
 * fours and eights (three multiplies instead of eight). */
static inline uint64_t swar_value(uint64_t w, unsigned k)
{
	w <<= 8 * (8 - k);
	w = ((w & 0x0f0f0f0f0f0f0f0full) * 2561) >> 8;
	w = ((w & 0x00ff00ff00ff00ffull) * 6553601) >> 16;
	return ((w & 0x0000ffff0000ffffull) * 42949672960001ull) >> 32;
}

static const uint64_t pow10_u64[9] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/*
 * scan_u64_dot_bytes' contract. Numbers of 1..15 digits with 16 bytes of the
 * token in reach (every real buyer id and expiry: the MAC follows them) take
 * two word loads; anything else, the byte loop.
 */
static bool scan_u64_dot(const char *s, size_t len, size_t *pos, uint64_t *out)
{
	size_t start = *pos;
	uint64_t w, m, v;
	unsigned k;

	if (len - start < 16 || len < start)
		return scan_u64_dot_bytes(s, len, pos, out);
	w = load8(s + start);
	m = swar_nondigits(w);
	if (m != 0) {
		k = (unsigned)__builtin_ctzll(m) / 8;       /* digits before the first other byte */
		if (k == 0 || s[start + k] != '.' || (s[start] == '0' && k > 1))
			return false;
		*out = swar_value(w, k);
		*pos = start + k + 1;
		return true;
	}
	v = swar_value(w, 8);
	w = load8(s + start + 8);
	m = swar_nondigits(w);
	if (m == 0)
		return scan_u64_dot_bytes(s, len, pos, out);    /* 16 digits or more */
	k = (unsigned)__builtin_ctzll(m) / 8;
	if (s[start + 8 + k] != '.' || s[start] == '0')
		return false;
	*out = k ? v * pow10_u64[k] + swar_value(w, k) : v;  /* <= 15 digits: no overflow */
	*pos = start + 8 + k + 1;
	return true;
}

/* Per byte of w, the high bit when the byte's low 7 bits are >= c (c < 0x80):
 * each byte is lifted by 0x80 first, so no subtraction borrows from the next. */
static inline uint64_t swar_ge(uint64_t x7, uint8_t c)
{
	return ((x7 | 0x8080808080808080ull) - 0x0101010101010101ull * c) & 0x8080808080808080ull;
}

/*
 * The 8 lowercase hex digits in w (the first the most significant) as a
 * 32-bit number; false on any other byte. Branch-free for any digits: each
 * byte is checked against '0'..'9' and 'a'..'f', its nibble is its low four
 * bits (plus 9 for a letter), and the nibbles are packed in three steps.
 */
static inline bool swar_hex8(uint64_t w, uint32_t *out)
{
	const uint64_t hi = 0x8080808080808080ull;
	uint64_t x7 = w & ~hi;
	uint64_t digit = swar_ge(x7, '0') & ~swar_ge(x7, '9' + 1);
	uint64_t letter = swar_ge(x7, 'a') & ~swar_ge(x7, 'f' + 1);
	uint64_t n;

	n = (w & 0x0f0f0f0f0f0f0f0full) + (letter >> 7) * 9;
	n = __builtin_bswap64(n);                    /* the first digit in the top byte */
	n = (n | (n >> 4)) & 0x00ff00ff00ff00ffull;
	n = (n | (n >> 8)) & 0x0000ffff0000ffffull;
	n = (n | (n >> 16)) & 0x00000000ffffffffull;
	*out = (uint32_t)n;
	return ((digit | letter) & ~(w & hi)) == hi;
}

/* The 16 lowercase hex digits at s as a number; false on any other byte. */
static bool parse_mac_hex(const char *s, uint64_t *out)
{
	uint32_t a, b;
	bool ok = swar_hex8(load8(s), &a);

	ok &= swar_hex8(load8(s + 8), &b);           /* no early exit */
	*out = (uint64_t)a << 32 | b;
	return ok;
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
	/* The text is canonical, so equal numbers mean equal MAC text. One XOR
	 * of the two words: its time does not depend on where they differ,
	 * and only whether they do is branched on (a byte loop did the same in
	 * eight steps). */
	if ((want ^ got) != 0)
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
