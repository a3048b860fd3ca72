/*
 * ctl_cmd_campaign.c - "seckillctl campaign": the running dataplane's campaigns.
 *
 *   create --id ID --stock N [--starts-at T]   a new campaign, at run time
 *          [--name --price --image FILE --description]   with its product
 *   set --id ID [--name ..] [--price ..] [--image ..] [--description ..]
 *                                              its product (ctl_cmd_product.c)
 *   list                                       every campaign, one per line
 *   show --id ID                               one campaign, with per-core sales
 *   open|close --id ID                         force it open, or close it (410)
 *   pow --id ID [--bits N]                     the proof of work its orders need
 *   release-host --id ID --host NAME           a dead host's holding back to Redis
 *
 * Each is one request on the control socket (ctl_proto.h); the input is
 * checked here first, so a typo is a usage error (2) before anything is sent.
 * release-host may also go to Redis directly (--redis IP:PORT), for a sale
 * none of whose hosts runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_client.h"
#include "ctl_cmd_product.h"
#include "now.h"
#include "str2int.h"
#include "ctl_redis_keys.h"
#ifdef SECKILLCTL_REDIS
#include "ctl_redis.h"
#endif
#include "pow.h"

#define CTL_MS_PER_S 1000
/* Host names in seckill:hosts:{id} (CTL_REDIS_HOST_MAX in ctl_redis.h). */
#define CTL_HOST_MAX 64
/* release-host --redis: connect and command timeout. */
#define CTL_REDIS_CMD_TIMEOUT_MS 2000

static const char create_usage[] =
	"Usage: seckillctl campaign create --id ID --stock N [--starts-at T] [--buckets B]\n"
	"                                  [--name TEXT] [--price DECIMAL] [--image FILE]\n"
	"                                  [--description TEXT] [--socket PATH] [--json]\n"
	"\n"
	"Adds campaign ID (1..4294967295) with N units to the running sale. It opens\n"
	"at T (Unix seconds, or +SECONDS from now; default now). The dataplane must\n"
	"have room: at most 64 campaigns, and seckill-dp --max-stock units in all.\n"
	"--buckets B (1..256, with seckill-dp --redis): the campaign's buyer claims\n"
	"over B hash tags, so a Redis Cluster spreads one hot campaign's confirms over\n"
	"its primaries (README \"Scale-out\"); fixed for the campaign's life.\n"
	"--name, --price, --image (PNG, JPEG, GIF, WebP or SVG, at most 256 KiB) and\n"
	"--description are what the sale page shows (see 'campaign set --help').\n";
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
	"Closes the campaign: buys get 410 closed until it is opened again.\n"
	"With --redis, every host of the sale closes it within ~10 ms.\n";
static const char pow_usage[] =
	"Usage: seckillctl campaign pow --id ID [--bits N] [--socket PATH] [--json]\n"
	"\n"
	"Sets the proof of work campaign ID asks of every order, live: N leading zero\n"
	"bits of SHA-256(challenge || nonce), 0..32; 0 turns it off. Without --bits, 16:\n"
	"~2^16 hashes, a fraction of a second on a laptop (README \"Proof of work\").\n"
	"Orders without a solution get 428 pow_required; with a wrong, expired or\n"
	"another buyer's one, 403 pow_invalid. Recorded with the campaign (Redis or\n"
	"the state dir).\n";
static const char release_usage[] =
	"Usage: seckillctl campaign release-host --id ID --host NAME\n"
	"                                        [--socket PATH | --redis IP:PORT] [--json]\n"
	"\n"
	"For a sale shared through Redis: gives back what host NAME (its --redis-host,\n"
	"as in seckill:hosts:ID) holds of campaign ID to the stock, for the other hosts\n"
	"to sell, when that host died and will not come back. Asked of any running\n"
	"host (--socket), or of Redis itself (--redis IP:PORT) when none runs.\n"
	"\n"
	"What it risks: the units NAME had sold but not yet confirmed in Redis (its\n"
	"orders of the last moments, still in its journal) are given back too and may\n"
	"be sold again. If NAME restarts, or was alive after all, its confirms take\n"
	"their unit from the stock instead; when the stock is empty by then, those\n"
	"orders are rejected (reason \"released\"): buyers who were answered 200 lose\n"
	"their purchase. Nothing is ever sold twice and no count goes below zero: a\n"
	"released host takes no more stock, drops what it holds, and answers 503 for\n"
	"the campaign until it is restarted. Release only a host you know is down.\n";

/* --id: 1..UINT32_MAX. */
static int campaign_id(const struct ctl_opts *o, const char *hint, uint64_t *id)
{
	if (o->id == NULL)
		return ctl_usage_error(hint, "--id ID is required");
	if (!str2u64(o->id, 1, UINT32_MAX, id))
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
	printf("pow_bits   %" PRIu64 "\n", ctl_ans_u64(a, c, "pow_bits"));
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
	if (!str2u64(s[0] == '+' ? s + 1 : s, 0, UINT64_MAX / CTL_MS_PER_S / 2, &v))
		return ctl_usage_error(hint, "--starts-at '%s': expected Unix seconds or "
				       "+SECONDS, e.g. +60", s);
	if (s[0] == '+')
		v += now_wall_s();
	*ms = v * CTL_MS_PER_S;
	return 0;
}

static int campaign_create(int argc, char **argv)
{
	const char *hint = CTL_HINT("campaign", "create");
	struct ctl_opts o;
	uint64_t id, stock, at, buckets = 1;
	char req[256], preq[4096];
	int rc = ctl_opts_parse(argc, argv, "sjikanPIdKh", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(create_usage, stdout), CTL_EXIT_OK);
	if ((rc = campaign_id(&o, hint, &id)) != 0)
		return rc;
	if (o.stock == NULL)
		return ctl_usage_error(hint, "--stock N is required");
	if (!str2u64(o.stock, 1, UINT64_MAX, &stock))
		return ctl_usage_error(hint, "--stock '%s': expected a number of units, at least 1",
				       o.stock);
	if ((rc = starts_at(&o, hint, &at)) != 0)
		return rc;
	if (o.buckets != NULL && !str2u64(o.buckets, 1, CTL_REDIS_BUCKETS_MAX, &buckets))
		return ctl_usage_error(hint, "--buckets '%s': expected 1..%d", o.buckets,
				       CTL_REDIS_BUCKETS_MAX);
	/* The product is checked before the campaign is made, sent after. */
	if (ctl_product_given(&o) &&
	    (rc = ctl_product_prepare(&o, hint, id, preq, sizeof(preq))) != 0)
		return rc;
	snprintf(req, sizeof(req), "{\"cmd\":\"campaign.create\",\"id\":%" PRIu64 ",\"stock\":%"
		 PRIu64 ",\"starts_at\":%" PRIu64 ",\"buckets\":%" PRIu64 "}", id, stock, at,
		 buckets);
	rc = campaign_call(&o, req);
	if (rc != CTL_EXIT_OK || !ctl_product_given(&o))
		return rc;
	return ctl_product_send(&o, preq);
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
		printf("%-10s %-9s %10s %10s %10s %4s  %s\n", "ID", "PHASE", "STOCK", "LEFT",
		       "SOLD", "POW", "STARTS_AT");
		for (int c = arr + 1; arr >= 0 && c < (int)a.t[arr].next; c = (int)a.t[c].next) {
			print_time(ctl_ans_u64(&a, c, "starts_at"), when, sizeof(when));
			printf("%-10" PRIu64 " %-9s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %4"
			       PRIu64 "  %s\n", ctl_ans_u64(&a, c, "id"),
			       ctl_ans_str(&a, c, "phase", phase, sizeof(phase)),
			       ctl_ans_u64(&a, c, "stock"), ctl_ans_u64(&a, c, "left"),
			       ctl_ans_u64(&a, c, "sold"), ctl_ans_u64(&a, c, "pow_bits"), when);
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

static int campaign_pow(int argc, char **argv)
{
	const char *hint = CTL_HINT("campaign", "pow");
	struct ctl_opts o;
	uint64_t id, bits = POW_DEFAULT_BITS;
	char req[128];
	int rc = ctl_opts_parse(argc, argv, "sjiBh", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(pow_usage, stdout), CTL_EXIT_OK);
	if ((rc = campaign_id(&o, hint, &id)) != 0)
		return rc;
	if (o.bits != NULL && !str2u64(o.bits, 0, POW_MAX_BITS, &bits))
		return ctl_usage_error(hint, "--bits '%s': expected 0..%d (0: off)", o.bits,
				       POW_MAX_BITS);
	snprintf(req, sizeof(req), "{\"cmd\":\"campaign.pow\",\"id\":%" PRIu64 ",\"bits\":%"
		 PRIu64 "}", id, bits);
	return campaign_call(&o, req);
}

/* release-host straight to Redis: no dataplane needs to run. */
static int release_direct(const struct ctl_opts *o, const char *hint, uint64_t id)
{
#ifdef SECKILLCTL_REDIS
	char ip[64], err[CTL_REDIS_ERR_CAP];
	const char *colon = strrchr(o->redis, ':');
	struct ctl_redis *r;
	uint64_t port, given = 0;
	int rc;

	if (colon == NULL || (size_t)(colon - o->redis) >= sizeof(ip) || colon == o->redis ||
	    !str2u64(colon + 1, 1, 65535, &port))
		return ctl_usage_error(hint, "--redis '%s': expected IP:PORT, e.g. 127.0.0.1:6379",
				       o->redis);
	memcpy(ip, o->redis, (size_t)(colon - o->redis));
	ip[colon - o->redis] = '\0';
	r = ctl_redis_connect(ip, (int)port, CTL_REDIS_CMD_TIMEOUT_MS, err, sizeof(err));
	if (r == NULL)
		return ctl_fail("%s", err);
	rc = ctl_redis_release_host(r, (uint32_t)id, o->host, &given);
	if (rc != CTL_REDIS_OK) {
		rc = ctl_fail("%s", ctl_redis_error(r));
		ctl_redis_close(r);
		return rc;
	}
	ctl_redis_close(r);
	if (o->json)
		printf("{\"ok\":true,\"campaign\":%" PRIu64 ",\"host\":\"%s\",\"released\":%"
		       PRIu64 "}\n", id, o->host, given);
	else
		printf("campaign   %" PRIu64 "\nhost       %s\nreleased   %" PRIu64 " units, back "
		       "in seckill:stock:{%" PRIu64 "}\n", id, o->host, given, id);
	return CTL_EXIT_OK;
#else
	(void)id;
	return ctl_usage_error(hint, "--redis: this seckillctl was built without hiredis; "
			       "ask a running host with --socket");
#endif
}

static int campaign_release_host(int argc, char **argv)
{
	const char *hint = CTL_HINT("campaign", "release-host");
	struct ctl_opts o;
	struct ctl_answer a;
	uint64_t id;
	char req[256];
	int rc = ctl_opts_parse(argc, argv, "sjiHxh", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(release_usage, stdout), CTL_EXIT_OK);
	if ((rc = campaign_id(&o, hint, &id)) != 0)
		return rc;
	if (o.host == NULL || o.host[0] == '\0' || strlen(o.host) > CTL_HOST_MAX ||
	    strpbrk(o.host, "\"\\") != NULL)
		return ctl_usage_error(hint, "--host NAME is required: the host's name in "
				       "seckill:hosts:{%" PRIu64 "} (1..%d bytes, no quote or "
				       "backslash)", id, CTL_HOST_MAX);
	if (o.redis && o.socket)
		return ctl_usage_error(hint, "--redis and --socket: give one");
	if (o.redis)
		return release_direct(&o, hint, id);
	snprintf(req, sizeof(req), "{\"cmd\":\"campaign.release_host\",\"id\":%" PRIu64
		 ",\"host\":\"%s\"}", id, o.host);
	if ((rc = ctl_call(&o, req, &a)) != 0)
		return rc;
	if (!o.json)
		printf("campaign   %" PRIu64 "\nhost       %s\nreleased   %" PRIu64 " units, back "
		       "in seckill:stock:{%" PRIu64 "}\n", id, o.host,
		       ctl_ans_u64(&a, 0, "released"), id);
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd campaign_cmds[] = {
	{ "create", "--id ID --stock N [--starts-at T]", "add a campaign to the running sale",
	  campaign_create },
	{ "set", "--id ID [--name ..] [--price ..] [--image FILE] [--description ..]",
	  "its product, as the sale page shows it", ctl_campaign_set },
	{ "list", "", "every campaign: phase, stock, left, sold", campaign_list },
	{ "show", "--id ID", "one campaign, with per-core sales", campaign_show },
	{ "open", "--id ID", "open it now, whatever its start time", campaign_open },
	{ "close", "--id ID", "close it: buys get 410 closed", campaign_close },
	{ "pow", "--id ID [--bits N]", "the proof of work its orders need (0: off)",
	  campaign_pow },
	{ "release-host", "--id ID --host NAME [--redis IP:PORT]",
	  "give a dead host's Redis holding back to the stock (see its --help)",
	  campaign_release_host },
};

const struct ctl_group ctl_campaign_group = {
	.name = "campaign",
	.summary = "Campaigns of the running seckill-dp: create, set, list, show, open, "
		   "close, pow, release-host",
	.cmds = campaign_cmds,
	.ncmds = sizeof(campaign_cmds) / sizeof(campaign_cmds[0]),
};
