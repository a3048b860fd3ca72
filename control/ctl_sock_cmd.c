/*
 * ctl_sock_cmd.c - the control commands behind seckill-dp's socket (ctl_sock.c):
 * the request's way from its line to the command that answers it.
 *
 * A request is one JSON object whose "cmd" names the command (ctl_proto.h);
 * this file parses it, finds the command in one table, and gives the others
 * the helpers that read its fields and answer an error. The commands live one
 * file per group, as seckillctl's do (ctl_sock_priv.h lists them). All run
 * on the main lcore, one at a time. The sale is changed only through its
 * control API (sale.h), whose operations are single atomic stores or CASes
 * the workers pair with, so no command waits for a worker.
 *
 * It also takes the rate samples that `stats` turns into per-second rates:
 * ctl_sock_cmd_tick keeps the last two, one second or more apart.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_product.h"
#include "ctl_sock_priv.h"

/* Tokens of a request: "cmd" and a handful of fields, two tokens each. */
#define CTL_SOCK_CMD_TOKS 64
/* The rate window of `stats`. */
#define CTL_SOCK_CMD_RATE_US 1000000ull

/* ------------------------------------------------------------------ */
/* Request fields                                                      */
/* ------------------------------------------------------------------ */

void ctl_req_err(struct ctl_req *r, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_buf_init(r->b, r->b->p, r->b->cap);
	ctl_buf_printf(r->b, "{\"ok\":false,\"error\":");
	ctl_buf_json_str(r->b, code);
	ctl_buf_printf(r->b, ",\"message\":");
	ctl_buf_json_str(r->b, msg);
	ctl_buf_printf(r->b, "}");
}

bool ctl_req_fields_ok(struct ctl_req *r, const char *const *allowed)
{
	char key[64];
	int i = 1;

	for (uint32_t m = 0; m < r->t[0].size; m++, i = (int)r->t[i + 1].next) {
		bool known = ctl_json_eq(r->text, r->t, i, "cmd");

		for (const char *const *a = allowed; !known && *a; a++)
			known = ctl_json_eq(r->text, r->t, i, *a);
		if (ctl_json_str(r->text, r->t, i, key, sizeof(key)) < 0)
			snprintf(key, sizeof(key), "(long name)");
		if (!known) {
			ctl_req_err(r, "bad_request", "unknown field '%s'", key);
			return false;
		}
		if (r->t[i + 1].type == CTL_JSON_OBJECT || r->t[i + 1].type == CTL_JSON_ARRAY) {
			ctl_req_err(r, "bad_request", "fields are strings, integers or booleans");
			return false;
		}
		/* A repeated field is ambiguous (the first would win): refused. */
		if (ctl_json_get(r->text, r->t, 0, key) != i + 1) {
			ctl_req_err(r, "bad_request", "field '%s' given twice", key);
			return false;
		}
	}
	return true;
}

int ctl_req_u64(struct ctl_req *r, const char *name, uint64_t min, uint64_t max,
		bool required, uint64_t *out)
{
	int i = ctl_json_get(r->text, r->t, 0, name);

	if (i < 0) {
		if (!required)
			return 0;
		ctl_req_err(r, "bad_request", "'%s' is required", name);
		return -1;
	}
	if (r->t[i].type != CTL_JSON_INT || r->t[i].num < min || r->t[i].num > max) {
		ctl_req_err(r, "bad_request", "'%s' must be an integer from %" PRIu64 " to %"
			    PRIu64, name, min, max);
		return -1;
	}
	*out = r->t[i].num;
	return 1;
}

bool ctl_req_need_sale(struct ctl_req *r)
{
	if (r->st->ctl->sale != NULL)
		return true;
	ctl_req_err(r, "no_sale", "seckill-dp runs without a sale (start it with --token-key and "
		    "--campaign, or --max-stock for campaigns made here)");
	return false;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

/* In the order the unknown_cmd answer lists them. */
static const struct {
	const char *name;
	void (*run)(struct ctl_req *r);
} ctl_sock_cmds[] = {
	{ "campaign.create", ctl_sock_campaign_create },
	{ "campaign.list", ctl_sock_campaign_list },
	{ "campaign.show", ctl_sock_campaign_show },
	{ "campaign.open", ctl_sock_campaign_open },
	{ "campaign.close", ctl_sock_campaign_close },
	{ "campaign.pow", ctl_sock_campaign_pow },
	{ "campaign.release_host", ctl_sock_campaign_release_host },
	{ "campaign.product", ctl_sock_campaign_product },
	{ "stats", ctl_sock_stats },
	{ "limits.get", ctl_sock_limits_get },
	{ "limits.set", ctl_sock_limits_set },
	{ "blacklist.add", ctl_sock_blacklist_add },
	{ "blacklist.del", ctl_sock_blacklist_del },
	{ "blacklist.list", ctl_sock_blacklist_list },
};

/* "no/unknown cmd; commands: a, b, ...": the table's names, so the list
 * cannot fall behind it. */
static void ctl_sock_cmd_unknown(struct ctl_req *r, bool named)
{
	char names[256];
	size_t len = 0;

	names[0] = '\0';
	for (size_t i = 0; i < RTE_DIM(ctl_sock_cmds) && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					ctl_sock_cmds[i].name);
	ctl_req_err(r, "unknown_cmd", "%s; commands: %s",
		    named ? "unknown \"cmd\"" : "no \"cmd\" field", names);
}

/* Answers one request line into b (no newline yet). */
void ctl_sock_cmd_answer(struct ctl_sock_cmd *st, const char *line, size_t len,
			 struct ctl_buf *b)
{
	struct ctl_json_tok toks[CTL_SOCK_CMD_TOKS];
	struct ctl_req r = { st, line, toks, 0, b };
	char perr[128];
	int c;

	r.n = ctl_json_parse(line, len, toks, CTL_SOCK_CMD_TOKS, perr, sizeof(perr));
	if (r.n < 0 || toks[0].type != CTL_JSON_OBJECT) {
		ctl_req_err(&r, "bad_json", "a request is one JSON object on a line: %s",
			    r.n < 0 ? perr : "not an object");
		return;
	}
	c = ctl_json_get(line, toks, 0, "cmd");
	for (size_t i = 0; c >= 0 && i < RTE_DIM(ctl_sock_cmds); i++)
		if (ctl_json_eq(line, toks, c, ctl_sock_cmds[i].name)) {
			ctl_sock_cmds[i].run(&r);
			if (b->overflow)
				ctl_req_err(&r, "too_large", "the answer does not fit %u bytes",
					    CTL_ANSWER_MAX);
			return;
		}
	ctl_sock_cmd_unknown(&r, c >= 0);
}

/* ------------------------------------------------------------------ */
/* Life cycle and rate samples                                         */
/* ------------------------------------------------------------------ */

struct ctl_sock_cmd *ctl_sock_cmd_create(struct ctl_plane *ctl, const struct dp_conf *conf)
{
	struct ctl_sock_cmd *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->ctl = ctl;
	st->conf = conf;
	ctl_sock_limits_seed(st);
	ctl_sock_blacklist_seed(st);
	return st;
}

/* Every worker's counters now (the workers are numbered by sale core). */
static void ctl_rate_take(struct ctl_rate_sample *s, uint64_t now)
{
	s->at_us = now;
	for (unsigned i = 0; i < SALE_MAX_CORES; i++) {
		struct dp_lcore *lc = ctl_lcore_of_core(i);

		if (lc == NULL)
			break;
		ctl_core_sample(lc, &s->c[i]);
	}
}

void ctl_sock_cmd_tick(struct ctl_sock_cmd *st, uint64_t now_us)
{
	if (now_us - st->cur.at_us < CTL_SOCK_CMD_RATE_US)
		return;
	st->prev = st->cur;
	ctl_rate_take(&st->cur, now_us);
}

void ctl_sock_cmd_free(struct ctl_sock_cmd *st)
{
	free(st);
}
