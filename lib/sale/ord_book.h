/*
 * ord_book.h - one core's orders, readable by every core: GET /api/orders/{id}.
 *
 * An order id names the core that sold and that core's sequence number
 * (ord_record.h), so the book is one preallocated array per core indexed by
 * sequence: no hash, no lock, no allocation after create. The owning core is
 * the only writer of an entry's fields; it writes them once, then publishes
 * the entry by storing its status word with release. Any core (a GET for an
 * order sold elsewhere) and the control thread read the status with acquire,
 * and the fields after it. After publication the fields never change; only
 * the status moves, by CAS, done by the control plane from its own thread:
 *
 *   pending -> confirmed -> paid | expired      (the order service's word)
 *   pending -> rejected (with a reason)         (never reached Kafka)
 *   pending -> paid | expired                   (a late delivery report)
 *
 * States only move forward. A CAS makes each transition happen once, so a
 * reject that undoes a sale (returns its stock, releases the buyer's claim)
 * or an expiry that releases the claim can be repeated safely: only one call
 * wins.
 *
 * Capacity is fixed at create: the total stock a core could ever sell plus
 * headroom for stock that is returned and sold again. A full book refuses the
 * sale (503) before any stock moves, never overwrites an order.
 */
#ifndef SECKILL_ORD_BOOK_H
#define SECKILL_ORD_BOOK_H

#include <stdbool.h>
#include <stdint.h>

enum ord_state {
	ORD_EMPTY = 0,      /* no order with this sequence (yet) */
	ORD_PENDING,        /* sold; the control plane has not decided */
	ORD_CONFIRMED,
	ORD_REJECTED,       /* undone: stock returned, buyer may buy again */
	ORD_PAID,           /* the order service says the buyer paid */
	ORD_EXPIRED,        /* unpaid in time: the order service gave the unit back to
	                     * the sale (upstream), the buyer may buy again */
	ORD_STATE_N
};

/* "pending", "confirmed", "rejected", "paid", "expired"; "" for ORD_EMPTY and
 * out of range. */
const char *ord_state_str(enum ord_state s);

/* Why an order was rejected: stable codes for the "reason" field. */
#define ORD_REASONS(X) \
	X(none) X(payment_failed) X(payment_timeout) X(cancelled) \
	X(backend_failed) X(fraud) X(other) \
	X(duplicate)        /* the buyer bought on another host (Redis claim) */ \
	X(released)         /* sold from a holding an operator released; none left */

enum ord_reason {
#define ORD_REASON_ENUM(name) ORD_REASON_##name,
	ORD_REASONS(ORD_REASON_ENUM)
#undef ORD_REASON_ENUM
	ORD_REASON_N
};

/* "payment_failed" ...; NULL for a value out of range. */
const char *ord_reason_str(enum ord_reason r);

/* The status word: state in the low byte, reason in the next. */
#define ORD_STATUS(state, reason) ((uint32_t)(state) | (uint32_t)(reason) << 8)
#define ORD_STATUS_STATE(w) ((enum ord_state)((w) & 0xff))
#define ORD_STATUS_REASON(w) ((enum ord_reason)(((w) >> 8) & 0xff))

struct ord_book_entry {
	uint64_t buyer;
	uint64_t ticket;            /* lim_purchase ticket, to release the claim on reject */
	uint64_t time_ms;           /* Unix ms of the sale */
	uint32_t campaign;
	uint32_t status;            /* ORD_STATUS(); __atomic, release on publish */
};

/* What a reader gets: a copy taken after an acquire load of the status. */
struct ord_book_view {
	uint64_t buyer;
	uint64_t ticket;
	uint64_t time_ms;
	uint32_t campaign;
	enum ord_state state;
	enum ord_reason reason;
};

struct ord_book {
	uint64_t capacity;          /* sequences 1..capacity */
	struct ord_book_entry *e;   /* e[seq - 1] */
};

/* A book for sequences 1..capacity (capacity >= 1), 32 bytes per entry, all
 * mapped and populated now. NULL when memory is short. */
struct ord_book *ord_book_create(uint64_t capacity);
void ord_book_free(struct ord_book *b);

/* Owner: can sequence seq be recorded? Checked before any stock is taken. */
static inline bool ord_book_has_room(const struct ord_book *b, uint64_t seq)
{
	return seq >= 1 && seq <= b->capacity;
}

/* Owner: records a pending order under seq (which must have room and be
 * unused) and publishes it. */
void ord_book_publish(struct ord_book *b, uint64_t seq, uint32_t campaign, uint64_t buyer,
		      uint64_t ticket, uint64_t time_ms);

/* Any thread: copies order seq; false when there is none. */
bool ord_book_get(const struct ord_book *b, uint64_t seq, struct ord_book_view *v);

/*
 * Any thread: moves order seq from `from` to `to` with `reason`, once.
 * Returns 0 when this call made the move, -1 when the order is not in state
 * `from` (absent, or already moved); *now (if not NULL) gets its state then.
 */
int ord_book_move(struct ord_book *b, uint64_t seq, enum ord_state from, enum ord_state to,
		  enum ord_reason reason, enum ord_state *now);

#endif
