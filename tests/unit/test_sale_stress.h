/*
 * test_sale_stress.h - worker threads as cores racing for the last units.
 *
 * Shared by test_sale.c (Criterion) and test_sale_tsan.c (a plain program, so
 * a -Db_sanitize=thread build can run it: Criterion#274). 20,000 requests
 * from 10,000 buyers (each asks twice, shuffled) race on 2-4 threads, each
 * thread a core with its own sale_core, for 1,000 units. Checked: exactly the
 * stock is sold, every buyer at most once, stock + sold balance, every record
 * reaches its ring, and no 410 is answered while units provably remain. With
 * `returns`, a control thread drains the rings as the control plane will,
 * rejects every 7th order (stock and claim come back and are sold again) and
 * reads each order back from the book of the core that sold it.
 */
#ifndef TEST_SALE_STRESS_H
#define TEST_SALE_STRESS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "sale.h"

#ifdef SALE_STRESS_PLAIN
#define SCHECK(cond, ...) do {                                                 \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);         \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			exit(1);                                                \
		}                                                               \
	} while (0)
#else
#define SCHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#endif

#define ST_BUYERS 10000                 /* each asks twice: 20,000 requests */
#define ST_REQUESTS (2 * ST_BUYERS)
#define ST_STOCK 1000
#define ST_RETRIES 100000               /* 503 stock_busy: the buyer asks again */
#define ST_NOW 1700000000000ull
#define ST_MAX_THREADS 4
#define ST_REJECT_EVERY 7

static const struct token_key st_key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };

struct st_tok {
	char s[TOKEN_STR_CAP];
	size_t len;
};

struct stress {
	struct sale *s;
	struct st_tok *tokens;          /* by buyer - 1 */
	uint64_t *order;                /* request r is buyer order[r] */
	unsigned n_threads;
	_Atomic uint64_t sold_seen;     /* OKs so far, counted after the answer */
	_Atomic int go;
	bool returns;                   /* a control thread rejects orders */
};

struct st_worker {
	struct stress *st;
	unsigned index;
	uint64_t ok, n[SALE_RESULT_N];
	uint64_t early_410;             /* 410 while units were provably left */
	uint64_t *bought;               /* buyers told 200 */
};

static void *st_worker_main(void *arg)
{
	struct st_worker *w = arg;
	struct stress *st = w->st;
	struct sale_core *c = sale_core(st->s, w->index);

	while (!atomic_load(&st->go))
		;
	for (uint64_t r = w->index; r < ST_REQUESTS; r += st->n_threads) {
		uint64_t b = st->order[r];
		const struct st_tok *t = &st->tokens[b - 1];
		struct sale_out out;
		enum sale_result res;
		int tries = 0;

		do {
			res = sale_buy(c, 1, t->s, t->len, (uint32_t)b, ST_NOW, &out);
			if (res == SALE_STOCK_RETRY)
				sched_yield();
		} while (res == SALE_STOCK_RETRY && ++tries < ST_RETRIES);
		w->n[res]++;
		if (res == SALE_OK) {
			w->bought[w->ok++] = b;
			atomic_fetch_add(&st->sold_seen, 1);
		} else if (res == SALE_SOLD_OUT && !st->returns) {
			/* stock_pool.h: 410 only when at some instant no unit was
			 * left. Every unit taken before that instant is counted by
			 * now, except by the other threads' in-flight requests. */
			if (atomic_load(&st->sold_seen) + (st->n_threads - 1) < ST_STOCK)
				w->early_410++;
		}
	}
	return NULL;
}

struct st_rejector {
	struct stress *st;
	_Atomic int stop;
	uint64_t drained, rejected, bad_view;
};

/* Checks a drained record against the book, then rejects every 7th. */
static void st_reject_one(struct st_rejector *rj, const struct ord_record *rec)
{
	struct ord_book_view v;

	if (!sale_order_get(rj->st->s, rec->id, &v) || v.buyer != rec->buyer ||
	    v.campaign != rec->campaign || v.state != ORD_PENDING)
		rj->bad_view++;
	if (rj->drained++ % ST_REJECT_EVERY == 0 &&
	    sale_order_reject(rj->st->s, rec->id, ORD_REASON_payment_failed) == SALE_DECIDED)
		rj->rejected++;
}

static void *st_rejector_main(void *arg)
{
	struct st_rejector *rj = arg;
	struct ord_record rec[64];

	for (;;) {
		int stop = atomic_load(&rj->stop);
		unsigned got = 0;

		for (unsigned i = 0; i < rj->st->n_threads; i++) {
			unsigned n = ord_ring_dequeue_burst(sale_ring(rj->st->s, i), rec, 64);

			for (unsigned k = 0; k < n; k++)
				st_reject_one(rj, &rec[k]);
			got += n;
		}
		if (stop && got == 0)
			return NULL;
		if (got == 0)
			sched_yield();
	}
}

static struct sale *st_make(unsigned n_threads)
{
	struct sale_conf cf;
	char err[SALE_ERR_CAP];
	struct sale *s;

	sale_conf_default(&cf);
	cf.n_cores = n_threads;
	cf.key = st_key;
	cf.ip_capacity = 1024;
	cf.buyer_capacity = 1024;
	cf.purchase_capacity = 1 << 15;
	cf.blacklist_capacity = 64;
	cf.ring_size = 2048;                    /* one core could sell it all */
	cf.max_stock = ST_STOCK;
	cf.return_headroom = ST_STOCK;
	cf.stock_chunk = 16;
	s = sale_create(&cf, err, sizeof(err));
	SCHECK(s != NULL, "%s", err);
	SCHECK(sale_campaign_add(s, 1, ST_STOCK, 0) == 0, "campaign_add");
	return s;
}

static void st_prepare(struct stress *st)
{
	uint64_t lcg = 12345;

	st->tokens = malloc(ST_BUYERS * sizeof(*st->tokens));
	st->order = malloc(ST_REQUESTS * sizeof(*st->order));
	SCHECK(st->tokens && st->order, "malloc");
	for (uint64_t b = 1; b <= ST_BUYERS; b++)
		st->tokens[b - 1].len = (size_t)token_mint(&st_key, b, ST_NOW / 1000 + 3600,
							    st->tokens[b - 1].s, TOKEN_STR_CAP);
	for (uint64_t r = 0; r < ST_REQUESTS; r++)
		st->order[r] = r % ST_BUYERS + 1;
	for (uint64_t r = ST_REQUESTS - 1; r > 0; r--) {   /* Fisher-Yates, fixed seed */
		uint64_t k, tmp;

		lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
		k = (lcg >> 33) % (r + 1);
		tmp = st->order[r];
		st->order[r] = st->order[k];
		st->order[k] = tmp;
	}
}

/* The answers, the stock and the records after the race. */
static void st_check(struct stress *st, struct st_worker *w, struct st_rejector *rj)
{
	struct stock_pool *pool = sale_campaign_pool(st->s, 1);
	uint8_t *seen = calloc(ST_BUYERS + 1, 1);
	uint64_t total_ok = 0;

	for (unsigned i = 0; i < st->n_threads; i++) {
		SCHECK(w[i].early_410 == 0, "a 410 while stock remained");
		total_ok += w[i].ok;
		SCHECK(w[i].n[SALE_OK] + w[i].n[SALE_SOLD_OUT] + w[i].n[SALE_ALREADY] ==
		       ST_REQUESTS / st->n_threads + (i < ST_REQUESTS % st->n_threads),
		       "answers other than 200, 409, 410 (503 is retried)");
		for (uint64_t k = 0; k < w[i].ok; k++) {
			SCHECK(st->returns || seen[w[i].bought[k]] == 0, "buyer %llu bought twice",
			       (unsigned long long)w[i].bought[k]);
			seen[w[i].bought[k]]++;
		}
	}
	/* Exactly the stock is sold, net of returns; no counter went below 0. */
	SCHECK(stock_left(pool) <= ST_STOCK, "left %llu", (unsigned long long)stock_left(pool));
	SCHECK(total_ok - rj->rejected == ST_STOCK - stock_left(pool), "stock does not balance");
	SCHECK(stock_sold(pool) == total_ok - rj->rejected, "stock_sold does not balance");
	if (st->returns) {
		SCHECK(rj->rejected > 100, "only %llu rejects", (unsigned long long)rj->rejected);
		SCHECK(rj->drained == total_ok, "a sold order never reached the control plane");
		SCHECK(rj->bad_view == 0, "a drained order was not in the book as sold");
	} else {
		uint64_t in_rings = 0;

		SCHECK(total_ok == ST_STOCK && stock_left(pool) == 0, "sold %llu",
		       (unsigned long long)total_ok);
		for (unsigned i = 0; i < st->n_threads; i++)
			in_rings += ord_ring_count(sale_ring(st->s, i));
		SCHECK(in_rings == ST_STOCK, "records lost: %llu", (unsigned long long)in_rings);
		for (uint64_t b = 1; b <= ST_BUYERS; b++)
			SCHECK(sale_purchase_held(st->s, 1, b) == (seen[b] == 1), "claim of %llu",
			       (unsigned long long)b);
	}
	free(seen);
}

static void stress_run(unsigned n_threads, bool returns)
{
	struct stress st = { .n_threads = n_threads, .returns = returns };
	struct st_worker w[ST_MAX_THREADS];
	struct st_rejector rj = { .st = &st };
	pthread_t th[ST_MAX_THREADS], rth;

	st.s = st_make(n_threads);
	st_prepare(&st);
	for (unsigned i = 0; i < n_threads; i++) {
		w[i] = (struct st_worker){ .st = &st, .index = i };
		w[i].bought = calloc(ST_REQUESTS, sizeof(uint64_t));
		pthread_create(&th[i], NULL, st_worker_main, &w[i]);
	}
	if (returns)
		pthread_create(&rth, NULL, st_rejector_main, &rj);
	atomic_store(&st.go, 1);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	if (returns) {
		atomic_store(&rj.stop, 1);
		pthread_join(rth, NULL);
	}
	st_check(&st, w, &rj);
	for (unsigned i = 0; i < n_threads; i++)
		free(w[i].bought);
	free(st.tokens);
	free(st.order);
	sale_destroy(st.s);
}

#endif
