/*
 * ctl_sock.h - seckill-dp's control socket (protocol: control/ctl_proto.h).
 *
 * The main lcore polls it from its control loop (ctl_loop.c); nothing here ever
 * blocks, so a slow or stuck seckillctl costs the order drain nothing.
 */
#ifndef SECKILL_CTL_SOCK_H
#define SECKILL_CTL_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_plane.h"

struct ctl_sock;

/* What one worker has done so far, for stats and telemetry. */
struct ctl_core_sample {
	uint64_t rx_pkts, tx_pkts, requests, sales;
};

/* The default path, /run/seckill/<EAL file prefix>.sock (after the EAL). */
void ctl_sock_default_path(char *out, size_t cap);

/*
 * Listens on path (creating its directory; replacing a stale socket file no
 * process answers on). NULL with a sentence in err when it cannot, or when
 * another process serves that path.
 */
struct ctl_sock *ctl_sock_open(const char *path, struct ctl_plane *ctl,
				   const struct dp_conf *conf, char *err, size_t errlen);
/* Accepts, reads, answers what is ready; samples the rates once a second. */
void ctl_sock_poll(struct ctl_sock *cs);
/*
 * Is a connection waiting on listening socket fd? Asked before accept4,
 * which on Linux allocates a socket and a file before it finds the queue
 * empty, and the control thread asks every pass, thousands of times a
 * second while a sale runs; poll allocates nothing.
 */
bool ctl_sock_listen_ready(int fd);
/* Closes every client and removes the socket file. NULL is fine. */
void ctl_sock_close(struct ctl_sock *cs);

/* ctl_sock_cmd.c: the commands (one file per group, ctl_sock_<group>.c).
 * ctl_sock_cmd_answer writes the JSON answer to one request line into b (no
 * newline); tick takes the rate samples. */
struct ctl_buf;
struct ctl_sock_cmd;
struct ctl_sock_cmd *ctl_sock_cmd_create(struct ctl_plane *ctl, const struct dp_conf *conf);
void ctl_sock_cmd_answer(struct ctl_sock_cmd *st, const char *line, size_t len, struct ctl_buf *b);
void ctl_sock_cmd_tick(struct ctl_sock_cmd *st, uint64_t now_us);
void ctl_sock_cmd_free(struct ctl_sock_cmd *st);

/*
 * The workers' counters, as stats, telemetry and the exit table read them
 * (plain loads of another core's counters: a value a moment old, never torn).
 * A worker that did not get as far as building its stack has nothing to
 * show: every reader skips it, by this one test.
 */
static inline bool ctl_has_stack(const struct dp_lcore *lc)
{
	return lc != NULL && lc->tcp != NULL && lc->http != NULL;
}

/* ctl_sock_stats.c: worker lc's totals (all zero without a stack). */
void ctl_core_sample(const struct dp_lcore *lc, struct ctl_core_sample *s);
/* Calls fn for each of lc's drop and refusal counters ("tcp.drop_no_conn",
 * "buy.sold_out" ...), every one, zero or not. */
void ctl_core_drops(const struct dp_lcore *lc,
		   void (*fn)(void *ctx, const char *set, const char *name, uint64_t v),
		   void *ctx);
/* The worker lcore serving sale core (queue) i, or NULL. */
struct dp_lcore *ctl_lcore_of_core(unsigned i);

/* ctl_telemetry.c: /seckill/stats and /seckill/campaigns on DPDK's
 * telemetry socket. Returns 0, or -1 (logged) when registration failed. */
int ctl_telemetry_init(struct ctl_plane *ctl);
/* Before the workers' state is freed: the commands answer empty from now on. */
void ctl_telemetry_fini(void);

#endif
