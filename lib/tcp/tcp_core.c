/*
 * tcp_core.c - the life cycle of a tcp_core and of its connections (lwIP's
 * tcp.c): configuration defaults and checks, create/destroy, the clock,
 * counters and gauges, the calls the application makes on a connection, and
 * the one place a connection is freed.
 *
 * All memory is taken in tcp_core_create: the connection table, the hash
 * buckets and the two buffer pools, sized from the configuration. Nothing is
 * allocated per connection or per packet afterwards.
 *
 * The application owns a connection from ESTABLISHED until on_closed. A
 * connection entering TIME_WAIT is finished for the application, so on_closed
 * (TCP_CLOSE_NORMAL) is called then; the entry that waits out TIME_WAIT is
 * TCP's alone and is never handed to the application again. Entries that
 * never reached ESTABLISHED (half-open, reset or timed out) produce no
 * callback at all.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tcp_priv.h"

const char *const tcp_stats_names[] = { TCP_STATS(STATS_NAME) };
_Static_assert(sizeof(tcp_stats_names) / sizeof(tcp_stats_names[0]) == TCP_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct tcp_stats) == TCP_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

/* Largest values the code's integer widths allow. */
#define TCP_MAX_CONNS_LIMIT (1u << 24)     /* indices stay far from TCP_NIL */
#define TCP_MAX_TIMER_MS    (1u << 30)     /* 32-bit ms clock compares stay signed-safe */
/* lib/http runs a handler only with this much send space free (http_server.c:
 * HTTP_ANSWER_MAX = HTTP_REPLY_BODY_CAP 2048 + HTTP_HEAD_RESERVE 512), so a
 * smaller tx_buf would stall every connection forever. */
#define TCP_MIN_TX_BUF      2560u
#define TCP_MAX_DELACK_MS   200u           /* below any peer's RTO (200 ms at least) */
#define TCP_MAX_TX_BUF      (1u << 20)
/* max_time_wait is capped at max_conns / this (tcp_table.c, policy when full). */
#define TCP_TIME_WAIT_SHARE 2

void tcp_conf_default(struct tcp_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->max_conns = 16384;
	conf->syn_backlog = 1024;
	conf->cookies = TCP_COOKIES_AUTO;
	conf->listen_port = 80;
	conf->mss = 1460;
	conf->rx_buf = 4096;
	conf->tx_buf = 8192;
	conf->rto_init_ms = 1000;
	conf->rto_min_ms = 200;
	conf->rto_max_ms = 10000;
	conf->syn_retries = 3;
	conf->data_retries = 6;
	conf->idle_timeout_ms = 30000;
	/* A buyer's request is a few hundred bytes, one segment, sent the
	 * moment the handshake completes; a head split over segments is whole
	 * within an RTT unless a segment is lost, and 10 s covers three losses
	 * of it in a row (RTO 1 + 2 + 4 s). A browser's unused preconnect that
	 * is closed after 5 s just connects again. nginx's 60 s defaults serve
	 * uploads on slow links, not a sale under a slowloris. */
	conf->header_timeout_ms = 10000;
	conf->first_request_timeout_ms = 5000;
	/* Answers are a few KiB, inside any window: a peer that takes none of
	 * our bytes for 10 s (zero window, or no ACK through four RTOs) is not
	 * a buyer waiting for its answer. */
	conf->send_timeout_ms = 10000;
	conf->fin_timeout_ms = 5000;
	conf->time_wait_ms = 2000;
	conf->max_time_wait = 4096;
	conf->rx_bufs = 0;                  /* 0: max_conns / 4 */
	conf->tx_bufs = 0;
	conf->challenge_ack_limit = 1000;   /* per second per core, Linux's old default */
	conf->delack_ms = 40;               /* Linux's shortest delayed ACK (TCP_DELACK_MIN) */
	if (getrandom(conf->cookie_key, sizeof(conf->cookie_key), 0) != sizeof(conf->cookie_key)) {
		/* getrandom cannot fail for 16 bytes after boot; leave the key
		 * zero and let tcp_conf_check refuse it rather than run weak. */
		memset(conf->cookie_key, 0, sizeof(conf->cookie_key));
	}
}

/* A message naming the bad value; valid until the next call on this thread
 * (configuration is checked at start-up, never on the hot path). */
static const char *tcp_conf_msg(const char *fmt, ...)
{
	static _Thread_local char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return msg;
}

/* The smallest receive buffer: a peer must be able to send one segment of
 * the MSS we announce, and never less than the 536 bytes every host must
 * take (RFC 9293 3.7.1); smaller windows only produce tiny segments. The
 * mss is checked first, so it is in range here. */
static uint32_t tcp_min_rx_buf(const struct tcp_conf *conf)
{
	return conf->mss > TCP_DEFAULT_PEER_MSS ? conf->mss : TCP_DEFAULT_PEER_MSS;
}

const char *tcp_conf_check(const struct tcp_conf *conf)
{
	if (conf->max_conns == 0 || conf->max_conns > TCP_MAX_CONNS_LIMIT)
		return "tcp: max_conns must be 1..16777216";
	if (conf->cookies > TCP_COOKIES_NEVER)
		return "tcp: cookies must be AUTO, ALWAYS or NEVER";
	if (conf->listen_port == 0)
		return "tcp: listen_port must not be 0";
	if (conf->mss < TCP_MIN_MSS || conf->mss > NET_MTU - NET_IPV4_HLEN - NET_TCP_HLEN)
		return "tcp: mss must be 88..1460";
	if (conf->rx_buf < tcp_min_rx_buf(conf) || conf->rx_buf > TCP_MAX_WIN)
		return tcp_conf_msg("tcp: rx_buf must be %u..65535 (at least one segment of the "
				    "MSS we announce, %u, and never below 536; no window "
				    "scaling above), not %u",
				    tcp_min_rx_buf(conf), conf->mss, conf->rx_buf);
	if (conf->tx_buf < TCP_MIN_TX_BUF || conf->tx_buf > TCP_MAX_TX_BUF)
		return tcp_conf_msg("tcp: tx_buf must be %u..%u (lib/http needs %u bytes of "
				    "send space before it runs a handler), not %u",
				    TCP_MIN_TX_BUF, TCP_MAX_TX_BUF, TCP_MIN_TX_BUF, conf->tx_buf);
	if (conf->rto_min_ms == 0 || conf->rto_min_ms > conf->rto_init_ms ||
	    conf->rto_init_ms > conf->rto_max_ms || conf->rto_max_ms > TCP_MAX_TIMER_MS)
		return "tcp: need 0 < rto_min_ms <= rto_init_ms <= rto_max_ms";
	if (conf->idle_timeout_ms == 0 || conf->idle_timeout_ms > TCP_MAX_TIMER_MS ||
	    conf->fin_timeout_ms == 0 || conf->fin_timeout_ms > TCP_MAX_TIMER_MS ||
	    conf->time_wait_ms == 0 || conf->time_wait_ms > TCP_MAX_TIMER_MS)
		return "tcp: idle, fin and time_wait timeouts must be 1 ms..2^30 ms";
	if (conf->first_request_timeout_ms > TCP_MAX_TIMER_MS ||
	    conf->header_timeout_ms > TCP_MAX_TIMER_MS || conf->send_timeout_ms > TCP_MAX_TIMER_MS)
		return "tcp: first_request, header and send timeouts must be 0 (off)..2^30 ms";
	if (conf->delack_ms > TCP_MAX_DELACK_MS)
		return tcp_conf_msg("tcp: delack_ms must be 0 (off)..%u (a peer's retransmission "
				    "timer is at least 200 ms), not %u", TCP_MAX_DELACK_MS,
				    conf->delack_ms);
	if (conf->rx_bufs > conf->max_conns || conf->tx_bufs > conf->max_conns)
		return "tcp: rx_bufs and tx_bufs must not exceed max_conns";
	if (conf->cookie_key[0] == 0 && conf->cookie_key[1] == 0)
		return "tcp: cookie_key is zero (getrandom failed?)";
	return NULL;
}

static uint32_t tcp_nbufs(uint32_t want, uint32_t max_conns)
{
	if (want)
		return want;
	return max_conns / 4 ? max_conns / 4 : 1;
}

struct tcp_core *tcp_core_create(const struct tcp_conf *conf, const struct net_iface *ifc,
				 struct net_tx *tx, const struct tcp_app *app)
{
	struct tcp_core *tc;
	uint32_t mtu = ifc->mtu && ifc->mtu <= NET_MTU ? ifc->mtu : NET_MTU;

	if (tcp_conf_check(conf) || !app->on_data)
		return NULL;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->conf = *conf;
	tc->ifc = *ifc;
	tc->tx = *tx;
	tc->app = *app;
	tc->mss_cap = (uint16_t)(mtu - NET_IPV4_HLEN - NET_TCP_HLEN);
	/* TIME_WAIT may hold at most half the table: the rest stays for live
	 * connections whatever max_time_wait says (the default, 4096, is above
	 * a small max_conns). */
	if (tc->conf.max_time_wait > conf->max_conns / TCP_TIME_WAIT_SHARE)
		tc->conf.max_time_wait = conf->max_conns / TCP_TIME_WAIT_SHARE;
	if (tc->conf.mss > tc->mss_cap)
		tc->conf.mss = tc->mss_cap;
	/* A client's peer owes it answers, not requests: no request deadlines
	 * (tcp_table.c never evicts for a client either). */
	if (conf->client)
		tc->conf.first_request_timeout_ms = tc->conf.header_timeout_ms = 0;
	tcp_timer_init(tc);
	if (tcp_table_init(tc) ||
	    tcp_pool_init(&tc->rxp, conf->rx_buf, tcp_nbufs(conf->rx_bufs, conf->max_conns)) ||
	    tcp_pool_init(&tc->txp, conf->tx_buf, tcp_nbufs(conf->tx_bufs, conf->max_conns)) ||
	    !(tc->waiters = calloc(conf->max_conns, sizeof(*tc->waiters))) ||
	    !(tc->dl_conn = calloc(conf->max_conns, sizeof(*tc->dl_conn))) ||
	    !(tc->dl_due = calloc(conf->max_conns, sizeof(*tc->dl_due)))) {
		tcp_core_destroy(tc);
		return NULL;
	}
	return tc;
}

/* Frees the core and everything in it; no callbacks are made. */
void tcp_core_destroy(struct tcp_core *tc)
{
	if (!tc)
		return;
	tcp_table_fini(tc);
	tcp_pool_fini(&tc->rxp);
	tcp_pool_fini(&tc->txp);
	free(tc->waiters);
	free(tc->dl_conn);
	free(tc->dl_due);
	free(tc);
}

void tcp_set_now(struct tcp_core *tc, uint64_t now_us)
{
	tc->now_us = now_us;
	tc->now_ms = (uint32_t)(now_us / 1000);
	if (!tc->clock_set) {
		/* The wheel starts at the first time we are told, whatever the
		 * origin of the caller's clock. */
		tc->clock_set = true;
		tc->wheel_ms = tc->now_ms;
	}
}

const struct tcp_stats *tcp_core_stats(const struct tcp_core *tc)
{
	return &tc->st;
}

void tcp_core_gauges(const struct tcp_core *tc, struct tcp_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->conns = tc->nconns;
	g->syn_rcvd = tc->n_state[TCP_S_SYN_RCVD];
	g->established = tc->n_state[TCP_S_ESTABLISHED];
	g->closing = tc->n_state[TCP_S_FIN_WAIT_1] + tc->n_state[TCP_S_FIN_WAIT_2] +
		tc->n_state[TCP_S_CLOSING] + tc->n_state[TCP_S_CLOSE_WAIT] +
		tc->n_state[TCP_S_LAST_ACK];
	g->time_wait = tc->n_state[TCP_S_TIME_WAIT];
	g->syn_sent = tc->n_state[TCP_S_SYN_SENT];
	g->rx_bufs_used = tc->rxp.nblk - tc->rxp.nfree;
	g->tx_bufs_used = tc->txp.nblk - tc->txp.nfree;
}

/* Every state change goes through here so the per-state gauges stay exact. */
void tcp_set_state(struct tcp_core *tc, struct tcp_conn *c, enum tcp_state s)
{
	if (c->state != TCP_S_FREE)
		tc->n_state[c->state]--;
	/* ESTABLISHED entries are the ones a full table may evict (tcp_table.c). */
	if (c->state == TCP_S_ESTABLISHED)
		tcp_evq_remove(tc, c);
	c->state = (uint8_t)s;
	if (s != TCP_S_FREE)
		tc->n_state[s]++;
	if (s == TCP_S_ESTABLISHED)
		tcp_evq_append(tc, c);
}

/* Tells the application c is gone (once); c's calls are no-ops meanwhile. */
static void tcp_notify_closed(struct tcp_core *tc, struct tcp_conn *c, enum tcp_close_reason why)
{
	if (!(c->flags & TCP_F_APP))
		return;
	c->flags &= (uint16_t)~TCP_F_APP;
	c->flags |= TCP_F_DYING;
	tc->st.conns_closed++;
	if (tc->app.on_closed)
		tc->app.on_closed(tc->app.ctx, tc, c, why);
}

/*
 * conf.admit for a handshake from ip that completes now: the verdict, a
 * refusal counted. One indirect call per accepted connection, none per
 * packet; PASS when no hook is set.
 */
enum tcp_admit_verdict tcp_admit_peer(struct tcp_core *tc, uint32_t ip)
{
	enum tcp_admit_verdict v;

	if (tc->conf.admit.admit == NULL)
		return TCP_ADMIT_PASS;
	v = tc->conf.admit.admit(tc->conf.admit.ctx, ip);
	if (v == TCP_ADMIT_REFUSE)
		tc->st.drop_ip_conns++;
	return v;
}

/* c was let in with verdict v (not REFUSE): remember it, and whether
 * there is a count to give back. */
void tcp_admit_mark(struct tcp_conn *c, enum tcp_admit_verdict v)
{
	c->flags |= TCP_F_ADMITTED;
	if (v == TCP_ADMIT_COUNTED)
		c->flags |= TCP_F_COUNTED;
}

/* A counted admission that got no entry after all: give it back. */
void tcp_admit_cancel(struct tcp_core *tc, uint32_t ip, enum tcp_admit_verdict v)
{
	if (v == TCP_ADMIT_COUNTED)
		tc->conf.admit.release(tc->conf.admit.ctx, ip);
}

/* c's handshake completes: true when it may enter ESTABLISHED (asked now,
 * unless it was when its entry was made), false when refused. */
bool tcp_admit(struct tcp_core *tc, struct tcp_conn *c)
{
	enum tcp_admit_verdict v;

	if (c->flags & TCP_F_ADMITTED)
		return true;
	v = tcp_admit_peer(tc, c->peer_ip);
	if (v == TCP_ADMIT_REFUSE)
		return false;
	tcp_admit_mark(c, v);
	return true;
}

/* Gives back what tcp_admit counted, once: c is finished (freed, or
 * entering TIME_WAIT, where the entry is TCP's own). */
static void tcp_admit_release(struct tcp_core *tc, struct tcp_conn *c)
{
	if (!(c->flags & TCP_F_COUNTED))
		return;
	c->flags &= (uint16_t)~TCP_F_COUNTED;
	tc->conf.admit.release(tc->conf.admit.ctx, c->peer_ip);
}

/* The only way an entry is freed: callback, admission count, timer,
 * buffers, table. */
void tcp_conn_free(struct tcp_core *tc, struct tcp_conn *c, enum tcp_close_reason why)
{
	tcp_notify_closed(tc, c, why);
	tcp_admit_release(tc, c);
	if (c->state == TCP_S_TIME_WAIT)
		tcp_tw_remove(tc, c);
	tcp_timer_cancel(tc, c);
	tcp_bufs_release(tc, c);
	tcp_set_state(tc, c, TCP_S_FREE);
	tcp_table_release(tc, c);
	if (tc->cur == c)
		tc->cur = NULL;
}

/*
 * Both FINs are through: the application is done with c. The entry then
 * waits out time_wait_ms to absorb stray segments of this tuple, at the tail
 * of the TIME_WAIT FIFO (a full table recycles from its head), unless
 * max_time_wait entries already do, in which case it is freed now.
 */
void tcp_enter_time_wait(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_notify_closed(tc, c, TCP_CLOSE_NORMAL);
	tcp_admit_release(tc, c);
	if (tc->n_state[TCP_S_TIME_WAIT] >= tc->conf.max_time_wait) {
		tc->st.time_wait_recycled++;
		tcp_conn_free(tc, c, TCP_CLOSE_NORMAL);
		return;
	}
	tcp_bufs_release(tc, c);
	/* rtt_seq/rtt_ts become the FIFO links: nothing is timed any more. */
	c->flags &= (uint16_t)~(TCP_F_DEADLINE | TCP_F_RTT);
	tcp_set_state(tc, c, TCP_S_TIME_WAIT);
	tcp_tw_append(tc, c);
	tcp_timer_arm(tc, c, tc->now_ms + tc->conf.time_wait_ms, TCP_TM_TIME_WAIT);
}

uint32_t tcp_send_space(const struct tcp_core *tc, const struct tcp_conn *c)
{
	if ((c->flags & (TCP_F_CLOSE_REQ | TCP_F_DYING)) ||
	    (c->state != TCP_S_ESTABLISHED && c->state != TCP_S_CLOSE_WAIT))
		return 0;
	/* A connection that holds no block needs one from the pool. */
	if (c->tx.len == 0 && tc->txp.nfree == 0)
		return 0;
	return tc->conf.tx_buf - c->tx.len;
}

int tcp_send(struct tcp_core *tc, struct tcp_conn *c, const void *data, uint32_t len)
{
	if (len > tcp_send_space(tc, c))
		return -1;
	if (!len)
		return 0;
	if (!tcp_ring_write(&tc->txp, &c->tx, data, len)) {
		tc->st.drop_no_buf++;
		return -1;
	}
	/* From inside a callback the input path sends once it is done, with
	 * the ACK on the same segment; otherwise send now. */
	if (tc->cur != c)
		tcp_output(tc, c);
	return 0;
}

void tcp_close(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->flags & (TCP_F_CLOSE_REQ | TCP_F_DYING))
		return;
	if (c->state == TCP_S_SYN_SENT) {        /* RFC 9293 3.10.4: delete the TCB */
		tcp_conn_free(tc, c, TCP_CLOSE_ABORT);
		return;
	}
	if (c->state == TCP_S_ESTABLISHED) {
		tcp_set_state(tc, c, TCP_S_FIN_WAIT_1);
	} else if (c->state == TCP_S_CLOSE_WAIT) {
		c->deadline_ms = tc->now_ms + tc->conf.fin_timeout_ms;
		c->flags |= TCP_F_DEADLINE;
		tcp_set_state(tc, c, TCP_S_LAST_ACK);
	} else {
		return;
	}
	c->flags |= TCP_F_CLOSE_REQ;
	if (tc->cur != c) {
		tcp_ring_drop(&tc->rxp, &c->rx, c->rx.len);   /* no more on_data */
		tcp_output(tc, c);
	}
}

void tcp_abort(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->flags & TCP_F_DYING)
		return;
	/* RFC 9293 3.10.5: nothing to reset before the peer is synchronized. */
	if (c->state != TCP_S_SYN_RCVD && c->state != TCP_S_SYN_SENT &&
	    c->state != TCP_S_TIME_WAIT)
		tcp_out_rst(tc, c);
	tcp_conn_free(tc, c, TCP_CLOSE_ABORT);
}

uint32_t tcp_conn_peer_ip(const struct tcp_conn *c)
{
	return c->peer_ip;
}

uint16_t tcp_conn_peer_port(const struct tcp_conn *c)
{
	return ntohs(c->peer_port);
}

uint64_t *tcp_conn_app(struct tcp_conn *c)
{
	return &c->app;
}

/*
 * The application could not answer c for want of a send block: every block
 * of the pool is taken (held answers, slow readers). Unlike a connection
 * whose own send ring is full, c has nothing in flight whose ACK would bring
 * it back, so it queues here and tcp_space_waiters_run offers its bytes
 * again once blocks come free, oldest first.
 */
void tcp_wait_space(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->tx.len != 0 || tc->txp.nfree != 0 || (c->flags & TCP_F_WAIT_BUF) ||
	    tc->nwait == tc->conf.max_conns)
		return;
	c->flags |= TCP_F_WAIT_BUF;
	tc->waiters[(tc->wait_head + tc->nwait++) % tc->conf.max_conns] =
		(uint32_t)(c - tc->conns);
}

void tcp_space_waiters_run(struct tcp_core *tc)
{
	while (tc->nwait != 0 && tc->txp.nfree != 0) {
		struct tcp_conn *c = &tc->conns[tc->waiters[tc->wait_head]];

		tc->wait_head = (tc->wait_head + 1) % tc->conf.max_conns;
		tc->nwait--;
		/* Freed since (and perhaps reused: a new entry has the flag clear). */
		if (!(c->flags & TCP_F_WAIT_BUF) || c->state == TCP_S_FREE)
			continue;
		c->flags &= (uint16_t)~TCP_F_WAIT_BUF;
		tc->cur = c;
		tcp_rx_offer(tc, c);
		if (tc->cur != c)
			continue;               /* the application aborted it */
		tc->cur = NULL;
		tcp_output(tc, c);
	}
}
