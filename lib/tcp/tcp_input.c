/*
 * tcp_input.c - segment arrival (lwIP's tcp_in.c), following RFC 9293
 * section 3.10.7 in order, each check commented with the rule it implements.
 *
 * tcp_input validates the header (length, data offset, checksum, port) and
 * looks the peer up. Without a connection the LISTEN rules apply (3.10.7.2):
 * a SYN opens one (or gets a cookie), an ACK may complete a cookie, the rest
 * is reset. With one, the eight steps of 3.10.7.4 run in order: sequence
 * check, RST, (security), SYN, ACK, (URG), text, FIN - with RFC 5961's
 * challenge ACKs in the RST and SYN steps and its ACK range check.
 *
 * Simplifications for a server answering small requests on a LAN:
 *  - no reassembly queue: a segment that does not start at rcv_nxt (after
 *    trimming what we already have) is dropped and answered by an ACK, so
 *    the peer's fast retransmit fills the hole (drop_ooo / drop_dup);
 *  - options other than MSS are ignored (no window scaling, timestamps or
 *    SACK), so the peer falls back to plain RFC 9293 behaviour;
 *  - data on a SYN is not accepted (the ACK of the SYN does not cover it,
 *    so the client sends it again).
 *
 * The application is called from here (on_data, on_peer_fin) and may abort
 * the connection from a callback; tc->cur then becomes NULL and every step
 * after a callback checks it before touching c again.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net_csum.h"
#include "tcp_priv.h"

/* Reads the MSS option of a SYN; any malformed option ends the walk. */
static uint16_t tcp_parse_mss(const uint8_t *o, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		if (o[i] == TCP_OPT_EOL)
			break;
		if (o[i] == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (o[i] == TCP_OPT_MSS && o[i + 1] == TCP_MSS_OPT_LEN)
			return (uint16_t)(o[i + 2] << 8 | o[i + 3]);
		i += o[i + 1];
	}
	return 0;
}

/* Header sanity and checksum; fills s. False (counted) when s is unusable. */
static bool tcp_parse(struct tcp_core *tc, struct tcp_seg *s, const struct eth_hdr *eh,
		      const struct ipv4_hdr *ih, const uint8_t *seg, uint32_t seglen)
{
	const struct tcp_hdr *th = (const struct tcp_hdr *)seg;
	uint32_t hlen;

	if (seglen < NET_TCP_HLEN || seglen > NET_MTU) {
		tc->st.drop_bad_hdr++;
		return false;
	}
	hlen = (uint32_t)(th->off >> 4) * 4;
	if (hlen < NET_TCP_HLEN || hlen > seglen) {
		tc->st.drop_bad_hdr++;
		return false;
	}
	if (net_csum_fold(net_csum_add(net_csum_pseudo(ih->src, ih->dst, NET_IPPROTO_TCP,
						       (uint16_t)seglen), seg, seglen)) != 0) {
		tc->st.drop_bad_csum++;
		return false;
	}
	s->eh = eh;
	s->ih = ih;
	s->th = th;
	s->data = seg + hlen;
	s->len = seglen - hlen;
	s->seq = ntohl(th->seq);
	s->ack = ntohl(th->ack);
	s->wnd = ntohs(th->win);
	s->flags = th->flags;
	s->peer_mss = (th->flags & TCP_SYN) ? tcp_parse_mss(seg + NET_TCP_HLEN, hlen - NET_TCP_HLEN)
					    : 0;
	return true;
}

/* The MSS we send with: min(ours, the peer's), ours being what our MTU
 * allows and the peer's 536 when it said nothing; raised to TCP_MIN_SND_MSS
 * only when the peer announced less. Used by the stateful handshake, the
 * cookie one (with the MSS the cookie carries, never above the peer's) and
 * the client's. */
static uint16_t tcp_send_mss(const struct tcp_core *tc, uint16_t peer)
{
	if (!peer)
		peer = TCP_DEFAULT_PEER_MSS;
	if (peer < TCP_MIN_SND_MSS)
		peer = TCP_MIN_SND_MSS;
	return peer < tc->mss_cap ? peer : tc->mss_cap;
}

/* A new entry in SYN_RCVD for SYN s with our ISN iss. */
static struct tcp_conn *tcp_conn_new(struct tcp_core *tc, const struct tcp_seg *s,
				     uint32_t iss, uint16_t peer_mss)
{
	struct tcp_conn *c = tcp_table_alloc(tc, s->ih->src, s->th->sport);

	if (!c)
		return NULL;
	memcpy(c->peer_mac, s->eh->src, NET_ETH_ALEN);
	c->rcv_nxt = s->seq + 1;
	c->snd_una = iss;
	c->snd_nxt = c->snd_max = iss + 1;
	c->snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->mss = tcp_send_mss(tc, peer_mss);
	c->cwnd = tcp_initial_cwnd(c->mss);
	c->rto_ms = tc->conf.rto_init_ms;
	c->last_rx_ms = tc->now_ms;
	tcp_set_state(tc, c, TCP_S_SYN_RCVD);
	return c;
}

/* Answers SYN s with a SYN-ACK whose sequence number is a cookie. */
static void tcp_send_cookie(struct tcp_core *tc, const struct tcp_seg *s)
{
	uint16_t mss;
	uint32_t isn = tcp_cookie_make(tc, s, &mss);
	uint32_t win = tc->conf.rx_buf > TCP_MAX_WIN ? TCP_MAX_WIN : tc->conf.rx_buf;

	if (tcp_out_seg(tc, s->eh->src, s->ih->src, s->th->sport, isn, s->seq + 1,
			TCP_SYN | TCP_ACK, (uint16_t)win, tc->conf.mss, NULL, 0)) {
		tc->st.cookies_sent++;
		tc->cookie_sent = true;
		tc->cookie_ms = tc->now_ms;
	}
}

/*
 * LISTEN, third check (RFC 9293 3.10.7.2): a SYN. Keep state for it while
 * the half-open entries stay under syn_backlog and the table has room;
 * otherwise (or always, by option) answer with a cookie (RFC 4987).
 */
static void tcp_listen_syn(struct tcp_core *tc, const struct tcp_seg *s)
{
	bool busy = tc->n_state[TCP_S_SYN_RCVD] >= tc->conf.syn_backlog;
	bool full = !tcp_table_has_room(tc);    /* TIME_WAIT entries count as room */
	struct tcp_conn *c;

	tc->st.syn_received++;
	if (s->flags & TCP_FIN) {            /* SYN+FIN: a scan, not a connection */
		tc->st.drop_bad_hdr++;
		return;
	}
	if (tc->conf.cookies == TCP_COOKIES_ALWAYS ||
	    (tc->conf.cookies == TCP_COOKIES_AUTO && (busy || full))) {
		tcp_send_cookie(tc, s);
		return;
	}
	if (busy) {
		tc->st.drop_syn_backlog++;
		return;
	}
	c = tcp_conn_new(tc, s, tcp_isn(tc, s), s->peer_mss);
	if (!c) {
		tc->st.drop_table_full++;
		return;
	}
	/* Time the SYN-ACK (RFC 6298 allows it while it is not resent). */
	c->flags |= TCP_F_RTT;
	c->rtt_ts = tc->now_ms;
	c->rtt_seq = c->snd_nxt;
	tcp_out_synack(tc, c);
	tcp_timer_arm(tc, c, tc->now_ms + c->rto_ms, TCP_TM_SYNACK);
}

/*
 * LISTEN, second check: an ACK. If it brings back a valid cookie, the
 * connection is created in SYN_RCVD with the cookie as ISS, and the caller
 * processes the ACK on it like any other (which moves it to ESTABLISHED).
 * NULL when it is not a cookie (the caller resets) or was dropped (*dropped).
 */
static struct tcp_conn *tcp_cookie_open(struct tcp_core *tc, const struct tcp_seg *s,
					bool *dropped)
{
	uint16_t mss;
	struct tcp_seg syn = *s;
	struct tcp_conn *c;
	enum tcp_admit_verdict v;

	*dropped = false;
	if (tc->conf.cookies == TCP_COOKIES_NEVER || !tc->cookie_sent || (s->flags & TCP_SYN))
		return NULL;
	if (!tcp_cookie_check(tc, s, &mss)) {
		tc->st.cookies_bad++;
		return NULL;
	}
	/* Admission (conf.admit) before the entry is taken: on a full table
	 * taking one evicts an idle connection, which a newcomer refused by
	 * its address's limit must cost nobody. Refused: RST, as the
	 * stateful handshake's ACK gets. */
	v = tcp_admit_peer(tc, s->ih->src);
	if (v == TCP_ADMIT_REFUSE) {
		tcp_out_reset_reply(tc, s);
		*dropped = true;
		return NULL;
	}
	syn.seq = s->seq - 1;                /* the SYN this cookie answered */
	c = tcp_conn_new(tc, &syn, s->ack - 1, mss);
	if (!c) {
		/* Table policy: no entry for a completed cookie; the client's
		 * retransmission may find one. */
		tcp_admit_cancel(tc, s->ih->src, v);
		tc->st.drop_table_full++;
		*dropped = true;
		return NULL;
	}
	tcp_admit_mark(c, v);
	tc->st.cookies_accepted++;
	return c;
}

/*
 * First check (RFC 9293 3.10.7.4): is the segment acceptable? The four cases
 * of the table in 3.10.7.4 on window RCV.WND. A segment starting exactly at
 * RCV.NXT is always let through: with a zero window its data is trimmed
 * later but its ACK and RST must still be processed (same section).
 */
static bool tcp_seq_acceptable(const struct tcp_core *tc, const struct tcp_conn *c,
			       const struct tcp_seg *s)
{
	uint32_t wnd = tcp_rcv_wnd(tc, c), n = tcp_seg_seqlen(s);
	uint32_t first = s->seq - c->rcv_nxt, last = s->seq + n - 1 - c->rcv_nxt;

	if (s->seq == c->rcv_nxt)
		return true;
	if (wnd == 0)
		return false;
	if (n == 0)
		return first < wnd;
	return first < wnd || last < wnd;
}

/* Counts why an unacceptable segment was dropped. */
static void tcp_count_unacceptable(struct tcp_core *tc, const struct tcp_conn *c,
				   const struct tcp_seg *s)
{
	if (seq_leq(s->seq + tcp_seg_seqlen(s), c->rcv_nxt) && seq_lt(s->seq, c->rcv_nxt))
		tc->st.drop_dup++;
	else
		tc->st.drop_out_of_window++;
}

/*
 * Second check, RST (RFC 5961 section 3.2): only a RST at exactly RCV.NXT
 * resets; one elsewhere in the window gets a challenge ACK (a real peer
 * answers it with an exact RST, a blind attacker cannot).
 */
static void tcp_rst_arrives(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (s->seq != c->rcv_nxt) {
		tcp_out_challenge_ack(tc, c);
		return;
	}
	/* SYN_RCVD of a passive open goes back to LISTEN: just forget it. */
	tc->st.conns_reset++;
	tcp_conn_free(tc, c, TCP_CLOSE_RESET);
}

/* RFC 6298 section 2 on one measurement. */
void tcp_rtt_sample(struct tcp_core *tc, struct tcp_conn *c, uint32_t r)
{
	uint32_t rto;

	if (!c->srtt8) {
		c->srtt8 = r * 8 + 1;                   /* +1: "measured" even when r is 0 */
		c->rttvar4 = r * 2;
	} else {
		uint32_t srtt = c->srtt8 >> 3;
		uint32_t err = r > srtt ? r - srtt : srtt - r;

		c->rttvar4 = c->rttvar4 - (c->rttvar4 >> 2) + err;
		c->srtt8 = c->srtt8 - srtt + r;
	}
	/* RTO = SRTT + max(G, 4 * RTTVAR), G being our 1 ms clock granularity. */
	rto = (c->srtt8 >> 3) + (c->rttvar4 > TCP_TICK_MS ? c->rttvar4 : TCP_TICK_MS);
	if (rto < tc->conf.rto_min_ms)
		rto = tc->conf.rto_min_ms;
	if (rto > tc->conf.rto_max_ms)
		rto = tc->conf.rto_max_ms;
	c->rto_ms = rto;
}

/* SND.UNA < SEG.ACK <= SND.MAX: n more sequence numbers acknowledged. */
static void tcp_new_ack(struct tcp_core *tc, struct tcp_conn *c, uint32_t ack)
{
	uint32_t n = ack - c->snd_una;
	bool fin_acked = n > c->tx.len;

	if ((c->flags & TCP_F_RTT) && seq_geq(ack, c->rtt_seq)) {
		c->flags &= (uint16_t)~TCP_F_RTT;
		tcp_rtt_sample(tc, c, tc->now_ms - c->rtt_ts);
	}
	if (c->tx.len)
		c->flags |= TCP_F_SPACE;
	tcp_ring_drop(&tc->txp, &c->tx, fin_acked ? c->tx.len : n);
	c->snd_una = ack;
	if (seq_lt(c->snd_nxt, ack))            /* go-back-N overtaken by the ACK */
		c->snd_nxt = ack;
	tcp_cwnd_acked(c, n);
	c->retries = 0;
	if (fin_acked)
		c->flags |= TCP_F_FIN_ACKED;
	tcp_timer_update(tc, c, true);          /* RFC 6298 5.2 / 5.3 */
}

/* Moves c from SYN_RCVD (or SYN_SENT) to ESTABLISHED: the application
 * learns of it now. */
static void tcp_established(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((c->flags & TCP_F_RTT) && c->retries == 0) {
		tcp_rtt_sample(tc, c, tc->now_ms - c->rtt_ts);
	} else if (c->retries) {
		/* RFC 6298 5.7: the SYN-ACK was lost at least once. */
		uint32_t rto = tc->conf.rto_init_ms;

		if (rto < TCP_RTO_AFTER_SYN_LOSS_MS)
			rto = TCP_RTO_AFTER_SYN_LOSS_MS;
		c->rto_ms = rto < tc->conf.rto_max_ms ? rto : tc->conf.rto_max_ms;
	}
	/* (A cookie connection has neither: it keeps rto_init_ms.) */
	c->flags &= (uint16_t)~TCP_F_RTT;
	c->flags |= TCP_F_APP;
	c->snd_una = s->ack;
	c->retries = 0;
	c->snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->last_rx_ms = tc->now_ms;
	tcp_timer_cancel(tc, c);
	tcp_set_state(tc, c, TCP_S_ESTABLISHED);
	tc->st.conns_opened++;
}

static void tcp_fin_timeout_start(struct tcp_core *tc, struct tcp_conn *c)
{
	c->deadline_ms = tc->now_ms + tc->conf.fin_timeout_ms;
	c->flags |= TCP_F_DEADLINE;
}

/*
 * Fifth check, ACK (RFC 9293 3.10.7.4 plus RFC 5961 section 5). Returns
 * false when the segment is finished with (dropped, or c was freed).
 */
static bool tcp_ack_arrives(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->state == TCP_S_SYN_RCVD) {
		/* SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT enters ESTABLISHED,
		 * otherwise <SEQ=SEG.ACK><CTL=RST>. */
		if (s->ack != c->snd_nxt) {
			tcp_out_reset_reply(tc, s);
			return false;
		}
		/* Acceptable: the connection is accepted now, if its address
		 * may hold one more (conf.admit; a cookie's was asked before
		 * its entry was made); refused, the peer hears RST and the
		 * entry goes back to LISTEN's nothing. */
		if (!tcp_admit(tc, c)) {
			tcp_out_reset_reply(tc, s);
			tcp_conn_free(tc, c, TCP_CLOSE_RESET);
			return false;
		}
		tcp_established(tc, c, s);
		return true;
	}
	/* SEG.ACK > SND.NXT acknowledges something not yet sent: send an ACK,
	 * drop the segment. After a timeout pulled snd_nxt back, "sent" reaches
	 * to snd_max: the first copies may have arrived after all (BSD). */
	if (seq_gt(s->ack, c->snd_max)) {
		tc->st.drop_out_of_window++;
		tcp_out_ack(tc, c);
		return false;
	}
	/* RFC 5961 5.2: older than SND.UNA - MAX.SND.WND is a blind guess. */
	if (seq_lt(s->ack, c->snd_una - TCP_MAX_WIN)) {
		tc->st.drop_out_of_window++;
		tcp_out_challenge_ack(tc, c);
		return false;
	}
	if (seq_gt(s->ack, c->snd_una))
		tcp_new_ack(tc, c, s->ack);
	/* Window update: SND.UNA =< SEG.ACK =< SND.NXT, and only from a segment
	 * newer than the one last used (SND.WL1, SND.WL2), so a reordered old
	 * segment cannot shrink the window. */
	if (seq_leq(c->snd_una, s->ack) &&
	    (seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack)))) {
		c->snd_wnd = s->wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
	}
	if (!(c->flags & TCP_F_FIN_ACKED))
		return true;
	switch (c->state) {
	case TCP_S_FIN_WAIT_1:          /* our FIN is acknowledged: FIN-WAIT-2 */
		tcp_fin_timeout_start(tc, c);
		tcp_set_state(tc, c, TCP_S_FIN_WAIT_2);
		tcp_timer_update(tc, c, false);
		return true;
	case TCP_S_CLOSING:             /* our FIN is acknowledged: TIME-WAIT */
		tcp_enter_time_wait(tc, c);
		return tc->cur != NULL;
	case TCP_S_LAST_ACK:            /* our FIN is acknowledged: CLOSED */
		tcp_conn_free(tc, c, TCP_CLOSE_NORMAL);
		return false;
	default:
		return true;
	}
}

/*
 * Hands len in-order bytes to the application: straight from the segment
 * when nothing is buffered, else after the buffered ones. Returns how many
 * bytes are taken into the sequence space (consumed or kept); fewer than len
 * only when a buffer was needed and the pool was empty.
 */
static uint32_t tcp_rx_deliver(struct tcp_core *tc, struct tcp_conn *c, const uint8_t *data,
			       uint32_t len)
{
	uint32_t used;

	/* After tcp_close nobody reads: accept and discard, so the peer's
	 * FIN can follow. */
	if ((c->flags & (TCP_F_CLOSE_REQ | TCP_F_DYING)) || !(c->flags & TCP_F_APP))
		return len;
	if (c->rx.len) {
		tcp_ring_write_flat(&tc->rxp, &c->rx, data, len); /* holds a block; fits the window */
		tcp_rx_offer(tc, c);
		return len;
	}
	used = tc->app.on_data(tc->app.ctx, tc, c, data, len);
	if (tc->cur != c)
		return 0;
	if (used >= len || (c->flags & TCP_F_CLOSE_REQ))
		return len;
	if (!tcp_ring_write_flat(&tc->rxp, &c->rx, data + used, len - used)) {
		tc->st.drop_no_buf++;
		return used;
	}
	tcp_head_start(tc, c);
	return len;
}

/*
 * The receive ring now begins with bytes of a request the application
 * left incomplete (tcp.h, "Requests"): its header deadline runs from now,
 * and for the eviction order c is idle from now. Called when a request is
 * left over, never for one consumed whole.
 */
void tcp_head_start(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->state != TCP_S_ESTABLISHED)
		return;
	c->head_ms = tc->now_ms;
	if (!tcp_head_pending(c))
		return;                 /* stalled for send space: not the peer's to finish */
	tcp_evq_touch(tc, c);
	tcp_timer_request(tc, c);
}

/* Offers the buffered bytes to the application again and drops what it took. */
void tcp_rx_offer(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t used, before = tcp_rcv_wnd(tc, c);

	if (!c->rx.len || (c->flags & (TCP_F_CLOSE_REQ | TCP_F_DYING)) || !(c->flags & TCP_F_APP))
		return;
	used = tc->app.on_data(tc->app.ctx, tc, c, tcp_ring_flat(&tc->rxp, &c->rx), c->rx.len);
	if (tc->cur != c)
		return;
	tcp_ring_drop(&tc->rxp, &c->rx, (c->flags & TCP_F_CLOSE_REQ) ? c->rx.len : used);
	if (before == 0 && tcp_rcv_wnd(tc, c))
		c->flags |= TCP_F_ACK_NOW;              /* window update: the peer is waiting */
	if (used && c->rx.len)                  /* a request done, the next one begun */
		tcp_head_start(tc, c);
}

/*
 * Seventh step, segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 only; after
 * the peer's FIN there is none). Only bytes starting at RCV.NXT are taken;
 * anything else is answered by an ACK and dropped. False when c was aborted.
 */
static bool tcp_text_arrives(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	const uint8_t *data = s->data;
	uint32_t len = s->len, wnd, taken;

	if (c->state != TCP_S_ESTABLISHED && c->state != TCP_S_FIN_WAIT_1 &&
	    c->state != TCP_S_FIN_WAIT_2)
		return true;
	c->flags |= TCP_F_ACK_NOW;
	if (seq_lt(s->seq, c->rcv_nxt)) {       /* starts with bytes we have */
		uint32_t skip = c->rcv_nxt - s->seq;

		if (skip >= len) {
			tc->st.drop_dup++;
			return true;
		}
		data += skip;
		len -= skip;
	} else if (s->seq != c->rcv_nxt) {      /* a hole before it: no reassembly */
		tc->st.drop_ooo++;
		return true;
	}
	wnd = tcp_rcv_wnd(tc, c);
	if (len > wnd)                          /* beyond the window: peer resends */
		len = wnd;
	if (!len)
		return true;
	taken = tcp_rx_deliver(tc, c, data, len);
	if (tc->cur != c)
		return false;
	c->rcv_nxt += taken;
	/* Bytes refused for want of a receive block (drop_no_buf) are not
	 * received: they neither begin a request nor keep c alive, or a peer
	 * resending them would hold c past every deadline. */
	if (taken) {
		c->last_rx_ms = tc->now_ms;
		c->flags |= TCP_F_RCVD;         /* the first request has begun */
	}
	tc->st.rx_bytes += taken;
	return true;
}

/*
 * TIME-WAIT and the peer's FIN again (our ACK of it was lost): "acknowledge
 * it, and restart the 2 MSL timeout" (RFC 9293 3.10.7.4, eighth step). The
 * entry moves to the tail of the TIME_WAIT FIFO, which stays in expiry order.
 */
static void tcp_time_wait_restart(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->state != TCP_S_TIME_WAIT || (s->flags & (TCP_FIN | TCP_RST)) != TCP_FIN ||
	    s->seq + s->len + 1 != c->rcv_nxt)
		return;
	tcp_timer_arm(tc, c, tc->now_ms + tc->conf.time_wait_ms, TCP_TM_TIME_WAIT);
	tcp_tw_remove(tc, c);
	tcp_tw_append(tc, c);
}

/* Eighth step, FIN. Only a FIN right after all the data counts. */
static void tcp_fin_arrives(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t fin_seq = s->seq + s->len;

	if (fin_seq != c->rcv_nxt) {
		/* A FIN past a hole waits for the data; the ACK asks for it. */
		if (seq_gt(fin_seq, c->rcv_nxt)) {
			if (!s->len)
				tc->st.drop_ooo++;
			c->flags |= TCP_F_ACK_NOW;
		}
		/* A resent FIN we already have: ACK it again; TIME-WAIT restarts
		 * its 2 MSL wait. */
		if ((c->flags & TCP_F_PEER_FIN) && fin_seq + 1 == c->rcv_nxt) {
			c->flags |= TCP_F_ACK_NOW;
			tcp_time_wait_restart(tc, c, s);
		}
		return;
	}
	c->rcv_nxt++;
	c->flags |= TCP_F_PEER_FIN | TCP_F_ACK_NOW;
	c->last_rx_ms = tc->now_ms;
	switch (c->state) {
	case TCP_S_ESTABLISHED:                 /* ESTABLISHED: CLOSE-WAIT */
		tcp_set_state(tc, c, TCP_S_CLOSE_WAIT);
		if (tc->app.on_peer_fin && !(c->flags & TCP_F_CLOSE_REQ))
			tc->app.on_peer_fin(tc->app.ctx, tc, c);
		break;
	case TCP_S_FIN_WAIT_1:                  /* FIN-WAIT-1: CLOSING, or TIME-WAIT
						 * when our FIN is acknowledged too */
		if (!(c->flags & TCP_F_FIN_ACKED)) {
			tcp_fin_timeout_start(tc, c);
			tcp_set_state(tc, c, TCP_S_CLOSING);
			break;
		}
		/* fall through */
	case TCP_S_FIN_WAIT_2:                  /* FIN-WAIT-2: TIME-WAIT */
		tcp_out_ack(tc, c);             /* before the entry may go */
		tcp_enter_time_wait(tc, c);
		break;
	default:
		break;
	}
}

/* RFC 9293 3.10.7.4, the eight steps, on a connection in SYN_RCVD or later. */
static void tcp_segment_arrives(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	/* SYN-RECEIVED and the SYN again with the same ISN: our SYN-ACK was
	 * lost, send it again (the SYN-ACK timer keeps its back-off). */
	if (c->state == TCP_S_SYN_RCVD && (s->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    s->seq + 1 == c->rcv_nxt) {         /* the IRS: SYN_RCVD takes no data */
		tcp_out_synack(tc, c);
		return;
	}
	/* RFC 5961 section 4.2 moves the SYN check of the fourth step ahead of
	 * the first: a SYN on a synchronized connection gets a challenge ACK
	 * whatever its sequence number, and is dropped. */
	if ((s->flags & (TCP_SYN | TCP_RST)) == TCP_SYN && c->state != TCP_S_SYN_RCVD) {
		tcp_out_challenge_ack(tc, c);
		return;
	}
	/* First: sequence number. An unacceptable segment is answered by
	 * <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> unless it is a RST, and dropped. */
	if (!tcp_seq_acceptable(tc, c, s)) {
		tcp_count_unacceptable(tc, c, s);
		/* The resent FIN lies wholly before RCV.NXT, so it ends here. */
		tcp_time_wait_restart(tc, c, s);
		if (!(s->flags & TCP_RST))
			tcp_out_ack(tc, c);
		return;
	}
	/* Second: RST. */
	if (s->flags & TCP_RST) {
		tcp_rst_arrives(tc, c, s);
		return;
	}
	/* Third (security/compartment) does not apply. Fourth: SYN (with no
	 * RST, only SYN_RCVD gets here). In SYN-RECEIVED of a passive open, go
	 * back to LISTEN; in a synchronized state, a challenge ACK. */
	if (s->flags & TCP_SYN) {
		if (c->state == TCP_S_SYN_RCVD)
			tcp_conn_free(tc, c, TCP_CLOSE_RESET);
		else
			tcp_out_challenge_ack(tc, c);
		return;
	}
	/* Fifth: ACK. "If the ACK bit is off, drop the segment and return." */
	if (!(s->flags & TCP_ACK)) {
		tc->st.drop_bad_hdr++;
		return;
	}
	if (!tcp_ack_arrives(tc, c, s))
		return;
	/* Sixth: URG is ignored (RFC 6093 advises against its use). Seventh. */
	if (s->len && !tcp_text_arrives(tc, c, s))
		return;
	/* Eighth: FIN. */
	if (s->flags & TCP_FIN)
		tcp_fin_arrives(tc, c, s);
}

/* After the steps: offer buffered bytes again if ACKs freed send space (the
 * application may have been waiting for room), then send. */
static void tcp_after_input(struct tcp_core *tc, struct tcp_conn *c)
{
	if ((c->flags & TCP_F_SPACE) && c->rx.len) {
		c->flags &= (uint16_t)~TCP_F_SPACE;
		tcp_rx_offer(tc, c);
		if (tc->cur != c)
			return;
	}
	c->flags &= (uint16_t)~TCP_F_SPACE;
	if (c->state == TCP_S_TIME_WAIT) {
		if (c->flags & TCP_F_ACK_NOW)
			tcp_out_ack(tc, c);
		return;
	}
	if (c->state != TCP_S_FREE)
		tcp_output(tc, c);
}

/*
 * RFC 9293 3.10.7.3, SYN-SENT (client mode): the server's SYN-ACK completes
 * the handshake; a RST with an acceptable ACK refuses it. A bad ACK gets a
 * reset and is dropped; a SYN without ACK (simultaneous open) is not
 * supported here and dropped, as is anything else.
 */
static void tcp_syn_sent_arrives(struct tcp_core *tc, struct tcp_conn *c,
				 const struct tcp_seg *s)
{
	bool ack_ok = (s->flags & TCP_ACK) && s->ack == c->snd_nxt;

	if ((s->flags & TCP_ACK) && !ack_ok) {
		tc->st.drop_out_of_window++;
		tcp_out_reset_reply(tc, s);
		return;
	}
	if (s->flags & TCP_RST) {
		if (!ack_ok) {
			tc->st.drop_out_of_window++;
			return;
		}
		tc->st.conns_reset++;
		tc->st.connects_refused++;
		tcp_conn_free(tc, c, TCP_CLOSE_RESET);
		return;
	}
	if (!(s->flags & TCP_SYN) || !ack_ok) {
		tc->st.drop_bad_hdr++;
		return;
	}
	c->rcv_nxt = s->seq + 1;
	c->mss = tcp_send_mss(tc, s->peer_mss);
	c->cwnd = tcp_initial_cwnd(c->mss);
	tcp_established(tc, c, s);
	c->flags |= TCP_F_ACK_NOW;          /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
	if (tc->app.on_established)
		tc->app.on_established(tc->app.ctx, tc, c);
}

/* TIME-WAIT and a new SYN above the old sequence space may reopen the tuple
 * (RFC 9293 3.10.7.4 note, RFC 6191): forget the old entry. */
static bool tcp_time_wait_reopen(struct tcp_core *tc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((s->flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN || !seq_gt(s->seq, c->rcv_nxt))
		return false;
	tcp_conn_free(tc, c, TCP_CLOSE_NORMAL);
	return true;
}

void tcp_input(struct tcp_core *tc, const struct eth_hdr *eh, const struct ipv4_hdr *ih,
	       const uint8_t *seg, uint32_t seglen)
{
	struct tcp_seg s;
	struct tcp_conn *c;
	bool dropped;

	tc->st.rx_segs++;
	if (!tcp_parse(tc, &s, eh, ih, seg, seglen))
		return;
	/* Not our port: CLOSED rules (3.10.7.1), reset unless a RST. A client
	 * takes segments from the server's port only, and drops the rest. */
	if (ntohs(tc->conf.client ? s.th->sport : s.th->dport) != tc->conf.listen_port) {
		tc->st.drop_bad_port++;
		if (!tc->conf.client)
			tcp_out_reset_reply(tc, &s);
		return;
	}
	c = tcp_table_lookup(tc, ih->src, tc->conf.client ? s.th->dport : s.th->sport);
	if (c && c->state == TCP_S_TIME_WAIT && tcp_time_wait_reopen(tc, c, &s))
		c = NULL;
	if (!c && tc->conf.client) {
		/* No LISTEN on a client: CLOSED (3.10.7.1). */
		tc->st.drop_no_conn++;
		tcp_out_reset_reply(tc, &s);
		return;
	}
	if (!c) {
		/* LISTEN (3.10.7.2). First, a RST is ignored. */
		if (s.flags & TCP_RST) {
			tc->st.drop_no_conn++;
			return;
		}
		/* Second, an ACK: a cookie, or "any acknowledgment is bad"
		 * in LISTEN: <SEQ=SEG.ACK><CTL=RST>. */
		if (s.flags & TCP_ACK) {
			c = tcp_cookie_open(tc, &s, &dropped);
			if (!c) {
				if (!dropped) {
					tc->st.drop_no_conn++;
					tcp_out_reset_reply(tc, &s);
				}
				return;
			}
		} else {
			/* Third, a SYN. Fourth, anything else is dropped. */
			if (s.flags & TCP_SYN)
				tcp_listen_syn(tc, &s);
			else
				tc->st.drop_no_conn++;
			return;
		}
	}
	tc->cur = c;
	if (c->state == TCP_S_SYN_SENT)
		tcp_syn_sent_arrives(tc, c, &s);
	else
		tcp_segment_arrives(tc, c, &s);
	if (tc->cur == c)
		tcp_after_input(tc, c);
	tc->cur = NULL;
}
