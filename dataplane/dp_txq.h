/*
 * dp_txq.h - struct net_tx on mbufs and TX bursts: how lib/ sends frames
 * from a DPDK lcore (a seckill-dp worker, or a seckill-gen one).
 *
 * alloc hands lib/ the data area of a fresh mbuf to build a frame in; send
 * appends the mbuf to the queue's burst; the loop flushes the burst with one
 * rte_eth_tx_burst after each RX burst (and send does when it is full), so a
 * burst of answers leaves in one PMD call (one sendto() on af_packet).
 * Frames the PMD does not take (its ring is full) stay queued, in order, for
 * the next flush: a group commit releases hundreds of held answers at once,
 * and a frame dropped there costs its connection a 200 ms retransmission
 * timeout. Only past DP_TX_BACKLOG queued frames is a frame freed and counted
 * (TCP retransmits it).
 * The counters are the owner's (its per-lcore stats struct), so each program
 * prints them under its own names.
 */
#ifndef SECKILL_DP_TXQ_H
#define SECKILL_DP_TXQ_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "net_iface.h"

/* Frames queued before send flushes them: an RX burst of 32 requests can
 * produce more frames than 32 (ACK + answer), so twice the default burst. */
#define DP_TX_BURST 64
/* Frames the queue holds while the PMD's ring is full: two group commits'
 * answers (500-900 each at 2,048 connections, BENCHMARKS.md). Each holds an
 * mbuf: at worst this many more a worker out of --mbufs. */
#define DP_TX_BACKLOG 1024

struct dp_txq_counters {
	uint64_t *pkts, *bursts, *drops, *nombuf;
	uint64_t *ring_full;        /* flushes the PMD took only part of */
};

struct dp_txq {
	struct rte_mempool *pool;
	uint16_t port, queue;
	uint16_t n;
	struct rte_mbuf *pkts[DP_TX_BACKLOG];
	struct dp_txq_counters c;
};

/* Sets q up for (port, queue) and fills tx with q's callbacks. */
void dp_txq_init(struct dp_txq *q, struct net_tx *tx, struct rte_mempool *pool,
		 uint16_t port, uint16_t queue, struct dp_txq_counters c);
/* Hands the queued frames to the PMD; what it does not take stays queued
 * (q->n != 0 then: flush again soon rather than sleep). */
void dp_txq_flush(struct dp_txq *q);
/* The lcore is leaving: flushes until the queue is empty or DP_TXQ_DRAIN_US
 * have passed (the peer may be draining a full ring: the last ACKs and FINs
 * should go out), then frees what is left, counted as drops. */
#define DP_TXQ_DRAIN_US 10000
void dp_txq_drain(struct dp_txq *q);

#endif
