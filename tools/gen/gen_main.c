/*
 * gen_main.c - seckill-gen: EAL start, the load split between worker
 * lcores, the run's clock, the report.
 *
 * The main lcore sleeps while the workers run: it wakes every 10 ms to see
 * whether all of them finished (a --requests run) or the duration is over,
 * then asks them to stop (gen_quit 1), gives answers in flight --drain
 * seconds, and cuts the rest (gen_quit 2). SIGINT does the same early.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp_port.h"
#include "gen.h"
#include "now.h"

#define GEN_PORT_ID 0
#define GEN_MS_TICK 10
#define GEN_NS_PER_S 1e9      /* the run clock is in seconds, as --duration */
/* IP + TCP headers without options: the MSS is the MTU less these. */
#define GEN_IP_TCP_HLEN 40

struct gen_lcore *gen_lcores[RTE_MAX_LCORE];
volatile int gen_quit;

static void gen_on_signal(int sig)
{
	(void)sig;
	/* A second Ctrl-C cuts the drain short. */
	__atomic_store_n(&gen_quit, __atomic_load_n(&gen_quit, __ATOMIC_RELAXED) ? 2 : 1,
			 __ATOMIC_RELAXED);
}

static void gen_die(const char *what, const char *why)
{
	fprintf(stderr, "seckill-gen: %s: %s\n", what, why);
	rte_eal_cleanup();
	exit(EXIT_FAILURE);
}

/* The i-th of n even shares of total. */
static uint64_t share(uint64_t total, unsigned i, unsigned n)
{
	return total / n + (i < total % n ? 1 : 0);
}

/* Worker w's part of the run: its conns, rate, requests, buyers and ports. */
static void gen_split(const struct gen_opts *o, struct gen_conf *c, unsigned w, unsigned n)
{
	const struct gen_conf *all = &o->load;
	uint32_t ports = (uint32_t)all->port_hi - all->port_lo + 1u, pw = ports / n;
	uint64_t first = 0;

	*c = *all;
	c->conns = (uint32_t)share(all->conns, w, n);
	if (c->conns == 0)
		c->conns = 1;
	c->rate = share(all->rate, w, n);
	if (all->rate && c->rate == 0)
		c->rate = 1;
	c->requests = share(all->requests, w, n);
	for (unsigned i = 0; i < w; i++)
		first += share(all->buyers, i, n);
	c->buyer_first = all->buyer_first + first;
	c->buyers = RTE_MAX(share(all->buyers, w, n), (uint64_t)1);
	c->port_lo = (uint16_t)(all->port_lo + w * pw);
	c->port_hi = (uint16_t)(c->port_lo + pw - 1);
}

static void gen_lcores_alloc(const struct gen_opts *o, struct rte_mempool *pool,
			     const struct net_iface *ifc, const struct gen_pcap *pcap, unsigned n)
{
	unsigned id, w = 0;

	RTE_LCORE_FOREACH_WORKER(id) {
		struct gen_lcore *lc = rte_zmalloc_socket("gen_lcore", sizeof(*lc),
							  RTE_CACHE_LINE_SIZE,
							  (int)rte_lcore_to_socket_id(id));

		if (lc == NULL)
			gen_die("out of memory", "for a worker's state; raise EAL -m");
		lc->opts = o;
		lc->pool = pool;
		lc->ifc = *ifc;
		lc->port = GEN_PORT_ID;
		lc->queue = (uint16_t)w;
		lc->index = w;
		lc->n_workers = n;
		gen_split(o, &lc->conf, w, n);
		lc->pcap = pcap;
		lc->pcap_rate = pcap ? share(o->pcap_rate, w, n) : 0;
		gen_lcores[id] = lc;
		w++;
	}
}

/* How many workers are in state st (or beyond it, for DONE). */
static unsigned gen_count(int st)
{
	unsigned id, k = 0;

	RTE_LCORE_FOREACH_WORKER(id) {
		int s = __atomic_load_n(&gen_lcores[id]->state, __ATOMIC_ACQUIRE);

		if (s == st || (st == GEN_LC_DONE && s == GEN_LC_FAILED))
			k++;
	}
	return k;
}

static void gen_sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Starts the workers and runs the clock; false when one failed to start. */
static bool gen_run(const struct gen_opts *o, unsigned n)
{
	unsigned id;
	double t0, stop_at = 0;

	RTE_LCORE_FOREACH_WORKER(id)
		rte_eal_remote_launch(gen_worker_main, NULL, id);
	while (gen_count(GEN_LC_STARTING) != 0)
		gen_sleep_ms(1);
	RTE_LCORE_FOREACH_WORKER(id) {
		if (__atomic_load_n(&gen_lcores[id]->state, __ATOMIC_ACQUIRE) == GEN_LC_FAILED) {
			fprintf(stderr, "seckill-gen: worker on lcore %u: %s\n", id,
				gen_lcores[id]->err);
			__atomic_store_n(&gen_quit, 2, __ATOMIC_RELAXED);
			rte_eal_mp_wait_lcore();
			return false;
		}
	}
	t0 = now_mono_ns() / GEN_NS_PER_S;
	while (gen_count(GEN_LC_DONE) < n) {
		double now = now_mono_ns() / GEN_NS_PER_S;
		int q = __atomic_load_n(&gen_quit, __ATOMIC_RELAXED);

		if (q == 0 && o->duration_s > 0 && now - t0 >= o->duration_s &&
		    (o->load.requests == 0 || o->no_load))
			__atomic_store_n(&gen_quit, q = 1, __ATOMIC_RELAXED);
		if (q >= 1 && stop_at == 0)
			stop_at = now;
		if (q == 1 && now - stop_at >= o->drain_s)
			__atomic_store_n(&gen_quit, 2, __ATOMIC_RELAXED);
		gen_sleep_ms(GEN_MS_TICK);
	}
	rte_eal_mp_wait_lcore();
	return true;
}

/* --linger: the workers are done; the port stays up until the time is out
 * or a signal comes, so the peer can leave first. */
static void gen_linger(double secs)
{
	double until = now_mono_ns() / GEN_NS_PER_S + secs;

	__atomic_store_n(&gen_quit, 0, __ATOMIC_RELAXED);
	while (now_mono_ns() / GEN_NS_PER_S < until &&
	       __atomic_load_n(&gen_quit, __ATOMIC_RELAXED) == 0)
		gen_sleep_ms(GEN_MS_TICK);
}

int main(int argc, char **argv)
{
	static struct gen_opts opts;
	static struct gen_pcap pcap;
	struct gen_lcore *lcs[RTE_MAX_LCORE];
	struct net_iface ifc = { 0 };
	struct rte_mempool *pool;
	unsigned n = 0, id;
	char err[256];
	int sep, ret;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (sep = 1; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
		;
	if (sep == argc && argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		gen_opts_usage(stdout, argv[0]);
		return EXIT_SUCCESS;
	}
	ret = gen_opts_parse(&opts, argc - sep, argv + sep, err, sizeof(err));
	if (ret != 0) {
		if (ret > 0) {
			gen_opts_usage(stdout, argv[0]);
			return EXIT_SUCCESS;
		}
		fprintf(stderr, "seckill-gen: %s\n", err);
		return 2;
	}
	if (opts.pcap && gen_pcap_load(opts.pcap, 1u << 22, &pcap, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-gen: --pcap: %s\n", err);
		return EXIT_FAILURE;
	}
	ret = rte_eal_init(sep, argv);
	if (ret < 0) {
		fprintf(stderr, "seckill-gen: EAL start failed: %s; check the EAL options before "
			"'--' (tools/bench-gen has a set that works on this machine)\n",
			rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	signal(SIGINT, gen_on_signal);
	signal(SIGTERM, gen_on_signal);
	n = rte_lcore_count() - 1;
	if (n == 0)
		gen_die("no worker lcore", "give the EAL a main lcore plus one per worker, "
			"e.g. --lcores 0@0,1@1");
	if ((uint32_t)opts.load.port_hi - opts.load.port_lo + 1u < opts.load.conns + n)
		gen_die("--ports", "fewer local ports than connections");
	pool = dp_pool_create("gen_mbufs", opts.mbufs, n);
	if (pool == NULL) {
		snprintf(err, sizeof(err), "%s; lower --mbufs (now %u) or raise EAL -m",
			 rte_strerror(rte_errno), opts.mbufs);
		gen_die("cannot create the mbuf pool", err);
	}
	if (dp_port_init(GEN_PORT_ID, (uint16_t)n, pool, &ifc, err, sizeof(err)) < 0)
		gen_die("port set-up failed", err);
	ifc.ip = opts.ip;
	opts.tcp.mss = (uint16_t)RTE_MIN(opts.tcp.mss, ifc.mtu - GEN_IP_TCP_HLEN);
	opts.tcp.max_conns = opts.tcp.max_conns / n + 64;
	/* A closed loop keeps every connection's request in flight at once, and
	 * a server that holds its answers (seckill-dp's durable 200s) keeps them
	 * there for a group commit: every entry may need a block each way. The
	 * default, a quarter of the table, failed tcp_send (send_failed) past
	 * ~conns / 2 connections. */
	opts.tcp.rx_bufs = opts.tcp.tx_bufs = opts.tcp.max_conns;
	gen_lcores_alloc(&opts, pool, &ifc, opts.pcap ? &pcap : NULL, n);

	ok = gen_run(&opts, n);
	n = 0;
	RTE_LCORE_FOREACH_WORKER(id)
		lcs[n++] = gen_lcores[id];
	for (unsigned w = 0; ok && w < n; w++) {
		if (lcs[w]->load != NULL && !gen_load_ready(lcs[w]->load)) {
			fprintf(stderr, "seckill-gen: %s never answered ARP: check --server, the "
				"link to it (a memif peer must be running) or give --server-mac\n",
				inet_ntop(AF_INET, &opts.load.server_ip, err, sizeof(err)));
			ok = false;
		}
	}
	if (ok)
		gen_report(stdout, &opts, lcs, n);
	gen_linger(opts.linger_s);
	RTE_LCORE_FOREACH_WORKER(id) {
		gen_load_destroy(gen_lcores[id]->load);
		rte_free(gen_lcores[id]);
	}
	dp_port_fini(GEN_PORT_ID);
	rte_mempool_free(pool);
	gen_pcap_free(&pcap);
	rte_eal_cleanup();
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
