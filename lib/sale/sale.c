/*
 * sale.c - the buy decision, and setting up the shared state it runs on.
 *
 * sale_buy decides one POST /api/campaigns/{id}/orders. The order of the
 * checks is the design; each one is placed where it is for a reason:
 *
 *  1. campaign lookup                  404  a scan of a read-mostly array
 *  2. closed / not started yet         410 / 425  one word of the campaign,
 *                                      local: no token work for a sale that
 *                                      cannot sell
 *  3. token verify                     401  missing / malformed / forged /
 *                                      expired, each counted; nothing shared
 *                                      is touched before we know the buyer
 *  4. this core's sold-out flag        410  reads the core's own share and
 *                                      one read-mostly word, writes nothing
 *                                      shared: after the sale ends, the
 *                                      million late buyers cost no cache-line
 *                                      traffic. A repeat buyer of a sold-out
 *                                      campaign is told 410, not 409.
 * 4b. proof of work, when the          428 / 403  after the token (the
 *     campaign asks one                challenge is the buyer's) and the
 *                                      sold-out flag (nobody solves to hear
 *                                      410); one SipHash and one SHA-256,
 *                                      nothing shared; bits 0: one relaxed
 *                                      load
 *  5. blacklist IP, then buyer         403  skipped while the lists are empty
 *  6. per-IP limit, per-buyer limit    429  nginx limit_req, Retry-After
 *  7. paused, order book room,         503  BEFORE anything is claimed or
 *     ring reserve                     taken: a full queue refuses the sale,
 *                                      it never drops a sold order
 *  8. purchase claim                   409  before stock: a repeat buyer
 *                                      never takes (and strands) a unit;
 *                                      503 when the set is full
 *  9. stock take                       SOLD_OUT: release the claim (its
 *                                      ticket), cancel the reservation, 410.
 *                                      RETRY: the same undo, 503 Retry-After 1
 * 10. book entry, then ring commit     200  the book first, so the control
 *                                      plane never receives an order it
 *                                      cannot find to confirm or reject
 *
 * The classic bugs are impossible by construction: one unit is one CAS in
 * the stock pool, so the last unit is sold once and no counter goes below 0;
 * the claim precedes the take; every exit after step 7 undoes exactly what
 * was done; sale_order_reject (sale_ctl.c) gives the unit and the claim back
 * once, guarded by a CAS on the order's status.
 */
#include "sale.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sale_priv.h"

#define MS_PER_S 1000

struct sale_answer {
	uint16_t status;
	const char *code;
};

static const struct sale_answer sale_answers[SALE_RESULT_N] = {
	[SALE_OK] = { 200, "ok" },
	[SALE_NO_CAMPAIGN] = { 404, "unknown_campaign" },
	[SALE_NOT_OPEN] = { 425, "not_open" },
	[SALE_CLOSED] = { 410, "closed" },
	[SALE_TOKEN_MISSING] = { 401, "token_missing" },
	[SALE_TOKEN_MALFORMED] = { 401, "token_malformed" },
	[SALE_TOKEN_FORGED] = { 401, "token_forged" },
	[SALE_TOKEN_EXPIRED] = { 401, "token_expired" },
	[SALE_BAD_BUYER] = { 400, "bad_buyer" },
	[SALE_SOLD_OUT] = { 410, "sold_out" },
	[SALE_BLACKLIST_IP] = { 403, "blacklisted_ip" },
	[SALE_BLACKLIST_BUYER] = { 403, "blacklisted_buyer" },
	[SALE_LIMIT_IP] = { 429, "rate_limited_ip" },
	[SALE_LIMIT_BUYER] = { 429, "rate_limited_buyer" },
	[SALE_BOOK_FULL] = { 503, "order_book_full" },
	[SALE_RING_FULL] = { 503, "order_queue_full" },
	[SALE_ALREADY] = { 409, "already_bought" },
	[SALE_PURCHASE_FULL] = { 503, "buyer_table_full" },
	[SALE_STOCK_RETRY] = { 503, "stock_busy" },
	[SALE_POW_REQUIRED] = { 428, "pow_required" },
	[SALE_POW_INVALID] = { 403, "pow_invalid" },
};

const char *const sale_result_names[] = {
	"ok", "unknown_campaign", "not_open", "closed", "token_missing",
	"token_malformed", "token_forged", "token_expired", "bad_buyer", "sold_out",
	"blacklisted_ip", "blacklisted_buyer", "rate_limited_ip", "rate_limited_buyer",
	"order_book_full", "order_queue_full", "already_bought", "buyer_table_full",
	"stock_busy", "pow_required", "pow_invalid",
};
_Static_assert(sizeof(sale_result_names) / sizeof(sale_result_names[0]) == SALE_RESULT_N,
	       "one name per result");

const char *const sale_stats_names[] = { SALE_STATS(STATS_NAME) };
_Static_assert(sizeof(sale_stats_names) / sizeof(sale_stats_names[0]) == SALE_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct sale_stats) == SALE_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

uint16_t sale_result_status(enum sale_result r)
{
	return (unsigned)r < SALE_RESULT_N ? sale_answers[r].status : 500;
}

const char *sale_result_code(enum sale_result r)
{
	return (unsigned)r < SALE_RESULT_N ? sale_answers[r].code : "internal";
}

void sale_conf_default(struct sale_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->n_cores = 1;
	conf->ip_capacity = 1u << 16;
	conf->buyer_capacity = 1u << 18;
	conf->purchase_capacity = 1u << 18;
	conf->blacklist_capacity = 1u << 12;
	conf->ring_size = 1u << 12;
	/* The books are populated at create: 32 bytes per entry per core. */
	conf->max_stock = 1u << 18;
	conf->return_headroom = 1u << 14;
	/* 64 units per refill: the pool's line moves once per 64 sales per
	 * core, and at most 64 * n_cores units sit in shares (stealing
	 * recovers them at the end anyway). */
	conf->stock_chunk = 64;
}

/* ------------------------------------------------------------------ */
/* The buy path                                                         */
/* ------------------------------------------------------------------ */

static inline enum sale_result done(struct sale_core *c, enum sale_result r)
{
	c->results[r]++;
	return r;
}

/* The answer for campaign slot `slot`: counted per core and per campaign
 * (two increments in this core's own lines). */
static inline enum sale_result done_in(struct sale_core *c, size_t slot, enum sale_result r)
{
	c->camp_results[slot][r]++;
	return done(c, r);
}

/* Step 2: relaxed, the state word publishes no other data; a change seen a
 * few ns late is the same as the request arriving a few ns earlier. */
static enum sale_result sale_gate(const struct sale_campaign *cp, uint64_t now_ms,
				  struct sale_out *out)
{
	uint32_t st = atomic_load_explicit(&cp->state, memory_order_relaxed);

	if (st == SALE_CLOSED_STATE)
		return SALE_CLOSED;
	if (st == SALE_SCHEDULED && now_ms < cp->starts_at_ms) {
		out->retry_after_s = (uint32_t)((cp->starts_at_ms - now_ms + MS_PER_S - 1) /
						MS_PER_S);
		return SALE_NOT_OPEN;
	}
	return SALE_OK;
}

/* Step 3: the buyer, under the current key, or the previous one while a
 * rotation is under way (token.h). */
static enum sale_result sale_token(struct sale_core *c, const char *tok, size_t len,
				   uint64_t now_ms, uint64_t *buyer)
{
	struct sale *s = c->s;
	enum token_status ts;

	if (tok == NULL || len == 0)
		return SALE_TOKEN_MISSING;
	ts = token_verify(&s->conf.key, tok, len, now_ms / MS_PER_S, buyer);
	if (ts == TOKEN_BAD_MAC && s->has_prev_key) {
		ts = token_verify(&s->conf.key_prev, tok, len, now_ms / MS_PER_S, buyer);
		if (ts == TOKEN_OK)
			c->stats.key_prev_ok++;
	}
	switch (ts) {
	case TOKEN_OK:
		c->token.token_ok++;
		/* lim_table cannot store UINT64_MAX: no limit, blacklist or
		 * claim could hold this buyer, so refuse rather than fail open. */
		return *buyer == UINT64_MAX ? SALE_BAD_BUYER : SALE_OK;
	case TOKEN_BAD_MAC:
		c->token.token_bad_mac++;
		return SALE_TOKEN_FORGED;
	case TOKEN_EXPIRED:
		c->token.token_expired++;
		return SALE_TOKEN_EXPIRED;
	case TOKEN_MALFORMED:
	default:
		c->token.token_malformed++;
		return SALE_TOKEN_MALFORMED;
	}
}

/* Step 4b: the order's proof of work, for a campaign that asks bits > 0,
 * under the challenge key or the previous one during a key rotation. */
static enum sale_result sale_pow(struct sale_core *c, uint32_t campaign, uint64_t buyer,
				 unsigned bits, const char *pow, size_t pow_len, uint64_t now_ms)
{
	struct sale *s = c->s;

	if (pow == NULL || pow_len == 0)
		return SALE_POW_REQUIRED;
	switch (pow_verify(&s->pow_key, s->has_prev_key ? &s->pow_key_prev : NULL, pow, pow_len,
			   buyer, campaign, bits, now_ms / MS_PER_S)) {
	case POW_OK:
		return SALE_OK;
	case POW_BAD_MAC:
		c->pow.pow_bad_mac++;
		break;
	case POW_EXPIRED:
		c->pow.pow_expired++;
		break;
	case POW_WEAK:
		c->pow.pow_weak++;
		break;
	case POW_UNSOLVED:
		c->pow.pow_unsolved++;
		break;
	case POW_MALFORMED:
	default:
		c->pow.pow_malformed++;
		break;
	}
	return SALE_POW_INVALID;
}

/*
 * Step 4: stock_take's fast path without the take. The core's own flag is
 * set only by its own stock_take answering SOLD_OUT; ret_begin is written
 * only by stock_return, so both lines stay clean in this core's cache.
 * Relaxed for the reason given in stock_take: ret_begin is bumped before a
 * returned unit reaches the pool, so an unchanged value means nothing came
 * back since this core saw everything empty.
 */
static inline bool sale_sold_out_seen(const struct stock_pool *pool, unsigned core)
{
	const struct stock_share *share = &pool->share[core];

	return share->sold_out &&
	       atomic_load_explicit(&pool->ret_begin, memory_order_relaxed) == share->seen_ret;
}

/* Step 5. Relaxed counts: a list change seen late is a request a little early. */
static enum sale_result sale_blacklist(struct sale *s, uint32_t ip, uint64_t buyer)
{
	if (atomic_load_explicit(&s->black_ip_n, memory_order_relaxed) &&
	    sale_listed(s->black_ip, ip))
		return SALE_BLACKLIST_IP;
	if (atomic_load_explicit(&s->black_buyer_n, memory_order_relaxed) &&
	    sale_listed(s->black_buyer, buyer))
		return SALE_BLACKLIST_BUYER;
	return SALE_OK;
}

static inline uint64_t sale_rule_pack(const struct lim_rule *r)
{
	return (uint64_t)r->rate | (uint64_t)r->burst << 32;
}

static inline struct lim_rule sale_rule_load(const struct sale *s, enum sale_rule which)
{
	/* Relaxed: a rule is one word, and it guards no other data; a worker
	 * that reads the old rule a moment longer applies it to one request. */
	uint64_t w = atomic_load_explicit(&((struct sale *)s)->rule[which], memory_order_relaxed);
	struct lim_rule r = { .rate = (uint32_t)w, .burst = (uint32_t)(w >> 32) };

	return r;
}

/* Step 6: nginx limit_req per IP, then per buyer (rate 0: off); the buyer
 * rule is the caller's, loaded once for the prefetch and for this. */
static enum sale_result sale_limits(struct sale_core *c, uint32_t ip, uint64_t buyer,
				    struct lim_rule buyer_rule, uint64_t now_ms,
				    uint32_t *retry_after_s)
{
	struct sale *s = c->s;
	struct lim_rule r = sale_rule_load(s, SALE_RULE_IP);

	if (r.rate && lim_check(s->lim_ip, ip, now_ms, &r, retry_after_s,
				&c->lim_ip) == LIM_LIMITED)
		return SALE_LIMIT_IP;
	if (buyer_rule.rate && lim_check(s->lim_buyer, buyer, now_ms, &buyer_rule, retry_after_s,
					 &c->lim_buyer) == LIM_LIMITED)
		return SALE_LIMIT_BUYER;
	return SALE_OK;
}

int sale_set_limit(struct sale *s, enum sale_rule which, const struct lim_rule *rule)
{
	struct lim_table *t = which == SALE_RULE_IP ? s->lim_ip : s->lim_buyer;

	if ((unsigned)which >= SALE_RULE_N)
		return -EINVAL;
	if (rule->rate != 0 && t == NULL)
		return -ENOSPC;
	atomic_store_explicit(&s->rule[which], sale_rule_pack(rule), memory_order_relaxed);
	return 0;
}

struct lim_rule sale_get_limit(const struct sale *s, enum sale_rule which)
{
	return sale_rule_load(s, which);
}

/* Step 8: one CAS in the shared purchase set. */
static enum sale_result sale_claim(struct sale_core *c, uint32_t campaign, uint64_t buyer,
				   uint64_t *ticket, struct sale_out *out)
{
	switch (lim_purchase_claim(c->s->purchase, campaign, buyer, ticket, &c->purchase)) {
	case LIM_CLAIMED:
		return SALE_OK;
	case LIM_ALREADY:
		return SALE_ALREADY;
	case LIM_FULL:
		out->retry_after_s = SALE_RETRY_AFTER_S;
		return SALE_PURCHASE_FULL;
	case LIM_INVALID:       /* buyer UINT64_MAX, excluded by sale_token already */
	default:
		return SALE_BAD_BUYER;
	}
}

/* Step 10: the book entry first, so that the control plane, which learns of
 * the order from the ring, can always find it to confirm or reject. */
static void sale_record(struct sale_core *c, uint32_t campaign, uint64_t buyer,
			uint64_t ticket, uint64_t now_ms, struct sale_out *out)
{
	struct ord_record rec;

	rec.id = ord_idgen_next(&c->gen);
	rec.buyer = buyer;
	rec.time_ms = now_ms;
	rec.campaign = campaign;
	rec.qty = 1;
	ord_book_publish(c->book, ord_id_seq(rec.id), campaign, buyer, ticket, now_ms);
	ord_ring_commit(c->ring, &rec);
	out->id = rec.id;
}

/* Steps 7-10: reserve room, claim, take, record; undo in reverse on failure. */
static enum sale_result sale_take(struct sale_core *c, struct sale_campaign *cp,
				  uint64_t buyer, uint64_t now_ms, struct sale_out *out)
{
	uint64_t ticket = 0;
	enum sale_result r;
	int st;

	/* Relaxed: the pause publishes no data, and the control plane pauses
	 * with room to spare for sales that start before they see it. */
	if (atomic_load_explicit(&c->s->paused, memory_order_relaxed)) {
		c->stats.refused_paused++;
		out->retry_after_s = SALE_RETRY_AFTER_S;
		return SALE_RING_FULL;
	}
	if (!ord_book_has_room(c->book, c->gen.next_seq)) {
		out->retry_after_s = SALE_RETRY_AFTER_S;
		return SALE_BOOK_FULL;
	}
	if (!ord_ring_reserve(c->ring)) {
		out->retry_after_s = SALE_RETRY_AFTER_S;
		return SALE_RING_FULL;
	}
	r = sale_claim(c, cp->id, buyer, &ticket, out);
	if (r != SALE_OK) {
		ord_ring_cancel(c->ring);
		return r;
	}
	st = stock_take(cp->pool, c->index);
	if (st != STOCK_OK) {
		lim_purchase_release(c->s->purchase, cp->id, buyer, ticket, &c->purchase);
		ord_ring_cancel(c->ring);
		if (st == STOCK_SOLD_OUT) {
			c->stats.sold_out_after_claim++;
			return SALE_SOLD_OUT;
		}
		out->retry_after_s = SALE_RETRY_AFTER_S;
		return SALE_STOCK_RETRY;
	}
	sale_record(c, cp->id, buyer, ticket, now_ms, out);
	return SALE_OK;
}

/* Starts loading the buyer's purchase-set slot, and its rate-limit slot when
 * that rule is on: cache misses in tables of millions. */
static inline void sale_prefetch_slots(const struct sale *s, uint32_t campaign, uint64_t buyer,
				       struct lim_rule buyer_rule)
{
	lim_purchase_prefetch(s->purchase, campaign, buyer);
	if (buyer_rule.rate)
		lim_table_prefetch(s->lim_buyer, &buyer);
}

void sale_prefetch_buy(struct sale_core *c, uint32_t campaign_id, uint64_t buyer)
{
	struct sale *s = c->s;
	struct sale_campaign *cp = sale_campaign_find(s, campaign_id);

	if (cp == NULL || buyer == 0 || sale_sold_out_seen(cp->pool, c->index))
		return;
	if (c->prefetch_n + 2 > SALE_PREFETCH_MAX) {     /* a batch that long: load now */
		sale_prefetch_slots(s, cp->id, buyer, sale_rule_load(s, SALE_RULE_BUYER));
		return;
	}
	c->prefetch[c->prefetch_n++] = lim_purchase_slot(s->purchase, cp->id, buyer);
	if (sale_rule_load(s, SALE_RULE_BUYER).rate)
		c->prefetch[c->prefetch_n++] = lim_table_slot(s->lim_buyer, &buyer);
}

void sale_prefetch_issue(struct sale_core *c)
{
	for (unsigned i = 0; i < c->prefetch_n; i++)
		__builtin_prefetch(c->prefetch[i], 1, 3);      /* a claim (a CAS) follows */
	c->prefetch_n = 0;
}

enum sale_result sale_buy_pow(struct sale_core *c, uint32_t campaign_id, const char *token,
			      size_t token_len, const char *pow, size_t pow_len,
			      uint32_t peer_ip, uint64_t now_ms, struct sale_out *out)
{
	struct sale *s = c->s;
	struct sale_campaign *cp;
	struct lim_rule buyer_rule;
	uint64_t buyer = 0;
	uint32_t pow_bits;
	size_t slot;
	enum sale_result r;

	memset(out, 0, sizeof(*out));
	cp = sale_campaign_find(s, campaign_id);
	if (cp == NULL)
		return done(c, SALE_NO_CAMPAIGN);
	slot = (size_t)(cp - s->camp);
	r = sale_gate(cp, now_ms, out);
	if (r != SALE_OK)
		return done_in(c, slot, r);
	r = sale_token(c, token, token_len, now_ms, &buyer);
	if (r != SALE_OK)
		return done_in(c, slot, r);
	out->buyer = buyer;
	if (sale_sold_out_seen(cp->pool, c->index)) {
		c->stats.sold_out_fast++;
		return done_in(c, slot, SALE_SOLD_OUT);
	}
	pow_bits = atomic_load_explicit(&cp->pow_bits, memory_order_relaxed);
	if (pow_bits != 0 &&
	    (r = sale_pow(c, cp->id, buyer, pow_bits, pow, pow_len, now_ms)) != SALE_OK)
		return done_in(c, slot, r);
	/* Started now (again, if the worker's burst peek already did), so the
	 * slots load together while the blacklists, limits, book and ring are
	 * checked. After the sold-out test: that path pays nothing for them. */
	buyer_rule = sale_rule_load(s, SALE_RULE_BUYER);
	sale_prefetch_slots(s, cp->id, buyer, buyer_rule);
	r = sale_blacklist(s, peer_ip, buyer);
	if (r != SALE_OK)
		return done_in(c, slot, r);
	r = sale_limits(c, peer_ip, buyer, buyer_rule, now_ms, &out->retry_after_s);
	if (r != SALE_OK)
		return done_in(c, slot, r);
	return done_in(c, slot, sale_take(c, cp, buyer, now_ms, out));
}

enum sale_result sale_buy(struct sale_core *c, uint32_t campaign_id, const char *token,
			  size_t token_len, uint32_t peer_ip, uint64_t now_ms,
			  struct sale_out *out)
{
	return sale_buy_pow(c, campaign_id, token, token_len, NULL, 0, peer_ip, now_ms, out);
}

enum sale_result sale_challenge(struct sale_core *c, uint32_t campaign_id, const char *token,
				size_t token_len, uint64_t now_ms, struct sale_challenge *ch)
{
	struct sale_campaign *cp = sale_campaign_find(c->s, campaign_id);
	uint64_t buyer = 0;
	enum sale_result r;

	if (cp == NULL)
		return SALE_NO_CAMPAIGN;
	r = sale_token(c, token, token_len, now_ms, &buyer);
	if (r != SALE_OK)
		return r;
	/* Relaxed, as sale_buy_pow reads it. */
	ch->bits = atomic_load_explicit(&cp->pow_bits, memory_order_relaxed);
	pow_challenge(&c->s->pow_key, buyer, campaign_id, ch->bits, now_ms / MS_PER_S, ch->text,
		      sizeof(ch->text));
	ch->expires_ms = pow_expires_ms(now_ms / MS_PER_S);
	c->pow.pow_challenges++;
	return SALE_OK;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                               */
/* ------------------------------------------------------------------ */

static bool key_is_zero(const struct token_key *k)
{
	return k->k[0] == 0 && k->k[1] == 0;
}

static int sale_conf_check(const struct sale_conf *conf, char *err, size_t cap)
{
	const char *why = NULL;

	if (conf->n_cores == 0 || conf->n_cores > SALE_MAX_CORES)
		why = "n_cores must be 1..64";
	else if (key_is_zero(&conf->key))
		why = "no token key: load one with token_key_load";
	else if (conf->ring_size < 2 || (conf->ring_size & (conf->ring_size - 1)))
		why = "ring_size must be a power of two >= 2";
	else if (conf->purchase_capacity == 0 || conf->blacklist_capacity == 0 ||
		 (conf->ip_rule.rate && conf->ip_capacity == 0) ||
		 (conf->buyer_rule.rate && conf->buyer_capacity == 0))
		why = "a table capacity is 0";
	else if (conf->max_stock + conf->return_headroom == 0 ||
		 conf->max_stock + conf->return_headroom < conf->max_stock)
		why = "max_stock + return_headroom must be 1..2^64-1";
	if (why == NULL)
		return 0;
	snprintf(err, cap, "sale: bad configuration: %s", why);
	return -1;
}

static int sale_tables(struct sale *s)
{
	const struct sale_conf *cf = &s->conf;

	/* Made whenever they have room, so a rule can be switched on later. */
	if (cf->ip_capacity && !(s->lim_ip = lim_table_create(cf->ip_capacity, 1, NULL)))
		return -1;
	if (cf->buyer_capacity &&
	    !(s->lim_buyer = lim_table_create(cf->buyer_capacity, 1, NULL)))
		return -1;
	atomic_init(&s->rule[SALE_RULE_IP], sale_rule_pack(&cf->ip_rule));
	atomic_init(&s->rule[SALE_RULE_BUYER], sale_rule_pack(&cf->buyer_rule));
	s->purchase = lim_purchase_create(cf->purchase_capacity, NULL);
	s->black_ip = lim_table_create(cf->blacklist_capacity, 1, NULL);
	s->black_buyer = lim_table_create(cf->blacklist_capacity, 1, NULL);
	return s->purchase && s->black_ip && s->black_buyer ? 0 : -1;
}

static int sale_cores(struct sale *s)
{
	const struct sale_conf *cf = &s->conf;
	size_t bytes = sizeof(struct sale_core) * cf->n_cores;

	s->cores = aligned_alloc(STOCK_CACHE_LINE, bytes);
	if (s->cores == NULL)
		return -1;
	memset(s->cores, 0, bytes);
	for (unsigned i = 0; i < cf->n_cores; i++) {
		struct sale_core *c = &s->cores[i];

		c->s = s;
		c->index = i;
		ord_idgen_init(&c->gen, cf->epoch, cf->node, (uint16_t)i);
		c->camp_results = calloc(SALE_MAX_CAMPAIGNS, sizeof(*c->camp_results));
		c->ring = ord_ring_create(cf->ring_size);
		c->book = ord_book_create(cf->max_stock + cf->return_headroom);
		if (c->camp_results == NULL || c->ring == NULL || c->book == NULL)
			return -1;
	}
	return 0;
}

struct sale *sale_create(const struct sale_conf *conf, char *err, size_t cap)
{
	struct sale *s;

	if (sale_conf_check(conf, err, cap) < 0)
		return NULL;
	s = aligned_alloc(STOCK_CACHE_LINE, sizeof(*s));
	if (s == NULL)
		goto nomem;
	memset(s, 0, sizeof(*s));
	s->conf = *conf;
	s->has_prev_key = !key_is_zero(&conf->key_prev);
	pow_key_derive(&conf->key, &s->pow_key);
	pow_key_derive(&conf->key_prev, &s->pow_key_prev);
	if (sale_tables(s) < 0 || sale_cores(s) < 0) {
		sale_destroy(s);
		goto nomem;
	}
	return s;
nomem:
	snprintf(err, cap, "sale: out of memory for %u cores, %llu book entries per core, "
		 "%u ring slots: lower max_stock or ring_size", conf->n_cores,
		 (unsigned long long)(conf->max_stock + conf->return_headroom), conf->ring_size);
	return NULL;
}

void sale_destroy(struct sale *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->n_campaigns; i++)
		free(s->camp[i].pool);
	if (s->cores) {
		for (unsigned i = 0; i < s->conf.n_cores; i++) {
			free(s->cores[i].camp_results);
			ord_ring_free(s->cores[i].ring);
			ord_book_free(s->cores[i].book);
		}
		free(s->cores);
	}
	lim_table_free(s->lim_ip);
	lim_table_free(s->lim_buyer);
	lim_purchase_free(s->purchase);
	lim_table_free(s->black_ip);
	lim_table_free(s->black_buyer);
	free(s);
}

struct sale_core *sale_core(struct sale *s, unsigned i)
{
	return i < s->conf.n_cores ? &s->cores[i] : NULL;
}

void sale_set_paused(struct sale *s, bool paused)
{
	atomic_store_explicit(&s->paused, paused, memory_order_relaxed);
}

bool sale_paused(const struct sale *s)
{
	return atomic_load_explicit(&s->paused, memory_order_relaxed);
}

void sale_set_durable(struct sale *s, unsigned core, uint64_t seq)
{
	_Atomic uint64_t *d;

	if (core >= s->conf.n_cores)
		return;
	d = &s->durable[core].seq;
	/* One writer (the control thread), so load-compare-store is enough.
	 * Release: the fsync that made the orders durable happened before,
	 * and a core that acquires the new value answers after it. */
	if (seq > atomic_load_explicit(d, memory_order_relaxed))
		atomic_store_explicit(d, seq, memory_order_release);
}

uint64_t sale_durable_seq(const struct sale_core *c)
{
	return atomic_load_explicit(&c->s->durable[c->index].seq, memory_order_acquire);
}

unsigned sale_n_cores(const struct sale *s)
{
	return s->conf.n_cores;
}

/* Both kinds of campaign: `initial` units in the pool now, `stock` in all. */
static int sale_campaign_publish(struct sale *s, uint32_t id, uint64_t stock, uint64_t initial,
				 uint64_t starts_at_ms)
{
	uint32_t n = atomic_load_explicit(&s->n_campaigns, memory_order_relaxed);
	struct sale_campaign *cp;

	if (stock == 0)
		return -EINVAL;
	if (sale_campaign_find(s, id))
		return -EEXIST;
	if (n == SALE_MAX_CAMPAIGNS || stock > s->conf.max_stock - s->stock_total)
		return -ENOSPC;
	cp = &s->camp[n];
	cp->pool = aligned_alloc(STOCK_CACHE_LINE, sizeof(struct stock_pool));
	if (cp->pool == NULL)
		return -ENOMEM;
	if (stock_pool_init(cp->pool, initial, s->conf.n_cores, s->conf.stock_chunk) < 0) {
		free(cp->pool);
		cp->pool = NULL;
		return -EINVAL;
	}
	/* Before the publication below: the first take already sees it. */
	stock_set_upstream(cp->pool, initial < stock);
	atomic_store_explicit(&cp->upstream_left, 0, memory_order_relaxed);
	cp->id = id;
	cp->stock = stock;
	cp->starts_at_ms = starts_at_ms;
	atomic_store_explicit(&cp->state, SALE_SCHEDULED, memory_order_relaxed);
	atomic_store_explicit(&cp->pow_bits, 0, memory_order_relaxed);
	s->stock_total += stock;
	/* Release pairs with the acquire in sale_campaign_find. */
	atomic_store_explicit(&s->n_campaigns, n + 1, memory_order_release);
	return 0;
}

int sale_campaign_add(struct sale *s, uint32_t id, uint64_t stock, uint64_t starts_at_ms)
{
	return sale_campaign_publish(s, id, stock, stock, starts_at_ms);
}

int sale_campaign_add_upstream(struct sale *s, uint32_t id, uint64_t stock,
			       uint64_t starts_at_ms)
{
	return sale_campaign_publish(s, id, stock, 0, starts_at_ms);
}

bool sale_campaign_info(struct sale *s, uint32_t id, uint64_t now_ms,
			struct sale_campaign_view *v)
{
	struct sale_campaign *cp = sale_campaign_find(s, id);
	uint32_t st;

	if (cp == NULL)
		return false;
	/* Relaxed, as the workers read it (sale_gate). */
	st = atomic_load_explicit(&cp->state, memory_order_relaxed);
	v->id = id;
	v->starts_at_ms = cp->starts_at_ms;
	v->stock = cp->stock;
	v->pow_bits = atomic_load_explicit(&cp->pow_bits, memory_order_relaxed);
	/* A snapshot: reads every share's line, which a GET may afford. */
	v->left = stock_left(cp->pool) +
		  atomic_load_explicit(&cp->upstream_left, memory_order_relaxed);
	if (st == SALE_CLOSED_STATE)
		v->phase = SALE_PHASE_CLOSED;
	else if (st == SALE_SCHEDULED && now_ms < cp->starts_at_ms)
		v->phase = SALE_PHASE_SCHEDULED;
	else
		v->phase = v->left == 0 && !stock_upstream(cp->pool) ? SALE_PHASE_SOLD_OUT :
			   SALE_PHASE_OPEN;
	return true;
}

int sale_campaign_set_upstream_left(struct sale *s, uint32_t id, uint64_t left)
{
	struct sale_campaign *cp = sale_campaign_find(s, id);

	if (cp == NULL)
		return -ENOENT;
	atomic_store_explicit(&cp->upstream_left, left, memory_order_relaxed);
	return 0;
}

unsigned sale_campaign_ids(struct sale *s, uint32_t *ids, unsigned cap)
{
	/* Acquire pairs with the release in sale_campaign_publish: slots below
	 * n are completely written. */
	uint32_t n = atomic_load_explicit(&s->n_campaigns, memory_order_acquire);
	unsigned i;

	for (i = 0; i < n && i < cap; i++)
		ids[i] = s->camp[i].id;
	return i;
}
