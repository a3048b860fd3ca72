/*
 * ctl_redis_shard.c - a sharded campaign's buckets (ctl_redis.h, "Sharded
 * claims").
 *
 * One campaign's confirms are a SET NX per order on the Redis that holds
 * its claims: to spread a hot campaign over a cluster's primaries, a
 * campaign created with B buckets keeps buyer b's claim in bucket b % B,
 * a hash tag {id:k} of its own. The claim_batch script there counts, per
 * host, the claims it won (seckill:claimed:{id:k}). The holding and the
 * sold count stay on the campaign's slot, where settle moves a host's won
 * claims from held to sold by count: the host sends its total (the sum of
 * the buckets' counts, which only grow), and the campaign's slot settles
 * total - settled. Counts, not events, so a reply lost in flight, a settle
 * sent twice or a host restarted between a claim and its settle neither
 * loses nor doubles a unit: the next settle, from the buckets' counts read
 * again, makes it good.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis_buckets.h"
#include "ctl_redis_priv.h"
#include "str2int.h"

int rd_campaign_buckets(struct ctl_redis *r, uint32_t id, unsigned *buckets)
{
	return ctl_buckets_read(r->rt, id, buckets, r->err, sizeof(r->err));
}

int rd_bucket_cmds(struct ctl_redis *r, uint32_t id, unsigned buckets, const char *verb,
		   const char *kind, const char *arg, uint64_t *out)
{
	struct ctl_route_cmd *cmds = calloc(buckets, sizeof(*cmds));
	char (*keys)[CTL_REDIS_KEY_CAP] = malloc(buckets * sizeof(*keys));
	int rc = CTL_REDIS_OK;

	if (cmds == NULL || keys == NULL) {
		rd_err(r, "redis: out of memory for %u buckets", buckets);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	for (unsigned k = 0; k < buckets; k++) {
		int len;

		snprintf(keys[k], CTL_REDIS_KEY_CAP, "seckill:%s:{%" PRIu32 ":%u}", kind, id, k);
		len = redisFormatCommand((char **)&cmds[k].cmd, "%s %s %s", verb, keys[k], arg);
		if (len < 0) {
			rd_err(r, "redis: out of memory formatting %s", verb);
			rc = CTL_REDIS_ERR;
			goto out;
		}
		cmds[k].len = (size_t)len;
		cmds[k].key = keys[k];
		cmds[k].what = verb;
	}
	ctl_route_pipeline(r->rt, cmds, buckets);
	for (unsigned k = 0; k < buckets; k++) {
		const redisReply *e = cmds[k].rep;
		uint64_t v = 0;

		if (cmds[k].rc != CTL_REDIS_OK) {
			rc = rd_route_fail(r, cmds[k].rc);
			continue;
		}
		if (e->type == REDIS_REPLY_INTEGER && e->integer >= 0)
			v = (uint64_t)e->integer;
		else if (e->type == REDIS_REPLY_STRING && str2u64(e->str, 0, UINT64_MAX, &v))
			;
		else if (e->type != REDIS_REPLY_NIL) {
			rd_err(r, "redis %s: %s %s: %s", ctl_route_addr(r->rt), verb, keys[k],
			       e->type == REDIS_REPLY_ERROR ? e->str : "not a count");
			rc = CTL_REDIS_ERR;
		}
		if (out)
			out[k] = v;
		freeReplyObject(cmds[k].rep);
	}
out:
	for (unsigned k = 0; cmds && k < buckets && cmds[k].cmd; k++)
		redisFreeCommand((char *)cmds[k].cmd);
	free(cmds);
	free(keys);
	return rc;
}

struct rd_shard *rd_shard_get(struct ctl_redis *r, uint32_t id, int *rc)
{
	struct rd_shard *sh;
	unsigned b;

	for (unsigned i = 0; i < CTL_REDIS_SHARDS_CACHED; i++)
		if (r->shard[i].buckets && r->shard[i].id == id)
			return &r->shard[i];
	*rc = rd_campaign_buckets(r, id, &b);
	if (*rc == CTL_REDIS_NOT_FOUND) {
		/* Not cached: a campaign created later may be sharded. The
		 * scripts answer for the missing campaign as they always did. */
		*rc = CTL_REDIS_OK;
		r->absent.id = id;
		r->absent.buckets = 1;
		return &r->absent;
	}
	if (*rc != CTL_REDIS_OK)
		return NULL;
	sh = &r->shard[r->shard_next++ % CTL_REDIS_SHARDS_CACHED];
	memset(sh, 0, sizeof(*sh));
	sh->id = id;
	/* What this host won before (a restart), so the next settle counts it. */
	if (b > 1 && (*rc = rd_bucket_cmds(r, id, b, "HGET", "claimed", r->host,
					   sh->claimed)) != CTL_REDIS_OK)
		return NULL;
	sh->buckets = b;
	return sh;
}

void rd_shard_forget(struct ctl_redis *r, uint32_t id)
{
	for (unsigned i = 0; i < CTL_REDIS_SHARDS_CACHED; i++)
		if (r->shard[i].id == id)
			r->shard[i].buckets = 0;
}

int rd_shard_settle(struct ctl_redis *r, struct rd_shard *sh)
{
	char sold[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP], settled[CTL_REDIS_KEY_CAP];
	char camp[CTL_REDIS_KEY_CAP], total_s[24];
	const char *argv[6] = { sold, hosts, settled, camp, r->host, total_s };
	uint64_t total = 0, moved;
	redisReply *rep;
	int rc;

	if (sh->buckets <= 1)
		return CTL_REDIS_OK;
	for (unsigned k = 0; k < sh->buckets; k++)
		total += sh->claimed[k];
	if (total <= sh->settled)
		return CTL_REDIS_OK;
	KEY(sold, "sold:{%" PRIu32 "}", sh->id);
	KEY(hosts, "hosts:{%" PRIu32 "}", sh->id);
	KEY(settled, "settled:{%" PRIu32 "}", sh->id);
	KEY(camp, "campaign:{%" PRIu32 "}", sh->id);
	snprintf(total_s, sizeof(total_s), "%" PRIu64, total);
	rc = rd_run_script(r, S_SETTLE, 4, 6, argv, &rep);
	if (rc == CTL_REDIS_OK)
		rc = rd_reply_u64(r, rep, "settle", &moved);
	if (rc == CTL_REDIS_OK)
		sh->settled = total;
	return rc;
}
