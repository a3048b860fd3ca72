/*
 * ctl_metrics.h - seckill-dp's GET /metrics (Prometheus text format) on a
 * kernel TCP socket of the control thread's own (--metrics-listen), polled
 * from the control loop like the control socket: never blocking, so a slow
 * scraper costs the order drain nothing. Worker cores never see it.
 */
#ifndef SECKILL_CTL_METRICS_H
#define SECKILL_CTL_METRICS_H

#include <stddef.h>

#include "ctl_plane.h"

struct ctl_metrics;

/*
 * Listens on "IP:PORT" (IPv4). NULL with a sentence in err when it cannot
 * (bad address, port taken).
 */
struct ctl_metrics *ctl_metrics_open(const char *listen, struct ctl_plane *ctl, char *err,
				     size_t errlen);
/* Accepts, reads, answers what is ready. NULL is fine. */
void ctl_metrics_poll(struct ctl_metrics *m);
/* Closes every client and the listener. NULL is fine. */
void ctl_metrics_close(struct ctl_metrics *m);

#endif
