/*
 * tcp_output.c - every segment we send (lwIP's tcp_out.c).
 *
 * One builder writes Ethernet + IPv4 (ip4_build), the TCP header and the MSS
 * option on SYN-ACKs (tcp_out_begin), then, once the payload is in (copied
 * from the send ring, across its wrap, or from the caller by tcp_out_seg),
 * the checksum, and hands the frame to net_tx (tcp_out_end). Everything else
 * decides what to send:
 *  - tcp_output: after input or an application call, queued bytes from
 *    snd_nxt, split at the peer's MSS and limited by its window and by our
 *    congestion window, each segment carrying the ACK; the FIN rides on the
 *    last one; a pure ACK only when an ACK is owed and no data went out;
 *  - tcp_out_retransmit: on a retransmission timeout, go back to snd_una
 *    (RFC 6298 5.4, the BSD way: snd_nxt = snd_una, snd_max remembers how far
 *    we had been) with a congestion window of one segment. Each ACK that
 *    then advances snd_una lets tcp_output resend the next segments at once,
 *    so a lost flight comes back in a few round trips instead of one segment
 *    per backed-off timeout. With the peer's window shut the same call sends
 *    one byte: the zero-window probe (RFC 9293 3.8.6.1);
 *  - replies with no connection behind them: RST (RFC 9293 3.10.7.1) and the
 *    cookie SYN-ACK.
 *
 * Congestion control, RFC 5681 kept simple: cwnd starts at the initial
 * window of RFC 6928, grows in slow start by min(acked, MSS) per ACK that
 * advances snd_una (doubling per round trip) up to TCP_MAX_WIN, and drops to
 * one MSS after a retransmission timeout. There is no ssthresh, congestion
 * avoidance, fast retransmit or idle restart: the answers are small (one or
 * two segments) and the network is a LAN; the timeout is the loss signal.
 *
 * Sequence numbers of ACK-only segments and RSTs: SND.NXT, unless it lies
 * beyond the peer's window (we sent before the window shrank), then the
 * window's right edge, as Linux does (tcp_acceptable_seq): a receiver drops
 * a segment whose sequence number is outside its window, ACK included.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ip4_build.h"
#include "net_csum.h"
#include "tcp_priv.h"

/* A segment being built in a frame of net_tx: tcp_out_begin writes the
 * headers, the caller fills the len payload bytes, tcp_out_end sends it. */
struct tcp_frame {
	void    *handle;
	uint8_t *l4;             /* TCP header */
	uint8_t *payload;        /* len bytes, right after the header */
	uint32_t ip;             /* destination (network order), for the checksum */
	uint32_t len;
	uint16_t l4len;
	uint8_t  flags;
};

/*
 * Takes a frame from net_tx and writes Ethernet, IPv4 and the TCP header of
 * a segment from sport to (ip, dport) via mac, with len bytes of payload to
 * come: ports in network order, sequence numbers in host order; mss_opt
 * non-zero adds the MSS option. False when net_tx had no buffer (drop_no_tx
 * counted; retransmission recovers).
 */
static bool tcp_out_begin(struct tcp_core *tc, struct tcp_frame *f, const uint8_t mac[NET_ETH_ALEN],
			  uint32_t ip, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			  uint8_t flags, uint16_t win, uint16_t mss_opt, uint32_t len)
{
	uint32_t hlen = NET_TCP_HLEN + (mss_opt ? TCP_MSS_OPT_LEN : 0);
	uint8_t *frame = tc->tx.alloc(tc->tx.ctx, &f->handle);

	if (!frame) {
		tc->st.drop_no_tx++;
		return false;
	}
	f->l4len = (uint16_t)(hlen + len);
	f->l4 = ip4_build(frame, &tc->ifc, mac, ip, NET_IPPROTO_TCP, f->l4len);
	f->payload = f->l4 + hlen;
	f->ip = ip;
	f->len = len;
	f->flags = flags;

	struct tcp_hdr *th = (struct tcp_hdr *)f->l4;

	th->sport = sport;
	th->dport = dport;
	th->seq = htonl(seq);
	th->ack = (flags & TCP_ACK) ? htonl(ack) : 0;
	th->off = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->win = htons(win);
	th->csum = 0;
	th->urp = 0;
	if (mss_opt) {
		uint8_t *o = f->l4 + NET_TCP_HLEN;

		o[0] = TCP_OPT_MSS;
		o[1] = TCP_MSS_OPT_LEN;
		o[2] = (uint8_t)(mss_opt >> 8);
		o[3] = (uint8_t)mss_opt;
	}
	return true;
}

/* Checksums the segment tcp_out_begin started, payload filled, and sends it. */
static void tcp_out_end(struct tcp_core *tc, const struct tcp_frame *f)
{
	struct tcp_hdr *th = (struct tcp_hdr *)f->l4;

	th->csum = net_csum_fold(net_csum_add(net_csum_pseudo(tc->ifc.ip, f->ip, NET_IPPROTO_TCP,
							      f->l4len), f->l4, f->l4len));
	tc->tx.send(tc->tx.ctx, f->handle, NET_ETH_HLEN + NET_IPV4_HLEN + f->l4len);
	tc->st.tx_segs++;
	tc->st.tx_bytes += f->len;
	if (f->flags & TCP_RST)
		tc->st.rst_sent++;
}

/* Starts a segment of the connection keyed by port (network order): the
 * peer's port, or in client mode our own (the server's is listen_port). */
static bool tcp_out_begin_conn(struct tcp_core *tc, struct tcp_frame *f,
			       const uint8_t mac[NET_ETH_ALEN], uint32_t ip, uint16_t port,
			       uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
			       uint16_t mss_opt, uint32_t len)
{
	uint16_t listen = htons(tc->conf.listen_port);

	return tcp_out_begin(tc, f, mac, ip, tc->conf.client ? port : listen,
			     tc->conf.client ? listen : port, seq, ack, flags, win, mss_opt, len);
}

/*
 * Builds and sends one segment of the connection keyed by (ip, port) via
 * mac, with len bytes from data (see tcp_out_begin_conn and tcp_out_begin).
 */
bool tcp_out_seg(struct tcp_core *tc, const uint8_t mac[NET_ETH_ALEN], uint32_t ip,
		 uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		 uint16_t mss_opt, const uint8_t *data, uint32_t len)
{
	struct tcp_frame f;

	if (!tcp_out_begin_conn(tc, &f, mac, ip, port, seq, ack, flags, win, mss_opt, len))
		return false;
	if (len)
		memcpy(f.payload, data, len);
	tcp_out_end(tc, &f);
	return true;
}

/*
 * RFC 9293 3.10.7.1 (CLOSED): a segment for no connection is answered by a
 * reset; never a reset to a reset. The reset goes back the way the segment
 * came, from the port it was sent to (which may be one we do not serve:
 * the peer then sees "connection refused") to the port it came from. With
 * an ACK the reset takes its sequence number from the ACK field
 * (<SEQ=SEG.ACK><CTL=RST>), otherwise it is
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> so the peer finds it acceptable.
 */
void tcp_out_reset_reply(struct tcp_core *tc, const struct tcp_seg *s)
{
	struct tcp_frame f;
	bool ok;

	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK)
		ok = tcp_out_begin(tc, &f, s->eh->src, s->ih->src, s->th->dport, s->th->sport,
				   s->ack, 0, TCP_RST, 0, 0, 0);
	else
		ok = tcp_out_begin(tc, &f, s->eh->src, s->ih->src, s->th->dport, s->th->sport,
				   0, s->seq + tcp_seg_seqlen(s), TCP_RST | TCP_ACK, 0, 0, 0);
	if (ok)
		tcp_out_end(tc, &f);
}

/* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS; ISS is snd_una. In
 * SYN_SENT (client mode) the opening <SEQ=ISS><CTL=SYN> instead. */
void tcp_out_synack(struct tcp_core *tc, struct tcp_conn *c)
{
	uint8_t flags = c->state == TCP_S_SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;

	tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, c->snd_una, c->rcv_nxt, flags,
		    (uint16_t)tcp_rcv_wnd(tc, c), tc->conf.mss, NULL, 0);
}

/*
 * The sequence number for a segment without data: SND.NXT while it is inside
 * the peer's window, else the window's right edge (SND.UNA + SND.WND), which
 * the peer accepts. In SYN_RCVD the peer has no window for us yet: SND.NXT.
 */
static uint32_t tcp_ack_seq(const struct tcp_conn *c)
{
	uint32_t edge = c->snd_una + c->snd_wnd;

	if (c->state == TCP_S_SYN_RCVD || seq_leq(c->snd_nxt, edge))
		return c->snd_nxt;
	return edge;
}

/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (SND.NXT kept inside the peer's window) */
void tcp_out_ack(struct tcp_core *tc, struct tcp_conn *c)
{
	if (tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, tcp_ack_seq(c), c->rcv_nxt,
			TCP_ACK, (uint16_t)tcp_rcv_wnd(tc, c), 0, NULL, 0))
		c->flags &= (uint16_t)~(TCP_F_ACK_NOW | TCP_F_ACK_LATER);
}

/* <SEQ=SND.NXT><CTL=RST> for an abort (RFC 9293 3.10.5); ACK is set as
 * Linux does so that middleboxes tracking state accept it. */
void tcp_out_rst(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, tcp_ack_seq(c), c->rcv_nxt,
		    TCP_RST | TCP_ACK, 0, 0, NULL, 0);
}

/*
 * RFC 5961 challenge ACK: an ACK of what we expect, so that a real peer that
 * lost state answers it with an exactly-in-sequence RST. Limited per core per
 * second (conf.challenge_ack_limit, RFC 5961 section 7) so a flood of forged
 * segments cannot turn us into an amplifier. True when one was sent.
 */
bool tcp_out_challenge_ack(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t sec = tc->now_ms / 1000;

	if (sec != tc->chal_sec) {
		tc->chal_sec = sec;
		tc->chal_count = 0;
	}
	if (tc->chal_count >= tc->conf.challenge_ack_limit)
		return false;
	tc->chal_count++;
	tc->st.challenge_acks++;
	tcp_out_ack(tc, c);
	return true;
}

/* Sends n queued bytes starting at sequence number seq (which is in
 * [snd_una, snd_max]), with the FIN after them when fin; moves snd_nxt (and
 * snd_max) up to the segment's end if they were below. A segment starting
 * below snd_max is a retransmission: counted, and never timed (Karn). */
static bool tcp_out_data(struct tcp_core *tc, struct tcp_conn *c, uint32_t seq, uint32_t n,
			 bool fin)
{
	uint32_t end = seq + n + fin;
	uint8_t flags = TCP_ACK | (n ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
	bool resent = seq_lt(seq, c->snd_max);
	struct tcp_frame f;

	if (!tcp_out_begin_conn(tc, &f, c->peer_mac, c->peer_ip, c->peer_port, seq, c->rcv_nxt,
				flags, (uint16_t)tcp_rcv_wnd(tc, c), 0, n))
		return false;
	if (n)          /* the send ring holds the bytes from snd_una on */
		tcp_ring_read_at(&tc->txp, &c->tx, seq - c->snd_una, f.payload, n);
	tcp_out_end(tc, &f);
	if (resent)
		tc->st.retrans_segs++;
	if (seq_gt(end, c->snd_max)) {
		if (!resent && !(c->flags & TCP_F_RTT)) {
			/* RFC 6298 section 3: time one new segment per RTT. */
			c->flags |= TCP_F_RTT;
			c->rtt_ts = tc->now_ms;
			c->rtt_seq = end;
		}
		c->snd_max = end;
	}
	if (seq_gt(end, c->snd_nxt))
		c->snd_nxt = end;
	c->flags &= (uint16_t)~(TCP_F_ACK_NOW | TCP_F_ACK_LATER);
	return true;
}

/* Bytes from snd_nxt to the edge at snd_una + wnd, 0 when there are none. */
static uint32_t tcp_room(const struct tcp_conn *c, uint32_t wnd)
{
	int32_t room = (int32_t)(c->snd_una + wnd - c->snd_nxt);

	return room > 0 ? (uint32_t)room : 0;
}

/*
 * Sends from snd_nxt what the peer's window and cwnd allow, each segment at
 * most one MSS. probe: the peer's window is shut and nothing is in flight,
 * send one byte anyway (the zero-window probe).
 */
static void tcp_out_push(struct tcp_core *tc, struct tcp_conn *c, bool probe)
{
	/* BSD's tcp_output: the peer shut its window on data we had sent
	 * beyond it. It will drop that data (RFC 9293 3.8.6.2.1 lets it), so
	 * pull snd_nxt back: it goes again, from snd_una, once the window
	 * opens, instead of waiting for a timeout. Not for a lone FIN: the
	 * peer answers it with another zero-window ACK, which would resend it
	 * at once, forever; the timer resends it. */
	if (c->snd_wnd == 0 && c->tx.len && seq_gt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	while (!(c->flags & TCP_F_FIN_ACKED)) {
		uint32_t off = c->snd_nxt - c->snd_una;

		if (off > c->tx.len)
			break;                              /* FIN already sent */
		uint32_t unsent = c->tx.len - off;

		/* Held (tcp_hold.c): only what went out before may go again. */
		if ((c->flags & TCP_F_HOLD) && seq_gt(c->snd_nxt + unsent, c->snd_max))
			unsent = seq_gt(c->snd_max, c->snd_nxt) ? c->snd_max - c->snd_nxt : 0;
		uint32_t room = tcp_room(c, c->snd_wnd), cong = tcp_room(c, c->cwnd);
		uint32_t n = unsent;

		if (n > c->mss)
			n = c->mss;
		if (n > room)
			n = room;
		if (n > cong)
			n = cong;
		if (probe && !n && unsent && !room && off == 0)
			n = 1;
		/* The FIN takes no window room here: it is one sequence number and
		 * a peer that shut its window still has to see it eventually; but
		 * not from beyond a shrunk window's right edge. */
		bool fin = (c->flags & (TCP_F_CLOSE_REQ | TCP_F_HOLD)) == TCP_F_CLOSE_REQ &&
			n == unsent &&
			seq_leq(c->snd_nxt, c->snd_una + c->snd_wnd);

		if (!n && !fin)
			break;
		if (!tcp_out_data(tc, c, c->snd_nxt, n, fin))
			break;
		probe = false;
	}
}

/* Sends what the windows allow of the queue, then a pure ACK if one is
 * still owed; arms the retransmission timer when something is in flight. */
void tcp_output(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->state == TCP_S_SYN_RCVD || c->state == TCP_S_TIME_WAIT ||
	    c->state == TCP_S_SYN_SENT)
		return;
	tcp_out_push(tc, c, false);
	if (c->flags & TCP_F_ACK_NOW)
		tcp_out_ack(tc, c);
	tcp_timer_update(tc, c, false);
}

/* RFC 6928: the initial window, min(10 * MSS, max(2 * MSS, 14600)). */
uint16_t tcp_initial_cwnd(uint16_t mss)
{
	uint32_t w = 14600;

	if (w < 2u * mss)
		w = 2u * mss;
	if (w > 10u * mss)
		w = 10u * mss;
	return (uint16_t)(w > TCP_MAX_WIN ? TCP_MAX_WIN : w);
}

/* An ACK advanced snd_una by n: slow start, cwnd += min(n, MSS) (RFC 5681 3.1). */
void tcp_cwnd_acked(struct tcp_conn *c, uint32_t n)
{
	uint32_t w = c->cwnd + (n < c->mss ? n : c->mss);

	c->cwnd = (uint16_t)(w > TCP_MAX_WIN ? TCP_MAX_WIN : w);
}

/*
 * Retransmission timeout (RFC 6298 5.4, go-back-N): everything from snd_una
 * is resent, starting now with the oldest segment; the congestion window
 * falls to one MSS (RFC 5681 3.1, the loss window), and each ACK of the
 * resent data brings the next segments out (tcp_output). With the peer's
 * window shut this is a zero-window probe instead, one byte, and cwnd is
 * left alone: a shut window is not a sign of congestion.
 */
void tcp_out_retransmit(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->flags & TCP_F_FIN_ACKED)
		return;
	/* Karn's algorithm: an ACK may be for either copy, so no RTT sample. */
	c->flags &= (uint16_t)~TCP_F_RTT;
	if (c->snd_wnd)
		c->cwnd = c->mss;
	c->snd_nxt = c->snd_una;
	tcp_out_push(tc, c, true);
}
