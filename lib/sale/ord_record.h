/*
 * ord_record.h - one record per sale, and order ids unique across cores,
 * restarts and hosts.
 *
 * Every sale a core makes becomes a struct ord_record handed to the control
 * side through that core's ord_ring (ord_ring.h). The record names the order
 * by a 128-bit id that no other sale, on any core, in any run, on any host,
 * ever gets:
 *
 *   bits 127..96  epoch  the run's boot epoch, Unix seconds (to year 2106)
 *   bits  95..80  node   the host's node id (configured; 0 on a single host)
 *   bits  79..64  core   the core that sold (worker index 0..n-1, not the DPDK lcore id)
 *   bits  63..0   seq    per-core sequence in this run, from 1
 *
 * Text form (GET /api/orders/{order_id}): the four fields in fixed-width
 * lowercase hex, most significant first, separated by dashes:
 *
 *   65f1a2b3-0001-0002-0000000000000007     (35 characters, URL-safe)
 *
 * so sorting the text sorts by run, then node, core and sequence.
 *
 * Why unique: within a run (epoch, node) is fixed and (core, seq) differs
 * because each core counts its own seq and never wraps 64 bits. Across runs
 * of one node the epoch differs: ord_epoch_claim takes max(now, last + 1)
 * with the last epoch kept in a state file, so a restart within the same
 * second, or after the wall clock stepped back, still gets a larger epoch
 * (one dataplane per node claims it, at start-up: it owns the NIC anyway).
 * Across hosts the node id differs (it is configuration; two hosts sharing a
 * node id break the guarantee, so it belongs in each host's config).
 */
#ifndef SECKILL_ORD_RECORD_H
#define SECKILL_ORD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "eeeeeeee-nnnn-cccc-ssssssssssssssss" */
#define ORD_ID_STR_LEN 35
#define ORD_ID_STR_CAP (ORD_ID_STR_LEN + 1)

struct ord_id {
	uint64_t hi;        /* epoch << 32 | node << 16 | core */
	uint64_t lo;        /* seq */
};

/* What one sale leaves behind: 40 bytes, so a ring slot stays under a cache line. */
struct ord_record {
	struct ord_id id;
	uint64_t buyer;     /* token buyer id */
	uint64_t time_ms;   /* Unix time of the sale, milliseconds */
	uint32_t campaign;  /* campaign id the stock was taken from */
	uint32_t qty;       /* units taken */
};

_Static_assert(sizeof(struct ord_record) <= 64, "an order record must fit one cache line");

static inline struct ord_id ord_id_make(uint32_t epoch, uint16_t node, uint16_t core,
					uint64_t seq)
{
	struct ord_id id = {
		.hi = (uint64_t)epoch << 32 | (uint64_t)node << 16 | core,
		.lo = seq,
	};
	return id;
}

static inline uint32_t ord_id_epoch(struct ord_id id) { return (uint32_t)(id.hi >> 32); }
static inline uint16_t ord_id_node(struct ord_id id) { return (uint16_t)(id.hi >> 16); }
static inline uint16_t ord_id_core(struct ord_id id) { return (uint16_t)id.hi; }
static inline uint64_t ord_id_seq(struct ord_id id) { return id.lo; }
static inline bool ord_id_eq(struct ord_id a, struct ord_id b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* Writes the 35-character text and a NUL; returns ORD_ID_STR_LEN, or -1 if cap is short. */
int ord_id_format(struct ord_id id, char *out, size_t cap);

/*
 * Parses exactly the text ord_id_format writes (s[0..len), not NUL-terminated):
 * 35 bytes, lowercase hex, dashes in place. Returns false for anything else;
 * a request path can carry any bytes, so nothing else is accepted.
 */
bool ord_id_parse(const char *s, size_t len, struct ord_id *id);

/* One core's id source: owned by that core, so no atomics. */
struct ord_idgen {
	uint32_t epoch;
	uint16_t node;
	uint16_t core;
	uint64_t next_seq;
};

void ord_idgen_init(struct ord_idgen *g, uint32_t epoch, uint16_t node, uint16_t core);

static inline struct ord_id ord_idgen_next(struct ord_idgen *g)
{
	return ord_id_make(g->epoch, g->node, g->core, g->next_seq++);
}

/*
 * The epoch rule: max(now, last + 1), the first second not before now and
 * after the last run's. False when that does not fit 32 bits (year 2106).
 */
bool ord_epoch_pick(uint64_t now_sec, uint32_t last_epoch, uint32_t *epoch);

/*
 * Picks this run's epoch and records it in state_path before returning, so
 * the next run picks a larger one. A missing file means no earlier run. The
 * file is replaced atomically (write, fsync, rename). Returns 0, or -1 with a
 * sentence in err (cap bytes) saying what failed.
 */
int ord_epoch_claim(const char *state_path, uint64_t now_sec, uint32_t *epoch,
		    char *err, size_t cap);

#endif
