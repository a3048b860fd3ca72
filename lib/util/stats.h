/*
 * stats.h - per-reason counters declared once, printed everywhere.
 *
 * Every module lists its counters in one X-macro, e.g.
 *
 *   #define TCP_STATS(X) X(rx_segs) X(drop_bad_csum) ...
 *   struct tcp_stats { TCP_STATS(STATS_FIELD) };
 *   static const char *const tcp_stats_names[] = { TCP_STATS(STATS_NAME) };
 *
 * so the dataplane's exit report, `seckillctl stats` and telemetry walk the
 * struct as an array of uint64_t with matching names and never fall out of step
 * with the code that increments them. Counters are per core and written by one
 * core only, so plain increments are enough; readers on other threads may see
 * a slightly stale value, never a torn one (aligned 64-bit stores).
 */
#ifndef SECKILL_STATS_H
#define SECKILL_STATS_H

#include <stdint.h>

#define STATS_FIELD(name) uint64_t name;
#define STATS_NAME(name) #name,
#define STATS_COUNT(name) +1

#endif
