/*
 * dp.h - the dataplane's per-lcore state and the glue between its files.
 *
 * Everything one worker touches per packet lives in its struct dp_lcore,
 * found through dp_lcores[rte_lcore_id()] as in DPDK's l3fwd: its RX/TX queue
 * pair, its TX burst, its own net_core + tcp_core + http_server, its counters.
 * Workers share only the (read-only) configuration, the mbuf pool, whose
 * per-lcore cache keeps them off each other's cache lines, and the lock-free
 * --ip-conns table (one CAS per accepted connection, none per packet). Flows
 * are pinned to a queue by the port (af_packet fanout, or RSS on a NIC), so
 * each queue's TCP table sees every segment of its connections and nothing is
 * locked.
 */
#ifndef SECKILL_DP_H
#define SECKILL_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "app.h"
#include "dp_conf.h"
#include "dp_port.h"
#include "dp_txq.h"
#include "http_server.h"
#include "lim_conn.h"
#include "net_core.h"
#include "sale.h"
#include "stats.h"
#include "tcp.h"

/* Dataplane counters of one core (lib/ modules count their own). */
#define DP_STATS(X) \
	X(rx_pkts) X(rx_bursts) X(rx_drop_multiseg) X(tx_pkts) X(tx_bursts) \
	X(tx_drops) X(tx_nombuf) \
	X(tx_ring_full) /* flushes the PMD took only part of: the rest waited (dp_txq.h) */ \
	X(idle_sleeps) \
	X(busy_cycles)  /* TSC cycles spent on non-empty bursts: RX, stack, timers, TX */ \
	X(stack_cycles) /* of them, in the stack: net_input to the answer queued */ \
	X(ip_conns_full) /* connections let in uncounted: --ip-conns table range full */

struct dp_stats { DP_STATS(STATS_FIELD) };
extern const char *const dp_stats_names[];
#define DP_STATS_N (0 DP_STATS(STATS_COUNT))

enum dp_lcore_state {
	DP_LCORE_STARTING = 0,
	DP_LCORE_RUNNING,            /* set up, polling */
	DP_LCORE_FAILED,             /* set-up failed; err says why */
	DP_LCORE_STOPPED,            /* left its loop after dp_quit */
};

struct dp_lcore {
	/* Written by the main lcore before launch, read-only afterwards. */
	const struct dp_conf *conf;
	struct rte_mempool *pool;
	struct net_iface ifc;
	uint16_t port;
	uint16_t queue;
	unsigned int lcore_id;
	struct lim_conn *ip_conns;   /* --ip-conns: shared by every worker (dp_main.c) */
	const struct app_site *site; /* the sale page as built at start; the worker copies it */
	const struct app_products *products;   /* published by the control thread */

	/* The worker's own stack, created on the worker (its socket, its cache). */
	struct net_core net;
	struct tcp_core *tcp;
	struct http_server *http;
	struct app app;              /* the routes' per-core state (app_handle's ctx) */
	struct app_site *site_copy;  /* this worker's copy of the sale page */
	struct sale_core *sale;      /* this worker's part of the sale; NULL: none */
	struct net_tx tx;

	/* The TX burst being built (dp_txq.c). */
	struct dp_txq txq;

	/* The sale's clock (dp_worker.c): Unix ms from the TSC, re-anchored to
	 * the wall clock every tick, so the loop makes no syscall for it. */
	uint64_t clock_ms0, clock_tsc0;

	/* Idle back-off (dp_worker.c). */
	uint32_t idle_polls;
	uint32_t idle_sleep_us;
	/* Held answers (dp_worker_release): the durable position last seen and
	 * when it last moved (or the holding began), in TSC. */
	uint64_t durable_seen;
	uint64_t durable_moved_tsc;

	struct dp_stats st;
	/* Gauges copied out by the worker every clock tick, so the main lcore can
	 * print them without walking a table another core is changing. Each field
	 * is an aligned 32-bit store: a reader sees old or new, never torn. */
	struct tcp_gauges gauges;

	int state;                   /* enum dp_lcore_state; __atomic, see dp_worker.c */
	char err[160];
} __rte_cache_aligned;

extern struct dp_lcore *dp_lcores[RTE_MAX_LCORE];

/* Set by the signal handler, polled by every loop; relaxed is enough since a
 * late read only costs one more iteration. */
extern volatile int dp_quit;

/* dp_worker.c */
int dp_worker_main(void *arg);
void dp_worker_fini(struct dp_lcore *lc);

#endif
