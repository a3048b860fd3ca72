/*
 * ctl_redis.h - the control plane's side of Redis: one sale shared by many hosts.
 *
 * Several front-end hosts sell the same campaign. Redis holds the campaign's
 * stock; each host takes it in chunks, exactly as each core takes stock from
 * its host (stock_chunk.h, the same shrinking rule, ported to Lua), sells
 * from what it holds, and confirms every sale in Redis, where one claim per
 * buyer makes "one purchase per buyer" hold across hosts. When Redis is
 * down a host keeps selling from the chunks it holds; its confirms wait and
 * are replayed when Redis returns (confirm is idempotent per order id).
 *
 * Key layout - a contract with operators and with the seed/demo scripts.
 * {id} is the decimal campaign id in braces, which are part of the name
 * (seckill:stock:{7}): the Redis Cluster hash tag, so a campaign's keys
 * share one slot and its scripts may touch them together. {buyer} is the
 * decimal buyer id, without braces:
 *
 *   seckill:campaign:{id}        hash: stock (units the campaign started
 *                                with), starts_at (Unix ms), state
 *                                ("scheduled" | "open" | "closed"),
 *                                pow_bits (the proof of work its orders
 *                                need, 0..32; absent: 0), buckets (its
 *                                claims' hash tags, 1..256; absent: 1)
 *   seckill:stock:{id}           integer: units not yet taken by any host
 *   seckill:sold:{id}            integer: units sold and confirmed
 *   seckill:hosts:{id}           hash: host name -> units the host holds
 *                                (taken, neither sold-and-confirmed nor
 *                                given back), so a crashed host's holdings
 *                                stay visible and can be given back
 *   seckill:buyer:{id}:{buyer}   string, SET NX: the order id that bought;
 *                                expires after the claim TTL (default 7 days)
 *   seckill:released:{id}        set: hosts whose holding an operator gave
 *                                back (seckillctl campaign release-host):
 *                                they take nothing more, and a confirm of
 *                                theirs takes its unit from the stock (or
 *                                is refused when it is empty); a host
 *                                leaves it when it restarts
 *   seckill:settled:{id}         hash: host name -> claims of a sharded
 *                                campaign moved from its holding to sold
 *   seckill:campaigns            set: the ids of every campaign, so that a
 *                                starting host loads them all (a sale made
 *                                before it existed is found by SCAN once)
 *   seckill:campaigns:version    integer, INCRed by every create, open,
 *                                close and pow: the hosts poll it and reload the
 *                                campaigns when it moves
 *
 * Sharded claims. A hot campaign's confirms are a SET NX per order on the
 * Redis that holds its claims; a campaign created with B > 1 buckets
 * (ctl_redis_campaign_create_sharded) spreads them over B hash tags, so
 * over a Redis Cluster's primaries. Buyer b's bucket is k = b % B:
 *
 *   seckill:claims:{id:k}        hash: buyer -> the order id that bought
 *                                (the claims; a call's won ones one HSET), expiring
 *                                after the claim TTL from its last claim
 *   seckill:claimed:{id:k}       hash: host name -> claims it won in the
 *                                bucket (only grows)
 *   seckill:released:{id:k}      set: the bucket's copy of released:{id}
 *
 * A batch's confirms are one claim_batch call per bucket, on the bucket's
 * node, then one settle per campaign on the campaign's: the host's claims
 * won, counted over its buckets, less those already settled, move from its
 * holding to sold. Stock and holdings stay on {id} and move in chunks.
 * Between a claim and its settle (a round trip; longer if the host dies
 * there) sold:{id} lags and the host's holding counts the unit: the
 * invariant below holds throughout, and the host's restart (status, or
 * its next confirm) or release_host settles what it left. A released host
 * claims nothing in a sharded campaign (released, reject the order),
 * where an unsharded one draws on the stock. ctl_redis_keys.h names the
 * keys for the other programs that read claims.
 *
 * The invariant the scripts keep, whatever the interleaving of hosts:
 *
 *   stock + sold + sum(hosts) == campaign.stock,  every term >= 0
 *
 * ctl_redis_status reads all four terms in one atomic snapshot to check it.
 *
 * Deployment: one Redis primary, or a Redis Cluster (the handle finds out
 * from its seed and routes each call to the primary of its campaign's
 * slot, following MOVED and ASK: ctl_redis_route.h). Every script touches
 * the keys of one campaign only, all tagged {id}; seckill:campaigns and
 * its version are written apart, after the campaign. Persistence must
 * not lose an acknowledged write, or a restart would hand out stock twice
 * and forget buyer claims: run with "appendonly yes" and "appendfsync
 * always". Chunking and batching keep the write rate low (a take per
 * chunk, a confirm_batch script per batch of sales), and Redis groups the
 * fsyncs of one event-loop turn. With "everysec" a Redis crash can lose up
 * to a second of takes and confirms: oversell and duplicate buyers become
 * possible.
 *
 * A handle is one connection per node, used by one thread. Every call
 * that talks to Redis returns CTL_REDIS_DOWN when the connection is dead;
 * the handle then reconnects lazily, at most once per back-off interval
 * (50 ms doubling to 2 s), so a loop that keeps calling does not stall on a
 * dead server.
 * A call that returns CTL_REDIS_DOWN may or may not have run in Redis if the
 * connection died while its reply was in flight; hosts:{id} then shows the
 * truth, and ctl_redis_status + ctl_redis_give_back reconcile it.
 */
#ifndef SECKILL_CTL_REDIS_H
#define SECKILL_CTL_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_redis_keys.h"
#include "sale.h"

/* INCRed by every change to a campaign or its product; hosts poll it. */
#define CTL_REDIS_VERSION_KEY "seckill:campaigns:version"

/* Results of every call. Negative: nothing was decided. */
enum ctl_redis_rc {
	CTL_REDIS_OK = 0,
	CTL_REDIS_DUPLICATE = 1,    /* confirm: the buyer already bought with another order */
	CTL_REDIS_RELEASED = 2,     /* this host was released (release_host): take took
	                             * nothing; confirm found no stock: reject the order */
	CTL_REDIS_DOWN = -1,        /* no connection: sell from held chunks, call again later */
	CTL_REDIS_ERR = -2,         /* Redis answered with an error, or data is malformed */
	CTL_REDIS_NOT_FOUND = -3,   /* the campaign is not in Redis */
	CTL_REDIS_EXISTS = -4,      /* campaign_create: the campaign is there already */
	CTL_REDIS_INVAL = -5,       /* a bad argument (empty order id, stock too big ...) */
};

/* Room for any error text this module writes. */
#define CTL_REDIS_ERR_CAP 512
/* Host names in seckill:hosts:{id}; longer names are refused. */
#define CTL_REDIS_HOST_MAX 64
/* Order ids (ord_id_format's text is 35 characters). */
#define CTL_REDIS_ORDER_MAX 64
/* A buyer claim must outlive the sale and its disputes: a week. */
#define CTL_REDIS_CLAIM_TTL_DEFAULT_S (7 * 24 * 3600)
/* Lua numbers are doubles: counts above 2^53 would not be exact. */
#define CTL_REDIS_STOCK_MAX ((uint64_t)1 << 53)

struct ctl_redis;

/* What preheat reads: the campaign hash and its counters. */
struct ctl_redis_campaign {
	uint32_t id;
	uint64_t stock;             /* campaign.stock: units the campaign started with */
	uint64_t starts_at_ms;      /* Unix ms */
	enum sale_state state;
	unsigned pow_bits;          /* campaign.pow_bits (0 when absent) */
	uint64_t remaining;         /* seckill:stock:{id} */
	uint64_t sold;              /* seckill:sold:{id} (0 when absent) */
};

/* One atomic snapshot of a campaign's counters (ctl_redis_status). */
struct ctl_redis_status {
	int64_t total;              /* campaign.stock */
	int64_t stock;              /* seckill:stock:{id} */
	int64_t sold;               /* seckill:sold:{id} */
	int64_t held;               /* sum of seckill:hosts:{id} */
	int64_t held_self;          /* this handle's host entry */
	uint32_t n_hosts;           /* entries in seckill:hosts:{id} */
	bool released;              /* this handle's host is in seckill:released:{id} */
};

/* One campaign as ctl_redis_campaigns lists it. */
struct ctl_redis_campaign_def {
	uint32_t id;
	uint64_t stock;
	uint64_t starts_at_ms;
	enum sale_state state;
	unsigned pow_bits;
};

/*
 * Connects to host:port (timeout_ms for the connect and for each command)
 * and loads the scripts. Returns NULL with the reason in err on failure.
 * The handle's host name defaults to gethostname(); see ctl_redis_set_host.
 */
struct ctl_redis *ctl_redis_connect(const char *host, int port, unsigned timeout_ms,
				    char *err, size_t cap);
/* The same from seeds "IP:PORT[,IP:PORT...]": one Redis, or nodes of a
 * Redis Cluster (the first that answers; it tells the rest). */
struct ctl_redis *ctl_redis_connect_seeds(const char *seeds, unsigned timeout_ms, char *err,
					  size_t cap);
void ctl_redis_close(struct ctl_redis *r);

/* The name this host is known by in seckill:hosts:{id}. -1 if too long or empty. */
int ctl_redis_set_host(struct ctl_redis *r, const char *name);
const char *ctl_redis_host(const struct ctl_redis *r);
/* Expiry of buyer claims, seconds (> 0). */
void ctl_redis_set_claim_ttl(struct ctl_redis *r, uint32_t seconds);
/* The last error's text ("" when none): what failed and what to do. */
const char *ctl_redis_error(const struct ctl_redis *r);
/* True while the connection is up (no network traffic). */
bool ctl_redis_connected(const struct ctl_redis *r);
/* True when the seed is a Redis Cluster node: commands go to the primary
 * of their key's slot (ctl_redis_route.h). */
bool ctl_redis_cluster(const struct ctl_redis *r);
/* Cluster redirections followed so far (MOVED, ASK, TRYAGAIN, NOSCRIPT). */
unsigned long ctl_redis_redirects(const struct ctl_redis *r);
/* Name of a result code: "ok", "duplicate", "down" ... */
const char *ctl_redis_rc_str(int rc);

/*
 * take: moves a chunk from seckill:stock:{id} to this host's holding, sized
 * by stock_chunk_size(stock, n_takers, max_chunk), atomically. *got = 0
 * when the stock is empty; the counter never goes below zero.
 * CTL_REDIS_RELEASED: an operator released this host; it takes nothing.
 */
int ctl_redis_take(struct ctl_redis *r, uint32_t id, unsigned n_takers, uint64_t max_chunk,
		   uint64_t *got);
/* The same, and *left (may be NULL) = the stock left after the take. */
int ctl_redis_take_left(struct ctl_redis *r, uint32_t id, unsigned n_takers,
			uint64_t max_chunk, uint64_t *got, uint64_t *left);

/*
 * give_back: returns n unsold units from this host's holding to the stock;
 * never more than the host holds. *given (may be NULL) = units moved.
 */
int ctl_redis_give_back(struct ctl_redis *r, uint32_t id, uint64_t n, uint64_t *given);

/*
 * confirm: one unit this host holds was sold to buyer as order_id. Claims
 * the buyer (SET NX), counts the sale in sold:{id} and takes the unit off
 * this host's holding, all at once. CTL_REDIS_DUPLICATE: the buyer bought
 * with another order (on any host) - reject the order and put the unit back
 * into the local stock (Redis still counts it as held by this host).
 * A replay of an order already confirmed returns CTL_REDIS_OK again with
 * *replayed = true (may be NULL) and counts nothing twice. CTL_REDIS_ERR if
 * this host holds no unit (nothing is claimed then). A released host's
 * confirm takes its unit from the stock (CTL_REDIS_OK), or, when the
 * stock is empty, claims nothing: CTL_REDIS_RELEASED, reject the order.
 * A sharded campaign's confirm (above) is counted sold by the settle that
 * follows its claim; the holding is checked there, not per order (a host
 * sells only what it holds), and a released host's is refused.
 */
int ctl_redis_confirm(struct ctl_redis *r, uint32_t id, uint64_t buyer, const char *order_id,
		      bool *replayed);

/* One order for ctl_redis_confirm_many, and its outcome. */
struct ctl_redis_confirm_req {
	uint32_t campaign;
	uint64_t buyer;
	const char *order_id;
};
struct ctl_redis_confirm_res {
	int rc;             /* as ctl_redis_confirm: OK, DUPLICATE, DOWN, ERR, INVAL */
	bool replayed;
};

/*
 * n confirms in one round trip, each with the result ctl_redis_confirm
 * would give had they been confirmed one after the other, in res[i].
 * Returns CTL_REDIS_OK when every reply was read, or CTL_REDIS_DOWN (the
 * results say which confirms are still to be asked again).
 *
 * Batched (the default): one script call (confirm_batch) per campaign of
 * the batch, up to 256 orders each, so Redis pays a script call per batch
 * and a SET NX per order. One by one: an EVALSHA of the confirm script per
 * order, pipelined - ~4x Redis's CPU per order (tools/sim-hosts measures
 * both); kept to compare, and as the reference the tests hold batched to.
 */
int ctl_redis_confirm_many(struct ctl_redis *r, size_t n, const struct ctl_redis_confirm_req *q,
			   struct ctl_redis_confirm_res *res);

enum ctl_redis_confirm_mode {
	CTL_REDIS_CONFIRM_BATCHED = 0,   /* one confirm_batch call per campaign and batch */
	CTL_REDIS_CONFIRM_EACH,          /* one confirm EVALSHA per order, pipelined */
};
/* How ctl_redis_confirm_many asks Redis (default batched). */
void ctl_redis_set_confirm_mode(struct ctl_redis *r, enum ctl_redis_confirm_mode m);

/* Reads the campaign for a host that starts: hash + stock + sold. */
int ctl_redis_preheat(struct ctl_redis *r, uint32_t id, struct ctl_redis_campaign *c);

/*
 * Creates the campaign (state "scheduled", sold 0, no holdings). Refuses
 * with CTL_REDIS_EXISTS if it exists, unless force: then it is reset and
 * its buyer claims deleted (for demos and tests, never during a sale).
 */
int ctl_redis_campaign_create(struct ctl_redis *r, uint32_t id, uint64_t stock,
			      uint64_t starts_at_ms, bool force);

/*
 * The same, with `buckets` (1..CTL_REDIS_BUCKETS_MAX) hash tags for its
 * buyer claims (see "Sharded claims" above); 1 is ctl_redis_campaign_create.
 * Fixed for the campaign's life: force-create it again to change it.
 */
int ctl_redis_campaign_create_sharded(struct ctl_redis *r, uint32_t id, uint64_t stock,
				      uint64_t starts_at_ms, bool force, unsigned buckets);

/* Sets campaign.state (CTL_REDIS_NOT_FOUND if the campaign is missing) and
 * bumps the campaigns' version. */
int ctl_redis_set_state(struct ctl_redis *r, uint32_t id, enum sale_state st);

/* Sets campaign.pow_bits (0..POW_MAX_BITS) the same way. */
int ctl_redis_set_pow(struct ctl_redis *r, uint32_t id, unsigned bits);

/*
 * release_host: for a host that died and will not come back. Gives what
 * `host` holds in campaign id back to the stock (*given, may be NULL) and
 * marks it released: see seckill:released:{id} above. Any handle may call
 * it, for any host name (one that holds nothing is marked all the same).
 */
int ctl_redis_release_host(struct ctl_redis *r, uint32_t id, const char *host,
			   uint64_t *given);

/* This handle's host takes part again (it restarted, and its journal's
 * orders are confirmed): it leaves seckill:released:{id}. *was (may be
 * NULL): it had been released. */
int ctl_redis_rejoin(struct ctl_redis *r, uint32_t id, bool *was);

/* seckill:campaigns:version (0 while absent). One GET. */
int ctl_redis_campaigns_version(struct ctl_redis *r, uint64_t *version);

/*
 * Every campaign of seckill:campaigns, at most cap of them in out (*n),
 * and the version they are as of, read in one step. When the set does not
 * exist (a sale made before it), it is first made from a SCAN of
 * seckill:campaign:* (ids that are not canonical u32 decimals are skipped).
 */
int ctl_redis_campaigns(struct ctl_redis *r, struct ctl_redis_campaign_def *out, size_t cap,
			size_t *n, uint64_t *version);

/* The counters of one campaign, read atomically (see the invariant above). */
int ctl_redis_status(struct ctl_redis *r, uint32_t id, struct ctl_redis_status *st);

#endif
