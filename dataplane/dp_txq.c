/*
 * dp_txq.c - struct net_tx on mbufs (dp_txq.h).
 */
#include <rte_ethdev.h>

#include "dp_txq.h"

static uint8_t *dp_txq_alloc(void *ctx, void **handle)
{
	struct dp_txq *q = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);

	if (unlikely(m == NULL)) {
		(*q->c.nombuf)++;
		return NULL;
	}
	*handle = m;
	return rte_pktmbuf_mtod(m, uint8_t *);
}

static void dp_txq_send(void *ctx, void *handle, uint32_t len)
{
	struct dp_txq *q = ctx;
	struct rte_mbuf *m = handle;

	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	q->pkts[q->n++] = m;
	if (unlikely(q->n == DP_TX_BURST))
		dp_txq_flush(q);
}

static void dp_txq_discard(void *ctx, void *handle)
{
	(void)ctx;
	rte_pktmbuf_free(handle);
}

void dp_txq_init(struct dp_txq *q, struct net_tx *tx, struct rte_mempool *pool,
		 uint16_t port, uint16_t queue, struct dp_txq_counters c)
{
	q->pool = pool;
	q->port = port;
	q->queue = queue;
	q->n = 0;
	q->c = c;
	tx->alloc = dp_txq_alloc;
	tx->send = dp_txq_send;
	tx->discard = dp_txq_discard;
	tx->ctx = q;
}

void dp_txq_flush(struct dp_txq *q)
{
	uint16_t n = q->n, sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(q->port, q->queue, q->pkts, n);
	*q->c.pkts += sent;
	(*q->c.bursts)++;
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(&q->pkts[sent], n - sent);
		*q->c.drops += n - sent;
	}
	q->n = 0;
}
