/*
 * ctl_redis_events.h - the hiredis adapter's side of the order service:
 * reading what seckill-orders (orders/orders_redis.h) tells the hosts.
 *
 * Keys, beside those of control/ctl_redis.h ({id} the decimal campaign id):
 *
 *   seckill:order_events:{id}    list, appended to by seckill-orders' scripts,
 *                                one event per order that reached a final
 *                                state, in the order they happened:
 *                                  "expired <order_id> <buyer>"
 *                                  "paid <order_id> <buyer>"
 *                                (also PUBLISHed on a channel of that name;
 *                                hosts read the list: it keeps what a host
 *                                missed while it was away or down)
 *   seckill:buyer:{id}:{buyer}   the buyer's claim (ctl_redis.h; in its
 *                                bucket {id:k} for a sharded campaign); an
 *                                expiry deletes it when it names the
 *                                expired order
 *
 * The list is the record hosts catch up from: never trim it while hosts run
 * (a host reads by index, LRANGE key N N+max-1).
 *
 * A handle is a route of its own (ctl_redis_route.h; not ctl_redis.c's),
 * used by one thread, with ctl_redis.c's manners: a call on a dead link
 * returns CTL_REDIS_DOWN at once, and the handle reconnects lazily, at most
 * once per back-off interval (50 ms doubling to 2 s), each attempt bounded
 * by the timeout, so the control thread never stalls long on a dead Redis.
 */
#ifndef SECKILL_CTL_REDIS_EVENTS_H
#define SECKILL_CTL_REDIS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_redis.h"

struct ctl_redis_events;

/* A handle for seeds "IP:PORT[,IP:PORT...]" (no connection yet: the first
 * call connects). NULL with the reason in err for bad seeds or no memory. */
struct ctl_redis_events *ctl_redis_events_open(const char *seeds, unsigned timeout_ms,
					       char *err, size_t cap);
void ctl_redis_events_close(struct ctl_redis_events *e);
/* The last error's text ("" when none). */
const char *ctl_redis_events_error(const struct ctl_redis_events *e);

/* One campaign's read of its events list. */
struct ctl_redis_events_page {
	uint32_t campaign;          /* in */
	uint64_t from;              /* in: the list index to read from */
	uint64_t len;               /* out: the list's length now */
	uint64_t n;                 /* out: events read (at most max) */
};

/* Called for every event read, in list order; ev is not NUL-terminated. */
typedef void (*ctl_redis_events_fn)(void *arg, uint32_t campaign, uint64_t index,
				    const char *ev, size_t len);

/*
 * For each of n pages, pipelined in one round trip: the list's length and up
 * to max events from page[i].from on, each handed to fn. CTL_REDIS_OK when
 * every reply was read; CTL_REDIS_DOWN (link lost: some events may have been
 * handed over, read them again) or CTL_REDIS_ERR (a reply that is not what
 * LLEN and LRANGE answer).
 */
int ctl_redis_events_read(struct ctl_redis_events *e, struct ctl_redis_events_page *page,
			  size_t n, unsigned max, ctl_redis_events_fn fn, void *arg);

/* n buyer claims, pipelined: held[i] = the claim of buyer[i] in campaign[i]
 * exists (true when unknown). CTL_REDIS_OK, CTL_REDIS_DOWN or CTL_REDIS_ERR. */
int ctl_redis_events_claims(struct ctl_redis_events *e, size_t n, const uint32_t *campaign,
			    const uint64_t *buyer, bool *held);

#endif
