/*
 * ctl_prom.c - Prometheus's text format (see ctl_prom.h).
 *
 * Numbers are written exactly: integers as integers (a counter of 2^53 and
 * more stays exact, which a double would not), doubles with %.17g so that
 * they read back as the same value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl_prom.h"

void ctl_prom_init(struct ctl_prom *w, char *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->full = cap == 0;
	if (cap != 0)
		buf[0] = '\0';
}

static void ctl_prom_vput(struct ctl_prom *w, const char *fmt, va_list ap)
{
	int n;

	if (w->full)
		return;
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->full = true;
		w->p[w->len] = '\0';         /* drop the cut line */
		return;
	}
	w->len += (size_t)n;
}

static void ctl_prom_put(struct ctl_prom *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ctl_prom_put(struct ctl_prom *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_prom_vput(w, fmt, ap);
	va_end(ap);
}

void ctl_prom_family(struct ctl_prom *w, const char *name, const char *type, const char *help)
{
	ctl_prom_put(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `name` or `name{labels}`, without the value. */
static void ctl_prom_head(struct ctl_prom *w, const char *name, const char *labels_fmt,
			  va_list ap)
{
	ctl_prom_put(w, "%s", name);
	if (labels_fmt == NULL)
		return;
	ctl_prom_put(w, "{");
	ctl_prom_vput(w, labels_fmt, ap);
	ctl_prom_put(w, "}");
}

void ctl_prom_u64(struct ctl_prom *w, const char *name, uint64_t v, const char *labels_fmt, ...)
{
	va_list ap;

	va_start(ap, labels_fmt);
	ctl_prom_head(w, name, labels_fmt, ap);
	va_end(ap);
	ctl_prom_put(w, " %llu\n", (unsigned long long)v);
}

void ctl_prom_f64(struct ctl_prom *w, const char *name, double v, const char *labels_fmt, ...)
{
	va_list ap;

	va_start(ap, labels_fmt);
	ctl_prom_head(w, name, labels_fmt, ap);
	va_end(ap);
	ctl_prom_put(w, " %.17g\n", v);
}

void ctl_prom_hist_init(struct ctl_prom_hist *h, const double *le, unsigned n)
{
	memset(h, 0, sizeof(*h));
	h->n = n < CTL_PROM_HIST_BUCKETS ? n : CTL_PROM_HIST_BUCKETS;
	memcpy(h->le, le, h->n * sizeof(le[0]));
}

void ctl_prom_hist_observe(struct ctl_prom_hist *h, double v, uint64_t n)
{
	unsigned i = 0;

	while (i < h->n && v > h->le[i])
		i++;
	if (i < h->n)
		h->bucket[i] += n;
	h->count += n;
	h->sum += v * (double)n;
}

void ctl_prom_hist_write(struct ctl_prom *w, const char *name, const char *help,
			 const struct ctl_prom_hist *h)
{
	char line[128];
	uint64_t cum = 0;

	ctl_prom_family(w, name, "histogram", help);
	snprintf(line, sizeof(line), "%s_bucket", name);
	for (unsigned i = 0; i < h->n; i++) {
		cum += h->bucket[i];
		ctl_prom_u64(w, line, cum, "le=\"%g\"", h->le[i]);
	}
	ctl_prom_u64(w, line, h->count, "le=\"+Inf\"");
	snprintf(line, sizeof(line), "%s_sum", name);
	ctl_prom_f64(w, line, h->sum, NULL);
	snprintf(line, sizeof(line), "%s_count", name);
	ctl_prom_u64(w, line, h->count, NULL);
}
