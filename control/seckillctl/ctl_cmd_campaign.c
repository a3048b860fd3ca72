/*
 * ctl_cmd_campaign.c - "seckillctl campaign": the running dataplane's campaigns.
 *
 *   create --id ID --stock N [--starts-at T]   a new campaign, at run time
 *   list                                       every campaign, one per line
 *   show --id ID                               one campaign, with per-core sales
 *   open|close --id ID                         force it open, or close it (410)
 *
 * Each is one request on the control socket (ctl_proto.h); the input is
 * checked here first, so a typo is a usage error (2) before anything is sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_client.h"

#define CTL_MS_PER_S 1000

static const char create_usage[] =
	"Usage: seckillctl campaign create --id ID --stock N [--starts-at T]\n"
	"                                  [--socket PATH] [--json]\n"
	"\n"
	"Adds campaign ID (1..4294967295) with N units to the running sale. It opens\n"
	"at T (Unix seconds, or +SECONDS from now; default now). The dataplane must\n"
	"have room: at most 64 campaigns, and seckill-dp --max-stock units in all.\n";
static const char list_usage[] =
	"Usage: seckillctl campaign list [--socket PATH] [--json]\n"
	"\n"
	"Every campaign: phase (scheduled, open, sold_out, closed), stock, left, sold.\n";
static const char show_usage[] =
	"Usage: seckillctl campaign show --id ID [--socket PATH] [--json]\n"
	"\n"
	"One campaign, with the units each worker core sold.\n";
static const char open_usage[] =
	"Usage: seckillctl campaign open --id ID [--socket PATH] [--json]\n"
	"\n"
	"Opens the campaign now, whatever its start time says.\n";
static const char close_usage[] =
	"Usage: seckillctl campaign close --id ID [--socket PATH] [--json]\n"
	"\n"
	"Closes the campaign: buys get 410 closed until it is opened again.\n";

/* --id: 1..UINT32_MAX. */
static int campaign_id(const struct ctl_opts *o, const char *hint, uint64_t *id)
{
	if (o->id == NULL)
		return ctl_usage_error(hint, "--id ID is required");
	if (ctl_parse_u64(o->id, id) < 0 || *id == 0 || *id > UINT32_MAX)
		return ctl_usage_error(hint, "--id '%s': expected a campaign id, 1..4294967295",
				       o->id);
	return 0;
}

static void print_time(uint64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / CTL_MS_PER_S);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, cap, "-");
	else
		strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_campaign(const struct ctl_answer *a, int c)
{
	char phase[32], when[32];
	int per = ctl_json_get(a->text, a->t, c, "sold_per_core");

	print_time(ctl_ans_u64(a, c, "starts_at"), when, sizeof(when));
	printf("campaign   %" PRIu64 "\n", ctl_ans_u64(a, c, "id"));
	printf("phase      %s\n", ctl_ans_str(a, c, "phase", phase, sizeof(phase)));
	printf("stock      %" PRIu64 "\n", ctl_ans_u64(a, c, "stock"));
	printf("left       %" PRIu64 "\n", ctl_ans_u64(a, c, "left"));
	printf("sold       %" PRIu64 "\n", ctl_ans_u64(a, c, "sold"));
	printf("starts_at  %s\n", when);
	printf("sold/core ");
	for (int i = per + 1; per >= 0 && i < (int)a->t[per].next; i++)
		printf(" %" PRIu64, a->t[i].num);
	printf("\n");
}

/* Runs a request whose answer is {"campaign":{...}} and prints it. */
static int campaign_call(const struct ctl_opts *o, const char *req)
{
	struct ctl_answer a;
	int rc = ctl_call(o, req, &a);

	if (rc != 0)
		return rc;
	if (!o->json)
		print_campaign(&a, ctl_json_get(a.text, a.t, 0, "campaign"));
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

/* --starts-at: Unix seconds or +SECONDS, to Unix ms. */
static int starts_at(const struct ctl_opts *o, const char *hint, uint64_t *ms)
{
	const char *s = o->starts_at;
	uint64_t v;

	*ms = 0;
	if (s == NULL)
		return 0;
	if (ctl_parse_u64(s[0] == '+' ? s + 1 : s, &v) < 0 || v > UINT64_MAX / CTL_MS_PER_S / 2)
		return ctl_usage_error(hint, "--starts-at '%s': expected Unix seconds or "
				       "+SECONDS, e.g. +60", s);
	if (s[0] == '+')
		v += (uint64_t)time(NULL);
	*ms = v * CTL_MS_PER_S;
	return 0;
}

static int campaign_create(int argc, char **argv)
{
	const char *hint = CTL_HINT("campaign", "create");
	struct ctl_opts o;
	uint64_t id, stock, at;
	char req[256];
	int rc = ctl_opts_parse(argc, argv, "sjikah", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(create_usage, stdout), CTL_EXIT_OK);
	if ((rc = campaign_id(&o, hint, &id)) != 0)
		return rc;
	if (o.stock == NULL)
		return ctl_usage_error(hint, "--stock N is required");
	if (ctl_parse_u64(o.stock, &stock) < 0 || stock == 0)
		return ctl_usage_error(hint, "--stock '%s': expected a number of units, at least 1",
				       o.stock);
	if ((rc = starts_at(&o, hint, &at)) != 0)
		return rc;
	snprintf(req, sizeof(req), "{\"cmd\":\"campaign.create\",\"id\":%" PRIu64 ",\"stock\":%"
		 PRIu64 ",\"starts_at\":%" PRIu64 "}", id, stock, at);
	return campaign_call(&o, req);
}

static int campaign_list(int argc, char **argv)
{
	struct ctl_opts o;
	struct ctl_answer a;
	char phase[32], when[32];
	int rc = ctl_opts_parse(argc, argv, "sjh", CTL_HINT("campaign", "list"), &o), arr;

	if (rc || o.help)
		return rc ? rc : (fputs(list_usage, stdout), CTL_EXIT_OK);
	if ((rc = ctl_call(&o, "{\"cmd\":\"campaign.list\"}", &a)) != 0)
		return rc;
	if (!o.json) {
		arr = ctl_json_get(a.text, a.t, 0, "campaigns");
		printf("%-10s %-9s %10s %10s %10s  %s\n", "ID", "PHASE", "STOCK", "LEFT", "SOLD",
		       "STARTS_AT");
		for (int c = arr + 1; arr >= 0 && c < (int)a.t[arr].next; c = (int)a.t[c].next) {
			print_time(ctl_ans_u64(&a, c, "starts_at"), when, sizeof(when));
			printf("%-10" PRIu64 " %-9s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "  %s\n",
			       ctl_ans_u64(&a, c, "id"), ctl_ans_str(&a, c, "phase", phase,
								      sizeof(phase)),
			       ctl_ans_u64(&a, c, "stock"), ctl_ans_u64(&a, c, "left"),
			       ctl_ans_u64(&a, c, "sold"), when);
		}
	}
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

/* show, open, close: --id only. */
static int campaign_by_id(int argc, char **argv, const char *cmd, const char *usage)
{
	char hint[64], req[128];
	struct ctl_opts o;
	uint64_t id;
	int rc;

	snprintf(hint, sizeof(hint), "seckillctl campaign %s --help", argv[0]);
	rc = ctl_opts_parse(argc, argv, "sjih", hint, &o);
	if (rc || o.help)
		return rc ? rc : (fputs(usage, stdout), CTL_EXIT_OK);
	if ((rc = campaign_id(&o, hint, &id)) != 0)
		return rc;
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"id\":%" PRIu64 "}", cmd, id);
	return campaign_call(&o, req);
}

static int campaign_show(int argc, char **argv)
{
	return campaign_by_id(argc, argv, "campaign.show", show_usage);
}

static int campaign_open(int argc, char **argv)
{
	return campaign_by_id(argc, argv, "campaign.open", open_usage);
}

static int campaign_close(int argc, char **argv)
{
	return campaign_by_id(argc, argv, "campaign.close", close_usage);
}

static const struct ctl_cmd campaign_cmds[] = {
	{ "create", "--id ID --stock N [--starts-at T]", "add a campaign to the running sale",
	  campaign_create },
	{ "list", "", "every campaign: phase, stock, left, sold", campaign_list },
	{ "show", "--id ID", "one campaign, with per-core sales", campaign_show },
	{ "open", "--id ID", "open it now, whatever its start time", campaign_open },
	{ "close", "--id ID", "close it: buys get 410 closed", campaign_close },
};

const struct ctl_group ctl_campaign_group = {
	.name = "campaign",
	.summary = "Campaigns of the running seckill-dp: create, list, show, open, close",
	.cmds = campaign_cmds,
	.ncmds = sizeof(campaign_cmds) / sizeof(campaign_cmds[0]),
};
