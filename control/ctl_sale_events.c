/*
 * ctl_sale_events.c - the order service's word reaches this host (--redis).
 *
 * seckill-orders (orders/) decides what becomes of each order after the sale:
 * paid, or expired when its buyer did not pay in time. An expiry gives the
 * unit back to the sale in Redis (seckill:stock:{id}, where the hosts take it
 * and sell it again: ctl_sale_redis.c) and deletes the buyer's Redis claim;
 * every final state is appended to seckill:order_events:{id}
 * (ctl_redis_events.h). Every CTL_SALE_EVENTS_POLL_MS this file reads what
 * each campaign's list gained, in one round trip, and applies it here:
 *
 *   - an order of this run (its id names this host's node and this run's
 *     epoch) moves to paid or expired in its core's book, so GET
 *     /api/orders/{id} says so; an expiry also releases the buyer's claim in
 *     this host's purchase set (sale_order_expire): the buyer may buy again
 *     here at once;
 *   - an expired order this run's books do not hold (another host's, or an
 *     earlier run's whose buyer the journal claimed again at start) releases
 *     the buyer's claim here, if there is one and Redis no longer claims the
 *     buyer: Redis's claim is the truth across hosts, so a buyer who bought
 *     again since, on any host, keeps the claim here too.
 *
 * Where reading starts. Each campaign has a cursor, the list index to read
 * next, and a starting host reads every list from 0, not from its end. Why:
 * at start the journal's orders claim their buyers again (sale_restore_order),
 * those that expired before or while the host was down included, and only
 * their events release them; and a host that was down misses nothing. What
 * makes reading again harmless: a book moves an order once (a CAS), an expiry
 * releases by the order's own ticket, and a release for an order the books
 * do not hold is made only while Redis holds no claim for the buyer. The
 * cost: one pass over each list at start, at most CTL_SALE_EVENTS_PAGE events
 * per campaign per control pass. A cursor moves only once everything it read
 * was applied (the claims asked included), so a Redis that fails mid-way
 * makes the next poll read the same events again. A list shorter than its
 * cursor was deleted (the campaign made again): reading starts over at 0.
 *
 * What is left: a buyer whose earlier order (another host's, or an earlier
 * run's) expires in the millisecond between this host selling him a new one
 * and Redis confirming it loses that new order's claim here; a third buy of
 * his here is answered 200, then rejected by Redis as a duplicate, its unit
 * back in the pool. Nothing is sold twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_plane.h"
#include "ctl_redis_events.h"
#include "str2int.h"

/* Events reach the cores within this (plus a pass): the bar is 1 s
 * from the expiry to the buyer free again, and seckill-orders sweeps every
 * 200 ms. One round trip per poll for every campaign. */
#define CTL_SALE_EVENTS_POLL_MS 100
/* Events read per campaign per poll. A full page is read on at the next pass,
 * so a host catching up reads 256 a millisecond. */
#define CTL_SALE_EVENTS_PAGE 256
/* A slower answer is a Redis in trouble: the pass moves on, the events wait. */
#define CTL_SALE_EVENTS_TIMEOUT_MS 200
/* Buyers whose Redis claim one poll may have to ask about. */
#define CTL_SALE_EVENTS_ASK (CTL_SALE_EVENTS_PAGE * SALE_MAX_CAMPAIGNS)

const char *const ctl_sale_events_stats_names[] = { CTL_SALE_EVENTS_STATS(STATS_NAME) };
_Static_assert(sizeof(ctl_sale_events_stats_names) / sizeof(ctl_sale_events_stats_names[0]) ==
	       CTL_SALE_EVENTS_STATS_N, "a name for every counter");

struct ctl_sale_events {
	struct ctl_redis_events *r;
	struct ctl_plane *c;             /* for the read callback */
	uint16_t node;                   /* this host's node id (--node-id) */
	bool down;                       /* logged as down until a poll succeeds */
	uint64_t next_poll_ms;
	/* One page per campaign sold here through Redis; page.from is its cursor. */
	unsigned n;
	struct ctl_redis_events_page page[SALE_MAX_CAMPAIGNS];
	/* Expired orders the books do not hold whose buyer is claimed here: Redis
	 * is asked about their claims after the pages, in one round trip. */
	unsigned n_ask;
	uint32_t ask_campaign[CTL_SALE_EVENTS_ASK];
	uint64_t ask_buyer[CTL_SALE_EVENTS_ASK];
	bool ask_held[CTL_SALE_EVENTS_ASK];
};

int ctl_sale_events_open(const struct dp_conf *conf, struct ctl_plane *c, char *err,
			 size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	char rerr[CTL_REDIS_ERR_CAP];
	struct ctl_sale_events *ev;

	if (sc->redis_port == 0 || !sc->on || c->sale == NULL)
		return 0;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL) {
		snprintf(err, errlen, "the order service's events: out of memory");
		return -1;
	}
	ev->r = ctl_redis_events_open(sc->redis_seeds, CTL_SALE_EVENTS_TIMEOUT_MS, rerr,
				      sizeof(rerr));
	if (ev->r == NULL) {
		free(ev);
		snprintf(err, errlen, "%s", rerr);
		return -1;
	}
	ev->c = c;
	ev->node = sc->node_id;
	c->events = ev;
	return 0;
}

void ctl_sale_events_close(struct ctl_plane *c)
{
	if (c->events == NULL)
		return;
	ctl_redis_events_close(c->events->r);
	free(c->events);
	c->events = NULL;
}

/* Every campaign sold here through Redis has a page; a new one reads from 0. */
static void ctl_sale_events_track(struct ctl_plane *c, struct ctl_sale_events *ev)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n = sale_campaign_ids(c->sale, ids, SALE_MAX_CAMPAIGNS);

	for (unsigned i = 0; i < n; i++) {
		unsigned j = 0;

		while (j < ev->n && ev->page[j].campaign != ids[i])
			j++;
		if (j < ev->n || ev->n == SALE_MAX_CAMPAIGNS || !ctl_sale_redis_has(c, ids[i]))
			continue;
		ev->page[ev->n++] = (struct ctl_redis_events_page){ .campaign = ids[i] };
	}
}

/* "expired <order id> <buyer>" or "paid ...": false when it is neither. */
static bool ctl_sale_events_parse(const char *s, size_t len, bool *expired, struct ord_id *id,
				  uint64_t *buyer)
{
	static const char exp[] = "expired ", paid[] = "paid ";
	unsigned long long b;
	size_t k;

	if (len > sizeof(exp) - 1 && memcmp(s, exp, sizeof(exp) - 1) == 0)
		k = sizeof(exp) - 1, *expired = true;
	else if (len > sizeof(paid) - 1 && memcmp(s, paid, sizeof(paid) - 1) == 0)
		k = sizeof(paid) - 1, *expired = false;
	else
		return false;
	if (len < k + ORD_ID_STR_LEN + 2 || s[k + ORD_ID_STR_LEN] != ' ' ||
	    !ord_id_parse(s + k, ORD_ID_STR_LEN, id) ||
	    !str2ull(s + k + ORD_ID_STR_LEN + 1, len - k - ORD_ID_STR_LEN - 1, &b))
		return false;
	*buyer = b;
	return true;
}

/* An order of this run: its book moves (and an expiry frees its buyer). */
static void ctl_sale_events_ours(struct ctl_plane *c, bool expired, struct ord_id id)
{
	enum sale_decision d = expired ? sale_order_expire(c->sale, id) :
		sale_order_paid(c->sale, id);
	char oid[ORD_ID_STR_CAP];

	if (d == SALE_DECIDED) {
		if (expired)
			c->events_st.expired++;
		else
			c->events_st.paid++;
	} else if (d == SALE_DECIDED_BEFORE) {
		c->events_st.repeats++;
	} else {
		c->events_st.conflicts++;
		ord_id_format(id, oid, sizeof(oid));
		fprintf(stderr, "seckill-dp: order service: order %s %s, but this host has it %s; "
			"left as it is\n", oid, expired ? "expired" : "paid",
			d == SALE_DECIDE_UNKNOWN ? "nowhere" : "in another final state");
	}
}

/* ctl_redis_events_read's callback: one event, applied or queued. */
static void ctl_sale_events_one(void *arg, uint32_t campaign, uint64_t index, const char *s,
				size_t len)
{
	struct ctl_sale_events *ev = arg;
	struct ctl_plane *c = ev->c;
	struct ord_id id;
	uint64_t buyer;
	bool expired;

	c->events_st.read++;
	if (!ctl_sale_events_parse(s, len, &expired, &id, &buyer)) {
		if (c->events_st.malformed++ == 0)
			fprintf(stderr, "seckill-dp: order service: seckill:order_events:{%" PRIu32 "}"
				" [%" PRIu64 "] is not 'expired|paid <order id> <buyer>': '%.*s'; "
				"skipped (counted in events.malformed)\n", campaign, index,
				(int)(len > 80 ? 80 : len), s);
		return;
	}
	if (ord_id_node(id) == ev->node && ord_id_epoch(id) == c->epoch) {
		ctl_sale_events_ours(c, expired, id);
		return;
	}
	/* Another host's order, or an earlier run's: no book here holds it. */
	if (!expired || !sale_purchase_held(c->sale, campaign, buyer)) {
		c->events_st.others++;
		return;
	}
	if (ev->n_ask < CTL_SALE_EVENTS_ASK) {
		ev->ask_campaign[ev->n_ask] = campaign;
		ev->ask_buyer[ev->n_ask++] = buyer;
	}
}

/* Redis's answers about the queued buyers: released here unless claimed there. */
static int ctl_sale_events_ask(struct ctl_plane *c, struct ctl_sale_events *ev)
{
	int rc = ctl_redis_events_claims(ev->r, ev->n_ask, ev->ask_campaign, ev->ask_buyer,
					 ev->ask_held);

	if (rc != CTL_REDIS_OK)
		return rc;
	for (unsigned i = 0; i < ev->n_ask; i++) {
		if (ev->ask_held[i])
			c->events_st.kept++;
		else if (sale_purchase_release(c->sale, ev->ask_campaign[i], ev->ask_buyer[i]))
			c->events_st.released++;
	}
	return CTL_REDIS_OK;
}

/* Logs the moments the events stop and start flowing, not every failed poll. */
static void ctl_sale_events_health(struct ctl_plane *c, struct ctl_sale_events *ev, int rc)
{
	if (rc != CTL_REDIS_OK) {
		c->events_st.failures++;
		if (!ev->down)
			fprintf(stderr, "seckill-dp: order service: cannot read its events: %s\n",
				ctl_redis_events_error(ev->r));
		ev->down = true;
	} else if (ev->down) {
		ev->down = false;
		printf("seckill-dp: order service: reading its events again\n");
	}
}

void ctl_sale_events_poll(struct ctl_plane *c)
{
	struct ctl_sale_events *ev = c->events;
	uint64_t now;
	bool more = false;
	int rc;

	if (ev == NULL || (now = now_mono_ms()) < ev->next_poll_ms)
		return;
	ctl_sale_events_track(c, ev);
	ev->n_ask = 0;
	rc = ctl_redis_events_read(ev->r, ev->page, ev->n, CTL_SALE_EVENTS_PAGE,
				   ctl_sale_events_one, ev);
	if (rc == CTL_REDIS_OK)
		rc = ctl_sale_events_ask(c, ev);
	ctl_sale_events_health(c, ev, rc);
	if (rc == CTL_REDIS_OK) {
		for (unsigned i = 0; i < ev->n; i++) {
			struct ctl_redis_events_page *p = &ev->page[i];

			p->from = p->len < p->from ? 0 : p->from + p->n;
			more |= p->n == CTL_SALE_EVENTS_PAGE;
		}
	}
	/* Catching up: the next page at the next pass. */
	ev->next_poll_ms = more ? now : now + CTL_SALE_EVENTS_POLL_MS;
}
