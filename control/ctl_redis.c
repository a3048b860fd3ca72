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
#include "ctl_redis_route.h"
#include "now.h"
#include "str2int.h"

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
		     S_RELEASE_HOST, S_N };

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
};

/* Keys every campaign shares (ctl_redis.h). */
#define CTL_REDIS_CAMPAIGNS_KEY "seckill:campaigns"

struct ctl_redis {
	struct ctl_route *rt;       /* the seed, or the cluster's primaries */
	char ip[256];               /* the seed, for messages */
	int port;
	char host[CTL_REDIS_HOST_MAX + 1];
	uint32_t claim_ttl_s;
	char sha[S_N][CTL_REDIS_SHA_CAP];
	char err[CTL_REDIS_ERR_CAP];
	enum ctl_redis_confirm_mode confirm_mode;
	/* One confirm_batch call's command line, built here (formatted into
	 * the protocol before the next is built): EVALSHA sha nkeys, keys, args. */
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

/* A route failure's text becomes the handle's. */
static int route_fail(struct ctl_redis *r, int rc)
{
	if (rc != CTL_REDIS_OK)
		set_err(r, "%s", ctl_route_error(r->rt));
	return rc;
}

/*
 * Every new connection (the seed, each cluster node, each reconnect) loads
 * the scripts; their SHA1 is the same on every node. A node that refuses
 * (scripting disabled) keeps its link: the error says why.
 */
static int scripts_load(void *arg, redisContext *c, char *err, size_t cap)
{
	struct ctl_redis *r = arg;

	for (int s = 0; s < S_N; s++) {
		redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", ctl_scripts[s].src);

		if (rep == NULL) {
			snprintf(err, cap, "SCRIPT LOAD %s: %s", ctl_scripts[s].name,
				 c->errstr[0] ? c->errstr : "connection lost");
			return CTL_REDIS_DOWN;
		}
		if (rep->type != REDIS_REPLY_STRING || rep->len >= CTL_REDIS_SHA_CAP) {
			snprintf(err, cap, "redis: SCRIPT LOAD %s refused: %s (scripting "
				 "disabled?)", ctl_scripts[s].name,
				 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
			freeReplyObject(rep);
			return CTL_REDIS_ERR;
		}
		memcpy(r->sha[s], rep->str, rep->len + 1);
		freeReplyObject(rep);
	}
	return CTL_REDIS_OK;
}

struct ctl_redis *ctl_redis_connect(const char *host, int port, unsigned timeout_ms,
				    char *err, size_t cap)
{
	struct ctl_redis *r;
	struct timeval tv;

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
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	r->claim_ttl_s = CTL_REDIS_CLAIM_TTL_DEFAULT_S;
	if (gethostname(r->host, sizeof(r->host)) != 0 || r->host[0] == '\0')
		strcpy(r->host, "host");
	r->host[sizeof(r->host) - 1] = '\0';
	r->rt = ctl_route_new(host, port, tv, scripts_load, r, err, cap);
	if (r->rt == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void ctl_redis_close(struct ctl_redis *r)
{
	if (r == NULL)
		return;
	ctl_route_free(r->rt);
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
bool ctl_redis_connected(const struct ctl_redis *r) { return ctl_route_connected(r->rt); }
bool ctl_redis_cluster(const struct ctl_redis *r) { return ctl_route_cluster(r->rt); }
unsigned long ctl_redis_redirects(const struct ctl_redis *r) { return ctl_route_redirects(r->rt); }

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
	set_err(r, "redis %s: script %s failed: %s", ctl_route_addr(r->rt), ctl_scripts[s].name,
		text);
	if (strncmp(text, "NOTFOUND", 8) == 0)
		return CTL_REDIS_NOT_FOUND;
	if (strncmp(text, "RELEASED", 8) == 0)
		return CTL_REDIS_RELEASED;
	return CTL_REDIS_ERR;
}

/* EVALSHA of script s in the protocol, for argv = keys then args: *len
 * bytes in *cmd, to redisFreeCommand. */
static int script_format(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
			 const char **argv, char **cmd, size_t *len)
{
	const char *a[3 + CTL_REDIS_BATCH_KEYS + CTL_REDIS_BATCH_ARGS +
		      2 * CTL_REDIS_CONFIRM_BATCH_MAX];
	char nk[16];
	int n;

	snprintf(nk, sizeof(nk), "%d", nkeys);
	a[0] = "EVALSHA";
	a[1] = r->sha[s];
	a[2] = nk;
	memcpy(&a[3], argv, (size_t)argc * sizeof(*argv));
	n = redisFormatCommandArgv(cmd, argc + 3, a, NULL);
	if (n < 0) {
		set_err(r, "redis: out of memory formatting script %s", ctl_scripts[s].name);
		return CTL_REDIS_ERR;
	}
	*len = (size_t)n;
	return CTL_REDIS_OK;
}

/*
 * EVALSHA script s with keys then args (argv holds both, nkeys first), on
 * the node of its first key's slot. On CTL_REDIS_OK *out is a non-error
 * reply the caller frees.
 */
static int run_script(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
		      const char **argv, redisReply **out)
{
	redisReply *rep;
	size_t len;
	char *cmd;
	int rc = script_format(r, s, nkeys, argc, argv, &cmd, &len);

	if (rc != CTL_REDIS_OK)
		return rc;
	rc = route_fail(r, ctl_route_call(r->rt, ctl_scripts[s].name, argv[0], cmd, len, &rep));
	redisFreeCommand(cmd);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ERROR) {
		*out = rep;
		return CTL_REDIS_OK;
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
	KEY(stock, "stock:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
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
	KEY(stock, "stock:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
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
	KEY(k->claim, "buyer:{%" PRIu32 "}:%" PRIu64, q->campaign, q->buyer);
	KEY(k->sold, "sold:{%" PRIu32 "}", q->campaign);
	KEY(k->hosts, "hosts:{%" PRIu32 "}", q->campaign);
	KEY(k->stock, "stock:{%" PRIu32 "}", q->campaign);
	KEY(k->rel, "released:{%" PRIu32 "}", q->campaign);
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
 * read (hiredis pipelining, one pipeline per node of a cluster). Each
 * script still runs alone in Redis, a campaign's in this order. A reply
 * lost with its node's connection leaves that confirm and the node's after
 * it CTL_REDIS_DOWN (each may or may not have run: confirm is idempotent
 * per order id, so the caller simply asks again). A confirm redirected
 * (NOSCRIPT after a restart, MOVED, ASK, TRYAGAIN) is asked again alone.
 */
static int confirm_each(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			struct ctl_redis_confirm_res *res)
{
	struct confirm_args *k = malloc(n * sizeof(*k));
	struct ctl_route_cmd *cmds = calloc(n, sizeof(*cmds));
	size_t *at = malloc(n * sizeof(*at)), m = 0;
	int rc = CTL_REDIS_OK;

	for (size_t i = 0; i < n; i++)
		res[i] = (struct ctl_redis_confirm_res){ .rc = CTL_REDIS_DOWN };
	if (k == NULL || cmds == NULL || at == NULL) {
		set_err(r, "confirm: out of memory for a batch of %zu orders", n);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	for (size_t i = 0; i < n && rc == CTL_REDIS_OK; i++) {
		if ((res[i].rc = confirm_args(r, &q[i], &k[i])) != CTL_REDIS_OK)
			continue;   /* never sent */
		res[i].rc = CTL_REDIS_DOWN;
		rc = script_format(r, S_CONFIRM, CONFIRM_KEYS, CONFIRM_ARGC, k[i].argv,
				   (char **)&cmds[m].cmd, &cmds[m].len);
		cmds[m].key = k[i].claim;
		cmds[m].what = "confirm (pipelined)";
		at[m] = i;
		m += rc == CTL_REDIS_OK;
	}
	if (rc != CTL_REDIS_OK)
		m = 0;   /* a format failed: nothing is sent */
	ctl_route_pipeline(r->rt, cmds, m);
	for (size_t j = 0; j < m; j++) {
		size_t i = at[j];

		if (cmds[j].rc != CTL_REDIS_OK) {
			rc = route_fail(r, CTL_REDIS_DOWN);
			continue;
		}
		if (cmds[j].rep->type == REDIS_REPLY_ERROR) {
			res[i].rc = script_error(r, S_CONFIRM, cmds[j].rep->str);
			freeReplyObject(cmds[j].rep);
			continue;
		}
		res[i].rc = confirm_reply(r, &q[i], cmds[j].rep, &res[i].replayed);
	}
	for (size_t j = 0; j < n && cmds[j].cmd; j++)
		redisFreeCommand((char *)cmds[j].cmd);
out:
	free(k);
	free(cmds);
	free(at);
	return rc;
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

/* One confirm_batch call for the orders q[idx[0..cnt)), in the protocol
 * (its slot's key, the campaign's sold counter, in key). */
static int batch_format(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			const size_t *idx, size_t cnt, char key[CTL_REDIS_KEY_CAP],
			struct ctl_route_cmd *cmd)
{
	char hosts[CTL_REDIS_KEY_CAP], stock[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP];
	char ttl[16];
	const char **a = r->batch_argv;
	uint32_t id = q[idx[0]].campaign;
	size_t argc = 0;

	snprintf(key, CTL_REDIS_KEY_CAP, "seckill:sold:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(stock, "stock:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	snprintf(ttl, sizeof(ttl), "%" PRIu32, r->claim_ttl_s);
	a[argc++] = key;
	a[argc++] = hosts;
	a[argc++] = stock;
	a[argc++] = rel;
	for (size_t i = 0; i < cnt; i++) {
		KEY(r->batch_claims[i], "buyer:{%" PRIu32 "}:%" PRIu64, id, q[idx[i]].buyer);
		a[argc++] = r->batch_claims[i];
	}
	a[argc++] = r->host;
	a[argc++] = ttl;
	for (size_t i = 0; i < cnt; i++)
		a[argc++] = q[idx[i]].order_id;
	cmd->key = key;
	cmd->what = "confirm_batch (pipelined)";
	return script_format(r, S_CONFIRM_BATCH, (int)(CTL_REDIS_BATCH_KEYS + cnt), (int)argc, a,
			     (char **)&cmd->cmd, &cmd->len);
}

/* One order's code in confirm_batch's answer. */
static int batch_code(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
		      const redisReply *e, bool *replayed)
{
	if (e->type == REDIS_REPLY_INTEGER && e->integer >= 0 &&
	    e->integer < (long long)(sizeof(ctl_batch_words) / sizeof(ctl_batch_words[0])))
		return confirm_outcome(r, q, ctl_batch_words[e->integer], replayed);
	if (e->type == REDIS_REPLY_INTEGER && e->integer == CTL_REDIS_BATCH_NOTHELD)
		set_err(r, "redis %s: script confirm_batch failed: NOTHELD host %s holds no "
			"unit in seckill:hosts:{%" PRIu32 "}; order %s not claimed",
			ctl_route_addr(r->rt), r->host, q->campaign, q->order_id);
	else
		set_err(r, "redis %s: confirm_batch: unexpected reply", ctl_route_addr(r->rt));
	return CTL_REDIS_ERR;
}

/* Settles the orders of one confirm_batch call from its reply; frees rep. */
static void batch_settle(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 const size_t *idx, size_t cnt, redisReply *rep,
			 struct ctl_redis_confirm_res *res)
{
	int rc = CTL_REDIS_ERR;

	if (rep->type == REDIS_REPLY_ERROR)
		rc = script_error(r, S_CONFIRM_BATCH, rep->str);
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != cnt)
		set_err(r, "redis %s: confirm_batch: unexpected reply", ctl_route_addr(r->rt));
	for (size_t i = 0; i < cnt; i++) {
		struct ctl_redis_confirm_res *o = &res[idx[i]];

		o->rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == cnt ?
			batch_code(r, &q[idx[i]], rep->element[i], &o->replayed) : rc;
	}
	freeReplyObject(rep);
}

/*
 * The batched confirm_many: one confirm_batch call per campaign (per
 * CTL_REDIS_CONFIRM_BATCH_MAX orders) of the batch, all calls in one
 * round trip per node. A reply lost with its node's connection leaves its
 * call's orders and those of the node's calls after it CTL_REDIS_DOWN
 * (each call ran whole or not at all: confirm is idempotent per order id,
 * the caller asks again).
 */
static int confirm_batched(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res)
{
	size_t *idx, *off, calls = 0;
	struct ctl_route_cmd *cmds = NULL;
	char (*keys)[CTL_REDIS_KEY_CAP] = NULL;
	bool *taken;
	int rc = CTL_REDIS_OK;

	for (size_t i = 0; i < n; i++)
		res[i] = (struct ctl_redis_confirm_res){ .rc = CTL_REDIS_DOWN };
	if (n == 0)
		return CTL_REDIS_OK;
	for (size_t i = 0; i < n; i++)
		if (!order_id_ok(r, &q[i]))
			res[i].rc = CTL_REDIS_INVAL;   /* never sent */
	idx = malloc(n * sizeof(*idx));
	off = malloc((n + 1) * sizeof(*off));
	taken = calloc(n, sizeof(*taken));
	if (idx && off && taken) {
		calls = batch_group(q, res, n, idx, off, taken);
		cmds = calloc(calls + 1, sizeof(*cmds));
		keys = malloc((calls + 1) * sizeof(*keys));
	}
	if (cmds == NULL || keys == NULL) {
		set_err(r, "confirm: out of memory for a batch of %zu orders", n);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	for (size_t k = 0; k < calls && rc == CTL_REDIS_OK; k++)
		rc = batch_format(r, q, &idx[off[k]], off[k + 1] - off[k], keys[k], &cmds[k]);
	if (rc == CTL_REDIS_OK)
		ctl_route_pipeline(r->rt, cmds, calls);
	for (size_t k = 0; k < calls && cmds[k].cmd; k++) {
		if (rc == CTL_REDIS_ERR)
			;   /* a format failed: nothing was sent */
		else if (cmds[k].rc != CTL_REDIS_OK)
			rc = route_fail(r, CTL_REDIS_DOWN);
		else
			batch_settle(r, q, &idx[off[k]], off[k + 1] - off[k], cmds[k].rep, res);
		redisFreeCommand((char *)cmds[k].cmd);
	}
out:
	free(idx);
	free(off);
	free(taken);
	free(cmds);
	free(keys);
	return rc;
}

int ctl_redis_confirm_many(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res)
{
	if (r->confirm_mode == CTL_REDIS_CONFIRM_EACH)
		return confirm_each(r, n, q, res);
	return confirm_batched(r, n, q, res);
}

/* A plain command to the node of key's slot (formatted as redisCommand). */
static int __attribute__((format(printf, 4, 5)))
command(struct ctl_redis *r, const char *key, redisReply **out, const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int len, rc;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		set_err(r, "redis: out of memory formatting a command");
		return CTL_REDIS_ERR;
	}
	rc = route_fail(r, ctl_route_call(r->rt, "command", key, cmd, (size_t)len, out));
	redisFreeCommand(cmd);
	if (rc != CTL_REDIS_OK)
		return rc;
	if ((*out)->type == REDIS_REPLY_ERROR) {
		set_err(r, "redis %s: %s", ctl_route_addr(r->rt), (*out)->str);
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
	char camp[CTL_REDIS_KEY_CAP];
	uint64_t bits = 0;
	int rc;

	KEY(camp, "campaign:{%" PRIu32 "}", id);
	rc = command(r, camp, &rep, "HMGET %s stock starts_at state pow_bits", camp);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
	    (!elem_str(rep, 0) && !elem_str(rep, 1) && !elem_str(rep, 2))) {
		set_err(r, "campaign %" PRIu32 " not found in Redis %s:%d (create it: HSET "
			"seckill:campaign:{%" PRIu32 "} stock N starts_at UNIX_MS state scheduled; "
			"SET seckill:stock:{%" PRIu32 "} N)", id, r->ip, r->port, id, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (!str2u64(elem_str(rep, 0), 0, UINT64_MAX, &c->stock) ||
		   !str2u64(elem_str(rep, 1), 0, UINT64_MAX, &c->starts_at_ms) ||
		   !parse_state(elem_str(rep, 2), &c->state) ||
		   (elem_str(rep, 3) && !str2u64(elem_str(rep, 3), 0, POW_MAX_BITS, &bits))) {
		set_err(r, "campaign %" PRIu32 " in Redis is malformed: seckill:campaign:{%" PRIu32 "}"
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
	char key[CTL_REDIS_KEY_CAP];
	redisReply *rep;
	int rc;

	snprintf(key, sizeof(key), "seckill:%s:{%" PRIu32 "}", kind, id);
	rc = command(r, key, &rep, "GET %s", key);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type == REDIS_REPLY_NIL && dflt >= 0) {
		*v = (uint64_t)dflt;
	} else if (rep->type == REDIS_REPLY_NIL) {
		set_err(r, "campaign %" PRIu32 ": seckill:%s:{%" PRIu32 "} missing in Redis "
			"(SET seckill:%s:{%" PRIu32 "} <units not yet taken>)", id, kind, id, kind, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (rep->type != REDIS_REPLY_STRING || !str2u64(rep->str, 0, UINT64_MAX, v)) {
		set_err(r, "campaign %" PRIu32 ": seckill:%s:{%" PRIu32 "} is not a count >= 0",
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
 * One SCAN step of node `node` over the keys matching pattern: sends SCAN
 * from cursor, checks the reply's shape and moves cursor on. On
 * CTL_REDIS_OK, *keys is the reply's key array and *rep the reply to free
 * after use.
 */
static int scan_step(struct ctl_redis *r, int node, const char *pattern, char cursor[32],
		     redisReply **rep, const redisReply **keys)
{
	char *cmd;
	int len = redisFormatCommand(&cmd, "SCAN %s MATCH %s COUNT " CTL_REDIS_SCAN_COUNT,
				     cursor, pattern);
	int rc;

	if (len < 0) {
		set_err(r, "redis: out of memory formatting SCAN");
		return CTL_REDIS_ERR;
	}
	rc = route_fail(r, ctl_route_call_node(r->rt, node, "SCAN", cmd, (size_t)len, rep));
	redisFreeCommand(cmd);
	if (rc != CTL_REDIS_OK)
		return rc;
	if ((*rep)->type != REDIS_REPLY_ARRAY || (*rep)->elements != 2 ||
	    (*rep)->element[0]->type != REDIS_REPLY_STRING ||
	    (*rep)->element[1]->type != REDIS_REPLY_ARRAY) {
		set_err(r, "redis %s: SCAN: unexpected reply%s%s", ctl_route_addr(r->rt),
			(*rep)->type == REDIS_REPLY_ERROR ? ": " : "",
			(*rep)->type == REDIS_REPLY_ERROR ? (*rep)->str : "");
		freeReplyObject(*rep);
		return CTL_REDIS_ERR;
	}
	snprintf(cursor, 32, "%s", (*rep)->element[0]->str);
	*keys = (*rep)->element[1];
	return CTL_REDIS_OK;
}

/* The keys pattern matches, on every node that serves slots, a SCAN batch
 * at a time (never one long block): each one's string goes to fn. */
static int scan_all(struct ctl_redis *r, const char *pattern,
		    int (*fn)(struct ctl_redis *r, const char *key, void *arg), void *arg)
{
	int nodes[64];
	size_t n = ctl_route_primaries(r->rt, nodes, 64);
	int rc = CTL_REDIS_OK;

	for (size_t j = 0; j < n && rc == CTL_REDIS_OK; j++) {
		char cursor[32] = "0";

		do {
			const redisReply *keys;
			redisReply *rep;

			rc = scan_step(r, nodes[j], pattern, cursor, &rep, &keys);
			if (rc != CTL_REDIS_OK)
				return rc;
			for (size_t i = 0; i < keys->elements && rc == CTL_REDIS_OK; i++)
				if (keys->element[i]->type == REDIS_REPLY_STRING)
					rc = fn(r, keys->element[i]->str, arg);
			freeReplyObject(rep);
		} while (rc == CTL_REDIS_OK && strcmp(cursor, "0") != 0);
	}
	return rc;
}

static int delete_key(struct ctl_redis *r, const char *key, void *arg)
{
	redisReply *del;
	int rc = command(r, key, &del, "DEL %s", key);

	(void)arg;
	if (rc == CTL_REDIS_OK)
		freeReplyObject(del);
	return rc;
}

/* Deletes seckill:buyer:{id}:*, a forced create's old buyer claims. */
static int delete_claims(struct ctl_redis *r, uint32_t id)
{
	char pattern[CTL_REDIS_KEY_CAP];

	snprintf(pattern, sizeof(pattern), "seckill:buyer:{%" PRIu32 "}:*", id);
	return scan_all(r, pattern, delete_key, NULL);
}

/* INCR of seckill:campaigns:version: the other hosts reload the campaigns. */
static int bump_version(struct ctl_redis *r)
{
	redisReply *rep;
	int rc = command(r, CTL_REDIS_VERSION_KEY, &rep, "INCR " CTL_REDIS_VERSION_KEY);

	if (rc == CTL_REDIS_OK)
		freeReplyObject(rep);
	return rc;
}

int ctl_redis_campaign_create(struct ctl_redis *r, uint32_t id, uint64_t stock,
			      uint64_t starts_at_ms, bool force)
{
	char camp[CTL_REDIS_KEY_CAP], stk[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP];
	char hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP], n[24], at[24];
	const char *argv[8] = { camp, stk, sold, hosts, rel, n, at, force ? "1" : "0" };
	redisReply *rep, *add;
	bool made;
	int rc;

	if (stock > CTL_REDIS_STOCK_MAX) {
		set_err(r, "campaign %" PRIu32 ": stock %" PRIu64 " is over the limit 2^53",
			id, stock);
		return CTL_REDIS_INVAL;
	}
	KEY(camp, "campaign:{%" PRIu32 "}", id);
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(sold, "sold:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	snprintf(n, sizeof(n), "%" PRIu64, stock);
	snprintf(at, sizeof(at), "%" PRIu64, starts_at_ms);
	rc = run_script(r, S_CREATE, 5, 8, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	made = !((rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING) &&
		 strcmp(rep->str, "exists") == 0);
	freeReplyObject(rep);
	/* The shared set and version live in their own slots (a cluster may put
	 * them on other nodes): written after the campaign, so a host that sees
	 * the version move finds it. Either way the id joins the set (a
	 * campaign that lost its SADD to a failure joins when created again). */
	rc = command(r, CTL_REDIS_CAMPAIGNS_KEY, &add, "SADD " CTL_REDIS_CAMPAIGNS_KEY " %" PRIu32,
		     id);
	if (rc != CTL_REDIS_OK)
		return rc;
	freeReplyObject(add);
	if (!made) {
		set_err(r, "campaign %" PRIu32 " already exists in Redis; not overwritten "
			"(force it to reset stock, sold, holdings and buyer claims)", id);
		return CTL_REDIS_EXISTS;
	}
	if (force)
		rc = delete_claims(r, id);
	return rc == CTL_REDIS_OK ? bump_version(r) : rc;
}

/*
 * HSETs field of campaign id only if its hash exists, so a typo'd id
 * creates nothing, then moves the version for the other hosts (after: a
 * host that sees it move reads the new field; a failure in between leaves
 * the field set and the version still, and the command may simply be run
 * again). what: "state", "proof of work", for the message.
 */
static int campaign_field_set(struct ctl_redis *r, uint32_t id, const char *field,
			      const char *value, const char *what)
{
	char camp[CTL_REDIS_KEY_CAP];
	redisReply *rep;
	int rc;

	KEY(camp, "campaign:{%" PRIu32 "}", id);
	rc = command(r, camp, &rep, "EVAL %s 1 %s %s %s",
		     "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
		     "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1",
		     camp, field, value);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
		set_err(r, "campaign %" PRIu32 " not found in Redis %s; %s not set", id,
			ctl_route_addr(r->rt), what);
		rc = CTL_REDIS_NOT_FOUND;
	}
	freeReplyObject(rep);
	return rc == CTL_REDIS_OK ? bump_version(r) : rc;
}

int ctl_redis_set_state(struct ctl_redis *r, uint32_t id, enum sale_state st)
{
	if ((unsigned)st >= sizeof(ctl_state_names) / sizeof(ctl_state_names[0])) {
		set_err(r, "set_state: state %d is not scheduled, open or closed", (int)st);
		return CTL_REDIS_INVAL;
	}
	return campaign_field_set(r, id, "state", ctl_state_names[st], "state");
}

int ctl_redis_set_pow(struct ctl_redis *r, uint32_t id, unsigned bits)
{
	char v[16];

	if (bits > POW_MAX_BITS) {
		set_err(r, "set_pow: %u bits is more than %d", bits, POW_MAX_BITS);
		return CTL_REDIS_INVAL;
	}
	snprintf(v, sizeof(v), "%u", bits);
	return campaign_field_set(r, id, "pow_bits", v, "proof of work");
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
	KEY(camp, "campaign:{%" PRIu32 "}", id);
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(sold, "sold:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
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
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	KEY(camp, "campaign:{%" PRIu32 "}", id);
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
	char rel[CTL_REDIS_KEY_CAP];
	redisReply *rep;
	int rc;

	KEY(rel, "released:{%" PRIu32 "}", id);
	rc = command(r, rel, &rep, "SREM %s %s", rel, r->host);
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
	int rc = command(r, CTL_REDIS_VERSION_KEY, &rep, "GET " CTL_REDIS_VERSION_KEY);

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

/* "seckill:campaign:{<u32>}": the id, or false for any other key. */
static bool campaign_key_id(const char *key, uint32_t *id)
{
	static const char prefix[] = "seckill:campaign:{";
	char digits[16];
	size_t n;
	uint64_t v;

	if (strncmp(key, prefix, sizeof(prefix) - 1) != 0)
		return false;
	key += sizeof(prefix) - 1;
	n = strlen(key);
	if (n < 2 || n > sizeof(digits) || key[n - 1] != '}')
		return false;
	memcpy(digits, key, n - 1);
	digits[n - 1] = '\0';
	if (!str2u64(digits, 1, UINT32_MAX, &v))
		return false;
	*id = (uint32_t)v;
	return true;
}

static int campaign_add(struct ctl_redis *r, const char *key, void *arg)
{
	redisReply *add;
	uint32_t id;
	int rc;

	(void)arg;
	if (!campaign_key_id(key, &id))
		return CTL_REDIS_OK;
	rc = command(r, CTL_REDIS_CAMPAIGNS_KEY, &add, "SADD " CTL_REDIS_CAMPAIGNS_KEY " %" PRIu32,
		     id);
	if (rc == CTL_REDIS_OK)
		freeReplyObject(add);
	return rc;
}

/* A sale made before seckill:campaigns existed: the set is made from a SCAN
 * of the campaign hashes, once (the set exists afterwards). */
static int campaigns_migrate(struct ctl_redis *r)
{
	redisReply *rep;
	int rc = command(r, CTL_REDIS_CAMPAIGNS_KEY, &rep, "EXISTS " CTL_REDIS_CAMPAIGNS_KEY);

	if (rc != CTL_REDIS_OK)
		return rc;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 1 : 0;
	freeReplyObject(rep);
	if (rc == 1)
		return CTL_REDIS_OK;
	return scan_all(r, "seckill:campaign:{*}", campaign_add, NULL);
}

/* One campaign from its id (a member of the set) and the HMGET of its hash
 * (stock, starts_at, state, pow_bits). *gone: the hash does not exist. */
static bool campaign_def(const char *ids, const redisReply *h, struct ctl_redis_campaign_def *d,
			 bool *gone)
{
	uint64_t id, bits = 0;

	*gone = false;
	d->starts_at_ms = 0;
	d->state = SALE_SCHEDULED;
	if (h->type != REDIS_REPLY_ARRAY || h->elements != 4)
		return false;
	if (h->element[0]->type == REDIS_REPLY_NIL) {
		*gone = true;
		return false;
	}
	if (!str2u64(ids, 1, UINT32_MAX, &id) || !elem_str(h, 0) ||
	    !str2u64(elem_str(h, 0), 0, UINT64_MAX, &d->stock) ||
	    (elem_str(h, 1) && !str2u64(elem_str(h, 1), 0, UINT64_MAX, &d->starts_at_ms)) ||
	    (elem_str(h, 2) && !parse_state(elem_str(h, 2), &d->state)) ||
	    (elem_str(h, 3) && !str2u64(elem_str(h, 3), 0, POW_MAX_BITS, &bits)))
		return false;
	d->id = (uint32_t)id;
	d->pow_bits = (unsigned)bits;
	return true;
}

/*
 * The version first, then the set, then each hash (one round trip per
 * node): a change made meanwhile moves the version past the one returned,
 * so the caller, polling it, reads the campaigns again. The hashes live in
 * their campaigns' slots, over a cluster's nodes.
 */
int ctl_redis_campaigns(struct ctl_redis *r, struct ctl_redis_campaign_def *out, size_t cap,
			size_t *n, uint64_t *version)
{
	struct ctl_route_cmd *cmds = NULL;
	char (*keys)[CTL_REDIS_KEY_CAP] = NULL;
	redisReply *set = NULL;
	size_t m = 0, *member = NULL;
	int rc = campaigns_migrate(r);

	*n = 0;
	if (rc == CTL_REDIS_OK)
		rc = ctl_redis_campaigns_version(r, version);
	if (rc == CTL_REDIS_OK)
		rc = command(r, CTL_REDIS_CAMPAIGNS_KEY, &set, "SMEMBERS " CTL_REDIS_CAMPAIGNS_KEY);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (set->type != REDIS_REPLY_ARRAY) {
		set_err(r, "redis %s: SMEMBERS " CTL_REDIS_CAMPAIGNS_KEY ": unexpected reply",
			ctl_route_addr(r->rt));
		freeReplyObject(set);
		return CTL_REDIS_ERR;
	}
	cmds = calloc(set->elements + 1, sizeof(*cmds));
	keys = malloc((set->elements + 1) * sizeof(*keys));
	member = malloc((set->elements + 1) * sizeof(*member));
	if (cmds == NULL || keys == NULL || member == NULL) {
		set_err(r, "campaigns: out of memory for %zu campaigns", set->elements);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	for (size_t i = 0; i < set->elements; i++) {
		const redisReply *e = set->element[i];
		int len;

		if (e->type != REDIS_REPLY_STRING || e->len > 10)
			continue;
		snprintf(keys[m], CTL_REDIS_KEY_CAP, "seckill:campaign:{%s}", e->str);
		len = redisFormatCommand((char **)&cmds[m].cmd, "HMGET %s stock starts_at state "
					 "pow_bits", keys[m]);
		if (len < 0)
			break;
		cmds[m].key = keys[m];
		cmds[m].what = "HMGET of a campaign";
		cmds[m].len = (size_t)len;
		member[m++] = i;
	}
	ctl_route_pipeline(r->rt, cmds, m);
	for (size_t j = 0; j < m; j++) {
		const char *ids = set->element[member[j]]->str;
		bool gone;

		if (cmds[j].rc != CTL_REDIS_OK) {
			rc = route_fail(r, cmds[j].rc);
			continue;
		}
		if (*n < cap && campaign_def(ids, cmds[j].rep, &out[*n], &gone))
			(*n)++;
		else if (*n < cap && !gone)
			set_err(r, "redis: a campaign in " CTL_REDIS_CAMPAIGNS_KEY " is malformed "
				"(id %s): seckill:campaign:{<id>} needs stock, starts_at and state "
				"(scheduled|open|closed), pow_bits 0..32 if any; skipped", ids);
		freeReplyObject(cmds[j].rep);
	}
out:
	for (size_t j = 0; cmds && j < m; j++)
		redisFreeCommand((char *)cmds[j].cmd);
	free(cmds);
	free(keys);
	free(member);
	freeReplyObject(set);
	if (rc != CTL_REDIS_OK)
		*n = 0;
	return rc;
}
