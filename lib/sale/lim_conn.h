/*
 * lim_conn.h - nginx limit_conn: how many connections one IPv4 address holds,
 * counted in one lock-free table shared by every worker core.
 *
 * RSS spreads the flows of one address over the cores, so a per-core count
 * would let an address hold the limit on each core; the count lives here,
 * shared. lib/tcp asks through its admission hook (tcp.h, struct tcp_admit)
 * when a handshake completes and tells when the connection is finished; the
 * dataplane wires the hook to this table (dataplane/dp_worker.c).
 *
 * The idea:
 * - One 64-bit word per slot: the address in the high half, its count in the
 *   low half. Every change is one CAS of the whole word, so a count and the
 *   address it belongs to can never be seen apart, and no other memory is
 *   published through a slot: relaxed ordering is enough everywhere (the CAS
 *   is atomic on its one location, which is all an exact count needs).
 * - An address lives in one of the LIM_CONN_PROBE slots after its hashed
 *   position (SipHash-1-3 under a random key: a peer cannot aim at a run).
 *   A slot whose count is 0 is free, whatever address it names: the table
 *   never fills with addresses that have gone. A word of 0 was never used,
 *   and since an address always takes the first free slot of its range, no
 *   address lives past one: scans stop there, so in a table at its usual
 *   load an admit reads a slot or two.
 * - admit: the first slot naming the address with a count is incremented
 *   (refused at the limit); absent, the first free slot is claimed for it
 *   with count 1. Two cores admitting a new address at the same instant,
 *   while a third frees a slot of the range in between, may claim two slots
 *   for it; its count is then split and the later admits go to the first,
 *   so the limit can be exceeded by the racing admits only, once, and the
 *   split heals as its connections close. We accept that rather than a
 *   lock on the accept path.
 * - release: decrements a slot naming the address whose count is above 0.
 *   Each release matches one counted admit, and a slot with a count is never
 *   taken by another address, so there always is one; `unmatched` counts the
 *   impossible case rather than drive a count negative.
 * - No slot free in the address's range: fail open (LIM_CONN_FULL, the caller
 *   counts it). The table has twice as many slots as the connections it can
 *   see, so that means the cores' tables are full of distinct addresses.
 * - The limit is one 32-bit word set at run time (seckillctl limits set);
 *   0 is off: admit touches nothing. A connection admitted while the limit
 *   was off was not counted and is not released.
 */
#ifndef SECKILL_LIM_CONN_H
#define SECKILL_LIM_CONN_H

#include <stddef.h>
#include <stdint.h>

/* Slots an address may use after its hashed one: 4 cache lines. At a load
 * of 0.5 all 32 are taken with a chance of about 1e-8. */
#define LIM_CONN_PROBE 32
/* The largest limit: the count is the word's low 32 bits. */
#define LIM_CONN_MAX UINT32_MAX

enum lim_conn_verdict {
	LIM_CONN_REFUSE,     /* the address holds the limit already */
	LIM_CONN_COUNTED,    /* admitted and counted: lim_conn_release once at its end */
	LIM_CONN_OFF,        /* the limit is off: admitted, not counted */
	LIM_CONN_FULL,       /* no free slot in the address's range: admitted, not counted */
};

struct lim_conn;

/* A table for up to `conns` connections at once (every core's table
 * together), limit per address (0: off). sipkey NULL: random. NULL (errno
 * set) on a bad argument or no memory. */
struct lim_conn *lim_conn_create(size_t conns, uint32_t limit, const uint64_t sipkey[2]);
void lim_conn_free(struct lim_conn *t);

/* Any thread, at any time; the next admit sees it. */
void lim_conn_set_limit(struct lim_conn *t, uint32_t limit);
uint32_t lim_conn_limit(const struct lim_conn *t);

/* ip in network order (any fixed order works, as long as it is the same);
 * 0.0.0.0, no peer's address, is let in uncounted (LIM_CONN_OFF). */
enum lim_conn_verdict lim_conn_admit(struct lim_conn *t, uint32_t ip);
void lim_conn_release(struct lim_conn *t, uint32_t ip);

/* The connections counted for ip now (all its slots); for tests and tools. */
uint32_t lim_conn_count(const struct lim_conn *t, uint32_t ip);
/* Addresses holding at least one counted connection (walks the table). */
size_t lim_conn_addresses(const struct lim_conn *t);
/* Releases that found no count to take: a bug if ever above 0. */
uint64_t lim_conn_unmatched(const struct lim_conn *t);
/* Bytes of the slot array (the README's sizing table). */
size_t lim_conn_bytes(const struct lim_conn *t);

#endif
