/*
 * dp_tx.c - struct net_tx on mbufs: how lib/ sends frames from a worker.
 *
 * alloc hands lib/ the data area of a fresh mbuf to build a frame in; send
 * appends the mbuf to the core's TX burst; the worker flushes the burst with
 * one rte_eth_tx_burst after each RX burst (and here when it is full), so a
 * burst of requests leaves in one PMD call (one sendto() on af_packet).
 * Frames the PMD does not take are freed and counted: TCP retransmits.
 */
#include <rte_ethdev.h>

#include "dp.h"

static uint8_t *dp_tx_alloc(void *ctx, void **handle)
{
	struct dp_lcore *lc = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);

	if (unlikely(m == NULL)) {
		lc->st.tx_nombuf++;
		return NULL;
	}
	*handle = m;
	return rte_pktmbuf_mtod(m, uint8_t *);
}

static void dp_tx_send(void *ctx, void *handle, uint32_t len)
{
	struct dp_lcore *lc = ctx;
	struct rte_mbuf *m = handle;

	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	lc->tx_pkts[lc->tx_n++] = m;
	if (unlikely(lc->tx_n == DP_TX_BURST))
		dp_tx_flush(lc);
}

static void dp_tx_discard(void *ctx, void *handle)
{
	(void)ctx;
	rte_pktmbuf_free(handle);
}

void dp_tx_init(struct dp_lcore *lc)
{
	lc->tx.alloc = dp_tx_alloc;
	lc->tx.send = dp_tx_send;
	lc->tx.discard = dp_tx_discard;
	lc->tx.ctx = lc;
	lc->tx_n = 0;
}

void dp_tx_flush(struct dp_lcore *lc)
{
	uint16_t n = lc->tx_n, sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(lc->port, lc->queue, lc->tx_pkts, n);
	lc->st.tx_pkts += sent;
	lc->st.tx_bursts++;
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(&lc->tx_pkts[sent], n - sent);
		lc->st.tx_drops += n - sent;
	}
	lc->tx_n = 0;
}
