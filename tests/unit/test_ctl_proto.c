/*
 * The control socket's JSON reader (control/ctl_proto.c): what seckill-dp
 * accepts from anyone who can reach its socket. Strict by design: anything
 * the protocol has no use for (floats, negatives, non-ASCII \u escapes,
 * trailing bytes, deep nesting) is refused with a sentence.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ctl_proto.h"

#define CAP 64

static int parse(const char *text, struct ctl_json_tok *toks, char *err)
{
	return ctl_json_parse(text, strlen(text), toks, CAP, err, 128);
}

Test(ctl_json, request_fields_are_found_by_name)
{
	const char *t = "{\"cmd\":\"campaign.create\",\"id\":7,\"stock\":1000,\"force\":true}";
	struct ctl_json_tok toks[CAP];
	char err[128], cmd[32];
	int n = parse(t, toks, err), i;

	cr_assert_eq(n, 9, "%s", err);
	cr_assert_eq(toks[0].type, CTL_JSON_OBJECT);
	cr_assert_eq(toks[0].size, 4);
	i = ctl_json_get(t, toks, 0, "cmd");
	cr_assert(ctl_json_eq(t, toks, i, "campaign.create"));
	cr_assert_eq(ctl_json_str(t, toks, i, cmd, sizeof(cmd)), 15);
	cr_assert_str_eq(cmd, "campaign.create");
	i = ctl_json_get(t, toks, 0, "stock");
	cr_assert_eq(toks[i].type, CTL_JSON_INT);
	cr_assert_eq(toks[i].num, 1000);
	i = ctl_json_get(t, toks, 0, "force");
	cr_assert_eq(toks[i].type, CTL_JSON_BOOL);
	cr_assert_eq(toks[i].num, 1);
	cr_assert_eq(ctl_json_get(t, toks, 0, "missing"), -1);
}

Test(ctl_json, nested_answers_skip_by_subtree)
{
	const char *t = "{\"ok\":true,\"cores\":[{\"core\":0,\"drops\":{\"a\":1}},{\"core\":1}],\"x\":null}";
	struct ctl_json_tok toks[CAP];
	char err[128];
	int n = parse(t, toks, err), cores, x;

	cr_assert_gt(n, 0, "%s", err);
	cores = ctl_json_get(t, toks, 0, "cores");
	cr_assert_eq(toks[cores].type, CTL_JSON_ARRAY);
	cr_assert_eq(toks[cores].size, 2);
	x = ctl_json_get(t, toks, 0, "x");
	cr_assert_eq(toks[x].type, CTL_JSON_NULL);
	cr_assert_eq((int)toks[cores].next, x - 1, "next skips the whole array to the key after it");
}

Test(ctl_json, escapes_are_unescaped_and_bounded)
{
	const char *t = "{\"s\":\"a\\\"b\\\\c\\n\\u0041\"}";
	struct ctl_json_tok toks[CAP];
	char err[128], out[16], tiny[4];
	int n = parse(t, toks, err), i;

	cr_assert_gt(n, 0, "%s", err);
	i = ctl_json_get(t, toks, 0, "s");
	cr_assert_eq(ctl_json_str(t, toks, i, out, sizeof(out)), 7);
	cr_assert_str_eq(out, "a\"b\\c\nA");
	cr_assert_eq(ctl_json_str(t, toks, i, tiny, sizeof(tiny)), -1, "does not fit: refused");
}

Test(ctl_json, what_the_protocol_has_no_use_for_is_refused)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":1}x", "{\"a\":1} {}",
		"{\"a\":1.5}", "{\"a\":-1}", "{\"a\":1e3}", "{\"a\":01}",
		"{\"a\":18446744073709551616}", "{\"a\":\"\\u00e9\"}", "{\"a\":\"\\x\"}",
		"{\"a\":\"tab\there\"}", "{a:1}", "{\"a\":tru}", "[1,2,]",
		"[[[[[[[[[[1]]]]]]]]]]",
	};
	struct ctl_json_tok toks[CAP];
	char err[128];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err[0] = '\0';
		cr_expect_eq(parse(bad[k], toks, err), -1, "accepted: %s", bad[k]);
		cr_expect_neq(err[0], '\0', "no sentence for: %s", bad[k]);
	}
}

Test(ctl_json, too_many_tokens_is_an_error_not_an_overflow)
{
	const char *t = "[1,2,3,4,5,6,7,8,9,10]";
	struct ctl_json_tok toks[4];
	char err[128];

	cr_assert_eq(ctl_json_parse(t, strlen(t), toks, 4, err, sizeof(err)), -1);
}

Test(ctl_json, largest_integer_is_exact)
{
	const char *t = "{\"n\":18446744073709551615}";
	struct ctl_json_tok toks[CAP];
	char err[128];

	cr_assert_gt(parse(t, toks, err), 0, "%s", err);
	cr_assert_eq(toks[ctl_json_get(t, toks, 0, "n")].num, UINT64_MAX);
}
