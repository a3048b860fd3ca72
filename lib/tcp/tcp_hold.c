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
 * The request itself is still acknowledged at once, by a pure ACK: the
 * peer must not retransmit it while its answer waits.
 */
#include "tcp_priv.h"

void tcp_hold(struct tcp_core *tc, struct tcp_conn *c, uint32_t ticket)
{
	if (c->flags & TCP_F_DYING)
		return;
	if (!(c->flags & TCP_F_HOLD)) {
		if (tc->cur == c) {
			/* Inside on_data: this segment is not acknowledged yet
			 * (rcv_nxt moves when on_data returns), so the flush sends
			 * data only and the input path still owes the ACK. */
			uint16_t owed = c->flags & TCP_F_ACK_NOW;

			c->flags &= (uint16_t)~TCP_F_ACK_NOW;
			tcp_output(tc, c);
			c->flags |= (uint16_t)(owed | TCP_F_ACK_NOW);
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
