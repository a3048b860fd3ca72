/*
 * ord_book.c - the per-core order array: publish once, read anywhere, move by CAS.
 */
#include "ord_book.h"

#include <stdlib.h>

#include "mem_table.h"

static const char *const ord_reason_names[] = {
#define ORD_REASON_NAME(name) #name,
	ORD_REASONS(ORD_REASON_NAME)
#undef ORD_REASON_NAME
};

static const char *const ord_state_names[ORD_STATE_N] = {
	[ORD_EMPTY] = "", [ORD_PENDING] = "pending", [ORD_CONFIRMED] = "confirmed",
	[ORD_REJECTED] = "rejected", [ORD_PAID] = "paid", [ORD_EXPIRED] = "expired",
};

const char *ord_state_str(enum ord_state s)
{
	return (unsigned)s < ORD_STATE_N ? ord_state_names[s] : "";
}

const char *ord_reason_str(enum ord_reason r)
{
	if ((unsigned)r >= ORD_REASON_N)
		return NULL;
	return ord_reason_names[r];
}

static size_t book_bytes(uint64_t capacity)
{
	return (size_t)capacity * sizeof(struct ord_book_entry);
}

struct ord_book *ord_book_create(uint64_t capacity)
{
	struct ord_book *b;

	if (capacity == 0 || capacity > SIZE_MAX / sizeof(struct ord_book_entry))
		return NULL;
	b = malloc(sizeof(*b));
	if (b == NULL)
		return NULL;
	b->capacity = capacity;
	/* Zero (every entry ORD_EMPTY), populated now, as lim_table's, so that
	 * a sale never takes a page fault on a worker core (mem_table.h). */
	b->e = mem_table_map(book_bytes(capacity), true);
	if (b->e == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

void ord_book_free(struct ord_book *b)
{
	if (b == NULL)
		return;
	mem_table_unmap(b->e, book_bytes(b->capacity));
	free(b);
}

void ord_book_publish(struct ord_book *b, uint64_t seq, uint32_t campaign, uint64_t buyer,
		      uint64_t ticket, uint64_t time_ms)
{
	struct ord_book_entry *e = &b->e[seq - 1];

	e->buyer = buyer;
	e->ticket = ticket;
	e->time_ms = time_ms;
	e->campaign = campaign;
	/* Release pairs with the acquire loads in ord_book_get and
	 * ord_book_move: whoever sees PENDING sees the fields above. */
	__atomic_store_n(&e->status, ORD_STATUS(ORD_PENDING, ORD_REASON_none),
			 __ATOMIC_RELEASE);
}

bool ord_book_get(const struct ord_book *b, uint64_t seq, struct ord_book_view *v)
{
	const struct ord_book_entry *e;
	uint32_t w;

	if (!ord_book_has_room(b, seq))
		return false;
	e = &b->e[seq - 1];
	/* Acquire pairs with the release store in ord_book_publish (the fields)
	 * and with the release CAS in ord_book_move (the reason is in the word). */
	w = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
	if (ORD_STATUS_STATE(w) == ORD_EMPTY)
		return false;
	v->buyer = e->buyer;
	v->ticket = e->ticket;
	v->time_ms = e->time_ms;
	v->campaign = e->campaign;
	v->state = ORD_STATUS_STATE(w);
	v->reason = ORD_STATUS_REASON(w);
	return true;
}

int ord_book_move(struct ord_book *b, uint64_t seq, enum ord_state from, enum ord_state to,
		  enum ord_reason reason, enum ord_state *now)
{
	struct ord_book_entry *e;
	uint32_t w, nw = ORD_STATUS(to, reason);

	if (now)
		*now = ORD_EMPTY;
	if (!ord_book_has_room(b, seq))
		return -1;
	e = &b->e[seq - 1];
	/* Acquire: as in ord_book_get, the caller reads the fields after a win. */
	w = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
	do {
		if (ORD_STATUS_STATE(w) != from) {
			if (now)
				*now = ORD_STATUS_STATE(w);
			return -1;
		}
		/* acq_rel: release publishes the new reason to readers; acquire
		 * keeps the winner's reads of the fields after the CAS. */
	} while (!__atomic_compare_exchange_n(&e->status, &w, nw, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if (now)
		*now = to;
	return 0;
}
