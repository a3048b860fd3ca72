/*
 * sim_hosts.c - H hosts' control planes confirming one hot campaign on one
 * Redis, without dataplanes (tools/sim-hosts starts the Redis and runs this).
 *
 * Against a single Redis (--port) or a Redis Cluster (--ports, every
 * primary: tools/sim-hosts --cluster N starts one): the handles find the
 * cluster from the first port and route by slot. --buckets B creates the
 * campaign sharded (ctl_redis.h): its claims spread over B hash tags, so
 * over the cluster's primaries.
 *
 * Each simulated host is what the control thread of a seckill-dp would be
 * for one campaign: a ctl_redis handle with its own --redis-host name, a
 * holding taken from Redis in chunks (ctl_redis_take, the chunk rule shared
 * by H takers), and a stream of journaled orders it confirms in batches of
 * up to --batch with ctl_redis_confirm_many, selling only what it holds. A
 * duplicate puts its unit back into the host's holding, as the dataplane
 * does. Buyers are drawn from one range for all hosts, so they overlap
 * across hosts and the claims decide who bought.
 *
 * The hosts run round-robin on a few threads (a host's calls block on its
 * round trip; Redis, not this program, is what is measured). Redis's CPU is
 * read with INFO CPU (used_cpu_sys + used_cpu_user) before and after the
 * sale, and divided by the orders confirmed. At the end every host gives
 * back what it still holds and the invariants are checked: no buyer
 * confirmed twice (here, and by counting the claims in Redis), sold = the
 * orders confirmed, stock + sold + held = the campaign's stock.
 *
 * --mode floor (all: each, batched, floor) runs the batched sale's orders
 * once more as plain HSETs, nothing checked: the least storing the claims
 * costs this Redis, beside what each design costs (sim_floor).
 *
 *   sim_hosts --port P | --ports P1,P2,.. [--hosts H] [--orders N] [--buyers B]
 *             [--batch N] [--mode each|batched|both|floor|all] [--threads T]
 *             [--campaign ID] [--buckets B]
 * Exit status: 0 when every invariant held, 1 otherwise, 2 on bad usage.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "ctl_redis.h"
#include "ctl_redis_keys.h"
#include "str2int.h"

#define SIM_TIMEOUT_MS 5000
#define SIM_CONNECT_TRIES 50
/* The control thread's pass sends at most this many confirms (ctl_sale_redis.c). */
#define SIM_BATCH_DEFAULT 256
/* Chunks as large as a few batches: a take per few passes, as in a sale. */
#define SIM_CHUNK_BATCHES 4
#define SIM_HOSTS_MAX 1024
#define SIM_THREADS_MAX 64
#define SIM_NODES_MAX 16

struct sim_opts {
	int port;                     /* the first of ports[] */
	int ports[SIM_NODES_MAX];
	unsigned n_ports;
	unsigned hosts, threads, batch, buckets;
	uint64_t orders, buyers;      /* orders of all hosts together; buyer ids 0..buyers-1 */
	uint32_t campaign;
	const char *mode;
};

/* One simulated host: its connection, holding and stream of orders. */
struct sim_host {
	struct ctl_redis *r;
	redisContext *raw;            /* the floor's plain connection (r is NULL then) */
	unsigned idx;
	uint64_t rng;
	uint64_t next, end;           /* its orders: next .. end-1 of the global numbering */
	uint64_t held;                /* units taken and not sold */
	bool empty, done;
	uint64_t confirmed, dups, replays;   /* the floor counts its writes in confirmed */
};

struct sim_run {
	const struct sim_opts *o;
	uint32_t id;
	enum ctl_redis_confirm_mode mode;
	bool floor;                   /* plain HSETs, nothing checked (sim_floor) */
	struct sim_host *h;
	_Atomic uint64_t *bought;     /* one bit a buyer */
	atomic_uint_fast64_t twice;   /* buyers confirmed twice: must stay 0 */
	atomic_int failed;
};

static uint64_t sim_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double sim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One node's CPU seconds so far (INFO CPU: used_cpu_sys + used_cpu_user). */
static double sim_redis_cpu(redisContext *c)
{
	redisReply *rep = redisCommand(c, "INFO CPU");
	double sys = -1, user = -1;
	const char *p;

	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "sim_hosts: INFO CPU failed: %s\n", rep ? rep->str : c->errstr);
		exit(1);
	}
	if ((p = strstr(rep->str, "used_cpu_sys:")) != NULL)
		sys = strtod(p + strlen("used_cpu_sys:"), NULL);
	if ((p = strstr(rep->str, "used_cpu_user:")) != NULL)
		user = strtod(p + strlen("used_cpu_user:"), NULL);
	freeReplyObject(rep);
	if (sys < 0 || user < 0) {
		fprintf(stderr, "sim_hosts: INFO CPU has no used_cpu_sys/used_cpu_user\n");
		exit(1);
	}
	return sys + user;
}

/* Microseconds Redis spent inside EVALSHA since CONFIG RESETSTAT
 * (INFO COMMANDSTATS): the scripts alone, without reading and writing. */
static double sim_redis_evalsha_us(redisContext *c)
{
	redisReply *rep = redisCommand(c, "INFO COMMANDSTATS");
	double us = 0;
	const char *p;

	if (rep && rep->type == REDIS_REPLY_STRING &&
	    (p = strstr(rep->str, "cmdstat_evalsha:")) != NULL && (p = strstr(p, "usec=")) != NULL)
		us = strtod(p + strlen("usec="), NULL);
	if (rep)
		freeReplyObject(rep);
	return us;
}

static void sim_redis_resetstat(redisContext *c)
{
	redisReply *rep = redisCommand(c, "CONFIG RESETSTAT");

	if (rep)
		freeReplyObject(rep);
}

/* Records that buyer bought; counts it if it had bought already. */
static void sim_bought(struct sim_run *s, uint64_t buyer)
{
	uint64_t bit = (uint64_t)1 << (buyer % 64);

	if (atomic_fetch_or(&s->bought[buyer / 64], bit) & bit)
		atomic_fetch_add(&s->twice, 1);
}

/* Host h's next nb orders: buyers drawn from the range all hosts share,
 * order ids in ord_id_format's shape and length (35 characters). */
static void sim_orders(struct sim_run *s, struct sim_host *h, uint64_t nb,
		       struct ctl_redis_confirm_req *q, char (*oid)[CTL_REDIS_ORDER_MAX + 1])
{
	for (uint64_t i = 0; i < nb; i++) {
		snprintf(oid[i], sizeof(oid[i]), "%08x-%010" PRIu64 "-%015" PRIu64, s->id,
			 (uint64_t)h->idx, h->next + i);
		q[i] = (struct ctl_redis_confirm_req){ .campaign = s->id,
			.buyer = sim_rand(&h->rng) % s->o->buyers, .order_id = oid[i] };
	}
	h->next += nb;
}

/* One pass of host h in the floor: its next batch of orders written as they
 * come, one plain HSET a bucket (buyer -> order id), pipelined: what
 * storing the claims costs Redis with nothing read, checked or counted. */
static void sim_pass_floor(struct sim_run *s, struct sim_host *h)
{
	const struct sim_opts *o = s->o;
	struct ctl_redis_confirm_req q[SIM_BATCH_DEFAULT * 4];
	char oid[SIM_BATCH_DEFAULT * 4][CTL_REDIS_ORDER_MAX + 1];
	char buyer[SIM_BATCH_DEFAULT * 4][24], key[64];
	const char *argv[2 + 2 * SIM_BATCH_DEFAULT * 4];
	size_t argl[2 + 2 * SIM_BATCH_DEFAULT * 4];
	uint64_t nb = h->end - h->next;
	unsigned sent = 0;

	if (nb > o->batch)
		nb = o->batch;
	if (nb == 0) {
		h->done = true;
		return;
	}
	sim_orders(s, h, nb, q, oid);
	for (unsigned k = 0; k < o->buckets; k++) {
		int argc = 2;

		for (uint64_t i = 0; i < nb; i++) {
			if (ctl_redis_bucket(q[i].buyer, o->buckets) != k)
				continue;
			snprintf(buyer[i], sizeof(buyer[i]), "%" PRIu64, q[i].buyer);
			argv[argc] = buyer[i];
			argl[argc++] = strlen(buyer[i]);
			argv[argc] = oid[i];
			argl[argc++] = strlen(oid[i]);
		}
		if (argc == 2)
			continue;
		snprintf(key, sizeof(key), "seckill:floor:{%" PRIu32 ":%u}", s->id, k);
		argv[0] = "HSET";
		argl[0] = 4;
		argv[1] = key;
		argl[1] = strlen(key);
		if (redisAppendCommandArgv(h->raw, argc, argv, argl) != REDIS_OK) {
			fprintf(stderr, "sim_hosts: host %u: floor HSET: out of memory\n", h->idx);
			atomic_store(&s->failed, 1);
			h->done = true;
			break;
		}
		sent++;
	}
	for (unsigned i = 0; i < sent; i++) {
		redisReply *rep = NULL;

		if (redisGetReply(h->raw, (void **)&rep) != REDIS_OK || rep == NULL ||
		    rep->type != REDIS_REPLY_INTEGER) {
			fprintf(stderr, "sim_hosts: host %u: floor HSET: %s\n", h->idx,
				rep && rep->type == REDIS_REPLY_ERROR ? rep->str : h->raw->errstr);
			atomic_store(&s->failed, 1);
			h->done = true;
		}
		if (rep)
			freeReplyObject(rep);
	}
	h->confirmed += nb;
}

/* One pass of host h's control thread: top up the holding, confirm a batch. */
static void sim_pass(struct sim_run *s, struct sim_host *h)
{
	const struct sim_opts *o = s->o;
	struct ctl_redis_confirm_req q[SIM_BATCH_DEFAULT * 4];
	struct ctl_redis_confirm_res res[SIM_BATCH_DEFAULT * 4];
	char oid[SIM_BATCH_DEFAULT * 4][CTL_REDIS_ORDER_MAX + 1];
	uint64_t got, nb;
	int rc;

	if (h->held < o->batch && !h->empty) {
		rc = ctl_redis_take(h->r, s->id, o->hosts, (uint64_t)o->batch * SIM_CHUNK_BATCHES,
				    &got);
		if (rc != CTL_REDIS_OK) {
			fprintf(stderr, "sim_hosts: host %u: take: %s\n", h->idx,
				ctl_redis_error(h->r));
			atomic_store(&s->failed, 1);
			h->done = true;
			return;
		}
		h->held += got;
		h->empty = got == 0;
	}
	nb = h->end - h->next;
	if (nb > o->batch)
		nb = o->batch;
	if (nb > h->held)
		nb = h->held;           /* a host sells only what it holds */
	if (nb == 0) {
		h->done = h->next == h->end || h->empty;
		return;
	}
	sim_orders(s, h, nb, q, oid);
	rc = ctl_redis_confirm_many(h->r, nb, q, res);
	for (uint64_t i = 0; i < nb; i++) {
		if (res[i].rc == CTL_REDIS_OK && !res[i].replayed) {
			h->confirmed++;
			h->held--;
			sim_bought(s, q[i].buyer);
		} else if (res[i].rc == CTL_REDIS_OK) {
			h->replays++;
		} else if (res[i].rc == CTL_REDIS_DUPLICATE) {
			h->dups++;          /* rejected: the unit stays in the holding */
		} else {
			fprintf(stderr, "sim_hosts: host %u: confirm %s: %s (%s)\n", h->idx, oid[i],
				ctl_redis_rc_str(res[i].rc), ctl_redis_error(h->r));
			atomic_store(&s->failed, 1);
			h->done = true;
			return;
		}
	}
	(void)rc;
}

struct sim_thread {
	struct sim_run *s;
	unsigned first, n;
	pthread_t tid;
};

/* Round-robin over this thread's hosts until each is done. */
static void *sim_thread_main(void *arg)
{
	struct sim_thread *t = arg;
	unsigned left = t->n;

	while (left > 0 && !atomic_load(&t->s->failed)) {
		left = 0;
		for (unsigned i = t->first; i < t->first + t->n; i++) {
			if (t->s->h[i].done)
				continue;
			if (t->s->floor)
				sim_pass_floor(t->s, &t->s->h[i]);
			else
				sim_pass(t->s, &t->s->h[i]);
			left += !t->s->h[i].done;
		}
	}
	return NULL;
}

/* Runs every host of s to its end, on o->threads threads. */
static void sim_run_hosts(struct sim_run *s)
{
	const struct sim_opts *o = s->o;
	struct sim_thread th[SIM_THREADS_MAX];

	for (unsigned t = 0; t < o->threads; t++) {
		th[t] = (struct sim_thread){ .s = s, .first = o->hosts * t / o->threads,
			.n = o->hosts * (t + 1) / o->threads - o->hosts * t / o->threads };
		if (pthread_create(&th[t].tid, NULL, sim_thread_main, &th[t]) != 0) {
			fprintf(stderr, "sim_hosts: cannot start a thread\n");
			exit(1);
		}
	}
	for (unsigned t = 0; t < o->threads; t++)
		pthread_join(th[t].tid, NULL);
}

/* The campaign's buyer claims on one node: keys seckill:buyer:{id}:*, or
 * when sharded the fields of its buckets' hashes seckill:claims:{id:k}
 * (after the sale: SCAN does not disturb it). */
static uint64_t sim_count_claims(redisContext *c, uint32_t id, unsigned buckets)
{
	char cursor[32] = "0", pattern[64];
	uint64_t n = 0;

	snprintf(pattern, sizeof(pattern), buckets > 1 ? "seckill:claims:{%u:*" :
		 "seckill:buyer:{%u}:*", id);
	do {
		redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 10000", cursor, pattern);

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			fprintf(stderr, "sim_hosts: SCAN failed\n");
			exit(1);
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (size_t i = 0; i < rep->element[1]->elements; i++) {
			redisReply *len;

			if (buckets <= 1) {
				n++;
				continue;
			}
			len = redisCommand(c, "HLEN %s", rep->element[1]->element[i]->str);
			if (len && len->type == REDIS_REPLY_INTEGER)
				n += (uint64_t)len->integer;
			freeReplyObject(len);
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

static struct ctl_redis *sim_connect(const struct sim_opts *o, const char *name)
{
	char err[CTL_REDIS_ERR_CAP];
	struct ctl_redis *r = NULL;

	/* A loaded machine can make the first SCRIPT LOAD time out: the handle
	 * then waits to reconnect. A benchmark wants a live connection, so it
	 * tries again for a while rather than measuring a reconnect. */
	for (int i = 0; i < SIM_CONNECT_TRIES; i++) {
		r = ctl_redis_connect("127.0.0.1", o->port, SIM_TIMEOUT_MS, err, sizeof(err));
		if (r == NULL || ctl_redis_connected(r))
			break;
		ctl_redis_close(r);
		r = NULL;
		usleep(100 * 1000);
	}
	if (r == NULL) {
		fprintf(stderr, "sim_hosts: cannot connect to redis on port %u: %s\n", o->port,
			err);
		exit(1);
	}
	if (ctl_redis_set_host(r, name) != 0)
		exit(1);
	return r;
}

/* Redis's CPU seconds for a whole sale, and the orders it confirmed. */
struct sim_cost {
	double cpu;
	uint64_t confirmed;
};

/* Host i of a sale of campaign id: its share of the orders and its buyers'
 * seed, the same in every mode, so the modes see the same orders. */
static struct sim_host sim_host_init(const struct sim_opts *o, unsigned i, uint32_t id)
{
	return (struct sim_host){ .idx = i, .rng = 0x9e3779b97f4a7c15ull * (i + 1) ^ id,
		.next = o->orders * i / o->hosts, .end = o->orders * (i + 1) / o->hosts };
}

/* One whole sale in one mode; prints its line; true when the invariants held. */
static bool sim_sale(const struct sim_opts *o, uint32_t id, enum ctl_redis_confirm_mode mode,
		     redisContext **raw, struct sim_cost *cost)
{
	struct sim_run s = { .o = o, .id = id, .mode = mode };
	struct ctl_redis *admin = sim_connect(o, "sim-admin");
	struct ctl_redis_status st;
	uint64_t confirmed = 0, dups = 0, replays = 0, claims = 0, given, left_back = 0;
	double cpu0[SIM_NODES_MAX], cpu1[SIM_NODES_MAX], cpu = 0, cpu_max = 0, t0, t1;
	double evalsha_us = 0;
	unsigned long redirects = 0;
	bool ok = true;
	char name[32];

	s.h = calloc(o->hosts, sizeof(*s.h));
	s.bought = calloc(o->buyers / 64 + 1, sizeof(*s.bought));
	if (s.h == NULL || s.bought == NULL) {
		fprintf(stderr, "sim_hosts: out of memory\n");
		exit(1);
	}
	/* Stock for every order: the sale measures confirms, not selling out. */
	if (ctl_redis_campaign_create_sharded(admin, id, o->orders, 0, true, o->buckets) !=
	    CTL_REDIS_OK ||
	    ctl_redis_set_state(admin, id, SALE_OPEN) != CTL_REDIS_OK) {
		fprintf(stderr, "sim_hosts: create campaign %u: %s\n", id, ctl_redis_error(admin));
		exit(1);
	}
	for (unsigned i = 0; i < o->hosts; i++) {
		snprintf(name, sizeof(name), "sim-%03u", i);
		s.h[i] = sim_host_init(o, i, id);
		s.h[i].r = sim_connect(o, name);
		ctl_redis_set_confirm_mode(s.h[i].r, mode);
	}
	for (unsigned k = 0; k < o->n_ports; k++) {
		sim_redis_resetstat(raw[k]);
		cpu0[k] = sim_redis_cpu(raw[k]);
	}
	t0 = sim_now();
	sim_run_hosts(&s);
	t1 = sim_now();
	for (unsigned k = 0; k < o->n_ports; k++) {
		cpu1[k] = sim_redis_cpu(raw[k]);
		evalsha_us += sim_redis_evalsha_us(raw[k]);
		cpu += cpu1[k] - cpu0[k];
		if (cpu1[k] - cpu0[k] > cpu_max)
			cpu_max = cpu1[k] - cpu0[k];
	}
	for (unsigned i = 0; i < o->hosts; i++) {
		confirmed += s.h[i].confirmed;
		dups += s.h[i].dups;
		replays += s.h[i].replays;
		if (ctl_redis_give_back(s.h[i].r, id, s.h[i].held, &given) != CTL_REDIS_OK ||
		    given != s.h[i].held) {
			fprintf(stderr, "sim_hosts: host %u: give back %" PRIu64 ": %s\n", i,
				s.h[i].held, ctl_redis_error(s.h[i].r));
			ok = false;
		}
		left_back += given;
		redirects += ctl_redis_redirects(s.h[i].r);
		ctl_redis_close(s.h[i].r);
	}
	if (ctl_redis_status(admin, id, &st) != CTL_REDIS_OK) {
		fprintf(stderr, "sim_hosts: status: %s\n", ctl_redis_error(admin));
		exit(1);
	}
	for (unsigned k = 0; k < o->n_ports; k++)
		claims += sim_count_claims(raw[k], id, o->buckets);
	printf("%-7s hosts %u orders %" PRIu64 " batch %u buckets %u primaries %u: confirmed %"
	       PRIu64 " in %.3f s = %.0f confirmations/s; redis cpu %.3f s = %.2f us per "
	       "confirmed order; duplicates %" PRIu64 " replays %" PRIu64 "\n",
	       mode == CTL_REDIS_CONFIRM_EACH ? "each" : "batched", o->hosts, o->orders, o->batch,
	       o->buckets, o->n_ports, confirmed, t1 - t0, (double)confirmed / (t1 - t0), cpu,
	       confirmed ? cpu * 1e6 / (double)confirmed : 0.0, dups, replays);
	printf("        redis: %.2f us wall clock inside EVALSHA per confirmed order (INFO "
	       "COMMANDSTATS; more than the cpu when the machine is loaded); one redis core at "
	       "%.2f us would confirm %.0f orders/s\n",
	       confirmed ? evalsha_us / (double)confirmed : 0.0,
	       confirmed ? cpu * 1e6 / (double)confirmed : 0.0,
	       cpu > 0 ? (double)confirmed / cpu : 0.0);
	if (o->n_ports > 1) {
		printf("        per primary cpu s:");
		for (unsigned k = 0; k < o->n_ports; k++)
			printf(" %.3f", cpu1[k] - cpu0[k]);
		printf("; the busiest caps the sale at %.0f orders/s (one core each); %lu "
		       "redirections followed\n", cpu_max > 0 ? (double)confirmed / cpu_max : 0.0,
		       redirects);
	} else {
		printf("        %lu redirections followed\n", redirects);
	}
	printf("        invariants: buyers confirmed twice %" PRIu64 " (claims in redis %" PRIu64
	       " for %" PRIu64 " confirmed); sold %" PRId64 " = confirmed %" PRIu64 "; "
	       "stock %" PRId64 " + sold %" PRId64 " + held %" PRId64 " = %" PRId64
	       " (initial %" PRIu64 ", %" PRIu64 " given back)\n",
	       (uint64_t)atomic_load(&s.twice), claims, confirmed, st.sold, confirmed, st.stock,
	       st.sold, st.held, st.stock + st.sold + st.held, o->orders, left_back);
	ok = ok && !atomic_load(&s.failed) && atomic_load(&s.twice) == 0 && claims == confirmed &&
	     st.sold >= 0 && (uint64_t)st.sold == confirmed && st.held == 0 &&
	     st.stock >= 0 && st.total == (int64_t)o->orders &&
	     st.stock + st.sold + st.held == st.total;
	printf("        %s\n", ok ? "invariants hold" : "INVARIANT BROKEN");
	*cost = (struct sim_cost){ .cpu = cpu, .confirmed = confirmed };
	ctl_redis_close(admin);
	free(s.h);
	free(s.bought);
	return ok;
}

/*
 * The floor, on a single Redis: the batched sale's orders again (same
 * hosts, buyers and order ids), every one's claim written by plain HSETs
 * (sim_pass_floor) into keys of their own, deleted after. Nothing is read,
 * checked or counted, so no confirm, scripted or not, can cost Redis less:
 * it says how much of a confirm's cost is the claim's store itself.
 * False when a write failed, or (after the batched sale) the buyers
 * written are not those it confirmed.
 */
static bool sim_floor(const struct sim_opts *o, uint32_t id, redisContext *raw,
		      const struct sim_cost *batched, struct sim_cost *cost)
{
	struct sim_run s = { .o = o, .id = id, .floor = true };
	struct timeval tv = { SIM_TIMEOUT_MS / 1000, 0 };
	double cpu0, cpu, t0, t1;
	uint64_t buyers = 0;
	redisReply *rep;

	s.h = calloc(o->hosts, sizeof(*s.h));
	if (s.h == NULL) {
		fprintf(stderr, "sim_hosts: out of memory\n");
		exit(1);
	}
	for (unsigned i = 0; i < o->hosts; i++) {
		s.h[i] = sim_host_init(o, i, id);
		s.h[i].raw = redisConnectWithTimeout("127.0.0.1", o->port, tv);
		if (s.h[i].raw == NULL || s.h[i].raw->err) {
			fprintf(stderr, "sim_hosts: floor: cannot connect to redis on port %d\n",
				o->port);
			exit(1);
		}
	}
	cpu0 = sim_redis_cpu(raw);
	t0 = sim_now();
	sim_run_hosts(&s);
	t1 = sim_now();
	cpu = sim_redis_cpu(raw) - cpu0;
	for (unsigned i = 0; i < o->hosts; i++) {
		cost->confirmed += s.h[i].confirmed;
		redisFree(s.h[i].raw);
	}
	cost->cpu = cpu;
	for (unsigned k = 0; k < o->buckets; k++) {
		rep = redisCommand(raw, "HLEN seckill:floor:{%u:%u}", id, k);
		if (rep && rep->type == REDIS_REPLY_INTEGER)
			buyers += (uint64_t)rep->integer;
		if (rep)
			freeReplyObject(rep);
		rep = redisCommand(raw, "UNLINK seckill:floor:{%u:%u}", id, k);
		if (rep)
			freeReplyObject(rep);
	}
	printf("floor   hosts %u orders %" PRIu64 " batch %u buckets %u primaries 1: the same "
	       "orders' claims written with plain HSETs (one a bucket a pass, nothing read or "
	       "checked) in %.3f s; redis cpu %.3f s = %.2f us per order written; %" PRIu64
	       " buyers\n", o->hosts, o->orders, o->batch, o->buckets, t1 - t0, cpu,
	       cost->confirmed ? cpu * 1e6 / (double)cost->confirmed : 0.0, buyers);
	free(s.h);
	if (atomic_load(&s.failed) || cost->confirmed != o->orders) {
		fprintf(stderr, "sim_hosts: the floor wrote %" PRIu64 " of %" PRIu64 " orders\n",
			cost->confirmed, o->orders);
		return false;
	}
	/* Every buyer's first order is confirmed (the stock covers all), so the
	 * batched sale of the same orders confirms one order a buyer. */
	if (batched && buyers != batched->confirmed) {
		fprintf(stderr, "sim_hosts: the floor saw %" PRIu64 " buyers, the batched sale "
			"confirmed %" PRIu64 ": not the same orders\n", buyers, batched->confirmed);
		return false;
	}
	return true;
}

/* The floor beside the sales of the same orders: Redis's CPU per order
 * sent (every mode sees them all) and per order confirmed. */
static void sim_compare(const struct sim_opts *o, const struct sim_cost *least,
			const struct sim_cost *batched, const struct sim_cost *each)
{
	double n = (double)o->orders, f = least->cpu * 1e6 / n;

	printf("        same orders, same redis, cpu per order sent: floor %.2f us", f);
	if (batched)
		printf("; batched %.2f us (%.2fx the floor)", batched->cpu * 1e6 / n,
		       batched->cpu / least->cpu);
	if (each)
		printf("; each %.2f us (%.2fx)", each->cpu * 1e6 / n, each->cpu / least->cpu);
	printf("\n");
	if (batched && batched->confirmed)
		printf("        per confirmed order (%" PRIu64 " of %" PRIu64 "): floor %.2f us, "
		       "batched %.2f us\n", batched->confirmed, o->orders,
		       least->cpu * 1e6 / (double)batched->confirmed,
		       batched->cpu * 1e6 / (double)batched->confirmed);
}

static void sim_usage(void)
{
	fprintf(stderr, "usage: sim_hosts --port P | --ports P1,P2,.. [--hosts H] [--orders N] "
		"[--buyers B] [--batch 1..%d] [--mode each|batched|both|floor|all] [--threads T] "
		"[--campaign ID] [--buckets 1..%d]\n", SIM_BATCH_DEFAULT * 4,
		CTL_REDIS_BUCKETS_MAX);
	exit(2);
}

static uint64_t sim_arg(const char *v, uint64_t lo, uint64_t hi)
{
	uint64_t x;

	if (v == NULL || !str2u64(v, lo, hi, &x))
		sim_usage();
	return x;
}

int main(int argc, char **argv)
{
	struct sim_opts o = { .hosts = 100, .threads = 8, .batch = SIM_BATCH_DEFAULT,
			      .orders = 1000000, .buyers = 0, .campaign = 16, .mode = "both",
			      .buckets = 1 };
	struct timeval tv = { 5, 0 };
	redisContext *raw[SIM_NODES_MAX];
	struct sim_cost each = { 0 }, batched = { 0 }, least = { 0 };
	bool ok = true, run_each, run_batched, run_floor;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--port") == 0) {
			o.ports[0] = (int)sim_arg(v, 1, 65535);
			o.n_ports = 1;
		} else if (strcmp(a, "--ports") == 0 && v) {
			char *list = strdup(v), *save = NULL;

			o.n_ports = 0;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (o.n_ports == SIM_NODES_MAX)
					sim_usage();
				o.ports[o.n_ports++] = (int)sim_arg(t, 1, 65535);
			}
			free(list);
		} else if (strcmp(a, "--buckets") == 0)
			o.buckets = (unsigned)sim_arg(v, 1, CTL_REDIS_BUCKETS_MAX);
		else if (strcmp(a, "--hosts") == 0)
			o.hosts = (unsigned)sim_arg(v, 1, SIM_HOSTS_MAX);
		else if (strcmp(a, "--threads") == 0)
			o.threads = (unsigned)sim_arg(v, 1, SIM_THREADS_MAX);
		else if (strcmp(a, "--batch") == 0)
			o.batch = (unsigned)sim_arg(v, 1, SIM_BATCH_DEFAULT * 4);
		else if (strcmp(a, "--orders") == 0)
			o.orders = sim_arg(v, 1, CTL_REDIS_STOCK_MAX);
		else if (strcmp(a, "--buyers") == 0)
			o.buyers = sim_arg(v, 1, (uint64_t)1 << 40);
		else if (strcmp(a, "--campaign") == 0)
			o.campaign = (uint32_t)sim_arg(v, 1, UINT32_MAX - 1);
		else if (strcmp(a, "--mode") == 0 && v)
			o.mode = v;
		else
			sim_usage();
		i++;
	}
	o.port = o.ports[0];
	run_each = strcmp(o.mode, "each") == 0 || strcmp(o.mode, "both") == 0 ||
		   strcmp(o.mode, "all") == 0;
	run_batched = strcmp(o.mode, "batched") == 0 || strcmp(o.mode, "both") == 0 ||
		      strcmp(o.mode, "all") == 0;
	run_floor = strcmp(o.mode, "floor") == 0 || strcmp(o.mode, "all") == 0;
	if (o.n_ports == 0 || !(run_each || run_batched || run_floor))
		sim_usage();
	if (o.buyers == 0)
		o.buyers = o.orders * 4;   /* ~12% of orders meet a buyer who already bought */
	if (o.threads > o.hosts)
		o.threads = o.hosts;
	for (unsigned k = 0; k < o.n_ports; k++) {
		raw[k] = redisConnectWithTimeout("127.0.0.1", o.ports[k], tv);
		if (raw[k] == NULL || raw[k]->err) {
			fprintf(stderr, "sim_hosts: cannot connect to redis 127.0.0.1:%d\n",
				o.ports[k]);
			return 1;
		}
	}
	if (run_each)
		ok = sim_sale(&o, o.campaign, CTL_REDIS_CONFIRM_EACH, raw, &each) && ok;
	if (run_batched)
		ok = sim_sale(&o, o.campaign + 1, CTL_REDIS_CONFIRM_BATCHED, raw, &batched) && ok;
	if (run_floor && o.n_ports > 1)
		printf("floor   skipped: it writes through one connection a host, to a single "
		       "Redis (not --ports)\n");
	else if (run_floor) {
		ok = sim_floor(&o, o.campaign + 1, raw[0], run_batched ? &batched : NULL, &least) &&
		     ok;
		sim_compare(&o, &least, run_batched ? &batched : NULL, run_each ? &each : NULL);
	}
	for (unsigned k = 0; k < o.n_ports; k++)
		redisFree(raw[k]);
	return ok ? 0 : 1;
}
