/*
 * bench_lim - ops/s of our lock-free shared tables (lib/sale/lim_*) next to
 * DPDK's rte_hash in lock-free mode, at 1 M keys, on 1 and 2 lcores.
 *
 *   bench_lim [--keys N] [--reps R]
 *
 * Runs EAL with --no-huge -m 512 --no-pci --file-prefix bench-lim, so it needs
 * no hugepages and no NIC. Each repetition builds fresh tables; we print the
 * min and the median of ops/s over the repetitions for each case:
 *   insert  every key once (keys split between the lcores)
 *   lookup  every key once (split), all present
 *   claim   lim_purchase_claim of every (campaign, buyer) by every lcore: one
 *           CLAIMED and (lcores - 1) ALREADY per key. rte_hash has no atomic
 *           insert-if-absent (add overwrites), so it has no claim row.
 * rte_hash runs with RW_CONCURRENCY_LF | MULTI_WRITER_ADD, once with its
 * default hash (CRC32, unkeyed) and once with SipHash-2-4 like ours (keyed,
 * what an attacker-facing table needs), so the table and the hash cost can be
 * told apart. Both tables get room for 2 * keys (load 0.5, as lim_table sizes
 * itself), so neither is measured near full.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "lim_purchase.h"
#include "lim_table.h"
#include "now.h"
#include "str2int.h"
#include "siphash.h"

#define MAX_LCORES 2
#define MAX_REPS 15

enum impl { OURS, RTE_CRC, RTE_SIP, NIMPL };
enum op { OP_INSERT, OP_LOOKUP, OP_CLAIM, NOP };

static const char *const impl_names[NIMPL] = { "lim_table", "rte_hash/crc", "rte_hash/sip" };
static const char *const op_names[NOP] = { "insert", "lookup", "claim" };

static uint64_t *keys;
static size_t nkeys;
static uint64_t sip_key[2] = { 0x5eed, 0xcafe };

/* What one run of one case shares with its lcores. */
struct run {
	enum impl impl;
	enum op op;
	unsigned nthreads;
	struct lim_table *lt;
	struct lim_purchase *ps;
	struct rte_hash *rh;
	volatile unsigned ready;
	volatile int go;
	uint64_t failures;
};

static uint32_t sip_hash(const void *key, uint32_t len, uint32_t init)
{
	(void)init;
	return (uint32_t)siphash24(sip_key, key, len);
}

/* The keys thread `id` of `n` works on: a contiguous share. */
static void share(unsigned id, unsigned n, size_t *lo, size_t *hi)
{
	*lo = nkeys * id / n;
	*hi = nkeys * (id + 1) / n;
}

static uint64_t do_ours(struct run *r, unsigned id)
{
	uint64_t fail = 0, *v;
	size_t lo, hi;

	share(id, r->nthreads, &lo, &hi);
	switch (r->op) {
	case OP_INSERT:
		for (size_t i = lo; i < hi; i++)
			fail += lim_table_get(r->lt, &keys[i], true, &v) != LIM_T_INSERTED;
		break;
	case OP_LOOKUP:
		for (size_t i = lo; i < hi; i++)
			fail += lim_table_get(r->lt, &keys[i], false, &v) != LIM_T_FOUND;
		break;
	case OP_CLAIM: /* every lcore claims every key, starting at its share */
		for (size_t j = 0; j < nkeys; j++) {
			size_t i = (lo + j) % nkeys;
			enum lim_claim c = lim_purchase_claim(r->ps, 1, keys[i], NULL, NULL);

			fail += c != LIM_CLAIMED && c != LIM_ALREADY;
		}
		break;
	default:
		break;
	}
	return fail;
}

static uint64_t do_rte(struct run *r, unsigned id)
{
	uint64_t fail = 0;
	void *data;
	size_t lo, hi;

	share(id, r->nthreads, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		if (r->op == OP_INSERT)
			fail += rte_hash_add_key_data(r->rh, &keys[i], (void *)(uintptr_t)(i + 1)) != 0;
		else
			fail += rte_hash_lookup_data(r->rh, &keys[i], &data) < 0;
	}
	return fail;
}

static int worker(void *arg)
{
	struct run *r = arg;
	unsigned id = rte_lcore_index(rte_lcore_id());
	uint64_t fail;

	__atomic_fetch_add(&r->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		;
	fail = r->impl == OURS ? do_ours(r, id) : do_rte(r, id);
	__atomic_fetch_add(&r->failures, fail, __ATOMIC_RELAXED);
	return 0;
}

/* Run r->op on r->nthreads lcores (main + workers); returns ops/s. */
static double timed(struct run *r)
{
	unsigned lc, started = 0;
	uint64_t t0, ops;

	r->ready = 0;
	r->go = 0;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (started + 1 >= r->nthreads)
			break;
		rte_eal_remote_launch(worker, r, lc);
		started++;
	}
	while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < started)
		;
	t0 = now_mono_ns();
	__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
	worker(r);
	rte_eal_mp_wait_lcore();
	ops = r->op == OP_CLAIM ? nkeys * r->nthreads : nkeys;
	return (double)ops * 1e9 / (double)(now_mono_ns() - t0);
}

static struct rte_hash *rte_make(enum impl impl)
{
	struct rte_hash_parameters p = {
		.name = "bench_lim",
		.entries = (uint32_t)(2 * nkeys), /* same 0.5 load as lim_table */
		.key_len = sizeof(uint64_t),
		.hash_func = impl == RTE_SIP ? sip_hash : rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
	};
	struct rte_hash *h = rte_hash_create(&p);

	if (h == NULL) {
		fprintf(stderr, "bench_lim: rte_hash_create(%zu entries): %s\n", nkeys,
			rte_strerror(rte_errno));
		exit(1);
	}
	return h;
}

/* One repetition of every op of one impl on nthreads; fills res[op]. */
static void rep(enum impl impl, unsigned nthreads, double res[NOP])
{
	struct run r = { .impl = impl, .nthreads = nthreads };

	if (impl == OURS) {
		r.lt = lim_table_create(nkeys, 1, sip_key);
		r.ps = lim_purchase_create(nkeys, sip_key);
		if (r.lt == NULL || r.ps == NULL) {
			fprintf(stderr, "bench_lim: cannot allocate tables for %zu keys\n", nkeys);
			exit(1);
		}
	} else {
		r.rh = rte_make(impl);
	}
	for (int op = 0; op < NOP; op++) {
		res[op] = 0;
		if (op == OP_CLAIM && impl != OURS)
			continue;
		r.op = (enum op)op;
		res[op] = timed(&r);
	}
	if (r.failures != 0)
		fprintf(stderr, "bench_lim: %s: %" PRIu64 " operations failed\n",
			impl_names[impl], r.failures);
	lim_table_free(r.lt);
	lim_purchase_free(r.ps);
	if (r.rh != NULL)
		rte_hash_free(r.rh);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(enum impl impl, unsigned nthreads, int reps)
{
	double res[MAX_REPS][NOP], col[MAX_REPS];

	for (int i = 0; i < reps; i++)
		rep(impl, nthreads, res[i]);
	for (int op = 0; op < NOP; op++) {
		if (op == OP_CLAIM && impl != OURS)
			continue;
		for (int i = 0; i < reps; i++)
			col[i] = res[i][op];
		qsort(col, (size_t)reps, sizeof(double), cmp_double);
		printf("%-13s %-7s %u lcore%s  min %7.2f  median %7.2f  Mops/s\n",
		       impl_names[impl], op_names[op], nthreads, nthreads > 1 ? "s" : " ",
		       col[0] / 1e6, col[reps / 2] / 1e6);
	}
}

int main(int argc, char **argv)
{
	char *eal[] = { argv[0], "-l", "0-1", "--no-huge", "-m", "512", "--no-pci",
			"--file-prefix", "bench-lim", "--no-telemetry", "--log-level", "lib.eal:error" };
	const char *keys_arg = NULL, *reps_arg = NULL;
	uint64_t keys_v = 1000000, reps_v = 5;
	unsigned lcores;
	int reps;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			keys_arg = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps_arg = argv[++i];
		else {
			fprintf(stderr, "usage: bench_lim [--keys N] [--reps R(1..%d)]\n", MAX_REPS);
			return 2;
		}
	}
	if ((keys_arg && !str2u64(keys_arg, 1, SIZE_MAX / sizeof(*keys), &keys_v)) ||
	    (reps_arg && !str2u64(reps_arg, 1, MAX_REPS, &reps_v))) {
		fprintf(stderr, "bench_lim: --reps must be 1..%d, --keys a whole number > 0\n",
			MAX_REPS);
		return 2;
	}
	nkeys = (size_t)keys_v;
	reps = (int)reps_v;
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "bench_lim: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	keys = malloc(nkeys * sizeof(*keys));
	for (size_t i = 0; i < nkeys; i++) /* distinct, scattered ids */
		keys[i] = (i + 1) * 0x9e3779b97f4a7c15ULL;
	lcores = rte_lcore_count() < MAX_LCORES ? rte_lcore_count() : MAX_LCORES;
	printf("bench_lim: %zu keys, %d repetitions, ops/s over all lcores\n", nkeys, reps);
	for (unsigned n = 1; n <= lcores; n++)
		for (int impl = 0; impl < NIMPL; impl++)
			report((enum impl)impl, n, reps);
	free(keys);
	rte_eal_cleanup();
	return 0;
}
