/*
 * tcp_buf.c - the bytes of a connection, both directions one ring type
 * (smoltcp's SocketBuffer: a ring with a read offset and a length), in blocks
 * taken on demand from two per-core pools of fixed-size blocks.
 *
 * A connection holds a receive block only while the application has left
 * bytes unconsumed, and a send block only while bytes are unacknowledged; a
 * block goes back to its pool the moment it empties. Most requests are
 * consumed straight from the segment (zero copy) and most answers are
 * acknowledged within an RTT, so an idle keep-alive connection holds nothing
 * and the pools (conf.rx_bufs / conf.tx_bufs blocks, max_conns/4 by default)
 * bound the memory no matter how many connections are open.
 *
 * The ring, with size = the pool's blk_size (conf.rx_buf or conf.tx_buf):
 *
 *   - r->len bytes are held, 0 <= len <= size, oldest first;
 *   - r->blk is a block of the pool exactly when len > 0, TCP_NIL otherwise;
 *   - the oldest byte sits at head = pool->head[blk], 0 <= head < size, and
 *     byte i (0 <= i < len) at (head + i) mod size: the held bytes run from
 *     head towards the block's end and go on from its start (they "wrap")
 *     when head + len > size;
 *   - a fresh block starts at head 0;
 *   - the receive ring never wraps (head + len <= size): see below.
 *
 * Bytes are written once, at the tail, and a partial read (the application
 * consumed a prefix) or a partial ACK only advances head (tcp_ring_drop):
 * nothing moves. Segments are cut from anywhere in the send ring, across the
 * wrap, by copying into the frame (tcp_ring_read_at), a copy every segment
 * needs anyway.
 *
 * The receive ring is read in place instead: on_data takes one span, which
 * the HTTP parser parses where it lies. So a receive append that would run
 * past the block's end first moves the held bytes to its start
 * (tcp_ring_write_flat), and the span then stays whole. What moves is what
 * the application left unconsumed (mostly the start of a request cut by a
 * segment boundary), once per block's worth of bytes received through one
 * buffered stretch, where the linear buffer this replaces moved it on every
 * partial read. (Letting it wrap and copying the whole span into a spare
 * block when it does copies the new bytes too: with pipelined requests cut
 * every 100 to 1000 bytes that cost 1.5% more instructions than the old
 * memmove, where moving the held bytes first costs 0.1% more to 0.4% less.)
 *
 * The head lives with the block in the pool, not in tcp_conn: it means
 * something only while a block is held, and keeping it there leaves the
 * connection at two cache lines and an idle one at two words per direction.
 *
 * When a pool is empty the caller counts drop_no_buf: received bytes that
 * cannot be kept are not acknowledged, so the peer sends them again.
 */
#include <stdlib.h>
#include <string.h>

#include "mem_table.h"
#include "tcp_priv.h"

int tcp_pool_init(struct tcp_pool *p, uint32_t blk_size, uint32_t nblk)
{
	p->blk_size = blk_size;
	p->nblk = nblk;
	/* Taken on use, so not populated: the resident size grows with the
	 * most blocks ever in use (README, "Memory"), in huge pages where the
	 * kernel gives them. */
	p->mem = mem_table_map((size_t)blk_size * nblk, false);
	p->free = malloc((size_t)nblk * sizeof(*p->free));
	p->head = calloc(nblk, sizeof(*p->head));
	if (!p->mem || !p->free || !p->head)
		return -1;
	/* Hand out low indices first: the touched memory stays compact. */
	for (uint32_t i = 0; i < nblk; i++)
		p->free[i] = nblk - 1 - i;
	p->nfree = nblk;
	return 0;
}

void tcp_pool_fini(struct tcp_pool *p)
{
	mem_table_unmap(p->mem, (size_t)p->blk_size * p->nblk);
	free(p->free);
	free(p->head);
}

/* The window we advertise: free receive buffer, whether or not a block is held. */
uint32_t tcp_rcv_wnd(const struct tcp_core *tc, const struct tcp_conn *c)
{
	uint32_t w = tc->conf.rx_buf - c->rx.len;

	return w > TCP_MAX_WIN ? TCP_MAX_WIN : w;
}

/* The two halves of a copy into (put) or out of (get: tcp_ring_read_at's,
 * in tcp_priv.h) a ring across its block's end, out of line so that the
 * usual copy, which does not cross it, is a single memcpy. */
static __attribute__((noinline)) void tcp_ring_put_wrapped(uint8_t *b, uint32_t at,
							   uint32_t size, const uint8_t *src,
							   uint32_t n)
{
	uint32_t first = size - at;

	memcpy(b + at, src, first);
	memcpy(b, src + first, n - first);
}

void tcp_ring_get_wrapped(const uint8_t *b, uint32_t at, uint32_t size, uint8_t *dst,
			  uint32_t n)
{
	uint32_t first = size - at;

	memcpy(dst, b + at, first);
	memcpy(dst + first, b, n - first);
}

/* Takes a fresh block for r (head 0); false when the pool is empty. */
static inline bool tcp_ring_take(struct tcp_pool *p, struct tcp_ring *r)
{
	if (!p->nfree)
		return false;
	r->blk = p->free[--p->nfree];
	p->head[r->blk] = 0;
	return true;
}

/*
 * Appends n bytes at the tail, wrapping past the block's end; false (nothing
 * kept) when r holds no block and the pool has none free. The caller has
 * checked that they fit (len + n <= size: tcp_send_space).
 */
bool tcp_ring_write(struct tcp_pool *p, struct tcp_ring *r, const void *src, uint32_t n)
{
	uint32_t tail = 0;

	if (!n)
		return true;
	if (r->blk == TCP_NIL) {
		if (!tcp_ring_take(p, r))
			return false;
	} else {
		tail = tcp_ring_pos(p, r, r->len);
	}
	uint8_t *b = tcp_pool_at(p, r->blk);

	r->len += n;
	if (n <= p->blk_size - tail)
		memcpy(b + tail, src, n);
	else
		tcp_ring_put_wrapped(b, tail, p->blk_size, src, n);
	return true;
}

/*
 * tcp_ring_write for a ring that never wraps (the receive ring): when the
 * n bytes would run past the block's end, the held ones move to its start
 * first. The caller has checked that they fit (len + n <= size: the window).
 */
bool tcp_ring_write_flat(struct tcp_pool *p, struct tcp_ring *r, const void *src, uint32_t n)
{
	uint32_t *head;
	uint8_t *b;

	if (!n)
		return true;
	if (r->blk == TCP_NIL && !tcp_ring_take(p, r))
		return false;
	b = tcp_pool_at(p, r->blk);
	head = &p->head[r->blk];
	if (*head + r->len + n > p->blk_size) {
		memmove(b, b + *head, r->len);
		*head = 0;
	}
	memcpy(b + *head + r->len, src, n);
	r->len += n;
	return true;
}

/* Forgets the n oldest bytes (read by the application, or acknowledged);
 * the block goes back to the pool when none are left. */
void tcp_ring_drop(struct tcp_pool *p, struct tcp_ring *r, uint32_t n)
{
	if (n >= r->len) {
		if (r->blk != TCP_NIL) {
			p->free[p->nfree++] = r->blk;
			r->blk = TCP_NIL;
		}
		r->len = 0;
		return;
	}
	uint32_t head = p->head[r->blk] + n;

	p->head[r->blk] = head >= p->blk_size ? head - p->blk_size : head;
	r->len -= n;
}

/* Returns both blocks to their pools (connection freed or entering TIME_WAIT). */
void tcp_bufs_release(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_ring_drop(&tc->rxp, &c->rx, c->rx.len);
	tcp_ring_drop(&tc->txp, &c->tx, c->tx.len);
}
