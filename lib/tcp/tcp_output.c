/*
 * tcp_output.c - every segment we send (lwIP's tcp_out.c).
 *
 * One builder, tcp_out_seg, writes Ethernet + IPv4 (ip4_build), the TCP
 * header, the MSS option on SYN-ACKs, the payload and the checksum, and hands
 * the frame to net_tx. Everything else decides what to send:
 *  - tcp_output: after input or an application call, queued bytes from
 *    snd_nxt, split at the peer's MSS and limited by its window, each segment
 *    carrying the ACK; the FIN rides on the last one; a pure ACK only when an
 *    ACK is owed and no data went out;
 *  - tcp_out_retransmit: on a retransmission timeout, go back to snd_una and
 *    send one segment (at least one byte, which makes it the zero-window
 *    probe when the peer's window is shut);
 *  - replies with no connection behind them: RST (RFC 9293 3.10.7.1) and the
 *    cookie SYN-ACK.
 *
 * Congestion control: none beyond the peer's receive window. The answers are
 * small (one or two segments) and the network is a LAN; a bulk sender would
 * need RFC 5681 slow start and a congestion window here.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ip4_build.h"
#include "net_csum.h"
#include "tcp_priv.h"

/*
 * Builds and sends one segment to (ip, port) via mac: sequence numbers in host
 * order, port in network order; mss_opt non-zero adds the MSS option. False
 * when net_tx had no buffer (drop_no_tx counted; retransmission recovers).
 */
bool tcp_out_seg(struct tcp_core *tc, const uint8_t mac[NET_ETH_ALEN], uint32_t ip,
		 uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		 uint16_t mss_opt, const uint8_t *data, uint32_t len)
{
	uint32_t hlen = NET_TCP_HLEN + (mss_opt ? TCP_MSS_OPT_LEN : 0);
	uint16_t l4len = (uint16_t)(hlen + len);
	void *handle;
	uint8_t *frame = tc->tx.alloc(tc->tx.ctx, &handle);

	if (!frame) {
		tc->st.drop_no_tx++;
		return false;
	}
	uint8_t *l4 = ip4_build(frame, &tc->ifc, mac, ip, NET_IPPROTO_TCP, l4len);
	struct tcp_hdr *th = (struct tcp_hdr *)l4;

	th->sport = htons(tc->conf.listen_port);
	th->dport = port;
	th->seq = htonl(seq);
	th->ack = (flags & TCP_ACK) ? htonl(ack) : 0;
	th->off = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->win = htons(win);
	th->csum = 0;
	th->urp = 0;
	if (mss_opt) {
		uint8_t *o = l4 + NET_TCP_HLEN;

		o[0] = TCP_OPT_MSS;
		o[1] = TCP_MSS_OPT_LEN;
		o[2] = (uint8_t)(mss_opt >> 8);
		o[3] = (uint8_t)mss_opt;
	}
	if (len)
		memcpy(l4 + hlen, data, len);
	th->csum = net_csum_fold(net_csum_add(net_csum_pseudo(tc->ifc.ip, ip, NET_IPPROTO_TCP,
							      l4len), l4, l4len));
	tc->tx.send(tc->tx.ctx, handle, NET_ETH_HLEN + NET_IPV4_HLEN + l4len);
	tc->st.tx_segs++;
	tc->st.tx_bytes += len;
	if (flags & TCP_RST)
		tc->st.rst_sent++;
	return true;
}

/*
 * RFC 9293 3.10.7.1 (CLOSED): a segment for no connection is answered by a
 * reset; never a reset to a reset. With an ACK the reset takes its sequence
 * number from the ACK field (<SEQ=SEG.ACK><CTL=RST>), otherwise it is
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> so the peer finds it acceptable.
 */
void tcp_out_reset_reply(struct tcp_core *tc, const struct tcp_seg *s)
{
	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK)
		tcp_out_seg(tc, s->eh->src, s->ih->src, s->th->sport, s->ack, 0, TCP_RST, 0, 0,
			    NULL, 0);
	else
		tcp_out_seg(tc, s->eh->src, s->ih->src, s->th->sport, 0,
			    s->seq + tcp_seg_seqlen(s), TCP_RST | TCP_ACK, 0, 0, NULL, 0);
}

/* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS; ISS is snd_una. */
void tcp_out_synack(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, c->snd_una, c->rcv_nxt,
		    TCP_SYN | TCP_ACK, (uint16_t)tcp_rcv_wnd(tc, c), tc->conf.mss, NULL, 0);
}

/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
void tcp_out_ack(struct tcp_core *tc, struct tcp_conn *c)
{
	if (tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt, c->rcv_nxt,
			TCP_ACK, (uint16_t)tcp_rcv_wnd(tc, c), 0, NULL, 0))
		c->flags &= (uint16_t)~TCP_F_ACK_NOW;
}

/* <SEQ=SND.NXT><CTL=RST> for an abort (RFC 9293 3.10.5); ACK is set as
 * Linux does so that middleboxes tracking state accept it. */
void tcp_out_rst(struct tcp_core *tc, struct tcp_conn *c)
{
	tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt, c->rcv_nxt,
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
 * [snd_una, snd_nxt]), with the FIN after them when fin; moves snd_nxt up to
 * the segment's end if it was below. */
static bool tcp_out_data(struct tcp_core *tc, struct tcp_conn *c, uint32_t seq, uint32_t n,
			 bool fin)
{
	uint32_t end = seq + n + fin;
	uint8_t flags = TCP_ACK | (n ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
	const uint8_t *p = n ? tcp_tx_data(tc, c) + (seq - c->snd_una) : NULL;

	if (!tcp_out_seg(tc, c->peer_mac, c->peer_ip, c->peer_port, seq, c->rcv_nxt,
			 flags, (uint16_t)tcp_rcv_wnd(tc, c), 0, p, n))
		return false;
	if (seq_gt(end, c->snd_nxt)) {
		if (!(c->flags & TCP_F_RTT)) {
			/* RFC 6298 section 3: time one new segment per RTT. */
			c->flags |= TCP_F_RTT;
			c->rtt_ts = tc->now_ms;
			c->rtt_seq = end;
		}
		c->snd_nxt = end;
	}
	c->flags &= (uint16_t)~TCP_F_ACK_NOW;
	return true;
}

/* Sends what the peer's window allows of the queue, then a pure ACK if one is
 * still owed; arms the retransmission timer when something is in flight. */
void tcp_output(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->state == TCP_S_SYN_RCVD || c->state == TCP_S_TIME_WAIT)
		return;
	while (!(c->flags & TCP_F_FIN_ACKED)) {
		uint32_t off = c->snd_nxt - c->snd_una;

		if (off > c->tx_len)
			break;                              /* FIN already sent */
		uint32_t unsent = c->tx_len - off;
		int32_t room = (int32_t)(c->snd_una + c->snd_wnd - c->snd_nxt);
		uint32_t n = unsent;

		if (n > c->mss)
			n = c->mss;
		if (room <= 0)
			n = 0;
		else if (n > (uint32_t)room)
			n = (uint32_t)room;
		/* The FIN takes no window room here: it is one sequence number and
		 * a peer that shut its window still has to see it eventually. */
		bool fin = (c->flags & TCP_F_CLOSE_REQ) && n == unsent && room >= 0;

		if (!n && !fin)
			break;
		if (!tcp_out_data(tc, c, c->snd_nxt, n, fin))
			break;
	}
	if (c->flags & TCP_F_ACK_NOW)
		tcp_out_ack(tc, c);
	tcp_timer_update(tc, c, false);
}

/*
 * Retransmission timeout (RFC 6298 5.4): resend the oldest unacknowledged
 * segment only; snd_nxt stays, and each further timeout resends the then
 * oldest one. With nothing in flight and the peer's window shut, the same
 * call sends one new byte: that is the zero-window probe (RFC 9293 3.8.6.1),
 * and the peer's ACK of it tells us when the window opens.
 */
void tcp_out_retransmit(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t n = c->tx_len;
	uint32_t wnd = c->snd_wnd ? c->snd_wnd : 1;

	if (c->flags & TCP_F_FIN_ACKED)
		return;
	/* Karn's algorithm: an ACK may be for either copy, so no RTT sample. */
	c->flags &= (uint16_t)~TCP_F_RTT;
	if (n > c->mss)
		n = c->mss;
	if (n > wnd)
		n = wnd;
	bool fin = (c->flags & TCP_F_CLOSE_REQ) && n == c->tx_len;

	if (!n && !fin)
		return;
	tc->st.retrans_segs++;
	if (tcp_out_data(tc, c, c->snd_una, n, fin))
		c->flags &= (uint16_t)~TCP_F_RTT;
}
