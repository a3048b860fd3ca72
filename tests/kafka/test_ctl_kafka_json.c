/*
 * test_ctl_kafka_json.c - the orders topic's message (control/ctl_order_json.h):
 * exact bytes written, round trips, and the strict parser refusing every
 * deviation from schema 1.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctl_order_json.h"

static struct ord_record sample(void)
{
	struct ord_record r = {
		.id = ord_id_make(0x65f1a2b3, 1, 2, 7),
		.buyer = 1042,
		.time_ms = 1700000000123ull,
		.campaign = 7,
		.qty = 1,
	};
	return r;
}

static const char SAMPLE_JSON[] =
	"{\"order_id\":\"65f1a2b3-0001-0002-0000000000000007\",\"campaign\":7,\"buyer\":1042,"
	"\"qty\":1,\"time_ms\":1700000000123,\"core\":2,\"node\":1,\"schema\":1}";

static int parse(const char *s, struct ord_record *r, const char **why)
{
	return ctl_order_json_parse(s, strlen(s), r, why);
}

Test(ctl_order_json, writes_the_documented_bytes)
{
	struct ord_record r = sample();
	char buf[CTL_ORDER_JSON_MAX];

	cr_assert_eq(ctl_order_json_write(&r, buf, sizeof(buf)), (int)strlen(SAMPLE_JSON));
	cr_assert_str_eq(buf, SAMPLE_JSON);
}

Test(ctl_order_json, key_is_buyer_decimal)
{
	char buf[CTL_ORDER_KEY_MAX];

	cr_assert_eq(ctl_order_key_write(1042, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "1042");
	cr_assert_eq(ctl_order_key_write(UINT64_MAX, buf, sizeof(buf)), 20);
	cr_assert_str_eq(buf, "18446744073709551615");
	cr_assert_eq(ctl_order_key_write(UINT64_MAX, buf, 20), -1);
	cr_assert_eq(ctl_order_key_write(0, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "0");
}

Test(ctl_order_json, widest_record_fits_max_and_round_trips)
{
	struct ord_record r = {
		.id = ord_id_make(UINT32_MAX, UINT16_MAX, UINT16_MAX, UINT64_MAX),
		.buyer = UINT64_MAX, .time_ms = UINT64_MAX,
		.campaign = UINT32_MAX, .qty = UINT32_MAX,
	}, back;
	char buf[CTL_ORDER_JSON_MAX], small[CTL_ORDER_JSON_MAX];
	int n = ctl_order_json_write(&r, buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq(ctl_order_json_write(&r, small, (size_t)n), -1);   /* no room for the NUL */
	cr_assert_eq(ctl_order_json_parse(buf, (size_t)n, &back, NULL), 0);
	cr_assert(ord_id_eq(back.id, r.id));
	cr_assert_eq(back.buyer, UINT64_MAX);
	cr_assert_eq(back.time_ms, UINT64_MAX);
	cr_assert_eq(back.campaign, UINT32_MAX);
	cr_assert_eq(back.qty, UINT32_MAX);
}

Test(ctl_order_json, parses_what_it_writes)
{
	struct ord_record r = sample(), back;
	const char *why = "unset";

	cr_assert_eq(parse(SAMPLE_JSON, &back, &why), 0);
	cr_assert_null(why);
	cr_assert(ord_id_eq(back.id, r.id));
	cr_assert_eq(back.buyer, 1042);
	cr_assert_eq(back.time_ms, 1700000000123ull);
	cr_assert_eq(back.campaign, 7);
	cr_assert_eq(back.qty, 1);
}

Test(ctl_order_json, any_field_order_and_whitespace)
{
	struct ord_record back;
	const char *s = " {\n \"schema\" : 1, \"node\":1,\"core\":2,\"time_ms\":1700000000123,"
			"\t\"qty\":1,\"buyer\":1042,\"campaign\":7,"
			"\"order_id\":\"65f1a2b3-0001-0002-0000000000000007\" }\r\n";

	cr_assert_eq(parse(s, &back, NULL), 0);
	cr_assert_eq(back.buyer, 1042);
	cr_assert_eq(ord_id_seq(back.id), 7);
}

/* SAMPLE_JSON with the first occurrence of from replaced by to. */
static const char *variant(const char *from, const char *to)
{
	static char buf[512];
	const char *at = strstr(SAMPLE_JSON, from);

	cr_assert_not_null(at, "%s not in the sample", from);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - SAMPLE_JSON), SAMPLE_JSON, to,
		 at + strlen(from));
	return buf;
}

static void refused(const char *s, const char *why_want)
{
	struct ord_record back;
	const char *why = NULL;

	cr_assert_eq(parse(s, &back, &why), -1, "accepted: %s", s);
	cr_assert_str_eq(why, why_want, "for %s", s);
}

Test(ctl_order_json, refuses_every_deviation)
{
	refused(variant("\"schema\":1", "\"schema\":2"), "unknown schema version");
	refused(variant(",\"qty\":1", ""), "missing field");
	refused(variant("\"qty\":1", "\"qty\":1,\"qty\":1"), "duplicate field");
	refused(variant("\"qty\":1", "\"qty\":1,\"extra\":1"), "unknown field");
	refused(variant("\"buyer\":1042", "\"buyer\":-1042"), "expected an unsigned number");
	refused(variant("\"buyer\":1042", "\"buyer\":01042"), "number with a leading zero");
	refused(variant("\"buyer\":1042", "\"buyer\":1042.0"), "number with a fraction or exponent");
	refused(variant("\"buyer\":1042", "\"buyer\":1e3"), "number with a fraction or exponent");
	refused(variant("\"buyer\":1042", "\"buyer\":\"1042\""), "expected an unsigned number");
	refused(variant("\"buyer\":1042", "\"buyer\":18446744073709551616"), "number out of range");
	refused(variant("\"campaign\":7", "\"campaign\":4294967296"), "number out of range");
	refused(variant("\"core\":2", "\"core\":65536"), "number out of range");
	refused(variant("\"core\":2", "\"core\":3"), "core or node differs from the order_id's");
	refused(variant("\"node\":1", "\"node\":0"), "core or node differs from the order_id's");
	refused(variant("65f1a2b3", "65F1A2B3"), "bad order_id");
	refused(variant("-0000000000000007\"", "-000000000000007\""), "bad order_id");
	refused(variant("\"order_id\":\"65f1a2b3", "\"order_id\":\"\\u0036f1a2b3"),
		"escape or control character in a string");
	refused(variant("\"order_id\":\"", "\"order_id\":7,\"x\":\""), "expected a string");
	refused(variant("\"schema\":1}", "\"schema\":1}x"), "bytes after the object");
	refused(variant("\"schema\":1}", "\"schema\":1,}"), "expected a string");
	refused(variant("\"schema\":1}", "\"schema\":1"), "expected ',' or '}'");
	refused("[]", "expected '{'");
	refused("{}", "expected a string");
	refused("", "expected '{'");
}

Test(ctl_order_json, refuses_every_truncation)
{
	struct ord_record back;
	size_t n = strlen(SAMPLE_JSON);

	for (size_t len = 0; len < n; len++)
		cr_assert_eq(ctl_order_json_parse(SAMPLE_JSON, len, &back, NULL), -1,
			     "accepted a prefix of %zu bytes", len);
}
