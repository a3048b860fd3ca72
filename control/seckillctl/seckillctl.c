/*
 * seckillctl.c - the operator's command line: "seckillctl <group> <command>".
 *
 * This file only knows the list of command groups and how to dispatch to
 * them; each group lives in its own ctl_<group>.c (see ctl.h). Usage errors
 * exit 2 with a hint, failures exit 1 with a sentence saying what failed, and
 * results go to stdout, so scripts can rely on all three.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Add a group here (and its ctl_<group>.c to control/meson.build). */
static const struct ctl_group *const ctl_groups[] = {
	&ctl_campaign_group,
	&ctl_stats_group,
	&ctl_limits_group,
	&ctl_blacklist_group,
	&ctl_token_group,
#ifdef SECKILLCTL_ORDERS
	&ctl_order_group,       /* the order service's database (orders/) */
	&ctl_audit_group,
#endif
};
#define CTL_NGROUPS (sizeof(ctl_groups) / sizeof(ctl_groups[0]))

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

static void ctl_help(FILE *out)
{
	fprintf(out,
		"Usage: seckillctl <group> <command> [options]\n"
		"\n"
		"Operate a seckill flash-sale front end.\n"
		"\n"
		"Groups:\n");
	for (size_t i = 0; i < CTL_NGROUPS; i++)
		fprintf(out, "  %-10s %s\n", ctl_groups[i]->name, ctl_groups[i]->summary);
	fprintf(out,
		"\n"
		"Run 'seckillctl <group> --help' for a group's commands.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n"
		"3: seckill-dp is not running (the commands that talk to it: all but token).\n"
		"Those find it through --socket PATH, $SECKILL_SOCKET, or the only *.sock\n"
		"in /run/seckill; --json prints its answer as one JSON object.\n");
}

static void ctl_group_help(const struct ctl_group *g, FILE *out)
{
	fprintf(out, "Usage: seckillctl %s <command> [options]\n\n%s.\n\nCommands:\n",
		g->name, g->summary);
	for (unsigned i = 0; i < g->ncmds; i++)
		fprintf(out, "  %s%s%s\n      %s\n", g->cmds[i].name,
			*g->cmds[i].args ? " " : "", g->cmds[i].args, g->cmds[i].summary);
	fprintf(out, "\nRun 'seckillctl %s <command> --help' for one command's options.\n",
		g->name);
}

int ctl_usage_error(const char *hint, const char *fmt, ...)
{
	va_list ap;

	fputs("seckillctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "Try '%s'.\n", hint);
	return CTL_EXIT_USAGE;
}

int ctl_getopt(int argc, char **argv, const struct ctl_optspec *spec, const char *allowed,
	       const char *hint, const char **slots[], unsigned *flags, int *first_arg)
{
	int c;

	*flags = 0;
	optind = 0;             /* glibc: start over, argv[0] is not an option */
	opterr = 0;
	/* "+": stop at the first non-option; ":": report a missing value as ':'. */
	while ((c = getopt_long(argc, argv, "+:", spec->opts, NULL)) != -1) {
		int idx = c - spec->base;

		if (c == ':')
			return ctl_usage_error(hint, "%s: option '%s' needs a value", argv[0],
					       argv[optind - 1]);
		if (c == '?' || idx < 0)
			return ctl_usage_error(hint, "%s: unknown option '%s'", argv[0],
					       argv[optind - 1]);
		if (!strchr(allowed, spec->letters[idx]))
			return ctl_usage_error(hint, "%s: option --%s does not apply to %s",
					       argv[0], spec->opts[idx].name, argv[0]);
		if (slots[idx] == NULL)
			*flags |= 1u << idx;
		else if (*slots[idx])
			return ctl_usage_error(hint, "%s: --%s given twice", argv[0],
					       spec->opts[idx].name);
		else
			*slots[idx] = optarg;
	}
	*first_arg = optind;
	return 0;
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("seckillctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

int ctl_dispatch(const struct ctl_group *g, int argc, char **argv)
{
	char hint[64];

	snprintf(hint, sizeof(hint), "seckillctl %s --help", g->name);
	if (argc < 1) {
		ctl_group_help(g, stderr);
		return CTL_EXIT_USAGE;
	}
	if (is_help(argv[0])) {
		ctl_group_help(g, stdout);
		return CTL_EXIT_OK;
	}
	for (unsigned i = 0; i < g->ncmds; i++)
		if (strcmp(argv[0], g->cmds[i].name) == 0)
			return g->cmds[i].run(argc, argv);
	return ctl_usage_error(hint, "unknown %s command '%s'", g->name, argv[0]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		ctl_help(stderr);
		return CTL_EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		ctl_help(stdout);
		return CTL_EXIT_OK;
	}
	for (size_t i = 0; i < CTL_NGROUPS; i++)
		if (strcmp(argv[1], ctl_groups[i]->name) == 0)
			return ctl_groups[i]->run ? ctl_groups[i]->run(argc - 1, argv + 1)
						  : ctl_dispatch(ctl_groups[i], argc - 2, argv + 2);
	return ctl_usage_error("seckillctl --help", "unknown command group '%s'", argv[1]);
}
