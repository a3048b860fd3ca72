/*
 * gen_hist.h - a latency histogram for the load generator: constant time per
 * sample, bounded memory, ~3% precision at every scale.
 *
 * Log-linear buckets in the HdrHistogram manner: values below 32 ns each get
 * their own bucket, and every power of two above is split into 32 equal
 * buckets, so a percentile read back is within 1/32 of the true sample
 * whether it is 2 us or 2 s. 1,920 buckets cover all of uint64_t; adding a
 * sample is a count-leading-zeros, a shift and an increment, cheap enough to
 * do for every request at millions a second. Each core keeps its own and the
 * main thread merges them at the end.
 */
#ifndef SECKILL_GEN_HIST_H
#define SECKILL_GEN_HIST_H

#include <stdint.h>

#define GEN_HIST_SUB_BITS 5
#define GEN_HIST_SUB      (1u << GEN_HIST_SUB_BITS)
#define GEN_HIST_BUCKETS  (GEN_HIST_SUB + (64 - GEN_HIST_SUB_BITS) * GEN_HIST_SUB)

struct gen_hist {
	uint64_t n, sum, min, max;
	uint64_t b[GEN_HIST_BUCKETS];
};

void gen_hist_init(struct gen_hist *h);
void gen_hist_merge(struct gen_hist *dst, const struct gen_hist *src);
/* The value at quantile q (0..1): the highest value of the bucket holding
 * it, never above the largest sample; 0 when empty. */
uint64_t gen_hist_quantile(const struct gen_hist *h, double q);

static inline unsigned gen_hist_index(uint64_t v)
{
	unsigned msb;

	if (v < GEN_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return GEN_HIST_SUB + (msb - GEN_HIST_SUB_BITS) * GEN_HIST_SUB +
	       (unsigned)((v >> (msb - GEN_HIST_SUB_BITS)) & (GEN_HIST_SUB - 1));
}

static inline void gen_hist_add(struct gen_hist *h, uint64_t v)
{
	h->b[gen_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

#endif
