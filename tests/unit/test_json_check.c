/* Tests for lib/util/json_check.c: RFC 8259 accepted exactly, nothing else. */
#include <criterion/criterion.h>
#include <string.h>

#include "json_check.h"

static int check(const char *s, enum json_type *t)
{
	return json_check(s, strlen(s), JSON_MAX_DEPTH, t);
}

Test(json_check, valid_texts_and_their_type)
{
	static const struct { const char *s; enum json_type t; } ok[] = {
		{ "{}", JSON_OBJECT }, { " { } ", JSON_OBJECT }, { "[]", JSON_ARRAY },
		{ "{\"a\":1}", JSON_OBJECT }, { "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", JSON_OBJECT },
		{ "\t\r\n{\"qty\" : 1 ,\n\"note\":\"x\"}\n", JSON_OBJECT },
		{ "[true,false,null]", JSON_ARRAY }, { "\"s\"", JSON_STRING }, { "0", JSON_NUMBER },
		{ "-0", JSON_NUMBER }, { "1.5e+10", JSON_NUMBER }, { "-12.25E-3", JSON_NUMBER },
		{ "123", JSON_NUMBER }, { "null", JSON_LITERAL }, { "true", JSON_LITERAL },
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD800\"", JSON_STRING },
		{ "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", JSON_STRING },
		{ "{\"\":{}}", JSON_OBJECT }, { "[[],[[]]]", JSON_ARRAY },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum json_type t = JSON_NONE;

		cr_assert_eq(check(ok[i].s, &t), JSON_OK, "%s", ok[i].s);
		cr_assert_eq(t, ok[i].t, "%s: type %d", ok[i].s, t);
	}
}

Test(json_check, invalid_texts)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[", "{]", "[}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}",
		"{'a':1}", "{\"a\":1,}", "[1,]", "[,1]", "[1 2]", "{\"a\":1}{}", "{} x", "01",
		"+1", "1.", ".5", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "tru",
		"nul", "truex", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\tb\"",
		"\"\x01\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xff\"", "\xef\xbb\xbf{}", "{\"a\":1 /* c */}",
		"[1]]", "{\"a\":[}", "\"\\\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum json_type t = JSON_OBJECT;

		cr_assert_eq(check(bad[i], &t), JSON_BAD, "accepted '%s'", bad[i]);
		cr_assert_eq(t, JSON_NONE);
	}
}

Test(json_check, nul_inside_the_length_is_not_json)
{
	cr_assert_eq(json_check("{}\0", 3, 4, NULL), JSON_BAD);
	cr_assert_eq(json_check("\"a\0b\"", 5, 4, NULL), JSON_BAD);
	cr_assert_eq(json_check("{}", 2, 4, NULL), JSON_OK);
	/* The length bounds the scan: bytes after it are never read. */
	cr_assert_eq(json_check("[1]garbage", 3, 4, NULL), JSON_OK);
}

Test(json_check, depth_is_bounded)
{
	char s[2 * (JSON_MAX_DEPTH + 2) + 1];
	size_t d;

	cr_assert_eq(json_check("[[1]]", 5, 2, NULL), JSON_OK);
	cr_assert_eq(json_check("[[1]]", 5, 1, NULL), JSON_TOO_DEEP);
	cr_assert_eq(json_check("{\"a\":{}}", 8, 1, NULL), JSON_TOO_DEEP);
	cr_assert_eq(json_check("1", 1, 0, NULL), JSON_OK);
	cr_assert_eq(json_check("{}", 2, 0, NULL), JSON_TOO_DEEP);
	for (d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
		memset(s, '[', d);
		memset(s + d, ']', d);
		cr_assert_eq(json_check(s, 2 * d, 1000, NULL),
			     d <= JSON_MAX_DEPTH ? JSON_OK : JSON_TOO_DEEP, "depth %zu", d);
	}
	/* Objects and arrays interleaved at depth 64: the bit stack keeps which is which. */
	{
		char m[4 * JSON_MAX_DEPTH + 8];
		size_t n = 0;

		for (d = 0; d < JSON_MAX_DEPTH; d++) {
			if (d & 1) {
				m[n++] = '[';
			} else {
				memcpy(m + n, "{\"\":", 4);
				n += 4;
			}
		}
		m[n++] = '1';
		for (d = JSON_MAX_DEPTH; d-- > 0;)
			m[n++] = (d & 1) ? ']' : '}';
		cr_assert_eq(json_check(m, n, JSON_MAX_DEPTH, NULL), JSON_OK);
		m[n - 1] = ']';
		cr_assert_eq(json_check(m, n, JSON_MAX_DEPTH, NULL), JSON_BAD);
	}
}

/* Every prefix of a valid object shorter than the whole is not JSON (no
 * read past the length, which ASan would catch). */
Test(json_check, every_prefix_is_refused)
{
	static const char s[] = "{\"a\":[1,-2.5e3,\"\\u00e9\xc3\xa9\",true,null],\"b\":{}}";

	for (size_t n = 0; n < sizeof(s) - 1; n++) {
		char *copy = malloc(n ? n : 1);

		memcpy(copy, s, n);
		cr_assert_neq(json_check(copy, n, 8, NULL), JSON_OK, "prefix %zu", n);
		free(copy);
	}
	cr_assert_eq(json_check(s, sizeof(s) - 1, 8, NULL), JSON_OK);
}
