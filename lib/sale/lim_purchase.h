/*
 * lim_purchase.h - the purchase set: at most one live sale per (campaign, buyer).
 *
 * Every worker core asks the same shared set before it takes stock for an
 * order. lim_purchase_claim is one CAS on the key's state word, so of any
 * number of concurrent claims of one (campaign, buyer), on any cores, exactly
 * one returns LIM_CLAIMED; the others see LIM_ALREADY (answer 409).
 *
 * Policy when full: the set never drops or evicts an entry. A buyer whose key
 * finds no room gets LIM_FULL (answer 503, counted in purchase_full) and no
 * sale - never a second sale for somebody already in the set.
 *
 * Release: an order rejected after the claim (no stock, payment refused)
 * calls lim_purchase_release with the ticket the claim returned, and the buyer
 * may claim again. The slot stays bound to its key for ever; its state word is
 * (generation << 1 | held), and a claim moves it to (generation + 1, held).
 * A release only succeeds for the current generation, so a late or repeated
 * release of an earlier claim can never free a newer one (which would let two
 * claims win).
 *
 * Keys: any campaign and buyer id except UINT64_MAX (LIM_INVALID).
 */
#ifndef SECKILL_LIM_PURCHASE_H
#define SECKILL_LIM_PURCHASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lim_table.h"
#include "stats.h"

enum lim_claim {
	LIM_CLAIMED, /* this caller won: go ahead with the order */
	LIM_ALREADY, /* the buyer holds a claim in this campaign: 409 */
	LIM_FULL,    /* no room for a new buyer: 503 */
	LIM_INVALID, /* an id is UINT64_MAX: 400 */
};

#define LIM_PURCHASE_STATS(X)                                                 \
	X(purchase_claimed)       /* won a claim */                             \
	X(purchase_already)       /* buyer already holds one: 409 */            \
	X(purchase_full)          /* set full for this key: 503, no sale */     \
	X(purchase_invalid)       /* id UINT64_MAX */                           \
	X(purchase_released)      /* a rejected order gave its claim back */    \
	X(purchase_release_stale) /* release with a ticket that is not current */

struct lim_purchase_stats {
	LIM_PURCHASE_STATS(STATS_FIELD)
};
extern const char *const lim_purchase_stats_names[];

struct lim_purchase {
	struct lim_table *t; /* 2-word keys (campaign, buyer) */
};

/* Room for `capacity` (campaign, buyer) keys; sipkey NULL = random.
 * NULL on bad argument or no memory (errno set). */
struct lim_purchase *lim_purchase_create(size_t capacity, const uint64_t sipkey[2]);
void lim_purchase_free(struct lim_purchase *set);
/* lim_table_prefetch for (campaign, buyer): call it as soon as the buyer is
 * known and claim after the other checks. */
void lim_purchase_prefetch(const struct lim_purchase *set, uint64_t campaign, uint64_t buyer);
/* The slot lim_purchase_prefetch loads (lim_table_slot). */
const void *lim_purchase_slot(const struct lim_purchase *set, uint64_t campaign, uint64_t buyer);

/* Claim the sale for (campaign, buyer). On LIM_CLAIMED, *ticket (if not NULL)
 * receives the claim's ticket, for lim_purchase_release. Lock-free; `st` (may
 * be NULL) is the calling core's counters. */
enum lim_claim lim_purchase_claim(struct lim_purchase *set, uint64_t campaign,
				  uint64_t buyer, uint64_t *ticket,
				  struct lim_purchase_stats *st);

/* Give back the claim `ticket` of (campaign, buyer) because its order was
 * rejected. Returns 0, or -1 when that claim is not the current held one
 * (already released, or a newer claim exists): nothing changes then. */
int lim_purchase_release(struct lim_purchase *set, uint64_t campaign, uint64_t buyer,
			 uint64_t ticket, struct lim_purchase_stats *st);

/*
 * Give back the claim (campaign, buyer) holds now, whichever it is: for an
 * order whose ticket this set never gave out (another host's, or an earlier
 * run's restored from the journal) that the order service expired. Returns
 * 0 when a held claim was released, -1 when none was held (nothing changes:
 * idempotent). Only the claim seen held at the call is released: one that
 * is released and taken again meanwhile is left alone.
 */
int lim_purchase_release_held(struct lim_purchase *set, uint64_t campaign, uint64_t buyer,
			      struct lim_purchase_stats *st);

/* True when (campaign, buyer) holds a claim right now. */
bool lim_purchase_held(struct lim_purchase *set, uint64_t campaign, uint64_t buyer);

#endif
