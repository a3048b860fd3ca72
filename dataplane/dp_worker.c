/*
 * dp_worker.c - the per-lcore main loop: the whole life of a packet.
 *
 * Read dp_worker_main from top to bottom, as l3fwd's main_loop: take the
 * clock, receive a burst, hand each frame to net_input (which answers ARP and
 * ping and feeds TCP, which feeds HTTP, which queues answers on our TX burst),
 * free the burst, fire due TCP timers, flush the TX burst. Ten times a second
 * the worker also refreshes the HTTP Date, re-anchors the sale's millisecond
 * clock to the wall clock and publishes its gauges.
 *
 * The sale (lib/sale) needs Unix milliseconds on every request: starts_at,
 * token expiry, rate limits. A clock_gettime per loop would cost more than
 * the request, so the loop derives it from the TSC it reads anyway:
 * ms0 + (tsc - tsc0) / tsc_per_ms, with (ms0, tsc0) refreshed every tick.
 * busy_cycles adds up the TSC cycles of every non-empty burst (RX, the whole
 * stack, timers, TX), so cycles per request is busy_cycles / http.requests;
 * stack_cycles is the part spent in the stack (net_input to the answer
 * queued), so the rest is the PMD's RX and TX (on af_packet, a system call
 * per TX burst) and whatever preempted the worker meanwhile.
 *
 * Idle back-off: a polling core burns its CPU even when nothing arrives, and
 * on a small machine that CPU is someone else's. After DP_IDLE_SPIN_POLLS
 * empty polls in a row the worker sleeps, 1 us, then 2, 4 ... up to
 * --idle-sleep-us, and goes back to busy polling on the first packet. Under
 * load it never sleeps; idle, it wakes once per --idle-sleep-us. Answers held
 * for their orders' durability keep it polling, so a 200 leaves the moment
 * its fsync is published, but only while the durable position moves: when
 * it has stood still DP_HOLD_SPIN_MS (Kafka down with --answer-after kafka,
 * a stalled disk) the back-off applies again, a sleep of at most
 * --idle-sleep-us added to an answer already that late.
 */
#include <sys/prctl.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "app_site.h"
#include "dp.h"
#include "net_peek.h"
#include "now.h"

/* How far ahead to prefetch frame headers in a burst, as l3fwd does. */
#define DP_PREFETCH_OFFSET 3
/* Empty polls before the first sleep: a spin long enough to catch the next
 * request of a keep-alive client without a sleep's wake-up delay. What a
 * poll costs depends on the PMD; the round trips to cover are BENCHMARKS.md's
 * latencies. */
#define DP_IDLE_SPIN_POLLS 256
/* Timer slack of a worker: the kernel's default 50 us would stretch the
 * back-off's first sleeps (1, 2, 4 ... us) to 50 us each. */
#define DP_TIMER_SLACK_NS 1000
/* A group commit takes 0.3-3 ms here; one standing still this long is stalled. */
#define DP_HOLD_SPIN_MS 5
/* Housekeeping ticks per second: Date header, gauges for the stats printer. */
#define DP_TICKS_PER_SEC 10
#define DP_MS_PER_S 1000

/*
 * Held 200s leave once the control thread says their orders are durable.
 * True while answers are held and the durable position moved (or the
 * holding began) within hold_tsc: the worker should poll on for it.
 */
static inline bool dp_worker_release(struct dp_lcore *lc, uint64_t now, uint64_t hold_tsc)
{
	uint64_t d;

	if (!app_holding(&lc->app)) {
		lc->durable_moved_tsc = 0;
		return false;
	}
	d = sale_durable_seq(lc->sale);
	if (d != lc->durable_seen || lc->durable_moved_tsc == 0) {
		lc->durable_seen = d;
		lc->durable_moved_tsc = now;
	}
	app_release(&lc->app, lc->tcp, d);
	return app_holding(&lc->app) && now - lc->durable_moved_tsc < hold_tsc;
}

static void dp_worker_fail(struct dp_lcore *lc, const char *msg)
{
	snprintf(lc->err, sizeof(lc->err), "%s", msg);
	/* Pairs with the main lcore's acquire load: err is complete when it
	 * sees FAILED. */
	__atomic_store_n(&lc->state, DP_LCORE_FAILED, __ATOMIC_RELEASE);
}

/* lib/tcp's admission hook on the shared --ip-conns table (lib/sale's
 * lim_conn): asked once per completed handshake, never per packet. */
static enum tcp_admit_verdict dp_worker_admit(void *ctx, uint32_t peer_ip)
{
	struct dp_lcore *lc = ctx;

	switch (lim_conn_admit(lc->ip_conns, peer_ip)) {
	case LIM_CONN_COUNTED:
		return TCP_ADMIT_COUNTED;
	case LIM_CONN_REFUSE:
		return TCP_ADMIT_REFUSE;
	case LIM_CONN_FULL:
		lc->st.ip_conns_full++;
		return TCP_ADMIT_PASS;
	default:
		return TCP_ADMIT_PASS;           /* off */
	}
}

static void dp_worker_unadmit(void *ctx, uint32_t peer_ip)
{
	struct dp_lcore *lc = ctx;

	lim_conn_release(lc->ip_conns, peer_ip);
}

/* Builds this worker's stack on this lcore, so its memory is first touched
 * (and therefore placed) on the worker's own NUMA node. */
static int dp_worker_setup(struct dp_lcore *lc)
{
	const struct dp_conf *conf = lc->conf;
	struct tcp_conf tconf = conf->tcp;
	struct tcp_app app = {
		.on_data = http_server_on_data,
		.on_peer_fin = http_server_on_peer_fin,
		.on_closed = http_server_on_closed,
	};

	app_init(&lc->app);
	if (lc->sale != NULL)
		app_set_sale(&lc->app, lc->sale);
	/* A sold order's 200 waits until the order is durable (--answer-after),
	 * in a queue as long as two order rings: the orders not yet drained,
	 * and those drained but not yet synced. */
	if (lc->sale != NULL && conf->sale.answer_after != DP_ANSWER_AFTER_MEMORY_UNSAFE &&
	    app_set_hold(&lc->app, 2 * conf->sale.order_ring) < 0) {
		dp_worker_fail(lc, "out of memory for the held answers' queue; lower --order-ring");
		return -1;
	}
	/* The sale page, copied into this worker's own memory. */
	if (lc->site != NULL) {
		lc->site_copy = app_site_copy(lc->site);
		if (lc->site_copy == NULL) {
			dp_worker_fail(lc, "out of memory for the sale page's copy; raise EAL -m");
			return -1;
		}
		app_set_site(&lc->app, lc->site_copy);
	}
	app_set_products(&lc->app, lc->products);
	lc->http = http_server_create(&conf->http, app_handle, &lc->app);
	if (lc->http == NULL) {
		dp_worker_fail(lc, "cannot create the HTTP server: out of memory");
		return -1;
	}
	app.ctx = lc->http;
	http_server_set_time(lc->http, now_wall_s());
	dp_txq_init(&lc->txq, &lc->tx, lc->pool, lc->port, lc->queue, (struct dp_txq_counters){
		&lc->st.tx_pkts, &lc->st.tx_bursts, &lc->st.tx_drops, &lc->st.tx_nombuf,
		&lc->st.tx_ring_full });
	prctl(PR_SET_TIMERSLACK, DP_TIMER_SLACK_NS, 0, 0, 0);
	/* Installed even with --ip-conns 0, so seckillctl can switch it on. */
	tconf.admit = (struct tcp_admit){ dp_worker_admit, dp_worker_unadmit, lc };
	lc->tcp = tcp_core_create(&tconf, &lc->ifc, &lc->tx, &app);
	if (lc->tcp == NULL) {
		dp_worker_fail(lc, "cannot create the TCP core: out of memory for --max-conns "
			       "x (--rx-buf + --tx-buf); lower one of them");
		return -1;
	}
	net_core_init(&lc->net, &lc->ifc, &lc->tx, lc->tcp, tcp_input);
	return 0;
}

/*
 * The burst's buys, before any is served: each names its buyer's
 * purchase-set slot (app_prefetch.c), then all the slots start loading at
 * once, so the burst's TLB and cache misses overlap (sale_prefetch_issue).
 * A burst of one has nothing to overlap with.
 */
static inline void dp_worker_peek(struct dp_lcore *lc, struct rte_mbuf **pkts, uint16_t nb)
{
	const uint8_t *p;
	uint32_t plen;

	if (nb < 2)
		return;
	for (uint16_t i = 0; i < nb; i++) {
		p = net_peek_tcp_payload(rte_pktmbuf_mtod(pkts[i], const uint8_t *),
					 rte_pktmbuf_data_len(pkts[i]), &plen);
		if (p != NULL)
			app_prefetch_request(&lc->app, p, plen);
	}
	app_prefetch_issue(&lc->app);
}

/* One received burst through the stack; the mbufs are ours to free. */
static inline void dp_worker_input(struct dp_lcore *lc, struct rte_mbuf **pkts, uint16_t nb)
{
	struct rte_mbuf *m;
	uint16_t i;

	for (i = 0; i < nb && i < DP_PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	dp_worker_peek(lc, pkts, nb);
	for (i = 0; i < nb; i++) {
		if (i + DP_PREFETCH_OFFSET < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_OFFSET], void *));
		m = pkts[i];
		/* Our pool's buffers hold any frame we accept; a chained mbuf is
		 * larger than NET_FRAME_MAX, which net_input would drop anyway. */
		if (unlikely(m->nb_segs != 1)) {
			lc->st.rx_drop_multiseg++;
			continue;
		}
		net_input(&lc->net, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m));
	}
	rte_pktmbuf_free_bulk(pkts, nb);
	lc->st.rx_pkts += nb;
	lc->st.rx_bursts++;
}

/* Ties the sale's clock to the wall clock at TSC value now. */
static void dp_worker_clock(struct dp_lcore *lc, uint64_t now)
{
	lc->clock_ms0 = now_wall_ms();
	lc->clock_tsc0 = now;
}

/* Slow housekeeping, DP_TICKS_PER_SEC times a second. */
static void dp_worker_tick(struct dp_lcore *lc, uint64_t now)
{
	dp_worker_clock(lc, now);
	http_server_set_time(lc->http, lc->clock_ms0 / DP_MS_PER_S);
	tcp_core_gauges(lc->tcp, &lc->gauges);
}

/* The idle back-off; nb is what the last poll received. */
static inline void dp_worker_idle(struct dp_lcore *lc, uint16_t nb)
{
	uint32_t cap = lc->conf->idle_sleep_us;

	if (likely(nb != 0)) {
		lc->idle_polls = 0;
		lc->idle_sleep_us = 0;
		return;
	}
	if (cap == 0 || ++lc->idle_polls < DP_IDLE_SPIN_POLLS)
		return;
	lc->idle_sleep_us = lc->idle_sleep_us == 0 ? 1 : RTE_MIN(lc->idle_sleep_us * 2, cap);
	rte_delay_us_sleep(lc->idle_sleep_us);
	lc->st.idle_sleeps++;
}

int dp_worker_main(void *arg)
{
	struct dp_lcore *lc = dp_lcores[rte_lcore_id()];
	struct rte_mbuf *pkts[DP_BURST_MAX];
	const uint16_t burst = lc->conf->burst;
	const uint64_t tsc_per_us = RTE_MAX(rte_get_tsc_hz() / US_PER_S, (uint64_t)1);
	const uint64_t tick_tsc = rte_get_tsc_hz() / DP_TICKS_PER_SEC;
	const uint64_t tsc_per_ms = RTE_MAX(rte_get_tsc_hz() / DP_MS_PER_S, (uint64_t)1);
	const uint64_t hold_tsc = tsc_per_ms * DP_HOLD_SPIN_MS;
	uint64_t now, stack_t0, next_tick = 0;
	bool wait_durable;
	uint16_t nb;

	(void)arg;
	if (dp_worker_setup(lc) < 0)
		return -1;
	dp_worker_clock(lc, rte_rdtsc());
	/* Pairs with the main lcore's acquire load before it reports readiness. */
	__atomic_store_n(&lc->state, DP_LCORE_RUNNING, __ATOMIC_RELEASE);

	while (likely(!__atomic_load_n(&dp_quit, __ATOMIC_RELAXED))) {
		now = rte_rdtsc();
		tcp_set_now(lc->tcp, now / tsc_per_us);
		app_set_time_ms(&lc->app, lc->clock_ms0 + (now - lc->clock_tsc0) / tsc_per_ms);

		nb = rte_eth_rx_burst(lc->port, lc->queue, pkts, burst);
		if (nb != 0) {
			stack_t0 = rte_rdtsc();
			dp_worker_input(lc, pkts, nb);
			lc->st.stack_cycles += rte_rdtsc() - stack_t0;
		}
		tcp_timers_run(lc->tcp);
		wait_durable = dp_worker_release(lc, now, hold_tsc);
		dp_txq_flush(&lc->txq);
		if (nb != 0)
			lc->st.busy_cycles += rte_rdtsc() - now;

		if (unlikely(now >= next_tick)) {
			dp_worker_tick(lc, now);
			next_tick = now + tick_tsc;
		}
		/* Answers waiting for a sync that is moving, or frames for a full
		 * TX ring: poll on rather than sleep. */
		dp_worker_idle(lc, nb != 0 || wait_durable || lc->txq.n != 0);
	}
	dp_txq_drain(&lc->txq);
	tcp_core_gauges(lc->tcp, &lc->gauges);
	__atomic_store_n(&lc->state, DP_LCORE_STOPPED, __ATOMIC_RELEASE);
	return 0;
}

/* Frees the worker's stack; only after the worker has returned. */
void dp_worker_fini(struct dp_lcore *lc)
{
	if (lc->tcp != NULL)
		tcp_core_destroy(lc->tcp);
	if (lc->http != NULL)
		http_server_destroy(lc->http);
	lc->tcp = NULL;
	lc->http = NULL;
	app_set_hold(&lc->app, 0);
	app_set_site(&lc->app, NULL);
	app_site_free(lc->site_copy);
	lc->site_copy = NULL;
}
