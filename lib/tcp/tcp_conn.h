/*
 * tcp_conn.h - one connection's state (lwIP's tcp_pcb, trimmed to a server).
 *
 * Internal to lib/tcp. Everything a connection needs lives in this one struct,
 * kept small (128 bytes, two cache lines) because a core holds tens of thousands of them:
 * sequence variables of RFC 9293 section 3.3.1 (plus BSD's snd_max, the
 * highest sequence number ever sent, which go-back-N retransmission needs),
 * a congestion window, the peer's address, the hook
 * of its single timer in the core's wheel, its hash chain link, and a receive
 * and a send ring (struct tcp_ring: a buffer block, TCP_NIL when it holds
 * none, which is the case for every idle keep-alive connection, and a length).
 *
 * Sequence numbers are compared modulo 2^32 with the seq_* helpers; times are
 * milliseconds of the core clock truncated to 32 bits and compared the same way
 * (wraps after 49 days, far beyond any timer we arm).
 */
#ifndef SECKILL_TCP_CONN_H
#define SECKILL_TCP_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "net_hdr.h"

#define TCP_NIL UINT32_MAX

/* RFC 9293 section 3.3.2 (SYN_SENT only in client mode; no LISTEN entry). */
enum tcp_state {
	TCP_S_FREE = 0,          /* entry on the free list */
	TCP_S_SYN_RCVD,
	TCP_S_ESTABLISHED,
	TCP_S_CLOSE_WAIT,
	TCP_S_LAST_ACK,
	TCP_S_FIN_WAIT_1,
	TCP_S_FIN_WAIT_2,
	TCP_S_CLOSING,
	TCP_S_TIME_WAIT,
	TCP_S_SYN_SENT,          /* client mode: our SYN is out */
	TCP_S_COUNT
};

/* What the connection's one timer is waiting for; set with the due time. */
enum tcp_timer_kind {
	TCP_TM_NONE = 0,
	TCP_TM_SYNACK,           /* SYN-ACK (SYN in SYN_SENT) retransmission, then give up */
	TCP_TM_RTX,              /* data/FIN retransmission or zero-window probe */
	TCP_TM_IDLE,             /* nothing in flight: idle timeout (checked lazily) */
	TCP_TM_FIN,              /* FIN_WAIT_2: the peer's FIN is overdue */
	TCP_TM_TIME_WAIT,        /* TIME_WAIT expiry */
};

/* flags */
#define TCP_F_APP        0x0001  /* reached ESTABLISHED: the application knows c */
#define TCP_F_CLOSE_REQ  0x0002  /* tcp_close called: FIN goes after queued data */
#define TCP_F_ACK_NOW    0x0004  /* an ACK is owed to the peer */
#define TCP_F_PEER_FIN   0x0008  /* the peer's FIN was received in order */
#define TCP_F_RTT        0x0010  /* rtt_seq/rtt_ts time a segment (Karn: never a resent one) */
#define TCP_F_DYING      0x0020  /* on_closed running: application calls are no-ops */
#define TCP_F_SPACE      0x0040  /* an ACK freed send space: re-offer buffered bytes */
#define TCP_F_DEADLINE   0x0080  /* deadline_ms bounds the current state (fin_timeout) */
#define TCP_F_FIN_ACKED  0x0100  /* the peer acknowledged our FIN */
#define TCP_F_HOLD       0x0200  /* tcp_hold: nothing new is sent until tcp_release */
#define TCP_F_WAIT_BUF   0x0400  /* in the core's waiters: wants a send block (tcp_wait_space) */
#define TCP_F_RCVD       0x0800  /* a data byte was taken: the first request has begun */
#define TCP_F_ACK_LATER  0x1000  /* an ACK is owed, delayed: in the core's delayed-ACK
				  * ring (tcp_hold.c); any segment we send carries it */
#define TCP_F_ADMITTED   0x4000  /* conf.admit was asked and let it in (a cookie's
				  * ACK asks before the entry is taken) */
#define TCP_F_COUNTED    0x8000  /* conf.admit counted it: release once when finished
				  * (the top bits, clear of flags added below them) */

/*
 * The bytes of one direction: a ring in a block of the core's pool for that
 * direction (tcp_buf.c, which states its invariants). The block is held
 * exactly while len > 0; the ring's read offset is kept with the block, in
 * the pool, so an idle connection's ring is these two words.
 */
struct tcp_ring {
	uint32_t blk;            /* pool block index, TCP_NIL when len == 0 */
	uint32_t len;            /* bytes held, oldest first */
};

struct tcp_conn {
	uint32_t peer_ip;        /* network order */
	uint16_t peer_port;      /* network order; client mode: our local port (the key) */
	uint8_t  state;          /* enum tcp_state */
	uint8_t  tm_kind;        /* enum tcp_timer_kind */
	uint16_t flags;
	uint8_t  retries;        /* consecutive retransmissions of the oldest segment */
	uint8_t  peer_mac[NET_ETH_ALEN];
	uint16_t mss;            /* largest segment we send: min(peer's MSS, our MTU) */
	uint16_t snd_wnd;        /* peer's window (no scaling, so 16 bits suffice) */
	uint16_t cwnd;           /* congestion window, bytes (RFC 5681; never above
				  * TCP_MAX_WIN, which no peer window exceeds) */

	uint32_t hnext;          /* hash chain, or the free list when FREE */
	uint32_t tm_next, tm_prev, tm_slot; /* timer wheel links (indices) */
	uint32_t tm_due;         /* ms: when the timer of tm_kind is due */
	uint32_t tm_at;          /* ms: the wheel tick it sits at, never past tm_due's */

	/* snd_nxt is where the next segment starts: below snd_max after a
	 * retransmission timeout pulled it back to snd_una (go-back-N). */
	uint32_t snd_una, snd_nxt, snd_wl1, snd_wl2;
	uint32_t snd_max, rcv_nxt;  /* (SYN_RCVD needs no IRS field: it is rcv_nxt - 1) */

	struct tcp_ring rx;      /* received bytes the application has not consumed */
	struct tcp_ring tx;      /* bytes from snd_una not yet acknowledged (sent or not) */

	uint32_t rto_ms;
	uint32_t srtt8, rttvar4; /* RFC 6298 estimators, scaled by 8 and 4, in ms */
	union {
		struct {                 /* live connection: the segment being timed */
			uint32_t rtt_seq, rtt_ts;
		};
		struct {                 /* TIME_WAIT: links of the core's FIFO (oldest first) */
			uint32_t tw_next, tw_prev;
		};
	};
	uint32_t last_rx_ms;     /* last segment carrying data or FIN: idle timeout base */
	union {
		uint32_t deadline_ms;    /* fin_timeout end when TCP_F_DEADLINE (closing states) */
		uint32_t head_ms;        /* ESTABLISHED: when the incomplete request the receive
					  * ring holds began (tcp_head_pending) */
	};
	uint32_t hold_ticket;    /* TCP_F_HOLD: the application's ticket (tcp_hold) */

	uint64_t app;            /* tcp_conn_app */
};

_Static_assert(sizeof(struct tcp_conn) <= 128, "tcp_conn grew past two cache lines");

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* Whether the FIN we queued has been sent: snd_max went one past the data. */
static inline bool tcp_fin_sent(const struct tcp_conn *c)
{
	return (c->flags & TCP_F_CLOSE_REQ) && c->snd_max - c->snd_una == c->tx.len + 1;
}

#endif
