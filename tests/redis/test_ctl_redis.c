/*
 * test_ctl_redis.c - control/ctl_redis.c against a real redis-server.
 *
 * Every test starts its own redis-server (redis_server.h) and drives it
 * through ctl_redis as one or more hosts would, then reads the keys back
 * raw (hiredis, or redis-cli where an operator would) to check the exact
 * counts. Exits 77 (skipped) when redis-server is not installed.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>

#include "ctl_redis.h"
#include "ctl_redis_keys.h"
#include "ctl_redis_lua.h"
#include "redis_server.h"
#include "stock_chunk.h"

#define TIMEOUT_MS 2000
/* Long enough for a restarted server and the handle's back-off (<= 2 s). */
#define RECONNECT_WAIT_MS 8000

static struct rsrv srv;
static redisContext *raw_ctx;

static void raw_open(void)
{
	struct timeval tv = { 2, 0 };

	if (raw_ctx)
		redisFree(raw_ctx);
	raw_ctx = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
	cr_assert(raw_ctx && !raw_ctx->err, "raw connection to port %d", srv.port);
}

/* A raw command's integer or string-as-integer answer; -1 for nil. */
static long long raw_int(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	long long v = -1;

	va_start(ap, fmt);
	rep = redisvCommand(raw_ctx, fmt, ap);
	va_end(ap);
	cr_assert(rep != NULL, "raw command %s: %s", fmt, raw_ctx->errstr);
	cr_assert(rep->type != REDIS_REPLY_ERROR, "raw command %s: %s", fmt, rep->str);
	if (rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	else if (rep->type == REDIS_REPLY_STRING)
		v = strtoll(rep->str, NULL, 10);
	else if (rep->type == REDIS_REPLY_STATUS)
		v = 0;
	freeReplyObject(rep);
	return v;
}

static void start(bool aof)
{
	memset(&srv, 0, sizeof(srv));
	srv.aof = aof;
	cr_assert(rsrv_start(&srv), "redis-server did not start on port %d", srv.port);
	raw_open();
}

static void setup(void) { start(false); }

static void teardown(void)
{
	if (raw_ctx)
		redisFree(raw_ctx);
	raw_ctx = NULL;
	rsrv_stop(&srv);
}

static struct ctl_redis *host(const char *name)
{
	char err[CTL_REDIS_ERR_CAP];
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", srv.port, TIMEOUT_MS, err, sizeof(err));

	cr_assert(r != NULL, "connect: %s", err);
	cr_assert_eq(ctl_redis_set_host(r, name), 0);
	return r;
}

/* stock + sold + sum(hosts) == campaign.stock, all >= 0. */
static void assert_invariant(struct ctl_redis *r, uint32_t id)
{
	struct ctl_redis_status st;

	cr_assert_eq(ctl_redis_status(r, id, &st), CTL_REDIS_OK, "%s", ctl_redis_error(r));
	cr_assert(st.stock >= 0 && st.sold >= 0 && st.held >= 0);
	cr_assert_eq(st.stock + st.sold + st.held, st.total,
		     "stock %" PRId64 " + sold %" PRId64 " + held %" PRId64 " != %" PRId64,
		     st.stock, st.sold, st.held, st.total);
}

TestSuite(redis, .init = setup, .fini = teardown, .timeout = 60);

Test(redis, connect_refused_says_where_and_what_to_do)
{
	char err[CTL_REDIS_ERR_CAP];
	int port = rsrv_free_port();
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", port, TIMEOUT_MS, err, sizeof(err));
	char where[64];

	cr_assert_null(r);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	cr_assert(strstr(err, where) != NULL, "%s", err);
	cr_assert(strstr(err, "connect failed") != NULL, "%s", err);
	cr_assert(strstr(err, "redis-server") != NULL, "%s", err);
	cr_assert_null(ctl_redis_connect("127.0.0.1", 0, TIMEOUT_MS, err, sizeof(err)));
	cr_assert(strstr(err, "port 1..65535") != NULL, "%s", err);
}

Test(redis, take_chunks_shrink_and_sum_to_the_stock)
{
	struct ctl_redis *r = host("a");
	uint64_t remaining = 1000, got, prev = UINT64_MAX, sum = 0;
	unsigned takes = 0;

	cr_assert_eq(ctl_redis_campaign_create(r, 1, 1000, 0, false), CTL_REDIS_OK);
	for (;;) {
		cr_assert_eq(ctl_redis_take(r, 1, 3, 50, &got), CTL_REDIS_OK, "%s",
			     ctl_redis_error(r));
		cr_assert_eq(got, stock_chunk_size(remaining, 3, 50), "remaining %" PRIu64, remaining);
		if (got == 0)
			break;
		cr_assert_leq(got, prev, "chunks never grow as the stock drains");
		prev = got;
		sum += got;
		remaining -= got;
		takes++;
		cr_assert_eq(raw_int("GET seckill:stock:{1}"), (long long)remaining);
		cr_assert_eq(raw_int("HGET seckill:hosts:{1} a"), (long long)sum);
	}
	cr_assert_eq(sum, 1000);
	cr_assert_eq(prev, 1, "the last takes are single units");
	cr_assert_gt(takes, 20);
	/* Empty: more takes give 0 and never drive the counter below zero. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ctl_redis_take(r, 1, 3, 50, &got), CTL_REDIS_OK);
		cr_assert_eq(got, 0);
	}
	cr_assert_eq(raw_int("GET seckill:stock:{1}"), 0);
	assert_invariant(r, 1);
	ctl_redis_close(r);
}

Test(redis, take_lua_rule_equals_stock_chunk_size)
{
	static const struct { uint64_t remaining; unsigned n; uint64_t max; } cases[] = {
		{ 1, 1, 64 }, { 2, 1, 64 }, { 3, 1, 64 }, { 5, 2, 64 }, { 7, 4, 64 },
		{ 8, 4, 64 }, { 9, 4, 64 }, { 1000, 4, 64 }, { 1000, 4, 0 }, { 1000, 0, 64 },
		{ 1000, 0, 0 }, { 127, 1, 64 }, { 128, 1, 64 }, { 129, 1, 64 },
		{ 1000000007, 3, 1ULL << 53 }, { (1ULL << 53) - 1, 3, 1ULL << 53 },
		{ (1ULL << 53) - 1, 7, 1ULL << 53 }, { 1ULL << 53, 5, 1ULL << 53 },
		{ 999999999999999ULL, 13, 1ULL << 40 },
	};
	struct ctl_redis *r = host("a");
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create(r, 2, 0, 0, false), CTL_REDIS_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t want = stock_chunk_size(cases[i].remaining, cases[i].n, cases[i].max);

		raw_int("SET seckill:stock:{2} %" PRIu64, cases[i].remaining);
		cr_assert_eq(ctl_redis_take(r, 2, cases[i].n, cases[i].max, &got), CTL_REDIS_OK,
			     "%s", ctl_redis_error(r));
		cr_assert_eq(got, want, "case %zu: got %" PRIu64 " want %" PRIu64, i, got, want);
		cr_assert_eq(raw_int("GET seckill:stock:{2}"), (long long)(cases[i].remaining - want));
	}
	/* Pseudo-random cases, fixed seed so a failure reproduces. */
	srand(12345);
	for (int i = 0; i < 200; i++) {
		uint64_t rem = ((uint64_t)rand() << 22 ^ (uint64_t)rand()) % (1ULL << 50);
		unsigned n = (unsigned)(rand() % 16);
		uint64_t max = (uint64_t)(rand() % 5000);

		raw_int("SET seckill:stock:{2} %" PRIu64, rem);
		cr_assert_eq(ctl_redis_take(r, 2, n, max, &got), CTL_REDIS_OK);
		cr_assert_eq(got, stock_chunk_size(rem, n, max), "rem %" PRIu64 " n %u max %" PRIu64,
			     rem, n, max);
	}
	ctl_redis_close(r);
}

Test(redis, take_never_drives_the_counter_negative)
{
	struct ctl_redis *r = host("a");
	uint64_t got = 99;

	cr_assert_eq(ctl_redis_campaign_create(r, 3, 0, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(r, 3, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 0);
	cr_assert_eq(raw_int("GET seckill:stock:{3}"), 0);
	/* An operator's mistake left it negative: no take, no change. */
	raw_int("SET seckill:stock:{3} -5");
	cr_assert_eq(ctl_redis_take(r, 3, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 0);
	cr_assert_eq(raw_int("GET seckill:stock:{3}"), -5);
	cr_assert_eq(raw_int("HGET seckill:hosts:{3} a"), -1, "no holding was recorded");
	/* Not a number, or no campaign: errors, not takes. */
	raw_int("SET seckill:stock:{3} lots");
	cr_assert_eq(ctl_redis_take(r, 3, 1, 64, &got), CTL_REDIS_ERR);
	cr_assert(strstr(ctl_redis_error(r), "not an integer") != NULL, "%s", ctl_redis_error(r));
	cr_assert_eq(ctl_redis_take(r, 4, 1, 64, &got), CTL_REDIS_NOT_FOUND);
	cr_assert(strstr(ctl_redis_error(r), "seckill:stock:{4} does not exist") != NULL, "%s",
		  ctl_redis_error(r));
	ctl_redis_close(r);
}

#define N_THREADS 4

struct taker {
	pthread_t th;
	int port;
	uint32_t id;
	pthread_barrier_t *go;
	uint64_t taken;
	int64_t held_self;
	int rc;
};

static void *taker_run(void *arg)
{
	struct taker *t = arg;
	char err[CTL_REDIS_ERR_CAP], name[16];
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", t->port, TIMEOUT_MS, err, sizeof(err));
	struct ctl_redis_status st;
	uint64_t got;

	t->rc = CTL_REDIS_ERR;
	pthread_barrier_wait(t->go);
	if (r == NULL)
		return NULL;
	snprintf(name, sizeof(name), "h%p", (void *)t);
	ctl_redis_set_host(r, name);
	do {
		t->rc = ctl_redis_take(r, t->id, N_THREADS, 64, &got);
		t->taken += got;
	} while (t->rc == CTL_REDIS_OK && got > 0);
	if (t->rc == CTL_REDIS_OK)
		t->rc = ctl_redis_status(r, t->id, &st);
	t->held_self = st.held_self;
	ctl_redis_close(r);
	return NULL;
}

static void concurrent_takers(uint32_t id, uint64_t stock)
{
	struct ctl_redis *r = host("admin");
	struct taker t[N_THREADS];
	pthread_barrier_t go;
	uint64_t total = 0;
	struct ctl_redis_status st;

	cr_assert_eq(ctl_redis_campaign_create(r, id, stock, 0, false), CTL_REDIS_OK);
	pthread_barrier_init(&go, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++) {
		t[i] = (struct taker){ .port = srv.port, .id = id, .go = &go };
		cr_assert_eq(pthread_create(&t[i].th, NULL, taker_run, &t[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(t[i].th, NULL);
		cr_assert_eq(t[i].rc, CTL_REDIS_OK, "taker %d", i);
		cr_assert_eq((uint64_t)t[i].held_self, t[i].taken, "Redis agrees with taker %d", i);
		total += t[i].taken;
	}
	pthread_barrier_destroy(&go);
	cr_assert_eq(total, stock, "stock %" PRIu64 ": taken %" PRIu64, stock, total);
	cr_assert_eq(ctl_redis_status(r, id, &st), CTL_REDIS_OK);
	cr_assert_eq(st.stock, 0);
	cr_assert_eq(st.held, (int64_t)stock);
	/* Each take asks for a share of what is left, but nothing makes every
	 * taker win one: a thread that runs first can take a small stock in a
	 * row of takes before the others' first arrives (seen under ASan, stock
	 * 7: fewer than 4 hosts). Conservation above is the property. */
	cr_assert(st.n_hosts >= 1 && st.n_hosts <= N_THREADS, "hosts %u", st.n_hosts);
	assert_invariant(r, id);
	ctl_redis_close(r);
}

Test(redis, concurrent_takers_1000) { concurrent_takers(10, 1000); }
Test(redis, concurrent_takers_7) { concurrent_takers(11, 7); }
Test(redis, concurrent_takers_1) { concurrent_takers(12, 1); }

Test(redis, give_back_returns_at_most_what_the_host_holds)
{
	struct ctl_redis *a = host("a"), *b = host("b");
	uint64_t got, given;

	cr_assert_eq(ctl_redis_campaign_create(a, 5, 100, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 5, 2, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 25);
	cr_assert_eq(ctl_redis_give_back(a, 5, 10, &given), CTL_REDIS_OK);
	cr_assert_eq(given, 10);
	cr_assert_eq(raw_int("GET seckill:stock:{5}"), 85);
	cr_assert_eq(raw_int("HGET seckill:hosts:{5} a"), 15);
	/* More than held: only the 15 held go back. */
	cr_assert_eq(ctl_redis_give_back(a, 5, 1000, &given), CTL_REDIS_OK);
	cr_assert_eq(given, 15);
	cr_assert_eq(raw_int("GET seckill:stock:{5}"), 100);
	cr_assert_eq(raw_int("HGET seckill:hosts:{5} a"), 0);
	/* A host that holds nothing gives nothing back. */
	cr_assert_eq(ctl_redis_give_back(b, 5, 3, &given), CTL_REDIS_OK);
	cr_assert_eq(given, 0);
	cr_assert_eq(raw_int("GET seckill:stock:{5}"), 100);
	cr_assert_eq(ctl_redis_give_back(a, 6, 3, &given), CTL_REDIS_NOT_FOUND);
	assert_invariant(a, 5);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

Test(redis, confirm_once_per_buyer_across_hosts)
{
	struct ctl_redis *a = host("a"), *b = host("b");
	uint64_t got;
	bool replayed = true;

	cr_assert_eq(ctl_redis_campaign_create(a, 7, 20, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 7, 2, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 5);
	cr_assert_eq(ctl_redis_take(b, 7, 2, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 3);
	ctl_redis_set_claim_ttl(a, 1000);
	cr_assert_eq(ctl_redis_confirm(a, 7, 42, "order-a-1", &replayed), CTL_REDIS_OK,
		     "%s", ctl_redis_error(a));
	cr_assert_eq(replayed, false);
	cr_assert_eq(raw_int("GET seckill:sold:{7}"), 1);
	cr_assert_eq(raw_int("HGET seckill:hosts:{7} a"), 4);
	cr_assert_eq(raw_int("TTL seckill:buyer:{7}:42") > 990, 1);
	cr_assert_leq(raw_int("TTL seckill:buyer:{7}:42"), 1000);
	/* The same buyer on host b: duplicate; b still holds its unit. */
	cr_assert_eq(ctl_redis_confirm(b, 7, 42, "order-b-1", &replayed), CTL_REDIS_DUPLICATE);
	cr_assert(strstr(ctl_redis_error(b), "buyer 42 already bought") != NULL);
	cr_assert_eq(raw_int("GET seckill:sold:{7}"), 1);
	cr_assert_eq(raw_int("HGET seckill:hosts:{7} b"), 3);
	/* Replays of a confirmed order: ok again, counted once. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ctl_redis_confirm(a, 7, 42, "order-a-1", &replayed), CTL_REDIS_OK);
		cr_assert_eq(replayed, true);
	}
	cr_assert_eq(raw_int("GET seckill:sold:{7}"), 1);
	cr_assert_eq(raw_int("HGET seckill:hosts:{7} a"), 4);
	/* A replay from the losing host stays a duplicate. */
	cr_assert_eq(ctl_redis_confirm(b, 7, 42, "order-b-1", NULL), CTL_REDIS_DUPLICATE);
	/* Other buyers on b: counted. */
	cr_assert_eq(ctl_redis_confirm(b, 7, 43, "order-b-2", NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(b, 7, 44, "order-b-3", NULL), CTL_REDIS_OK);
	cr_assert_eq(raw_int("GET seckill:sold:{7}"), 3);
	cr_assert_eq(raw_int("HGET seckill:hosts:{7} b"), 1);
	{
		redisReply *rep = redisCommand(raw_ctx, "GET seckill:buyer:{7}:43");

		cr_assert_str_eq(rep->str, "order-b-2");
		freeReplyObject(rep);
	}
	assert_invariant(a, 7);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

Test(redis, confirm_many_pipelined_gives_each_order_its_own_answer)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_confirm_req q[6] = {
		{ 9, 1, "o1" }, { 9, 2, "o2" }, { 9, 1, "o3" },   /* buyer 1 twice */
		{ 9, 3, "" },                                     /* a bad order id */
		{ 9, 2, "o2" },                                   /* a replay */
		{ 9, 4, "o4" },
	};
	struct ctl_redis_confirm_res res[6];
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create(a, 9, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 9, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 5);
	cr_assert_eq(ctl_redis_confirm_many(a, 6, q, res), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(res[0].rc, CTL_REDIS_OK);
	cr_assert_eq(res[1].rc, CTL_REDIS_OK);
	cr_assert_eq(res[2].rc, CTL_REDIS_DUPLICATE, "in order: o1 claimed buyer 1 first");
	cr_assert_eq(res[3].rc, CTL_REDIS_INVAL);
	cr_assert(res[4].rc == CTL_REDIS_OK && res[4].replayed, "o2 again: a replay");
	cr_assert(res[5].rc == CTL_REDIS_OK && !res[5].replayed);
	cr_assert_eq(raw_int("GET seckill:sold:{9}"), 3, "three orders counted once each");
	cr_assert_eq(raw_int("HGET seckill:hosts:{9} a"), 2);
	assert_invariant(a, 9);
	/* Redis forgot its scripts (a restart): answered one by one, the same. */
	cr_assert_eq(raw_int("SCRIPT FLUSH"), 0);
	cr_assert_eq(ctl_redis_confirm_many(a, 1, &q[5], res), CTL_REDIS_OK);
	cr_assert(res[0].rc == CTL_REDIS_OK && res[0].replayed, "%d", res[0].rc);
	ctl_redis_close(a);
}

Test(redis, confirm_without_a_held_unit_claims_nothing)
{
	struct ctl_redis *a = host("a");

	cr_assert_eq(ctl_redis_campaign_create(a, 8, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(a, 8, 1, "o1", NULL), CTL_REDIS_ERR);
	cr_assert(strstr(ctl_redis_error(a), "holds no unit") != NULL, "%s", ctl_redis_error(a));
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{8}:1"), 0);
	cr_assert_eq(raw_int("GET seckill:sold:{8}"), 0);
	cr_assert_eq(ctl_redis_confirm(a, 8, 1, "", NULL), CTL_REDIS_INVAL);
	assert_invariant(a, 8);
	ctl_redis_close(a);
}

Test(redis, preheat_reads_what_redis_cli_wrote)
{
	struct ctl_redis *r = host("a");
	struct ctl_redis_campaign c;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d HSET seckill:campaign:{9} stock 500 starts_at "
		 "1700000000123 state open >/dev/null && redis-cli -p %d SET seckill:stock:{9} 480 "
		 ">/dev/null && redis-cli -p %d SET seckill:sold:{9} 20 >/dev/null",
		 srv.port, srv.port, srv.port);
	cr_assert_eq(system(cmd), 0, "redis-cli");
	cr_assert_eq(ctl_redis_preheat(r, 9, &c), CTL_REDIS_OK, "%s", ctl_redis_error(r));
	cr_assert_eq(c.id, 9);
	cr_assert_eq(c.stock, 500);
	cr_assert_eq(c.starts_at_ms, 1700000000123ULL);
	cr_assert_eq(c.state, SALE_OPEN);
	cr_assert_eq(c.remaining, 480);
	cr_assert_eq(c.sold, 20);
	/* Missing campaign: says how to create it. */
	cr_assert_eq(ctl_redis_preheat(r, 10, &c), CTL_REDIS_NOT_FOUND);
	cr_assert(strstr(ctl_redis_error(r), "campaign 10 not found in Redis") != NULL, "%s",
		  ctl_redis_error(r));
	cr_assert(strstr(ctl_redis_error(r), "HSET seckill:campaign:{10} stock") != NULL, "%s",
		  ctl_redis_error(r));
	/* Hash without its stock counter. */
	raw_int("HSET seckill:campaign:{11} stock 5 starts_at 0 state scheduled");
	cr_assert_eq(ctl_redis_preheat(r, 11, &c), CTL_REDIS_NOT_FOUND);
	cr_assert(strstr(ctl_redis_error(r), "SET seckill:stock:{11}") != NULL, "%s",
		  ctl_redis_error(r));
	/* Bad state word. */
	raw_int("HSET seckill:campaign:{9} state maybe");
	cr_assert_eq(ctl_redis_preheat(r, 9, &c), CTL_REDIS_ERR);
	cr_assert(strstr(ctl_redis_error(r), "scheduled|open|closed") != NULL);
	ctl_redis_close(r);
}

Test(redis, create_refuses_to_overwrite_unless_forced)
{
	struct ctl_redis *r = host("a");
	struct ctl_redis_campaign c;
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create(r, 20, 10, 1700000000000ULL, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_preheat(r, 20, &c), CTL_REDIS_OK);
	cr_assert_eq(c.stock, 10);
	cr_assert_eq(c.remaining, 10);
	cr_assert_eq(c.sold, 0);
	cr_assert_eq(c.state, SALE_SCHEDULED);
	cr_assert_eq(c.starts_at_ms, 1700000000000ULL);
	cr_assert_eq(ctl_redis_take(r, 20, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 5);
	cr_assert_eq(ctl_redis_confirm(r, 20, 1, "o1", NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaign_create(r, 20, 99, 0, false), CTL_REDIS_EXISTS);
	cr_assert(strstr(ctl_redis_error(r), "already exists") != NULL);
	cr_assert_eq(raw_int("GET seckill:stock:{20}"), 5, "untouched");
	cr_assert_eq(ctl_redis_campaign_create(r, 20, 99, 5, true), CTL_REDIS_OK);
	cr_assert_eq(raw_int("GET seckill:stock:{20}"), 99);
	cr_assert_eq(raw_int("GET seckill:sold:{20}"), 0);
	cr_assert_eq(raw_int("EXISTS seckill:hosts:{20}"), 0);
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{20}:1"), 0, "old claims deleted");
	cr_assert_eq(ctl_redis_set_state(r, 20, SALE_CLOSED_STATE), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_preheat(r, 20, &c), CTL_REDIS_OK);
	cr_assert_eq(c.state, SALE_CLOSED_STATE);
	cr_assert_eq(ctl_redis_set_state(r, 21, SALE_OPEN), CTL_REDIS_NOT_FOUND);
	cr_assert_eq(raw_int("EXISTS seckill:campaign:{21}"), 0);
	cr_assert_eq(ctl_redis_campaign_create(r, 22, CTL_REDIS_STOCK_MAX + 1, 0, false),
		     CTL_REDIS_INVAL);
	ctl_redis_close(r);
}

/* Polls take until Redis answers again (the handle reconnects lazily). */
static int take_until_up(struct ctl_redis *r, uint32_t id, uint64_t *got)
{
	int rc = CTL_REDIS_DOWN;

	for (int waited = 0; waited < RECONNECT_WAIT_MS && rc == CTL_REDIS_DOWN; waited += 20) {
		rc = ctl_redis_take(r, id, 1, 64, got);
		if (rc == CTL_REDIS_DOWN)
			rsrv_sleep_ms(20);
	}
	return rc;
}

/*
 * A stalled Redis (SIGSTOP) times the call out: DOWN, and the take may have
 * run after all once Redis wakes up. hosts:{id} shows the truth; the host
 * gives back what it holds in Redis beyond what it knows it holds.
 */
Test(redis, stalled_redis_times_out_then_reconciles)
{
	char err[CTL_REDIS_ERR_CAP];
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", srv.port, 300, err, sizeof(err));
	struct ctl_redis_status st;
	uint64_t got, known, given;

	cr_assert(r != NULL, "%s", err);
	ctl_redis_set_host(r, "a");
	cr_assert_eq(ctl_redis_campaign_create(r, 40, 100, 0, false), CTL_REDIS_OK);
	kill(srv.pid, SIGSTOP);
	cr_assert_eq(ctl_redis_take(r, 40, 1, 64, &got), CTL_REDIS_DOWN);
	cr_assert(strstr(ctl_redis_error(r), "take failed") != NULL, "%s", ctl_redis_error(r));
	kill(srv.pid, SIGCONT);
	cr_assert_eq(take_until_up(r, 40, &got), CTL_REDIS_OK, "%s", ctl_redis_error(r));
	known = got;
	cr_assert_eq(ctl_redis_status(r, 40, &st), CTL_REDIS_OK);
	/* Either the lost take of 50 ran (then 25 more) or it did not (then 50). */
	cr_assert((known == 25 && st.held_self == 75) || (known == 50 && st.held_self == 50),
		  "known %" PRIu64 " held in Redis %" PRId64, known, st.held_self);
	cr_assert_eq(ctl_redis_give_back(r, 40, (uint64_t)st.held_self - known, &given),
		     CTL_REDIS_OK);
	cr_assert_eq(given, (uint64_t)st.held_self - known);
	cr_assert_eq(ctl_redis_status(r, 40, &st), CTL_REDIS_OK);
	cr_assert_eq(st.held_self, (int64_t)known);
	cr_assert_eq(st.stock, 100 - (int64_t)known);
	assert_invariant(r, 40);
	ctl_redis_close(r);
}

/* AOF, appendfsync always: the production setting, so data survives SIGKILL. */
static void setup_aof(void) { start(true); }
TestSuite(redis_aof, .init = setup_aof, .fini = teardown, .timeout = 60);

Test(redis_aof, redis_down_then_back_with_its_data)
{
	struct ctl_redis *a, *b;
	char where[64];
	uint64_t got;
	bool replayed;

	a = host("a");
	b = host("b");
	cr_assert_eq(ctl_redis_campaign_create(a, 30, 100, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 30, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 50);
	cr_assert_eq(ctl_redis_confirm(a, 30, 7, "o-7", NULL), CTL_REDIS_OK);

	rsrv_kill(&srv);
	cr_assert_eq(ctl_redis_take(a, 30, 1, 64, &got), CTL_REDIS_DOWN);
	cr_assert_eq(got, 0);
	cr_assert_eq(ctl_redis_connected(a), false);
	snprintf(where, sizeof(where), "redis 127.0.0.1:%d", srv.port);
	cr_assert(strstr(ctl_redis_error(a), where) != NULL, "%s", ctl_redis_error(a));
	cr_assert(strstr(ctl_redis_error(a), "selling goes on from held chunks") != NULL);
	/* Every call says DOWN while it is down, at once or after a retry. */
	cr_assert_eq(ctl_redis_confirm(a, 30, 8, "o-8", NULL), CTL_REDIS_DOWN);
	cr_assert_eq(ctl_redis_give_back(b, 30, 1, NULL), CTL_REDIS_DOWN);
	rsrv_sleep_ms(100);
	cr_assert_eq(ctl_redis_take(a, 30, 1, 64, &got), CTL_REDIS_DOWN);
	cr_assert(strstr(ctl_redis_error(a), "connect failed") != NULL, "%s", ctl_redis_error(a));

	cr_assert(rsrv_start(&srv), "restart on port %d", srv.port);
	raw_open();
	/* The restarted server kept the data and forgot the scripts (NOSCRIPT). */
	cr_assert_eq(take_until_up(a, 30, &got), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(got, 25, "50 left after the first take");
	cr_assert_eq(ctl_redis_connected(a), true);
	cr_assert_eq(raw_int("GET seckill:sold:{30}"), 1);
	cr_assert_eq(raw_int("HGET seckill:hosts:{30} a"), 49 + 25);
	/* The confirm that failed while down is replayed now; the old one is a replay. */
	cr_assert_eq(ctl_redis_confirm(a, 30, 8, "o-8", &replayed), CTL_REDIS_OK);
	cr_assert_eq(replayed, false);
	cr_assert_eq(ctl_redis_confirm(a, 30, 7, "o-7", &replayed), CTL_REDIS_OK);
	cr_assert_eq(replayed, true);
	cr_assert_eq(take_until_up(b, 30, &got), CTL_REDIS_OK, "%s", ctl_redis_error(b));
	cr_assert_eq(got, 12, "floor(25 / 2)");
	cr_assert_eq(raw_int("GET seckill:sold:{30}"), 2);
	assert_invariant(a, 30);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

/* ---- a dead host's holding released (seckillctl campaign release-host) ---- */

Test(redis, release_host_gives_its_holding_back_and_fences_it)
{
	struct ctl_redis *a = host("a"), *b = host("b");
	struct ctl_redis_status st;
	uint64_t got, left, given;

	cr_assert_eq(ctl_redis_campaign_create(a, 50, 100, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take_left(a, 50, 1, 30, &got, &left), CTL_REDIS_OK);
	cr_assert_eq(got, 30);
	cr_assert_eq(left, 70, "take says what is left");
	cr_assert_eq(ctl_redis_confirm(a, 50, 1, "a-1", NULL), CTL_REDIS_OK);
	/* b releases a (a "died" with 29 held): they go back to the stock. */
	cr_assert_eq(ctl_redis_release_host(b, 50, "a", &given), CTL_REDIS_OK,
		     "%s", ctl_redis_error(b));
	cr_assert_eq(given, 29);
	cr_assert_eq(raw_int("GET seckill:stock:{50}"), 99);
	cr_assert_eq(raw_int("HEXISTS seckill:hosts:{50} a"), 0, "its entry is gone");
	cr_assert_eq(raw_int("SISMEMBER seckill:released:{50} a"), 1);
	assert_invariant(b, 50);
	cr_assert_eq(ctl_redis_status(a, 50, &st), CTL_REDIS_OK);
	cr_assert(st.released && st.held_self == 0);
	/* a was alive after all: it takes nothing more. */
	cr_assert_eq(ctl_redis_take(a, 50, 1, 30, &got), CTL_REDIS_RELEASED);
	cr_assert_eq(got, 0);
	cr_assert_eq(raw_int("GET seckill:stock:{50}"), 99);
	/* Its orders of the released holding take their unit from the stock. */
	cr_assert_eq(ctl_redis_confirm(a, 50, 2, "a-2", NULL), CTL_REDIS_OK, "%s",
		     ctl_redis_error(a));
	cr_assert_eq(raw_int("GET seckill:stock:{50}"), 98);
	cr_assert_eq(raw_int("GET seckill:sold:{50}"), 2);
	cr_assert_eq(raw_int("HEXISTS seckill:hosts:{50} a"), 0, "no holding made up");
	assert_invariant(a, 50);
	/* A replay and a duplicate answer as always. */
	cr_assert_eq(ctl_redis_confirm(a, 50, 1, "a-1", NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(a, 50, 2, "other", NULL), CTL_REDIS_DUPLICATE);
	/* b sells the rest. */
	cr_assert_eq(ctl_redis_take(b, 50, 1, 1000, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 49);
	cr_assert_eq(ctl_redis_take(b, 50, 1, 1000, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(b, 50, 1, 1000, &got), CTL_REDIS_OK);
	while (raw_int("GET seckill:stock:{50}") > 0)
		cr_assert_eq(ctl_redis_take(b, 50, 1, 1000, &got), CTL_REDIS_OK);
	/* Stock empty: a's next order has no unit: released, nothing counted. */
	cr_assert_eq(ctl_redis_confirm(a, 50, 3, "a-3", NULL), CTL_REDIS_RELEASED);
	cr_assert(strstr(ctl_redis_error(a), "reject") != NULL, "%s", ctl_redis_error(a));
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{50}:3"), 0, "no claim left behind");
	cr_assert_eq(raw_int("GET seckill:sold:{50}"), 2);
	cr_assert_eq(raw_int("GET seckill:stock:{50}"), 0, "never below 0");
	assert_invariant(a, 50);
	/* a restarts: it takes part again, with nothing held. */
	{
		bool was = false;

		cr_assert_eq(ctl_redis_rejoin(a, 50, &was), CTL_REDIS_OK);
		cr_assert(was);
		cr_assert_eq(ctl_redis_rejoin(a, 50, &was), CTL_REDIS_OK);
		cr_assert(!was);
	}
	cr_assert_eq(ctl_redis_take(a, 50, 1, 30, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 0, "nothing left to take, but not refused");
	cr_assert_eq(ctl_redis_release_host(b, 51, "a", &given), CTL_REDIS_NOT_FOUND);
	cr_assert_eq(ctl_redis_release_host(b, 50, "", &given), CTL_REDIS_INVAL);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

Test(redis, released_confirms_never_oversell_whatever_the_interleaving)
{
	struct ctl_redis *a = host("a"), *b = host("b");
	uint64_t got, sold_a = 0, sold_b = 0;
	char oid[32];

	/* a holds 10 and sold them all locally, unconfirmed; it is released;
	 * b takes the whole stock back and confirms 90; a's 10 arrive late. */
	cr_assert_eq(ctl_redis_campaign_create(a, 52, 100, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 52, 1, 10, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_release_host(b, 52, "a", NULL), CTL_REDIS_OK);
	while (raw_int("HGET seckill:hosts:{52} b") < 90)
		cr_assert_eq(ctl_redis_take(b, 52, 1, 90 - (uint64_t)raw_int("HGET seckill:hosts:{52} b"),
					    &got), CTL_REDIS_OK);
	cr_assert_eq(raw_int("GET seckill:stock:{52}"), 10);
	for (int i = 0; i < 90; i++) {
		snprintf(oid, sizeof(oid), "b-%d", i);
		sold_b += ctl_redis_confirm(b, 52, 1000 + (uint64_t)i, oid, NULL) == CTL_REDIS_OK;
	}
	for (int i = 0; i < 10; i++) {
		int rc;

		snprintf(oid, sizeof(oid), "a-%d", i);
		rc = ctl_redis_confirm(a, 52, 2000 + (uint64_t)i, oid, NULL);
		cr_assert(rc == CTL_REDIS_OK || rc == CTL_REDIS_RELEASED, "rc %d", rc);
		sold_a += rc == CTL_REDIS_OK;
	}
	cr_assert_eq(sold_b, 90);
	cr_assert_eq(sold_a, 10, "10 still in the stock: a's orders got them");
	/* One more of a's: none left. */
	cr_assert_eq(ctl_redis_confirm(a, 52, 3000, "a-x", NULL), CTL_REDIS_RELEASED);
	cr_assert_eq(raw_int("GET seckill:sold:{52}"), 100, "sold never passes the stock");
	cr_assert_eq(raw_int("GET seckill:stock:{52}"), 0);
	assert_invariant(a, 52);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

/* ---- the campaigns' list and version ---- */

Test(redis, campaigns_listed_with_a_version_every_change_moves)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_campaign_def def[8];
	uint64_t v0, v1, v2, v;
	size_t n;

	cr_assert_eq(ctl_redis_campaigns_version(a, &v0), CTL_REDIS_OK);
	cr_assert_eq(v0, 0, "absent: 0");
	cr_assert_eq(ctl_redis_campaign_create(a, 61, 10, 1234, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaign_create(a, 62, 20, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaigns_version(a, &v1), CTL_REDIS_OK);
	cr_assert_eq(v1, 2);
	cr_assert_eq(ctl_redis_campaign_create(a, 62, 20, 0, false), CTL_REDIS_EXISTS);
	cr_assert_eq(ctl_redis_campaigns_version(a, &v), CTL_REDIS_OK);
	cr_assert_eq(v, v1, "an existing campaign moves nothing");
	cr_assert_eq(ctl_redis_set_state(a, 61, SALE_CLOSED_STATE), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaigns_version(a, &v2), CTL_REDIS_OK);
	cr_assert_eq(v2, v1 + 1);
	cr_assert_eq(ctl_redis_set_state(a, 69, SALE_OPEN), CTL_REDIS_NOT_FOUND);
	cr_assert_eq(ctl_redis_campaigns(a, def, 8, &n, &v), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(v, v2);
	cr_assert_eq(n, 2);
	if (def[0].id != 61) {
		struct ctl_redis_campaign_def t = def[0];

		def[0] = def[1];
		def[1] = t;
	}
	cr_assert(def[0].id == 61 && def[0].stock == 10 && def[0].starts_at_ms == 1234 &&
		  def[0].state == SALE_CLOSED_STATE);
	cr_assert(def[1].id == 62 && def[1].stock == 20 && def[1].state == SALE_SCHEDULED);
	ctl_redis_close(a);
}

Test(redis, pow_bits_are_kept_read_and_move_the_version)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_campaign_def def[8];
	struct ctl_redis_campaign c;
	uint64_t v0, v;
	size_t n;

	cr_assert_eq(ctl_redis_campaign_create(a, 81, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_preheat(a, 81, &c), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(c.pow_bits, 0, "absent: 0 (a campaign of an older version)");
	cr_assert_eq(ctl_redis_campaigns_version(a, &v0), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_set_pow(a, 81, 16), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(ctl_redis_campaigns_version(a, &v), CTL_REDIS_OK);
	cr_assert_eq(v, v0 + 1, "the other hosts follow it");
	cr_assert_eq(ctl_redis_set_pow(a, 89, 16), CTL_REDIS_NOT_FOUND);
	cr_assert_eq(ctl_redis_set_pow(a, 81, POW_MAX_BITS + 1), CTL_REDIS_INVAL);
	cr_assert_eq(ctl_redis_preheat(a, 81, &c), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(c.pow_bits, 16);
	cr_assert_eq(ctl_redis_campaigns(a, def, 8, &n, &v), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert(n == 1 && def[0].id == 81 && def[0].pow_bits == 16);
	raw_int("HSET seckill:campaign:{81} pow_bits 99");
	cr_assert_eq(ctl_redis_preheat(a, 81, &c), CTL_REDIS_ERR, "out of range: malformed");
	ctl_redis_close(a);
}

Test(redis, campaigns_of_a_sale_older_than_the_set_are_found_by_scan)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_campaign_def def[8];
	uint64_t v;
	size_t n;
	char cmd[512];

	/* As a sale made before seckill:campaigns existed left them, plus
	 * keys that only look alike. */
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d HSET seckill:campaign:{71} stock 5 starts_at 0 "
		 "state open >/dev/null && redis-cli -p %d SET seckill:stock:{71} 5 >/dev/null && "
		 "redis-cli -p %d HSET seckill:campaign:{07} stock 5 starts_at 0 state open "
		 ">/dev/null && redis-cli -p %d SET seckill:campaign:{x} 1 >/dev/null",
		 srv.port, srv.port, srv.port, srv.port);
	cr_assert_eq(system(cmd), 0, "redis-cli");
	cr_assert_eq(ctl_redis_campaigns(a, def, 8, &n, &v), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(n, 1);
	cr_assert(def[0].id == 71 && def[0].stock == 5 && def[0].state == SALE_OPEN);
	cr_assert_eq(raw_int("SISMEMBER seckill:campaigns 71"), 1, "the set is made once");
	cr_assert_eq(raw_int("SCARD seckill:campaigns"), 1, "not 07, not x");
	ctl_redis_close(a);
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests;
	int result = 0;

	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		fprintf(stderr, "redis-server not installed: skipped (apt-get install redis-server)\n");
		return 77;
	}
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}

/* ---- confirm_batch against confirm, order by order ---------------------------- */

#define CMP_HOSTS 3
#define CMP_ORDERS 3000
#define CMP_BUYERS 1200
#define CMP_STOCK 1000
#define CMP_BATCH_MAX 300       /* over the script's 256: a batch split in two calls */
#define CMP_TAIL 10             /* host c's last orders, the stock drained: released */

/* A small deterministic generator, so both modes see the same stream. */
static uint64_t cmp_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct cmp_run {
	int rc[CMP_ORDERS];
	bool replayed[CMP_ORDERS];
	uint64_t took[CMP_ORDERS];
	size_t n;
};

/*
 * One sale played against campaign id with every handle in mode m: hosts
 * take chunks and confirm batches of random size with buyers overlapping
 * across hosts, replays, bad ids, orders beyond the holding (not held),
 * and host c released half-way (its confirms then draw on the stock, or
 * are refused once it is empty: its last CMP_TAIL orders come after host a
 * took the whole stock). The same seed plays the same sale.
 */
static void cmp_play(uint32_t id, enum ctl_redis_confirm_mode m, struct cmp_run *out)
{
	static const char *const names[CMP_HOSTS] = { "a", "b", "c" };
	static char oids[CMP_ORDERS][24];
	static uint64_t buyers[CMP_ORDERS];
	struct ctl_redis *h[CMP_HOSTS];
	struct ctl_redis_confirm_req q[CMP_BATCH_MAX];
	struct ctl_redis_confirm_res res[CMP_BATCH_MAX];
	uint64_t seed = 0x9e3779b97f4a7c15ull, got;
	size_t made = 0;
	bool released = false;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < CMP_HOSTS; i++) {
		h[i] = host(names[i]);
		ctl_redis_set_confirm_mode(h[i], m);
	}
	cr_assert_eq(ctl_redis_campaign_create(h[0], id, CMP_STOCK, 0, false), CTL_REDIS_OK);
	while (made < CMP_ORDERS - CMP_TAIL) {
		unsigned k = (unsigned)(cmp_rand(&seed) % CMP_HOSTS);
		size_t nb = 1 + cmp_rand(&seed) % CMP_BATCH_MAX;

		if (nb > CMP_ORDERS - CMP_TAIL - made)
			nb = CMP_ORDERS - CMP_TAIL - made;
		if (!released && made > CMP_ORDERS / 2) {
			cr_assert_eq(ctl_redis_release_host(h[0], id, "c", NULL), CTL_REDIS_OK);
			released = true;
		}
		/* Takes a bit less than it will sell: some orders are not held. */
		if (ctl_redis_take(h[k], id, CMP_HOSTS, nb, &got) == CTL_REDIS_OK)
			out->took[made] = got;
		for (size_t i = 0; i < nb; i++) {
			uint64_t r = cmp_rand(&seed);

			buyers[made + i] = (r >> 20) % CMP_BUYERS;
			if (r % 17 == 0 && made > 0) {   /* a replay of an earlier order */
				memcpy(oids[made + i], oids[(r >> 8) % made], sizeof(oids[0]));
				buyers[made + i] = buyers[(r >> 8) % made];
			} else if (r % 97 == 0)
				oids[made + i][0] = '\0';      /* a bad id */
			else
				snprintf(oids[made + i], sizeof(oids[0]), "o-%s-%zu", names[k], made + i);
			q[i] = (struct ctl_redis_confirm_req){ id, buyers[made + i], oids[made + i] };
		}
		cr_assert_eq(ctl_redis_confirm_many(h[k], nb, q, res), CTL_REDIS_OK, "%s",
			     ctl_redis_error(h[k]));
		for (size_t i = 0; i < nb; i++) {
			out->rc[made + i] = res[i].rc;
			out->replayed[made + i] = res[i].replayed;
		}
		made += nb;
	}
	do
		cr_assert_eq(ctl_redis_take(h[0], id, 1, CMP_STOCK, &got), CTL_REDIS_OK);
	while (got != 0);
	for (size_t i = 0; i < CMP_TAIL; i++) {
		snprintf(oids[made + i], sizeof(oids[0]), "o-c-tail-%zu", i);
		q[i] = (struct ctl_redis_confirm_req){ id, CMP_BUYERS + i, oids[made + i] };
	}
	cr_assert_eq(ctl_redis_confirm_many(h[2], CMP_TAIL, q, res), CTL_REDIS_OK);
	for (size_t i = 0; i < CMP_TAIL; i++)
		out->rc[made + i] = res[i].rc;
	out->n = made + CMP_TAIL;
	assert_invariant(h[0], id);
	for (int i = 0; i < CMP_HOSTS; i++)
		ctl_redis_close(h[i]);
}

/* A claim's order id, or "" when the buyer has none. */
static void raw_claim(uint32_t id, uint64_t buyer, char *out, size_t cap)
{
	redisReply *rep = redisCommand(raw_ctx, "GET seckill:buyer:{%u}:%llu", id,
				       (unsigned long long)buyer);

	cr_assert(rep != NULL);
	snprintf(out, cap, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
	freeReplyObject(rep);
}

Test(redis, confirm_batch_decides_as_confirm_one_by_one, .timeout = 120)
{
	static struct cmp_run each, batched;
	unsigned seen[8] = { 0 };
	char ca[64], cb[64];

	cmp_play(40, CTL_REDIS_CONFIRM_EACH, &each);
	cmp_play(41, CTL_REDIS_CONFIRM_BATCHED, &batched);
	cr_assert_eq(each.n, batched.n);
	for (size_t i = 0; i < each.n; i++) {
		cr_assert_eq(each.took[i], batched.took[i], "take before order %zu", i);
		cr_assert_eq(each.rc[i], batched.rc[i], "order %zu: one by one %s, batched %s", i,
			     ctl_redis_rc_str(each.rc[i]), ctl_redis_rc_str(batched.rc[i]));
		cr_assert_eq(each.replayed[i], batched.replayed[i], "order %zu replayed", i);
		seen[each.rc[i] - CTL_REDIS_INVAL] += 1;
		seen[7] += each.replayed[i];
	}
	cr_log_info("ok %u duplicate %u released %u not held %u bad id %u replayed %u",
		    seen[CTL_REDIS_OK - CTL_REDIS_INVAL], seen[CTL_REDIS_DUPLICATE - CTL_REDIS_INVAL],
		    seen[CTL_REDIS_RELEASED - CTL_REDIS_INVAL], seen[CTL_REDIS_ERR - CTL_REDIS_INVAL],
		    seen[0], seen[7]);
	/* The stream met every outcome, or the comparison proves little. */
	cr_assert_gt(seen[CTL_REDIS_OK - CTL_REDIS_INVAL], 100);
	cr_assert_gt(seen[CTL_REDIS_DUPLICATE - CTL_REDIS_INVAL], 10);
	cr_assert_gt(seen[CTL_REDIS_RELEASED - CTL_REDIS_INVAL], 0);
	cr_assert_gt(seen[CTL_REDIS_ERR - CTL_REDIS_INVAL], 0, "orders not held");
	cr_assert_gt(seen[0], 0, "bad ids");
	cr_assert_gt(seen[7], 10, "replays");
	cr_assert_eq(raw_int("GET seckill:sold:{40}"), raw_int("GET seckill:sold:{41}"));
	cr_assert_eq(raw_int("GET seckill:stock:{40}"), raw_int("GET seckill:stock:{41}"));
	cr_assert_eq(raw_int("GET seckill:stock:{40}"), 0, "the stock drained");
	for (int i = 0; i < CMP_HOSTS; i++) {
		static const char *const names[CMP_HOSTS] = { "a", "b", "c" };

		cr_assert_eq(raw_int("HGET seckill:hosts:{40} %s", names[i]),
			     raw_int("HGET seckill:hosts:{41} %s", names[i]), "host %s", names[i]);
	}
	for (uint64_t b = 0; b < CMP_BUYERS; b++) {
		raw_claim(40, b, ca, sizeof(ca));
		raw_claim(41, b, cb, sizeof(cb));
		cr_assert_str_eq(ca, cb, "buyer %" PRIu64 "'s claim", b);
		if (ca[0] != '\0')
			cr_assert_gt(raw_int("TTL seckill:buyer:{41}:%" PRIu64, b), 0);
	}
}

Test(redis, confirm_batch_that_fails_leaves_nothing_behind)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_confirm_req q[3] = { { 50, 1, "o1" }, { 50, 2, "o2" }, { 51, 3, "o3" } };
	struct ctl_redis_confirm_res res[3];
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create(a, 50, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaign_create(a, 51, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 50, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 51, 1, 64, &got), CTL_REDIS_OK);
	/* A hand edit broke campaign 50's sold counter: its call fails whole,
	 * campaign 51's call in the same round trip is not affected. */
	cr_assert_eq(raw_int("SET seckill:sold:{50} oops"), 0);
	cr_assert_eq(ctl_redis_confirm_many(a, 3, q, res), CTL_REDIS_OK);
	cr_assert_eq(res[0].rc, CTL_REDIS_ERR);
	cr_assert_eq(res[1].rc, CTL_REDIS_ERR);
	cr_assert(strstr(ctl_redis_error(a), "BADVALUE") != NULL || res[2].rc == CTL_REDIS_OK);
	cr_assert_eq(res[2].rc, CTL_REDIS_OK);
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{50}:1"), 0);
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{50}:2"), 0);
	cr_assert_eq(raw_int("HGET seckill:hosts:{50} a"), 5);
	cr_assert_eq(raw_int("GET seckill:sold:{51}"), 1);
	/* The same with the holding broken. */
	cr_assert_eq(raw_int("SET seckill:sold:{50} 0"), 0);
	cr_assert_eq(raw_int("HSET seckill:hosts:{50} a 1.5"), 0);
	cr_assert_eq(ctl_redis_confirm_many(a, 2, q, res), CTL_REDIS_OK);
	cr_assert(res[0].rc == CTL_REDIS_ERR && res[1].rc == CTL_REDIS_ERR);
	cr_assert(strstr(ctl_redis_error(a), "BADVALUE") != NULL, "%s", ctl_redis_error(a));
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{50}:1"), 0);
	cr_assert_eq(raw_int("GET seckill:sold:{50}"), 0);
	ctl_redis_close(a);
}

Test(redis, confirm_batch_not_held_claims_nothing_and_says_so)
{
	struct ctl_redis *a = host("a");
	struct ctl_redis_confirm_req q[3] = { { 52, 1, "o1" }, { 52, 2, "o2" }, { 52, 1, "o1" } };
	struct ctl_redis_confirm_res res[3];
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create(a, 52, 2, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 52, 2, 1, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 1);
	cr_assert_eq(ctl_redis_confirm_many(a, 3, q, res), CTL_REDIS_OK);
	cr_assert_eq(res[0].rc, CTL_REDIS_OK);
	cr_assert_eq(res[1].rc, CTL_REDIS_ERR, "one unit held, spent on o1");
	cr_assert(res[2].rc == CTL_REDIS_OK && res[2].replayed, "a replay needs no unit");
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{52}:2"), 0);
	cr_assert_eq(raw_int("GET seckill:sold:{52}"), 1);
	cr_assert_eq(raw_int("HGET seckill:hosts:{52} a"), 0);
	assert_invariant(a, 52);
	ctl_redis_close(a);
}

Test(redis, confirm_batch_lost_in_flight_is_asked_again_as_a_replay)
{
	char err[CTL_REDIS_ERR_CAP];
	struct ctl_redis *r = ctl_redis_connect("127.0.0.1", srv.port, 300, err, sizeof(err));
	struct ctl_redis_confirm_req q[3] = { { 53, 1, "o1" }, { 53, 2, "o2" }, { 54, 3, "o3" } };
	struct ctl_redis_confirm_res res[3];
	uint64_t got;
	int rc = CTL_REDIS_DOWN;

	cr_assert(r != NULL, "%s", err);
	ctl_redis_set_host(r, "a");
	cr_assert_eq(ctl_redis_campaign_create(r, 53, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_campaign_create(r, 54, 10, 0, false), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(r, 53, 1, 64, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(r, 54, 1, 64, &got), CTL_REDIS_OK);
	/* The handle reads how a campaign is sharded once, before its first
	 * confirm (status does too): read now, so the confirms are sent. */
	assert_invariant(r, 53);
	assert_invariant(r, 54);
	kill(srv.pid, SIGSTOP);   /* the calls are written, their replies never come */
	cr_assert_eq(ctl_redis_confirm_many(r, 3, q, res), CTL_REDIS_DOWN);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(res[i].rc, CTL_REDIS_DOWN, "order %d", i);
	kill(srv.pid, SIGCONT);
	for (int i = 0; i < RECONNECT_WAIT_MS / 50 && rc == CTL_REDIS_DOWN; i++) {
		rsrv_sleep_ms(50);
		rc = ctl_redis_confirm_many(r, 3, q, res);
	}
	cr_assert_eq(rc, CTL_REDIS_OK, "%s", ctl_redis_error(r));
	/* The lost calls did run once Redis went on: asked again, a replay each. */
	for (int i = 0; i < 3; i++)
		cr_assert(res[i].rc == CTL_REDIS_OK && res[i].replayed, "order %d: %s", i,
			  ctl_redis_rc_str(res[i].rc));
	cr_assert_eq(raw_int("GET seckill:sold:{53}"), 2, "counted once");
	cr_assert_eq(raw_int("GET seckill:sold:{54}"), 1);
	assert_invariant(r, 53);
	assert_invariant(r, 54);
	ctl_redis_close(r);
}

/* ---- sharded claims: buckets {id:k} (ctl_redis_shard.c) ---- */

#define SH_BUCKETS 8

/*
 * One sale played against campaign id created with `buckets`: three hosts
 * take chunks and confirm batches of random size, each selling only what
 * it holds (a duplicate's unit goes back to its holding, as the dataplane
 * does), with buyers overlapping across hosts, replays and bad ids. The
 * same seed plays the same sale.
 */
static void shard_play(uint32_t id, unsigned buckets, struct cmp_run *out)
{
	static const char *const names[CMP_HOSTS] = { "a", "b", "c" };
	static char oids[CMP_ORDERS][24];
	static uint64_t buyers[CMP_ORDERS];
	struct ctl_redis *h[CMP_HOSTS];
	struct ctl_redis_confirm_req q[CMP_BATCH_MAX];
	struct ctl_redis_confirm_res res[CMP_BATCH_MAX];
	uint64_t seed = 0x2545f4914f6cdd1dull, got, held[CMP_HOSTS] = { 0 }, sold = 0;
	size_t made = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < CMP_HOSTS; i++)
		h[i] = host(names[i]);
	cr_assert_eq(ctl_redis_campaign_create_sharded(h[0], id, CMP_STOCK, 0, false, buckets),
		     CTL_REDIS_OK);
	while (made < CMP_ORDERS) {
		unsigned k = (unsigned)(cmp_rand(&seed) % CMP_HOSTS);
		size_t nb = 1 + cmp_rand(&seed) % CMP_BATCH_MAX;

		cr_assert_eq(ctl_redis_take(h[k], id, CMP_HOSTS, CMP_BATCH_MAX, &got), CTL_REDIS_OK);
		out->took[made] = got;
		held[k] += got;
		if (nb > held[k])
			nb = held[k];
		if (nb > CMP_ORDERS - made)
			nb = CMP_ORDERS - made;
		if (nb == 0)
			break;   /* the stock is gone */
		for (size_t i = 0; i < nb; i++) {
			uint64_t r = cmp_rand(&seed);

			buyers[made + i] = (r >> 20) % CMP_BUYERS;
			if (r % 17 == 0 && made > 0) {
				memcpy(oids[made + i], oids[(r >> 8) % made], sizeof(oids[0]));
				buyers[made + i] = buyers[(r >> 8) % made];
			} else if (r % 97 == 0)
				oids[made + i][0] = '\0';
			else
				snprintf(oids[made + i], sizeof(oids[0]), "o-%s-%zu", names[k], made + i);
			q[i] = (struct ctl_redis_confirm_req){ id, buyers[made + i], oids[made + i] };
		}
		cr_assert_eq(ctl_redis_confirm_many(h[k], nb, q, res), CTL_REDIS_OK, "%s",
			     ctl_redis_error(h[k]));
		for (size_t i = 0; i < nb; i++) {
			out->rc[made + i] = res[i].rc;
			out->replayed[made + i] = res[i].replayed;
			held[k] -= res[i].rc == CTL_REDIS_OK && !res[i].replayed;
			sold += res[i].rc == CTL_REDIS_OK && !res[i].replayed;
		}
		/* Counted sold when the call returns (the settle follows the claims). */
		cr_assert_eq(raw_int("GET seckill:sold:{%u}", id), (long long)sold,
			     "sold after order %zu", made + nb);
		made += nb;
	}
	out->n = made;
	for (int i = 0; i < CMP_HOSTS; i++) {
		uint64_t given;

		cr_assert_eq(ctl_redis_give_back(h[i], id, held[i], &given), CTL_REDIS_OK);
		cr_assert_eq(given, held[i], "host %s holds in Redis what it knows it holds",
			     names[i]);
		assert_invariant(h[i], id);
		ctl_redis_close(h[i]);
	}
}

/* The claim's order id of buyer in a campaign of `buckets`, or "". */
static void raw_claim_in(uint32_t id, unsigned buckets, uint64_t buyer, char *out, size_t cap)
{
	char key[CTL_REDIS_KEY_CAP], field[CTL_REDIS_FIELD_CAP];
	redisReply *rep;

	if (ctl_redis_claim_at(key, sizeof(key), field, sizeof(field), id, buckets, buyer))
		rep = redisCommand(raw_ctx, "HGET %s %s", key, field);
	else
		rep = redisCommand(raw_ctx, "GET %s", key);
	cr_assert(rep != NULL);
	snprintf(out, cap, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
	freeReplyObject(rep);
}

Test(redis, sharded_claims_decide_as_claims_beside_the_campaign, .timeout = 120)
{
	static struct cmp_run one, sharded;
	unsigned ok = 0, dup = 0, rep = 0, used[SH_BUCKETS] = { 0 };
	char ca[64], cb[64];

	shard_play(60, 1, &one);
	shard_play(61, SH_BUCKETS, &sharded);
	cr_assert_eq(one.n, sharded.n);
	for (size_t i = 0; i < one.n; i++) {
		cr_assert_eq(one.took[i], sharded.took[i], "take before order %zu", i);
		cr_assert_eq(one.rc[i], sharded.rc[i], "order %zu: %s vs sharded %s", i,
			     ctl_redis_rc_str(one.rc[i]), ctl_redis_rc_str(sharded.rc[i]));
		cr_assert_eq(one.replayed[i], sharded.replayed[i], "order %zu replayed", i);
		ok += one.rc[i] == CTL_REDIS_OK && !one.replayed[i];
		dup += one.rc[i] == CTL_REDIS_DUPLICATE;
		rep += one.replayed[i];
	}
	cr_assert_gt(ok, 500);
	cr_assert_gt(dup, 50);
	cr_assert_gt(rep, 10);
	cr_assert_eq(raw_int("GET seckill:sold:{60}"), ok);
	cr_assert_eq(raw_int("GET seckill:sold:{61}"), ok, "every claim settled");
	cr_assert_eq(raw_int("GET seckill:stock:{61}"), raw_int("GET seckill:stock:{60}"));
	cr_assert_eq(raw_int("EXISTS seckill:hosts:{61}"), raw_int("EXISTS seckill:hosts:{60}"));
	for (uint64_t b = 0; b < CMP_BUYERS; b++) {
		raw_claim_in(60, 1, b, ca, sizeof(ca));
		raw_claim_in(61, SH_BUCKETS, b, cb, sizeof(cb));
		cr_assert_str_eq(ca, cb, "buyer %" PRIu64 "'s claim", b);
		cr_assert_eq(raw_int("EXISTS seckill:buyer:{61}:%" PRIu64, b), 0,
			     "no claim beside a sharded campaign");
		if (cb[0] != '\0')
			cr_assert_eq(raw_int("HEXISTS seckill:claims:{61:%u} %" PRIu64,
					     (unsigned)(b % SH_BUCKETS), b), 1, "in its bucket");
		used[b % SH_BUCKETS] += cb[0] != '\0';
	}
	for (unsigned k = 0; k < SH_BUCKETS; k++)
		cr_assert_gt(used[k], 10, "bucket %u holds claims", k);
}

/* A claim made in a bucket as a host that then died before its settle:
 * claim_batch run by hand. */
static void raw_claim_unsettled(uint32_t id, unsigned buckets, const char *hostname,
				uint64_t buyer, const char *oid)
{
	char claimed[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP], claims[CTL_REDIS_KEY_CAP];
	unsigned k = ctl_redis_bucket(buyer, buckets);
	redisReply *rep;

	snprintf(claims, sizeof(claims), "seckill:claims:{%u:%u}", id, k);
	snprintf(claimed, sizeof(claimed), "seckill:claimed:{%u:%u}", id, k);
	snprintf(rel, sizeof(rel), "seckill:released:{%u:%u}", id, k);
	rep = redisCommand(raw_ctx, "EVAL %s 3 %s %s %s %s 1000 %llu %s", ctl_lua_claim_batch,
			   claims, claimed, rel, hostname, (unsigned long long)buyer, oid);
	cr_assert(rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2,
		  "claim_batch: %s", rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
	cr_assert_eq(rep->element[0]->integer, 0, "claimed");
	freeReplyObject(rep);
}

/* claim_batch checks each buyer and order id in its loop, before the one
 * HSET: a batch with an empty one is refused with nothing written, not
 * even the orders before it. */
Test(redis, claim_batch_with_an_empty_argument_writes_nothing)
{
	const char *argv[] = { "EVAL", ctl_lua_claim_batch, "3", "seckill:claims:{72:0}",
			       "seckill:claimed:{72:0}", "seckill:released:{72:0}", "h", "1000",
			       "1", "2", "o1", "" };
	redisReply *rep;

	rep = redisCommandArgv(raw_ctx, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
	cr_assert(rep != NULL && rep->type == REDIS_REPLY_ERROR, "claim_batch took an empty id");
	cr_assert(strstr(rep->str, "BADARGS") != NULL, "%s", rep->str);
	freeReplyObject(rep);
	cr_assert_eq(raw_int("EXISTS seckill:claims:{72:0} seckill:claimed:{72:0}"), 0);
}

Test(redis, sharded_claims_of_a_crash_are_settled_by_the_restart_and_by_a_release)
{
	struct ctl_redis *a = host("a"), *b = host("b");
	struct ctl_redis_status st;
	uint64_t got, given;
	bool replayed;

	cr_assert_eq(ctl_redis_campaign_create_sharded(a, 70, 100, 0, false, SH_BUCKETS),
		     CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 70, 1, 20, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 20);
	for (uint64_t buyer = 1; buyer <= 5; buyer++) {
		char oid[16];

		snprintf(oid, sizeof(oid), "o%" PRIu64, buyer);
		cr_assert_eq(ctl_redis_confirm(a, 70, buyer, oid, NULL), CTL_REDIS_OK);
	}
	cr_assert_eq(raw_int("GET seckill:sold:{70}"), 5);
	/* Host a claims buyer 100 and dies before its settle: held 15, but one is sold. */
	raw_claim_unsettled(70, SH_BUCKETS, "a", 100, "o100");
	cr_assert_eq(raw_int("HGET seckill:hosts:{70} a"), 15);
	ctl_redis_close(a);
	/* Restarted, host a reads its claims from the buckets and settles them. */
	a = host("a");
	cr_assert_eq(ctl_redis_status(a, 70, &st), CTL_REDIS_OK, "%s", ctl_redis_error(a));
	cr_assert_eq(st.held_self, 14, "what it has not sold");
	cr_assert_eq(st.sold, 6);
	cr_assert_eq(ctl_redis_confirm(a, 70, 100, "o100", &replayed), CTL_REDIS_OK);
	cr_assert(replayed, "its journal's order, claimed before the crash");
	assert_invariant(a, 70);
	/* It dies again with one more claim unsettled, for good: released. */
	raw_claim_unsettled(70, SH_BUCKETS, "a", 101, "o101");
	ctl_redis_close(a);
	cr_assert_eq(ctl_redis_release_host(b, 70, "a", &given), CTL_REDIS_OK,
		     "%s", ctl_redis_error(b));
	cr_assert_eq(given, 13, "14 held, 1 of them sold");
	cr_assert_eq(raw_int("GET seckill:sold:{70}"), 7);
	cr_assert_eq(raw_int("GET seckill:stock:{70}"), 93);
	cr_assert_eq(raw_int("HEXISTS seckill:hosts:{70} a"), 0);
	assert_invariant(b, 70);
	/* It comes back (before it rejoins, as if it had been alive after all):
	 * every bucket refuses it now, nothing is claimed. */
	a = host("a");
	cr_assert_eq(ctl_redis_confirm(a, 70, 102, "o102", NULL), CTL_REDIS_RELEASED);
	cr_assert_eq(raw_int("HEXISTS seckill:claims:{70:%u} 102", ctl_redis_bucket(102, SH_BUCKETS)),
		     0);
	cr_assert_eq(raw_int("GET seckill:sold:{70}"), 7);
	/* It rejoins (a restart does), and takes part again. */
	cr_assert_eq(ctl_redis_rejoin(a, 70, NULL), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_take(a, 70, 1, 10, &got), CTL_REDIS_OK);
	cr_assert_eq(got, 10);
	cr_assert_eq(ctl_redis_confirm(a, 70, 102, "o102", NULL), CTL_REDIS_OK);
	cr_assert_eq(raw_int("GET seckill:sold:{70}"), 8);
	assert_invariant(a, 70);
	ctl_redis_close(a);
	ctl_redis_close(b);
}

Test(redis, sharded_create_is_checked_and_forced_create_clears_the_buckets)
{
	struct ctl_redis *a = host("a");
	uint64_t got;

	cr_assert_eq(ctl_redis_campaign_create_sharded(a, 71, 10, 0, false, 0), CTL_REDIS_INVAL);
	cr_assert_eq(ctl_redis_campaign_create_sharded(a, 71, 10, 0, false,
						       CTL_REDIS_BUCKETS_MAX + 1), CTL_REDIS_INVAL);
	cr_assert_eq(ctl_redis_campaign_create_sharded(a, 71, 10, 0, false, 4), CTL_REDIS_OK);
	cr_assert_eq(raw_int("HGET seckill:campaign:{71} buckets"), 4);
	cr_assert_eq(ctl_redis_take(a, 71, 1, 10, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(a, 71, 6, "o6", NULL), CTL_REDIS_OK);
	cr_assert_eq(raw_int("HEXISTS seckill:claims:{71:2} 6"), 1, "buyer 6 in bucket 6 %% 4");
	cr_assert_gt(raw_int("TTL seckill:claims:{71:2}"), 0, "the claims expire");
	cr_assert_eq(raw_int("HGET seckill:claimed:{71:2} a"), 1);
	cr_assert_eq(ctl_redis_campaign_create_sharded(a, 71, 10, 0, true, 1), CTL_REDIS_OK);
	cr_assert_eq(raw_int("EXISTS seckill:claims:{71:2}"), 0);
	cr_assert_eq(raw_int("EXISTS seckill:claimed:{71:2}"), 0);
	cr_assert_eq(raw_int("EXISTS seckill:settled:{71}"), 0);
	cr_assert_eq(ctl_redis_take(a, 71, 1, 10, &got), CTL_REDIS_OK);
	cr_assert_eq(ctl_redis_confirm(a, 71, 6, "o6b", NULL), CTL_REDIS_OK);
	cr_assert_eq(raw_int("EXISTS seckill:buyer:{71}:6"), 1, "one bucket: beside it");
	assert_invariant(a, 71);
	ctl_redis_close(a);
}
