/*
 * dp_ctlsock.h - seckill-dp's control socket (protocol: control/ctl_proto.h).
 *
 * The main lcore polls it from its control loop (dp_ctl.c); nothing here ever
 * blocks, so a slow or stuck seckillctl costs the order drain nothing.
 */
#ifndef SECKILL_DP_CTLSOCK_H
#define SECKILL_DP_CTLSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"

struct dp_ctlsock;

/* What one worker has done so far, for stats and telemetry. */
struct dp_core_sample {
	uint64_t rx_pkts, tx_pkts, requests, sales;
};

/* The default path, /run/seckill/<EAL file prefix>.sock (after the EAL). */
void dp_ctlsock_default_path(char *out, size_t cap);

/*
 * Listens on path (creating its directory; replacing a stale socket file no
 * process answers on). NULL with a sentence in err when it cannot, or when
 * another process serves that path.
 */
struct dp_ctlsock *dp_ctlsock_open(const char *path, struct dp_ctl *ctl,
				   const struct dp_conf *conf, char *err, size_t errlen);
/* Accepts, reads, answers what is ready; samples the rates once a second. */
void dp_ctlsock_poll(struct dp_ctlsock *cs);
/* Closes every client and removes the socket file. NULL is fine. */
void dp_ctlsock_close(struct dp_ctlsock *cs);

/* dp_ctlcmd.c: the commands. dp_ctlcmd_answer writes the JSON answer to
 * one request line into b (no newline); tick takes the rate samples. */
struct ctl_buf;
struct dp_ctlcmd;
struct dp_ctlcmd *dp_ctlcmd_create(struct dp_ctl *ctl, const struct dp_conf *conf);
void dp_ctlcmd_answer(struct dp_ctlcmd *st, const char *line, size_t len, struct ctl_buf *b);
void dp_ctlcmd_tick(struct dp_ctlcmd *st, uint64_t now_us);
void dp_ctlcmd_free(struct dp_ctlcmd *st);

/* Worker lc's counters (plain loads of another core's counters, as dp_stats.c). */
void dp_core_sample(const struct dp_lcore *lc, struct dp_core_sample *s);
/* Calls fn for each of lc's drop and refusal counters ("tcp.drop_no_conn",
 * "buy.sold_out" ...), every one, zero or not. */
void dp_core_drops(const struct dp_lcore *lc,
		   void (*fn)(void *ctx, const char *set, const char *name, uint64_t v),
		   void *ctx);
/* The worker lcore serving sale core (queue) i, or NULL. */
struct dp_lcore *dp_lcore_of_core(unsigned i);

/* dp_telemetry.c: /seckill/stats and /seckill/campaigns on DPDK's
 * telemetry socket. Returns 0, or -1 (logged) when registration failed. */
int dp_telemetry_init(struct dp_ctl *ctl);
/* Before the workers' state is freed: the commands answer empty from now on. */
void dp_telemetry_fini(void);

#endif
