/*
 * json_check.h - is this JSON? A strict RFC 8259 syntax checker.
 *
 * The sale API takes an optional JSON body it does not read yet; it must
 * still refuse anything that is not JSON, so a client bug shows up as a 400
 * now rather than as a surprise when a later version reads the body. The
 * checker never allocates, never copies and never recurses: nesting is kept
 * in one 64-bit word (one bit per level: object or array), so its cost is
 * linear in the bytes and its stack use is constant, whatever the input.
 *
 * Strict means RFC 8259 and nothing more: no comments, no trailing commas,
 * no single quotes, no NaN/Infinity, no leading '+' or zeros, no BOM, no
 * control characters in strings, escapes only from the RFC's list, \u with
 * exactly 4 hex digits, and the bytes must be well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). Escaped lone
 * surrogates ("\ud800") are accepted, as RFC 8259 8.2 allows.
 */
#ifndef SECKILL_JSON_CHECK_H
#define SECKILL_JSON_CHECK_H

#include <stddef.h>

/* Nesting deeper than this is refused whatever the caller asks (one bit per level). */
#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NONE = 0,  /* not JSON */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_LITERAL,   /* true, false, null */
};

enum json_err {
	JSON_OK = 0,
	JSON_BAD = -1,      /* not RFC 8259 JSON */
	JSON_TOO_DEEP = -2, /* valid so far, but nested deeper than max_depth */
};

/*
 * Checks that s[0..len) is exactly one JSON text (whitespace around it is
 * allowed). max_depth bounds nesting of objects and arrays (0 allows scalars
 * only; above JSON_MAX_DEPTH counts as JSON_MAX_DEPTH). Returns JSON_OK and
 * sets *type (if not NULL) to the top-level value's type, or an error with
 * *type JSON_NONE.
 */
int json_check(const char *s, size_t len, unsigned max_depth, enum json_type *type);

#endif
