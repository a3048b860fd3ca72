/*
 * lim_purchase.c - one winner per (campaign, buyer), across all cores, no lock.
 *
 * Two facts make it exact:
 * - lim_table puts every concurrent inserter of one key into the same slot
 *   (slots are claimed word by word and never recycled in a 2-word table);
 * - the claim is a CAS of that slot's state word from "free, generation g" to
 *   "held, generation g + 1": CASes on one word are totally ordered, so only
 *   the first one from a given free state succeeds.
 */
#include "lim_purchase.h"

#include <errno.h>
#include <stdlib.h>

const char *const lim_purchase_stats_names[] = { LIM_PURCHASE_STATS(STATS_NAME) };
_Static_assert(sizeof(struct lim_purchase_stats) == sizeof(lim_purchase_stats_names) /
	       sizeof(lim_purchase_stats_names[0]) * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

#define HELD UINT64_C(1)

static inline uint64_t gen_of(uint64_t state) { return state >> 1; }

struct lim_purchase *lim_purchase_create(size_t capacity, const uint64_t sipkey[2])
{
	struct lim_purchase *set = calloc(1, sizeof(*set));

	if (set == NULL)
		return NULL;
	set->t = lim_table_create(capacity, 2, sipkey);
	if (set->t == NULL) {
		int e = errno;

		free(set);
		errno = e;
		return NULL;
	}
	return set;
}

void lim_purchase_free(struct lim_purchase *set)
{
	if (set == NULL)
		return;
	lim_table_free(set->t);
	free(set);
}

static enum lim_claim count(struct lim_purchase_stats *st, enum lim_claim c)
{
	if (st == NULL)
		return c;
	switch (c) {
	case LIM_CLAIMED: st->purchase_claimed++; break;
	case LIM_ALREADY: st->purchase_already++; break;
	case LIM_FULL: st->purchase_full++; break;
	case LIM_INVALID: st->purchase_invalid++; break;
	}
	return c;
}

const void *lim_purchase_slot(const struct lim_purchase *set, uint64_t campaign, uint64_t buyer)
{
	const uint64_t key[2] = { campaign, buyer };

	return lim_table_slot(set->t, key);
}

void lim_purchase_prefetch(const struct lim_purchase *set, uint64_t campaign, uint64_t buyer)
{
	const uint64_t key[2] = { campaign, buyer };

	lim_table_prefetch(set->t, key);
}

enum lim_claim lim_purchase_claim(struct lim_purchase *set, uint64_t campaign,
				  uint64_t buyer, uint64_t *ticket,
				  struct lim_purchase_stats *st)
{
	const uint64_t key[2] = { campaign, buyer };
	uint64_t *state, s;

	switch (lim_table_get(set->t, key, true, &state)) {
	case LIM_T_FOUND:
	case LIM_T_INSERTED:
		break;
	case LIM_T_BADKEY:
		return count(st, LIM_INVALID);
	default: /* FULL; ABSENT and BUSY do not happen with insert on 2 words */
		return count(st, LIM_FULL);
	}
	/* Acquire pairs with the release CAS in lim_purchase_release: a core
	 * that sees the claim given back also sees what the releasing core did
	 * before it (e.g. the stock it put back). */
	s = __atomic_load_n(state, __ATOMIC_ACQUIRE);
	do {
		if (s & HELD)
			return count(st, LIM_ALREADY);
		/* The exactly-one-winner property needs only the CAS itself
		 * (one word, total modification order); acq_rel makes the win a
		 * release too, so a later releaser/claimer sees this core's
		 * writes made before claiming. On failure s is reloaded with
		 * acquire for the same reason as the load above. */
	} while (!__atomic_compare_exchange_n(state, &s, ((gen_of(s) + 1) << 1) | HELD,
					      false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if (ticket != NULL)
		*ticket = gen_of(s) + 1;
	return count(st, LIM_CLAIMED);
}

int lim_purchase_release(struct lim_purchase *set, uint64_t campaign, uint64_t buyer,
			 uint64_t ticket, struct lim_purchase_stats *st)
{
	const uint64_t key[2] = { campaign, buyer };
	uint64_t *state, held = (ticket << 1) | HELD;

	if (lim_table_get(set->t, key, false, &state) != LIM_T_FOUND ||
	    /* Release: pairs with the acquire loads in lim_purchase_claim.
	     * Only the exact (ticket, held) state is given back, so a stale
	     * ticket can never free a newer claim. */
	    !__atomic_compare_exchange_n(state, &held, ticket << 1, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
		if (st) st->purchase_release_stale++;
		return -1;
	}
	if (st) st->purchase_released++;
	return 0;
}

int lim_purchase_release_held(struct lim_purchase *set, uint64_t campaign, uint64_t buyer,
			      struct lim_purchase_stats *st)
{
	const uint64_t key[2] = { campaign, buyer };
	uint64_t *state, s;

	if (lim_table_get(set->t, key, false, &state) != LIM_T_FOUND)
		return -1;
	/* Acquire pairs with the acq_rel CAS of the claim that set this state,
	 * as the loads in lim_purchase_claim do: the generation read is that
	 * claim's ticket. */
	s = __atomic_load_n(state, __ATOMIC_ACQUIRE);
	if (!(s & HELD))
		return -1;
	/* Exactly that claim: lim_purchase_release's CAS (release, pairing with
	 * the acquire loads in lim_purchase_claim) fails if the state moved since
	 * the load, so a newer claim is never freed by a look at an older one. */
	return lim_purchase_release(set, campaign, buyer, gen_of(s), st);
}

bool lim_purchase_held(struct lim_purchase *set, uint64_t campaign, uint64_t buyer)
{
	const uint64_t key[2] = { campaign, buyer };
	uint64_t *state;

	if (lim_table_get(set->t, key, false, &state) != LIM_T_FOUND)
		return false;
	/* Acquire pairs with the release CASes of claim and release. */
	return __atomic_load_n(state, __ATOMIC_ACQUIRE) & HELD;
}
