/*
 * orders_redis.c - the give-back and payment scripts (orders_redis.h), run
 * over hiredis with EVAL: Redis caches a script by its digest, and EVAL
 * (unlike EVALSHA) still works after Redis restarted and forgot it. Each
 * goes to the node of its campaign's slot (control/ctl_redis_route.h: one
 * Redis or a Redis Cluster); a sharded campaign's claim lives in its
 * bucket's slot, so there the claim is released by a second script.
 */
#include "orders_redis.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "ctl_redis.h"
#include "ctl_redis_buckets.h"
#include "ctl_redis_keys.h"
#include "ctl_redis_route.h"
#include "now.h"

#define OR_TIMEOUT_MS 2000
#define OR_BACKOFF_MIN_MS 50
#define OR_BACKOFF_MAX_MS 2000
#define OR_KEY_MAX 96

/*
 * KEYS: stock, sold, returned set, events, and the buyer claim unless the
 * campaign is sharded. ARGV: order id, qty, buyer.
 * The claim is deleted only if it names this order: a buyer who has bought
 * again since holds a newer claim that must stay.
 */
const char or_lua_give_back[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[1] .. ' does not exist') end\n"
	"if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'replay' end\n"
	"redis.call('INCRBY', KEYS[1], ARGV[2])\n"
	"redis.call('DECRBY', KEYS[2], ARGV[2])\n"
	"if KEYS[5] and redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end\n"
	"local ev = 'expired ' .. ARGV[1] .. ' ' .. ARGV[3]\n"
	"redis.call('RPUSH', KEYS[4], ev)\n"
	"redis.call('PUBLISH', KEYS[4], ev)\n"
	"return 'ok'\n";

/* A sharded campaign's claim, a field of its bucket's hash: KEYS: claims.
 * ARGV: buyer, order id. Run after the give-back, each time (a replay too:
 * the first run may have died between the two). */
const char or_lua_unclaim[] =
	"if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then\n"
	"  return redis.call('HDEL', KEYS[1], ARGV[1]) end\n"
	"return 0\n";

/* KEYS: paid set, events. ARGV: order id, buyer. */
const char or_lua_paid[] =
	"if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 'replay' end\n"
	"local ev = 'paid ' .. ARGV[1] .. ' ' .. ARGV[2]\n"
	"redis.call('RPUSH', KEYS[2], ev)\n"
	"redis.call('PUBLISH', KEYS[2], ev)\n"
	"return 'ok'\n";

struct orders_redis {
	char host[256];
	int port;
	struct ctl_route *rt;       /* NULL until the first call finds Redis */
	uint64_t retry_at_ms, backoff_ms;
	struct ctl_buckets buckets;      /* each campaign's, read once */
	char err[512];
};

struct orders_redis *or_open(const char *host, int port)
{
	struct orders_redis *r = calloc(1, sizeof(*r));

	if (r) {
		snprintf(r->host, sizeof(r->host), "%s", host);
		r->port = port;
		r->backoff_ms = OR_BACKOFF_MIN_MS;
	}
	return r;
}

void or_close(struct orders_redis *r)
{
	if (r)
		ctl_route_free(r->rt);
	free(r);
}

const char *or_error(const struct orders_redis *r)
{
	return r->err;
}

/* The route to Redis, made at the first call that finds it (then it
 * reconnects by itself, node by node). */
static bool or_connect(struct orders_redis *r)
{
	struct timeval tv = { OR_TIMEOUT_MS / 1000, (OR_TIMEOUT_MS % 1000) * 1000 };
	char why[CTL_REDIS_ERR_CAP], seed[300];

	if (r->rt)
		return true;
	if (now_mono_ms() < r->retry_at_ms)
		return false;

	snprintf(seed, sizeof(seed), "%s:%d", r->host, r->port);
	r->rt = ctl_route_new(seed, tv, NULL, NULL, why, sizeof(why));
	if (r->rt == NULL) {
		snprintf(r->err, sizeof(r->err), "Redis %.200s:%d: %.280s", r->host, r->port, why);
		r->retry_at_ms = now_mono_ms() + r->backoff_ms;
		r->backoff_ms = r->backoff_ms * 2 > OR_BACKOFF_MAX_MS ? OR_BACKOFF_MAX_MS :
			r->backoff_ms * 2;
		return false;
	}
	r->backoff_ms = OR_BACKOFF_MIN_MS;
	return true;
}

/* The commands of one change (1, or 2 for a sharded give-back) into cmd[]. */
static size_t or_format(const struct or_change *c, unsigned buckets, char keys[][OR_KEY_MAX],
			struct ctl_route_cmd *cmd)
{
	char qty[16], buyer[24], field[CTL_REDIS_FIELD_CAP];
	int len;

	snprintf(buyer, sizeof(buyer), "%" PRIu64, c->buyer);
	if (!c->expired) {
		snprintf(keys[0], OR_KEY_MAX, "seckill:paid:{%" PRIu32 "}", c->campaign);
		snprintf(keys[1], OR_KEY_MAX, "seckill:order_events:{%" PRIu32 "}", c->campaign);
		len = redisFormatCommand((char **)&cmd[0].cmd, "EVAL %s 2 %s %s %s %s", or_lua_paid,
					 keys[0], keys[1], c->order_id, buyer);
		cmd[0].len = len < 0 ? 0 : (size_t)len;
		cmd[0].key = keys[0];
		cmd[0].what = "paid";
		return len < 0 ? 0 : 1;
	}
	snprintf(keys[0], OR_KEY_MAX, "seckill:stock:{%" PRIu32 "}", c->campaign);
	snprintf(keys[1], OR_KEY_MAX, "seckill:sold:{%" PRIu32 "}", c->campaign);
	snprintf(keys[2], OR_KEY_MAX, "seckill:returned:{%" PRIu32 "}", c->campaign);
	snprintf(keys[3], OR_KEY_MAX, "seckill:order_events:{%" PRIu32 "}", c->campaign);
	ctl_redis_claim_at(keys[4], OR_KEY_MAX, field, sizeof(field), c->campaign, buckets,
			   c->buyer);
	snprintf(qty, sizeof(qty), "%" PRIu32, c->qty);
	cmd[0].key = keys[0];
	cmd[0].what = "give back";
	if (buckets <= 1)
		len = redisFormatCommand((char **)&cmd[0].cmd, "EVAL %s 5 %s %s %s %s %s %s %s %s",
					 or_lua_give_back, keys[0], keys[1], keys[2], keys[3],
					 keys[4], c->order_id, qty, buyer);
	else
		len = redisFormatCommand((char **)&cmd[0].cmd, "EVAL %s 4 %s %s %s %s %s %s %s",
					 or_lua_give_back, keys[0], keys[1], keys[2], keys[3],
					 c->order_id, qty, buyer);
	if (len < 0)
		return 0;
	cmd[0].len = (size_t)len;
	if (buckets <= 1)
		return 1;
	len = redisFormatCommand((char **)&cmd[1].cmd, "EVAL %s 1 %s %s %s", or_lua_unclaim,
				 keys[4], field, c->order_id);
	if (len < 0)
		return 1;   /* the give-back's second half is redone by the next call */
	cmd[1].len = (size_t)len;
	cmd[1].key = keys[4];
	cmd[1].what = "release the claim";
	return 2;
}

int or_tell_many(struct orders_redis *r, struct or_change *ch, size_t n)
{
	struct ctl_route_cmd *cmds = calloc(2 * n + 1, sizeof(*cmds));
	char (*keys)[5][OR_KEY_MAX] = malloc((n + 1) * sizeof(*keys));
	size_t *first = malloc((n + 1) * sizeof(*first)), m = 0;
	int rc = OR_OK;

	for (size_t i = 0; i < n; i++)
		ch[i].rc = OR_DOWN;
	if (cmds == NULL || keys == NULL || first == NULL) {
		snprintf(r->err, sizeof(r->err), "out of memory for %zu changes", n);
		rc = OR_ERR;
		goto out;
	}
	if (!or_connect(r)) {
		rc = OR_DOWN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned buckets = 1;
		int brc = ch[i].expired ? ctl_buckets_get(&r->buckets, r->rt, ch[i].campaign,
							  &buckets, r->err, sizeof(r->err)) :
			CTL_REDIS_OK;

		first[i] = m;
		if (brc != CTL_REDIS_OK) {
			ch[i].rc = brc == CTL_REDIS_DOWN ? OR_DOWN : OR_ERR;
			rc = brc == CTL_REDIS_DOWN ? OR_DOWN : rc;
			continue;
		}
		m += or_format(&ch[i], buckets, keys[i], &cmds[m]);
	}
	first[n] = m;
	ctl_route_pipeline(r->rt, cmds, m);
	for (size_t i = 0; i < n; i++) {
		if (first[i] == first[i + 1])
			continue;   /* never sent */
		for (size_t j = first[i]; j < first[i + 1]; j++) {
			redisReply *rep = cmds[j].rep;

			if (cmds[j].rc != CTL_REDIS_OK) {
				snprintf(r->err, sizeof(r->err), "%s", ctl_route_error(r->rt));
				ch[i].rc = OR_DOWN;
				rc = OR_DOWN;
				continue;
			}
			if (j == first[i] && (rep->type == REDIS_REPLY_STATUS ||
					      rep->type == REDIS_REPLY_STRING))
				ch[i].rc = strcmp(rep->str, "replay") == 0 ? OR_REPLAY : OR_OK;
			else if (rep->type == REDIS_REPLY_ERROR || j == first[i]) {
				ch[i].rc = OR_ERR;
				snprintf(r->err, sizeof(r->err), "Redis: order %s: %s", ch[i].order_id,
					 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
			}
			freeReplyObject(rep);
		}
	}
out:
	for (size_t j = 0; cmds && j < m; j++)
		redisFreeCommand((char *)cmds[j].cmd);
	free(cmds);
	free(keys);
	free(first);
	return rc;
}
