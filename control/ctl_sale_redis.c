/*
 * ctl_sale_redis.c - the control thread's Redis side (--redis): one sale shared
 * by several front-end hosts.
 *
 * Redis holds each campaign's stock (control/ctl_redis.h has the keys and
 * the scripts). This host takes it in chunks, exactly as a core takes
 * chunks from its host: the campaign is added with sale_campaign_add_upstream,
 * so its local pool starts empty and a core that finds nothing answers 503
 * stock_busy, never 410, while Redis may still have units. Each control
 * pass tops the local pool up with one take when it runs low; the take that
 * finds Redis empty clears the pool's upstream flag, and from then on the
 * cores sell out locally as with a single host. Units another host gives
 * back are seen by a take tried every CTL_SALE_REDIS_EMPTY_RETRY_MS.
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
 * campaign is closed here (seckillctl campaign close, which also records
 * the state in Redis for hosts that start later), the unsold units are
 * given back to Redis, for the other hosts to sell.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_redis.h"
#include "ctl_plane.h"

/* A command slower than this is a Redis in trouble: the pass moves on. */
#define CTL_SALE_REDIS_TIMEOUT_MS 500
/* The most one take moves to this host; the chunk rule shrinks it as
 * Redis drains (stock_chunk_size, ported to Lua). */
#define CTL_SALE_REDIS_MAX_CHUNK 256
/* Take again when the local pool holds fewer than this. */
#define CTL_SALE_REDIS_LOW_WATER (CTL_SALE_REDIS_MAX_CHUNK / 2)
/* Takes one pass may make while the pool is low: as Redis drains the
 * chunk rule hands out ever smaller chunks, and one a pass (1 ms) would
 * leave the cores answering 503 while the last units trickle in. */
#define CTL_SALE_REDIS_TAKES_PER_PASS 8
/* Confirms sent in one pipelined round trip; a pass sends one batch, so a
 * burst of orders never starves the refills that come first in the pass. */
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
	uint64_t next_take_ms;
	uint64_t next_status_ms;
	unsigned n_hosts;
	bool empty;                      /* the last take found Redis empty */
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

/* Creates the campaign in Redis unless it is there (another host or an
 * earlier run made it: Redis's values win), then reads it back. */
static int ctl_sale_redis_preheat(struct ctl_sale_redis *d, const struct dp_campaign *cp,
			    struct ctl_sale_redis_camp *rc, char *err, size_t errlen)
{
	int r = ctl_redis_campaign_create(d->r, cp->id, cp->stock, cp->starts_at_ms, false);

	if (r != CTL_REDIS_OK && r != CTL_REDIS_EXISTS) {
		snprintf(err, errlen, "campaign %u: cannot create it in Redis: %s", cp->id,
			 ctl_redis_error(d->r));
		return -1;
	}
	if (ctl_redis_preheat(d->r, cp->id, &rc->pre) != CTL_REDIS_OK) {
		snprintf(err, errlen, "campaign %u: cannot read it from Redis: %s", cp->id,
			 ctl_redis_error(d->r));
		return -1;
	}
	if (rc->pre.stock == 0 || rc->pre.stock > DP_STOCK_MAX) {
		snprintf(err, errlen, "campaign %u: Redis says its stock is %" PRIu64 " (want 1..%"
			 PRIu64 "): fix seckill:campaign:%u", cp->id, rc->pre.stock, DP_STOCK_MAX,
			 cp->id);
		return -1;
	}
	rc->id = cp->id;
	rc->n_hosts = 1;
	printf("seckill-dp: redis: campaign %u %s: stock %" PRIu64 ", %" PRIu64 " not taken by "
	       "any host, %" PRIu64 " sold\n", cp->id, r == CTL_REDIS_OK ? "created" :
	       "preheated", rc->pre.stock, rc->pre.remaining, rc->pre.sold);
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
	d->r = ctl_redis_connect(sc->redis_ip, sc->redis_port, CTL_SALE_REDIS_TIMEOUT_MS, rerr,
				 sizeof(rerr));
	if (d->r == NULL) {
		snprintf(err, errlen, "--redis %s:%u: %s; start Redis there, or drop --redis for a "
			 "single-host sale", sc->redis_ip, sc->redis_port, rerr);
		return -1;
	}
	ctl_sale_redis_host_name(sc, host, sizeof(host));
	if (ctl_redis_set_host(d->r, host) < 0) {
		snprintf(err, errlen, "--redis-host '%s': too long for Redis (%d bytes at most)",
			 host, CTL_REDIS_HOST_MAX - 1);
		return -1;
	}
	for (unsigned i = 0; i < sc->n_campaigns; i++)
		if (ctl_sale_redis_preheat(d, &sc->camp[i], &d->camp[d->n++], err, errlen) < 0)
			return -1;
	printf("seckill-dp: redis %s:%u: this host is '%s'\n", sc->redis_ip, sc->redis_port, host);
	return 0;
}

int ctl_sale_redis_add(struct ctl_plane *c, uint32_t id, char *err, size_t errlen)
{
	struct ctl_sale_redis_camp *rc = ctl_sale_redis_camp(c->redis, id);
	int r;

	r = sale_campaign_add_upstream(c->sale, id, rc->pre.stock, rc->pre.starts_at_ms);
	if (r < 0) {
		snprintf(err, errlen, "campaign %u: cannot add it: %s", id, strerror(-r));
		return -1;
	}
	if (rc->pre.state != SALE_SCHEDULED)
		sale_campaign_set_state(c->sale, id, rc->pre.state);
	rc->pool = sale_campaign_pool(c->sale, id);
	sale_campaign_set_upstream_left(c->sale, id, rc->pre.remaining);
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

/* The buyer bought on another host: the order is undone here and tombstoned. */
static int ctl_sale_redis_duplicate(struct ctl_plane *c, const struct ord_record *rec)
{
	struct ord_record tomb = *rec;

	c->redis_st.duplicates++;
	sale_order_reject(c->sale, rec->id, ORD_REASON_duplicate);
	tomb.qty = 0;
	/* Synced at once: the order may be acked (as skipped) in this same poll,
	 * and a restart must find the tombstone beside it. */
	if (ord_journal_append(c->journal, &tomb, NULL) != ORD_JOURNAL_OK ||
	    ord_journal_sync(c->journal) < 0 || ctl_sale_redis_add_dead(c->redis, rec->id) < 0) {
		fprintf(stderr, "seckill-dp: cannot journal the rejection of a duplicate order: "
			"%s\n", ord_journal_error(c->journal));
		return -1;
	}
	return 0;
}

/* One confirm: CTL_REDIS_OK (go on), CTL_REDIS_DUPLICATE (done, rejected) or < 0. */
/* Acts on one confirm's answer (single or batched): counts it, rejects a
 * duplicate, logs a failure. Returns rc, CTL_REDIS_ERR if the rejection
 * could not be journaled. */
static int ctl_sale_redis_settle(struct ctl_plane *c, const struct ord_record *rec, int rc,
			   bool replayed)
{
	char oid[ORD_ID_STR_CAP];

	if (rc == CTL_REDIS_DUPLICATE && ctl_sale_redis_duplicate(c, rec) < 0)
		rc = CTL_REDIS_ERR;
	if (rc == CTL_REDIS_OK) {
		c->redis_st.confirms++;
		c->redis_st.confirm_replays += replayed;
	} else if (rc != CTL_REDIS_DUPLICATE) {
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

		if (rc != CTL_REDIS_OK && rc != CTL_REDIS_DUPLICATE) {
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
		return CTL_SALE_REDIS_RESTORE_SKIP;
	default:
		return CTL_SALE_REDIS_RESTORE_FAILED;
	}
}

int ctl_sale_redis_restore_end(struct ctl_plane *c, char *err, size_t errlen)
{
	struct ctl_sale_redis *d = c->redis;
	struct ctl_redis_status st;

	for (unsigned i = 0; d != NULL && i < d->n; i++) {
		if (ctl_redis_status(d->r, d->camp[i].id, &st) != CTL_REDIS_OK) {
			snprintf(err, errlen, "campaign %u: cannot read this host's holding in Redis: "
				 "%s", d->camp[i].id, ctl_redis_error(d->r));
			return -1;
		}
		/* Every journaled order is confirmed now: the rest is unsold. */
		if (st.held_self > 0) {
			stock_grant(d->camp[i].pool, (uint64_t)st.held_self);
			printf("seckill-dp: redis: campaign %u: %" PRId64 " units this host held "
			       "unsold are for sale again\n", d->camp[i].id, st.held_self);
		}
		d->camp[i].n_hosts = st.n_hosts ? st.n_hosts : 1;
	}
	if (d != NULL)
		d->ahead = ord_journal_last_seq(c->journal);   /* all decided above */
	return 0;
}

/* ---- every pass: top up the local pools ------------------------------------- */

/* One take; false when no more should be tried in this pass. */
static bool ctl_sale_redis_take(struct ctl_plane *c, struct ctl_sale_redis_camp *rc, uint64_t now)
{
	struct ctl_redis_status st;
	uint64_t got = 0;
	int r;

	if (now < rc->next_take_ms || stock_left(rc->pool) >= CTL_SALE_REDIS_LOW_WATER)
		return false;
	if (now >= rc->next_status_ms) {
		rc->next_status_ms = now + CTL_SALE_REDIS_STATUS_MS;
		if (ctl_redis_status(c->redis->r, rc->id, &st) == CTL_REDIS_OK && st.n_hosts)
			rc->n_hosts = st.n_hosts;
	}
	r = ctl_redis_take(c->redis->r, rc->id, rc->n_hosts, CTL_SALE_REDIS_MAX_CHUNK, &got);
	/* Takes are few (a chunk each): one more read keeps `left` true. */
	if (r == CTL_REDIS_OK && ctl_redis_status(c->redis->r, rc->id, &st) == CTL_REDIS_OK)
		sale_campaign_set_upstream_left(c->sale, rc->id, st.stock > 0 ? (uint64_t)st.stock : 0);
	ctl_sale_redis_health(c, r);
	if (r != CTL_REDIS_OK) {
		if (r != CTL_REDIS_DOWN)
			fprintf(stderr, "seckill-dp: redis: campaign %u: take failed: %s\n", rc->id,
				ctl_redis_error(c->redis->r));
		rc->next_take_ms = now + CTL_SALE_REDIS_EMPTY_RETRY_MS;
		return false;
	}
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
	int rc;

	if (!ctl_sale_redis_has(c, id))
		return 0;
	rc = ctl_redis_set_state(c->redis->r, id, st);
	ctl_sale_redis_health(c, rc);
	return rc == CTL_REDIS_OK ? 0 : -1;
}

void ctl_sale_redis_poll(struct ctl_plane *c)
{
	uint64_t now;

	if (c->redis == NULL)
		return;
	now = now_mono_us() / 1000;
	for (unsigned i = 0; i < c->redis->n; i++) {
		struct ctl_sale_redis_camp *rc = &c->redis->camp[i];
		struct sale_campaign_view v;

		if (sale_campaign_info(c->sale, rc->id, 0, &v) && v.phase == SALE_PHASE_CLOSED) {
			ctl_sale_redis_give_back(c, rc, "closed");
			continue;
		}
		for (int t = 0; t < CTL_SALE_REDIS_TAKES_PER_PASS; t++)
			if (!ctl_sale_redis_take(c, rc, now))
				break;
	}
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
