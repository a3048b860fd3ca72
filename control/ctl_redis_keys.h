/*
 * ctl_redis_keys.h - where a buyer's claim is (the layout: ctl_redis.h), for
 * every program that reads or releases claims: the hosts (ctl_redis*.c),
 * the order service (orders/orders_redis.c), seckillctl audit.
 *
 * A campaign created with one bucket keeps each claim in a key of its own
 * beside it: seckill:buyer:{id}:{buyer}, a string (the order id) with a
 * TTL. One created with B > 1 buckets puts buyer b's claim in bucket
 * k = b % B, as field b of the hash seckill:claims:{id:k}: a hash tag of
 * its own, so a Redis Cluster spreads the claims over its primaries, and a
 * field, not a key, so a claim costs Redis a field of one HSET instead of
 * a SET NX EX (about 40 % less CPU an order: BENCHMARKS.md); the hash's TTL
 * is the claims' (set again by every call that claims).
 */
#ifndef SECKILL_CTL_REDIS_KEYS_H
#define SECKILL_CTL_REDIS_KEYS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Keys are "seckill:<kind>:{<u32>[:<u32>]}[:<u64>]": well under this. */
/* A buyer in decimal, a claim's field. */
#define CTL_REDIS_FIELD_CAP 24
#define CTL_REDIS_KEY_CAP 64
/* Buckets a campaign may have (seckill:campaign:{id} field buckets). */
#define CTL_REDIS_BUCKETS_MAX 256

/* The bucket of a buyer in a campaign of `buckets` buckets (0 when 1). */
static inline unsigned ctl_redis_bucket(uint64_t buyer, unsigned buckets)
{
	return buckets > 1 ? (unsigned)(buyer % buckets) : 0;
}

/*
 * The buyer's claim: key (and *field = the buyer in decimal, returned
 * true) for a sharded campaign's hash, or the claim's own key (returns
 * false, field untouched).
 */
static inline bool ctl_redis_claim_at(char *key, size_t cap, char *field, size_t fcap,
				      uint32_t id, unsigned buckets, uint64_t buyer)
{
	if (buckets > 1) {
		snprintf(key, cap, "seckill:claims:{%" PRIu32 ":%u}", id,
			 ctl_redis_bucket(buyer, buckets));
		snprintf(field, fcap, "%" PRIu64, buyer);
		return true;
	}
	snprintf(key, cap, "seckill:buyer:{%" PRIu32 "}:%" PRIu64, id, buyer);
	return false;
}

#endif
