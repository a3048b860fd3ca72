/*
 * tcp.h - a small server-side TCP for one polled core.
 *
 * One tcp_core per worker core owns a fixed-capacity connection table, a timer
 * wheel and the per-connection buffers; nothing in it is shared, so nothing in
 * it is locked. The dataplane feeds it IPv4 segments addressed to us
 * (tcp_input), advances its clock once per burst (tcp_set_now) and runs its
 * timers (tcp_timers_run). Segments go out through the net_tx given at create.
 *
 * The application sees in-order bytes through tcp_app.on_data, straight from
 * the segment when nothing is buffered (zero copy), and answers with tcp_send.
 * Whatever on_data does not consume stays in the connection's receive buffer
 * (whose free space is the window we advertise) and is handed again, followed
 * by newer bytes, on the next delivery, including when ACKs free send space.
 *
 * Requests, deadlines and a full table (nginx's client_header_timeout,
 * send_timeout and ngx_drain_connections). TCP knows what an application
 * request is without asking: on_data consumes a request whole or not at all
 * (lib/http does), so bytes left unconsumed while c has nothing to send and
 * waits for no send block (tcp_wait_space) are an incomplete request, and a
 * connection with no such bytes and nothing to send is idle between requests.
 * An incomplete request must be complete within header_timeout_ms of its
 * first byte, whatever trickles in meanwhile; a new connection must send the
 * first byte of its first request within first_request_timeout_ms; a peer
 * that takes none of our bytes for send_timeout_ms is reset. A connection
 * whose answer is held (tcp_hold) owes nothing: no request deadline applies.
 * When the table is full, a new connection takes the entry of the connection
 * idle or incomplete the longest (tcp_table.c says why that one); a
 * connection with an answer held, in flight or waiting for space is never
 * taken. Each such end is counted (timeout_*, evicted_*) and on_closed says
 * why (EVICTED, DEADLINE, SEND_TIMEOUT).
 *
 * Behaviour follows RFC 9293 (segment arrival rules), RFC 5961 (challenge ACKs
 * for in-window RST and SYN), RFC 6298 (RTO with exponential back-off) and
 * RFC 4987 (SYN cookies).
 *
 * Client mode (conf.client, for the load generator): the core opens
 * connections with tcp_connect to one server port (conf.listen_port then
 * names the server's port) from local ports the caller picks, and keys them
 * by (server address, local port); everything after the handshake is the
 * same code as the server's.
 */
#ifndef SECKILL_TCP_H
#define SECKILL_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "net_hdr.h"
#include "net_iface.h"
#include "stats.h"

struct tcp_core;
struct tcp_conn;

enum tcp_cookie_mode {
	TCP_COOKIES_AUTO = 0,    /* stateful until syn_backlog half-open entries, then cookies */
	TCP_COOKIES_ALWAYS,      /* never keep state for a SYN */
	TCP_COOKIES_NEVER,       /* always stateful; SYNs over the backlog are dropped */
};

/*
 * Admission (nginx's limit_conn): asked once per connection, when its
 * handshake completes (the ACK of our SYN-ACK, or the ACK that brings back a
 * cookie, before that takes an entry: on a full table it would evict), with
 * the peer's address. lib/tcp knows when a connection starts
 * and when it is finished, but how many one address may hold is a policy
 * shared by every core (RSS spreads one address's flows over them), so it
 * lives above: the dataplane wires this hook to lib/sale's lim_conn table.
 * lib/tcp stays free of shared state and of lib/sale. Left NULL (the
 * default), every connection is let in and nothing is called. Like the
 * application's callbacks, release is not called by tcp_core_destroy.
 */
enum tcp_admit_verdict {
	TCP_ADMIT_REFUSE = 0,        /* answer the ACK with RST, forget the entry, count
				      * drop_ip_conns */
	TCP_ADMIT_PASS,              /* let it in; nothing to release */
	TCP_ADMIT_COUNTED,           /* let it in; release(peer_ip) once when it is
				      * finished: freed on any path, or entering TIME_WAIT
				      * (the entry is TCP's own then, as nginx's kernel's is) */
};

struct tcp_admit {
	enum tcp_admit_verdict (*admit)(void *ctx, uint32_t peer_ip);   /* network order */
	void (*release)(void *ctx, uint32_t peer_ip);
	void *ctx;
};

struct tcp_conf {
	uint32_t max_conns;          /* connection table capacity of this core */
	uint32_t syn_backlog;        /* half-open (SYN_RCVD) entries allowed before cookies */
	enum tcp_cookie_mode cookies;
	uint16_t listen_port;        /* host order; SYNs to other ports get RST */
	uint16_t mss;                /* MSS we announce; we never send more than the peer's */
	uint32_t rx_buf;             /* bytes buffered per connection; the largest window */
	uint32_t tx_buf;             /* unacknowledged bytes kept per connection */
	uint32_t rto_init_ms;        /* first RTO (SYN-ACK and data), RFC 6298 says 1 s */
	uint32_t rto_min_ms;
	uint32_t rto_max_ms;
	uint8_t  syn_retries;        /* SYN-ACK retransmissions before giving up */
	uint8_t  data_retries;       /* data/FIN retransmissions before giving up */
	uint32_t idle_timeout_ms;    /* ESTABLISHED with nothing in flight and no bytes in */
	uint32_t fin_timeout_ms;     /* FIN_WAIT_2 / CLOSING / LAST_ACK waiting on the peer */
	uint32_t time_wait_ms;       /* how long TIME_WAIT is held (2*MSL, kept short) */
	uint32_t max_time_wait;      /* TIME_WAIT entries kept at most; over it they are freed
	                              * (capped at max_conns / 2 by tcp_core_create) */
	uint64_t cookie_key[2];      /* SipHash key for SYN cookies; random per process */
	/* Added after the first draft of this header: */
	uint32_t rx_bufs;            /* receive buffer blocks of rx_buf bytes; 0: max_conns/4 */
	uint32_t tx_bufs;            /* send buffer blocks of tx_buf bytes; 0: max_conns/4 */
	uint32_t challenge_ack_limit;/* RFC 5961 challenge ACKs per second per core */
	bool client;                 /* active opener (tcp_connect); listen_port is the server's */
	struct tcp_admit admit;      /* server only; admit NULL: everyone is let in */
	/* Deadlines on what a peer owes us (tcp_timer.c; 0: off). What a request
	 * is to TCP: "Requests, deadlines and a full table" at the top. */
	uint32_t first_request_timeout_ms; /* no byte of a first request this long after
	                                    * the handshake: reset */
	uint32_t header_timeout_ms;  /* a request not complete this long after its first
	                              * byte (nginx's client_header_timeout): reset */
	uint32_t send_timeout_ms;    /* the peer took none of our bytes (no ACK, or a zero
	                              * window) this long (nginx's send_timeout): reset */
	uint32_t delack_ms;          /* a request whose answer is held (tcp_hold) is ACKed
	                              * by that answer if it leaves within this long, else
	                              * by a pure ACK then (RFC 1122 4.2.3.2); 0: at once */
};

/* Fills in the defaults documented in README.md. */
void tcp_conf_default(struct tcp_conf *conf);
/* NULL when the configuration is usable, else a message naming the bad value. */
const char *tcp_conf_check(const struct tcp_conf *conf);

enum tcp_close_reason {
	TCP_CLOSE_NORMAL = 0,        /* FIN exchange completed */
	TCP_CLOSE_RESET,             /* peer sent an acceptable RST */
	TCP_CLOSE_RETRANS,           /* retransmissions exhausted */
	TCP_CLOSE_IDLE,              /* idle or half-open timeout */
	TCP_CLOSE_ABORT,             /* the application called tcp_abort */
	TCP_CLOSE_EVICTED,           /* the table was full: a new connection took this idle
	                              * (or incomplete-request) one's entry (tcp_table.c) */
	TCP_CLOSE_DEADLINE,          /* its first request did not come, or its request was
	                              * not complete, in time (first_request / header timeout) */
	TCP_CLOSE_SEND_TIMEOUT,      /* the peer took none of our bytes for send_timeout_ms */
};

struct tcp_app {
	/*
	 * len in-order bytes have arrived (data points into the segment or into
	 * the connection's buffer). Returns how many bytes it consumed, from the
	 * start; the rest is kept and handed again. May call tcp_send, tcp_close
	 * and tcp_abort on c; after tcp_abort, c must not be touched again.
	 */
	uint32_t (*on_data)(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			    const uint8_t *data, uint32_t len);
	/* The peer will send no more (its FIN arrived, in order, after all data). */
	void (*on_peer_fin)(void *ctx, struct tcp_core *tc, struct tcp_conn *c);
	/*
	 * c is finished; the last call the application gets for it. Only for
	 * connections that reached ESTABLISHED (those on_data could have seen).
	 * A connection entering TIME_WAIT gets it then (TCP_CLOSE_NORMAL): the
	 * entry kept for TIME_WAIT is TCP's own and never handed out again.
	 */
	void (*on_closed)(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			  enum tcp_close_reason why);
	void *ctx;
	/* Client mode (last, so positional initialisers of the server's three
	 * callbacks stay valid): c's handshake completed, it may tcp_send now.
	 * A connection that never gets here gets on_closed (RESET: refused;
	 * RETRANS: no answer) instead. May be NULL. */
	void (*on_established)(void *ctx, struct tcp_core *tc, struct tcp_conn *c);
};

/* NULL on a bad configuration or out of memory; all memory is taken here. */
struct tcp_core *tcp_core_create(const struct tcp_conf *conf, const struct net_iface *ifc,
				 struct net_tx *tx, const struct tcp_app *app);
void tcp_core_destroy(struct tcp_core *tc);

/* The clock, in microseconds from any fixed origin; call once per burst. */
void tcp_set_now(struct tcp_core *tc, uint64_t now_us);
/*
 * One IPv4 segment addressed to us: ih is the validated IP header, seg the TCP
 * header and payload (seglen bytes, excluding IP padding), eh the frame's
 * Ethernet header (its source is where replies go).
 */
void tcp_input(struct tcp_core *tc, const struct eth_hdr *eh, const struct ipv4_hdr *ih,
	       const uint8_t *seg, uint32_t seglen);
/* Fires what is due: retransmissions, timeouts, TIME_WAIT expiry. Cheap when nothing is. */
void tcp_timers_run(struct tcp_core *tc);

/*
 * Client mode: opens a connection to ip (network order) port conf.listen_port
 * from local_port (host order), frames going to mac: sends the SYN and returns
 * c in SYN_SENT (tcp_conn_app is the caller's from now on), or NULL when the
 * table is full or that local port is in use. Its outcome comes through
 * on_established or on_closed.
 */
struct tcp_conn *tcp_connect(struct tcp_core *tc, uint32_t ip, uint16_t local_port,
			     const uint8_t mac[NET_ETH_ALEN]);

/* What the application may do with a connection. */
uint32_t tcp_send_space(const struct tcp_core *tc, const struct tcp_conn *c);
/* The application stopped answering c because tcp_send_space was 0 while c
 * holds no send block (the pool is empty): its bytes are offered again
 * (on_data) once blocks come free. Harmless in any other case. */
void tcp_wait_space(struct tcp_core *tc, struct tcp_conn *c);
/* Queues len bytes, all or nothing: 0, or -1 when they do not fit or c is closing. */
int tcp_send(struct tcp_core *tc, struct tcp_conn *c, const void *data, uint32_t len);
/* Sends FIN after what is queued; no more on_data for c. */
void tcp_close(struct tcp_core *tc, struct tcp_conn *c);
/* Sends RST and frees c at once (on_closed is called). */
void tcp_abort(struct tcp_core *tc, struct tcp_conn *c);
/*
 * Held answers (a sold order's 200 waits until the order is durable): what
 * is queued before tcp_hold goes out as usual; from then on nothing new is
 * sent (what went out before may still be retransmitted, and a FIN waits
 * too) until tcp_release with the same ticket. Holding again replaces the
 * ticket: the connection waits for its latest. tcp_release returns whether
 * it released c (false: not held, or held for another ticket).
 */
void tcp_hold(struct tcp_core *tc, struct tcp_conn *c, uint32_t ticket);
bool tcp_release(struct tcp_core *tc, struct tcp_conn *c, uint32_t ticket);
uint32_t tcp_conn_peer_ip(const struct tcp_conn *c);   /* network order */
uint16_t tcp_conn_peer_port(const struct tcp_conn *c); /* host order */
/* Eight bytes per connection that belong to the application, zero at open. */
uint64_t *tcp_conn_app(struct tcp_conn *c);

/*
 * Counters. Drops are per reason; gauges (conns, per state) are read with
 * tcp_core_gauges. Extend the list, never rename: operators' scripts read the names.
 */
#define TCP_STATS(X) \
	X(rx_segs) X(tx_segs) X(rx_bytes) X(tx_bytes) \
	X(conns_opened) X(conns_closed) X(conns_reset) X(conns_timed_out) \
	X(syn_received) X(synack_retrans) X(cookies_sent) X(cookies_accepted) X(cookies_bad) \
	X(retrans_segs) X(challenge_acks) X(rst_sent) \
	X(drop_bad_csum) X(drop_bad_hdr) X(drop_bad_port) X(drop_no_conn) X(drop_out_of_window) \
	X(drop_ooo) X(drop_dup) X(drop_table_full) X(drop_syn_backlog) X(drop_no_buf) \
	X(drop_no_tx) X(time_wait_recycled) \
	X(syn_sent) X(syn_retrans) X(connects_refused) X(connects_timed_out) \
	X(drop_ip_conns)             /* handshakes refused by conf.admit (per-address limit) */ \
	X(timeout_first_request) X(timeout_header) X(timeout_send) \
	X(evicted_idle) X(evicted_head) \
	X(acks_delayed)              /* ACKs of a request whose answer is held, delayed */ \
	X(acks_delayed_sent)         /* of them, sent alone: no answer came in delack_ms */

struct tcp_stats { TCP_STATS(STATS_FIELD) };
extern const char *const tcp_stats_names[];
#define TCP_STATS_N (0 TCP_STATS(STATS_COUNT))

struct tcp_gauges {
	uint32_t conns;              /* entries in use, all states */
	uint32_t syn_rcvd;
	uint32_t established;
	uint32_t closing;            /* FIN_WAIT_*, CLOSING, CLOSE_WAIT, LAST_ACK */
	uint32_t time_wait;
	uint32_t rx_bufs_used;
	uint32_t tx_bufs_used;
	uint32_t syn_sent;           /* client mode: our SYN out, no answer yet */
};

const struct tcp_stats *tcp_core_stats(const struct tcp_core *tc);
void tcp_core_gauges(const struct tcp_core *tc, struct tcp_gauges *g);

#endif
