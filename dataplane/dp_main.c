/*
 * dp_main.c - seckill-dp: start-up, the worker launch, and a clean stop.
 *
 *   seckill-dp [EAL options] -- --ip A.B.C.D [options]
 *
 * Our options are parsed first, before the EAL starts, so a mistake is
 * reported in one line without DPDK's start-up noise. Then: EAL, mbuf pool,
 * port 0 with one queue pair per worker lcore, one dp_lcore per worker
 * (its stack is built by the worker itself), launch, and the main lcore turns
 * into the control thread (ctl_loop.c: order rings to the journal, summaries).
 * With --campaign the state directory, boot epoch and journal are set up
 * before the EAL and the sale engine right after it (ctl_sale.c).
 * SIGINT/SIGTERM set dp_quit; workers leave their loops, the main lcore waits
 * for them, journals the last orders, prints the final counters and frees
 * everything, so a test can read exact numbers from a stopped server.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "app_site.h"
#include "ctl_metrics.h"
#include "ctl_product.h"
#include "ctl_plane.h"
#include "ctl_sock.h"

/* The port we serve on: the first one the EAL found (a --vdev or a NIC). */
#define DP_PORT_ID 0
/* IPv4 + TCP headers without options: what an MSS leaves out of the MTU. */
#define DP_IP_TCP_HLEN 40

struct dp_lcore *dp_lcores[RTE_MAX_LCORE];
volatile int dp_quit;

static void dp_on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&dp_quit, 1, __ATOMIC_RELAXED);
}

static void dp_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = dp_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Index of the "--" separating EAL options from ours, or argc when absent. */
static int dp_split(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return argc;
}

/* Parses our options (after "--"); exits on --help or an error. */
static void dp_parse_or_exit(struct dp_conf *conf, int argc, char **argv, int sep)
{
	char *app_argv[argc + 1];
	char err[256];
	int app_argc = 1, i;

	app_argv[0] = argv[0];
	if (sep == argc && argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		app_argv[app_argc++] = argv[1];
	for (i = sep + 1; i < argc; i++)
		app_argv[app_argc++] = argv[i];
	app_argv[app_argc] = NULL;

	switch (dp_conf_parse(conf, app_argc, app_argv, err, sizeof(err))) {
	case DP_CONF_OK:
		return;
	case DP_CONF_HELP:
		dp_conf_usage(stdout, argv[0]);
		exit(EXIT_SUCCESS);
	case DP_CONF_ERROR:
		fprintf(stderr, "seckill-dp: %s\n", err);
		exit(2);
	}
}

/* The sale page: --site DIR, or the built-in one; read, gzipped and hashed
 * here, once, before the EAL starts (a bad --site is a configuration error). */
static struct app_site *dp_site_or_exit(const struct dp_conf *conf)
{
	struct app_site *s;
	char err[512];

	if (conf->site_dir[0] != '\0')
		s = app_site_load_dir(conf->site_dir, err, sizeof(err));
	else
		s = app_site_build(app_site_builtin, app_site_builtin_n, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "seckill-dp: the sale page: %s\n", err);
		exit(2);
	}
	return s;
}

static void dp_die(const char *what, const char *detail)
{
	fprintf(stderr, "seckill-dp: %s: %s\n", what, detail);
	rte_eal_cleanup();
	exit(EXIT_FAILURE);
}

/* One dp_lcore per worker, on the worker's socket, each with its own queue. */
static unsigned int dp_lcores_alloc(struct dp_conf *conf, struct rte_mempool *pool,
				    const struct net_iface *ifc, struct sale *sale,
				    struct lim_conn *ip_conns)
{
	struct dp_lcore *lc;
	unsigned int id, q = 0;

	RTE_LCORE_FOREACH_WORKER(id) {
		lc = rte_zmalloc_socket("dp_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE,
					rte_lcore_to_socket_id(id));
		if (lc == NULL)
			dp_die("out of memory for the worker state", "raise EAL -m");
		lc->conf = conf;
		lc->pool = pool;
		lc->ifc = *ifc;
		lc->port = DP_PORT_ID;
		lc->queue = (uint16_t)q++;
		lc->lcore_id = id;
		lc->ip_conns = ip_conns;
		/* The worker index, not the lcore id, names the sale's core. */
		lc->sale = sale ? sale_core(sale, lc->queue) : NULL;
		dp_lcores[id] = lc;
	}
	return q;
}

/* The sale page for every worker: the site each copies at set-up, and the
 * products table the control thread publishes in (ctl_product.c). */
static void dp_lcores_page(const struct app_site *site, const struct app_products *products)
{
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		dp_lcores[id]->site = site;
		dp_lcores[id]->products = products;
	}
}

/* Launches every worker and waits until each is polling or has failed. */
static bool dp_launch(void)
{
	unsigned int id;
	bool ok = true;
	int st;

	RTE_LCORE_FOREACH_WORKER(id)
		rte_eal_remote_launch(dp_worker_main, NULL, id);
	RTE_LCORE_FOREACH_WORKER(id) {
		/* Pairs with the worker's release store of its state. */
		while ((st = __atomic_load_n(&dp_lcores[id]->state, __ATOMIC_ACQUIRE)) ==
		       DP_LCORE_STARTING)
			rte_pause();
		if (st == DP_LCORE_FAILED) {
			fprintf(stderr, "seckill-dp: worker lcore %u: %s\n", id, dp_lcores[id]->err);
			ok = false;
		}
	}
	return ok;
}

static void dp_sale_banner(const struct dp_conf *conf, const struct ctl_plane *ctl)
{
	const struct dp_sale_conf *sc = &conf->sale;

	for (unsigned int i = 0; i < sc->n_campaigns; i++)
		printf("seckill-dp: campaign %u: %" PRIu64 " units, opens at %" PRIu64 " ms\n",
		       sc->camp[i].id, sc->camp[i].stock, sc->camp[i].starts_at_ms);
	printf("seckill-dp: sale: epoch %u node %u, order rings of %u, journal %s/journal "
	       "(max %" PRIu64 " MB)\n", ctl->epoch, sc->node_id, sc->order_ring,
	       sc->state_dir, sc->journal_max_bytes >> 20);
}

static void dp_banner(const struct dp_conf *conf, const struct net_iface *ifc, unsigned int n)
{
	const uint8_t *m = ifc->mac;

	printf("seckill-dp: serving http://%s:%u/ on DPDK port %u "
	       "(MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u), %u worker%s, %u conns each, "
	       "idle sleep <= %u us\n",
	       conf->ip_str, conf->tcp.listen_port, DP_PORT_ID, m[0], m[1], m[2], m[3], m[4], m[5],
	       ifc->mtu, n, n == 1 ? "" : "s", conf->tcp.max_conns, conf->idle_sleep_us);
	fflush(stdout);
}

/* seckill_durable_publish_seconds' buckets: a pass is 0.2 to 1 ms plus an
 * fsync (tens of us on NVMe, ms on a disk, tens of ms when it stalls). */
static const double dp_durable_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

/* seckillctl's socket and the telemetry commands; exits when the socket
 * cannot be had (an operator needs it, and a typo should not go unnoticed). */
static void dp_ctl_open(const struct dp_conf *conf, struct ctl_plane *ctl)
{
	char path[DP_CTL_SOCKET_CAP], err[512];

	if (conf->ctl_socket[0] != '\0')
		snprintf(path, sizeof(path), "%s", conf->ctl_socket);
	else
		ctl_sock_default_path(path, sizeof(path));
	ctl->sock = ctl_sock_open(path, ctl, conf, err, sizeof(err));
	if (ctl->sock == NULL)
		dp_die("control socket", err);
	printf("seckill-dp: control socket %s (seckillctl --socket %s)\n", path, path);
	ctl_telemetry_init(ctl);
	ctl_prom_hist_init(&ctl->durable_hist, dp_durable_le, RTE_DIM(dp_durable_le));
	if (conf->metrics_listen[0] != '\0') {
		ctl->metrics = ctl_metrics_open(conf->metrics_listen, ctl, err, sizeof(err));
		if (ctl->metrics == NULL)
			dp_die("metrics", err);
		printf("seckill-dp: metrics on http://%s/metrics\n", conf->metrics_listen);
	}
}

static void dp_teardown(struct rte_mempool *pool)
{
	unsigned int id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (dp_lcores[id] == NULL)
			continue;
		dp_worker_fini(dp_lcores[id]);
		rte_free(dp_lcores[id]);
		dp_lcores[id] = NULL;
	}
	dp_port_fini(DP_PORT_ID);
	rte_mempool_free(pool);
}

int main(int argc, char **argv)
{
	static struct dp_conf conf;
	static struct ctl_plane ctl;
	struct net_iface ifc = { 0 };
	struct app_site *site;
	struct rte_mempool *pool;
	unsigned int workers;
	char err[256];
	int sep, ret;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sep = dp_split(argc, argv);
	dp_parse_or_exit(&conf, argc, argv, sep);
	site = dp_site_or_exit(&conf);
	if (ctl_sale_open(&conf, &ctl, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-dp: %s\n", err);
		return EXIT_FAILURE;
	}

	ret = rte_eal_init(sep, argv);
	if (ret < 0) {
		fprintf(stderr, "seckill-dp: EAL start failed: %s; check the EAL options before "
			"'--' (tools/serve has a set that works on this machine)\n",
			rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	dp_signals();
	workers = rte_lcore_count() - 1;
	if (workers == 0)
		dp_die("no worker lcore", "give the EAL a main lcore plus one per worker, "
		       "e.g. --lcores 0@0,1@1");

	pool = dp_pool_create("dp_mbufs", conf.mbufs, workers);
	if (pool == NULL) {
		snprintf(err, sizeof(err), "%s; lower --mbufs (now %u) or raise EAL -m",
			 rte_strerror(rte_errno), conf.mbufs);
		dp_die("cannot create the mbuf pool", err);
	}
	if (dp_port_init(DP_PORT_ID, (uint16_t)workers, pool, &ifc, err, sizeof(err)) < 0)
		dp_die("port set-up failed", err);
	ifc.ip = conf.ip;
	conf.tcp.mss = (uint16_t)RTE_MIN(conf.tcp.mss, ifc.mtu - DP_IP_TCP_HLEN);

	if (ctl_sale_create(&conf, &ctl, workers, err, sizeof(err)) < 0)
		dp_die("cannot set up the sale", err);
	ctl_product_restore(&conf, ctl.sale);
	if (ctl_sale_events_open(&conf, &ctl, err, sizeof(err)) < 0)
		dp_die("cannot follow the order service", err);

	/* --ip-conns: one count per address for every worker (RSS spreads an
	 * address's flows over them), sized for every worker's table full. */
	ctl.ip_conns = lim_conn_create((size_t)conf.tcp.max_conns * workers, conf.ip_conns, NULL);
	if (ctl.ip_conns == NULL)
		dp_die("cannot create the --ip-conns table", "out of memory; lower --max-conns");
	dp_lcores_alloc(&conf, pool, &ifc, ctl.sale, ctl.ip_conns);
	dp_lcores_page(site, ctl_product_table());
	dp_ctl_open(&conf, &ctl);
	ok = dp_launch();
	if (ok) {
		if (ctl.sale != NULL)
			dp_sale_banner(&conf, &ctl);
		dp_banner(&conf, &ifc, workers);
	} else {
		__atomic_store_n(&dp_quit, 1, __ATOMIC_RELAXED);
	}
	ctl_loop_run(&ctl, &conf);

	rte_eal_mp_wait_lcore();
	ctl_loop_finish(&ctl);
	ctl_sale_events_close(&ctl);
	ctl_telemetry_fini();
	ctl_sock_close(ctl.sock);
	ctl.sock = NULL;
	ctl_metrics_close(ctl.metrics);
	ctl.metrics = NULL;
	if (ok)
		ctl_stats_print_final(stdout, &ctl);
	dp_teardown(pool);
	lim_conn_free(ctl.ip_conns);
	ctl.ip_conns = NULL;
	ctl_sale_close(&ctl);
	app_site_free(site);
	ctl_product_fini();
	rte_eal_cleanup();
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
