/*
 * orders_redis.c - the give-back and payment scripts (orders_redis.h), run
 * over hiredis with EVAL: Redis caches a script by its digest, and EVAL
 * (unlike EVALSHA) still works after Redis restarted and forgot it.
 */
#include "orders_redis.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "now.h"

#define OR_TIMEOUT_MS 2000
#define OR_BACKOFF_MIN_MS 50
#define OR_BACKOFF_MAX_MS 2000
#define OR_KEY_MAX 96

/*
 * KEYS: stock, sold, buyer claim, returned set, events. ARGV: order id, qty, buyer.
 * The claim is deleted only if it names this order: a buyer who has bought
 * again since holds a newer claim that must stay.
 */
const char or_lua_give_back[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[1] .. ' does not exist') end\n"
	"if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 'replay' end\n"
	"redis.call('INCRBY', KEYS[1], ARGV[2])\n"
	"redis.call('DECRBY', KEYS[2], ARGV[2])\n"
	"if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end\n"
	"local ev = 'expired ' .. ARGV[1] .. ' ' .. ARGV[3]\n"
	"redis.call('RPUSH', KEYS[5], ev)\n"
	"redis.call('PUBLISH', KEYS[5], ev)\n"
	"return 'ok'\n";

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
	redisContext *ctx;
	uint64_t retry_at_ms, backoff_ms;
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
	if (r && r->ctx)
		redisFree(r->ctx);
	free(r);
}

const char *or_error(const struct orders_redis *r)
{
	return r->err;
}

static void or_drop(struct orders_redis *r, const char *why)
{
	snprintf(r->err, sizeof(r->err), "Redis %s:%d: %s", r->host, r->port, why);
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
	r->retry_at_ms = now_mono_ms() + r->backoff_ms;
	r->backoff_ms = r->backoff_ms * 2 > OR_BACKOFF_MAX_MS ? OR_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static bool or_connect(struct orders_redis *r)
{
	struct timeval tv = { OR_TIMEOUT_MS / 1000, (OR_TIMEOUT_MS % 1000) * 1000 };

	if (r->ctx)
		return true;
	if (now_mono_ms() < r->retry_at_ms)
		return false;
	r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
	if (r->ctx == NULL || r->ctx->err) {
		or_drop(r, r->ctx ? r->ctx->errstr : "out of memory");
		return false;
	}
	redisSetTimeout(r->ctx, tv);
	r->backoff_ms = OR_BACKOFF_MIN_MS;
	return true;
}

static void or_append(struct orders_redis *r, const struct or_change *c)
{
	char k[5][OR_KEY_MAX], qty[16], buyer[24];

	snprintf(buyer, sizeof(buyer), "%" PRIu64, c->buyer);
	if (c->expired) {
		snprintf(k[0], OR_KEY_MAX, "seckill:stock:{%" PRIu32 "}", c->campaign);
		snprintf(k[1], OR_KEY_MAX, "seckill:sold:{%" PRIu32 "}", c->campaign);
		snprintf(k[2], OR_KEY_MAX, "seckill:buyer:{%" PRIu32 "}:%s", c->campaign, buyer);
		snprintf(k[3], OR_KEY_MAX, "seckill:returned:{%" PRIu32 "}", c->campaign);
		snprintf(k[4], OR_KEY_MAX, "seckill:order_events:{%" PRIu32 "}", c->campaign);
		snprintf(qty, sizeof(qty), "%" PRIu32, c->qty);
		redisAppendCommand(r->ctx, "EVAL %s 5 %s %s %s %s %s %s %s %s", or_lua_give_back,
				   k[0], k[1], k[2], k[3], k[4], c->order_id, qty, buyer);
	} else {
		snprintf(k[0], OR_KEY_MAX, "seckill:paid:{%" PRIu32 "}", c->campaign);
		snprintf(k[1], OR_KEY_MAX, "seckill:order_events:{%" PRIu32 "}", c->campaign);
		redisAppendCommand(r->ctx, "EVAL %s 2 %s %s %s %s", or_lua_paid, k[0], k[1],
				   c->order_id, buyer);
	}
}

int or_tell_many(struct orders_redis *r, struct or_change *ch, size_t n)
{
	if (!or_connect(r)) {
		for (size_t i = 0; i < n; i++)
			ch[i].rc = OR_DOWN;
		return OR_DOWN;
	}
	for (size_t i = 0; i < n; i++)
		or_append(r, &ch[i]);
	for (size_t i = 0; i < n; i++) {
		redisReply *rep = NULL;

		if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK) {
			or_drop(r, r->ctx->errstr);
			for (; i < n; i++)
				ch[i].rc = OR_DOWN;
			return OR_DOWN;
		}
		if (rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING)
			ch[i].rc = strcmp(rep->str, "replay") == 0 ? OR_REPLAY : OR_OK;
		else {
			ch[i].rc = OR_ERR;
			snprintf(r->err, sizeof(r->err), "Redis: order %s: %s", ch[i].order_id,
				 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		}
		freeReplyObject(rep);
	}
	return OR_OK;
}
