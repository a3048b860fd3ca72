/*
 * ctl_cmd_limits.c - "seckillctl limits": the per-IP and per-buyer rate limits
 * and the per-IP connection limit.
 *
 *   show                        the rules seckill-dp runs with
 *   set [--ip-rate N[/s|/m]] [--ip-burst N] [--buyer-rate ..] [--buyer-burst N]
 *       [--ip-conns N]
 *
 * The values are checked here as seckill-dp checks its options; seckill-dp
 * applies a new rule at once (its workers read a rule as one word) and both
 * commands print the rules in force.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_client.h"
#include "str2int.h"

/* As seckill-dp --ip-rate (DP_RATE_MAX): above this a limit is no limit, and
 * the milli-request rate lim_rule_set keeps must fit 32 bits (4.29 M/s). */
#define CTL_RATE_MAX 4000000
#define CTL_BURST_MAX 1000000
/* As seckill-dp --ip-conns (DP_IP_CONNS_MAX). */
#define CTL_IP_CONNS_MAX (1u << 24)

static const char show_usage[] =
	"Usage: seckillctl limits show [--socket PATH] [--json]\n"
	"\n"
	"The per-IP and per-buyer limits (nginx limit_req: rate, burst, nodelay;\n"
	"with a sale) and the connections one address may hold (nginx limit_conn).\n";
static const char set_usage[] =
	"Usage: seckillctl limits set [--ip-rate N[/s|/m]] [--ip-burst N]\n"
	"                             [--buyer-rate N[/s|/m]] [--buyer-burst N]\n"
	"                             [--ip-conns N] [--socket PATH] [--json]\n"
	"\n"
	"Changes the running seckill-dp's rate limits (rate 0 = off; they need a\n"
	"sale) and its per-address connection limit (--ip-conns, all workers\n"
	"together; 0 = off) at once; what is not given stays as it is. Prints the\n"
	"rules in force. A lower --ip-conns refuses new connections only: an\n"
	"address holding more keeps them until they close.\n";

/* The rules of a limits.get or limits.set answer, as a table: the rate
 * limits (only with a sale), then the connection limit. */
static void limits_print(const struct ctl_answer *a)
{
	static const char *const which[] = { "ip", "buyer" };
	char per[8];

	if (ctl_json_get(a->text, a->t, 0, which[0]) >= 0)
		printf("%-6s %12s %8s\n", "LIMIT", "RATE", "BURST");
	for (int i = 0; i < 2; i++) {
		int r = ctl_json_get(a->text, a->t, 0, which[i]);
		char rate[32];

		if (r < 0)
			continue;

		snprintf(rate, sizeof(rate), "%" PRIu64 "/%s", ctl_ans_u64(a, r, "rate"),
			 ctl_ans_str(a, r, "per", per, sizeof(per)));
		printf("%-6s %12s %8" PRIu64 "\n", which[i],
		       ctl_ans_u64(a, r, "rate") ? rate : "off", ctl_ans_u64(a, r, "burst"));
	}
	if (ctl_ans_u64(a, 0, "ip_conns"))
		printf("conns per ip %6" PRIu64 "\n", ctl_ans_u64(a, 0, "ip_conns"));
	else
		printf("conns per ip %6s\n", "off");
}

static int limits_show(int argc, char **argv)
{
	struct ctl_opts o;
	struct ctl_answer a;
	int rc = ctl_opts_parse(argc, argv, "sjh", CTL_HINT("limits", "show"), &o);

	if (rc || o.help)
		return rc ? rc : (fputs(show_usage, stdout), CTL_EXIT_OK);
	if ((rc = ctl_call(&o, "{\"cmd\":\"limits.get\"}", &a)) != 0)
		return rc;
	if (!o.json)
		limits_print(&a);
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

/* Appends a rate option ("N", "N/s", "N/m") as "<key>_rate" and "<key>_per". */
static int add_rate(const char *hint, const char *opt, const char *key, const char *v,
		    char *req, size_t cap)
{
	char num[24];
	const char *slash = strchr(v, '/');
	size_t n = slash ? (size_t)(slash - v) : strlen(v);
	uint64_t r;

	if (n >= sizeof(num) || (slash && strcmp(slash, "/s") != 0 && strcmp(slash, "/m") != 0))
		return ctl_usage_error(hint, "%s '%s': expected N, N/s or N/m", opt, v);
	memcpy(num, v, n);
	num[n] = '\0';
	if (!str2u64(num, 0, CTL_RATE_MAX, &r))
		return ctl_usage_error(hint, "%s '%s': expected N, N/s or N/m with N 0..%d",
				       opt, v, CTL_RATE_MAX);
	snprintf(req + strlen(req), cap - strlen(req), ",\"%s_rate\":%" PRIu64 ",\"%s_per\":%d",
		 key, r, key, slash && slash[1] == 'm' ? 60 : 1);
	return 0;
}

static int add_burst(const char *hint, const char *opt, const char *key, const char *v,
		     char *req, size_t cap)
{
	uint64_t b;

	if (!str2u64(v, 0, CTL_BURST_MAX, &b))
		return ctl_usage_error(hint, "%s '%s': expected a number of requests, 0..%d",
				       opt, v, CTL_BURST_MAX);
	snprintf(req + strlen(req), cap - strlen(req), ",\"%s_burst\":%" PRIu64, key, b);
	return 0;
}

static int limits_set(int argc, char **argv)
{
	const char *hint = CTL_HINT("limits", "set");
	struct ctl_opts o;
	struct ctl_answer a;
	char req[256] = "{\"cmd\":\"limits.set\"";
	uint64_t conns;
	int rc = ctl_opts_parse(argc, argv, "sjrRuUhc", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(set_usage, stdout), CTL_EXIT_OK);
	if (!o.ip_rate && !o.ip_burst && !o.buyer_rate && !o.buyer_burst && !o.ip_conns)
		return ctl_usage_error(hint, "nothing to set: give --ip-rate, --ip-burst, "
				       "--buyer-rate, --buyer-burst or --ip-conns");
	if (o.ip_conns) {
		if (!str2u64(o.ip_conns, 0, CTL_IP_CONNS_MAX, &conns))
			return ctl_usage_error(hint, "--ip-conns '%s': expected a number of "
					       "connections, 0..%u (0 = off)", o.ip_conns,
					       CTL_IP_CONNS_MAX);
		snprintf(req + strlen(req), sizeof(req) - strlen(req), ",\"ip_conns\":%" PRIu64,
			 conns);
	}
	if ((o.ip_rate && (rc = add_rate(hint, "--ip-rate", "ip", o.ip_rate, req, sizeof(req)))) ||
	    (o.ip_burst && (rc = add_burst(hint, "--ip-burst", "ip", o.ip_burst, req,
					   sizeof(req)))) ||
	    (o.buyer_rate && (rc = add_rate(hint, "--buyer-rate", "buyer", o.buyer_rate, req,
					    sizeof(req)))) ||
	    (o.buyer_burst && (rc = add_burst(hint, "--buyer-burst", "buyer", o.buyer_burst,
					      req, sizeof(req)))))
		return rc;
	strcat(req, "}");
	if ((rc = ctl_call(&o, req, &a)) != 0)
		return rc;
	if (!o.json)
		limits_print(&a);
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd limits_cmds[] = {
	{ "show", "", "the per-IP and per-buyer rate limits, the per-IP connection limit",
	  limits_show },
	{ "set", "[--ip-rate N[/s|/m]] [--ip-burst N] [--buyer-rate ..] [--buyer-burst N] "
	  "[--ip-conns N]", "change them while seckill-dp runs", limits_set },
};

const struct ctl_group ctl_limits_group = {
	.name = "limits",
	.summary = "Rate and connection limits of the running seckill-dp: show, set",
	.cmds = limits_cmds,
	.ncmds = sizeof(limits_cmds) / sizeof(limits_cmds[0]),
};
