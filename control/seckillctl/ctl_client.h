/*
 * ctl_client.h - seckillctl's side of the control socket (ctl_proto.h).
 *
 * The command groups that talk to a running seckill-dp (ctl_cmd_*.c) share
 * one option parser, one call (connect, one request line, one answer line)
 * and the rules for what an answer means to the exit code:
 *   0  {"ok":true}: printed as a table, or passed through with --json
 *   1  {"ok":false}: its message on stderr ("seckillctl: <message>")
 *   2  the command line is wrong (nothing is sent)
 *   3  no dataplane answers on the socket
 */
#ifndef SECKILL_CTL_CLIENT_H
#define SECKILL_CTL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_proto.h"

/* Every option of the socket commands; a command allows a subset. */
struct ctl_opts {
	const char *socket, *id, *stock, *starts_at, *ip, *buyer;
	const char *ip_rate, *ip_burst, *buyer_rate, *buyer_burst;
	const char *host, *redis, *bits, *ip_conns;
	const char *name, *price, *image, *description;   /* the campaign's product */
	const char *buckets;         /* campaign create --buckets */
	bool json, help;
	int first_arg;
};

/*
 * Parses argv (argv[0] is the command) allowing only the options whose
 * letters are in allowed: s socket, j json, i id, k stock, a starts-at,
 * p ip, b buyer, r ip-rate, R ip-burst, u buyer-rate, U buyer-burst, h help,
 * H host, x redis, B bits, c ip-conns, n name, P price, I image, d description.
 * Positional arguments are refused. Returns 0 or a usage exit code.
 */
int ctl_opts_parse(int argc, char **argv, const char *allowed, const char *hint,
		   struct ctl_opts *o);

/* The tokens of an answer; text is owned. */
#define CTL_ANSWER_TOKS 65536
struct ctl_answer {
	char *text;
	size_t len;
	struct ctl_json_tok *t;
	int n;
};

/*
 * Sends request (one JSON object, no newline) to the dataplane and reads its
 * answer. Returns the exit code: 0 with *a filled for {"ok":true}; else the
 * failure is already reported (and with json, the answer printed).
 */
int ctl_call(const struct ctl_opts *o, const char *request, struct ctl_answer *a);
void ctl_answer_free(struct ctl_answer *a);
/* Prints the answer as it came, one line (for --json). */
void ctl_answer_print(const struct ctl_answer *a);

/* Member key of object obj as an integer (0 when absent or not one). */
uint64_t ctl_ans_u64(const struct ctl_answer *a, int obj, const char *key);
/* Member key of object obj as a string into out ("" when absent). */
const char *ctl_ans_str(const struct ctl_answer *a, int obj, const char *key, char *out,
			size_t cap);

/* "seckillctl <group> <cmd> --help" for hints. */
#define CTL_HINT(group, cmd) "seckillctl " group " " cmd " --help"

#endif
