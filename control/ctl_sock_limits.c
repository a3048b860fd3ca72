/*
 * ctl_sock_limits.c - limits.get and limits.set on seckill-dp's control
 * socket (seckillctl's side: ctl_cmd_limits.c): the per-IP and per-buyer
 * rate limits, changed while the workers sell, and the per-IP connection
 * limit (--ip-conns), which needs no sale.
 *
 * sale_set_limit stores the new rule as one word, which the workers load
 * whole (old or new, never half of each); the limit tables exist from start,
 * so a rule that was off can be switched on. The sale keeps a rule in
 * milli-requests per second (lim_bucket.h); this file keeps the rules as
 * given, rate per second or per minute, so limits.get shows what was typed.
 * The connection limit is one word in the shared lim_conn table, read and
 * stored there (the workers read it at each new connection).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl_sock_priv.h"

/* The rules' names in requests ("ip_rate") and answers ("ip":{...}). */
static const char *const ctl_rule_names[SALE_RULE_N] = {
	[SALE_RULE_IP] = "ip",
	[SALE_RULE_BUYER] = "buyer",
};

void ctl_sock_limits_seed(struct ctl_sock_cmd *st)
{
	const struct dp_sale_conf *sc = &st->conf->sale;

	st->rule[SALE_RULE_IP].rate = sc->ip_rate;
	st->rule[SALE_RULE_IP].per = sc->ip_per;
	st->rule[SALE_RULE_IP].burst = sc->ip_burst;
	st->rule[SALE_RULE_BUYER].rate = sc->buyer_rate;
	st->rule[SALE_RULE_BUYER].per = sc->buyer_per;
	st->rule[SALE_RULE_BUYER].burst = sc->buyer_burst;
}

/* {"ok":true,"ip":{"rate":..,"per":"s"|"m","burst":..},"buyer":{...},
 *  "ip_conns":N}; ip and buyer only with a sale. */
static void ctl_limits_json(struct ctl_req *r)
{
	ctl_buf_printf(r->b, "{\"ok\":true");
	for (int i = 0; r->st->ctl->sale != NULL && i < SALE_RULE_N; i++) {
		ctl_buf_key(r->b, ctl_rule_names[i]);
		ctl_buf_printf(r->b, "{\"rate\":%" PRIu32 ",\"per\":\"%s\",\"burst\":%" PRIu32 "}",
			       r->st->rule[i].rate, r->st->rule[i].per == 60 ? "m" : "s",
			       r->st->rule[i].burst);
	}
	ctl_buf_printf(r->b, ",\"ip_conns\":%" PRIu32 "}", lim_conn_limit(r->st->ctl->ip_conns));
}

void ctl_sock_limits_get(struct ctl_req *r)
{
	static const char *const f[] = { NULL };

	if (!ctl_req_fields_ok(r, f))
		return;
	ctl_limits_json(r);
}

/* Whether the request names any rate-limit field (those need a sale). */
static bool ctl_rules_given(const struct ctl_req *r, const char *const *f)
{
	for (; *f != NULL; f++)
		if (strcmp(*f, "ip_conns") != 0 && ctl_json_get(r->text, r->t, 0, *f) >= 0)
			return true;
	return false;
}

/* One rule's fields ("ip_rate", "ip_per", "ip_burst") over the rule in force:
 * 0 with *out and *given set, -1 answered with an error. */
static int ctl_rule_fields(struct ctl_req *r, enum sale_rule which, struct lim_rule *out,
			   struct ctl_limit_given *given)
{
	const char *name = ctl_rule_names[which];
	char f_rate[16], f_per[16], f_burst[16];
	uint64_t v_rate = r->st->rule[which].rate, v_per = r->st->rule[which].per;
	uint64_t v_burst = r->st->rule[which].burst;

	snprintf(f_rate, sizeof(f_rate), "%s_rate", name);
	snprintf(f_per, sizeof(f_per), "%s_per", name);
	snprintf(f_burst, sizeof(f_burst), "%s_burst", name);
	if (ctl_req_u64(r, f_rate, 0, DP_RATE_MAX, false, &v_rate) < 0 ||
	    ctl_req_u64(r, f_per, 1, 60, false, &v_per) < 0 ||
	    ctl_req_u64(r, f_burst, 0, LIM_EXCESS_MAX / 1000, false, &v_burst) < 0)
		return -1;
	if (v_per != 1 && v_per != 60) {
		ctl_req_err(r, "bad_request", "'%s' must be 1 (per second) or 60 (per minute)",
			    f_per);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (v_rate != 0 && lim_rule_set(out, (uint32_t)v_rate, (uint32_t)v_per,
					(uint32_t)v_burst) < 0) {
		ctl_req_err(r, "bad_request", "%s rate %" PRIu64 " with burst %" PRIu64 " is not "
			    "a usable limit; lower the burst", name, v_rate, v_burst);
		return -1;
	}
	given->rate = (uint32_t)v_rate;
	given->per = (uint32_t)v_per;
	given->burst = (uint32_t)v_burst;
	return 0;
}

void ctl_sock_limits_set(struct ctl_req *r)
{
	static const char *const f[] = { "ip_rate", "ip_per", "ip_burst", "buyer_rate",
					 "buyer_per", "buyer_burst", "ip_conns", NULL };
	struct lim_rule rule[SALE_RULE_N];
	struct ctl_limit_given given[SALE_RULE_N];
	bool rules;
	uint64_t conns;
	int has_conns;

	if (!ctl_req_fields_ok(r, f))
		return;
	rules = ctl_rules_given(r, f);
	if (rules && !ctl_req_need_sale(r))
		return;
	/* Everything checked before anything is applied: all or nothing. */
	has_conns = ctl_req_u64(r, "ip_conns", 0, DP_IP_CONNS_MAX, false, &conns);
	if (has_conns < 0)
		return;
	for (int i = 0; rules && i < SALE_RULE_N; i++)
		if (ctl_rule_fields(r, (enum sale_rule)i, &rule[i], &given[i]) < 0)
			return;
	if (has_conns > 0) {
		lim_conn_set_limit(r->st->ctl->ip_conns, (uint32_t)conns);
		printf("seckill-dp: --ip-conns set by seckillctl: %" PRIu64 "%s\n", conns,
		       conns ? " per address" : " (off)");
	}
	if (!rules) {
		ctl_limits_json(r);
		return;
	}
	for (int i = 0; i < SALE_RULE_N; i++) {
		if (sale_set_limit(r->st->ctl->sale, (enum sale_rule)i, &rule[i]) < 0) {
			ctl_req_err(r, "failed", "the %s limit cannot be switched on: its table "
				    "has no room", ctl_rule_names[i]);
			return;
		}
		r->st->rule[i] = given[i];
	}
	printf("seckill-dp: limits set by seckillctl: ip %u/%s burst %u, buyer %u/%s burst %u\n",
	       given[0].rate, given[0].per == 60 ? "m" : "s", given[0].burst, given[1].rate,
	       given[1].per == 60 ? "m" : "s", given[1].burst);
	ctl_limits_json(r);
}
