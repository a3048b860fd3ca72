/*
 * The order ring's two-thread stress as a plain program (no Criterion), so it
 * also runs in a ThreadSanitizer build, where Criterion cannot start
 * (Snaipe/Criterion#274): meson setup -Db_sanitize=thread, then
 * meson test test_ord_ring_tsan. Same stress as test_ord_ring.c; exits 1 and
 * says what went wrong on any lost, repeated, reordered or foreign record.
 */
#include <inttypes.h>
#include <stdio.h>

#include "test_ord_ring_stress.h"

int main(void)
{
	struct stress st = { .r = ord_ring_create(STRESS_SLOTS) };
	struct ord_record extra;
	int bad = 0;

	if (!st.r) {
		fprintf(stderr, "test_ord_ring_tsan: ord_ring_create failed\n");
		return 1;
	}
	stress_run(&st);
	if (st.first_bad)
		bad = fprintf(stderr, "wrong record where seq %" PRIu64 " was due\n", st.first_bad);
	if (st.received != STRESS_SALES || st.r->cons.dequeued != STRESS_SALES)
		bad = fprintf(stderr, "received %" PRIu64 " of %u\n", st.received, STRESS_SALES);
	if (ord_ring_dequeue_burst(st.r, &extra, 1) != 0)
		bad = fprintf(stderr, "a record beyond the commits\n");
	if (st.refused == 0 || st.r->prod.stats.reserve_full != st.refused)
		bad = fprintf(stderr, "ring never full, or full count %" PRIu64 " != %" PRIu64 "\n",
			      st.r->prod.stats.reserve_full, st.refused);
	if (st.attempts != st.refused + st.cancelled + st.committed || st.r->prod.pending != 0)
		bad = fprintf(stderr, "reservations do not add up\n");
	printf("%u records, %" PRIu64 " refused (ring full), %" PRIu64 " cancelled: %s\n",
	       STRESS_SALES, st.refused, st.cancelled, bad ? "FAIL" : "ok");
	ord_ring_free(st.r);
	return bad ? 1 : 0;
}
