/*
 * gen.h - seckill-gen, the DPDK load generator: options, the per-lcore
 * state and the glue between its files.
 *
 * Each worker lcore owns one queue pair of the port and one gen_load (lib/gen:
 * its own net_core, client TCP and connections), and plays its share of the
 * load: conns, rate and requests split evenly, local ports split into
 * disjoint ranges, so workers never share a connection or a counter. The main
 * lcore only starts them, stops them when the time is up and prints the report.
 */
#ifndef SECKILL_GEN_H
#define SECKILL_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "dp_txq.h"
#include "gen_hist.h"
#include "gen_load.h"
#include "gen_pcap.h"
#include "net_core.h"
#include "tcp.h"

#define GEN_BURST_MAX 64

struct gen_opts {
	struct gen_conf load;        /* the whole run's; each worker gets a share */
	struct tcp_conf tcp;
	uint32_t ip;                 /* ours, network order */
	double duration_s;           /* load for this long (unless --requests ends it first) */
	double drain_s;              /* then wait this long for answers in flight */
	double linger_s;             /* after the report, keep the port up this long */
	uint16_t burst;
	uint32_t mbufs;
	uint32_t idle_sleep_us;
	const char *pcap;            /* replay these frames ... */
	uint64_t pcap_rate;          /* ... at this many frames a second in all */
	const char *hist_out;        /* write the latency distribution here (gnuplot) */
	const char *label;           /* names the run in the report */
	bool no_load;                /* --conns 0: only the pcap replay */
};

/* Per-worker counters of the port side (the engine counts the rest). */
#define GEN_DP_STATS(X) \
	X(rx_pkts) X(rx_bursts) X(tx_pkts) X(tx_bursts) X(tx_drops) X(tx_nombuf) X(tx_ring_full) \
	X(pcap_sent) X(pcap_late) X(busy_cycles) X(idle_sleeps)
struct gen_dp_stats { GEN_DP_STATS(STATS_FIELD) };

enum { GEN_LC_STARTING = 0, GEN_LC_RUNNING, GEN_LC_FAILED, GEN_LC_DONE };

struct gen_lcore {
	const struct gen_opts *opts;
	struct gen_conf conf;        /* this worker's share */
	struct rte_mempool *pool;
	struct net_iface ifc;
	uint16_t port, queue;
	unsigned index, n_workers;

	struct gen_load *load;       /* NULL with --conns 0 */
	struct net_tx tx;
	struct dp_txq txq;
	const struct gen_pcap *pcap;
	uint64_t pcap_rate, pcap_i;  /* this worker's share, frames sent so far */

	struct gen_dp_stats st;
	uint64_t t_start_tsc, t_end_tsc;
	int state;                   /* __atomic */
	char err[200];
} __rte_cache_aligned;

extern struct gen_lcore *gen_lcores[RTE_MAX_LCORE];
extern volatile int gen_quit;    /* 1: stop starting requests; 2: abort now */

/* gen_opts.c */
void gen_opts_usage(FILE *f, const char *prog);
int gen_opts_parse(struct gen_opts *o, int argc, char **argv, char *err, size_t errlen);

/* gen_worker.c */
int gen_worker_main(void *arg);

/* gen_report.c */
void gen_report(FILE *f, const struct gen_opts *o, struct gen_lcore *const *lcs, unsigned n);

#endif
