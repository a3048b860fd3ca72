/*
 * ctl_redis.c - one host's connection to the sale's Redis (see ctl_redis.h).
 *
 * The idea: every step that changes the sale is one Lua script
 * (ctl_redis_lua.h), so Redis does each atomically and the C side only
 * builds keys, runs the script and maps the answer to a result code.
 *
 * The connection is the delicate part. The control thread must never stall
 * on a dead Redis: a call that finds the link broken drops it and returns
 * CTL_REDIS_DOWN at once, and the next calls try to reconnect only when the
 * back-off interval has passed (doubling from 50 ms to 2 s), each attempt
 * bounded by the handle's timeout. A call whose link dies mid-command is
 * not retried: take and confirm are not safe to send twice blindly (confirm
 * is, by order id, and the caller replays it; a lost take shows up in
 * hosts:{id} and is reconciled by the caller with status + give_back).
 * Scripts are loaded at connect; a restarted Redis has forgotten them, so a
 * NOSCRIPT answer (the script did not run) reloads it and retries once.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "ctl_redis.h"
#include "ctl_redis_lua.h"
#include "now.h"
#include "str2int.h"

/* First retry soon (a Redis restart takes ~100 ms), then back off so a dead
 * server costs the control thread one bounded connect attempt per 2 s. */
#define CTL_REDIS_BACKOFF_MIN_MS 50
#define CTL_REDIS_BACKOFF_MAX_MS 2000
/* Keys are "seckill:<kind>:<u32>[:<u64>]": well under this. */
#define CTL_REDIS_KEY_CAP 64
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

enum ctl_script_id { S_TAKE, S_GIVE_BACK, S_CONFIRM, S_CONFIRM_BATCH, S_CREATE, S_STATUS,
		     S_RELEASE_HOST, S_CAMPAIGNS, S_N };

static const struct {
	const char *name;
	const char *src;
} ctl_scripts[S_N] = {
	[S_TAKE] = { "take", ctl_lua_take },
	[S_GIVE_BACK] = { "give_back", ctl_lua_give_back },
	[S_CONFIRM] = { "confirm", ctl_lua_confirm },
	[S_CONFIRM_BATCH] = { "confirm_batch", ctl_lua_confirm_batch },
	[S_CREATE] = { "create", ctl_lua_create },
	[S_STATUS] = { "status", ctl_lua_status },
	[S_RELEASE_HOST] = { "release_host", ctl_lua_release_host },
	[S_CAMPAIGNS] = { "campaigns", ctl_lua_campaigns },
};

/* Keys every campaign shares (ctl_redis.h). */
#define CTL_REDIS_CAMPAIGNS_KEY "seckill:campaigns"

struct ctl_redis {
	redisContext *c;            /* NULL while down */
	char ip[256];
	int port;
	struct timeval tv;          /* connect and command timeout */
	uint64_t next_try_ms;       /* monotonic; no reconnect before this */
	unsigned backoff_ms;
	char host[CTL_REDIS_HOST_MAX + 1];
	uint32_t claim_ttl_s;
	char sha[S_N][CTL_REDIS_SHA_CAP];
	char err[CTL_REDIS_ERR_CAP];
	enum ctl_redis_confirm_mode confirm_mode;
	/* One confirm_batch call's command line, built here (hiredis copies
	 * it when it is appended): EVALSHA sha nkeys, keys, args. */
	char batch_claims[CTL_REDIS_CONFIRM_BATCH_MAX][CTL_REDIS_KEY_CAP];
	const char *batch_argv[3 + CTL_REDIS_BATCH_KEYS + CTL_REDIS_BATCH_ARGS +
			       2 * CTL_REDIS_CONFIRM_BATCH_MAX];
};

static void __attribute__((format(printf, 2, 3)))
set_err(struct ctl_redis *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

const char *ctl_redis_rc_str(int rc)
{
	switch (rc) {
	case CTL_REDIS_OK: return "ok";
	case CTL_REDIS_DUPLICATE: return "duplicate";
	case CTL_REDIS_RELEASED: return "released";
	case CTL_REDIS_DOWN: return "down";
	case CTL_REDIS_ERR: return "error";
	case CTL_REDIS_NOT_FOUND: return "not_found";
	case CTL_REDIS_EXISTS: return "exists";
	case CTL_REDIS_INVAL: return "invalid";
	default: return "unknown";
	}
}

/* Forgets a broken link; the next call may reconnect after the back-off. */
static int conn_drop(struct ctl_redis *r, const char *what)
{
	set_err(r, "redis %s:%d: %s failed: %s; selling goes on from held chunks, "
		"reconnecting in %u ms (check that redis-server is up)", r->ip, r->port, what,
		r->c && r->c->errstr[0] ? r->c->errstr : "connection lost", r->backoff_ms);
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->next_try_ms = now_mono_ms() + r->backoff_ms;
	return CTL_REDIS_DOWN;
}

static int script_load(struct ctl_redis *r, enum ctl_script_id s)
{
	redisReply *rep = redisCommand(r->c, "SCRIPT LOAD %s", ctl_scripts[s].src);

	if (rep == NULL)
		return conn_drop(r, "SCRIPT LOAD");
	if (rep->type != REDIS_REPLY_STRING || rep->len >= CTL_REDIS_SHA_CAP) {
		set_err(r, "redis %s:%d: SCRIPT LOAD %s refused: %s (scripting disabled?)",
			r->ip, r->port, ctl_scripts[s].name,
			rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		freeReplyObject(rep);
		return CTL_REDIS_ERR;
	}
	memcpy(r->sha[s], rep->str, rep->len + 1);
	freeReplyObject(rep);
	return CTL_REDIS_OK;
}

/* One connect attempt; on failure the back-off doubles. */
static int conn_open(struct ctl_redis *r)
{
	int rc;

	r->c = redisConnectWithTimeout(r->ip, r->port, r->tv);
	if (r->c == NULL || r->c->err) {
		rc = conn_drop(r, "connect");
		r->backoff_ms = r->backoff_ms * 2 > CTL_REDIS_BACKOFF_MAX_MS ?
			CTL_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
		return rc;
	}
	if (redisSetTimeout(r->c, r->tv) != REDIS_OK)
		return conn_drop(r, "setting the command timeout");
	r->backoff_ms = CTL_REDIS_BACKOFF_MIN_MS;
	for (int s = 0; s < S_N; s++) {
		rc = script_load(r, s);
		if (rc != CTL_REDIS_OK)
			return rc;
	}
	r->err[0] = '\0';
	return CTL_REDIS_OK;
}

/* OK when linked; DOWN at once while the back-off runs. */
static int conn_ensure(struct ctl_redis *r)
{
	if (r->c)
		return CTL_REDIS_OK;
	if (now_mono_ms() < r->next_try_ms)
		return CTL_REDIS_DOWN;   /* r->err still says why */
	return conn_open(r);
}

struct ctl_redis *ctl_redis_connect(const char *host, int port, unsigned timeout_ms,
				    char *err, size_t cap)
{
	struct ctl_redis *r;

	if (host == NULL || strlen(host) >= sizeof(r->ip) || port <= 0 || port > 65535 ||
	    timeout_ms == 0) {
		snprintf(err, cap, "redis: bad address %s:%d or timeout %u ms "
			 "(want a host, a port 1..65535, a timeout > 0)",
			 host ? host : "(null)", port, timeout_ms);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, cap, "redis: out of memory");
		return NULL;
	}
	strcpy(r->ip, host);
	r->port = port;
	r->tv.tv_sec = timeout_ms / 1000;
	r->tv.tv_usec = (timeout_ms % 1000) * 1000;
	r->backoff_ms = CTL_REDIS_BACKOFF_MIN_MS;
	r->claim_ttl_s = CTL_REDIS_CLAIM_TTL_DEFAULT_S;
	if (gethostname(r->host, sizeof(r->host)) != 0 || r->host[0] == '\0')
		strcpy(r->host, "host");
	r->host[sizeof(r->host) - 1] = '\0';
	if (conn_open(r) != CTL_REDIS_OK) {
		snprintf(err, cap, "%s", r->err);
		ctl_redis_close(r);
		return NULL;
	}
	return r;
}

void ctl_redis_close(struct ctl_redis *r)
{
	if (r == NULL)
		return;
	if (r->c)
		redisFree(r->c);
	free(r);
}

int ctl_redis_set_host(struct ctl_redis *r, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > CTL_REDIS_HOST_MAX)
		return -1;
	memcpy(r->host, name, n + 1);
	return 0;
}

const char *ctl_redis_host(const struct ctl_redis *r) { return r->host; }
const char *ctl_redis_error(const struct ctl_redis *r) { return r->err; }
bool ctl_redis_connected(const struct ctl_redis *r) { return r->c != NULL; }

void ctl_redis_set_confirm_mode(struct ctl_redis *r, enum ctl_redis_confirm_mode m)
{
	r->confirm_mode = m;
}

void ctl_redis_set_claim_ttl(struct ctl_redis *r, uint32_t seconds)
{
	r->claim_ttl_s = seconds ? seconds : 1;
}

/* Maps a script's error reply ("CODE text") to a result. */
static int script_error(struct ctl_redis *r, enum ctl_script_id s, const char *text)
{
	set_err(r, "redis %s:%d: script %s failed: %s", r->ip, r->port, ctl_scripts[s].name, text);
	if (strncmp(text, "NOTFOUND", 8) == 0)
		return CTL_REDIS_NOT_FOUND;
	if (strncmp(text, "RELEASED", 8) == 0)
		return CTL_REDIS_RELEASED;
	return CTL_REDIS_ERR;
}

/*
 * EVALSHA script s with keys then args (argv holds both, nkeys first).
 * On CTL_REDIS_OK *out is a non-error reply the caller frees.
 */
static int run_script(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
		      const char **argv, redisReply **out)
{
	const char *cmd[16];
	char nk[16];
	redisReply *rep;
	int rc;

	rc = conn_ensure(r);
	if (rc != CTL_REDIS_OK)
		return rc;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	cmd[0] = "EVALSHA";
	cmd[2] = nk;
	memcpy(&cmd[3], argv, (size_t)argc * sizeof(*argv));
	for (int attempt = 0; attempt < 2; attempt++) {
		cmd[1] = r->sha[s];
		rep = redisCommandArgv(r->c, argc + 3, cmd, NULL);
		if (rep == NULL)
			return conn_drop(r, ctl_scripts[s].name);
		if (rep->type != REDIS_REPLY_ERROR) {
			*out = rep;
			return CTL_REDIS_OK;
		}
		if (attempt > 0 || strncmp(rep->str, "NOSCRIPT", 8) != 0)
			break;
		/* Redis restarted and forgot the script; it did not run. */
		freeReplyObject(rep);
		rep = NULL;
		rc = script_load(r, s);
		if (rc != CTL_REDIS_OK)
			return rc;
	}
	rc = script_error(r, s, rep->str);
	freeReplyObject(rep);
	return rc;
}

/* A script's integer answer (>= 0), or CTL_REDIS_ERR. */
static int reply_u64(struct ctl_redis *r, redisReply *rep, const char *what, uint64_t *v)
{
	int rc = CTL_REDIS_OK;

	if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
		*v = (uint64_t)rep->integer;
	} else {
		set_err(r, "redis %s:%d: %s: unexpected reply type %d", r->ip, r->port, what,
			rep->type);
		rc = CTL_REDIS_ERR;
	}
	freeReplyObject(rep);
	return rc;
}

#define KEY(buf, fmt, ...) snprintf(buf, sizeof(buf), "seckill:" fmt, __VA_ARGS__)
#define CTL_REDIS_STR_(x) #x
#define CTL_REDIS_STR(x) CTL_REDIS_STR_(x)

int ctl_redis_take_left(struct ctl_redis *r, uint32_t id, unsigned n_takers,
			uint64_t max_chunk, uint64_t *got, uint64_t *left)
{
	char stock[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP];
	char nt[24], mc[24];
	const char *argv[6] = { stock, hosts, rel, r->host, nt, mc };
	redisReply *rep;
	int rc;

	*got = 0;
	if (left)
		*left = 0;
	KEY(stock, "stock:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	KEY(rel, "released:%" PRIu32, id);
	snprintf(nt, sizeof(nt), "%u", n_takers);
	snprintf(mc, sizeof(mc), "%" PRIu64, max_chunk > CTL_REDIS_STOCK_MAX ?
		 CTL_REDIS_STOCK_MAX : max_chunk);
	rc = run_script(r, S_TAKE, 3, 6, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[0]->integer < 0 ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		set_err(r, "redis %s:%d: take: unexpected reply", r->ip, r->port);
		freeReplyObject(rep);
		return CTL_REDIS_ERR;
	}
	*got = (uint64_t)rep->element[0]->integer;
	if (left)
		*left = rep->element[1]->integer > 0 ? (uint64_t)rep->element[1]->integer : 0;
	freeReplyObject(rep);
	return CTL_REDIS_OK;
}

int ctl_redis_take(struct ctl_redis *r, uint32_t id, unsigned n_takers, uint64_t max_chunk,
		   uint64_t *got)
{
	return ctl_redis_take_left(r, id, n_takers, max_chunk, got, NULL);
}

int ctl_redis_give_back(struct ctl_redis *r, uint32_t id, uint64_t n, uint64_t *given)
{
	char stock[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP], num[24];
	const char *argv[4] = { stock, hosts, r->host, num };
	redisReply *rep;
	uint64_t moved = 0;
	int rc;

	if (given)
		*given = 0;
	if (n > CTL_REDIS_STOCK_MAX) {
		set_err(r, "give_back: %" PRIu64 " units is more than any stock (max 2^53)", n);
		return CTL_REDIS_INVAL;
	}
	KEY(stock, "stock:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	snprintf(num, sizeof(num), "%" PRIu64, n);
	rc = run_script(r, S_GIVE_BACK, 2, 4, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = reply_u64(r, rep, "give_back", &moved);
	if (given)
		*given = moved;
	return rc;
}

/* The confirm script's keys and args for one order, in `k`. */
#define CONFIRM_KEYS 5
#define CONFIRM_ARGC (CONFIRM_KEYS + 3)
struct confirm_args {
	char claim[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP];
	char stock[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP];
	char ttl[16];
	const char *argv[CONFIRM_ARGC];
};

static int confirm_args(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			struct confirm_args *k)
{
	if (q->order_id == NULL || q->order_id[0] == '\0' ||
	    strlen(q->order_id) > CTL_REDIS_ORDER_MAX) {
		set_err(r, "confirm: order id must be 1..%d characters", CTL_REDIS_ORDER_MAX);
		return CTL_REDIS_INVAL;
	}
	KEY(k->claim, "buyer:%" PRIu32 ":%" PRIu64, q->campaign, q->buyer);
	KEY(k->sold, "sold:%" PRIu32, q->campaign);
	KEY(k->hosts, "hosts:%" PRIu32, q->campaign);
	KEY(k->stock, "stock:%" PRIu32, q->campaign);
	KEY(k->rel, "released:%" PRIu32, q->campaign);
	snprintf(k->ttl, sizeof(k->ttl), "%" PRIu32, r->claim_ttl_s);
	k->argv[0] = k->claim;
	k->argv[1] = k->sold;
	k->argv[2] = k->hosts;
	k->argv[3] = k->stock;
	k->argv[4] = k->rel;
	k->argv[5] = q->order_id;
	k->argv[6] = r->host;
	k->argv[7] = k->ttl;
	return CTL_REDIS_OK;
}

/* One order's outcome from the word the confirm scripts use for it. */
static int confirm_outcome(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			   const char *word, bool *replayed)
{
	if (strcmp(word, "ok") == 0)
		return CTL_REDIS_OK;
	if (strcmp(word, "replay") == 0) {
		*replayed = true;
		return CTL_REDIS_OK;
	}
	if (strcmp(word, "duplicate") == 0) {
		set_err(r, "buyer %" PRIu64 " already bought in campaign %" PRIu32
			" with another order; reject order %s and return its unit", q->buyer,
			q->campaign, q->order_id);
		return CTL_REDIS_DUPLICATE;
	}
	if (strcmp(word, "released") == 0) {
		set_err(r, "host %s was released in campaign %" PRIu32 " and the stock is "
			"empty: order %s has no unit; reject it", r->host, q->campaign,
			q->order_id);
		return CTL_REDIS_RELEASED;
	}
	set_err(r, "redis %s:%d: confirm: unexpected reply", r->ip, r->port);
	return CTL_REDIS_ERR;
}

/* The confirm script's answer: ok, replay, duplicate; frees rep. */
static int confirm_reply(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 redisReply *rep, bool *replayed)
{
	int rc = CTL_REDIS_ERR;

	if (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_STRING)
		set_err(r, "redis %s:%d: confirm: unexpected reply", r->ip, r->port);
	else
		rc = confirm_outcome(r, q, rep->str, replayed);
	freeReplyObject(rep);
	return rc;
}

int ctl_redis_confirm(struct ctl_redis *r, uint32_t id, uint64_t buyer, const char *order_id,
		      bool *replayed)
{
	struct ctl_redis_confirm_req q = { .campaign = id, .buyer = buyer, .order_id = order_id };
	struct confirm_args k;
	redisReply *rep;
	bool rp = false;
	int rc;

	if (replayed)
		*replayed = false;
	if ((rc = confirm_args(r, &q, &k)) != CTL_REDIS_OK)
		return rc;
	rc = run_script(r, S_CONFIRM, CONFIRM_KEYS, CONFIRM_ARGC, k.argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = confirm_reply(r, &q, rep, &rp);
	if (replayed)
		*replayed = rp;
	return rc;
}

/*
 * n confirms in one round trip: every EVALSHA is written, then every reply
 * read (hiredis pipelining). Each script still runs alone in Redis, in this
 * order. A reply lost with the connection leaves that confirm and those
 * after it CTL_REDIS_DOWN (each may or may not have run: confirm is
 * idempotent per order id, so the caller simply asks again). Redis having
 * forgotten the script (NOSCRIPT: it restarted) is answered one by one.
 */
static int confirm_each(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			struct ctl_redis_confirm_res *res)
{
	struct confirm_args k;
	const char *cmd[3 + CONFIRM_ARGC];
	size_t sent = 0;
	int rc = conn_ensure(r);

	for (size_t i = 0; i < n; i++)
		res[i] = (struct ctl_redis_confirm_res){ .rc = CTL_REDIS_DOWN };
	if (rc != CTL_REDIS_OK)
		return rc;
	cmd[0] = "EVALSHA";
	cmd[1] = r->sha[S_CONFIRM];
	cmd[2] = CTL_REDIS_STR(CONFIRM_KEYS);
	for (; sent < n; sent++) {
		if ((res[sent].rc = confirm_args(r, &q[sent], &k)) != CTL_REDIS_OK)
			continue;   /* never sent: its reply is not awaited */
		memcpy(&cmd[3], k.argv, sizeof(k.argv));
		if (redisAppendCommandArgv(r->c, 3 + CONFIRM_ARGC, cmd, NULL) != REDIS_OK)
			return conn_drop(r, "confirm (pipelined)");
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *rep = NULL;

		if (res[i].rc == CTL_REDIS_INVAL)
			continue;
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || rep == NULL) {
			for (size_t j = i; j < n; j++)
				if (res[j].rc != CTL_REDIS_INVAL)
					res[j].rc = CTL_REDIS_DOWN;
			return conn_drop(r, "confirm (pipelined)");
		}
		if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			res[i].needs_retry = true;
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			res[i].rc = script_error(r, S_CONFIRM, rep->str);
			freeReplyObject(rep);
			continue;
		}
		res[i].rc = confirm_reply(r, &q[i], rep, &res[i].replayed);
	}
	for (size_t i = 0; i < n; i++)
		if (res[i].needs_retry) {
			res[i].needs_retry = false;
			res[i].rc = ctl_redis_confirm(r, q[i].campaign, q[i].buyer, q[i].order_id,
						      &res[i].replayed);
		}
	return CTL_REDIS_OK;
}

/* ---- confirm_batch: one script call confirms a campaign's orders of a batch ---- */

/* confirm_batch's per-order codes (ctl_redis_lua.h) as confirm's words;
 * code 4 is "not held", which confirm answers with an error. */
static const char *const ctl_batch_words[] = { "ok", "replay", "duplicate", "released" };
#define CTL_REDIS_BATCH_NOTHELD 4

static bool order_id_ok(struct ctl_redis *r, const struct ctl_redis_confirm_req *q)
{
	if (q->order_id != NULL && q->order_id[0] != '\0' &&
	    strlen(q->order_id) <= CTL_REDIS_ORDER_MAX)
		return true;
	set_err(r, "confirm: order id must be 1..%d characters", CTL_REDIS_ORDER_MAX);
	return false;
}

/*
 * Groups the orders still CTL_REDIS_DOWN in res (the valid ones) into
 * calls: one campaign and at most CTL_REDIS_CONFIRM_BATCH_MAX orders each,
 * a campaign's orders in their order, so its calls, run one after the
 * other, decide as confirms one by one would. Call k is q[idx[off[k]]] ..
 * q[idx[off[k + 1] - 1]]. Returns the number of calls.
 */
static size_t batch_group(const struct ctl_redis_confirm_req *q,
			  const struct ctl_redis_confirm_res *res, size_t n, size_t *idx,
			  size_t *off, bool *taken)
{
	size_t m = 0, calls = 0;

	for (size_t i = 0; i < n; i++) {
		size_t cnt = 0;

		if (taken[i] || res[i].rc != CTL_REDIS_DOWN)
			continue;
		off[calls++] = m;
		for (size_t j = i; j < n && cnt < CTL_REDIS_CONFIRM_BATCH_MAX; j++) {
			if (taken[j] || res[j].rc != CTL_REDIS_DOWN || q[j].campaign != q[i].campaign)
				continue;
			taken[j] = true;
			idx[m++] = j;
			cnt++;
		}
	}
	off[calls] = m;
	return calls;
}

/* Appends one confirm_batch call for the orders q[idx[0..cnt)) to the
 * pipeline (hiredis copies the arguments). */
static int batch_append(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			const size_t *idx, size_t cnt)
{
	char sold[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP], stock[CTL_REDIS_KEY_CAP];
	char rel[CTL_REDIS_KEY_CAP], nk[16], ttl[16];
	const char **a = r->batch_argv;
	uint32_t id = q[idx[0]].campaign;
	size_t argc = 0;

	KEY(sold, "sold:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	KEY(stock, "stock:%" PRIu32, id);
	KEY(rel, "released:%" PRIu32, id);
	snprintf(nk, sizeof(nk), "%zu", CTL_REDIS_BATCH_KEYS + cnt);
	snprintf(ttl, sizeof(ttl), "%" PRIu32, r->claim_ttl_s);
	a[argc++] = "EVALSHA";
	a[argc++] = r->sha[S_CONFIRM_BATCH];
	a[argc++] = nk;
	a[argc++] = sold;
	a[argc++] = hosts;
	a[argc++] = stock;
	a[argc++] = rel;
	for (size_t i = 0; i < cnt; i++) {
		KEY(r->batch_claims[i], "buyer:%" PRIu32 ":%" PRIu64, id, q[idx[i]].buyer);
		a[argc++] = r->batch_claims[i];
	}
	a[argc++] = r->host;
	a[argc++] = ttl;
	for (size_t i = 0; i < cnt; i++)
		a[argc++] = q[idx[i]].order_id;
	if (redisAppendCommandArgv(r->c, (int)argc, a, NULL) != REDIS_OK)
		return conn_drop(r, "confirm_batch (pipelined)");
	return CTL_REDIS_OK;
}

/* One order's code in confirm_batch's answer. */
static int batch_code(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
		      const redisReply *e, bool *replayed)
{
	if (e->type == REDIS_REPLY_INTEGER && e->integer >= 0 &&
	    e->integer < (long long)(sizeof(ctl_batch_words) / sizeof(ctl_batch_words[0])))
		return confirm_outcome(r, q, ctl_batch_words[e->integer], replayed);
	if (e->type == REDIS_REPLY_INTEGER && e->integer == CTL_REDIS_BATCH_NOTHELD)
		set_err(r, "redis %s:%d: script confirm_batch failed: NOTHELD host %s holds no "
			"unit in seckill:hosts:%" PRIu32 "; order %s not claimed", r->ip, r->port,
			r->host, q->campaign, q->order_id);
	else
		set_err(r, "redis %s:%d: confirm_batch: unexpected reply", r->ip, r->port);
	return CTL_REDIS_ERR;
}

/* Settles the orders of one confirm_batch call from its reply; frees rep.
 * True when Redis had forgotten the script: nothing ran, ask again. */
static bool batch_settle(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 const size_t *idx, size_t cnt, redisReply *rep,
			 struct ctl_redis_confirm_res *res)
{
	bool noscript = rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
	int rc = CTL_REDIS_ERR;

	if (noscript) {
		freeReplyObject(rep);
		return true;
	}
	if (rep->type == REDIS_REPLY_ERROR)
		rc = script_error(r, S_CONFIRM_BATCH, rep->str);
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != cnt)
		set_err(r, "redis %s:%d: confirm_batch: unexpected reply", r->ip, r->port);
	for (size_t i = 0; i < cnt; i++) {
		struct ctl_redis_confirm_res *o = &res[idx[i]];

		o->rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == cnt ?
			batch_code(r, &q[idx[i]], rep->element[i], &o->replayed) : rc;
	}
	freeReplyObject(rep);
	return false;
}

/* One call sent and answered alone (after NOSCRIPT, the script reloaded). */
static int batch_again(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
		       const size_t *idx, size_t cnt, struct ctl_redis_confirm_res *res)
{
	redisReply *rep = NULL;
	int rc = script_load(r, S_CONFIRM_BATCH);

	if (rc == CTL_REDIS_OK)
		rc = batch_append(r, q, idx, cnt);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || rep == NULL)
		return conn_drop(r, "confirm_batch");
	if (batch_settle(r, q, idx, cnt, rep, res)) {
		set_err(r, "redis %s:%d: confirm_batch: NOSCRIPT right after SCRIPT LOAD",
			r->ip, r->port);
		for (size_t i = 0; i < cnt; i++)
			res[idx[i]].rc = CTL_REDIS_ERR;
	}
	return CTL_REDIS_OK;
}

/*
 * The batched confirm_many: one confirm_batch call per campaign (per
 * CTL_REDIS_CONFIRM_BATCH_MAX orders) of the batch, all calls in one
 * round trip. A reply lost with the connection leaves its call's orders
 * and those of the calls after it CTL_REDIS_DOWN (each call ran whole or
 * not at all: confirm is idempotent per order id, the caller asks again).
 */
static int confirm_batched(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res)
{
	size_t *idx, *off, calls;
	bool *taken, *again;
	int rc = conn_ensure(r);

	for (size_t i = 0; i < n; i++)
		res[i] = (struct ctl_redis_confirm_res){ .rc = CTL_REDIS_DOWN };
	if (rc != CTL_REDIS_OK || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!order_id_ok(r, &q[i]))
			res[i].rc = CTL_REDIS_INVAL;   /* never sent */
	idx = malloc(n * sizeof(*idx));
	off = malloc((n + 1) * sizeof(*off));
	taken = calloc(n, sizeof(*taken));
	again = calloc(n, sizeof(*again));
	if (idx == NULL || off == NULL || taken == NULL || again == NULL) {
		set_err(r, "confirm: out of memory for a batch of %zu orders", n);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	calls = batch_group(q, res, n, idx, off, taken);
	for (size_t k = 0; k < calls && rc == CTL_REDIS_OK; k++)
		rc = batch_append(r, q, &idx[off[k]], off[k + 1] - off[k]);
	for (size_t k = 0; k < calls && rc == CTL_REDIS_OK; k++) {
		redisReply *rep = NULL;

		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || rep == NULL)
			rc = conn_drop(r, "confirm_batch (pipelined)");
		else
			again[k] = batch_settle(r, q, &idx[off[k]], off[k + 1] - off[k], rep, res);
	}
	for (size_t k = 0; k < calls && rc == CTL_REDIS_OK; k++)
		if (again[k])
			rc = batch_again(r, q, &idx[off[k]], off[k + 1] - off[k], res);
out:
	free(idx);
	free(off);
	free(taken);
	free(again);
	return rc;
}

int ctl_redis_confirm_many(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res)
{
	if (r->confirm_mode == CTL_REDIS_CONFIRM_EACH)
		return confirm_each(r, n, q, res);
	return confirm_batched(r, n, q, res);
}

/* A plain command through the same drop-on-failure path. */
static int command(struct ctl_redis *r, redisReply **out, const char *fmt, ...)
{
	va_list ap;
	int rc = conn_ensure(r);

	if (rc != CTL_REDIS_OK)
		return rc;
	va_start(ap, fmt);
	*out = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	if (*out == NULL)
		return conn_drop(r, "command");
	if ((*out)->type == REDIS_REPLY_ERROR) {
		set_err(r, "redis %s:%d: %s", r->ip, r->port, (*out)->str);
		freeReplyObject(*out);
		*out = NULL;
		return CTL_REDIS_ERR;
	}
	return CTL_REDIS_OK;
}

static const char *const ctl_state_names[] = {
	[SALE_SCHEDULED] = "scheduled", [SALE_OPEN] = "open", [SALE_CLOSED_STATE] = "closed",
};

static bool parse_state(const char *s, enum sale_state *st)
{
	for (unsigned i = 0; i < sizeof(ctl_state_names) / sizeof(ctl_state_names[0]); i++) {
		if (s && strcmp(s, ctl_state_names[i]) == 0) {
			*st = (enum sale_state)i;
			return true;
		}
	}
	return false;
}

static const char *elem_str(const redisReply *rep, size_t i)
{
	const redisReply *e = rep->element[i];

	return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

/* The campaign's hash; its integers are canonical decimals (Redis stores an
 * integer we wrote that way), so anything else is a hand edit gone wrong. */
static int preheat_hash(struct ctl_redis *r, uint32_t id, struct ctl_redis_campaign *c)
{
	redisReply *rep;
	int rc = command(r, &rep, "HMGET seckill:campaign:%" PRIu32 " stock starts_at state "
			 "pow_bits", id);
	uint64_t bits = 0;

	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
	    (!elem_str(rep, 0) && !elem_str(rep, 1) && !elem_str(rep, 2))) {
		set_err(r, "campaign %" PRIu32 " not found in Redis %s:%d (create it: HSET "
			"seckill:campaign:%" PRIu32 " stock N starts_at UNIX_MS state scheduled; "
			"SET seckill:stock:%" PRIu32 " N)", id, r->ip, r->port, id, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (!str2u64(elem_str(rep, 0), 0, UINT64_MAX, &c->stock) ||
		   !str2u64(elem_str(rep, 1), 0, UINT64_MAX, &c->starts_at_ms) ||
		   !parse_state(elem_str(rep, 2), &c->state) ||
		   (elem_str(rep, 3) && !str2u64(elem_str(rep, 3), 0, POW_MAX_BITS, &bits))) {
		set_err(r, "campaign %" PRIu32 " in Redis is malformed: seckill:campaign:%" PRIu32
			" needs stock (integer), starts_at (Unix ms) and state "
			"(scheduled|open|closed), and pow_bits 0..%d if any", id, id, POW_MAX_BITS);
		rc = CTL_REDIS_ERR;
	}
	c->pow_bits = (unsigned)bits;
	freeReplyObject(rep);
	return rc;
}

/* GET of an integer counter; absent is `dflt`, or NOT_FOUND when dflt < 0. */
static int get_counter(struct ctl_redis *r, const char *kind, uint32_t id, int dflt, uint64_t *v)
{
	redisReply *rep;
	int rc = command(r, &rep, "GET seckill:%s:%" PRIu32, kind, id);

	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type == REDIS_REPLY_NIL && dflt >= 0) {
		*v = (uint64_t)dflt;
	} else if (rep->type == REDIS_REPLY_NIL) {
		set_err(r, "campaign %" PRIu32 ": seckill:%s:%" PRIu32 " missing in Redis "
			"(SET seckill:%s:%" PRIu32 " <units not yet taken>)", id, kind, id, kind, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (rep->type != REDIS_REPLY_STRING || !str2u64(rep->str, 0, UINT64_MAX, v)) {
		set_err(r, "campaign %" PRIu32 ": seckill:%s:%" PRIu32 " is not a count >= 0",
			id, kind, id);
		rc = CTL_REDIS_ERR;
	}
	freeReplyObject(rep);
	return rc;
}

int ctl_redis_preheat(struct ctl_redis *r, uint32_t id, struct ctl_redis_campaign *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->id = id;
	rc = preheat_hash(r, id, c);
	if (rc == CTL_REDIS_OK)
		rc = get_counter(r, "stock", id, -1, &c->remaining);
	if (rc == CTL_REDIS_OK)
		rc = get_counter(r, "sold", id, 0, &c->sold);
	return rc;
}

/*
 * One SCAN step over the keys matching pattern: sends SCAN from cursor,
 * checks the reply's shape and moves cursor on. On CTL_REDIS_OK, *keys is
 * the reply's key array and *rep the reply to free after use.
 */
static int scan_step(struct ctl_redis *r, const char *pattern, char cursor[32],
		     redisReply **rep, const redisReply **keys)
{
	int rc = command(r, rep, "SCAN %s MATCH %s COUNT " CTL_REDIS_SCAN_COUNT, cursor,
			 pattern);

	if (rc != CTL_REDIS_OK)
		return rc;
	if ((*rep)->type != REDIS_REPLY_ARRAY || (*rep)->elements != 2 ||
	    (*rep)->element[0]->type != REDIS_REPLY_STRING ||
	    (*rep)->element[1]->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(*rep);
		set_err(r, "redis %s:%d: SCAN: unexpected reply", r->ip, r->port);
		return CTL_REDIS_ERR;
	}
	snprintf(cursor, 32, "%s", (*rep)->element[0]->str);
	*keys = (*rep)->element[1];
	return CTL_REDIS_OK;
}

/* Deletes seckill:buyer:{id}:* a SCAN batch at a time (never one long block). */
static int delete_claims(struct ctl_redis *r, uint32_t id)
{
	char cursor[32] = "0", pattern[CTL_REDIS_KEY_CAP];
	const redisReply *keys;
	redisReply *rep;
	int rc;

	snprintf(pattern, sizeof(pattern), "seckill:buyer:%" PRIu32 ":*", id);
	do {
		rc = scan_step(r, pattern, cursor, &rep, &keys);
		if (rc != CTL_REDIS_OK)
			return rc;
		for (size_t i = 0; i < keys->elements && rc == CTL_REDIS_OK; i++) {
			redisReply *del;

			rc = command(r, &del, "DEL %s", keys->element[i]->str);
			if (rc == CTL_REDIS_OK)
				freeReplyObject(del);
		}
		freeReplyObject(rep);
	} while (rc == CTL_REDIS_OK && strcmp(cursor, "0") != 0);
	return rc;
}

int ctl_redis_campaign_create(struct ctl_redis *r, uint32_t id, uint64_t stock,
			      uint64_t starts_at_ms, bool force)
{
	char camp[CTL_REDIS_KEY_CAP], stk[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP];
	char hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP], n[24], at[24], ids[16];
	const char *argv[11] = { camp, stk, sold, hosts, CTL_REDIS_CAMPAIGNS_KEY,
				 CTL_REDIS_VERSION_KEY, rel, n, at, force ? "1" : "0", ids };
	redisReply *rep;
	int rc;

	if (stock > CTL_REDIS_STOCK_MAX) {
		set_err(r, "campaign %" PRIu32 ": stock %" PRIu64 " is over the limit 2^53",
			id, stock);
		return CTL_REDIS_INVAL;
	}
	KEY(camp, "campaign:%" PRIu32, id);
	KEY(stk, "stock:%" PRIu32, id);
	KEY(sold, "sold:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	KEY(rel, "released:%" PRIu32, id);
	snprintf(n, sizeof(n), "%" PRIu64, stock);
	snprintf(at, sizeof(at), "%" PRIu64, starts_at_ms);
	snprintf(ids, sizeof(ids), "%" PRIu32, id);
	rc = run_script(r, S_CREATE, 7, 11, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if ((rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING) &&
	    strcmp(rep->str, "exists") == 0) {
		set_err(r, "campaign %" PRIu32 " already exists in Redis; not overwritten "
			"(force it to reset stock, sold, holdings and buyer claims)", id);
		rc = CTL_REDIS_EXISTS;
	}
	freeReplyObject(rep);
	if (rc == CTL_REDIS_OK && force)
		rc = delete_claims(r, id);
	return rc;
}

int ctl_redis_set_state(struct ctl_redis *r, uint32_t id, enum sale_state st)
{
	redisReply *rep;
	int rc;

	if ((unsigned)st >= sizeof(ctl_state_names) / sizeof(ctl_state_names[0])) {
		set_err(r, "set_state: state %d is not scheduled, open or closed", (int)st);
		return CTL_REDIS_INVAL;
	}
	/* HSETs only if the hash exists, so a typo'd id creates nothing; the
	 * version moves with it, in the same step, for the other hosts. */
	rc = command(r, &rep, "EVAL %s 2 seckill:campaign:%" PRIu32 " " CTL_REDIS_VERSION_KEY
		     " %s",
		     "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
		     "redis.call('HSET', KEYS[1], 'state', ARGV[1]) "
		     "redis.call('INCR', KEYS[2]) return 1", id, ctl_state_names[st]);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
		set_err(r, "campaign %" PRIu32 " not found in Redis %s:%d; state not set",
			id, r->ip, r->port);
		rc = CTL_REDIS_NOT_FOUND;
	}
	freeReplyObject(rep);
	return rc;
}

int ctl_redis_set_pow(struct ctl_redis *r, uint32_t id, unsigned bits)
{
	redisReply *rep;
	int rc;

	if (bits > POW_MAX_BITS) {
		set_err(r, "set_pow: %u bits is more than %d", bits, POW_MAX_BITS);
		return CTL_REDIS_INVAL;
	}
	/* As set_state: only an existing hash, the version in the same step. */
	rc = command(r, &rep, "EVAL %s 2 seckill:campaign:%" PRIu32 " " CTL_REDIS_VERSION_KEY
		     " %u",
		     "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
		     "redis.call('HSET', KEYS[1], 'pow_bits', ARGV[1]) "
		     "redis.call('INCR', KEYS[2]) return 1", id, bits);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
		set_err(r, "campaign %" PRIu32 " not found in Redis %s:%d; proof of work not set",
			id, r->ip, r->port);
		rc = CTL_REDIS_NOT_FOUND;
	}
	freeReplyObject(rep);
	return rc;
}

int ctl_redis_status(struct ctl_redis *r, uint32_t id, struct ctl_redis_status *st)
{
	char camp[CTL_REDIS_KEY_CAP], stk[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP];
	char hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP];
	const char *argv[6] = { camp, stk, sold, hosts, rel, r->host };
	int64_t v[7];
	redisReply *rep;
	int rc;

	memset(st, 0, sizeof(*st));
	KEY(camp, "campaign:%" PRIu32, id);
	KEY(stk, "stock:%" PRIu32, id);
	KEY(sold, "sold:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	KEY(rel, "released:%" PRIu32, id);
	rc = run_script(r, S_STATUS, 5, 6, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 7) {
		freeReplyObject(rep);
		set_err(r, "redis %s:%d: status: unexpected reply", r->ip, r->port);
		return CTL_REDIS_ERR;
	}
	for (int i = 0; i < 7; i++)
		v[i] = rep->element[i]->type == REDIS_REPLY_INTEGER ? rep->element[i]->integer : 0;
	freeReplyObject(rep);
	st->total = v[0];
	st->stock = v[1];
	st->sold = v[2];
	st->held = v[3];
	st->held_self = v[4];
	st->n_hosts = (uint32_t)v[5];
	st->released = v[6] != 0;
	return CTL_REDIS_OK;
}

int ctl_redis_release_host(struct ctl_redis *r, uint32_t id, const char *host,
			   uint64_t *given)
{
	char stk[CTL_REDIS_KEY_CAP], hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP];
	char camp[CTL_REDIS_KEY_CAP];
	const char *argv[5] = { stk, hosts, rel, camp, host };
	redisReply *rep;
	uint64_t n = 0;
	int rc;

	if (given)
		*given = 0;
	if (host == NULL || host[0] == '\0' || strlen(host) > CTL_REDIS_HOST_MAX) {
		set_err(r, "release_host: a host name is 1..%d bytes", CTL_REDIS_HOST_MAX);
		return CTL_REDIS_INVAL;
	}
	KEY(stk, "stock:%" PRIu32, id);
	KEY(hosts, "hosts:%" PRIu32, id);
	KEY(rel, "released:%" PRIu32, id);
	KEY(camp, "campaign:%" PRIu32, id);
	rc = run_script(r, S_RELEASE_HOST, 4, 5, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = reply_u64(r, rep, "release_host", &n);
	if (given)
		*given = n;
	return rc;
}

int ctl_redis_rejoin(struct ctl_redis *r, uint32_t id, bool *was)
{
	redisReply *rep;
	int rc = command(r, &rep, "SREM seckill:released:%" PRIu32 " %s", id, r->host);

	if (rc != CTL_REDIS_OK)
		return rc;
	if (was)
		*was = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
	freeReplyObject(rep);
	return CTL_REDIS_OK;
}

int ctl_redis_campaigns_version(struct ctl_redis *r, uint64_t *version)
{
	redisReply *rep;
	int rc = command(r, &rep, "GET " CTL_REDIS_VERSION_KEY);

	if (rc != CTL_REDIS_OK)
		return rc;
	*version = 0;
	if (rep->type == REDIS_REPLY_STRING && !str2u64(rep->str, 0, UINT64_MAX, version)) {
		set_err(r, "redis %s:%d: " CTL_REDIS_VERSION_KEY " is not a count >= 0", r->ip,
			r->port);
		rc = CTL_REDIS_ERR;
	}
	freeReplyObject(rep);
	return rc;
}

/* "seckill:campaign:<u32>": the id, or false for any other key. */
static bool campaign_key_id(const char *key, uint32_t *id)
{
	static const char prefix[] = "seckill:campaign:";
	uint64_t v;

	if (strncmp(key, prefix, sizeof(prefix) - 1) != 0 ||
	    !str2u64(key + sizeof(prefix) - 1, 1, UINT32_MAX, &v))
		return false;
	*id = (uint32_t)v;
	return true;
}

/* A sale made before seckill:campaigns existed: the set is made from a SCAN
 * of the campaign hashes, once (the set exists afterwards). */
static int campaigns_migrate(struct ctl_redis *r)
{
	char cursor[32] = "0";
	const redisReply *keys;
	redisReply *rep, *add;
	uint32_t id;
	int rc = command(r, &rep, "EXISTS " CTL_REDIS_CAMPAIGNS_KEY);

	if (rc != CTL_REDIS_OK)
		return rc;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 1 : 0;
	freeReplyObject(rep);
	if (rc == 1)
		return CTL_REDIS_OK;
	do {
		rc = scan_step(r, "seckill:campaign:*", cursor, &rep, &keys);
		if (rc != CTL_REDIS_OK)
			return rc;
		for (size_t i = 0; i < keys->elements && rc == CTL_REDIS_OK; i++) {
			const redisReply *k = keys->element[i];

			if (k->type != REDIS_REPLY_STRING || !campaign_key_id(k->str, &id))
				continue;
			rc = command(r, &add, "SADD " CTL_REDIS_CAMPAIGNS_KEY " %" PRIu32, id);
			if (rc == CTL_REDIS_OK)
				freeReplyObject(add);
		}
		freeReplyObject(rep);
	} while (rc == CTL_REDIS_OK && strcmp(cursor, "0") != 0);
	return rc;
}

/* One {id, stock, starts_at, state, pow_bits} of the campaigns script's answer. */
#define CAMPAIGN_DEF_FIELDS 5
static bool campaign_def(const redisReply *const *e, struct ctl_redis_campaign_def *d)
{
	uint64_t id, bits;

	for (int i = 0; i < CAMPAIGN_DEF_FIELDS; i++)
		if (e[i]->type != REDIS_REPLY_STRING)
			return false;
	if (!str2u64(e[0]->str, 1, UINT32_MAX, &id) ||
	    !str2u64(e[1]->str, 0, UINT64_MAX, &d->stock) ||
	    !str2u64(e[2]->str, 0, UINT64_MAX, &d->starts_at_ms) ||
	    !parse_state(e[3]->str, &d->state) ||
	    !str2u64(e[4]->str, 0, POW_MAX_BITS, &bits))
		return false;
	d->id = (uint32_t)id;
	d->pow_bits = (unsigned)bits;
	return true;
}

int ctl_redis_campaigns(struct ctl_redis *r, struct ctl_redis_campaign_def *out, size_t cap,
			size_t *n, uint64_t *version)
{
	const char *argv[2] = { CTL_REDIS_CAMPAIGNS_KEY, CTL_REDIS_VERSION_KEY };
	redisReply *rep;
	int rc = campaigns_migrate(r);

	*n = 0;
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = run_script(r, S_CAMPAIGNS, 2, 2, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    (rep->elements - 1) % CAMPAIGN_DEF_FIELDS != 0) {
		freeReplyObject(rep);
		set_err(r, "redis %s:%d: campaigns: unexpected reply", r->ip, r->port);
		return CTL_REDIS_ERR;
	}
	*version = rep->element[0]->integer > 0 ? (uint64_t)rep->element[0]->integer : 0;
	for (size_t i = 1; i + CAMPAIGN_DEF_FIELDS <= rep->elements && *n < cap;
	     i += CAMPAIGN_DEF_FIELDS) {
		if (campaign_def((const redisReply *const *)&rep->element[i], &out[*n])) {
			(*n)++;
			continue;
		}
		set_err(r, "redis %s:%d: a campaign in " CTL_REDIS_CAMPAIGNS_KEY " is malformed "
			"(id %s): seckill:campaign:<id> needs stock, starts_at and state "
			"(scheduled|open|closed), pow_bits 0..32 if any; skipped", r->ip, r->port,
			rep->element[i]->type == REDIS_REPLY_STRING ? rep->element[i]->str : "?");
	}
	freeReplyObject(rep);
	return CTL_REDIS_OK;
}
