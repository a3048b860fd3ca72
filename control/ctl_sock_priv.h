/*
 * ctl_sock_priv.h - what the control socket's command files share.
 *
 * ctl_sock_cmd.c parses a request line and hands it, as a struct ctl_req, to
 * the command's function, which lives in its group's file as seckillctl's
 * side does (seckillctl/ctl_cmd_<group>.c): ctl_sock_campaign.c,
 * ctl_sock_limits.c, ctl_sock_blacklist.c and ctl_sock_stats.c. Each command
 * writes exactly one JSON answer into the request's buffer, through the
 * helpers below when it refuses. What the commands keep between requests is
 * struct ctl_sock_cmd; each group's file is the only one that touches its
 * part. Everything here runs on the main lcore, one request at a time.
 */
#ifndef SECKILL_CTL_SOCK_PRIV_H
#define SECKILL_CTL_SOCK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_proto.h"
#include "ctl_sock.h"

/* What every worker had done at one instant (ctl_sock_cmd_tick). */
struct ctl_rate_sample {
	uint64_t at_us;
	struct ctl_core_sample c[SALE_MAX_CORES];
};

/* The two blacklists (ctl_sock_blacklist.c). */
enum ctl_black_which { CTL_BLACK_IP, CTL_BLACK_BUYER, CTL_BLACK_N };

/* One blacklist as listed: IPv4 addresses (network order) or buyer ids. */
struct ctl_black_list {
	unsigned n;
	uint64_t key[DP_BLACKLIST_MAX];
};

/* A rate limit as given (ctl_sock_limits.c): rate per `per` seconds (1 or
 * 60) and burst, as limits.get shows it. */
struct ctl_limit_given {
	uint32_t rate, per, burst;
};

struct ctl_sock_cmd {
	struct ctl_plane *ctl;
	const struct dp_conf *conf;
	/* ctl_sock_cmd.c: the last two samples; rates are cur - prev. */
	struct ctl_rate_sample prev, cur;
	/* ctl_sock_blacklist.c: a copy of the sale's tables, which cannot be walked. */
	struct ctl_black_list black[CTL_BLACK_N];
	/* ctl_sock_limits.c: the rules in force, as given. */
	struct ctl_limit_given rule[SALE_RULE_N];
};

/* One request being answered: its text, its tokens, the answer's buffer. */
struct ctl_req {
	struct ctl_sock_cmd *st;
	const char *text;
	struct ctl_json_tok *t;
	int n;
	struct ctl_buf *b;
};

/*
 * ctl_sock_cmd.c: reading the request. Each function that refuses has
 * already written the error answer; the command then just returns.
 */
/* Replaces the answer so far with {"ok":false,"error":code,"message":...}. */
void ctl_req_err(struct ctl_req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Refuses fields the command does not take (allowed: NULL-terminated),
 * nested values and repeated fields. */
bool ctl_req_fields_ok(struct ctl_req *r, const char *const *allowed);
/* An integer field in [min, max]: 1 found, 0 absent (when optional), -1 bad. */
int ctl_req_u64(struct ctl_req *r, const char *name, uint64_t min, uint64_t max,
		bool required, uint64_t *out);
/* Refuses the sale's commands when seckill-dp runs without a sale. */
bool ctl_req_need_sale(struct ctl_req *r);

/* The commands: "campaign.create" is ctl_sock_campaign_create, and so on. */
void ctl_sock_campaign_create(struct ctl_req *r);
void ctl_sock_campaign_list(struct ctl_req *r);
void ctl_sock_campaign_show(struct ctl_req *r);
void ctl_sock_campaign_open(struct ctl_req *r);
void ctl_sock_campaign_close(struct ctl_req *r);
void ctl_sock_campaign_pow(struct ctl_req *r);
void ctl_sock_campaign_release_host(struct ctl_req *r);
void ctl_sock_stats(struct ctl_req *r);
void ctl_sock_limits_get(struct ctl_req *r);
void ctl_sock_limits_set(struct ctl_req *r);
void ctl_sock_blacklist_add(struct ctl_req *r);
void ctl_sock_blacklist_del(struct ctl_req *r);
void ctl_sock_blacklist_list(struct ctl_req *r);

/* At ctl_sock_cmd_create: each group's state starts as the command line's. */
void ctl_sock_limits_seed(struct ctl_sock_cmd *st);
void ctl_sock_blacklist_seed(struct ctl_sock_cmd *st);

#endif
