/*
 * stock_chunk.h - how many units a taker may pull from a shared pool at once.
 *
 * Used by the per-core stock shares (stock_pool.c) and by each host that
 * takes stock from Redis (control/ctl_sale_redis.c; the same rule, ported to
 * Lua, is in control/ctl_redis_lua.h): both face the same trade-off. Big
 * chunks mean few writes to the shared counter; small chunks mean little
 * stock sits idle in one taker while another turns buyers away. The rule
 * grows the chunk with what is left and shrinks it as the pool drains:
 *
 *   chunk = min(max_chunk, max(1, remaining / (2 * n_takers)))
 *
 * If every taker grabs a chunk at the same moment they take at most half of
 * what is left, so the pool always keeps a reserve for the taker that runs dry
 * first. Near the end chunks are 1, so the pool is only ever emptied by a
 * single-unit take: chunk < remaining whenever remaining > 1.
 */
#ifndef SECKILL_STOCK_CHUNK_H
#define SECKILL_STOCK_CHUNK_H

#include <stdint.h>

/*
 * Units to take from a pool holding `remaining`, shared by `n_takers`
 * (0 is treated as 1), never more than `max_chunk` (0 is treated as 1).
 * Returns 0 only when remaining is 0; otherwise 1 <= chunk <= remaining.
 */
static inline uint64_t
stock_chunk_size(uint64_t remaining, unsigned n_takers, uint64_t max_chunk)
{
	uint64_t chunk;

	if (remaining == 0)
		return 0;
	if (n_takers == 0)
		n_takers = 1;
	if (max_chunk == 0)
		max_chunk = 1;
	chunk = remaining / (2 * (uint64_t)n_takers);
	if (chunk < 1)
		chunk = 1;
	if (chunk > max_chunk)
		chunk = max_chunk;
	return chunk;
}

#endif
