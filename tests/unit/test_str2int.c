/*
 * Tests for lib/util/str2int: the one text-to-integer parser.
 *
 * Each shape the parser must refuse is named once (the sloppy inputs strtoull
 * takes quietly: signs, spaces, leading zeros, trailing text, overflow), then
 * a seeded random run checks it against strtoull/strtoll on canonical strings
 * of every length, and against a model of "canonical and fits" on random
 * strings over digits and the characters that make a string sloppy.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str2int.h"

/* A value the parser never produces for these inputs: shows *out untouched. */
#define SENTINEL_U 0x5a5a5a5aull
#define SENTINEL_S (-0x5a5a5a5all)
#define RANDOM_ROUNDS 200000
#define RANDOM_SEED 0x9e3779b97f4a7c15ull

static bool ull_of(const char *s, unsigned long long *v)
{
	*v = SENTINEL_U;
	return str2ull(s, strlen(s), v);
}

static bool ll_of(const char *s, long long *v)
{
	*v = SENTINEL_S;
	return str2ll(s, strlen(s), v);
}

static void refused_ull(const char *s)
{
	unsigned long long v;

	cr_expect_not(ull_of(s, &v), "str2ull took \"%s\"", s);
	cr_expect_eq(v, SENTINEL_U, "str2ull wrote *out for refused \"%s\"", s);
}

static void refused_ll(const char *s)
{
	long long v;

	cr_expect_not(ll_of(s, &v), "str2ll took \"%s\"", s);
	cr_expect_eq(v, SENTINEL_S, "str2ll wrote *out for refused \"%s\"", s);
}

static void accepted_ull(const char *s, unsigned long long want)
{
	unsigned long long v;

	cr_expect(ull_of(s, &v), "str2ull refused \"%s\"", s);
	cr_expect_eq(v, want, "str2ull(\"%s\") = %llu, want %llu", s, v, want);
}

static void accepted_ll(const char *s, long long want)
{
	long long v;

	cr_expect(ll_of(s, &v), "str2ll refused \"%s\"", s);
	cr_expect_eq(v, want, "str2ll(\"%s\") = %lld, want %lld", s, v, want);
}

/* The sloppy shapes strtoull/strtoll would take, refused by both forms. */
static const char *const sloppy[] = {
	"", "-", "+", "+1", " 1", "1 ", "\t1", "1\n", "01", "00", "007", "1x", "x1",
	"0x10", "1e3", "1.0", "1,000", "1_000", "--1", "+-1", "- 1",
};

Test(str2ull, refuses_sloppy_shapes)
{
	for (size_t i = 0; i < sizeof(sloppy) / sizeof(sloppy[0]); i++)
		refused_ull(sloppy[i]);
}

Test(str2ull, refuses_any_sign)
{
	refused_ull("-0");
	refused_ull("-1");          /* strtoull gives ULLONG_MAX for this one */
	refused_ull("+0");
}

Test(str2ull, accepts_canonical_decimals)
{
	accepted_ull("0", 0);
	accepted_ull("1", 1);
	accepted_ull("10", 10);
	accepted_ull("4294967296", 4294967296ull);
	accepted_ull("18446744073709551615", ULLONG_MAX);
}

Test(str2ull, refuses_overflow)
{
	refused_ull("18446744073709551616");          /* max + 1 */
	refused_ull("18446744073709551620");
	refused_ull("99999999999999999999");          /* 20 digits, too big */
	refused_ull("184467440737095516150");         /* max with one digit more */
	refused_ull("100000000000000000000");
}

Test(str2ull, reads_exactly_len_bytes)
{
	unsigned long long v = SENTINEL_U;

	cr_expect(str2ull("1234", 2, &v));
	cr_expect_eq(v, 12);
	cr_expect_not(str2ull("1\0", 2, &v), "a NUL inside the span is not a digit");
	cr_expect_not(str2ull("5", 0, &v), "an empty span is no number");
	cr_expect_eq(v, 12);
}

Test(str2ll, refuses_sloppy_shapes)
{
	for (size_t i = 0; i < sizeof(sloppy) / sizeof(sloppy[0]); i++)
		refused_ll(sloppy[i]);
	refused_ll("-0");
	refused_ll("-00");
	refused_ll("-01");
	refused_ll("-1 ");
	refused_ll("- 1");
}

Test(str2ll, accepts_canonical_decimals)
{
	accepted_ll("0", 0);
	accepted_ll("-1", -1);
	accepted_ll("42", 42);
	accepted_ll("-42", -42);
	accepted_ll("9223372036854775807", LLONG_MAX);
	accepted_ll("-9223372036854775807", -LLONG_MAX);
	accepted_ll("-9223372036854775808", LLONG_MIN);
}

Test(str2ll, refuses_overflow)
{
	refused_ll("9223372036854775808");            /* LLONG_MAX + 1 */
	refused_ll("-9223372036854775809");           /* LLONG_MIN - 1 */
	refused_ll("92233720368547758070");           /* max with one digit more */
	refused_ll("-92233720368547758080");          /* min with one digit more */
	refused_ll("18446744073709551615");           /* fits unsigned only */
	refused_ll("-18446744073709551615");
	refused_ll("-18446744073709551616");
}

Test(str2u64, range_is_inclusive)
{
	uint64_t v = SENTINEL_U;

	cr_expect(str2u64("1", 1, 10, &v) && v == 1);
	cr_expect(str2u64("10", 1, 10, &v) && v == 10);
	cr_expect(str2u64("5", 5, 5, &v) && v == 5);
	v = SENTINEL_U;
	cr_expect_not(str2u64("0", 1, 10, &v));
	cr_expect_not(str2u64("11", 1, 10, &v));
	cr_expect_not(str2u64("4", 5, 5, &v));
	cr_expect_not(str2u64("6", 5, 5, &v));
	cr_expect_eq(v, SENTINEL_U, "a refused value leaves *out alone");
}

Test(str2u64, whole_range_and_refusals)
{
	uint64_t v = SENTINEL_U;

	cr_expect(str2u64("18446744073709551615", 0, UINT64_MAX, &v) && v == UINT64_MAX);
	cr_expect(str2u64("0", 0, UINT64_MAX, &v) && v == 0);
	v = SENTINEL_U;
	cr_expect_not(str2u64(NULL, 0, UINT64_MAX, &v), "NULL (a missing value) is refused");
	cr_expect_not(str2u64("18446744073709551616", 0, UINT64_MAX, &v));
	cr_expect_not(str2u64("-1", 0, UINT64_MAX, &v));
	cr_expect_not(str2u64("07", 0, 10, &v));
	cr_expect_not(str2u64("", 0, 10, &v));
	cr_expect_eq(v, SENTINEL_U);
}

Test(str2i64, range_is_inclusive)
{
	int64_t v = SENTINEL_S;

	cr_expect(str2i64("-10", -10, 10, &v) && v == -10);
	cr_expect(str2i64("10", -10, 10, &v) && v == 10);
	cr_expect(str2i64("0", -10, 10, &v) && v == 0);
	v = SENTINEL_S;
	cr_expect_not(str2i64("-11", -10, 10, &v));
	cr_expect_not(str2i64("11", -10, 10, &v));
	cr_expect_not(str2i64("-1", 0, 10, &v));
	cr_expect_eq(v, SENTINEL_S, "a refused value leaves *out alone");
}

Test(str2i64, whole_range_and_refusals)
{
	int64_t v = SENTINEL_S;

	cr_expect(str2i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) && v == INT64_MIN);
	cr_expect(str2i64("9223372036854775807", INT64_MIN, INT64_MAX, &v) && v == INT64_MAX);
	v = SENTINEL_S;
	cr_expect_not(str2i64(NULL, INT64_MIN, INT64_MAX, &v), "NULL (a missing value) is refused");
	cr_expect_not(str2i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v));
	cr_expect_not(str2i64("+5", INT64_MIN, INT64_MAX, &v));
	cr_expect_not(str2i64("-0", INT64_MIN, INT64_MAX, &v));
	cr_expect_eq(v, SENTINEL_S);
}

/* ---- randomized, against libc --------------------------------------------- */

/* xorshift64*: a fixed seed, so a failure repeats. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* A random value of a random bit length, so every digit count is drawn often. */
static uint64_t rng_value(uint64_t *s)
{
	unsigned bits = (unsigned)(rng_next(s) % 65);

	return bits == 0 ? 0 : rng_next(s) >> (64 - bits);
}

Test(str2int_random, canonical_strings_match_strtoull)
{
	uint64_t seed = RANDOM_SEED;
	char buf[32];

	for (int i = 0; i < RANDOM_ROUNDS; i++) {
		unsigned long long want = rng_value(&seed), got = SENTINEL_U;

		snprintf(buf, sizeof(buf), "%llu", want);
		cr_assert_eq(strtoull(buf, NULL, 10), want);
		cr_assert(str2ull(buf, strlen(buf), &got), "str2ull refused \"%s\"", buf);
		cr_assert_eq(got, want, "str2ull(\"%s\") = %llu", buf, got);
	}
}

Test(str2int_random, canonical_strings_match_strtoll)
{
	uint64_t seed = RANDOM_SEED ^ 1;
	char buf[32];

	for (int i = 0; i < RANDOM_ROUNDS; i++) {
		long long want = (long long)rng_value(&seed), got = SENTINEL_S;

		snprintf(buf, sizeof(buf), "%lld", want);
		cr_assert_eq(strtoll(buf, NULL, 10), want);
		cr_assert(str2ll(buf, strlen(buf), &got), "str2ll refused \"%s\"", buf);
		cr_assert_eq(got, want, "str2ll(\"%s\") = %lld", buf, got);
	}
}

/* The model: "0" or [1-9][0-9]* (after one '-' for the signed form, not "-0"),
 * and strtoull/strtoll consume all of it without ERANGE. */
static bool canonical_digits(const char *s)
{
	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool model_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (!canonical_digits(s))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool model_ll(const char *s, long long *v)
{
	char *end;

	if (!canonical_digits(s + (s[0] == '-')) || strcmp(s, "-0") == 0)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

Test(str2int_random, random_strings_match_the_model)
{
	static const char alphabet[] = "0123456789012345678901234567890123456789-+ x";
	uint64_t seed = RANDOM_SEED ^ 2;
	char buf[24];

	for (int i = 0; i < RANDOM_ROUNDS; i++) {
		size_t len = (size_t)(rng_next(&seed) % (sizeof(buf) - 1));
		unsigned long long u = 0, mu = 0;
		long long l = 0, ml = 0;
		bool ok, want;

		for (size_t k = 0; k < len; k++)
			buf[k] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
		buf[len] = '\0';
		want = model_ull(buf, &mu);
		ok = str2ull(buf, len, &u);
		cr_assert_eq(ok, want, "str2ull(\"%s\") %s, the model %s", buf,
			     ok ? "took it" : "refused it", want ? "takes it" : "refuses it");
		cr_assert(!ok || u == mu, "str2ull(\"%s\") = %llu, strtoull %llu", buf, u, mu);
		want = model_ll(buf, &ml);
		ok = str2ll(buf, len, &l);
		cr_assert_eq(ok, want, "str2ll(\"%s\") %s, the model %s", buf,
			     ok ? "took it" : "refused it", want ? "takes it" : "refuses it");
		cr_assert(!ok || l == ml, "str2ll(\"%s\") = %lld, strtoll %lld", buf, l, ml);
	}
}
