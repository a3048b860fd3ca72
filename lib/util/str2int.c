/*
 * str2int.c - strict decimal parsing (promises: str2int.h).
 *
 * One pass over the digits, the overflow test before each multiply, as
 * Redis's string2ll does; no errno, no locale, no end pointer to forget.
 */
#include "str2int.h"

#include <limits.h>
#include <string.h>

bool str2ull(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 0 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return false;
		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool str2ll(const char *s, size_t len, long long *out)
{
	unsigned long long v;
	bool neg = len > 0 && s[0] == '-';

	if (neg && (len == 1 || (len == 2 && s[1] == '0')))
		return false;                   /* "-" and "-0" are not canonical */
	if (!str2ull(s + neg, len - neg, &v))
		return false;
	if (neg) {
		/* LLONG_MIN's magnitude is one more than LLONG_MAX. */
		if (v > (unsigned long long)LLONG_MAX + 1)
			return false;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return false;
		*out = (long long)v;
	}
	return true;
}

bool str2u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;

	if (s == NULL || !str2ull(s, strlen(s), &v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool str2i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;

	if (s == NULL || !str2ll(s, strlen(s), &v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}
