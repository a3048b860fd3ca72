/* lib/sale/lim_conn.c: per-address connection counts shared by the cores
 * (nginx limit_conn): admit up to the limit then refuse, release gives a
 * place back, the limit changed live and switched off, slots of gone
 * addresses reused, a full range failing open, and two threads admitting
 * and releasing the same addresses without a count lost or driven below 0. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>

#include "lim_conn.h"

static const uint64_t key[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

#define IP(n) ((uint32_t)(0xc6120000u + (n)))   /* 198.18.x.y, any order is fine */

Test(lim_conn, admits_up_to_the_limit_then_refuses)
{
	struct lim_conn *t = lim_conn_create(1024, 3, key);

	cr_assert_not_null(t);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE, "a refusal takes nothing");
	cr_assert_eq(lim_conn_count(t, IP(1)), 3);
	cr_assert_eq(lim_conn_admit(t, IP(2)), LIM_CONN_COUNTED, "another address is apart");
	cr_assert_eq(lim_conn_addresses(t), 2);
	lim_conn_free(t);
}

Test(lim_conn, release_gives_a_place_back)
{
	struct lim_conn *t = lim_conn_create(1024, 2, key);

	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE);
	lim_conn_release(t, IP(1));
	cr_assert_eq(lim_conn_count(t, IP(1)), 1);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED);
	lim_conn_release(t, IP(1));
	lim_conn_release(t, IP(1));
	cr_assert_eq(lim_conn_count(t, IP(1)), 0);
	cr_assert_eq(lim_conn_addresses(t), 0);
	cr_assert_eq(lim_conn_unmatched(t), 0);
	lim_conn_free(t);
}

Test(lim_conn, release_without_admit_is_counted_not_negative)
{
	struct lim_conn *t = lim_conn_create(1024, 2, key);

	lim_conn_release(t, IP(9));
	cr_assert_eq(lim_conn_unmatched(t), 1);
	cr_assert_eq(lim_conn_count(t, IP(9)), 0);
	cr_assert_eq(lim_conn_admit(t, IP(9)), LIM_CONN_COUNTED);
	cr_assert_eq(lim_conn_admit(t, IP(9)), LIM_CONN_COUNTED);
	cr_assert_eq(lim_conn_admit(t, IP(9)), LIM_CONN_REFUSE, "the limit is intact");
	lim_conn_free(t);
}

Test(lim_conn, off_counts_nothing_and_switches_on_live)
{
	struct lim_conn *t = lim_conn_create(1024, 0, key);

	for (int i = 0; i < 10; i++)
		cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_OFF);
	cr_assert_eq(lim_conn_count(t, IP(1)), 0);
	lim_conn_set_limit(t, 1);
	cr_assert_eq(lim_conn_limit(t), 1);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED,
		     "those let in while off are not counted");
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE);
	lim_conn_set_limit(t, 3);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED, "raised: room at once");
	lim_conn_set_limit(t, 1);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE, "lowered below the count");
	lim_conn_release(t, IP(1));
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_REFUSE, "still at the lower limit");
	lim_conn_release(t, IP(1));
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_COUNTED);
	lim_conn_set_limit(t, 0);
	cr_assert_eq(lim_conn_admit(t, IP(1)), LIM_CONN_OFF);
	lim_conn_release(t, IP(1));         /* the one counted while on */
	cr_assert_eq(lim_conn_count(t, IP(1)), 0);
	cr_assert_eq(lim_conn_unmatched(t), 0);
	lim_conn_free(t);
}

/* A million short-lived addresses through a table sized for 64
 * connections: the slots of addresses that left are taken again. */
Test(lim_conn, slots_of_gone_addresses_are_reused)
{
	struct lim_conn *t = lim_conn_create(32, 4, key);

	cr_assert_eq(lim_conn_bytes(t), 64 * sizeof(uint64_t));
	for (uint32_t i = 0; i < 1000000; i++) {
		cr_assert_eq(lim_conn_admit(t, IP(i)), LIM_CONN_COUNTED, "address %u", i);
		if (i >= 20)
			lim_conn_release(t, IP(i - 20));
	}
	for (uint32_t i = 1000000 - 20; i < 1000000; i++)
		lim_conn_release(t, IP(i));
	cr_assert_eq(lim_conn_addresses(t), 0);
	cr_assert_eq(lim_conn_unmatched(t), 0);
	lim_conn_free(t);
}

/* Every slot held by a live address: a new one is let in uncounted (a limit
 * is load shedding; the table never refuses for its own sake). */
Test(lim_conn, full_range_fails_open)
{
	struct lim_conn *t = lim_conn_create(1, 1, key);      /* 64 slots */
	uint32_t held[128];
	unsigned n = 0, full = 0;

	for (uint32_t i = 0; i < 128; i++) {
		enum lim_conn_verdict v = lim_conn_admit(t, IP(i));

		cr_assert(v == LIM_CONN_COUNTED || v == LIM_CONN_FULL);
		if (v == LIM_CONN_COUNTED)
			held[n++] = IP(i);
		else
			full++;
	}
	cr_assert_eq(n, 64, "every slot used before failing open");
	cr_assert_eq(full, 64);
	cr_assert_eq(lim_conn_admit(t, held[0]), LIM_CONN_REFUSE, "held addresses still limited");
	for (unsigned i = 0; i < n; i++)
		lim_conn_release(t, held[i]);
	cr_assert_eq(lim_conn_unmatched(t), 0);
	cr_assert_eq(lim_conn_admit(t, IP(1000)), LIM_CONN_COUNTED, "room again");
	lim_conn_free(t);
}

Test(lim_conn, bad_arguments)
{
	cr_assert_null(lim_conn_create(0, 1, key));
}

/* Two worker cores: each admits and releases connections of the same few
 * addresses at random, keeping its own list of what it holds. The shared
 * count must never let an address hold more than the limit plus the racing
 * admits lim_conn.h allows (one per other core), and at the end every count
 * is back to 0 with no release unmatched. */
#define STRESS_THREADS 2
#define STRESS_IPS 8
#define STRESS_LIMIT 5
#define STRESS_ITERS 400000
#define STRESS_HOLD 64

struct stress {
	struct lim_conn *t;
	unsigned seed;
	unsigned max_seen;                  /* most connections of one address seen live */
	uint64_t counted, refused, odd;     /* odd: a verdict other than these two */
};

/* Connections held now per address, all threads (__atomic). Raised after
 * an admit and lowered before its release, so never above the table's count. */
static struct {
	struct lim_conn *t;
	uint32_t live[STRESS_IPS];
} sh;

static void *stress_run(void *arg)
{
	struct stress *s = arg;
	uint32_t held[STRESS_HOLD];
	unsigned n = 0;

	for (unsigned i = 0; i < STRESS_ITERS; i++) {
		unsigned r = rand_r(&s->seed);

		if (n > 0 && (r & 1 || n == STRESS_HOLD)) {
			unsigned k = (r >> 1) % n;
			uint32_t ip = held[k];

			held[k] = held[--n];
			__atomic_fetch_sub(&sh.live[ip], 1, __ATOMIC_RELAXED);
			lim_conn_release(s->t, IP(ip));
			continue;
		}
		uint32_t ip = (r >> 1) % STRESS_IPS;
		enum lim_conn_verdict v = lim_conn_admit(s->t, IP(ip));

		if (v != LIM_CONN_COUNTED && v != LIM_CONN_REFUSE) {
			s->odd++;       /* Criterion asserts only on the main thread */
			continue;
		}
		if (v == LIM_CONN_REFUSE) {
			s->refused++;
			continue;
		}
		s->counted++;
		unsigned live = __atomic_add_fetch(&sh.live[ip], 1, __ATOMIC_RELAXED);

		if (live > s->max_seen)
			s->max_seen = live;
		held[n++] = ip;
	}
	while (n > 0) {
		uint32_t ip = held[--n];

		__atomic_fetch_sub(&sh.live[ip], 1, __ATOMIC_RELAXED);
		lim_conn_release(s->t, IP(ip));
	}
	return NULL;
}

Test(lim_conn, two_cores_share_the_counts)
{
	struct stress st[STRESS_THREADS];
	pthread_t th[STRESS_THREADS];
	uint64_t counted = 0, refused = 0;

	sh.t = lim_conn_create(1024, STRESS_LIMIT, key);
	for (int i = 0; i < STRESS_THREADS; i++) {
		st[i] = (struct stress){ .t = sh.t, .seed = 12345u + (unsigned)i };
		cr_assert_eq(pthread_create(&th[i], NULL, stress_run, &st[i]), 0);
	}
	for (int i = 0; i < STRESS_THREADS; i++) {
		pthread_join(th[i], NULL);
		/* Counted connections live at once, over all threads: the
		 * limit, plus at most one racing admit per other core. */
		cr_assert_leq(st[i].max_seen, STRESS_LIMIT + STRESS_THREADS - 1,
			      "an address held %u", st[i].max_seen);
		cr_assert_eq(st[i].odd, 0, "only counted or refused");
		counted += st[i].counted;
		refused += st[i].refused;
	}
	cr_assert_gt(refused, 0, "the limit was reached");
	cr_assert_gt(counted, 0);
	for (uint32_t ip = 0; ip < STRESS_IPS; ip++)
		cr_assert_eq(lim_conn_count(sh.t, IP(ip)), 0, "address %u", ip);
	cr_assert_eq(lim_conn_addresses(sh.t), 0);
	cr_assert_eq(lim_conn_unmatched(sh.t), 0);
	lim_conn_free(sh.t);
}
