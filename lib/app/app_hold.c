/*
 * app_hold.c - a sold order's 200 waits until the order is durable.
 *
 * No buyer hears "you got it" for an order a crash could still lose. When
 * sale_buy sells, the route sets the answer's hold ticket (the order's
 * sequence on this core) and queues (connection, sequence) here; the HTTP
 * server then queues the answer with tcp_hold, so TCP keeps it, and every
 * answer pipelined behind it on that connection, unsent. The control thread
 * publishes how far each core's orders are durable (sale_durable_seq); the
 * worker loop calls app_release with it, and every connection whose last
 * held order is now durable is released (tcp_release) and its answers leave.
 *
 * Sequences only grow on a core, so the queue is a FIFO in sequence order
 * and a release pops from its head. A connection that sold twice before the
 * first became durable keeps the later ticket (tcp_hold replaces it): the
 * earlier entry finds a ticket that is not its own and passes, and the later
 * one releases. A connection closed meanwhile (reset, timed out) and its
 * entry reused by another has another ticket too. Refusals (sold out,
 * limited, already bought) are never held: they took nothing.
 */
#include <errno.h>
#include <stdlib.h>

#include "app.h"

int app_set_hold(struct app *a, uint32_t cap)
{
	free(a->held);
	a->held = NULL;
	a->held_cap = a->held_head = a->held_n = 0;
	if (cap == 0)
		return 0;
	a->held = calloc(cap, sizeof(*a->held));
	if (a->held == NULL)
		return -ENOMEM;
	a->held_cap = cap;
	return 0;
}

void app_hold_push(struct app *a, struct tcp_conn *c, uint64_t seq)
{
	struct app_held *h = &a->held[(a->held_head + a->held_n) % a->held_cap];

	h->c = c;
	h->seq = seq;
	a->held_n++;
	a->stats.held++;
}

unsigned app_release(struct app *a, struct tcp_core *tc, uint64_t durable)
{
	unsigned n = 0;

	while (a->held_n != 0) {
		struct app_held *h = &a->held[a->held_head];

		if (h->seq > durable)
			break;
		if (tcp_release(tc, h->c, (uint32_t)h->seq))
			n++;
		a->held_head = (a->held_head + 1) % a->held_cap;
		a->held_n--;
	}
	a->stats.released += n;
	return n;
}
