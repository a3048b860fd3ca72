/*
 * ctl_redis_confirm.c - a host's sales confirmed in Redis (ctl_redis.h):
 * the buyer claimed once across hosts, the unit counted sold.
 *
 * Three ways, the same decisions: the confirm script, one EVALSHA per
 * order (kept to compare, and as the reference the tests hold the others
 * to); confirm_batch, one script call per campaign and batch, so Redis
 * pays a SET NX per order and not a script call; and for a sharded
 * campaign claim_batch, one call per bucket and batch, on the node of the
 * bucket's slot, then a settle per campaign (ctl_redis_shard.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis_priv.h"

#define CTL_REDIS_STR_(x) #x
#define CTL_REDIS_STR(x) CTL_REDIS_STR_(x)

static int confirm_batched(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res, size_t cap);

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
		rd_err(r, "confirm: order id must be 1..%d characters", CTL_REDIS_ORDER_MAX);
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
		rd_err(r, "buyer %" PRIu64 " already bought in campaign %" PRIu32
			" with another order; reject order %s and return its unit", q->buyer,
			q->campaign, q->order_id);
		return CTL_REDIS_DUPLICATE;
	}
	if (strcmp(word, "released") == 0) {
		rd_err(r, "host %s was released in campaign %" PRIu32 " (and the stock is "
		       "empty, or the campaign sharded): order %s has no unit; reject it",
		       r->host, q->campaign, q->order_id);
		return CTL_REDIS_RELEASED;
	}
	rd_err(r, "redis %s: confirm: unexpected reply", ctl_route_addr(r->rt));
	return CTL_REDIS_ERR;
}

/* The confirm script's answer: ok, replay, duplicate; frees rep. */
static int confirm_reply(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 redisReply *rep, bool *replayed)
{
	int rc = CTL_REDIS_ERR;

	if (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_STRING)
		rd_err(r, "redis %s: confirm: unexpected reply", ctl_route_addr(r->rt));
	else
		rc = confirm_outcome(r, q, rep->str, replayed);
	freeReplyObject(rep);
	return rc;
}


int ctl_redis_confirm(struct ctl_redis *r, uint32_t id, uint64_t buyer, const char *order_id,
		      bool *replayed)
{
	struct ctl_redis_confirm_req q = { .campaign = id, .buyer = buyer, .order_id = order_id };
	struct ctl_redis_confirm_res res;
	struct confirm_args k;
	struct rd_shard *sh;
	redisReply *rep;
	bool rp = false;
	int rc;

	if (replayed)
		*replayed = false;
	if ((rc = confirm_args(r, &q, &k)) != CTL_REDIS_OK)
		return rc;
	if ((sh = rd_shard_get(r, id, &rc)) == NULL)
		return rc;
	if (sh->buckets > 1) {
		rc = confirm_batched(r, 1, &q, &res, 1);
		if (rc == CTL_REDIS_OK)
			rc = res.rc;
		if (replayed)
			*replayed = res.replayed;
		return rc;
	}
	rc = rd_run_script(r, S_CONFIRM, CONFIRM_KEYS, CONFIRM_ARGC, k.argv, &rep);
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
		rd_err(r, "confirm: out of memory for a batch of %zu orders", n);
		rc = CTL_REDIS_ERR;
		goto out;
	}
	for (size_t i = 0; i < n && rc == CTL_REDIS_OK; i++) {
		if ((res[i].rc = confirm_args(r, &q[i], &k[i])) != CTL_REDIS_OK)
			continue;   /* never sent */
		res[i].rc = CTL_REDIS_DOWN;
		rc = rd_script_format(r, S_CONFIRM, CONFIRM_KEYS, CONFIRM_ARGC, k[i].argv,
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
			rc = rd_route_fail(r, CTL_REDIS_DOWN);
			continue;
		}
		if (cmds[j].rep->type == REDIS_REPLY_ERROR) {
			res[i].rc = rd_script_error(r, S_CONFIRM, cmds[j].rep->str);
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
	rd_err(r, "confirm: order id must be 1..%d characters", CTL_REDIS_ORDER_MAX);
	return false;
}

/*
 * Groups the orders still CTL_REDIS_DOWN in res and not in skip into
 * calls: one campaign and bucket, and at most cap orders each, a bucket's
 * orders in their order, so its calls, run one after the other, decide as
 * confirms one by one would. Call k is q[idx[off[k]]] .. q[idx[off[k + 1]
 * - 1]]. Returns the number of calls.
 */
static size_t batch_group(const struct ctl_redis_confirm_req *q,
			  const struct ctl_redis_confirm_res *res, size_t n, const unsigned *bucket,
			  size_t cap, size_t *idx, size_t *off, bool *skip)
{
	size_t m = 0, calls = 0;

	for (size_t i = 0; i < n; i++) {
		size_t cnt = 0;

		if (skip[i] || res[i].rc != CTL_REDIS_DOWN)
			continue;
		off[calls++] = m;
		for (size_t j = i; j < n && cnt < cap; j++) {
			if (skip[j] || res[j].rc != CTL_REDIS_DOWN || q[j].campaign != q[i].campaign ||
			    bucket[j] != bucket[i])
				continue;
			skip[j] = true;
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
	return rd_script_format(r, S_CONFIRM_BATCH, (int)(CTL_REDIS_BATCH_KEYS + cnt), (int)argc, a,
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
		rd_err(r, "redis %s: script confirm_batch failed: NOTHELD host %s holds no "
			"unit in seckill:hosts:{%" PRIu32 "}; order %s not claimed",
			ctl_route_addr(r->rt), r->host, q->campaign, q->order_id);
	else
		rd_err(r, "redis %s: confirm_batch: unexpected reply", ctl_route_addr(r->rt));
	return CTL_REDIS_ERR;
}

/* Settles the orders of one confirm_batch call from its reply; frees rep. */
/* Each order's result from a batch script's reply: an array of `want`
 * elements whose first cnt are the orders' codes, or an error for all. */
static void batch_codes(struct ctl_redis *r, enum ctl_script_id s,
			const struct ctl_redis_confirm_req *q, const size_t *idx, size_t cnt,
			size_t want, const redisReply *rep, struct ctl_redis_confirm_res *res)
{
	bool ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == want;
	int rc = CTL_REDIS_ERR;

	if (rep->type == REDIS_REPLY_ERROR)
		rc = rd_script_error(r, s, rep->str);
	else if (!ok)
		rd_err(r, "redis %s: %s: unexpected reply", ctl_route_addr(r->rt),
		       ctl_redis_scripts[s].name);
	for (size_t i = 0; i < cnt; i++) {
		struct ctl_redis_confirm_res *o = &res[idx[i]];

		o->rc = ok ? batch_code(r, &q[idx[i]], rep->element[i], &o->replayed) : rc;
	}
}

static void batch_settle(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 const size_t *idx, size_t cnt, redisReply *rep,
			 struct ctl_redis_confirm_res *res)
{
	batch_codes(r, S_CONFIRM_BATCH, q, idx, cnt, cnt, rep, res);
	freeReplyObject(rep);
}

/* One claim_batch call (a sharded campaign's bucket) for q[idx[0..cnt)). */
static int claim_format(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			const size_t *idx, size_t cnt, unsigned buckets, char key[CTL_REDIS_KEY_CAP],
			struct ctl_route_cmd *cmd)
{
	char claimed[CTL_REDIS_KEY_CAP], rel[CTL_REDIS_KEY_CAP], ttl[16];
	const char **a = r->batch_argv;
	uint32_t id = q[idx[0]].campaign;
	unsigned b = ctl_redis_bucket(q[idx[0]].buyer, buckets);
	size_t argc = 0;

	snprintf(key, CTL_REDIS_KEY_CAP, "seckill:claims:{%" PRIu32 ":%u}", id, b);
	KEY(claimed, "claimed:{%" PRIu32 ":%u}", id, b);
	KEY(rel, "released:{%" PRIu32 ":%u}", id, b);
	snprintf(ttl, sizeof(ttl), "%" PRIu32, r->claim_ttl_s);
	a[argc++] = key;
	a[argc++] = claimed;
	a[argc++] = rel;
	a[argc++] = r->host;
	a[argc++] = ttl;
	for (size_t i = 0; i < cnt; i++) {
		/* The buyers in decimal, in the claims' room (fields, not keys). */
		snprintf(r->batch_claims[i], CTL_REDIS_KEY_CAP, "%" PRIu64, q[idx[i]].buyer);
		a[argc++] = r->batch_claims[i];
	}
	for (size_t i = 0; i < cnt; i++)
		a[argc++] = q[idx[i]].order_id;
	cmd->key = key;
	cmd->what = "claim_batch (pipelined)";
	return rd_script_format(r, S_CLAIM_BATCH, 3, (int)argc, a, (char **)&cmd->cmd, &cmd->len);
}

/* Settles the orders of one claim_batch call from its reply (codes, then
 * this host's claims won in the bucket, kept in *won); frees rep. */
static void claim_settle(struct ctl_redis *r, const struct ctl_redis_confirm_req *q,
			 const size_t *idx, size_t cnt, redisReply *rep,
			 struct ctl_redis_confirm_res *res, uint64_t *won)
{
	const redisReply *last = rep->type == REDIS_REPLY_ARRAY && rep->elements == cnt + 1 ?
		rep->element[cnt] : NULL;

	if (last && (last->type != REDIS_REPLY_INTEGER || last->integer < 0)) {
		rd_err(r, "redis %s: claim_batch: unexpected reply", ctl_route_addr(r->rt));
		for (size_t i = 0; i < cnt; i++)
			res[idx[i]].rc = CTL_REDIS_ERR;
	} else {
		if (last && (uint64_t)last->integer > *won)
			*won = (uint64_t)last->integer;
		batch_codes(r, S_CLAIM_BATCH, q, idx, cnt, cnt + 1, rep, res);
	}
	freeReplyObject(rep);
}

/*
 * The batched confirm_many: one call per campaign (per bucket of a sharded
 * campaign, see ctl_redis_shard.c) and per cap orders of the batch, all
 * calls in one round trip per node; then each sharded campaign's claims
 * are settled. A reply lost with its node's connection leaves its call's
 * orders and those of the node's calls after it CTL_REDIS_DOWN (each call
 * ran whole or not at all: confirm is idempotent per order id, the caller
 * asks again).
 */
static int confirm_batched(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res, size_t cap)
{
	size_t *idx, *off, calls = 0;
	struct ctl_route_cmd *cmds = NULL;
	char (*keys)[CTL_REDIS_KEY_CAP] = NULL;
	unsigned *bucket, *buckets;
	bool *skip;
	int rc = CTL_REDIS_OK;

	for (size_t i = 0; i < n; i++)
		res[i] = (struct ctl_redis_confirm_res){ .rc = CTL_REDIS_DOWN };
	if (n == 0)
		return CTL_REDIS_OK;
	idx = malloc(n * sizeof(*idx));
	off = malloc((n + 1) * sizeof(*off));
	skip = calloc(n, sizeof(*skip));
	bucket = malloc(n * sizeof(*bucket));
	buckets = malloc(n * sizeof(*buckets));
	if (idx == NULL || off == NULL || skip == NULL || bucket == NULL || buckets == NULL)
		goto oom;
	for (size_t i = 0, known = n; i < n; i++) {
		struct rd_shard *sh;
		int src;

		if (!order_id_ok(r, &q[i])) {
			res[i].rc = CTL_REDIS_INVAL;   /* never sent */
			continue;
		}
		if (known < n && q[known].campaign == q[i].campaign) {
			/* A batch's orders come by campaign: one lookup a run (a
			 * campaign missing from Redis is not cached, see rd_shard_get). */
			buckets[i] = buckets[known];
			bucket[i] = ctl_redis_bucket(q[i].buyer, buckets[i]);
			continue;
		}
		if ((sh = rd_shard_get(r, q[i].campaign, &src)) == NULL) {
			res[i].rc = src;               /* Redis could not say how it is sharded */
			skip[i] = true;
			rc = src == CTL_REDIS_DOWN ? CTL_REDIS_DOWN : rc;
			continue;
		}
		buckets[i] = sh->buckets;
		bucket[i] = ctl_redis_bucket(q[i].buyer, sh->buckets);
		known = i;
	}
	calls = batch_group(q, res, n, bucket, cap, idx, off, skip);
	cmds = calloc(calls + 1, sizeof(*cmds));
	keys = malloc((calls + 1) * sizeof(*keys));
	if (cmds == NULL || keys == NULL)
		goto oom;
	for (size_t k = 0, err = 0; k < calls && !err; k++) {
		size_t first = idx[off[k]], cnt = off[k + 1] - off[k];

		err = (buckets[first] > 1 ?
		       claim_format(r, q, &idx[off[k]], cnt, buckets[first], keys[k], &cmds[k]) :
		       batch_format(r, q, &idx[off[k]], cnt, keys[k], &cmds[k])) != CTL_REDIS_OK;
		if (err) {
			rc = CTL_REDIS_ERR;
			calls = k;   /* nothing is sent; the formatted ones are freed */
		}
	}
	if (rc != CTL_REDIS_ERR)
		ctl_route_pipeline(r->rt, cmds, calls);
	for (size_t k = 0; k < calls; k++) {
		size_t first = idx[off[k]], cnt = off[k + 1] - off[k];

		if (rc == CTL_REDIS_ERR)
			;   /* a format failed: nothing was sent */
		else if (cmds[k].rc != CTL_REDIS_OK)
			rc = rd_route_fail(r, CTL_REDIS_DOWN);
		else if (buckets[first] > 1) {
			int src;
			struct rd_shard *sh = rd_shard_get(r, q[first].campaign, &src);
			uint64_t scratch = 0;

			claim_settle(r, q, &idx[off[k]], cnt, cmds[k].rep, res,
				     sh ? &sh->claimed[bucket[first]] : &scratch);
		} else {
			batch_settle(r, q, &idx[off[k]], cnt, cmds[k].rep, res);
		}
		redisFreeCommand((char *)cmds[k].cmd);
	}
	/* The claims won move from held to sold on each campaign's slot. A
	 * settle that fails is made by the next one (counts, not events). */
	for (size_t k = 0; k < calls && rc != CTL_REDIS_ERR; k++) {
		size_t first = idx[off[k]];
		struct rd_shard *sh;
		int src;

		if (buckets[first] > 1 && (sh = rd_shard_get(r, q[first].campaign, &src)) != NULL &&
		    rd_shard_settle(r, sh) != CTL_REDIS_OK)
			break;   /* rd_err says why; the results above stand */
	}
	if (rc == CTL_REDIS_DOWN)
		rd_route_fail(r, rc);   /* the text says why, not an order's duplicate */
	goto out;
oom:
	rd_err(r, "confirm: out of memory for a batch of %zu orders", n);
	rc = CTL_REDIS_ERR;
out:
	free(idx);
	free(off);
	free(skip);
	free(bucket);
	free(buckets);
	free(cmds);
	free(keys);
	return rc;
}

int ctl_redis_confirm_many(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res)
{
	if (r->confirm_mode == CTL_REDIS_CONFIRM_EACH) {
		/* A sharded campaign has no one-order script: one claim_batch
		 * call per order is its "each". */
		for (size_t i = 0; i < n; i++) {
			struct rd_shard *sh;
			int rc;

			if (i > 0 && q[i].campaign == q[i - 1].campaign)
				continue;   /* looked up just before */
			if ((sh = rd_shard_get(r, q[i].campaign, &rc)) != NULL && sh->buckets > 1)
				return confirm_batched(r, n, q, res, 1);
		}
		return confirm_each(r, n, q, res);
	}
	return confirm_batched(r, n, q, res, CTL_REDIS_CONFIRM_BATCH_MAX);
}
