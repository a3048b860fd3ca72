/*
 * Tests for orders/orders_redis.c: the order service telling the sale what
 * became of an order, against a private redis-server (redis_server.h).
 *
 * An expired order gives its unit back (stock up, sold down) and releases
 * the buyer's claim if it is still this order's; a second telling changes
 * nothing. The claim is where the hosts put it: beside the campaign, or in
 * its bucket {id:k} for a sharded campaign, where the give-back and the
 * release are two scripts on two slots: both run again on a replay, so a
 * service that died between them leaves no claim behind.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>

#include <hiredis/hiredis.h>

#include "ctl_redis.h"
#include "ctl_redis_keys.h"
#include "orders_redis.h"
#include "redis_server.h"

static struct rsrv srv;
static redisContext *raw;

static long long raw_int(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	long long v = -1;

	va_start(ap, fmt);
	rep = redisvCommand(raw, fmt, ap);
	va_end(ap);
	cr_assert(rep != NULL && rep->type != REDIS_REPLY_ERROR, "raw %s", fmt);
	if (rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	else if (rep->type == REDIS_REPLY_STRING)
		v = strtoll(rep->str, NULL, 10);
	freeReplyObject(rep);
	return v;
}

static void setup(void)
{
	struct timeval tv = { 2, 0 };

	memset(&srv, 0, sizeof(srv));
	cr_assert(rsrv_start(&srv), "redis-server did not start");
	raw = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
	cr_assert(raw && !raw->err);
}

static void teardown(void)
{
	redisFree(raw);
	rsrv_stop(&srv);
}

TestSuite(orders_redis, .init = setup, .fini = teardown, .timeout = 60);

/* Campaign id with `buckets`, 10 units, buyers 1..3 sold by host "a". */
static void sell_three(uint32_t id, unsigned buckets)
{
	char err[CTL_REDIS_ERR_CAP];
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", srv.port, 2000, err, sizeof(err));
	uint64_t got;

	cr_assert(r != NULL, "%s", err);
	ctl_redis_set_host(r, "a");
	cr_assert_eq(ctl_redis_campaign_create_sharded(r, id, 10, 0, false, buckets), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(r, id, 1, 3, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 3);
	cr_assert_eq(ctl_redis_confirm(r, id, 1, "o1", NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(r, id, 2, "o2", NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(r, id, 3, "o3", NULL), CTL_REDIS_OK);
	ctl_redis_close(r);
}

static long long claim_exists(uint32_t id, unsigned buckets, uint64_t buyer)
{
	char key[CTL_REDIS_KEY_CAP], field[CTL_REDIS_FIELD_CAP];

	if (ctl_redis_claim_at(key, sizeof(key), field, sizeof(field), id, buckets, buyer))
		return raw_int("HEXISTS %s %s", key, field);
	return raw_int("EXISTS %s", key);
}

static void expire_and_pay(uint32_t id, unsigned buckets)
{
	struct orders_redis *o = or_open("127.0.0.1", srv.port);
	struct or_change ch[2] = {
		{ .order_id = "o1", .campaign = id, .buyer = 1, .qty = 1, .expired = 1 },
		{ .order_id = "o2", .campaign = id, .buyer = 2, .qty = 1, .expired = 0 },
	};
	char key[CTL_REDIS_KEY_CAP], field[CTL_REDIS_FIELD_CAP];

	sell_three(id, buckets);
	cr_assert_eq(raw_int("GET seckill:sold:{%u}", id), 3);
	cr_assert_eq(claim_exists(id, buckets, 1), 1);
	cr_assert_eq(or_tell_many(o, ch, 2), OR_OK, "%s", or_error(o));
	cr_assert_eq(ch[0].rc, OR_OK, "%s", or_error(o));
	cr_assert_eq(ch[1].rc, OR_OK);
	cr_assert_eq(raw_int("GET seckill:stock:{%u}", id), 8, "the unit is back");
	cr_assert_eq(raw_int("GET seckill:sold:{%u}", id), 2);
	cr_assert_eq(claim_exists(id, buckets, 1), 0, "buyer 1 may buy again");
	cr_assert_eq(claim_exists(id, buckets, 2), 1, "a paid order keeps its claim");
	cr_assert_eq(raw_int("LLEN seckill:order_events:{%u}", id), 2);
	/* Told again: nothing changes. */
	cr_assert_eq(or_tell_many(o, ch, 2), OR_OK);
	cr_assert_eq(ch[0].rc, OR_REPLAY);
	cr_assert_eq(ch[1].rc, OR_REPLAY);
	cr_assert_eq(raw_int("GET seckill:stock:{%u}", id), 8);
	cr_assert_eq(raw_int("GET seckill:sold:{%u}", id), 2);
	/* Buyer 3 bought again with o3b after o3: the expiry of o3 leaves o3b's claim. */
	if (ctl_redis_claim_at(key, sizeof(key), field, sizeof(field), id, buckets, 3))
		raw_int("HSET %s %s o3b", key, field);
	else
		raw_int("SET %s o3b", key);
	ch[0] = (struct or_change){ .order_id = "o3", .campaign = id, .buyer = 3, .qty = 1,
				    .expired = 1 };
	cr_assert_eq(or_tell_many(o, ch, 1), OR_OK);
	cr_assert_eq(ch[0].rc, OR_OK);
	cr_assert_eq(claim_exists(id, buckets, 3), 1, "the newer claim stays");
	cr_assert_eq(raw_int("GET seckill:stock:{%u}", id), 9);
	or_close(o);
}

Test(orders_redis, an_expiry_gives_back_and_releases_the_claim_beside_the_campaign)
{
	expire_and_pay(1, 1);
}

Test(orders_redis, an_expiry_releases_a_sharded_campaigns_claim_in_its_bucket)
{
	expire_and_pay(2, 4);
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{2}:2"), 0, "nothing beside the campaign");
	cr_assert_eq(raw_int("HEXISTS seckill:claims:{2:2} 2"), 1, "buyer 2 in bucket 2");
}

/* The service died between the give-back and the claim's release: told
 * again, the give-back is a replay and the claim goes all the same. */
Test(orders_redis, a_sharded_claim_left_by_a_crash_is_released_by_the_replay)
{
	struct orders_redis *o = or_open("127.0.0.1", srv.port);
	struct or_change ch = { .order_id = "o1", .campaign = 3, .buyer = 1, .qty = 1,
				.expired = 1 };

	sell_three(3, 4);
	cr_assert_eq(or_tell_many(o, &ch, 1), OR_OK);
	raw_int("HSET seckill:claims:{3:1} 1 o1");   /* as if never released */
	cr_assert_eq(or_tell_many(o, &ch, 1), OR_OK);
	cr_assert_eq(ch.rc, OR_REPLAY);
	cr_assert_eq(raw_int("HEXISTS seckill:claims:{3:1} 1"), 0);
	cr_assert_eq(raw_int("GET seckill:stock:{3}"), 8, "given back once");
	or_close(o);
}
