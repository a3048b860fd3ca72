/*
 * ctl.h - what seckillctl's command groups share.
 *
 * seckillctl is "seckillctl <group> <command> [options]". Each group (token,
 * offline; campaign, stats, limits, blacklist, talking to the running
 * dataplane over its Unix socket through ctl_client.h) lives in its own
 * ctl_token.c or ctl_cmd_<group>.c and exports one struct ctl_group; seckillctl.c only lists the groups and dispatches.
 * A group's commands are a table of struct ctl_cmd, dispatched by
 * ctl_dispatch, so adding a command is adding a function and a table row.
 */
#ifndef SECKILL_CTL_H
#define SECKILL_CTL_H

#include <getopt.h>
#include <stdint.h>

/* Exit codes, as documented in --help. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1     /* the command ran and failed (bad token, unreadable key ...) */
#define CTL_EXIT_USAGE 2    /* the command line is wrong */
#define CTL_EXIT_NOT_RUNNING 3  /* no seckill-dp answers on the control socket */

struct ctl_cmd {
	const char *name;
	const char *args;       /* the synopsis after the name, for help */
	const char *summary;    /* one line */
	int (*run)(int argc, char **argv);   /* argv[0] is the command name */
};

struct ctl_group {
	const char *name;
	const char *summary;
	const struct ctl_cmd *cmds;
	unsigned ncmds;
	/* Set for a group that is itself the command ("seckillctl stats"):
	 * run gets argv from the group's name on; cmds is then unused. */
	int (*run)(int argc, char **argv);
};

extern const struct ctl_group ctl_token_group;
/* The groups that talk to a running seckill-dp (ctl_client.h). */
extern const struct ctl_group ctl_campaign_group;
extern const struct ctl_group ctl_stats_group;
extern const struct ctl_group ctl_limits_group;
extern const struct ctl_group ctl_blacklist_group;
/* The order service's PostgreSQL, Redis and Kafka (built with libpq). */
extern const struct ctl_group ctl_order_group;
extern const struct ctl_group ctl_audit_group;

/* Runs argv[0] of group g (argv starts at the command name); handles --help. */
int ctl_dispatch(const struct ctl_group *g, int argc, char **argv);

/* Prints "seckillctl: <message>" and the hint to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "seckillctl: <message>" to stderr; returns CTL_EXIT_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One command's options. opts is a getopt_long table whose i-th entry has
 * val == base + i; letters[i] names option i in the `allowed` string a
 * command passes, so commands of one group share a table but each accepts
 * only its own options. Option i with an argument is stored in *slots[i]
 * (given twice: a usage error); one without (slots[i] == NULL) sets bit i
 * of *flags.
 */
struct ctl_optspec {
	const struct option *opts;
	int base;
	const char *letters;
};

/*
 * Parses argv (argv[0] is the command's name) up to the first non-option.
 * Returns 0 with *first_arg the index of the first argument left, or the
 * exit code of a usage error it has reported.
 */
int ctl_getopt(int argc, char **argv, const struct ctl_optspec *spec, const char *allowed,
	       const char *hint, const char **slots[], unsigned *flags, int *first_arg);

#endif
