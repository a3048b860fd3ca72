/*
 * ctl_proto.c - the control protocol's JSON reader and writer (ctl_proto.h).
 *
 * The reader is a recursive-descent parser over a span, bounded in depth
 * (CTL_JSON_DEPTH) and in tokens (the caller's array), that records spans
 * instead of copying: a request line is parsed in place in the server's
 * client buffer. The writer is snprintf into a fixed buffer that remembers
 * an overflow instead of failing each call, so building an answer is a
 * straight sequence of calls with one check at the end.
 */
#include "ctl_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "str2int.h"

struct ctl_json_parser {
	const char *s;
	size_t len, pos;
	struct ctl_json_tok *toks;
	unsigned cap, n;
	char *err;
	size_t errlen;
};

static int jp_fail(struct ctl_json_parser *p, const char *what)
{
	snprintf(p->err, p->errlen, "%s at byte %zu", what, p->pos);
	return -1;
}

static void jp_ws(struct ctl_json_parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
		p->pos++;
}

static int jp_tok(struct ctl_json_parser *p, enum ctl_json_type t)
{
	struct ctl_json_tok *k;

	if (p->n == p->cap)
		return jp_fail(p, "too many values");
	k = &p->toks[p->n];
	memset(k, 0, sizeof(*k));
	k->type = (uint8_t)t;
	k->start = (uint32_t)p->pos;
	return (int)p->n++;
}

static int jp_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string at pos (the opening quote); the token spans its inside. */
static int jp_string(struct ctl_json_parser *p)
{
	int t;

	p->pos++;
	if ((t = jp_tok(p, CTL_JSON_STRING)) < 0)
		return -1;
	while (p->pos < p->len && p->s[p->pos] != '"') {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c < 0x20)
			return jp_fail(p, "control character in a string");
		if (c == '\\') {
			if (++p->pos >= p->len)
				break;
			c = (unsigned char)p->s[p->pos];
			if (c == 'u') {
				int v = 0;

				for (int i = 1; i <= 4; i++) {
					int h = p->pos + i < p->len ? jp_hex(p->s[p->pos + i]) : -1;

					if (h < 0)
						return jp_fail(p, "bad \\u escape");
					v = v * 16 + h;
				}
				if (v == 0 || v >= 0x80)
					return jp_fail(p, "\\u escape outside ASCII");
				p->pos += 4;
			} else if (!strchr("\"\\/bfnrt", c)) {
				return jp_fail(p, "bad escape");
			}
		}
		p->pos++;
	}
	if (p->pos >= p->len)
		return jp_fail(p, "unterminated string");
	p->toks[t].end = (uint32_t)p->pos++;
	p->toks[t].next = p->n;
	return t;
}

static int jp_number(struct ctl_json_parser *p)
{
	unsigned long long v;
	size_t start;
	int t;

	if ((t = jp_tok(p, CTL_JSON_INT)) < 0)
		return -1;
	if (p->s[p->pos] == '-')
		return jp_fail(p, "negative number");
	start = p->pos;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	if (p->s[start] == '0' && p->pos - start > 1) {
		p->pos = start + 1;             /* the error names the digit after the 0 */
		return jp_fail(p, "number with a leading zero");
	}
	/* Digits only, no leading zero: str2ull can refuse only an overflow. */
	if (!str2ull(p->s + start, p->pos - start, &v)) {
		p->pos = start;
		return jp_fail(p, "number above 18446744073709551615");
	}
	if (p->pos < p->len && strchr(".eE", p->s[p->pos]))
		return jp_fail(p, "fraction or exponent (integers only)");
	p->toks[t].num = v;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

static int jp_word(struct ctl_json_parser *p, const char *w, enum ctl_json_type type,
		   uint64_t num)
{
	size_t n = strlen(w);
	int t;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
		return jp_fail(p, "unexpected character");
	if ((t = jp_tok(p, type)) < 0)
		return -1;
	p->pos += n;
	p->toks[t].num = num;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

static int jp_value(struct ctl_json_parser *p, unsigned depth);

/* An object or array at pos; members are key then value tokens. */
static int jp_container(struct ctl_json_parser *p, unsigned depth, bool obj)
{
	const char close = obj ? '}' : ']';
	int t;

	if (depth >= CTL_JSON_DEPTH)
		return jp_fail(p, "nested too deep");
	if ((t = jp_tok(p, obj ? CTL_JSON_OBJECT : CTL_JSON_ARRAY)) < 0)
		return -1;
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close)
		goto done;
	for (;;) {
		jp_ws(p);
		if (obj && (p->pos >= p->len || p->s[p->pos] != '"'))
			return jp_fail(p, "expected a member name");
		if (obj && (jp_string(p) < 0))
			return -1;
		jp_ws(p);
		if (obj && (p->pos >= p->len || p->s[p->pos++] != ':'))
			return jp_fail(p, "expected ':'");
		if (jp_value(p, depth + 1) < 0)
			return -1;
		p->toks[t].size++;
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close)
			break;
		return jp_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
done:
	p->pos++;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

static int jp_value(struct ctl_json_parser *p, unsigned depth)
{
	jp_ws(p);
	if (p->pos >= p->len)
		return jp_fail(p, "unexpected end");
	switch (p->s[p->pos]) {
	case '{': return jp_container(p, depth, true);
	case '[': return jp_container(p, depth, false);
	case '"': return jp_string(p);
	case 't': return jp_word(p, "true", CTL_JSON_BOOL, 1);
	case 'f': return jp_word(p, "false", CTL_JSON_BOOL, 0);
	case 'n': return jp_word(p, "null", CTL_JSON_NULL, 0);
	default:
		if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return jp_number(p);
		return jp_fail(p, "unexpected character");
	}
}

int ctl_json_parse(const char *text, size_t len, struct ctl_json_tok *toks, unsigned cap,
		   char *err, size_t errlen)
{
	struct ctl_json_parser p = { text, len, 0, toks, cap, 0, err, errlen };

	if (len > UINT32_MAX) {
		snprintf(err, errlen, "text too long");
		return -1;
	}
	if (jp_value(&p, 0) < 0)
		return -1;
	jp_ws(&p);
	if (p.pos != len)
		return jp_fail(&p, "text after the value");
	return (int)p.n;
}

bool ctl_json_eq(const char *text, const struct ctl_json_tok *toks, int i, const char *s)
{
	const struct ctl_json_tok *t = &toks[i];
	size_t n = strlen(s);

	return t->type == CTL_JSON_STRING && t->end - t->start == n &&
	       memcmp(text + t->start, s, n) == 0;
}

int ctl_json_get(const char *text, const struct ctl_json_tok *toks, int obj, const char *key)
{
	int i;

	if (obj < 0 || toks[obj].type != CTL_JSON_OBJECT)
		return -1;
	i = obj + 1;
	for (uint32_t m = 0; m < toks[obj].size; m++) {
		if (ctl_json_eq(text, toks, i, key))
			return i + 1;
		i = (int)toks[i + 1].next;
	}
	return -1;
}

int ctl_json_str(const char *text, const struct ctl_json_tok *toks, int i, char *out,
		 size_t cap)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t n = 0;

	if (i < 0 || toks[i].type != CTL_JSON_STRING)
		return -1;
	for (uint32_t k = toks[i].start; k < toks[i].end; k++) {
		char c = text[k];

		if (c == '\\') {
			c = text[++k];
			if (c == 'u') {
				c = (char)(jp_hex(text[k + 3]) * 16 + jp_hex(text[k + 4]));
				k += 4;
			} else {
				c = to[strchr(from, c) - from];
			}
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

void ctl_buf_init(struct ctl_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
	if (cap)
		mem[0] = '\0';
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = true;
		b->p[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

void ctl_buf_json_str(struct ctl_buf *b, const char *s)
{
	ctl_buf_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			ctl_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			ctl_buf_printf(b, "\\u%04x", c);
		else
			ctl_buf_printf(b, "%c", c);
	}
	ctl_buf_printf(b, "\"");
}

void ctl_buf_key(struct ctl_buf *b, const char *key)
{
	char last = b->len ? b->p[b->len - 1] : '{';

	if (last != '{' && last != '[')
		ctl_buf_printf(b, ",");
	ctl_buf_json_str(b, key);
	ctl_buf_printf(b, ":");
}
