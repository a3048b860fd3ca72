/*
 * ctl_proto.h - the control protocol between seckillctl and seckill-dp.
 *
 * A SOCK_STREAM Unix socket, one request per line, one answer per line,
 * both single JSON objects (no newline inside: JSON strings escape it):
 *
 *   -> {"cmd":"campaign.create","id":7,"stock":1000,"starts_at":1767225600000}
 *   <- {"ok":true,"campaign":{"id":7,...}}
 *   <- {"ok":false,"error":"exists","message":"campaign 7 exists already"}
 *
 * A request is a flat object: "cmd" (a string) and fields whose values are
 * strings, unsigned integers or booleans; a field the command does not know
 * is an error (bad_request), so a typo never silently does less. Answers may
 * nest objects and arrays. "error" is a stable code for scripts, "message" a
 * sentence for people. Commands: campaign.create|list|show|open|close,
 * stats, limits.get|set, blacklist.add|del|list (README.md, "Operating a running
 * dataplane", has the fields of each).
 *
 * Where the socket is: seckill-dp --ctl-socket PATH, else
 * /run/seckill/<EAL file prefix>.sock (mode 0660, root). seckillctl takes
 * --socket PATH, else $SECKILL_SOCKET, else the only *.sock in /run/seckill.
 *
 * The JSON reader is jsmn-like: it never copies and never allocates; it
 * fills a caller's array of tokens (spans into the text) in document order,
 * each knowing where its subtree ends, and refuses anything not strict JSON
 * (floats, negative numbers and \u escapes above ASCII included: the
 * protocol has no use for them, and refusing is simpler than half-supporting).
 */
#ifndef SECKILL_CTL_PROTO_H
#define SECKILL_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_SOCKET_DIR "/run/seckill"
#define CTL_SOCKET_ENV "SECKILL_SOCKET"
#define CTL_SOCKET_SUFFIX ".sock"
/* A request line: the longest request is a few fields, 4 KiB is plenty
 * and bounds what one client can make the server buffer. */
#define CTL_REQ_MAX 4096
/* An answer line: the largest is blacklist.list with two full 4 Ki tables
 * (~170 KB); 1 MiB leaves room and still bounds the client's buffer. */
#define CTL_ANSWER_MAX (1u << 20)
/* Nesting the reader follows: answers are at most object/array/object/object. */
#define CTL_JSON_DEPTH 8

enum ctl_json_type {
	CTL_JSON_OBJECT, CTL_JSON_ARRAY, CTL_JSON_STRING, CTL_JSON_INT,
	CTL_JSON_BOOL, CTL_JSON_NULL,
};

struct ctl_json_tok {
	uint8_t type;          /* enum ctl_json_type */
	uint32_t start, end;   /* the value's span; a string's without quotes */
	uint32_t size;         /* object: members; array: elements */
	uint32_t next;         /* index of the token after this subtree */
	uint64_t num;          /* CTL_JSON_INT: the value; BOOL: 0 or 1 */
};

/*
 * Parses the whole of text[0..len) as one JSON value into toks (cap tokens;
 * an object member is two: key then value). Returns the token count, or -1
 * with a sentence in err (malformed, too deep, too many tokens).
 */
int ctl_json_parse(const char *text, size_t len, struct ctl_json_tok *toks, unsigned cap,
		   char *err, size_t errlen);

/* The value of member key in the object at toks[obj], or -1. */
int ctl_json_get(const char *text, const struct ctl_json_tok *toks, int obj, const char *key);

/* toks[i] is a string equal to s. */
bool ctl_json_eq(const char *text, const struct ctl_json_tok *toks, int i, const char *s);

/* Copies string toks[i], unescaped, into out (cap bytes, NUL-terminated).
 * Returns its length, or -1 when it is not a string or does not fit. */
int ctl_json_str(const char *text, const struct ctl_json_tok *toks, int i, char *out,
		 size_t cap);

/* An output buffer for JSON answers and requests; on overflow it keeps
 * what fit and sets `overflow` (the caller answers an error instead). */
struct ctl_buf {
	char *p;
	size_t len, cap;
	bool overflow;
};

void ctl_buf_init(struct ctl_buf *b, char *mem, size_t cap);
void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void ctl_buf_json_str(struct ctl_buf *b, const char *s);
/* "key": as an object member's start, with a comma before it unless first. */
void ctl_buf_key(struct ctl_buf *b, const char *key);

#endif
