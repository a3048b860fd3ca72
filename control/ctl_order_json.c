/*
 * ctl_order_json.c - the order message, schema 1 (layout: ctl_order_json.h).
 *
 * The writer is one snprintf: the fields are fixed, so no JSON library and
 * no escaping (the id is hex and dashes). The parser is a small recursive-
 * free scanner over exactly this object: it accepts what any JSON encoder
 * could produce for the schema (fields in any order, whitespace) and refuses
 * anything else, so a test or a consumer that parses a message proves it is
 * a well-formed schema 1 order and not just "some JSON".
 */
#include "ctl_order_json.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "str2int.h"

/* Bit per field, to see each exactly once. */
enum {
	F_ORDER_ID = 1 << 0,
	F_CAMPAIGN = 1 << 1,
	F_BUYER = 1 << 2,
	F_QTY = 1 << 3,
	F_TIME_MS = 1 << 4,
	F_CORE = 1 << 5,
	F_NODE = 1 << 6,
	F_SCHEMA = 1 << 7,
	F_ALL = (1 << 8) - 1,
};

#define NAME_MAX_LEN 16    /* longer than any field name: such a name is unknown */

int ctl_order_json_write(const struct ord_record *rec, char *buf, size_t cap)
{
	char id[ORD_ID_STR_CAP];
	int n;

	ord_id_format(rec->id, id, sizeof(id));
	n = snprintf(buf, cap, "{\"order_id\":\"%s\",\"campaign\":%" PRIu32 ",\"buyer\":%" PRIu64
		     ",\"qty\":%" PRIu32 ",\"time_ms\":%" PRIu64 ",\"core\":%u,\"node\":%u"
		     ",\"schema\":%d}", id, rec->campaign, rec->buyer, rec->qty, rec->time_ms,
		     (unsigned)ord_id_core(rec->id), (unsigned)ord_id_node(rec->id),
		     CTL_ORDER_SCHEMA);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int ctl_order_key_write(uint64_t buyer, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%" PRIu64, buyer);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- the parser ----------------------------------------------------------- */

struct scan {
	const char *p, *end;
	const char *why;
};

static bool fail(struct scan *s, const char *why)
{
	if (!s->why)
		s->why = why;
	return false;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Skips whitespace, then expects c. */
static bool expect(struct scan *s, char c, const char *why)
{
	skip_ws(s);
	if (s->p == s->end || *s->p != c)
		return fail(s, why);
	s->p++;
	return true;
}

/* A string without escapes; str and len get its contents. */
static bool scan_string(struct scan *s, const char **str, size_t *len)
{
	const char *q;

	if (!expect(s, '"', "expected a string"))
		return false;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return fail(s, "escape or control character in a string");
	if (q == s->end)
		return fail(s, "unterminated string");
	*str = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return true;
}

/* A canonical unsigned decimal no larger than max. */
static bool scan_uint(struct scan *s, uint64_t max, uint64_t *v)
{
	const char *start;
	unsigned long long x;

	skip_ws(s);
	start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	if (s->p == start)
		return fail(s, "expected an unsigned number");
	if (*start == '0' && s->p - start > 1)
		return fail(s, "number with a leading zero");
	/* Digits only and no leading zero: str2ull can refuse only an overflow. */
	if (!str2ull(start, (size_t)(s->p - start), &x) || x > max)
		return fail(s, "number out of range");
	if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
		return fail(s, "number with a fraction or exponent");
	*v = x;
	return true;
}

struct parsed {
	struct ord_record rec;
	uint64_t core, node, schema;
	unsigned seen;
};

/* One "name":value member into out. */
static bool scan_member(struct scan *s, struct parsed *out)
{
	static const struct { const char *name; unsigned bit; uint64_t max; } fields[] = {
		{ "order_id", F_ORDER_ID, 0 },       { "campaign", F_CAMPAIGN, UINT32_MAX },
		{ "buyer", F_BUYER, UINT64_MAX },    { "qty", F_QTY, UINT32_MAX },
		{ "time_ms", F_TIME_MS, UINT64_MAX }, { "core", F_CORE, UINT16_MAX },
		{ "node", F_NODE, UINT16_MAX },      { "schema", F_SCHEMA, UINT64_MAX },
	};
	const char *name, *str;
	size_t nlen, slen, i, n = sizeof(fields) / sizeof(fields[0]);
	uint64_t v;

	if (!scan_string(s, &name, &nlen) || !expect(s, ':', "expected ':'"))
		return false;
	for (i = 0; i < n; i++)
		if (nlen < NAME_MAX_LEN && strlen(fields[i].name) == nlen &&
		    !memcmp(fields[i].name, name, nlen))
			break;
	if (i == n)
		return fail(s, "unknown field");
	if (out->seen & fields[i].bit)
		return fail(s, "duplicate field");
	out->seen |= fields[i].bit;
	if (fields[i].bit == F_ORDER_ID) {
		if (!scan_string(s, &str, &slen))
			return false;
		if (!ord_id_parse(str, slen, &out->rec.id))
			return fail(s, "bad order_id");
		return true;
	}
	if (!scan_uint(s, fields[i].max, &v))
		return false;
	switch (fields[i].bit) {
	case F_CAMPAIGN: out->rec.campaign = (uint32_t)v; break;
	case F_BUYER: out->rec.buyer = v; break;
	case F_QTY: out->rec.qty = (uint32_t)v; break;
	case F_TIME_MS: out->rec.time_ms = v; break;
	case F_CORE: out->core = v; break;
	case F_NODE: out->node = v; break;
	default: out->schema = v; break;
	}
	return true;
}

static bool scan_object(struct scan *s, struct parsed *out)
{
	if (!expect(s, '{', "expected '{'"))
		return false;
	for (;;) {
		if (!scan_member(s, out))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (!expect(s, '}', "expected ',' or '}'"))
			return false;
		skip_ws(s);
		return s->p == s->end ? true : fail(s, "bytes after the object");
	}
}

int ctl_order_json_parse(const char *str, size_t len, struct ord_record *rec,
			 const char **why)
{
	struct scan s = { .p = str, .end = str + len, .why = NULL };
	struct parsed out;

	memset(&out, 0, sizeof(out));
	if (!scan_object(&s, &out))
		;
	else if (out.seen != F_ALL)
		fail(&s, "missing field");
	else if (out.schema != CTL_ORDER_SCHEMA)
		fail(&s, "unknown schema version");
	else if (out.core != ord_id_core(out.rec.id) || out.node != ord_id_node(out.rec.id))
		fail(&s, "core or node differs from the order_id's");
	if (why)
		*why = s.why;
	if (s.why)
		return -1;
	*rec = out.rec;
	return 0;
}
