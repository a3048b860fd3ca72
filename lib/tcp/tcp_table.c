/*
 * tcp_table.c - the per-core connection table: a fixed array of tcp_conn,
 * found by peer address and port through a chained hash, with a free list.
 *
 * Our address and port are the same for every connection of a core, so the
 * key is the peer's (ip, port). The bucket index is SipHash-1-3 of it under a
 * per-core random key, so a peer choosing its source ports cannot pile its
 * connections into one chain. There are at least as many buckets as entries
 * (a power of two), so chains stay a couple of entries long. Chains and the
 * free list are 32-bit indices inside the entries: no pointer per entry, no
 * allocation after tcp_table_init.
 *
 * Policy when full (nginx's rule: every table has a size and a policy):
 *  - TIME_WAIT entries are TCP's own, kept only to absorb stray segments of
 *    a finished connection, so a new connection comes first: when no entry
 *    is free, a SYN handled statefully or the ACK completing a cookie takes
 *    the OLDEST TIME_WAIT entry (the one closest to expiry; counted in
 *    time_wait_recycled). They are kept in a FIFO in expiry order (tw_head
 *    oldest; a restarted TIME_WAIT moves to the tail), so that is O(1);
 *  - TIME_WAIT entries are also bounded by conf.max_time_wait, which
 *    tcp_core_create caps at half of max_conns: over it a connection
 *    entering TIME_WAIT is freed at once (time_wait_recycled), as Linux does
 *    when tcp_max_tw_buckets overflows. A table of live connections and
 *    TIME_WAIT thus never turns new clients away for the TIME_WAIT part;
 *  - with no free and no TIME_WAIT entry, a SYN is answered with a SYN
 *    cookie when the cookie mode allows it (AUTO or ALWAYS): a SYN alone,
 *    which anyone can forge, never costs a live connection. The ACK that
 *    completes a cookie (or, with cookies NEVER, the SYN) takes the entry of
 *    the connection that has been idle the longest, as nginx's
 *    ngx_drain_connections closes reusable keep-alive connections when
 *    worker_connections run out (evicted_idle, or evicted_head when it held
 *    an incomplete request; RST to its peer, on_closed EVICTED). Only when
 *    no connection may be taken is it dropped (drop_table_full); the
 *    client's retransmission may find room.
 *
 * Which connection is taken. Candidates are ESTABLISHED connections that owe
 * their peer nothing (tcp_conn_quiet): idle between requests, or holding an
 * incomplete request. A connection with an answer held (a sold order's 200
 * waiting to be durable), in flight or waiting for send space, is serving a
 * request the buyer already made; taking it would lose that answer, so it
 * is never a candidate. Among candidates, the one idle the longest:
 *  - an idle keep-alive connection costs its client nothing but a new
 *    handshake (RFC 9112 9.3.1: a client must be ready to retry a request
 *    on a kept-alive connection the server closed), and the longest idle is
 *    the least likely to be used again (LRU, as nginx drains from the end of
 *    its reusable queue);
 *  - an incomplete request ranks from its first byte, not its last: a
 *    slowloris that trickles a byte a second has been "idle" since its
 *    request began, so it goes before buyers that finished a request since;
 *  - a new connection that has not sent its first request ranks from its
 *    handshake.
 * The FIFO: every ESTABLISHED entry is linked (struct tcp_aux, beside the
 * entries, by index like the TIME_WAIT FIFO) and moves to the tail when it
 * becomes idle (its answer acknowledged: the timer's switch from RTX to
 * IDLE, once per request) or begins an incomplete request. A connection
 * busy meanwhile stays where it was; the search from the head moves the
 * busy ones it meets to the tail (their place no longer matters: they move
 * again when they become idle), so the first candidate it meets is the
 * longest idle, and the search is bounded (TCP_EVICT_SCAN) so that a table
 * of busy connections costs a newcomer a few dozen steps, not the table.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "siphash.h"
#include "tcp_priv.h"

/* Busy entries a search for a connection to evict moves past before it
 * gives up (drop_table_full): each attempt costs at most this many steps,
 * and since the busy ones go to the tail, a client's retransmission looks
 * at the next ones. */
#define TCP_EVICT_SCAN 64

/*
 * The bucket of (ip, port): SipHash-1-3 of the 6-byte key as one word. It
 * runs for every segment, where SipHash-2-4 was a visible share of a
 * keep-alive request (BENCHMARKS.md, "Where the cycles go", has the count);
 * 1-3 keeps a keyed PRF whose collisions a peer cannot find without the key,
 * unlike a keyed multiply whose collisions depend only on the difference of
 * two keys, which one timing-detected collision reveals.
 */
static uint32_t tcp_bucket(const struct tcp_core *tc, uint32_t ip, uint16_t port)
{
	return (uint32_t)siphash13_short(tc->hash_key, (uint64_t)port << 32 | ip, 6) &
	       tc->bucket_mask;
}

/* Allocates the entries and buckets and threads every entry on the free list. */
int tcp_table_init(struct tcp_core *tc)
{
	uint32_t n = tc->conf.max_conns, nb = 1;

	while (nb < n)
		nb <<= 1;
	tc->conns = calloc(n, sizeof(*tc->conns));
	tc->aux = calloc(n, sizeof(*tc->aux));
	tc->buckets = malloc((size_t)nb * sizeof(*tc->buckets));
	if (!tc->conns || !tc->aux || !tc->buckets)
		return -1;
	tc->bucket_mask = nb - 1;
	for (uint32_t i = 0; i < nb; i++)
		tc->buckets[i] = TCP_NIL;
	for (uint32_t i = 0; i < n; i++)
		tc->conns[i].hnext = i + 1 < n ? i + 1 : TCP_NIL;
	tc->free_head = 0;
	tc->tw_head = tc->tw_tail = TCP_NIL;
	tc->ev_head = tc->ev_tail = TCP_NIL;
	if (getrandom(tc->hash_key, sizeof(tc->hash_key), 0) != sizeof(tc->hash_key))
		return -1;
	return 0;
}

void tcp_table_fini(struct tcp_core *tc)
{
	free(tc->conns);
	free(tc->aux);
	free(tc->buckets);
}

struct tcp_conn *tcp_table_lookup(struct tcp_core *tc, uint32_t ip, uint16_t port)
{
	uint32_t i = tc->buckets[tcp_bucket(tc, ip, port)];

	while (i != TCP_NIL) {
		struct tcp_conn *c = &tc->conns[i];

		if (c->peer_ip == ip && c->peer_port == port)
			return c;
		i = c->hnext;
	}
	return NULL;
}

/* Whether tcp_table_alloc would find an entry (free, or TIME_WAIT to recycle). */
bool tcp_table_has_room(const struct tcp_core *tc)
{
	return tc->free_head != TCP_NIL || tc->tw_head != TCP_NIL;
}

/* Puts c (entering or restarting TIME_WAIT) at the tail: it expires last. */
void tcp_tw_append(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t idx = tcp_conn_idx(tc, c);

	c->tw_next = TCP_NIL;
	c->tw_prev = tc->tw_tail;
	if (tc->tw_tail != TCP_NIL)
		tc->conns[tc->tw_tail].tw_next = idx;
	else
		tc->tw_head = idx;
	tc->tw_tail = idx;
}

/* Takes c, which is in TIME_WAIT, off the FIFO. */
void tcp_tw_remove(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->tw_prev != TCP_NIL)
		tc->conns[c->tw_prev].tw_next = c->tw_next;
	else
		tc->tw_head = c->tw_next;
	if (c->tw_next != TCP_NIL)
		tc->conns[c->tw_next].tw_prev = c->tw_prev;
	else
		tc->tw_tail = c->tw_prev;
	c->tw_next = c->tw_prev = TCP_NIL;
}

/* Links c, which enters ESTABLISHED, at the tail of the eviction FIFO. */
void tcp_evq_append(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t idx = tcp_conn_idx(tc, c);
	struct tcp_aux *a = &tc->aux[idx];

	a->ev_next = TCP_NIL;
	a->ev_prev = tc->ev_tail;
	if (tc->ev_tail != TCP_NIL)
		tc->aux[tc->ev_tail].ev_next = idx;
	else
		tc->ev_head = idx;
	tc->ev_tail = idx;
}

/* Takes c, which leaves ESTABLISHED, off the eviction FIFO. */
void tcp_evq_remove(struct tcp_core *tc, struct tcp_conn *c)
{
	struct tcp_aux *a = &tc->aux[tcp_conn_idx(tc, c)];

	if (a->ev_prev != TCP_NIL)
		tc->aux[a->ev_prev].ev_next = a->ev_next;
	else
		tc->ev_head = a->ev_next;
	if (a->ev_next != TCP_NIL)
		tc->aux[a->ev_next].ev_prev = a->ev_prev;
	else
		tc->ev_tail = a->ev_prev;
	a->ev_next = a->ev_prev = TCP_NIL;
}

void tcp_evq_move_tail(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_evq_remove(tc, c);
	tcp_evq_append(tc, c);
}

/*
 * The table is full: frees the connection idle the longest, if any may be
 * taken (the policy above), for a new one; false when none may.
 */
static bool tcp_evict(struct tcp_core *tc)
{
	for (uint32_t n = 0; n < TCP_EVICT_SCAN && tc->ev_head != TCP_NIL; n++) {
		struct tcp_conn *c = &tc->conns[tc->ev_head];

		if (!tcp_conn_quiet(c)) {
			tcp_evq_move_tail(tc, c);       /* busy: its place does not matter */
			continue;
		}
		if (c->rx.len)
			tc->st.evicted_head++;
		else
			tc->st.evicted_idle++;
		tcp_out_rst(tc, c);
		tcp_conn_free(tc, c, TCP_CLOSE_EVICTED);
		return true;
	}
	return false;
}

/*
 * Takes an entry, zeroed, keyed and hashed: a free one, else the oldest
 * TIME_WAIT entry, else (server) the longest idle connection's (see the
 * policy above); NULL when there is none of these.
 */
struct tcp_conn *tcp_table_alloc(struct tcp_core *tc, uint32_t ip, uint16_t port)
{
	uint32_t i = tc->free_head, b;
	struct tcp_conn *c;

	if (i == TCP_NIL) {
		if (tc->tw_head != TCP_NIL) {
			tc->st.time_wait_recycled++;
			tcp_conn_free(tc, &tc->conns[tc->tw_head], TCP_CLOSE_NORMAL);
		} else if (tc->conf.client || !tcp_evict(tc)) {
			return NULL;            /* a client never drops its own connections */
		}
		i = tc->free_head;
	}
	c = &tc->conns[i];
	tc->free_head = c->hnext;
	memset(c, 0, sizeof(*c));
	c->peer_ip = ip;
	c->peer_port = port;
	c->rx.blk = c->tx.blk = TCP_NIL;
	c->tm_next = c->tm_prev = TCP_NIL;
	c->tm_slot = TCP_NIL;
	b = tcp_bucket(tc, ip, port);
	c->hnext = tc->buckets[b];
	tc->buckets[b] = i;
	tc->nconns++;
	return c;
}

/* Unhashes c and puts it back on the free list; its timer and buffers must
 * already be released (tcp_conn_free does that). */
void tcp_table_release(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t idx = tcp_conn_idx(tc, c);
	uint32_t *link = &tc->buckets[tcp_bucket(tc, c->peer_ip, c->peer_port)];

	while (*link != idx)
		link = &tc->conns[*link].hnext;
	*link = c->hnext;
	c->state = TCP_S_FREE;
	c->hnext = tc->free_head;
	tc->free_head = idx;
	tc->nconns--;
}
