/*
 * ctl_sale_redis.c - the control thread's Redis side (--redis): one sale shared
 * by several front-end hosts.
 *
 * Redis holds each campaign's stock (control/ctl_redis.h has the keys and
 * the scripts) and the list of campaigns: a host that starts loads every
 * one of them (not only its --campaign options), and every
 * CTL_SALE_REDIS_SYNC_MS it reads the campaigns' version, which every
 * create, open and close moves, and loads what changed: a campaign made or
 * closed on one host reaches the others within that period. Why polling,
 * not pub/sub: one GET every 10 ms costs Redis nothing, needs no second
 * connection, and a host that was cut off misses nothing (a message
 * published while it was away would be lost; the version is still there).
 *
 * This host takes stock in chunks, exactly as a core takes chunks from its
 * host: the campaign is added with sale_campaign_add_upstream, so its local
 * pool starts empty and a core that finds nothing answers 503 stock_busy,
 * never 410, while Redis may still have units. Each control pass tops the
 * local pool up before the cores run dry: it keeps what they sell during
 * one refill's delay (the longest recent gap between passes plus a take's
 * round trip, at least CTL_SALE_REDIS_LAG_MIN_US) at the rate they sold in
 * the last ~100 ms, twice over, and at least CTL_SALE_REDIS_HOLD_MIN, but
 * never more than the chunk rule's share of the campaign
 * (ctl_sale_redis_target); each take is still bounded by the chunk rule,
 * so other hosts keep their share. The take that finds Redis empty clears
 * the pool's upstream flag, and from then on the cores sell out locally as
 * with a single host. Units another host gives back are seen by a take
 * tried every CTL_SALE_REDIS_EMPTY_RETRY_MS.
 *
 * One purchase per buyer across hosts: before an order goes to Kafka the
 * buyer is claimed in Redis with the confirm script (SET NX, sold + 1, this
 * host's holding - 1, in one step; a replay of the same order is
 * recognised). Each pass sends the journal's next durable orders in one
 * pipelined batch (ctl_sale_redis_confirm_ahead); ctl_kafka's before_produce, on
 * this same thread, lets an order go only once the batches have passed it. A buyer who
 * bought on another host makes the order `rejected` (reason duplicate): the
 * unit goes back into the local pool and the buyer's local claim is
 * released, the order never reaches Kafka, and a tombstone (the order's
 * record with qty 0) is journaled so that a restart knows. Redis down: the
 * cores sell on from what is held, orders wait as pending in the journal,
 * and the confirms are made when it returns.
 *
 * Restart: every journaled order above Kafka's ack watermark is confirmed
 * in Redis before the workers start (the journal's orders below it were
 * confirmed, or tombstoned, before they went to Kafka); after that what
 * Redis says this host holds is exactly what it had not sold, and it is
 * granted to the local pool again. At a clean stop, and as soon as a
 * campaign is closed (here, or on another host: the sync above), the
 * unsold units are given back to Redis, for the other hosts to sell.
 *
 * Released: an operator may give a dead host's holding back
 * (seckillctl campaign release-host). Should this host be that host, alive
 * after all, Redis refuses its takes and its confirms take their unit from
 * the stock, or say `released` when there is none: the order is rejected
 * (reason released) and tombstoned as a duplicate is. The host drops what
 * its pool holds and sells no more of that campaign until it restarts,
 * when it takes part again (ctl_sale_redis_restore_end).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_product.h"
#include "ctl_redis.h"
#include "ctl_plane.h"

/* A command slower than this is a Redis in trouble: the pass moves on. */
#define CTL_SALE_REDIS_TIMEOUT_MS 500
/*
 * The local stock kept ahead of the cores (ctl_sale_redis_target): a take
 * is made when the pool holds less than the target, for up to twice the
 * target (the chunk rule, stock_chunk_size ported to Lua, may give less).
 * HOLD_MIN is what the cores have before any sale was measured: a flash
 * sale opens with every buyer at once, tens of sales a millisecond on one
 * host, and the pass that measures them may come tens of ms later.
 * HOLD_MAX bounds what one host holds back from the others at any rate.
 */
#define CTL_SALE_REDIS_HOLD_MIN 1024
#define CTL_SALE_REDIS_HOLD_MAX 8192
/* The target covers a refill's delay this many times over. */
#define CTL_SALE_REDIS_MARGIN 2
/* The delay counted is never less than this: the control thread shares a
 * CPU (with a worker lcore on a small host, with fsyncs, Redis and Kafka
 * calls), and a pass held up 50..100 ms by the scheduler was measured on a
 * 2-CPU host (tools/flash-sale) before any earlier gap announced it. */
#define CTL_SALE_REDIS_LAG_MIN_US 50000
/* The sale rate is measured over at least this (a pass is ~1 ms: fewer
 * units than that are noise) and fades with this half-life: the rate of
 * the last ~100 ms; a rise counts at once, a fall after a while. */
#define CTL_SALE_REDIS_METER_US 2000
#define CTL_SALE_REDIS_RATE_FADE_US 100000
/* The refill's delay (gap between passes, a take's round trip) is the
 * longest seen lately, fading over about a second: a pass slowed by an
 * fsync or the scheduler is what the cores must outlast. */
#define CTL_SALE_REDIS_LAG_FADE_US 1000000
/* Takes one pass may make while the pool is low: as Redis drains the
 * chunk rule hands out ever smaller chunks, and one a pass (1 ms) would
 * leave the cores answering 503 while the last units trickle in. */
#define CTL_SALE_REDIS_TAKES_PER_PASS 16
/* How often the campaigns' version is read: create, open and close on any
 * host reach this one within it (plus a pass). */
#define CTL_SALE_REDIS_SYNC_MS 10
/* Confirms sent in one round trip, one confirm_batch script call per
 * campaign (ctl_redis_confirm_many: Redis pays a SET NX per order, not a
 * script call); a pass sends one batch, so a burst of orders never starves
 * the refills that come first in the pass. */
#define CTL_SALE_REDIS_BATCH 256
/* Redis said empty: look again this often (another host may give back). */
#define CTL_SALE_REDIS_EMPTY_RETRY_MS 100
/* How often the number of hosts sharing a campaign is read (the chunk rule's n). */
#define CTL_SALE_REDIS_STATUS_MS 1000

const char *const ctl_sale_redis_stats_names[] = { CTL_SALE_REDIS_STATS(STATS_NAME) };

struct ctl_sale_redis_camp {
	uint32_t id;
	struct ctl_redis_campaign pre;   /* what preheat read */
	struct stock_pool *pool;         /* after ctl_sale_redis_add */
	bool from_conf;                  /* a --campaign option, not only in Redis */
	enum sale_state state;           /* as Redis last said, or as set here */
	bool state_dirty;                /* set here, not yet recorded in Redis */
	unsigned pow_bits;               /* as Redis last said, or as set here */
	bool pow_dirty;                  /* set here, not yet recorded in Redis */
	bool released;                   /* an operator released this host's holding */
	uint64_t next_take_ms;
	uint64_t next_status_ms;
	unsigned n_hosts;
	bool empty;                      /* the last take found Redis empty */
	/* The refill's meter (ctl_sale_redis_target). */
	uint64_t meter_us, meter_sold;
	double rate;                     /* units sold a microsecond, the recent peak */
	double rtt_us;                   /* a take's round trip, the recent peak */
	uint64_t rtt_at_us;              /* when it was last measured */
};

struct ctl_sale_redis {
	struct ctl_redis *r;
	unsigned n;
	struct ctl_sale_redis_camp camp[SALE_MAX_CAMPAIGNS];
	/* Order ids rejected as duplicates (tombstoned): never confirmed again.
	 * Sorted; duplicates are rare, so a small array serves. */
	struct ord_id *dead;
	size_t n_dead, cap_dead;
	/* Every journal seq <= ahead is decided in Redis: confirmed, rejected
	 * (dead), or not a Redis order. Only what it passes goes to Kafka. */
	uint64_t ahead;
	unsigned nb;                     /* the batch being gathered */
	uint64_t last_seen;
	uint64_t batch_seq[CTL_SALE_REDIS_BATCH];
	struct ord_record batch[CTL_SALE_REDIS_BATCH];
	bool down;                       /* logged as down until a command succeeds */
	uint64_t version;                /* seckill:campaigns:version as last loaded */
	uint64_t next_sync_ms;
	uint64_t last_poll_us;
	double gap_us;                   /* between two passes, the recent peak */
};

static struct ctl_sale_redis_camp *ctl_sale_redis_camp(struct ctl_sale_redis *d, uint32_t id)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->camp[i].id == id)
			return &d->camp[i];
	return NULL;
}

/* Logs the moments Redis goes away and comes back, not every failed call. */
static void ctl_sale_redis_health(struct ctl_plane *c, int rc)
{
	struct ctl_sale_redis *d = c->redis;

	if (rc == CTL_REDIS_DOWN && !d->down) {
		d->down = true;
		c->redis_st.down++;
		fprintf(stderr, "seckill-dp: redis: %s; selling on from the stock held here, "
			"orders stay pending until it returns\n", ctl_redis_error(d->r));
	} else if (rc != CTL_REDIS_DOWN && d->down) {
		d->down = false;
		printf("seckill-dp: redis: reachable again\n");
	}
}

/* ---- the dead set --------------------------------------------------------- */

static int ctl_id_cmp(const void *a, const void *b)
{
	const struct ord_id *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool ctl_sale_redis_is_dead(const struct ctl_sale_redis *d, struct ord_id id)
{
	return d->n_dead && bsearch(&id, d->dead, d->n_dead, sizeof(id), ctl_id_cmp) != NULL;
}

static int ctl_sale_redis_add_dead(struct ctl_sale_redis *d, struct ord_id id)
{
	size_t i = d->n_dead;

	if (ctl_sale_redis_is_dead(d, id))
		return 0;
	if (d->n_dead == d->cap_dead) {
		size_t cap = d->cap_dead ? 2 * d->cap_dead : 64;
		struct ord_id *p = realloc(d->dead, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		d->dead = p;
		d->cap_dead = cap;
	}
	while (i > 0 && ctl_id_cmp(&d->dead[i - 1], &id) > 0) {
		d->dead[i] = d->dead[i - 1];
		i--;
	}
	d->dead[i] = id;
	d->n_dead++;
	return 0;
}

/* ---- set-up: before the EAL, then with the sale ------------------------- */

static void ctl_sale_redis_host_name(const struct dp_sale_conf *sc, char *out, size_t cap)
{
	char h[CTL_REDIS_HOST_MAX] = "host";

	if (sc->redis_host[0] != '\0') {
		snprintf(out, cap, "%s", sc->redis_host);
		return;
	}
	if (gethostname(h, sizeof(h)) != 0)
		snprintf(h, sizeof(h), "host");
	h[sizeof(h) - 1] = '\0';
	snprintf(out, cap, "%.40s-%u", h, (unsigned)sc->node_id);
}

/* Reads campaign id from Redis into rc; `how` says where it came from. */
static int ctl_sale_redis_read(struct ctl_sale_redis *d, uint32_t id,
			       struct ctl_sale_redis_camp *rc, const char *how, char *err,
			       size_t errlen)
{
	memset(rc, 0, sizeof(*rc));
	if (ctl_redis_preheat(d->r, id, &rc->pre) != CTL_REDIS_OK) {
		snprintf(err, errlen, "campaign %u: cannot read it from Redis: %s", id,
			 ctl_redis_error(d->r));
		return -1;
	}
	if (rc->pre.stock == 0 || rc->pre.stock > DP_STOCK_MAX) {
		snprintf(err, errlen, "campaign %u: Redis says its stock is %" PRIu64 " (want 1..%"
			 PRIu64 "): fix seckill:campaign:{%u}", id, rc->pre.stock, DP_STOCK_MAX, id);
		return -1;
	}
	rc->id = id;
	rc->n_hosts = 1;
	rc->state = rc->pre.state;
	rc->pow_bits = rc->pre.pow_bits;
	printf("seckill-dp: redis: campaign %u %s: stock %" PRIu64 ", %" PRIu64 " not taken by "
	       "any host, %" PRIu64 " sold, %s\n", id, how, rc->pre.stock, rc->pre.remaining,
	       rc->pre.sold, rc->pre.state == SALE_CLOSED_STATE ? "closed" :
	       rc->pre.state == SALE_OPEN ? "open" : "scheduled");
	return 0;
}

/* Creates the campaign in Redis unless it is there (another host or an
 * earlier run made it: Redis's values win), then reads it back. */
static int ctl_sale_redis_preheat(struct ctl_sale_redis *d, const struct dp_campaign *cp,
			    struct ctl_sale_redis_camp *rc, char *err, size_t errlen)
{
	int r = ctl_redis_campaign_create_sharded(d->r, cp->id, cp->stock, cp->starts_at_ms, false,
						  cp->buckets > 1 ? cp->buckets : 1);

	if (r != CTL_REDIS_OK && r != CTL_REDIS_EXISTS) {
		snprintf(err, errlen, "campaign %u: cannot create it in Redis: %s", cp->id,
			 ctl_redis_error(d->r));
		return -1;
	}
	return ctl_sale_redis_read(d, cp->id, rc, r == CTL_REDIS_OK ? "created" : "preheated",
				   err, errlen);
}

static int ctl_def_cmp(const void *a, const void *b)
{
	const struct ctl_redis_campaign_def *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every campaign Redis knows that the command line did not give, by id. */
static int ctl_sale_redis_load_all(struct ctl_sale_redis *d, char *err, size_t errlen)
{
	struct ctl_redis_campaign_def def[SALE_MAX_CAMPAIGNS * 4];
	size_t n;

	if (ctl_redis_campaigns(d->r, def, RTE_DIM(def), &n, &d->version) != CTL_REDIS_OK) {
		snprintf(err, errlen, "cannot list the campaigns in Redis: %s",
			 ctl_redis_error(d->r));
		return -1;
	}
	qsort(def, n, sizeof(def[0]), ctl_def_cmp);
	for (size_t i = 0; i < n; i++) {
		if (ctl_sale_redis_camp(d, def[i].id) != NULL)
			continue;
		if (d->n == SALE_MAX_CAMPAIGNS) {
			fprintf(stderr, "seckill-dp: redis: campaign %u and later ones not loaded: "
				"a host sells at most %u campaigns\n", def[i].id, SALE_MAX_CAMPAIGNS);
			break;
		}
		if (ctl_sale_redis_read(d, def[i].id, &d->camp[d->n], "loaded", err, errlen) < 0)
			return -1;
		d->n++;
	}
	return 0;
}

int ctl_sale_redis_open(const struct dp_conf *conf, struct ctl_plane *c, char *err, size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	char rerr[CTL_REDIS_ERR_CAP], host[CTL_REDIS_HOST_MAX];
	struct ctl_sale_redis *d;

	if (sc->redis_port == 0 || !sc->on)
		return 0;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		return -1;
	}
	c->redis = d;
	c->redis_on = true;
	d->r = ctl_redis_connect_seeds(sc->redis_seeds, CTL_SALE_REDIS_TIMEOUT_MS, rerr,
				       sizeof(rerr));
	if (d->r == NULL) {
		snprintf(err, errlen, "--redis %s: %s; start Redis there, or drop --redis for a "
			 "single-host sale", sc->redis_seeds, rerr);
		return -1;
	}
	ctl_sale_redis_host_name(sc, host, sizeof(host));
	if (ctl_redis_set_host(d->r, host) < 0) {
		snprintf(err, errlen, "--redis-host '%s': too long for Redis (%d bytes at most)",
			 host, CTL_REDIS_HOST_MAX - 1);
		return -1;
	}
	for (unsigned i = 0; i < sc->n_campaigns; i++) {
		if (ctl_sale_redis_preheat(d, &sc->camp[i], &d->camp[d->n], err, errlen) < 0)
			return -1;
		d->camp[d->n++].from_conf = true;
	}
	/* Campaigns made at run time, on this host or another, outlive both. */
	if (ctl_sale_redis_load_all(d, err, errlen) < 0)
		return -1;
	printf("seckill-dp: redis %s%s: this host is '%s'\n", sc->redis_seeds,
	       ctl_redis_cluster(d->r) ? " (a Redis Cluster)" : "", host);
	return 0;
}

/* Adds a campaign read from Redis to the sale. -errno of sale_campaign_add. */
static int ctl_sale_redis_publish(struct ctl_plane *c, struct ctl_sale_redis_camp *rc)
{
	int r = sale_campaign_add_upstream(c->sale, rc->id, rc->pre.stock, rc->pre.starts_at_ms);

	if (r < 0)
		return r;
	if (rc->pre.state != SALE_SCHEDULED)
		sale_campaign_set_state(c->sale, rc->id, rc->pre.state);
	sale_campaign_set_pow(c->sale, rc->id, rc->pre.pow_bits);
	rc->pool = sale_campaign_pool(c->sale, rc->id);
	sale_campaign_set_upstream_left(c->sale, rc->id, rc->pre.remaining);
	return 0;
}

int ctl_sale_redis_add(struct ctl_plane *c, uint32_t id, char *err, size_t errlen)
{
	int r = ctl_sale_redis_publish(c, ctl_sale_redis_camp(c->redis, id));

	if (r < 0) {
		snprintf(err, errlen, "campaign %u: cannot add it: %s", id, strerror(-r));
		return -1;
	}
	return 0;
}

/* Drops camp[i] (it could not be added): it is not this host's to sell. */
static void ctl_sale_redis_forget(struct ctl_sale_redis *d, unsigned i)
{
	memmove(&d->camp[i], &d->camp[i + 1], (d->n - i - 1) * sizeof(d->camp[0]));
	d->n--;
}

/* Why a campaign of Redis is not sold here. */
static void ctl_sale_redis_no_room(const struct ctl_sale_redis_camp *rc, int r)
{
	fprintf(stderr, "seckill-dp: redis: campaign %u (%" PRIu64 " units) is not sold on this "
		"host: %s (at most %u campaigns, --max-stock units in all); give this host a "
		"larger --max-stock\n", rc->id, rc->pre.stock,
		r == -ENOSPC ? "no room" : strerror(-r), SALE_MAX_CAMPAIGNS);
}

/* Start-up: every campaign open read (the command line's, then the rest of
 * Redis's) into the sale. A campaign only Redis knows that does not fit
 * is left out with a warning; one of the command line's stops the start. */
int ctl_sale_redis_add_all(struct ctl_plane *c, char *err, size_t errlen)
{
	struct ctl_sale_redis *d = c->redis;

	for (unsigned i = 0; i < d->n;) {
		int r = ctl_sale_redis_publish(c, &d->camp[i]);

		if (r == 0) {
			i++;
			continue;
		}
		if (d->camp[i].from_conf) {
			snprintf(err, errlen, "campaign %u: cannot add it: %s", d->camp[i].id,
				 strerror(-r));
			return -1;
		}
		ctl_sale_redis_no_room(&d->camp[i], r);
		ctl_sale_redis_forget(d, i);
	}
	return 0;
}

int ctl_sale_redis_campaign_create(struct ctl_plane *c, const struct dp_campaign *cp, char *err,
			     size_t errlen)
{
	struct ctl_sale_redis *d = c->redis;

	if (d->n == SALE_MAX_CAMPAIGNS) {
		snprintf(err, errlen, "at most %u campaigns", SALE_MAX_CAMPAIGNS);
		return -1;
	}
	if (ctl_sale_redis_preheat(d, cp, &d->camp[d->n], err, errlen) < 0)
		return -1;
	d->n++;
	if (ctl_sale_redis_add(c, cp->id, err, errlen) < 0) {
		d->n--;
		return -1;
	}
	return 0;
}

bool ctl_sale_redis_has(const struct ctl_plane *c, uint32_t id)
{
	return c->redis != NULL && ctl_sale_redis_camp(c->redis, id) != NULL;
}

/* ---- confirming orders ------------------------------------------------------ */

/* Redis said no (the buyer bought on another host, or this host's holding
 * was released and no unit is left): the order is undone here and tombstoned. */
static int ctl_sale_redis_reject(struct ctl_plane *c, const struct ord_record *rec,
				 enum ord_reason why)
{
	struct ord_record tomb = *rec;

	if (why == ORD_REASON_duplicate)
		c->redis_st.duplicates++;
	else
		c->redis_st.released_rejects++;
	sale_order_reject(c->sale, rec->id, why);
	tomb.qty = 0;
	/* Synced at once: the order may be acked (as skipped) in this same poll,
	 * and a restart must find the tombstone beside it. */
	if (ord_journal_append(c->journal, &tomb, NULL) != ORD_JOURNAL_OK ||
	    ord_journal_sync(c->journal) < 0 || ctl_sale_redis_add_dead(c->redis, rec->id) < 0) {
		fprintf(stderr, "seckill-dp: cannot journal the rejection of an order (%s): "
			"%s\n", ord_reason_str(why), ord_journal_error(c->journal));
		return -1;
	}
	return 0;
}

/* Acts on one confirm's answer (single or batched): counts it, rejects a
 * duplicate or a released one, logs a failure. Returns rc: CTL_REDIS_OK (go
 * on), CTL_REDIS_DUPLICATE or CTL_REDIS_RELEASED (done, rejected), < 0 not
 * decided (CTL_REDIS_ERR too if the rejection could not be journaled). */
static int ctl_sale_redis_settle(struct ctl_plane *c, const struct ord_record *rec, int rc,
			   bool replayed)
{
	char oid[ORD_ID_STR_CAP];

	if ((rc == CTL_REDIS_DUPLICATE || rc == CTL_REDIS_RELEASED) &&
	    ctl_sale_redis_reject(c, rec, rc == CTL_REDIS_DUPLICATE ? ORD_REASON_duplicate :
				  ORD_REASON_released) < 0)
		rc = CTL_REDIS_ERR;
	if (rc == CTL_REDIS_OK) {
		c->redis_st.confirms++;
		c->redis_st.confirm_replays += replayed;
	} else if (rc != CTL_REDIS_DUPLICATE && rc != CTL_REDIS_RELEASED) {
		c->redis_st.confirm_failures++;
		ord_id_format(rec->id, oid, sizeof(oid));
		if (rc != CTL_REDIS_DOWN)
			fprintf(stderr, "seckill-dp: redis: cannot confirm order %s: %s; trying "
				"again\n", oid, ctl_redis_error(c->redis->r));
	}
	return rc;
}

/* One confirm, one round trip (restart only; the sale batches them). */
static int ctl_sale_redis_confirm(struct ctl_plane *c, const struct ord_record *rec)
{
	char oid[ORD_ID_STR_CAP];
	bool replayed = false;
	int rc;

	ord_id_format(rec->id, oid, sizeof(oid));
	rc = ctl_redis_confirm(c->redis->r, rec->campaign, rec->buyer, oid, &replayed);
	ctl_sale_redis_health(c, rc);
	return ctl_sale_redis_settle(c, rec, rc, replayed);
}

int ctl_sale_redis_before_produce(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct ctl_plane *c = arg;

	if (rec->qty == 0 || ctl_sale_redis_is_dead(c->redis, rec->id))
		return CTL_KAFKA_SKIP;        /* a tombstone, or what it buried */
	if (!ctl_sale_redis_has(c, rec->campaign) || seq <= c->redis->ahead)
		return CTL_KAFKA_PRODUCE;     /* not Redis's, or confirmed there */
	c->redis_st.confirm_waits++;
	return CTL_KAFKA_WAIT;                /* ctl_sale_redis_confirm_ahead gets to it */
}

/* ---- confirming ahead of Kafka, in batches ------------------------------------ */

/* ord_journal_replay_from callback: gathers the next orders Redis must decide. */
static int ctl_sale_redis_gather(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct ctl_plane *c = arg;
	struct ctl_sale_redis *d = c->redis;

	if (seq > ord_journal_synced_seq(c->journal) || d->nb == CTL_SALE_REDIS_BATCH)
		return 1;                     /* stop: only durable orders, one batch */
	d->last_seen = seq;
	if (rec->qty != 0 && !ctl_sale_redis_is_dead(d, rec->id) && ctl_sale_redis_has(c, rec->campaign)) {
		d->batch_seq[d->nb] = seq;
		d->batch[d->nb++] = *rec;
	}
	return 0;
}

/* The batch's answers, in order: ahead moves up to the first undecided. */
static void ctl_sale_redis_decide(struct ctl_plane *c, const struct ctl_redis_confirm_res *res)
{
	struct ctl_sale_redis *d = c->redis;

	for (unsigned i = 0; i < d->nb; i++) {
		int rc = ctl_sale_redis_settle(c, &d->batch[i], res[i].rc, res[i].replayed);

		if (rc != CTL_REDIS_OK && rc != CTL_REDIS_DUPLICATE && rc != CTL_REDIS_RELEASED) {
			d->ahead = d->batch_seq[i] - 1;
			return;
		}
	}
	d->ahead = d->last_seen;
}

void ctl_sale_redis_confirm_ahead(struct ctl_plane *c)
{
	struct ctl_sale_redis *d = c->redis;
	struct ctl_redis_confirm_req q[CTL_SALE_REDIS_BATCH];
	struct ctl_redis_confirm_res res[CTL_SALE_REDIS_BATCH];
	char oid[CTL_SALE_REDIS_BATCH][ORD_ID_STR_CAP];

	if (d == NULL || d->ahead >= ord_journal_synced_seq(c->journal))
		return;
	d->nb = 0;
	d->last_seen = d->ahead;
	if (ord_journal_replay_from(c->journal, d->ahead + 1, ctl_sale_redis_gather, c) < 0) {
		fprintf(stderr, "seckill-dp: redis: cannot read orders back from the journal: %s\n",
			ord_journal_error(c->journal));
		return;
	}
	for (unsigned i = 0; i < d->nb; i++) {
		ord_id_format(d->batch[i].id, oid[i], sizeof(oid[i]));
		q[i] = (struct ctl_redis_confirm_req){ .campaign = d->batch[i].campaign,
						       .buyer = d->batch[i].buyer, .order_id = oid[i] };
	}
	if (d->nb != 0) {
		ctl_sale_redis_health(c, ctl_redis_confirm_many(d->r, d->nb, q, res));
		c->redis_st.confirm_batches++;
	}
	ctl_sale_redis_decide(c, res);
}

/* ---- restart ------------------------------------------------------------------ */

static int ctl_sale_redis_collect_dead(void *arg, uint64_t seq, const struct ord_record *rec)
{
	(void)seq;
	return rec->qty == 0 ? ctl_sale_redis_add_dead(arg, rec->id) : 0;
}

int ctl_sale_redis_restore_begin(struct ctl_plane *c, char *err, size_t errlen)
{
	if (c->redis == NULL)
		return 0;
	if (ord_journal_replay_all(c->journal, ctl_sale_redis_collect_dead, c->redis) != 0) {
		snprintf(err, errlen, "order journal: cannot read its tombstones: %s",
			 ord_journal_error(c->journal));
		return -1;
	}
	return 0;
}

int ctl_sale_redis_restore_check(struct ctl_plane *c, uint64_t seq, const struct ord_record *rec)
{
	if (rec->qty == 0)
		return CTL_SALE_REDIS_RESTORE_SKIP;         /* a tombstone */
	if (c->redis == NULL)
		return CTL_SALE_REDIS_RESTORE_KEEP;
	if (ctl_sale_redis_is_dead(c->redis, rec->id))
		return CTL_SALE_REDIS_RESTORE_SKIP;         /* rejected as a duplicate */
	/* Below the watermark: confirmed before it went to Kafka. */
	if (!ctl_sale_redis_has(c, rec->campaign) || seq <= ord_journal_acked_seq(c->journal))
		return CTL_SALE_REDIS_RESTORE_KEEP;
	switch (ctl_sale_redis_confirm(c, rec)) {
	case CTL_REDIS_OK:
		return CTL_SALE_REDIS_RESTORE_KEEP;
	case CTL_REDIS_DUPLICATE:
	case CTL_REDIS_RELEASED:
		return CTL_SALE_REDIS_RESTORE_SKIP;
	default:
		return CTL_SALE_REDIS_RESTORE_FAILED;
	}
}

int ctl_sale_redis_restore_end(struct ctl_plane *c, char *err, size_t errlen)
{
	struct ctl_sale_redis *d = c->redis;
	struct ctl_redis_status st;
	bool was = false;

	for (unsigned i = 0; d != NULL && i < d->n; i++) {
		struct ctl_sale_redis_camp *rc = &d->camp[i];

		/* Every journaled order is decided now, those of a holding that
		 * was released included (they drew on the stock): this host may
		 * take again. */
		if (ctl_redis_rejoin(d->r, rc->id, &was) != CTL_REDIS_OK ||
		    ctl_redis_status(d->r, rc->id, &st) != CTL_REDIS_OK) {
			snprintf(err, errlen, "campaign %u: cannot read this host's holding in Redis: "
				 "%s", rc->id, ctl_redis_error(d->r));
			return -1;
		}
		if (was)
			printf("seckill-dp: redis: campaign %u: this host had been released "
			       "(seckillctl campaign release-host); it takes part again\n", rc->id);
		/* Every journaled order is confirmed now: the rest is unsold. */
		if (st.held_self > 0) {
			stock_grant(rc->pool, (uint64_t)st.held_self);
			printf("seckill-dp: redis: campaign %u: %" PRId64 " units this host held "
			       "unsold are for sale again\n", rc->id, st.held_self);
		}
		rc->n_hosts = st.n_hosts ? st.n_hosts : 1;
	}
	if (d != NULL)
		d->ahead = ord_journal_last_seq(c->journal);   /* all decided above */
	return 0;
}

/* ---- every pass: top up the local pools ------------------------------------- */

/* A peak that fades: the larger of v and what old has faded to over dt. */
static double ctl_peak(double old, double v, uint64_t dt_us, uint64_t fade_us)
{
	double faded = old * (double)fade_us / (double)(fade_us + dt_us);

	return v > faded ? v : faded;
}

/*
 * The units to keep in the local pool: what the cores sell while the next
 * refill is on its way. The rate is the recent peak of the cores' sales,
 * measured here every CTL_SALE_REDIS_METER_US from the pool's own count;
 * the delay is the recent peak of the gap between two passes (an fsync or
 * the scheduler can stretch one to tens of ms) plus a take's round trip.
 */
static uint64_t ctl_sale_redis_target(struct ctl_sale_redis *d, struct ctl_sale_redis_camp *rc,
				      uint64_t now_us)
{
	uint64_t sold = stock_sold(rc->pool), dt = now_us - rc->meter_us;
	double want, share, lag;

	if (dt >= CTL_SALE_REDIS_METER_US) {
		/* Units returned (rejected orders) lower sold: not a sale. */
		double rate = sold > rc->meter_sold ? (double)(sold - rc->meter_sold) / dt : 0;

		rc->rate = ctl_peak(rc->rate, rate, dt, CTL_SALE_REDIS_RATE_FADE_US);
		rc->meter_us = now_us;
		rc->meter_sold = sold;
	}
	lag = d->gap_us + rc->rtt_us;
	if (lag < CTL_SALE_REDIS_LAG_MIN_US)
		lag = CTL_SALE_REDIS_LAG_MIN_US;
	want = rc->rate * lag * CTL_SALE_REDIS_MARGIN;
	if (want < CTL_SALE_REDIS_HOLD_MIN)
		want = CTL_SALE_REDIS_HOLD_MIN;
	if (want > CTL_SALE_REDIS_HOLD_MAX)
		want = CTL_SALE_REDIS_HOLD_MAX;
	/* Never more than a host's share of the campaign by the chunk rule:
	 * a campaign small beside the target is not all taken by the first
	 * host, while the others find Redis empty. */
	share = (double)rc->pre.stock / (2.0 * (rc->n_hosts ? rc->n_hosts : 1));
	if (want > share)
		want = share;
	return want < 1 ? 1 : (uint64_t)want;
}

/* Redis refused a take: an operator released this host's holding. */
static void ctl_sale_redis_released(struct ctl_sale_redis_camp *rc)
{
	if (rc->released)
		return;
	rc->released = true;
	/* Its buyers get 503 (try again, maybe another host), not 410: the
	 * campaign is not sold out, only no longer this host's to sell. */
	stock_set_upstream(rc->pool, true);
	fprintf(stderr, "seckill-dp: redis: campaign %u: this host's holding was released by an "
		"operator (seckillctl campaign release-host): it sells no more of it until "
		"seckill-dp restarts; its orders not yet confirmed take their unit from Redis's "
		"stock, or are rejected (reason released) when none is left\n", rc->id);
}

/* One take; false when no more should be tried in this pass. */
static bool ctl_sale_redis_take(struct ctl_plane *c, struct ctl_sale_redis_camp *rc,
				uint64_t now_us)
{
	uint64_t got = 0, left = 0, have = stock_left(rc->pool), now = now_us / 1000;
	uint64_t target = ctl_sale_redis_target(c->redis, rc, now_us), t0, t1;
	int r;

	if (now < rc->next_take_ms || have >= target)
		return false;
	t0 = now_mono_us();
	r = ctl_redis_take_left(c->redis->r, rc->id, rc->n_hosts, 2 * target - have, &got, &left);
	t1 = now_mono_us();
	rc->rtt_us = ctl_peak(rc->rtt_us, (double)(t1 - t0), t1 - rc->rtt_at_us,
			      CTL_SALE_REDIS_LAG_FADE_US);
	rc->rtt_at_us = t1;
	ctl_sale_redis_health(c, r);
	if (r == CTL_REDIS_RELEASED) {
		ctl_sale_redis_released(rc);
		return false;
	}
	if (r != CTL_REDIS_OK) {
		if (r != CTL_REDIS_DOWN)
			fprintf(stderr, "seckill-dp: redis: campaign %u: take failed: %s\n", rc->id,
				ctl_redis_error(c->redis->r));
		rc->next_take_ms = now + CTL_SALE_REDIS_EMPTY_RETRY_MS;
		return false;
	}
	sale_campaign_set_upstream_left(c->sale, rc->id, left);
	c->redis_st.takes++;
	if (got == 0) {
		/* Redis is empty: what is here is the last of it. */
		c->redis_st.empty_takes++;
		if (!rc->empty)
			stock_set_upstream(rc->pool, false);
		rc->empty = true;
		rc->next_take_ms = now + CTL_SALE_REDIS_EMPTY_RETRY_MS;
		return false;
	}
	if (rc->empty)
		stock_set_upstream(rc->pool, true);   /* before the units: see stock_pool.c */
	rc->empty = false;
	stock_grant(rc->pool, got);
	c->redis_st.units_taken += got;
	return true;
}

/*
 * What the pool holds unsold goes back to Redis, for the hosts where the
 * campaign still sells: when it is closed here, and at stop. Taken out of
 * the pool only as far as Redis took it back, so a Redis that is down
 * loses nothing: those units stay held by this host (next pass, or next start).
 */
static void ctl_sale_redis_give_back(struct ctl_plane *c, struct ctl_sale_redis_camp *rc, const char *why)
{
	uint64_t back = stock_reclaim(rc->pool), given = 0;

	if (back == 0)
		return;
	if (ctl_redis_give_back(c->redis->r, rc->id, back, &given) != CTL_REDIS_OK) {
		given = 0;
		fprintf(stderr, "seckill-dp: redis: campaign %u: cannot give %" PRIu64 " unsold "
			"units back (%s); this host keeps holding them\n", rc->id, back,
			ctl_redis_error(c->redis->r));
	}
	if (given < back)
		stock_grant(rc->pool, back - given);
	c->redis_st.given_back += given;
	if (given)
		printf("seckill-dp: redis: campaign %u %s: gave %" PRIu64 " unsold units back\n",
		       rc->id, why, given);
}

int ctl_sale_redis_set_state(struct ctl_plane *c, uint32_t id, enum sale_state st)
{
	struct ctl_sale_redis_camp *rc = c->redis ? ctl_sale_redis_camp(c->redis, id) : NULL;
	int r;

	if (rc == NULL)
		return 0;
	rc->state = st;
	r = ctl_redis_set_state(c->redis->r, id, st);
	ctl_sale_redis_health(c, r);
	/* Recorded at the next sync when Redis is back: this command wins. */
	rc->state_dirty = r != CTL_REDIS_OK;
	return r == CTL_REDIS_OK ? 0 : -1;
}

int ctl_sale_redis_set_pow(struct ctl_plane *c, uint32_t id, unsigned bits)
{
	struct ctl_sale_redis_camp *rc = c->redis ? ctl_sale_redis_camp(c->redis, id) : NULL;
	int r;

	if (rc == NULL)
		return 0;
	rc->pow_bits = bits;
	r = ctl_redis_set_pow(c->redis->r, id, bits);
	ctl_sale_redis_health(c, r);
	/* As the state: recorded at the next sync when Redis is back. */
	rc->pow_dirty = r != CTL_REDIS_OK;
	return r == CTL_REDIS_OK ? 0 : -1;
}

int ctl_sale_redis_release_host(struct ctl_plane *c, uint32_t id, const char *host,
				uint64_t *given, char *err, size_t errlen)
{
	struct ctl_sale_redis *d = c->redis;
	int r;

	if (strcmp(host, ctl_redis_host(d->r)) == 0) {
		snprintf(err, errlen, "'%s' is this host, which is running: close the campaign "
			 "here (seckillctl campaign close) to give its units back", host);
		return -1;
	}
	r = ctl_redis_release_host(d->r, id, host, given);
	ctl_sale_redis_health(c, r);
	if (r != CTL_REDIS_OK) {
		snprintf(err, errlen, "%s", ctl_redis_error(d->r));
		return -1;
	}
	printf("seckill-dp: redis: campaign %u: host '%s' released by seckillctl: %" PRIu64
	       " units it held are back in seckill:stock:{%u}\n", id, host, *given, id);
	return 0;
}

/* A campaign another host made: sold here too, if it fits. */
static void ctl_sale_redis_join(struct ctl_plane *c, const struct ctl_redis_campaign_def *def)
{
	struct ctl_sale_redis *d = c->redis;
	char err[CTL_REDIS_ERR_CAP];
	int r;

	if (d->n == SALE_MAX_CAMPAIGNS)
		return;
	if (ctl_sale_redis_read(d, def->id, &d->camp[d->n], "created on another host", err,
				sizeof(err)) < 0) {
		fprintf(stderr, "seckill-dp: redis: %s\n", err);
		return;
	}
	r = ctl_sale_redis_publish(c, &d->camp[d->n]);
	if (r < 0) {
		ctl_sale_redis_no_room(&d->camp[d->n], r);
		return;
	}
	d->n++;
	c->redis_st.campaign_syncs++;
}

/* Redis's state of a campaign sold here, unless this host's command waits
 * to be recorded there. */
static void ctl_sale_redis_follow(struct ctl_plane *c, struct ctl_sale_redis_camp *rc,
				  enum sale_state st)
{
	static const char *const verb[] = { "rescheduled", "opened", "closed" };

	if (rc->state_dirty || rc->state == st)
		return;
	rc->state = st;
	sale_campaign_set_state(c->sale, rc->id, st);
	c->redis_st.campaign_syncs++;
	printf("seckill-dp: redis: campaign %u %s on another host\n", rc->id, verb[st]);
}

/* The campaigns' version moved: load what changed. */
static void ctl_sale_redis_reload(struct ctl_plane *c)
{
	struct ctl_sale_redis *d = c->redis;
	struct ctl_redis_campaign_def def[SALE_MAX_CAMPAIGNS * 4];
	size_t n;
	int r = ctl_redis_campaigns(d->r, def, RTE_DIM(def), &n, &d->version);

	ctl_sale_redis_health(c, r);
	if (r != CTL_REDIS_OK)
		return;
	qsort(def, n, sizeof(def[0]), ctl_def_cmp);
	for (size_t i = 0; i < n; i++) {
		struct ctl_sale_redis_camp *rc = ctl_sale_redis_camp(d, def[i].id);

		if (rc == NULL)
			ctl_sale_redis_join(c, &def[i]);
		else
			ctl_sale_redis_follow(c, rc, def[i].state);
		/* The proof of work another host set, unless ours waits for Redis. */
		if (rc != NULL && !rc->pow_dirty && rc->pow_bits != def[i].pow_bits) {
			rc->pow_bits = def[i].pow_bits;
			sale_campaign_set_pow(c->sale, rc->id, rc->pow_bits);
			c->redis_st.campaign_syncs++;
		}
	}
}

/* Every CTL_SALE_REDIS_SYNC_MS: states set here while Redis was away are
 * recorded, and the version read (one GET); it moved: reload. */
static void ctl_sale_redis_sync(struct ctl_plane *c, uint64_t now_ms)
{
	struct ctl_sale_redis *d = c->redis;
	uint64_t v;
	int r;

	if (now_ms < d->next_sync_ms)
		return;
	d->next_sync_ms = now_ms + CTL_SALE_REDIS_SYNC_MS;
	for (unsigned i = 0; i < d->n; i++)
		if (d->camp[i].state_dirty)
			ctl_sale_redis_set_state(c, d->camp[i].id, d->camp[i].state);
	for (unsigned i = 0; i < d->n; i++)
		if (d->camp[i].pow_dirty)
			ctl_sale_redis_set_pow(c, d->camp[i].id, d->camp[i].pow_bits);
	r = ctl_redis_campaigns_version(d->r, &v);
	ctl_sale_redis_health(c, r);
	if (r == CTL_REDIS_OK && v != d->version) {
		ctl_sale_redis_reload(c);
		ctl_product_sync(c->sale);
	}
}

/* One campaign's turn in a pass: give back, drop, or top up. */
static void ctl_sale_redis_tend(struct ctl_plane *c, struct ctl_sale_redis_camp *rc,
				uint64_t now_us)
{
	struct sale_campaign_view v;
	struct ctl_redis_status st;

	if (!sale_campaign_info(c->sale, rc->id, now_wall_ms(), &v))
		return;
	if (v.phase == SALE_PHASE_CLOSED) {
		ctl_sale_redis_give_back(c, rc, "closed");
		return;
	}
	/* Every second: how many hosts share it (the chunk rule's n), and
	 * whether an operator released this one (it may not need a take to
	 * learn it for a long while). */
	if (now_us / 1000 >= rc->next_status_ms) {
		rc->next_status_ms = now_us / 1000 + CTL_SALE_REDIS_STATUS_MS;
		if (ctl_redis_status(c->redis->r, rc->id, &st) == CTL_REDIS_OK) {
			rc->n_hosts = st.n_hosts ? st.n_hosts : 1;
			if (st.released)
				ctl_sale_redis_released(rc);
		}
	}
	if (rc->released) {
		/* Not this host's any more: Redis gave these units to the stock. */
		c->redis_st.released_dropped += stock_reclaim(rc->pool);
		return;
	}
	/* Empty after a first grant (before it, nobody could have bought). */
	if (v.phase == SALE_PHASE_OPEN && !rc->empty && stock_left(rc->pool) == 0 &&
	    stock_granted(rc->pool) != 0)
		c->redis_st.starved++;
	for (int t = 0; t < CTL_SALE_REDIS_TAKES_PER_PASS; t++)
		if (!ctl_sale_redis_take(c, rc, now_us))
			break;
}

void ctl_sale_redis_poll(struct ctl_plane *c)
{
	struct ctl_sale_redis *d = c->redis;
	uint64_t now;

	if (d == NULL)
		return;
	now = now_mono_us();
	if (d->last_poll_us != 0)
		d->gap_us = ctl_peak(d->gap_us, (double)(now - d->last_poll_us),
				     now - d->last_poll_us, CTL_SALE_REDIS_LAG_FADE_US);
	d->last_poll_us = now;
	for (unsigned i = 0; i < d->n; i++)
		ctl_sale_redis_tend(c, &d->camp[i], now);
	ctl_sale_redis_sync(c, now / 1000);
	ctl_sale_redis_confirm_ahead(c);
}

/* ---- stop ---------------------------------------------------------------------- */

void ctl_sale_redis_close(struct ctl_plane *c)
{
	struct ctl_sale_redis *d = c->redis;

	if (d == NULL)
		return;
	/* The workers are stopped: what the pools hold is unsold for good here. */
	for (unsigned i = 0; d->r != NULL && i < d->n; i++)
		if (d->camp[i].pool != NULL)
			ctl_sale_redis_give_back(c, &d->camp[i], "at stop");
	ctl_redis_close(d->r);
	free(d->dead);
	free(d);
	c->redis = NULL;
}

bool ctl_sale_redis_down(const struct ctl_plane *c)
{
	return c->redis != NULL && c->redis->down;
}
