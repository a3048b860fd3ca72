/*
 * tcp_hold.c - answers kept unsent until the application releases them.
 *
 * The sale answers a buy that took a unit only once the order is durable,
 * and whatever the buyer pipelined behind it must come after it. The
 * simplest place to keep those answers is where they already are: the
 * connection's send ring. tcp_hold marks the connection; tcp_out_push then
 * sends nothing beyond snd_max (what went out before the hold may still be
 * retransmitted) and no FIN. tcp_release clears the mark and sends.
 *
 * What was queued before the hold goes out first (tcp_output here, even
 * from inside on_data, where the input path would otherwise send it with
 * its ACK a moment later), so earlier answers on the connection are not
 * held with the new one unless the peer's window keeps them back anyway.
 *
 * The request's ACK waits for its answer (a delayed ACK, RFC 1122 4.2.3.2),
 * up to conf.delack_ms: the group commit releases most answers within a
 * few milliseconds, and the answer carries the ACK, so a held buy costs one
 * segment each way instead of a pure ACK and then the answer. Past the
 * delay a pure ACK goes alone (tcp_delack_run), well before any peer's
 * retransmission timer (200 ms at least) would resend the request. Only the
 * segment that made the hold is delayed; whatever else arrives while held
 * is acknowledged at once, as are FINs and window updates.
 */
#include "tcp_priv.h"

/* Puts c's owed ACK in the delayed-ACK ring; false when it must go now
 * (delays off, or the ring full: more owed ACKs than connections). */
static bool tcp_delack_push(struct tcp_core *tc, struct tcp_conn *c)
{
	uint32_t cap = tc->conf.max_conns, at = tc->dl_head + tc->dl_n;

	if (c->flags & TCP_F_ACK_LATER)
		return true;            /* already in the ring, due no later */
	if (!tc->conf.delack_ms || tc->dl_n == cap)
		return false;
	if (at >= cap)
		at -= cap;
	tc->dl_conn[at] = tcp_conn_idx(tc, c);
	tc->dl_due[at] = tc->now_ms + tc->conf.delack_ms;
	tc->dl_n++;
	c->flags |= TCP_F_ACK_LATER;
	tc->st.acks_delayed++;
	return true;
}

/*
 * The ring's entries whose delay ran out: a connection that still owes its
 * ACK (no segment of ours carried it meanwhile) sends it alone. An entry
 * whose connection was freed, or freed and taken by another one since, at
 * worst sends that one an ACK early, which is always allowed.
 */
void tcp_delack_run(struct tcp_core *tc)
{
	uint32_t cap = tc->conf.max_conns;

	while (tc->dl_n && seq_leq(tc->dl_due[tc->dl_head], tc->now_ms)) {
		struct tcp_conn *c = &tc->conns[tc->dl_conn[tc->dl_head]];

		if (++tc->dl_head == cap)
			tc->dl_head = 0;
		tc->dl_n--;
		if (!(c->flags & TCP_F_ACK_LATER) || c->state == TCP_S_FREE ||
		    c->state == TCP_S_SYN_RCVD || c->state == TCP_S_SYN_SENT)
			continue;       /* an answer (or any segment) carried it */
		c->flags = (uint16_t)((c->flags & ~TCP_F_ACK_LATER) | TCP_F_ACK_NOW);
		tc->st.acks_delayed_sent++;
		tcp_out_ack(tc, c);     /* no buffer: ACK_NOW stays for the next output */
	}
}

void tcp_hold(struct tcp_core *tc, struct tcp_conn *c, uint32_t ticket)
{
	if (c->flags & TCP_F_DYING)
		return;
	if (!(c->flags & TCP_F_HOLD)) {
		if (tc->cur == c) {
			/* Inside on_data: this segment is not acknowledged yet
			 * (rcv_nxt moves when on_data returns), so the flush sends
			 * data only and the input path still owes the ACK. */
			c->flags &= (uint16_t)~TCP_F_ACK_NOW;
			tcp_output(tc, c);
			if (!tcp_delack_push(tc, c))
				c->flags |= TCP_F_ACK_NOW;
		} else {
			tcp_output(tc, c);
		}
		c->flags |= TCP_F_HOLD;
	}
	c->hold_ticket = ticket;
}

bool tcp_release(struct tcp_core *tc, struct tcp_conn *c, uint32_t ticket)
{
	if (!(c->flags & TCP_F_HOLD) || c->hold_ticket != ticket)
		return false;
	c->flags &= (uint16_t)~TCP_F_HOLD;
	if (c->state != TCP_S_FREE)
		tcp_output(tc, c);
	return true;
}
