/*
 * sale_ctl.c - everything around the buy decision: reads for the GET routes
 * (any worker), and the control plane's operations (its own thread): campaign
 * state, order confirm/reject, paid/expired, blacklists.
 *
 * The control operations never wait for a worker and a worker never waits
 * for them: each is one atomic store or CAS on a word the workers read
 * (a campaign's state, an order's status, a blacklist value word).
 */
#include "sale.h"

#include <errno.h>
#include <string.h>

#include "sale_priv.h"

static const char *const sale_phase_names[] = { "scheduled", "open", "sold_out", "closed" };

const char *sale_phase_str(enum sale_phase p)
{
	return (unsigned)p <= SALE_PHASE_CLOSED ? sale_phase_names[p] : "unknown";
}

int sale_campaign_set_state(struct sale *s, uint32_t id, enum sale_state st)
{
	struct sale_campaign *cp = sale_campaign_find(s, id);

	if (cp == NULL || (unsigned)st > SALE_CLOSED_STATE)
		return -ENOENT;
	/* Relaxed: see sale_gate in sale.c. */
	atomic_store_explicit(&cp->state, (uint32_t)st, memory_order_relaxed);
	return 0;
}

int sale_campaign_set_pow(struct sale *s, uint32_t id, unsigned bits)
{
	struct sale_campaign *cp = sale_campaign_find(s, id);

	if (cp == NULL)
		return -ENOENT;
	if (bits > POW_MAX_BITS)
		return -EINVAL;
	/* Relaxed: see sale_pow in sale.c. */
	atomic_store_explicit(&cp->pow_bits, bits, memory_order_relaxed);
	return 0;
}

bool sale_campaign_get(struct sale_core *c, uint32_t id, uint64_t now_ms,
		       struct sale_campaign_view *v)
{
	if (!sale_campaign_info(c->s, id, now_ms, v))
		return false;
	c->stats.gets_campaign++;
	return true;
}

struct stock_pool *sale_campaign_pool(struct sale *s, uint32_t id)
{
	struct sale_campaign *cp = sale_campaign_find(s, id);

	return cp ? cp->pool : NULL;
}

bool sale_campaign_results(struct sale *s, uint32_t id, uint64_t out[SALE_RESULT_N])
{
	struct sale_campaign *cp = sale_campaign_find(s, id);
	size_t slot;

	memset(out, 0, SALE_RESULT_N * sizeof(out[0]));
	if (cp == NULL)
		return false;
	slot = (size_t)(cp - s->camp);
	for (unsigned i = 0; i < s->conf.n_cores; i++)
		for (unsigned r = 0; r < SALE_RESULT_N; r++)
			out[r] += s->cores[i].camp_results[slot][r];
	return true;
}

bool sale_purchase_held(struct sale *s, uint32_t campaign, uint64_t buyer)
{
	return lim_purchase_held(s->purchase, campaign, buyer);
}

struct ord_ring *sale_ring(struct sale *s, unsigned i)
{
	return i < s->conf.n_cores ? s->cores[i].ring : NULL;
}

/* The book that may hold id, or NULL when the id is not from this run. */
static struct ord_book *sale_book_of(struct sale *s, struct ord_id id)
{
	if (ord_id_epoch(id) != s->conf.epoch || ord_id_node(id) != s->conf.node ||
	    ord_id_core(id) >= s->conf.n_cores)
		return NULL;
	return s->cores[ord_id_core(id)].book;
}

bool sale_order_get(struct sale *s, struct ord_id id, struct ord_book_view *v)
{
	struct ord_book *b = sale_book_of(s, id);

	return b != NULL && ord_book_get(b, ord_id_seq(id), v);
}

static void ctl_count(struct sale *s, int which)
{
	atomic_fetch_add_explicit(&s->ctl[which], 1, memory_order_relaxed);
}

/* Moves id from pending to `to`; the decision, and on a win the order's fields. */
static enum sale_decision sale_decide(struct sale *s, struct ord_id id, enum ord_state to,
				      enum ord_reason reason, struct ord_book_view *v)
{
	struct ord_book *b = sale_book_of(s, id);
	enum ord_state now;

	if (b == NULL || ord_book_move(b, ord_id_seq(id), ORD_PENDING, to, reason, &now) < 0) {
		if (b == NULL || now == ORD_EMPTY) {
			ctl_count(s, CTL_UNKNOWN);
			return SALE_DECIDE_UNKNOWN;
		}
		/* A paid or expired order was confirmed on its way there. */
		if (to == ORD_CONFIRMED && (now == ORD_PAID || now == ORD_EXPIRED))
			now = to;
		ctl_count(s, now == to ? CTL_REPEAT : CTL_CONFLICT);
		return now == to ? SALE_DECIDED_BEFORE : SALE_DECIDE_CONFLICT;
	}
	/* The fields never change after publication; the CAS's acquire made
	 * them visible, so this read cannot fail. */
	ord_book_get(b, ord_id_seq(id), v);
	return SALE_DECIDED;
}

enum sale_decision sale_order_confirm(struct sale *s, struct ord_id id)
{
	struct ord_book_view v;
	enum sale_decision d = sale_decide(s, id, ORD_CONFIRMED, ORD_REASON_none, &v);

	if (d == SALE_DECIDED)
		ctl_count(s, CTL_CONFIRMED);
	return d;
}

enum sale_decision sale_order_reject(struct sale *s, struct ord_id id, enum ord_reason reason)
{
	struct ord_book_view v;
	struct sale_campaign *cp;
	enum sale_decision d;

	if ((unsigned)reason >= ORD_REASON_N)
		reason = ORD_REASON_other;
	d = sale_decide(s, id, ORD_REJECTED, reason, &v);
	if (d != SALE_DECIDED)
		return d;
	/* Only the winner of the CAS gets here: the claim first, so the buyer
	 * may buy again, then the unit, so somebody can. */
	lim_purchase_release(s->purchase, v.campaign, v.buyer, v.ticket, NULL);
	cp = sale_campaign_find(s, v.campaign);
	if (cp)
		stock_return(cp->pool, 1);
	ctl_count(s, CTL_REJECTED);
	return d;
}

/*
 * Moves id from pending or confirmed to `to` (paid or expired), releasing
 * the buyer's claim first when `release`. States only move forward (pending,
 * confirmed, then one final state), so the loop tries each at most once.
 */
static enum sale_decision sale_finish(struct sale *s, struct ord_id id, enum ord_state to,
				      bool release)
{
	struct ord_book *b = sale_book_of(s, id);
	struct ord_book_view v;
	enum ord_state now;

	/* ord_book_get's acquire load pairs with the release store that
	 * published the entry: the ticket read here is the claim's. */
	if (b == NULL || !ord_book_get(b, ord_id_seq(id), &v)) {
		ctl_count(s, CTL_UNKNOWN);
		return SALE_DECIDE_UNKNOWN;
	}
	now = v.state;
	/* Before the status moves, so nobody reads "expired" while the claim is
	 * still held. By the order's ticket: exact, and a no-op when repeated.
	 * Only while the order is live: a rejected one gave its claim back, and
	 * paid and expired exclude each other (the order service's row lock). */
	if (release && (now == ORD_PENDING || now == ORD_CONFIRMED))
		lim_purchase_release(s->purchase, v.campaign, v.buyer, v.ticket, NULL);
	while (now == ORD_PENDING || now == ORD_CONFIRMED) {
		if (ord_book_move(b, ord_id_seq(id), now, to, ORD_REASON_none, &now) == 0) {
			ctl_count(s, to == ORD_PAID ? CTL_PAID : CTL_EXPIRED);
			return SALE_DECIDED;
		}
	}
	ctl_count(s, now == to ? CTL_REPEAT : CTL_CONFLICT);
	return now == to ? SALE_DECIDED_BEFORE : SALE_DECIDE_CONFLICT;
}

enum sale_decision sale_order_paid(struct sale *s, struct ord_id id)
{
	return sale_finish(s, id, ORD_PAID, false);
}

enum sale_decision sale_order_expire(struct sale *s, struct ord_id id)
{
	return sale_finish(s, id, ORD_EXPIRED, true);
}

bool sale_purchase_release(struct sale *s, uint32_t campaign, uint64_t buyer)
{
	return lim_purchase_release_held(s->purchase, campaign, buyer, NULL) == 0;
}

void sale_ctl_stats(const struct sale *s, struct sale_ctl_stats *out)
{
	struct sale *m = (struct sale *)s;   /* atomic loads take non-const */

	out->confirmed = atomic_load_explicit(&m->ctl[CTL_CONFIRMED], memory_order_relaxed);
	out->rejected = atomic_load_explicit(&m->ctl[CTL_REJECTED], memory_order_relaxed);
	out->decide_repeat = atomic_load_explicit(&m->ctl[CTL_REPEAT], memory_order_relaxed);
	out->decide_conflict = atomic_load_explicit(&m->ctl[CTL_CONFLICT], memory_order_relaxed);
	out->decide_unknown = atomic_load_explicit(&m->ctl[CTL_UNKNOWN], memory_order_relaxed);
	out->paid = atomic_load_explicit(&m->ctl[CTL_PAID], memory_order_relaxed);
	out->expired = atomic_load_explicit(&m->ctl[CTL_EXPIRED], memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Blacklists: a lim_table used as a set (value SALE_LISTED = listed).  */
/* ------------------------------------------------------------------ */

static bool not_listed(uint64_t value, void *ctx)
{
	(void)ctx;
	return value != SALE_LISTED;
}

static int sale_black_add(struct lim_table *t, _Atomic uint64_t *n, uint64_t key)
{
	uint64_t *val = NULL;

	switch (lim_table_get(t, &key, true, &val)) {
	case LIM_T_FOUND:
	case LIM_T_INSERTED:
		break;
	case LIM_T_FULL:
		/* Recycle a slot whose key was deleted: its value is not LISTED. */
		val = lim_table_evict(t, key, not_listed, NULL);
		if (val == NULL)
			return -ENOSPC;
		break;
	default:
		return -EINVAL;
	}
	if (__atomic_load_n(val, __ATOMIC_RELAXED) == SALE_LISTED)
		return 0;
	/* Release pairs with the acquire in sale_listed. The count only lets
	 * workers skip the look-up while the lists are empty; a worker may see
	 * a new entry a few ns late, as with any run-time list change. */
	atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
	__atomic_store_n(val, SALE_LISTED, __ATOMIC_RELEASE);
	return 0;
}

static int sale_black_del(struct lim_table *t, _Atomic uint64_t *n, uint64_t key)
{
	uint64_t *val;

	if (lim_table_get(t, &key, false, &val) != LIM_T_FOUND ||
	    __atomic_load_n(val, __ATOMIC_RELAXED) != SALE_LISTED)
		return -ENOENT;
	/* 0 = not listed; lim_table_evict may recycle the slot later. */
	__atomic_store_n(val, 0, __ATOMIC_RELEASE);
	atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
	return 0;
}

int sale_blacklist_ip_add(struct sale *s, uint32_t ip)
{
	return sale_black_add(s->black_ip, &s->black_ip_n, ip);
}

int sale_blacklist_ip_del(struct sale *s, uint32_t ip)
{
	return sale_black_del(s->black_ip, &s->black_ip_n, ip);
}

bool sale_blacklist_ip_has(struct sale *s, uint32_t ip)
{
	return sale_listed(s->black_ip, ip);
}

int sale_blacklist_buyer_add(struct sale *s, uint64_t buyer)
{
	if (buyer == UINT64_MAX)
		return -EINVAL;
	return sale_black_add(s->black_buyer, &s->black_buyer_n, buyer);
}

int sale_blacklist_buyer_del(struct sale *s, uint64_t buyer)
{
	return sale_black_del(s->black_buyer, &s->black_buyer_n, buyer);
}

bool sale_blacklist_buyer_has(struct sale *s, uint64_t buyer)
{
	return sale_listed(s->black_buyer, buyer);
}

/*
 * A restart must not sell again what an earlier run sold: the campaign's
 * stock is given again on the command line, but the journal still holds the
 * earlier orders. Each one takes its unit back out of the pool and its buyer
 * back into the purchase set, so the sale resumes where it stopped. Before
 * the workers start only: stock_take for share 0 needs the one thread that
 * owns it, and nobody owns it yet.
 */
enum sale_restore sale_restore_order(struct sale *s, const struct ord_record *rec)
{
	struct sale_campaign *cp = sale_campaign_find(s, rec->campaign);
	uint64_t ticket;

	if (cp == NULL)
		return SALE_RESTORE_NO_CAMPAIGN;
	switch (lim_purchase_claim(s->purchase, rec->campaign, rec->buyer, &ticket, NULL)) {
	case LIM_CLAIMED:
		break;
	case LIM_ALREADY:
		/* A second record of one purchase is one unit, not two. */
		return SALE_RESTORE_DUPLICATE;
	default:
		return SALE_RESTORE_FULL;
	}
	/* An upstream campaign's unit was taken upstream by the earlier run
	 * and is still held there by this host: it comes back as a grant. */
	if (stock_upstream(cp->pool))
		stock_grant(cp->pool, 1);
	/* stock_take counts the unit as sold by share 0. */
	if (stock_take(cp->pool, 0) != STOCK_OK) {
		lim_purchase_release(s->purchase, rec->campaign, rec->buyer, ticket, NULL);
		return SALE_RESTORE_OVERSOLD;
	}
	return SALE_RESTORE_OK;
}
