/*
 * dp_txq.h - struct net_tx on mbufs and TX bursts: how lib/ sends frames
 * from a DPDK lcore (a seckill-dp worker, or a seckill-gen one).
 *
 * alloc hands lib/ the data area of a fresh mbuf to build a frame in; send
 * appends the mbuf to the queue's burst; the loop flushes the burst with one
 * rte_eth_tx_burst after each RX burst (and send does when it is full), so a
 * burst of answers leaves in one PMD call (one sendto() on af_packet).
 * Frames the PMD does not take are freed and counted: TCP retransmits.
 * The counters are the owner's (its per-lcore stats struct), so each program
 * prints them under its own names.
 */
#ifndef SECKILL_DP_TXQ_H
#define SECKILL_DP_TXQ_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "net_iface.h"

/* The TX burst array: an RX burst of 32 requests can produce more frames than 32
 * (ACK + answer), so it is twice the default burst and flushed when full. */
#define DP_TX_BURST 64

struct dp_txq_counters {
	uint64_t *pkts, *bursts, *drops, *nombuf;
};

struct dp_txq {
	struct rte_mempool *pool;
	uint16_t port, queue;
	uint16_t n;
	struct rte_mbuf *pkts[DP_TX_BURST];
	struct dp_txq_counters c;
};

/* Sets q up for (port, queue) and fills tx with q's callbacks. */
void dp_txq_init(struct dp_txq *q, struct net_tx *tx, struct rte_mempool *pool,
		 uint16_t port, uint16_t queue, struct dp_txq_counters c);
void dp_txq_flush(struct dp_txq *q);

#endif
