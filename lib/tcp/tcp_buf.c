/*
 * tcp_buf.c - per-connection receive and send bytes, in blocks taken on
 * demand from two per-core pools of fixed-size blocks.
 *
 * A connection holds a receive block only while the application has left
 * bytes unconsumed, and a send block only while bytes are unacknowledged; a
 * block goes back to its pool the moment it empties. Most requests are
 * consumed straight from the segment (zero copy) and most answers are
 * acknowledged within an RTT, so an idle keep-alive connection holds nothing
 * and the pools (conf.rx_bufs / conf.tx_bufs blocks, max_conns/4 by default)
 * bound the memory no matter how many connections are open.
 *
 * Each block is linear, bytes [0, len) in sequence order: consuming or
 * acknowledging a prefix moves the rest down. Blocks are a few KB and the
 * rest is usually empty, so the move is cheaper than the wrap-around
 * arithmetic a ring would need on every segment we build.
 *
 * When a pool is empty the caller counts drop_no_buf: received bytes that
 * cannot be kept are not acknowledged, so the peer sends them again.
 */
#include <stdlib.h>
#include <string.h>

#include "tcp_priv.h"

int tcp_pool_init(struct tcp_pool *p, uint32_t blk_size, uint32_t nblk)
{
	p->blk_size = blk_size;
	p->nblk = nblk;
	p->mem = malloc((size_t)blk_size * nblk);
	p->free = malloc((size_t)nblk * sizeof(*p->free));
	if (!p->mem || !p->free)
		return -1;
	/* Hand out low indices first: the touched memory stays compact. */
	for (uint32_t i = 0; i < nblk; i++)
		p->free[i] = nblk - 1 - i;
	p->nfree = nblk;
	return 0;
}

void tcp_pool_fini(struct tcp_pool *p)
{
	free(p->mem);
	free(p->free);
}

static uint32_t tcp_pool_get(struct tcp_pool *p)
{
	return p->nfree ? p->free[--p->nfree] : TCP_NIL;
}

static void tcp_pool_put(struct tcp_pool *p, uint32_t blk)
{
	p->free[p->nfree++] = blk;
}

static uint8_t *tcp_pool_at(const struct tcp_pool *p, uint32_t blk)
{
	return p->mem + (size_t)blk * p->blk_size;
}

uint8_t *tcp_rx_data(struct tcp_core *tc, const struct tcp_conn *c)
{
	return c->rx_blk == TCP_NIL ? NULL : tcp_pool_at(&tc->rxp, c->rx_blk);
}

uint8_t *tcp_tx_data(struct tcp_core *tc, const struct tcp_conn *c)
{
	return c->tx_blk == TCP_NIL ? NULL : tcp_pool_at(&tc->txp, c->tx_blk);
}

/* The window we advertise: free receive buffer, whether or not a block is held. */
uint32_t tcp_rcv_wnd(const struct tcp_core *tc, const struct tcp_conn *c)
{
	uint32_t w = tc->conf.rx_buf - c->rx_len;

	return w > TCP_MAX_WIN ? TCP_MAX_WIN : w;
}

/* Keeps n more received bytes; false (nothing kept) when no block is free.
 * The caller has limited n to the window, so it always fits. */
bool tcp_rx_append(struct tcp_core *tc, struct tcp_conn *c, const uint8_t *p, uint32_t n)
{
	if (c->rx_blk == TCP_NIL) {
		c->rx_blk = tcp_pool_get(&tc->rxp);
		if (c->rx_blk == TCP_NIL) {
			tc->st.drop_no_buf++;
			return false;
		}
	}
	memcpy(tcp_rx_data(tc, c) + c->rx_len, p, n);
	c->rx_len += n;
	return true;
}

/* The application consumed the first n buffered bytes. */
void tcp_rx_consume(struct tcp_core *tc, struct tcp_conn *c, uint32_t n)
{
	if (n >= c->rx_len) {
		c->rx_len = 0;
		if (c->rx_blk != TCP_NIL) {
			tcp_pool_put(&tc->rxp, c->rx_blk);
			c->rx_blk = TCP_NIL;
		}
		return;
	}
	uint8_t *b = tcp_rx_data(tc, c);

	memmove(b, b + n, c->rx_len - n);
	c->rx_len -= n;
}

/* Queues n bytes to send; false when no block is free (drop_no_buf counted). */
bool tcp_tx_append(struct tcp_core *tc, struct tcp_conn *c, const void *p, uint32_t n)
{
	if (c->tx_blk == TCP_NIL) {
		c->tx_blk = tcp_pool_get(&tc->txp);
		if (c->tx_blk == TCP_NIL) {
			tc->st.drop_no_buf++;
			return false;
		}
	}
	memcpy(tcp_tx_data(tc, c) + c->tx_len, p, n);
	c->tx_len += n;
	return true;
}

/* The peer acknowledged the first n queued bytes. */
void tcp_tx_acked(struct tcp_core *tc, struct tcp_conn *c, uint32_t n)
{
	if (n >= c->tx_len) {
		c->tx_len = 0;
		if (c->tx_blk != TCP_NIL) {
			tcp_pool_put(&tc->txp, c->tx_blk);
			c->tx_blk = TCP_NIL;
		}
		return;
	}
	uint8_t *b = tcp_tx_data(tc, c);

	memmove(b, b + n, c->tx_len - n);
	c->tx_len -= n;
}

/* Returns both blocks to their pools (connection freed or entering TIME_WAIT). */
void tcp_bufs_release(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_rx_consume(tc, c, c->rx_len);
	tcp_tx_acked(tc, c, c->tx_len);
}
