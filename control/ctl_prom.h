/*
 * ctl_prom.h - a small writer of Prometheus's text exposition format (0.0.4),
 * shared by seckill-dp's /metrics (ctl_metrics.c) and seckill-orders'.
 *
 * The format wants each family's samples together, after one `# HELP` and
 * one `# TYPE` line: call ctl_prom_family once, then ctl_prom_u64 (or
 * ctl_prom_f64) for each of its samples. Labels are given as a printf format
 * of `name="value"` pairs; the values are ours (numbers and counter names),
 * never a client's text, so nothing needs escaping. The writer never
 * overflows its buffer: once it is full, `full` is set and the rest is
 * dropped (the caller answers 500 rather than a cut scrape).
 */
#ifndef SECKILL_CTL_PROM_H
#define SECKILL_CTL_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Upper bounds of a histogram's buckets, +Inf aside. */
#define CTL_PROM_HIST_BUCKETS 16

struct ctl_prom {
	char *p;
	size_t len, cap;
	bool full;
};

void ctl_prom_init(struct ctl_prom *w, char *buf, size_t cap);
/* `# HELP name help` and `# TYPE name type` (counter, gauge, histogram). */
void ctl_prom_family(struct ctl_prom *w, const char *name, const char *type, const char *help);
/* One sample: `name{labels} v`; labels_fmt NULL: no labels. */
void ctl_prom_u64(struct ctl_prom *w, const char *name, uint64_t v, const char *labels_fmt, ...)
	__attribute__((format(printf, 4, 5)));
void ctl_prom_f64(struct ctl_prom *w, const char *name, double v, const char *labels_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A histogram kept by one thread (the one that writes it out). */
struct ctl_prom_hist {
	unsigned n;                          /* bounds in le[] */
	double le[CTL_PROM_HIST_BUCKETS];    /* ascending upper bounds */
	uint64_t bucket[CTL_PROM_HIST_BUCKETS];   /* not cumulative: le[i-1] < v <= le[i] */
	uint64_t count;
	double sum;
};

/* le: n ascending bounds (n <= CTL_PROM_HIST_BUCKETS). */
void ctl_prom_hist_init(struct ctl_prom_hist *h, const double *le, unsigned n);
/* Counts n observations of the value v. */
void ctl_prom_hist_observe(struct ctl_prom_hist *h, double v, uint64_t n);
/* The whole family: HELP, TYPE, the cumulative _bucket lines, _sum, _count. */
void ctl_prom_hist_write(struct ctl_prom *w, const char *name, const char *help,
			 const struct ctl_prom_hist *h);

#endif
