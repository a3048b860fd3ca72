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

#include "ctl_redis_lua.h"
#include "ctl_redis_priv.h"
#include "now.h"
#include "str2int.h"

/* Keys every campaign shares (ctl_redis.h). */
#define CTL_REDIS_CAMPAIGNS_KEY "seckill:campaigns"

/* The scripts, by id (ctl_redis_priv.h): loaded on every new connection. */
const struct ctl_redis_script ctl_redis_scripts[S_N] = {
	[S_TAKE] = { "take", ctl_lua_take },
	[S_GIVE_BACK] = { "give_back", ctl_lua_give_back },
	[S_CONFIRM] = { "confirm", ctl_lua_confirm },
	[S_CONFIRM_BATCH] = { "confirm_batch", ctl_lua_confirm_batch },
	[S_CREATE] = { "create", ctl_lua_create },
	[S_STATUS] = { "status", ctl_lua_status },
	[S_RELEASE_HOST] = { "release_host", ctl_lua_release_host },
	[S_CLAIM_BATCH] = { "claim_batch", ctl_lua_claim_batch },
	[S_SETTLE] = { "settle", ctl_lua_settle },
};

void rd_err(struct ctl_redis *r, const char *fmt, ...)
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
int rd_route_fail(struct ctl_redis *r, int rc)
{
	if (rc != CTL_REDIS_OK)
		rd_err(r, "%s", ctl_route_error(r->rt));
	return rc;
}

/*
 * Every new connection (the seed, each cluster node, each reconnect) loads
 * the scripts; their SHA1 is the same on every node. A node that refuses
 * (scripting disabled) keeps its link: the error says why.
 */
static int rd_scripts_load(void *arg, redisContext *c, char *err, size_t cap)
{
	struct ctl_redis *r = arg;

	for (int s = 0; s < S_N; s++) {
		redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", ctl_redis_scripts[s].src);

		if (rep == NULL) {
			snprintf(err, cap, "SCRIPT LOAD %s: %s", ctl_redis_scripts[s].name,
				 c->errstr[0] ? c->errstr : "connection lost");
			return CTL_REDIS_DOWN;
		}
		if (rep->type != REDIS_REPLY_STRING || rep->len >= CTL_REDIS_SHA_CAP) {
			snprintf(err, cap, "redis: SCRIPT LOAD %s refused: %s (scripting "
				 "disabled?)", ctl_redis_scripts[s].name,
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
	char seed[300];

	if (host == NULL || strlen(host) >= 256 || port <= 0 || port > 65535) {
		snprintf(err, cap, "redis: bad address %s:%d (want a host, a port 1..65535)",
			 host ? host : "(null)", port);
		return NULL;
	}
	snprintf(seed, sizeof(seed), "%s:%d", host, port);
	return ctl_redis_connect_seeds(seed, timeout_ms, err, cap);
}

struct ctl_redis *ctl_redis_connect_seeds(const char *seeds, unsigned timeout_ms, char *err,
					  size_t cap)
{
	const char *colon = seeds ? strchr(seeds, ':') : NULL;
	struct ctl_redis *r;
	struct timeval tv;

	if (seeds == NULL || timeout_ms == 0) {
		snprintf(err, cap, "redis: no seed or timeout %u ms (want IP:PORT[,IP:PORT...], "
			 "a timeout > 0)", timeout_ms);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, cap, "redis: out of memory");
		return NULL;
	}
	/* The first seed names the sale's Redis in messages. */
	snprintf(r->ip, sizeof(r->ip), "%.*s", colon ? (int)(colon - seeds) : 0, seeds);
	r->port = colon ? atoi(colon + 1) : 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	r->claim_ttl_s = CTL_REDIS_CLAIM_TTL_DEFAULT_S;
	if (gethostname(r->host, sizeof(r->host)) != 0 || r->host[0] == '\0')
		strcpy(r->host, "host");
	r->host[sizeof(r->host) - 1] = '\0';
	r->rt = ctl_route_new(seeds, tv, rd_scripts_load, r, err, cap);
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
int rd_script_error(struct ctl_redis *r, enum ctl_script_id s, const char *text)
{
	rd_err(r, "redis %s: script %s failed: %s", ctl_route_addr(r->rt), ctl_redis_scripts[s].name,
		text);
	if (strncmp(text, "NOTFOUND", 8) == 0)
		return CTL_REDIS_NOT_FOUND;
	if (strncmp(text, "RELEASED", 8) == 0)
		return CTL_REDIS_RELEASED;
	return CTL_REDIS_ERR;
}

/* EVALSHA of script s in the protocol, for argv = keys then args: *len
 * bytes in *cmd, to redisFreeCommand. */
int rd_script_format(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
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
		rd_err(r, "redis: out of memory formatting script %s", ctl_redis_scripts[s].name);
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
int rd_run_script(struct ctl_redis *r, enum ctl_script_id s, int nkeys, int argc,
		      const char **argv, redisReply **out)
{
	redisReply *rep;
	size_t len;
	char *cmd;
	int rc = rd_script_format(r, s, nkeys, argc, argv, &cmd, &len);

	if (rc != CTL_REDIS_OK)
		return rc;
	rc = rd_route_fail(r, ctl_route_call(r->rt, ctl_redis_scripts[s].name, argv[0], cmd, len, &rep));
	redisFreeCommand(cmd);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ERROR) {
		*out = rep;
		return CTL_REDIS_OK;
	}
	rc = rd_script_error(r, s, rep->str);
	freeReplyObject(rep);
	return rc;
}

/* A script's integer answer (>= 0), or CTL_REDIS_ERR. */
int rd_reply_u64(struct ctl_redis *r, redisReply *rep, const char *what, uint64_t *v)
{
	int rc = CTL_REDIS_OK;

	if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
		*v = (uint64_t)rep->integer;
	} else {
		rd_err(r, "redis %s:%d: %s: unexpected reply type %d", r->ip, r->port, what,
			rep->type);
		rc = CTL_REDIS_ERR;
	}
	freeReplyObject(rep);
	return rc;
}


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
	rc = rd_run_script(r, S_TAKE, 3, 6, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[0]->integer < 0 ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		rd_err(r, "redis %s:%d: take: unexpected reply", r->ip, r->port);
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
		rd_err(r, "give_back: %" PRIu64 " units is more than any stock (max 2^53)", n);
		return CTL_REDIS_INVAL;
	}
	KEY(stock, "stock:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	snprintf(num, sizeof(num), "%" PRIu64, n);
	rc = rd_run_script(r, S_GIVE_BACK, 2, 4, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = rd_reply_u64(r, rep, "give_back", &moved);
	if (given)
		*given = moved;
	return rc;
}

/* A plain command to the node of key's slot (formatted as redisCommand). */
int rd_command(struct ctl_redis *r, const char *key, redisReply **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = rd_route_fail(r, ctl_route_vcommand(r->rt, "command", key, out, fmt, ap));
	va_end(ap);
	if (rc != CTL_REDIS_OK)
		return rc;
	if ((*out)->type == REDIS_REPLY_ERROR) {
		rd_err(r, "redis %s: %s", ctl_route_addr(r->rt), (*out)->str);
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

const char *rd_elem_str(const redisReply *rep, size_t i)
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
	rc = rd_command(r, camp, &rep, "HMGET %s stock starts_at state pow_bits", camp);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
	    (!rd_elem_str(rep, 0) && !rd_elem_str(rep, 1) && !rd_elem_str(rep, 2))) {
		rd_err(r, "campaign %" PRIu32 " not found in Redis %s:%d (create it: HSET "
			"seckill:campaign:{%" PRIu32 "} stock N starts_at UNIX_MS state scheduled; "
			"SET seckill:stock:{%" PRIu32 "} N)", id, r->ip, r->port, id, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (!str2u64(rd_elem_str(rep, 0), 0, UINT64_MAX, &c->stock) ||
		   !str2u64(rd_elem_str(rep, 1), 0, UINT64_MAX, &c->starts_at_ms) ||
		   !parse_state(rd_elem_str(rep, 2), &c->state) ||
		   (rd_elem_str(rep, 3) && !str2u64(rd_elem_str(rep, 3), 0, POW_MAX_BITS, &bits))) {
		rd_err(r, "campaign %" PRIu32 " in Redis is malformed: seckill:campaign:{%" PRIu32 "}"
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
	rc = rd_command(r, key, &rep, "GET %s", key);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type == REDIS_REPLY_NIL && dflt >= 0) {
		*v = (uint64_t)dflt;
	} else if (rep->type == REDIS_REPLY_NIL) {
		rd_err(r, "campaign %" PRIu32 ": seckill:%s:{%" PRIu32 "} missing in Redis "
			"(SET seckill:%s:{%" PRIu32 "} <units not yet taken>)", id, kind, id, kind, id);
		rc = CTL_REDIS_NOT_FOUND;
	} else if (rep->type != REDIS_REPLY_STRING || !str2u64(rep->str, 0, UINT64_MAX, v)) {
		rd_err(r, "campaign %" PRIu32 ": seckill:%s:{%" PRIu32 "} is not a count >= 0",
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
		rd_err(r, "redis: out of memory formatting SCAN");
		return CTL_REDIS_ERR;
	}
	rc = rd_route_fail(r, ctl_route_call_node(r->rt, node, "SCAN", cmd, (size_t)len, rep));
	redisFreeCommand(cmd);
	if (rc != CTL_REDIS_OK)
		return rc;
	if ((*rep)->type != REDIS_REPLY_ARRAY || (*rep)->elements != 2 ||
	    (*rep)->element[0]->type != REDIS_REPLY_STRING ||
	    (*rep)->element[1]->type != REDIS_REPLY_ARRAY) {
		rd_err(r, "redis %s: SCAN: unexpected reply%s%s", ctl_route_addr(r->rt),
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
	int rc = rd_command(r, key, &del, "DEL %s", key);

	(void)arg;
	if (rc == CTL_REDIS_OK)
		freeReplyObject(del);
	return rc;
}

/* Deletes a forced create's old buyer claims, seckill:buyer:{id}:*, and
 * the buckets of a sharded campaign: {id:k} claims, counts, released. */
static int delete_claims(struct ctl_redis *r, uint32_t id)
{
	static const char *const fmt[] = { "seckill:buyer:{%" PRIu32 "}:*",
					   "seckill:claims:{%" PRIu32 ":*",
					   "seckill:claimed:{%" PRIu32 ":*",
					   "seckill:released:{%" PRIu32 ":*" };
	char pattern[CTL_REDIS_KEY_CAP];
	int rc = CTL_REDIS_OK;

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]) && rc == CTL_REDIS_OK; i++) {
		snprintf(pattern, sizeof(pattern), fmt[i], id);
		rc = scan_all(r, pattern, delete_key, NULL);
	}
	return rc;
}

/* INCR of seckill:campaigns:version: the other hosts reload the campaigns. */
static int bump_version(struct ctl_redis *r)
{
	redisReply *rep;
	int rc = rd_command(r, CTL_REDIS_VERSION_KEY, &rep, "INCR " CTL_REDIS_VERSION_KEY);

	if (rc == CTL_REDIS_OK)
		freeReplyObject(rep);
	return rc;
}

int ctl_redis_campaign_create(struct ctl_redis *r, uint32_t id, uint64_t stock,
			      uint64_t starts_at_ms, bool force)
{
	return ctl_redis_campaign_create_sharded(r, id, stock, starts_at_ms, force, 1);
}

int ctl_redis_campaign_create_sharded(struct ctl_redis *r, uint32_t id, uint64_t stock,
				      uint64_t starts_at_ms, bool force, unsigned buckets)
{
	char camp[CTL_REDIS_KEY_CAP], stk[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP];
	char hosts[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP], settled[CTL_REDIS_KEY_CAP];
	char n[24], at[24], nb[16];
	const char *argv[10] = { camp, stk, sold, hosts, rel, settled, n, at, force ? "1" : "0",
				 nb };
	redisReply *rep, *add;
	bool made;
	int rc;

	if (stock > CTL_REDIS_STOCK_MAX) {
		rd_err(r, "campaign %" PRIu32 ": stock %" PRIu64 " is over the limit 2^53",
			id, stock);
		return CTL_REDIS_INVAL;
	}
	if (buckets < 1 || buckets > CTL_REDIS_BUCKETS_MAX) {
		rd_err(r, "campaign %" PRIu32 ": %u buckets; want 1..%d", id, buckets,
		       CTL_REDIS_BUCKETS_MAX);
		return CTL_REDIS_INVAL;
	}
	rd_shard_forget(r, id);
	KEY(camp, "campaign:{%" PRIu32 "}", id);
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(sold, "sold:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	KEY(settled, "settled:{%" PRIu32 "}", id);
	snprintf(nb, sizeof(nb), "%u", buckets);
	snprintf(n, sizeof(n), "%" PRIu64, stock);
	snprintf(at, sizeof(at), "%" PRIu64, starts_at_ms);
	rc = rd_run_script(r, S_CREATE, 6, 10, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	made = !((rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING) &&
		 strcmp(rep->str, "exists") == 0);
	freeReplyObject(rep);
	/* The shared set and version live in their own slots (a cluster may put
	 * them on other nodes): written after the campaign, so a host that sees
	 * the version move finds it. Either way the id joins the set (a
	 * campaign that lost its SADD to a failure joins when created again). */
	rc = rd_command(r, CTL_REDIS_CAMPAIGNS_KEY, &add, "SADD " CTL_REDIS_CAMPAIGNS_KEY " %" PRIu32,
		     id);
	if (rc != CTL_REDIS_OK)
		return rc;
	freeReplyObject(add);
	if (!made) {
		rd_err(r, "campaign %" PRIu32 " already exists in Redis; not overwritten "
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
	rc = rd_command(r, camp, &rep, "EVAL %s 1 %s %s %s",
		     "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
		     "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1",
		     camp, field, value);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
		rd_err(r, "campaign %" PRIu32 " not found in Redis %s; %s not set", id,
			ctl_route_addr(r->rt), what);
		rc = CTL_REDIS_NOT_FOUND;
	}
	freeReplyObject(rep);
	return rc == CTL_REDIS_OK ? bump_version(r) : rc;
}

int ctl_redis_set_state(struct ctl_redis *r, uint32_t id, enum sale_state st)
{
	if ((unsigned)st >= sizeof(ctl_state_names) / sizeof(ctl_state_names[0])) {
		rd_err(r, "set_state: state %d is not scheduled, open or closed", (int)st);
		return CTL_REDIS_INVAL;
	}
	return campaign_field_set(r, id, "state", ctl_state_names[st], "state");
}

int ctl_redis_set_pow(struct ctl_redis *r, uint32_t id, unsigned bits)
{
	char v[16];

	if (bits > POW_MAX_BITS) {
		rd_err(r, "set_pow: %u bits is more than %d", bits, POW_MAX_BITS);
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

	struct rd_shard *sh;

	memset(st, 0, sizeof(*st));
	/* A sharded campaign: this host's claims settled first, so what it
	 * holds is what it has not sold (a restarted host reconciles on it). */
	if ((sh = rd_shard_get(r, id, &rc)) == NULL)
		return rc;
	if ((rc = rd_shard_settle(r, sh)) != CTL_REDIS_OK)
		return rc;
	KEY(camp, "campaign:{%" PRIu32 "}", id);
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(sold, "sold:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	rc = rd_run_script(r, S_STATUS, 5, 6, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 7) {
		freeReplyObject(rep);
		rd_err(r, "redis %s:%d: status: unexpected reply", r->ip, r->port);
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
	char camp[CTL_REDIS_KEY_CAP], sold[CTL_REDIS_KEY_CAP], settled[CTL_REDIS_KEY_CAP];
	char claimed_s[24] = "0";
	const char *argv[8] = { stk, hosts, rel, camp, sold, settled, host, claimed_s };
	uint64_t *won = NULL, n = 0;
	unsigned buckets = 1;
	redisReply *rep;
	int rc;

	if (given)
		*given = 0;
	if (host == NULL || host[0] == '\0' || strlen(host) > CTL_REDIS_HOST_MAX) {
		rd_err(r, "release_host: a host name is 1..%d bytes", CTL_REDIS_HOST_MAX);
		return CTL_REDIS_INVAL;
	}
	rc = rd_campaign_buckets(r, id, &buckets);
	if (rc != CTL_REDIS_OK && rc != CTL_REDIS_NOT_FOUND)
		return rc;
	if (buckets > 1) {
		/* Each bucket refuses the host first, so the claims counted next
		 * are all it will ever win; they are settled with the release. */
		uint64_t total = 0;

		won = calloc(buckets, sizeof(*won));
		if (won == NULL) {
			rd_err(r, "release_host: out of memory");
			return CTL_REDIS_ERR;
		}
		rc = rd_bucket_cmds(r, id, buckets, "SADD", "released", host, NULL);
		if (rc == CTL_REDIS_OK)
			rc = rd_bucket_cmds(r, id, buckets, "HGET", "claimed", host, won);
		for (unsigned k = 0; k < buckets; k++)
			total += won[k];
		free(won);
		if (rc != CTL_REDIS_OK)
			return rc;
		snprintf(claimed_s, sizeof(claimed_s), "%" PRIu64, total);
	}
	if (strcmp(host, r->host) == 0)
		rd_shard_forget(r, id);
	KEY(stk, "stock:{%" PRIu32 "}", id);
	KEY(hosts, "hosts:{%" PRIu32 "}", id);
	KEY(rel, "released:{%" PRIu32 "}", id);
	KEY(camp, "campaign:{%" PRIu32 "}", id);
	KEY(sold, "sold:{%" PRIu32 "}", id);
	KEY(settled, "settled:{%" PRIu32 "}", id);
	rc = rd_run_script(r, S_RELEASE_HOST, 6, 8, argv, &rep);
	if (rc != CTL_REDIS_OK)
		return rc;
	rc = rd_reply_u64(r, rep, "release_host", &n);
	if (given)
		*given = n;
	return rc;
}

int ctl_redis_rejoin(struct ctl_redis *r, uint32_t id, bool *was)
{
	char rel[CTL_REDIS_KEY_CAP];
	redisReply *rep;
	int rc;

	unsigned buckets = 1;

	rc = rd_campaign_buckets(r, id, &buckets);
	if (rc != CTL_REDIS_OK && rc != CTL_REDIS_NOT_FOUND)
		return rc;
	/* The buckets' copies first: the campaign's set is what says "released". */
	if (buckets > 1 && (rc = rd_bucket_cmds(r, id, buckets, "SREM", "released", r->host,
						NULL)) != CTL_REDIS_OK)
		return rc;
	KEY(rel, "released:{%" PRIu32 "}", id);
	rc = rd_command(r, rel, &rep, "SREM %s %s", rel, r->host);
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
	int rc = rd_command(r, CTL_REDIS_VERSION_KEY, &rep, "GET " CTL_REDIS_VERSION_KEY);

	if (rc != CTL_REDIS_OK)
		return rc;
	*version = 0;
	if (rep->type == REDIS_REPLY_STRING && !str2u64(rep->str, 0, UINT64_MAX, version)) {
		rd_err(r, "redis %s:%d: " CTL_REDIS_VERSION_KEY " is not a count >= 0", r->ip,
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
	rc = rd_command(r, CTL_REDIS_CAMPAIGNS_KEY, &add, "SADD " CTL_REDIS_CAMPAIGNS_KEY " %" PRIu32,
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
	int rc = rd_command(r, CTL_REDIS_CAMPAIGNS_KEY, &rep, "EXISTS " CTL_REDIS_CAMPAIGNS_KEY);

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
	if (!str2u64(ids, 1, UINT32_MAX, &id) || !rd_elem_str(h, 0) ||
	    !str2u64(rd_elem_str(h, 0), 0, UINT64_MAX, &d->stock) ||
	    (rd_elem_str(h, 1) && !str2u64(rd_elem_str(h, 1), 0, UINT64_MAX, &d->starts_at_ms)) ||
	    (rd_elem_str(h, 2) && !parse_state(rd_elem_str(h, 2), &d->state)) ||
	    (rd_elem_str(h, 3) && !str2u64(rd_elem_str(h, 3), 0, POW_MAX_BITS, &bits)))
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
		rc = rd_command(r, CTL_REDIS_CAMPAIGNS_KEY, &set, "SMEMBERS " CTL_REDIS_CAMPAIGNS_KEY);
	if (rc != CTL_REDIS_OK)
		return rc;
	if (set->type != REDIS_REPLY_ARRAY) {
		rd_err(r, "redis %s: SMEMBERS " CTL_REDIS_CAMPAIGNS_KEY ": unexpected reply",
			ctl_route_addr(r->rt));
		freeReplyObject(set);
		return CTL_REDIS_ERR;
	}
	cmds = calloc(set->elements + 1, sizeof(*cmds));
	keys = malloc((set->elements + 1) * sizeof(*keys));
	member = malloc((set->elements + 1) * sizeof(*member));
	if (cmds == NULL || keys == NULL || member == NULL) {
		rd_err(r, "campaigns: out of memory for %zu campaigns", set->elements);
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
			rc = rd_route_fail(r, cmds[j].rc);
			continue;
		}
		if (*n < cap && campaign_def(ids, cmds[j].rep, &out[*n], &gone))
			(*n)++;
		else if (*n < cap && !gone)
			rd_err(r, "redis: a campaign in " CTL_REDIS_CAMPAIGNS_KEY " is malformed "
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
