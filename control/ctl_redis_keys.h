/*
 * ctl_redis_keys.h - the names of a buyer's claim and of a sharded
 * campaign's bucket keys (the layout: ctl_redis.h), for every program that
 * reads them: the hosts (ctl_redis*.c), the order service
 * (orders/orders_redis.c), seckillctl audit.
 *
 * A campaign created with one bucket keeps its claims beside it:
 * seckill:buyer:{id}:{buyer}. One created with B > 1 buckets puts buyer
 * b's claim in bucket b % B: seckill:buyer:{id:k}:{buyer}, a hash tag of
 * its own, so a Redis Cluster spreads the claims over its primaries.
 */
#ifndef SECKILL_CTL_REDIS_KEYS_H
#define SECKILL_CTL_REDIS_KEYS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

/* Keys are "seckill:<kind>:{<u32>[:<u32>]}[:<u64>]": well under this. */
#define CTL_REDIS_KEY_CAP 64
/* Buckets a campaign may have (seckill:campaign:{id} field buckets). */
#define CTL_REDIS_BUCKETS_MAX 256

/* The bucket of a buyer in a campaign of `buckets` buckets (0 when 1). */
static inline unsigned ctl_redis_bucket(uint64_t buyer, unsigned buckets)
{
	return buckets > 1 ? (unsigned)(buyer % buckets) : 0;
}

/* The hash tag of buyer's bucket: "{id}", or "{id:k}" when sharded. */
static inline void ctl_redis_bucket_tag(char *buf, size_t cap, uint32_t id, unsigned buckets,
					uint64_t buyer)
{
	if (buckets > 1)
		snprintf(buf, cap, "{%" PRIu32 ":%u}", id, ctl_redis_bucket(buyer, buckets));
	else
		snprintf(buf, cap, "{%" PRIu32 "}", id);
}

/* seckill:buyer:<tag>:<buyer>: the buyer's claim. */
static inline void ctl_redis_claim_key(char *buf, size_t cap, uint32_t id, unsigned buckets,
				       uint64_t buyer)
{
	char tag[32];

	ctl_redis_bucket_tag(tag, sizeof(tag), id, buckets, buyer);
	snprintf(buf, cap, "seckill:buyer:%s:%" PRIu64, tag, buyer);
}

#endif
