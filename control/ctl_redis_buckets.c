/*
 * ctl_redis_buckets.c - a campaign's bucket count, read once (ctl_redis_buckets.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl_redis.h"
#include "ctl_redis_buckets.h"
#include "str2int.h"

int ctl_buckets_read(struct ctl_route *rt, uint32_t id, unsigned *buckets, char *err,
		     size_t cap)
{
	char key[CTL_REDIS_KEY_CAP];
	redisReply *rep;
	uint64_t b = 1;
	int rc;

	*buckets = 1;
	snprintf(key, sizeof(key), "seckill:campaign:{%" PRIu32 "}", id);
	rc = ctl_route_command(rt, "HMGET", key, &rep, "HMGET %s stock buckets", key);
	if (rc != CTL_REDIS_OK) {
		snprintf(err, cap, "%s", ctl_route_error(rt));
		return rc;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    (rep->element[1]->type == REDIS_REPLY_STRING &&
	     !str2u64(rep->element[1]->str, 1, CTL_REDIS_BUCKETS_MAX, &b))) {
		snprintf(err, cap, "redis %s: %s: buckets is not 1..%d", ctl_route_addr(rt), key,
			 CTL_REDIS_BUCKETS_MAX);
		rc = CTL_REDIS_ERR;
	} else if (rep->element[0]->type != REDIS_REPLY_STRING) {
		rc = CTL_REDIS_NOT_FOUND;   /* no campaign (yet) */
	}
	freeReplyObject(rep);
	*buckets = (unsigned)b;
	return rc;
}

int ctl_buckets_get(struct ctl_buckets *c, struct ctl_route *rt, uint32_t id,
		    unsigned *buckets, char *err, size_t cap)
{
	int rc;

	for (unsigned i = 0; i < CTL_BUCKETS_CACHED; i++)
		if (c->camp[i].buckets && c->camp[i].id == id) {
			*buckets = c->camp[i].buckets;
			return CTL_REDIS_OK;
		}
	rc = ctl_buckets_read(rt, id, buckets, err, cap);
	if (rc == CTL_REDIS_NOT_FOUND)
		return CTL_REDIS_OK;   /* not remembered: one made later may be sharded */
	if (rc == CTL_REDIS_OK) {
		unsigned i = c->next++ % CTL_BUCKETS_CACHED;

		c->camp[i].id = id;
		c->camp[i].buckets = *buckets;
	}
	return rc;
}
