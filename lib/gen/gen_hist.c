/*
 * gen_hist.c - merging and reading the latency histogram (gen_hist.h).
 */
#include "gen_hist.h"

#include <string.h>

void gen_hist_init(struct gen_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void gen_hist_merge(struct gen_hist *dst, const struct gen_hist *src)
{
	for (unsigned i = 0; i < GEN_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* The highest value that lands in bucket i. */
static uint64_t gen_hist_bucket_top(unsigned i)
{
	unsigned group, sub, shift;

	if (i < GEN_HIST_SUB)
		return i;
	group = (i - GEN_HIST_SUB) / GEN_HIST_SUB;
	sub = (i - GEN_HIST_SUB) % GEN_HIST_SUB;
	shift = group;    /* values of group g are (32 + sub) << g .. + (1 << g) - 1 */
	return (((uint64_t)(GEN_HIST_SUB + sub) << shift) - 1) + ((uint64_t)1 << shift);
}

uint64_t gen_hist_quantile(const struct gen_hist *h, double q)
{
	uint64_t rank, seen = 0, top;

	if (h->n == 0)
		return 0;
	if (q <= 0)
		return h->min;
	/* The sample of rank ceil(q * n), counting from 1. */
	rank = (uint64_t)(q * (double)h->n);
	if ((double)rank < q * (double)h->n)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	for (unsigned i = 0; i < GEN_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			top = gen_hist_bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
