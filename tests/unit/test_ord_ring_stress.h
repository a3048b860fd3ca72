/*
 * The order ring's two-thread stress, shared by test_ord_ring.c (Criterion)
 * and test_ord_ring_tsan.c (a plain program, because Criterion cannot start
 * under ThreadSanitizer: Snaipe/Criterion#274). A producer thread sells the
 * way a core does (reserve or refuse, then commit or cancel, up to three
 * sales in flight); a consumer thread checks that every committed record
 * arrives once, in order, byte for byte, and nothing else does.
 */
#ifndef TEST_ORD_RING_STRESS_H
#define TEST_ORD_RING_STRESS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "ord_ring.h"

static inline struct ord_record rec_of(uint64_t seq)
{
	struct ord_record r = {
		.id = ord_id_make(1700000000, 1, 3, seq),
		.buyer = seq * 2654435761ULL,
		.time_ms = 1700000000000ULL + seq,
		.campaign = (uint32_t)(seq % 7),
		.qty = (uint32_t)(seq % 3) + 1,
	};
	return r;
}

#define STRESS_SALES (2u << 20)     /* 2 M committed records */
#define STRESS_SLOTS 256            /* small, so the ring fills often */
#define STRESS_BURST 32

struct stress {
	struct ord_ring *r;
	atomic_bool saw_full;       /* consumer holds back until the ring has been full */
	uint64_t attempts, refused, cancelled, committed;   /* producer's own tally */
	uint64_t received;
	uint64_t first_bad;         /* seq expected where a wrong record arrived; 0: none */
};

/*
 * The dataplane's pattern: reserve or refuse, then take stock, then commit or
 * cancel; with one to three sales in flight at once, settled in order.
 */
static void *producer(void *arg)
{
	struct stress *st = arg;
	struct ord_idgen gen;
	uint64_t x = 88172645463325252ULL;

	ord_idgen_init(&gen, 1700000000, 1, 3);
	while (st->committed < STRESS_SALES) {
		unsigned want, held = 0;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		for (want = 1 + (unsigned)(x % 3); held < want; held++) {
			st->attempts++;
			if (!ord_ring_reserve(st->r)) {
				st->refused++;      /* 503: no stock was taken */
				atomic_store_explicit(&st->saw_full, true, memory_order_relaxed);
				if ((st->refused & 63) == 0)
					sched_yield();
				break;
			}
		}
		for (; held > 0; held--) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			if (x % 4 == 0 || st->committed == STRESS_SALES) {   /* sold out, duplicate */
				ord_ring_cancel(st->r);
				st->cancelled++;
				continue;
			}
			struct ord_record rec = rec_of(ord_id_seq(ord_idgen_next(&gen)));

			ord_ring_commit(st->r, &rec);
			st->committed++;
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *st = arg;
	struct ord_record out[STRESS_BURST];
	uint64_t next = 1;

	while (!atomic_load_explicit(&st->saw_full, memory_order_relaxed))
		sched_yield();
	while (next <= STRESS_SALES) {
		unsigned n = ord_ring_dequeue_burst(st->r, out, STRESS_BURST);

		if (n == 0) {
			sched_yield();
			continue;
		}
		/* Criterion asserts belong to the test's thread: note, and check there. */
		for (unsigned i = 0; i < n; i++, next++) {
			struct ord_record want = rec_of(next);

			if (st->first_bad == 0 && memcmp(&out[i], &want, sizeof(want)) != 0)
				st->first_bad = next;
		}
	}
	st->received = next - 1;
	return NULL;
}

/* Runs one stress to the end; st->r must be a fresh ring. */
static inline void stress_run(struct stress *st)
{
	pthread_t p, c;

	pthread_create(&c, NULL, consumer, st);
	pthread_create(&p, NULL, producer, st);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
}

#endif
