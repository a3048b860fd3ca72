/*
 * json_check.c - RFC 8259 syntax check with a bit stack instead of recursion.
 *
 * The checker is a loop over three states: expecting a value, expecting an
 * object key, or having just finished a value (then a ',' or a closing
 * bracket or the end must follow). Opening a container pushes one bit (1 =
 * object) onto `stack`; closing pops it, and the bit says which closer is
 * allowed and which state follows a ','. Scalars (strings, numbers, literals)
 * are scanned by small functions that return the index after them or -1.
 */
#include "json_check.h"

#include <stdint.h>
#include <string.h>

enum want { WANT_VALUE, WANT_KEY, WANT_AFTER };

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the UTF-8 sequence at s[i] if it is well-formed (RFC 3629 table
 * in section 4), else 0. */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;  /* range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0) lo = 0xa0;        /* no overlong 3-byte forms */
		if (c == 0xed) hi = 0x9f;        /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0) lo = 0x90;        /* no overlong 4-byte forms */
		if (c == 0xf4) hi = 0x8f;        /* nothing above U+10FFFF */
	} else
		return 0;
	if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (s[i + k] < 0x80 || s[i + k] > 0xbf)
			return 0;
	return n;
}

/* s[i] is the opening quote; returns the index after the closing one, or 0. */
static size_t scan_string(const unsigned char *s, size_t len, size_t i)
{
	i++;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;

		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;                /* control characters must be escaped */
		if (c == '\\') {
			if (i + 1 >= len)
				return 0;
			c = s[i + 1];
			if (c == 'u') {
				if (len - i < 6)
					return 0;
				for (size_t k = 2; k < 6; k++)
					if (!is_hex(s[i + k]))
						return 0;
				i += 6;
			} else if (strchr("\"\\/bfnrt", c) && c != 0) {
				i += 2;
			} else
				return 0;
			continue;
		}
		n = utf8_len(s, len, i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; returns the index after, or 0. */
static size_t scan_number(const unsigned char *s, size_t len, size_t i)
{
	if (s[i] == '-')
		i++;
	if (i >= len || !is_digit(s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < len && is_digit(s[i]))
			i++;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	return i;
}

static size_t scan_literal(const unsigned char *s, size_t len, size_t i)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(lits[k]);

		if (len - i >= n && memcmp(s + i, lits[k], n) == 0)
			return i + n;
	}
	return 0;
}

/* A scalar at s[i]: the index after it, or 0; sets *t. */
static size_t scan_scalar(const unsigned char *s, size_t len, size_t i, enum json_type *t)
{
	if (s[i] == '"') {
		*t = JSON_STRING;
		return scan_string(s, len, i);
	}
	if (s[i] == '-' || is_digit(s[i])) {
		*t = JSON_NUMBER;
		return scan_number(s, len, i);
	}
	*t = JSON_LITERAL;
	return scan_literal(s, len, i);
}

int json_check(const char *str, size_t len, unsigned max_depth, enum json_type *type)
{
	const unsigned char *s = (const unsigned char *)str;
	enum json_type top = JSON_NONE, t;
	enum want want = WANT_VALUE;
	uint64_t stack = 0;          /* bit d: level d+1 is an object */
	unsigned depth = 0;
	size_t i = 0;

	if (type)
		*type = JSON_NONE;
	if (max_depth > JSON_MAX_DEPTH)
		max_depth = JSON_MAX_DEPTH;
	for (;;) {
		i = skip_ws(s, len, i);
		if (want == WANT_AFTER) {
			if (depth == 0)
				break;                   /* only whitespace may follow */
			if (i >= len)
				return JSON_BAD;
			if (s[i] == ',') {
				want = (stack >> (depth - 1)) & 1 ? WANT_KEY : WANT_VALUE;
				i++;
			} else if (s[i] == ((stack >> (depth - 1)) & 1 ? '}' : ']')) {
				stack &= ~(UINT64_C(1) << (depth - 1));
				depth--;
				i++;
			} else
				return JSON_BAD;
			continue;
		}
		if (i >= len)
			return JSON_BAD;
		if (want == WANT_KEY) {
			if (s[i] != '"' || (i = scan_string(s, len, i)) == 0)
				return JSON_BAD;
			i = skip_ws(s, len, i);
			if (i >= len || s[i] != ':')
				return JSON_BAD;
			i++;
			want = WANT_VALUE;
			continue;
		}
		/* WANT_VALUE */
		if (s[i] == '{' || s[i] == '[') {
			int obj = s[i] == '{';

			if (depth == 0)
				top = obj ? JSON_OBJECT : JSON_ARRAY;
			if (depth >= max_depth)
				return JSON_TOO_DEEP;
			if (obj)
				stack |= UINT64_C(1) << depth;
			depth++;
			i = skip_ws(s, len, i + 1);
			if (i < len && s[i] == (obj ? '}' : ']')) {
				stack &= ~(UINT64_C(1) << (depth - 1));
				depth--;
				i++;
				want = WANT_AFTER;
			} else
				want = obj ? WANT_KEY : WANT_VALUE;
			continue;
		}
		i = scan_scalar(s, len, i, &t);
		if (i == 0)
			return JSON_BAD;
		if (depth == 0)
			top = t;
		want = WANT_AFTER;
	}
	if (i != len)
		return JSON_BAD;
	if (type)
		*type = top;
	return JSON_OK;
}
