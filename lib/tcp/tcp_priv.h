/*
 * tcp_priv.h - the per-core TCP state and the functions the lib/tcp files
 * share (lwIP's tcp_priv.h). Not for use outside lib/tcp.
 *
 * A tcp_core is everything one worker core needs: its configuration, the
 * connection array with its hash table and free list (tcp_table.c), the timer
 * wheel (tcp_timer.c), the two buffer pools (tcp_buf.c) and its counters. It is
 * allocated once by tcp_core_create; nothing is allocated afterwards.
 */
#ifndef SECKILL_TCP_PRIV_H
#define SECKILL_TCP_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tcp.h"
#include "tcp_conn.h"

/* Timer wheel: 1 ms ticks, 4096 slots, so a turn is 4.1 s. Longer timers
 * (idle 30 s) stay in their slot for several turns and are skipped by a
 * compare; with 16K connections that is a handful of compares per tick. */
#define TCP_TICK_MS      1
#define TCP_WHEEL_SLOTS  4096u
#define TCP_WHEEL_MASK   (TCP_WHEEL_SLOTS - 1)
/* tm_slot of an entry moved to the list tcp_timers_run is working through */
#define TCP_SLOT_RUNNING TCP_WHEEL_SLOTS

/* RFC 9293 3.7.1: the MSS to assume when the SYN carries none. */
#define TCP_DEFAULT_PEER_MSS 536
/* The smallest MSS we send with, whatever the peer says: a peer announcing
 * MSS 1 would have us cut an answer into a segment per byte. 48 is Linux's
 * net.ipv4.tcp_min_snd_mss default (CVE-2019-11479): like Linux we honour
 * any announced MSS down to it (RFC 9293 3.7.1: never send more than the
 * peer's MSS) and raise only those below. */
#define TCP_MIN_SND_MSS 48
/* The smallest MSS we announce (conf.mss): Linux's TCP_MIN_MSS, the least
 * setsockopt(TCP_MAXSEG) accepts. */
#define TCP_MIN_MSS 88
/* RFC 6298 5.7: when the SYN(-ACK) had to be resent and no RTT was measured,
 * data starts with an RTO of at least 3 s. */
#define TCP_RTO_AFTER_SYN_LOSS_MS 3000
/* Without window scaling the window field says at most this. */
#define TCP_MAX_WIN 65535u
/* The option we announce: kind 2, length 4, MSS. */
#define TCP_MSS_OPT_LEN 4

/* A fixed-size block pool holding the rings of one direction (tcp_buf.c). */
struct tcp_pool {
	uint8_t  *mem;           /* nblk blocks of blk_size bytes */
	uint32_t *free;          /* stack of free block indices */
	uint32_t *head;          /* per block: offset of its ring's oldest byte */
	uint32_t  blk_size, nblk, nfree;
};

/*
 * Per-connection fields kept out of struct tcp_conn, which is full at two
 * cache lines: touched when a connection is established or freed, becomes
 * idle or starts a request (at most once a request, and not at all while it
 * stays the last to have done so), or stalls. Indexed like conns.
 */
struct tcp_aux {
	uint32_t ev_next, ev_prev;   /* the eviction FIFO (tcp_table.c), oldest first */
	uint32_t stall_ms;           /* RTX: since when the peer took none of our bytes */
};

struct tcp_core {
	struct tcp_conf conf;
	struct net_iface ifc;
	struct net_tx tx;
	struct tcp_app app;
	struct tcp_stats st;

	uint64_t now_us;
	uint32_t now_ms;         /* now_us / 1000, truncated to 32 bits */
	bool     clock_set;
	uint32_t wheel_ms;       /* last tick tcp_timers_run has processed */
	uint32_t wheel[TCP_WHEEL_SLOTS];
	uint32_t tm_running;     /* head of the list being fired */

	struct tcp_conn *conns;  /* conf.max_conns entries */
	uint32_t *buckets;       /* hash heads, power of two >= max_conns */
	uint32_t  bucket_mask;
	uint32_t  free_head;
	uint32_t  tw_head, tw_tail; /* TIME_WAIT entries, oldest (first to expire) first */
	struct tcp_aux *aux;     /* conf.max_conns entries, beside conns */
	uint32_t  ev_head, ev_tail; /* ESTABLISHED entries, the longest idle first */
	uint64_t  hash_key[2];   /* random: a peer cannot aim at one chain */

	struct tcp_pool rxp, txp;

	uint32_t n_state[TCP_S_COUNT];
	uint32_t nconns;

	/* The connection tcp_input is working on; NULL once the application
	 * aborted it from a callback, which tells tcp_input to stop. */
	struct tcp_conn *cur;

	uint32_t chal_sec;       /* second the challenge ACK budget belongs to */
	uint32_t chal_count;
	uint32_t cookie_ms;      /* when we last sent a cookie */
	bool     cookie_sent;
	uint16_t mss_cap;        /* ifc.mtu - IP and TCP headers */

	/* Connections whose application stopped for want of a send block
	 * (tcp_wait_space), oldest first: offered their bytes again as blocks
	 * come free (tcp_space_waiters_run). Indices into conns. */
	uint32_t *waiters;
	uint32_t wait_head, nwait;
	/* Delayed ACKs (tcp_hold.c): connections owing an ACK that a held answer
	 * may carry, with the tick it is due by; oldest first (one delay for
	 * all), a ring of max_conns entries. */
	uint32_t *dl_conn, *dl_due;
	uint32_t dl_head, dl_n;
};

/* A parsed incoming segment. */
struct tcp_seg {
	const struct eth_hdr *eh;
	const struct ipv4_hdr *ih;
	const struct tcp_hdr *th;
	const uint8_t *data;     /* payload */
	uint32_t len;            /* payload bytes */
	uint32_t seq, ack;       /* host order */
	uint16_t wnd;
	uint16_t peer_mss;       /* MSS option, 0 when absent */
	uint8_t  flags;
};

/* Sequence space the segment occupies: payload plus SYN and FIN. */
static inline uint32_t tcp_seg_seqlen(const struct tcp_seg *s)
{
	return s->len + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
}

static inline uint32_t tcp_conn_idx(const struct tcp_core *tc, const struct tcp_conn *c)
{
	return (uint32_t)(c - tc->conns);
}

/* c owes its peer nothing: nothing queued or in flight, no answer held, no
 * send block awaited, not closing (tcp.h, "Requests"). */
static inline bool tcp_conn_quiet(const struct tcp_conn *c)
{
	return c->tx.len == 0 && c->snd_max == c->snd_una &&
	       !(c->flags & (TCP_F_HOLD | TCP_F_WAIT_BUF | TCP_F_CLOSE_REQ | TCP_F_DYING));
}

/* The receive ring holds an incomplete request the peer owes us: its
 * deadline runs from head_ms (conf.header_timeout_ms). */
static inline bool tcp_head_pending(const struct tcp_conn *c)
{
	return c->state == TCP_S_ESTABLISHED && c->rx.len != 0 && tcp_conn_quiet(c);
}

/* tcp_core.c */
void tcp_set_state(struct tcp_core *tc, struct tcp_conn *c, enum tcp_state s);
void tcp_conn_free(struct tcp_core *tc, struct tcp_conn *c, enum tcp_close_reason why);
bool tcp_admit(struct tcp_core *tc, struct tcp_conn *c);
enum tcp_admit_verdict tcp_admit_peer(struct tcp_core *tc, uint32_t ip);
void tcp_admit_mark(struct tcp_conn *c, enum tcp_admit_verdict v);
void tcp_admit_cancel(struct tcp_core *tc, uint32_t ip, enum tcp_admit_verdict v);
void tcp_enter_time_wait(struct tcp_core *tc, struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_core *tc, struct tcp_conn *c, uint32_t rtt_ms);

/* tcp_table.c */
int  tcp_table_init(struct tcp_core *tc);
void tcp_table_fini(struct tcp_core *tc);
struct tcp_conn *tcp_table_lookup(struct tcp_core *tc, uint32_t ip, uint16_t port);
struct tcp_conn *tcp_table_alloc(struct tcp_core *tc, uint32_t ip, uint16_t port);
void tcp_table_release(struct tcp_core *tc, struct tcp_conn *c);
bool tcp_table_has_room(const struct tcp_core *tc);
void tcp_tw_append(struct tcp_core *tc, struct tcp_conn *c);
void tcp_tw_remove(struct tcp_core *tc, struct tcp_conn *c);
void tcp_evq_append(struct tcp_core *tc, struct tcp_conn *c);
void tcp_evq_remove(struct tcp_core *tc, struct tcp_conn *c);
void tcp_evq_move_tail(struct tcp_core *tc, struct tcp_conn *c);

/* c (ESTABLISHED) just became idle or began a request: it goes to the tail
 * of the eviction FIFO. Once per request; at the tail already (one busy
 * connection, or the last to finish) it costs a compare. */
static inline void tcp_evq_touch(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->state == TCP_S_ESTABLISHED && tcp_conn_idx(tc, c) != tc->ev_tail)
		tcp_evq_move_tail(tc, c);
}

/* tcp_timer.c */
void tcp_timer_init(struct tcp_core *tc);
void tcp_timer_arm(struct tcp_core *tc, struct tcp_conn *c, uint32_t due_ms,
		   enum tcp_timer_kind kind);
void tcp_timer_cancel(struct tcp_core *tc, struct tcp_conn *c);
void tcp_timer_update(struct tcp_core *tc, struct tcp_conn *c, bool restart_rtx);
void tcp_timer_request(struct tcp_core *tc, struct tcp_conn *c);

/* tcp_buf.c */
int  tcp_pool_init(struct tcp_pool *p, uint32_t blk_size, uint32_t nblk);
void tcp_pool_fini(struct tcp_pool *p);
bool tcp_ring_write(struct tcp_pool *p, struct tcp_ring *r, const void *src, uint32_t n);
bool tcp_ring_write_flat(struct tcp_pool *p, struct tcp_ring *r, const void *src, uint32_t n);
void tcp_ring_drop(struct tcp_pool *p, struct tcp_ring *r, uint32_t n);
void tcp_ring_get_wrapped(const uint8_t *b, uint32_t at, uint32_t size, uint8_t *dst,
			  uint32_t n);
void tcp_bufs_release(struct tcp_core *tc, struct tcp_conn *c);
uint32_t tcp_rcv_wnd(const struct tcp_core *tc, const struct tcp_conn *c);

/* Per-segment ring access, inline (tcp_buf.c states the ring's invariants). */
static inline uint8_t *tcp_pool_at(const struct tcp_pool *p, uint32_t blk)
{
	return p->mem + (size_t)blk * p->blk_size;
}

/* Where byte off (0 <= off <= len) of r sits in its block. */
static inline uint32_t tcp_ring_pos(const struct tcp_pool *p, const struct tcp_ring *r,
				    uint32_t off)
{
	uint32_t at = p->head[r->blk] + off;

	return at >= p->blk_size ? at - p->blk_size : at;
}

/* Copies the n bytes starting off bytes after the oldest into dst
 * (off + n <= len); r is unchanged. */
static inline void tcp_ring_read_at(const struct tcp_pool *p, const struct tcp_ring *r,
				    uint32_t off, uint8_t *dst, uint32_t n)
{
	const uint8_t *b = tcp_pool_at(p, r->blk);
	uint32_t at = tcp_ring_pos(p, r, off);

	if (n <= p->blk_size - at)
		memcpy(dst, b + at, n);
	else
		tcp_ring_get_wrapped(b, at, p->blk_size, dst, n);
}

/* The held bytes of a ring that never wraps (the receive ring), as one
 * span (len > 0). */
static inline const uint8_t *tcp_ring_flat(const struct tcp_pool *p, const struct tcp_ring *r)
{
	return tcp_pool_at(p, r->blk) + p->head[r->blk];
}

/* tcp_output.c */
bool tcp_out_seg(struct tcp_core *tc, const uint8_t mac[NET_ETH_ALEN], uint32_t ip,
		 uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		 uint16_t mss_opt, const uint8_t *data, uint32_t len);
void tcp_out_reset_reply(struct tcp_core *tc, const struct tcp_seg *s);
void tcp_out_synack(struct tcp_core *tc, struct tcp_conn *c);
void tcp_out_ack(struct tcp_core *tc, struct tcp_conn *c);
void tcp_out_rst(struct tcp_core *tc, struct tcp_conn *c);
void tcp_output(struct tcp_core *tc, struct tcp_conn *c);
void tcp_out_retransmit(struct tcp_core *tc, struct tcp_conn *c);
uint16_t tcp_initial_cwnd(uint16_t mss);
void tcp_cwnd_acked(struct tcp_conn *c, uint32_t n);
bool tcp_out_challenge_ack(struct tcp_core *tc, struct tcp_conn *c);

/* tcp_syncookie.c */
uint32_t tcp_cookie_make(struct tcp_core *tc, const struct tcp_seg *s, uint16_t *mss);
bool tcp_cookie_check(struct tcp_core *tc, const struct tcp_seg *s, uint16_t *mss);
uint32_t tcp_isn(const struct tcp_core *tc, const struct tcp_seg *s);

/* tcp_input.c: bytes delivery shared with tcp_core.c */
void tcp_rx_offer(struct tcp_core *tc, struct tcp_conn *c);
void tcp_head_start(struct tcp_core *tc, struct tcp_conn *c);
void tcp_space_waiters_run(struct tcp_core *tc);
/* Sends the pure ACKs whose delay ran out (tcp_hold.c). */
void tcp_delack_run(struct tcp_core *tc);

#endif
