/*
 * sale_priv.h - struct sale, shared by sale.c (set-up and the buy path) and
 * sale_ctl.c (reads and control-plane operations). Not for other modules.
 */
#ifndef SECKILL_SALE_PRIV_H
#define SECKILL_SALE_PRIV_H

#include <stdatomic.h>

#include "lim_table.h"
#include "sale.h"

/* A blacklist table's value word for "listed"; anything else is not listed
 * (0 is what lim_table gives a freshly inserted or evicted key). */
#define SALE_LISTED 1

/* The control plane's counters in struct sale (sale_ctl_stats). */
enum { CTL_CONFIRMED, CTL_REJECTED, CTL_REPEAT, CTL_CONFLICT, CTL_UNKNOWN, CTL_PAID, CTL_EXPIRED,
       CTL_N };

struct sale_campaign {
	uint32_t id;
	_Atomic uint32_t state;     /* enum sale_state; relaxed (see sale_gate) */
	/* Proof-of-work bits asked of an order, 0: none (sale_campaign_set_pow);
	 * relaxed: it guards no other data, and an order checked against the
	 * old value a moment longer is one that arrived a moment earlier. */
	_Atomic uint32_t pow_bits;
	uint64_t stock;
	uint64_t starts_at_ms;
	struct stock_pool *pool;
	/* Upstream campaigns: units upstream has not handed to any host, as the
	 * control plane last heard (sale_campaign_set_upstream_left); relaxed. */
	_Atomic uint64_t upstream_left;
};

struct sale {
	struct sale_conf conf;      /* read-only after sale_create */
	bool has_prev_key;
	/* Challenge keys derived from conf.key and conf.key_prev (pow.h). */
	struct pow_key pow_key, pow_key_prev;
	struct lim_table *lim_ip;   /* NULL when the rule is off */
	struct lim_table *lim_buyer;
	struct lim_purchase *purchase;
	struct lim_table *black_ip;
	struct lim_table *black_buyer;
	struct sale_core *cores;    /* n_cores, each on its own lines */

	/* Entries listed in each blacklist: while 0 the buy path skips the
	 * look-up. Written only by the control plane, so the line stays shared
	 * in every worker's cache. */
	_Atomic uint64_t black_ip_n __attribute__((aligned(STOCK_CACHE_LINE)));
	_Atomic uint64_t black_buyer_n;
	/* sale_set_paused: same line, same writer (the control plane). */
	_Atomic uint32_t paused;
	/* The rate limits in force (sale_set_limit), each rule packed in one
	 * word (sale_rule_pack) so a worker reads a whole rule, old or new,
	 * never half of each. Same line, same writer. */
	_Atomic uint64_t rule[SALE_RULE_N];

	/* Campaigns: a slot is written, then published by a release store of
	 * n_campaigns; workers acquire-load it before scanning. */
	_Atomic uint32_t n_campaigns __attribute__((aligned(STOCK_CACHE_LINE)));
	uint64_t stock_total;       /* control thread only */
	struct sale_campaign camp[SALE_MAX_CAMPAIGNS];

	/* Control-plane counters (CTL_*), relaxed atomics: any thread may decide. */
	_Atomic uint64_t ctl[CTL_N] __attribute__((aligned(STOCK_CACHE_LINE)));

	/* sale_set_durable: per core, the highest order sequence whose record is
	 * durable. Written by the control plane, read by that core only; each on
	 * its own line, so a publish disturbs one core's cache and no other. */
	struct sale_durable {
		_Atomic uint64_t seq;
	} __attribute__((aligned(STOCK_CACHE_LINE))) durable[SALE_MAX_CORES];
};

/* The published campaign with this id, or NULL. Any thread. */
static inline struct sale_campaign *sale_campaign_find(struct sale *s, uint32_t id)
{
	/* Acquire pairs with the release store in sale_campaign_publish: the
	 * slots below n are completely written. */
	uint32_t n = atomic_load_explicit(&s->n_campaigns, memory_order_acquire);

	for (uint32_t i = 0; i < n; i++)
		if (s->camp[i].id == id)
			return &s->camp[i];
	return NULL;
}

/* A blacklist look-up: listed when the key's value word says so. */
static inline bool sale_listed(struct lim_table *t, uint64_t key)
{
	uint64_t *val;

	if (lim_table_get(t, &key, false, &val) != LIM_T_FOUND)
		return false;
	/* Acquire pairs with the release store in sale_black_add, and orders
	 * the ownership check after it (lim_table_owns). */
	return __atomic_load_n(val, __ATOMIC_ACQUIRE) == SALE_LISTED &&
	       lim_table_owns(t, val, key);
}

#endif
