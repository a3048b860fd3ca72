/*
 * sale.h - the sale engine: one buy decision per request, on the core that got it.
 *
 * struct sale is the shared state, created once before the worker cores
 * start: the campaigns and their sharded stock (stock_pool.h), the token key
 * (token.h), the per-IP and per-buyer rate limits (lim_bucket.h), the
 * purchase set (lim_purchase.h), a blacklist of IPs and buyers, and one
 * struct sale_core per worker: its order-id generator, order ring (to the
 * control plane, ord_ring.h), order book (for GET /api/orders/{id},
 * ord_book.h) and counters. A worker only ever calls sale_buy and the read
 * functions with its own sale_core; the control plane (another thread)
 * drains the rings and calls the control functions at the end of this file.
 *
 * Order ids carry the worker index (0..n_cores-1) in their core field, not
 * the DPDK lcore id: GET /api/orders/{id} finds the book by it.
 *
 * sale_buy answers with an enum sale_result, one per HTTP status + error
 * code (sale_result_status, sale_result_code), so every answer is counted
 * under its own name. The order of its checks is documented in sale.c.
 */
#ifndef SECKILL_SALE_H
#define SECKILL_SALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lim_bucket.h"
#include "lim_purchase.h"
#include "ord_book.h"
#include "ord_record.h"
#include "ord_ring.h"
#include "pow.h"
#include "stats.h"
#include "stock_pool.h"
#include "token.h"

/* Campaigns are few (one per flash sale running on this host); a linear scan
 * of a small array is the fastest lookup and needs no hashing. */
#define SALE_MAX_CAMPAIGNS 64
#define SALE_MAX_CORES STOCK_MAX_CORES
/* Retry-After for a 503 the core gives when it is momentarily unable to
 * take the order safely (ring or book full, stock in motion, set full). */
#define SALE_RETRY_AFTER_S 1
/* Room for an error message from sale_create. */
#define SALE_ERR_CAP 256

/* The two rate limit rules (sale_set_limit). */
enum sale_rule { SALE_RULE_IP = 0, SALE_RULE_BUYER, SALE_RULE_N };

/* Every answer of sale_buy. Each maps to one status and one error code. */
enum sale_result {
	SALE_OK = 0,            /* 200, order pending */
	SALE_NO_CAMPAIGN,       /* 404 unknown_campaign */
	SALE_NOT_OPEN,          /* 425 not_open (Retry-After: seconds to the start) */
	SALE_CLOSED,            /* 410 closed */
	SALE_TOKEN_MISSING,     /* 401 token_missing */
	SALE_TOKEN_MALFORMED,   /* 401 token_malformed */
	SALE_TOKEN_FORGED,      /* 401 token_forged (bad MAC) */
	SALE_TOKEN_EXPIRED,     /* 401 token_expired */
	SALE_BAD_BUYER,         /* 400 bad_buyer (buyer id UINT64_MAX: cannot be keyed) */
	SALE_SOLD_OUT,          /* 410 sold_out */
	SALE_BLACKLIST_IP,      /* 403 blacklisted_ip */
	SALE_BLACKLIST_BUYER,   /* 403 blacklisted_buyer */
	SALE_LIMIT_IP,          /* 429 rate_limited_ip (Retry-After) */
	SALE_LIMIT_BUYER,       /* 429 rate_limited_buyer (Retry-After) */
	SALE_BOOK_FULL,         /* 503 order_book_full */
	SALE_RING_FULL,         /* 503 order_queue_full */
	SALE_ALREADY,           /* 409 already_bought */
	SALE_PURCHASE_FULL,     /* 503 buyer_table_full */
	SALE_STOCK_RETRY,       /* 503 stock_busy */
	/* Added later: at the end, so the indices above (counters, metrics) stay. */
	SALE_POW_REQUIRED,      /* 428 pow_required: the campaign asks a proof of work */
	SALE_POW_INVALID,       /* 403 pow_invalid: wrong, expired, another buyer's (pow.h) */
	SALE_RESULT_N
};

/* The HTTP status of a result (500 for a value out of range). */
uint16_t sale_result_status(enum sale_result r);
/* The stable error code, "ok" for SALE_OK ("internal" out of range). */
const char *sale_result_code(enum sale_result r);

/* The campaign's state word, set by sale_campaign_add and the control plane. */
enum sale_state {
	SALE_SCHEDULED = 0,     /* open from starts_at on */
	SALE_OPEN,              /* open now, whatever starts_at says */
	SALE_CLOSED_STATE,      /* closed: 410 closed */
};

/* What GET /api/campaigns/{id} shows; sold_out is derived from the stock. */
enum sale_phase { SALE_PHASE_SCHEDULED, SALE_PHASE_OPEN, SALE_PHASE_SOLD_OUT, SALE_PHASE_CLOSED };
const char *sale_phase_str(enum sale_phase p);   /* "scheduled" ... */

struct sale_conf {
	unsigned n_cores;           /* worker cores, 1..SALE_MAX_CORES */
	uint32_t epoch;             /* this run's epoch (ord_epoch_claim) */
	uint16_t node;              /* this host's node id */
	struct token_key key;       /* current token key (must not be all zero) */
	struct token_key key_prev;  /* previous key during a rotation; all zero: none */
	struct lim_rule ip_rule;    /* per-IP limit at start (lim_rule_set); rate 0: off */
	struct lim_rule buyer_rule; /* per-buyer limit at start; rate 0: off */
	uint32_t ip_capacity;       /* keys in the per-IP table */
	uint32_t buyer_capacity;    /* keys in the per-buyer table */
	uint32_t purchase_capacity; /* (campaign, buyer) claims, all campaigns */
	uint32_t blacklist_capacity;/* entries in each blacklist (IPs, buyers) */
	uint32_t ring_size;         /* order ring slots per core, a power of two */
	uint64_t max_stock;         /* total stock of all campaigns, the books' size */
	uint64_t return_headroom;   /* book entries per core beyond max_stock, for resales */
	uint64_t stock_chunk;       /* most units a core takes from a pool at once */
};

/* Defaults: 1 core, limits off, 64 Ki IPs, 256 Ki buyers and claims, 4 Ki
 * blacklist entries, 4 Ki ring, 256 Ki stock + 16 Ki headroom (a book of
 * 8.5 MB per core, populated at create), chunks of 64. The key is left zero:
 * the caller must set it (sale_create refuses a zero key). */
void sale_conf_default(struct sale_conf *conf);

/* Per-core counters: one per result, plus the reasons behind some of them. */
#define SALE_STATS(X) \
	X(sold_out_fast)        /* 410 from the core's sold-out flag, no shared write */ \
	X(sold_out_after_claim) /* 410 from stock_take, the claim released */ \
	X(key_prev_ok)          /* tokens accepted under the previous key */ \
	X(refused_paused)       /* 503 order_queue_full while sale_set_paused */ \
	X(gets_campaign) X(gets_order) X(gets_order_unknown)
struct sale_stats { SALE_STATS(STATS_FIELD) };
extern const char *const sale_stats_names[];
#define SALE_STATS_N (0 SALE_STATS(STATS_COUNT))
/* Names of the per-result counters: the error codes, "ok" first. */
extern const char *const sale_result_names[];

struct sale;

/* Slots a burst's buys may name before sale_prefetch_issue: 64 buys, two
 * slots each (the purchase set's, the buyer rate limit's); past that, a
 * buy's slots are loaded at once, as before batching. */
#define SALE_PREFETCH_MAX 128

/* One worker's part of the sale; owned and written by that worker only. */
struct sale_core {
	struct sale *s;
	unsigned index;                      /* worker index, and the order id's core field */
	struct ord_idgen gen;
	struct ord_ring *ring;
	struct ord_book *book;
	uint64_t results[SALE_RESULT_N];     /* by enum sale_result (sale_result_names) */
	/* The same by campaign: row i is the campaign in slot i (slots are
	 * never reused); requests for no campaign count in results alone. */
	uint64_t (*camp_results)[SALE_RESULT_N];
	struct sale_stats stats;
	struct token_stats token;
	struct pow_stats pow;
	struct lim_stats lim_ip;
	struct lim_stats lim_buyer;
	struct lim_purchase_stats purchase;
	/* sale_prefetch_buy's slots, loaded together by sale_prefetch_issue. */
	unsigned prefetch_n;
	const void *prefetch[SALE_PREFETCH_MAX];
} __attribute__((aligned(STOCK_CACHE_LINE)));

/* What sale_buy says besides its result. */
struct sale_out {
	struct ord_id id;           /* SALE_OK: the order */
	uint64_t buyer;             /* the token's buyer, once verified (else 0) */
	uint32_t retry_after_s;     /* 429, 425 and 503: seconds for Retry-After; else 0 */
};

/* The shared state. NULL with a sentence in err (SALE_ERR_CAP) on bad
 * configuration or no memory. */
struct sale *sale_create(const struct sale_conf *conf, char *err, size_t cap);
void sale_destroy(struct sale *s);

/* Worker i's part (i < n_cores), or NULL. */
struct sale_core *sale_core(struct sale *s, unsigned i);
unsigned sale_n_cores(const struct sale *s);

/*
 * Adds campaign id with `stock` units, open from starts_at_ms (Unix ms).
 * From one thread (start-up or the control plane); workers see it complete
 * or not at all. Returns 0, -EEXIST (id taken), -ENOSPC (SALE_MAX_CAMPAIGNS
 * reached, or the total stock would pass conf.max_stock), -EINVAL (stock 0)
 * or -ENOMEM.
 */
int sale_campaign_add(struct sale *s, uint32_t id, uint64_t stock, uint64_t starts_at_ms);

/*
 * The same for a campaign whose stock lives upstream (Redis: several hosts
 * sell it): `stock` is the campaign's total, which sizes the books, but the
 * pool starts empty and upstream-fed (stock_pool.h): the control plane
 * grants units with stock_grant(sale_campaign_pool(s, id), n) as it takes
 * them, and stock_set_upstream(..., false) once upstream is empty. Until
 * then a core with nothing to sell answers 503 stock_busy, not 410.
 */
int sale_campaign_add_upstream(struct sale *s, uint32_t id, uint64_t stock,
			       uint64_t starts_at_ms);

/* Control plane: what upstream still holds for no host, as last heard, so
 * that GET /api/campaigns/{id} counts it in `left`. 0 or -ENOENT. */
int sale_campaign_set_upstream_left(struct sale *s, uint32_t id, uint64_t left);

/* Control plane: sets the state word. Returns 0, or -ENOENT. */
int sale_campaign_set_state(struct sale *s, uint32_t id, enum sale_state st);

struct sale_campaign_view {
	uint32_t id;
	enum sale_phase phase;
	uint64_t starts_at_ms;
	uint64_t stock;             /* initial units */
	uint64_t left;              /* units not yet sold (a snapshot; for an upstream
	                             * campaign, what this host holds plus what upstream
	                             * has not handed out, as last heard) */
	unsigned pow_bits;          /* the proof of work asked of an order; 0: none */
};

/* GET /api/campaigns/{id}: false when there is no such campaign. */
bool sale_campaign_get(struct sale_core *c, uint32_t id, uint64_t now_ms,
		       struct sale_campaign_view *v);

/* Control plane (any thread): what sale_campaign_get shows, without counting
 * on a worker's counters. False when there is no such campaign. */
bool sale_campaign_info(struct sale *s, uint32_t id, uint64_t now_ms,
			struct sale_campaign_view *v);

/* Control plane (any thread): the published campaigns' ids in the order they
 * were added, at most cap of them; returns how many were written. */
unsigned sale_campaign_ids(struct sale *s, uint32_t *ids, unsigned cap);

/*
 * The buy decision for the request of `token` (token_len bytes, NULL or 0
 * when the request has none) from `peer_ip` (network order) for campaign
 * `campaign_id` at Unix time now_ms. Only from the worker that owns c.
 * sale_buy is sale_buy_pow without a proof of work.
 */
enum sale_result sale_buy(struct sale_core *c, uint32_t campaign_id, const char *token,
			  size_t token_len, uint32_t peer_ip, uint64_t now_ms,
			  struct sale_out *out);

/* The same with the request's X-Seckill-PoW value (pow.h; NULL or 0 when it
 * has none), checked when the campaign asks for a proof of work. */
enum sale_result sale_buy_pow(struct sale_core *c, uint32_t campaign_id, const char *token,
			      size_t token_len, const char *pow, size_t pow_len,
			      uint32_t peer_ip, uint64_t now_ms, struct sale_out *out);

/*
 * A hint, before the request is served: buyer is about to buy in campaign
 * campaign_id on this core, so start loading the purchase-set slot (and the
 * buyer's rate-limit slot) sale_buy will claim. Nothing is checked or
 * counted: the buyer id is unverified (the token is checked by sale_buy).
 * Skipped for an unknown campaign or one this core saw sold out, so the
 * sold-out path pays for no cache line it does not use.
 */
void sale_prefetch_buy(struct sale_core *c, uint32_t campaign_id, uint64_t buyer);
/*
 * Starts loading the slots sale_prefetch_buy named since the last call, all
 * at once. Each slot is a TLB miss as well as a cache miss in a table of
 * millions; prefetches issued back to back overlap their page walks, where
 * one issued between two requests' parsing and hashing waits out its walk
 * alone (on this project's VM that wait was 30 % of a worker's cycles).
 */
void sale_prefetch_issue(struct sale_core *c);

/* What GET /api/campaigns/{id}/challenge answers (pow.h). */
struct sale_challenge {
	char text[POW_CHALLENGE_CAP];
	unsigned bits;              /* the campaign's now; 0: no proof needed */
	uint64_t expires_ms;        /* Unix ms */
};

/*
 * A challenge for the buyer of `token` in campaign_id at now_ms: SALE_OK,
 * SALE_NO_CAMPAIGN or a token result (counted in c->token and c->pow, not
 * in c->results: it is not a buy). Only from the worker that owns c.
 */
enum sale_result sale_challenge(struct sale_core *c, uint32_t campaign_id, const char *token,
				size_t token_len, uint64_t now_ms, struct sale_challenge *ch);

/* Control plane, any thread: the proof of work a campaign's orders need,
 * 0 (none) .. POW_MAX_BITS, live. 0, -ENOENT or -EINVAL. */
int sale_campaign_set_pow(struct sale *s, uint32_t id, unsigned bits);

/* GET /api/orders/{id}, from any thread: false for an unknown id (another
 * epoch or node, a core or sequence that never sold). */
bool sale_order_get(struct sale *s, struct ord_id id, struct ord_book_view *v);

/* Outcomes of the control plane's order decisions. */
enum sale_decision {
	SALE_DECIDED = 0,       /* this call moved the order */
	SALE_DECIDED_BEFORE,    /* already in the asked state: nothing done (idempotent) */
	SALE_DECIDE_CONFLICT,   /* in the other final state: nothing done */
	SALE_DECIDE_UNKNOWN,    /* no such order */
};

/* Control plane: the order is confirmed (paid, stored). */
enum sale_decision sale_order_confirm(struct sale *s, struct ord_id id);

/*
 * Control plane: the order is rejected for `reason`. Marks it rejected,
 * releases the buyer's purchase claim (the buyer may buy again) and returns
 * the unit to the campaign's stock. Only the call that moves the order from
 * pending does the undo, so repeating it is harmless.
 */
enum sale_decision sale_order_reject(struct sale *s, struct ord_id id, enum ord_reason reason);

/*
 * Control plane (any thread): the order service's last word on an order of
 * this run (seckill-orders, through Redis: control/ctl_sale_events.c). The
 * order moves from confirmed (or pending, when its delivery report is late)
 * to paid, or to expired, once; GET /api/orders/{id} then says so. A repeat
 * is SALE_DECIDED_BEFORE and does nothing; a rejected order, or one in the
 * other final state, is SALE_DECIDE_CONFLICT and does nothing.
 *
 * Expired releases the buyer's purchase claim (the order's own ticket, so a
 * newer claim is never touched), before the status says expired: a buyer
 * who reads "expired" and buys again is not told 409. The unit is NOT
 * returned to this host's pool: the order service gave it back upstream
 * (Redis's seckill:stock:{id}), from where every host takes it as any other
 * unit (a pool whose upstream had run dry is re-opened by the grant:
 * stock_set_upstream(pool, true) then stock_grant, stock_pool.h).
 */
enum sale_decision sale_order_paid(struct sale *s, struct ord_id id);
enum sale_decision sale_order_expire(struct sale *s, struct ord_id id);

/*
 * Control plane (any thread): releases whatever claim buyer holds in
 * campaign on this host, for an expired order this run's books do not hold
 * (another host's, or an earlier run's whose claim the journal restored).
 * True when a held claim was released; false when none was held (so a
 * repeat does nothing). The caller must know that no live order holds the
 * claim (the control plane asks Redis, whose claim is the truth).
 */
bool sale_purchase_release(struct sale *s, uint32_t campaign, uint64_t buyer);

/*
 * Control plane: while paused, sale_buy sells nothing and answers 503
 * order_queue_full (Retry-After) at step 7, before any claim or take,
 * counted as refused_paused. For the thread that drains the rings when it
 * can no longer take orders (its journal nearly full or broken): it pauses
 * early enough that what the cores may still commit fits. Any thread.
 */
void sale_set_paused(struct sale *s, bool paused);
bool sale_paused(const struct sale *s);

/*
 * Durable answers: no buyer hears 200 before the order is durable. A sold
 * order's sequence is ord_id_seq(out.id), and a core's sequences only grow
 * (ord_idgen). The control plane, once the journal's fsync (or Kafka's
 * delivery, with --answer-after kafka) covers core i's orders up to seq,
 * calls sale_set_durable(s, i, seq); the core sends a held 200 once
 * sale_durable_seq(c) reaches its order's sequence. A smaller seq than the
 * one published is ignored, so the position never goes back.
 */
void sale_set_durable(struct sale *s, unsigned core, uint64_t seq);
uint64_t sale_durable_seq(const struct sale_core *c);

/* Control plane: worker i's order ring, to drain (ord_ring_dequeue_burst). */
struct ord_ring *sale_ring(struct sale *s, unsigned i);

/*
 * Control plane, any thread: the rate limit rules in force, changed while
 * the workers sell. A rule with rate 0 is off. The tables exist from start
 * (conf.ip_capacity, conf.buyer_capacity), so a rule can be switched on
 * later; a key's bucket carries over (its excess drains at the new rate).
 * 0, -EINVAL, or -ENOSPC when that table has capacity 0.
 */
int sale_set_limit(struct sale *s, enum sale_rule which, const struct lim_rule *rule);
struct lim_rule sale_get_limit(const struct sale *s, enum sale_rule which);

/* Control plane, one thread: the blacklists. add returns 0, or -ENOSPC when
 * the table is full, -EINVAL for buyer UINT64_MAX; del returns 0 or -ENOENT. */
int sale_blacklist_ip_add(struct sale *s, uint32_t ip);
int sale_blacklist_ip_del(struct sale *s, uint32_t ip);
bool sale_blacklist_ip_has(struct sale *s, uint32_t ip);
int sale_blacklist_buyer_add(struct sale *s, uint64_t buyer);
int sale_blacklist_buyer_del(struct sale *s, uint64_t buyer);
bool sale_blacklist_buyer_has(struct sale *s, uint64_t buyer);

/* Control-plane counters (atomic: any thread may decide orders). */
struct sale_ctl_stats {
	uint64_t confirmed, rejected, decide_repeat, decide_conflict, decide_unknown;
	uint64_t paid, expired;     /* orders of this run moved to paid / expired */
};
void sale_ctl_stats(const struct sale *s, struct sale_ctl_stats *out);

/*
 * Start-up, before the workers run: an order an earlier run sold (read back
 * from the journal) takes its unit out of the campaign's pool again and its
 * buyer back into the purchase set, so a restart never sells the same stock
 * or the same buyer twice. The caller counts the outcomes:
 */
enum sale_restore {
	SALE_RESTORE_OK = 0,
	SALE_RESTORE_NO_CAMPAIGN,  /* no such campaign in this run */
	SALE_RESTORE_DUPLICATE,    /* the buyer's purchase was already restored */
	SALE_RESTORE_FULL,         /* the purchase set is full */
	SALE_RESTORE_OVERSOLD,     /* more orders than this run's stock */
};
enum sale_restore sale_restore_order(struct sale *s, const struct ord_record *rec);

/* Whether buyer holds a claim in campaign (a pending or confirmed order). */
bool sale_purchase_held(struct sale *s, uint32_t campaign, uint64_t buyer);

/* The campaign's stock pool (for stats and tests), or NULL. */
struct stock_pool *sale_campaign_pool(struct sale *s, uint32_t id);
/* The campaign's answers by enum sale_result, summed over the cores (plain
 * loads of counters each core writes alone: a moment old, never torn).
 * false when no campaign has this id. Any thread. */
bool sale_campaign_results(struct sale *s, uint32_t id, uint64_t out[SALE_RESULT_N]);

#endif
