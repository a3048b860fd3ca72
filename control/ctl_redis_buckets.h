/*
 * ctl_redis_buckets.h - how many buckets a campaign's claims have (its
 * hash's field buckets, ctl_redis.h), remembered, for the programs beside
 * the hosts' adapter that read or release claims over a ctl_route: the
 * order service (orders/orders_redis.c), the hosts' events reader
 * (ctl_redis_events.c), seckillctl audit.
 *
 * Fixed for a campaign's life, so remembered once read; a campaign not
 * (yet) in Redis is not remembered (one created later may be sharded).
 */
#ifndef SECKILL_CTL_REDIS_BUCKETS_H
#define SECKILL_CTL_REDIS_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_redis_route.h"

#define CTL_BUCKETS_CACHED 64

struct ctl_buckets {
	struct {
		uint32_t id;
		unsigned buckets;   /* 0: free */
	} camp[CTL_BUCKETS_CACHED];
	unsigned next;
};

/*
 * Campaign id's buckets read from its hash, no cache: *buckets (1 without
 * the field), CTL_REDIS_NOT_FOUND when the campaign is not in Redis, _DOWN
 * or _ERR (a malformed field) with the text in err.
 */
int ctl_buckets_read(struct ctl_route *rt, uint32_t id, unsigned *buckets, char *err,
		     size_t cap);

/*
 * Campaign id's buckets in *buckets (1 for a campaign without the field,
 * or not in Redis). A ctl_redis code: CTL_REDIS_OK, _DOWN or _ERR (a
 * malformed field), with the text in err.
 */
int ctl_buckets_get(struct ctl_buckets *c, struct ctl_route *rt, uint32_t id,
		    unsigned *buckets, char *err, size_t cap);

#endif
