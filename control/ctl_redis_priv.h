/*
 * ctl_redis_priv.h - what the files of the hiredis adapter share: the
 * handle, the scripts by id, and the helpers every call goes through.
 *
 *   ctl_redis.c          connection, campaigns, stock (take, give back),
 *                        status, release
 *   ctl_redis_confirm.c  confirms: one by one, or batched per campaign or
 *                        per bucket of a sharded campaign
 *   ctl_redis_shard.c    a sharded campaign's buckets: this host's claims
 *                        counted there, settled on the campaign's slot
 *   ctl_redis_route.c    which node a command goes to (a cluster's slots)
 *
 * Not for users of the adapter: they include ctl_redis.h.
 */
#ifndef SECKILL_CTL_REDIS_PRIV_H
#define SECKILL_CTL_REDIS_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <hiredis/hiredis.h>

#include "ctl_redis.h"
#include "ctl_redis_keys.h"
#include "ctl_redis_route.h"

/* SCAN batch when a forced create deletes old buyer claims. */
#define CTL_REDIS_SCAN_COUNT "1000"
#define CTL_REDIS_SHA_CAP 41
/* Orders one confirm_batch call confirms at most: a pass's batch
 * (ctl_sale_redis.c), and a bound on how long one script blocks Redis
 * (tools/sim-hosts: ~5 us of Redis CPU an order on a loaded 2-CPU VM,
 * so about a millisecond a call). */
#define CTL_REDIS_CONFIRM_BATCH_MAX 256
/* confirm_batch's fixed keys (sold, hosts, stock, released) and args (host, ttl). */
#define CTL_REDIS_BATCH_KEYS 4
#define CTL_REDIS_BATCH_ARGS 2
/* Sharded campaigns whose bucket counts a handle keeps (a host sells a
 * few campaigns at once; one evicted is read again from Redis). */
#define CTL_REDIS_SHARDS_CACHED 16

enum ctl_script_id { S_TAKE, S_GIVE_BACK, S_CONFIRM, S_CONFIRM_BATCH, S_CREATE, S_STATUS,
		     S_RELEASE_HOST, S_CLAIM_BATCH, S_SETTLE, S_N };

struct ctl_redis_script {
	const char *name;
	const char *src;
};
extern const struct ctl_redis_script ctl_redis_scripts[S_N];

/*
 * What this handle knows of one campaign's buckets: how many (1: not
 * sharded), and for a sharded one the claims this host won in each, as
 * the buckets last said (absolute counts: a reply lost in flight is made
 * good by the next), and the total the campaign's slot last settled.
 */
struct rd_shard {
	uint32_t id;
	unsigned buckets;           /* 0: the entry is free */
	uint64_t settled;
	uint64_t claimed[CTL_REDIS_BUCKETS_MAX];
};

struct ctl_redis {
	struct ctl_route *rt;       /* the seed, or the cluster's primaries */
	char ip[256];               /* the seed, for messages */
	int port;
	char host[CTL_REDIS_HOST_MAX + 1];
	uint32_t claim_ttl_s;
	char sha[S_N][CTL_REDIS_SHA_CAP];
	char err[CTL_REDIS_ERR_CAP];
	enum ctl_redis_confirm_mode confirm_mode;
	struct rd_shard shard[CTL_REDIS_SHARDS_CACHED];
	struct rd_shard absent;     /* rd_shard_get's answer for a missing campaign */
	unsigned shard_next;        /* the entry evicted next */
	/* One confirm_batch call's command line, built here (formatted into
	 * the protocol before the next is built): EVALSHA sha nkeys, keys, args. */
	char batch_claims[CTL_REDIS_CONFIRM_BATCH_MAX][CTL_REDIS_KEY_CAP];
	const char *batch_argv[3 + CTL_REDIS_BATCH_KEYS + CTL_REDIS_BATCH_ARGS +
			       2 * CTL_REDIS_CONFIRM_BATCH_MAX];
};

/* "seckill:" fmt into a char array buf. */
#define KEY(buf, fmt, ...) snprintf(buf, sizeof(buf), "seckill:" fmt, __VA_ARGS__)

void rd_err(struct ctl_redis *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A route failure's text becomes the handle's; returns rc. */
int rd_route_fail(struct ctl_redis *r, int rc);
/* Maps a script's error reply ("CODE text") to a result. */
int rd_script_error(struct ctl_redis *r, enum ctl_script_id s, const char *text);
/* EVALSHA of script s in the protocol, for argv = keys then args: *len
 * bytes in *cmd, to redisFreeCommand. */
int rd_script_format(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
		     const char **argv, char **cmd, size_t *len);
/* EVALSHA of script s on the node of its first key; *out a non-error reply. */
int rd_run_script(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
		  const char **argv, redisReply **out);
/* A plain command (formatted as redisCommand) to the node of key's slot. */
int rd_command(struct ctl_redis *r, const char *key, redisReply **out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A script's integer answer (>= 0), or CTL_REDIS_ERR; frees rep. */
int rd_reply_u64(struct ctl_redis *r, redisReply *rep, const char *what, uint64_t *v);
/* Element i of an array reply when it is a string, else NULL. */
const char *rd_elem_str(const redisReply *rep, size_t i);

/*
 * Campaign id's buckets as this handle knows them, read from Redis the
 * first time (the campaign hash's buckets; for a sharded campaign, what
 * this host won in each bucket). NULL with *rc set when Redis could not
 * say. The pointer is good until the next rd_shard_get.
 */
struct rd_shard *rd_shard_get(struct ctl_redis *r, uint32_t id, int *rc);
/* Moves this host's claims not yet settled from held to sold (settle). */
int rd_shard_settle(struct ctl_redis *r, struct rd_shard *sh);
/* Forgets what the handle knows of campaign id (it was created again). */
void rd_shard_forget(struct ctl_redis *r, uint32_t id);
/* Buckets of campaign id from its hash (1 when the field is absent);
 * CTL_REDIS_NOT_FOUND when the campaign is. No cache. */
int rd_campaign_buckets(struct ctl_redis *r, uint32_t id, unsigned *buckets);
/*
 * "VERB seckill:<kind>:{id:k} arg" for each bucket k of `buckets`, in one
 * round trip per node; out[k] (may be NULL) = its integer answer, or a
 * count read from a string answer, 0 for nil.
 */
int rd_bucket_cmds(struct ctl_redis *r, uint32_t id, unsigned buckets, const char *verb,
		   const char *kind, const char *arg, uint64_t *out);

#endif
