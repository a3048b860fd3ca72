/*
 * now.h - the one set of clocks outside the worker cores (Redis's
 * ustime()/mstime() are the model): monotonic for intervals and deadlines,
 * the wall clock only where a time is shown to people or shared with other
 * hosts (campaign starts, order times). The workers' per-burst clock comes
 * from the TSC instead (dataplane/dp_worker.c), anchored to now_wall_ms().
 */
#ifndef SECKILL_NOW_H
#define SECKILL_NOW_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC: never steps back; for timeouts, rates and benchmarks. */
static inline uint64_t now_mono_ns(void) { return now_ts_ns(CLOCK_MONOTONIC); }
static inline uint64_t now_mono_us(void) { return now_mono_ns() / 1000; }
static inline uint64_t now_mono_ms(void) { return now_mono_ns() / 1000000; }

/* CLOCK_REALTIME: Unix time, for what other hosts and people read; seconds
 * where the format has no finer unit (token expiry, the HTTP Date, epochs). */
static inline uint64_t now_wall_ms(void) { return now_ts_ns(CLOCK_REALTIME) / 1000000; }
static inline uint64_t now_wall_s(void) { return now_ts_ns(CLOCK_REALTIME) / 1000000000; }

#endif
