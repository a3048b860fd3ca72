/*
 * ctl_telemetry.c - seckill-dp's counters on DPDK's telemetry socket.
 *
 * The EAL serves /var/run/dpdk/<file prefix>/dpdk_telemetry.v2 (a
 * SOCK_SEQPACKET socket; DPDK's usertools/dpdk-telemetry.py reads it). We add
 *
 *   /seckill/stats       {"core0": {"rx_pkts": .., "requests": .., "buy_sold_out": ..
 *                         (every drop and refusal, as seckillctl stats)}, ..}
 *   /seckill/campaigns   {"7": {"phase": "open", "stock": .., "left": .., ..}, ..}
 *
 * so existing DPDK monitoring sees the sale without seckillctl. The callbacks
 * run on the EAL's telemetry thread: they only read, the counters with the
 * same plain loads ctl_stats.c uses (a value a moment old, never torn) and the
 * campaigns through the sale's any-thread reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "ctl_sock.h"
#include "now.h"

static struct ctl_plane *ctl_tel_ctl;
/* Cleared by ctl_telemetry_fini before the worker state goes away; acquire
 * in the callbacks pairs with the release there and in init. */
static int ctl_tel_live;

static void ctl_tel_drop(void *ctx, const char *set, const char *name, uint64_t v)
{
	char key[RTE_TEL_MAX_STRING_LEN];

	/* Telemetry names take no '.': "buy_sold_out", "tcp_drop_no_conn". */
	snprintf(key, sizeof(key), "%s_%s", set, name);
	rte_tel_data_add_dict_u64(ctx, key, v);
}

/* One worker's counters as a dict (NULL: no memory). */
static struct rte_tel_data *ctl_tel_core(const struct dp_lcore *lc, unsigned i)
{
	struct rte_tel_data *d = rte_tel_data_alloc();
	struct sale *sale = ctl_tel_ctl->sale;
	struct ctl_core_sample s;

	if (d == NULL)
		return NULL;
	ctl_core_sample(lc, &s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "lcore", lc->lcore_id);
	rte_tel_data_add_dict_u64(d, "rx_pkts", s.rx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_pkts", s.tx_pkts);
	rte_tel_data_add_dict_u64(d, "requests", s.requests);
	rte_tel_data_add_dict_u64(d, "sales", s.sales);
	rte_tel_data_add_dict_u64(d, "conns", lc->gauges.conns);
	rte_tel_data_add_dict_u64(d, "ring_depth",
				  sale ? ord_ring_count(sale_ring(sale, i)) : 0);
	ctl_core_drops(lc, ctl_tel_drop, d);
	return d;
}

/*
 * The control plane's side, flat: orders_confirmed, orders_rejected, and with
 * --kafka / --redis every kafka_* and redis_* counter. The control thread
 * writes those counters with plain stores of aligned words: a reader here
 * sees each one old or new, as with journal_depth.
 */
static void ctl_tel_control(struct rte_tel_data *d)
{
	const struct ctl_plane *c = ctl_tel_ctl;
	struct sale_ctl_stats o;
	char key[64];

	if (c->sale == NULL)
		return;
	sale_ctl_stats(c->sale, &o);
	rte_tel_data_add_dict_u64(d, "orders_confirmed", o.confirmed);
	rte_tel_data_add_dict_u64(d, "orders_rejected", o.rejected);
	for (unsigned i = 0; c->kafka_on && i < CTL_KAFKA_NSTATS; i++) {
		snprintf(key, sizeof(key), "kafka_%s", ctl_kafka_stats_names[i]);
		rte_tel_data_add_dict_u64(d, key, ((const uint64_t *)&c->kafka_st)[i]);
	}
	for (unsigned i = 0; c->redis_on && i < CTL_SALE_REDIS_STATS_N; i++) {
		snprintf(key, sizeof(key), "redis_%s", ctl_sale_redis_stats_names[i]);
		rte_tel_data_add_dict_u64(d, key, ((const uint64_t *)&c->redis_st)[i]);
	}
}

static int ctl_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_lcore *lc;
	char key[32];

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	if (!__atomic_load_n(&ctl_tel_live, __ATOMIC_ACQUIRE))
		return 0;
	rte_tel_data_add_dict_u64(d, "journal_depth", ctl_tel_ctl->journal_depth);
	ctl_tel_control(d);
	for (unsigned i = 0; i < SALE_MAX_CORES && (lc = ctl_lcore_of_core(i)) != NULL; i++) {
		struct rte_tel_data *c = ctl_tel_core(lc, i);

		snprintf(key, sizeof(key), "core%u", i);
		/* keep 0: the library frees the container with d. */
		if (c != NULL && rte_tel_data_add_dict_container(d, key, c, 0) < 0)
			rte_tel_data_free(c);
	}
	return 0;
}

static int ctl_tel_campaigns(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	struct sale *s = ctl_tel_ctl->sale;
	struct sale_campaign_view v;
	uint64_t now_ms = now_wall_ms();
	unsigned n = 0;
	char key[16];

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	if (s != NULL && __atomic_load_n(&ctl_tel_live, __ATOMIC_ACQUIRE))
		n = sale_campaign_ids(s, ids, SALE_MAX_CAMPAIGNS);
	for (unsigned i = 0; i < n; i++) {
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL || !sale_campaign_info(s, ids[i], now_ms, &v)) {
			rte_tel_data_free(c);
			continue;
		}
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "phase", sale_phase_str(v.phase));
		rte_tel_data_add_dict_u64(c, "stock", v.stock);
		rte_tel_data_add_dict_u64(c, "left", v.left);
		rte_tel_data_add_dict_u64(c, "sold", v.stock - v.left);
		rte_tel_data_add_dict_u64(c, "starts_at", v.starts_at_ms);
		snprintf(key, sizeof(key), "%" PRIu32, ids[i]);
		if (rte_tel_data_add_dict_container(d, key, c, 0) < 0)
			rte_tel_data_free(c);
	}
	return 0;
}

int ctl_telemetry_init(struct ctl_plane *ctl)
{
	ctl_tel_ctl = ctl;
	__atomic_store_n(&ctl_tel_live, 1, __ATOMIC_RELEASE);
	if (rte_telemetry_register_cmd("/seckill/stats", ctl_tel_stats,
				       "Per-core counters of seckill-dp. Takes no parameters") < 0 ||
	    rte_telemetry_register_cmd("/seckill/campaigns", ctl_tel_campaigns,
				       "The sale's campaigns. Takes no parameters") < 0) {
		fprintf(stderr, "seckill-dp: cannot register the /seckill telemetry commands; "
			"seckillctl stats still works\n");
		return -1;
	}
	return 0;
}

void ctl_telemetry_fini(void)
{
	__atomic_store_n(&ctl_tel_live, 0, __ATOMIC_RELEASE);
}
