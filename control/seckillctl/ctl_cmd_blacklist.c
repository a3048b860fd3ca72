/*
 * ctl_cmd_blacklist.c - "seckillctl blacklist": refused addresses and buyers.
 *
 *   add --ip A.B.C.D | --buyer ID     buys from it get 403 from now on
 *   del --ip A.B.C.D | --buyer ID     allowed again
 *   list                              both lists
 *
 * The change reaches every worker core at once (one atomic store in the
 * sale's blacklist table), without a restart.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_client.h"
#include "str2int.h"

static const char add_usage[] =
	"Usage: seckillctl blacklist add (--ip A.B.C.D | --buyer ID) [--socket PATH] [--json]\n"
	"\n"
	"Refuses buys from the address or buyer: 403 blacklisted_ip / blacklisted_buyer.\n";
static const char del_usage[] =
	"Usage: seckillctl blacklist del (--ip A.B.C.D | --buyer ID) [--socket PATH] [--json]\n"
	"\n"
	"Takes the address or buyer off the blacklist.\n";
static const char list_usage[] =
	"Usage: seckillctl blacklist list [--socket PATH] [--json]\n"
	"\n"
	"Every blacklisted address and buyer.\n";

/* add and del: exactly one of --ip and --buyer, checked before sending. */
static int black_change(int argc, char **argv, const char *cmd, const char *usage)
{
	char hint[64], req[128];
	struct ctl_opts o;
	struct ctl_answer a;
	struct in_addr ip;
	uint64_t buyer;
	int rc;

	snprintf(hint, sizeof(hint), "seckillctl blacklist %s --help", argv[0]);
	rc = ctl_opts_parse(argc, argv, "sjpbh", hint, &o);
	if (rc || o.help)
		return rc ? rc : (fputs(usage, stdout), CTL_EXIT_OK);
	if ((o.ip == NULL) == (o.buyer == NULL))
		return ctl_usage_error(hint, "give exactly one of --ip A.B.C.D and --buyer ID");
	if (o.ip && inet_pton(AF_INET, o.ip, &ip) != 1)
		return ctl_usage_error(hint, "--ip '%s' is not an IPv4 address; give dotted quad, "
				       "e.g. 203.0.113.7", o.ip);
	if (o.buyer && !str2u64(o.buyer, 1, UINT64_MAX - 1, &buyer))
		return ctl_usage_error(hint, "--buyer '%s': expected a buyer id, "
				       "1..18446744073709551614", o.buyer);
	if (o.ip)
		snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"ip\":\"%s\"}", cmd, o.ip);
	else
		snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"buyer\":%" PRIu64 "}", cmd, buyer);
	if ((rc = ctl_call(&o, req, &a)) != 0)
		return rc;
	if (!o.json)
		printf("%s %s %s\n", o.ip ? "ip" : "buyer", o.ip ? o.ip : o.buyer,
		       ctl_json_get(a.text, a.t, 0, "listed_before") >= 0 ? "was already listed" :
		       strcmp(argv[0], "add") == 0 ? "added" : "deleted");
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

static int black_add(int argc, char **argv)
{
	return black_change(argc, argv, "blacklist.add", add_usage);
}

static int black_del(int argc, char **argv)
{
	return black_change(argc, argv, "blacklist.del", del_usage);
}

static int black_list(int argc, char **argv)
{
	struct ctl_opts o;
	struct ctl_answer a;
	char ip[INET_ADDRSTRLEN];
	int rc = ctl_opts_parse(argc, argv, "sjh", CTL_HINT("blacklist", "list"), &o), arr;

	if (rc || o.help)
		return rc ? rc : (fputs(list_usage, stdout), CTL_EXIT_OK);
	if ((rc = ctl_call(&o, "{\"cmd\":\"blacklist.list\"}", &a)) != 0)
		return rc;
	if (!o.json) {
		printf("%-6s %s\n", "TYPE", "VALUE");
		arr = ctl_json_get(a.text, a.t, 0, "ips");
		for (int i = arr + 1; arr >= 0 && i < (int)a.t[arr].next; i++)
			if (ctl_json_str(a.text, a.t, i, ip, sizeof(ip)) >= 0)
				printf("%-6s %s\n", "ip", ip);
		arr = ctl_json_get(a.text, a.t, 0, "buyers");
		for (int i = arr + 1; arr >= 0 && i < (int)a.t[arr].next; i++)
			printf("%-6s %" PRIu64 "\n", "buyer", a.t[i].num);
	}
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd black_cmds[] = {
	{ "add", "--ip A.B.C.D | --buyer ID", "refuse its buys (403) from now on", black_add },
	{ "del", "--ip A.B.C.D | --buyer ID", "allow it again", black_del },
	{ "list", "", "every blacklisted address and buyer", black_list },
};

const struct ctl_group ctl_blacklist_group = {
	.name = "blacklist",
	.summary = "IPs and buyers the running seckill-dp refuses: add, del, list",
	.cmds = black_cmds,
	.ncmds = sizeof(black_cmds) / sizeof(black_cmds[0]),
};
