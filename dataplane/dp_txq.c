/*
 * dp_txq.c - struct net_tx on mbufs (dp_txq.h).
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>

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
	if (unlikely(q->n == DP_TX_BACKLOG)) {
		dp_txq_flush(q);
		if (q->n == DP_TX_BACKLOG) {     /* the ring has been full for a while */
			rte_pktmbuf_free(m);
			(*q->c.drops)++;
			return;
		}
	}
	q->pkts[q->n++] = m;
	if (unlikely(q->n % DP_TX_BURST == 0))
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
	if (unlikely(sent < n)) {                /* the rest, in order, for next time */
		(*q->c.ring_full)++;
		if (sent != 0)
			memmove(q->pkts, &q->pkts[sent], (size_t)(n - sent) * sizeof(q->pkts[0]));
	}
	q->n = n - sent;
}

void dp_txq_drain(struct dp_txq *q)
{
	const uint64_t end = rte_get_timer_cycles() +
		rte_get_timer_hz() * DP_TXQ_DRAIN_US / 1000000;

	dp_txq_flush(q);
	while (q->n != 0 && rte_get_timer_cycles() < end) {
		rte_pause();
		dp_txq_flush(q);
	}
	if (q->n != 0) {
		rte_pktmbuf_free_bulk(q->pkts, q->n);
		*q->c.drops += q->n;
		q->n = 0;
	}
}
