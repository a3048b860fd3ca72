/*
 * orders_redis.h - telling the sale (Redis) what became of an order.
 *
 * Expired: the order's unit goes back to seckill:stock:{id} (the hosts take
 * it and sell it again), seckill:sold:{id} goes down by it, and the buyer's
 * claim seckill:buyer:{id}:{buyer} is deleted if it is still this order's,
 * so the buyer may buy again. Paid: announced only. Both are one Lua script
 * each, atomic and idempotent by order id: the order id enters
 * seckill:returned:{id} (or seckill:paid:{id}) in the same script, and a
 * second run finds it there and changes nothing ("replay"), so a sweeper that
 * crashed between Redis and PostgreSQL repeats the call safely.
 *
 * Every change is also an event for the hosts, appended to the list
 * seckill:order_events:{id} and published on the channel of the same name:
 *
 *     "expired <order_id> <buyer>"      "paid <order_id> <buyer>"
 *
 * A host releases the buyer from its in-memory purchase set on "expired"
 * (the host whose node id is in the order id holds the claim) and shows the
 * order's new status. The list lets a host that was disconnected catch up
 * from the index it last read (LRANGE key N -1); the channel is the fast
 * path. Keys are per campaign, tagged {id}, so a campaign's keys stay in
 * one slot, as the control plane's scripts need (control/ctl_redis.h); a
 * sharded campaign's claim is a field of its bucket's hash
 * (seckill:claims:{id:k}, another slot), released by a second script after
 * the give-back (the give-back's replay runs it again). One Redis or a
 * Redis Cluster, found from --redis.
 */
#ifndef SECKILL_ORDERS_REDIS_H
#define SECKILL_ORDERS_REDIS_H

#include <stddef.h>
#include <stdint.h>

enum or_rc {
	OR_OK = 0,          /* done now */
	OR_REPLAY = 1,      /* done before: nothing changed */
	OR_DOWN = -1,       /* no connection: try again later */
	OR_ERR = -2,        /* Redis refused (campaign unknown to Redis ...): see the text */
};

/* One order's change for or_tell_many. */
struct or_change {
	const char *order_id;
	uint32_t campaign;
	uint64_t buyer;
	uint32_t qty;
	int expired;        /* 1: give back; 0: paid */
	int rc;             /* out: enum or_rc */
};

struct orders_redis;

/* Lazy: connects at the first call; NULL only without memory. */
struct orders_redis *or_open(const char *host, int port);
void or_close(struct orders_redis *r);

/* n changes, pipelined: one round trip. Returns OR_OK when every reply was
 * read (each change's rc says how it went) or OR_DOWN. */
int or_tell_many(struct orders_redis *r, struct or_change *ch, size_t n);

/* The last error's text. */
const char *or_error(const struct orders_redis *r);

/* The scripts' text (the audit and the tests read the same keys). */
extern const char or_lua_give_back[];
extern const char or_lua_paid[];

#endif
