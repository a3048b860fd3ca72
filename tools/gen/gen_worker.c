/*
 * gen_worker.c - a seckill-gen worker lcore: the client side of
 * dp_worker.c's loop.
 *
 * Read gen_worker_main top to bottom: take the clock and let the engine
 * start what is due (connects, open-loop requests), receive a burst and hand
 * each frame to the engine (ARP, TCP, HTTP answers counted and the next
 * closed-loop request sent), send the pcap frames that are due, flush the
 * TX burst. The engine's clock is nanoseconds from the
 * TSC, so latency costs no system call. busy_cycles adds up the TSC of every
 * iteration that moved a packet: the generator's own cost per request, to
 * set beside the server's (a generator slower than the server measures
 * itself).
 *
 * gen_quit 1 means "start nothing more": the engine closes idle connections
 * and finishes what is in flight; gen_quit 2 means "now": what is still in
 * flight is counted unanswered and reset.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "arp.h"
#include "gen.h"

#define GEN_IDLE_SPIN_POLLS 256

/* ns = tsc * mult >> 32, so the loop needs no division. */
struct gen_clock {
	uint64_t tsc0, mult;
};

static void gen_clock_init(struct gen_clock *k)
{
	k->tsc0 = rte_rdtsc();
	k->mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / rte_get_tsc_hz());
}

static inline uint64_t gen_clock_ns(const struct gen_clock *k, uint64_t tsc)
{
	return (uint64_t)(((unsigned __int128)(tsc - k->tsc0) * k->mult) >> 32);
}

static void gen_worker_fail(struct gen_lcore *lc, const char *msg)
{
	snprintf(lc->err, sizeof(lc->err), "%s", msg);
	__atomic_store_n(&lc->state, GEN_LC_FAILED, __ATOMIC_RELEASE);
}

/* --conns 0 replays the pcap alone: a bare net_core finds the server's MAC. */
struct gen_bare {
	struct net_core net;
	uint64_t arp_next_ns;
};

static bool gen_server_mac(struct gen_lcore *lc, struct gen_bare *bare, uint64_t ns)
{
	if (lc->load != NULL) {
		if (!gen_load_ready(lc->load))
			return false;
		memcpy(lc->conf.server_mac, gen_load_server_mac(lc->load), NET_ETH_ALEN);
		return true;
	}
	return arp_resolve(&bare->net, lc->conf.server_ip, lc->conf.server_mac, ns,
			   &bare->arp_next_ns) == ARP_RESOLVED;
}

/* The pcap frames due by ns: frame k of this worker's share is due at k / rate. */
static void gen_pcap_send(struct gen_lcore *lc, uint64_t ns, uint64_t start_ns)
{
	const struct gen_pcap *p = lc->pcap;
	uint64_t due_n = (uint64_t)((unsigned __int128)(ns - start_ns) * lc->pcap_rate / 1000000000u);
	uint32_t sent = 0;

	/* At most one TX burst's worth per poll; the rest stays due. */
	while (lc->pcap_i < due_n && sent < DP_TX_BURST) {
		uint32_t f = (uint32_t)(lc->pcap_i % p->n);
		void *h;
		uint8_t *buf = lc->tx.alloc(lc->tx.ctx, &h);

		if (buf == NULL)
			break;
		memcpy(buf, p->data + p->off[f], p->len[f]);
		memcpy(buf, lc->conf.server_mac, NET_ETH_ALEN);          /* to the server */
		memcpy(buf + NET_ETH_ALEN, lc->ifc.mac, NET_ETH_ALEN);   /* from us */
		lc->tx.send(lc->tx.ctx, h, p->len[f]);
		lc->pcap_i++;
		lc->st.pcap_sent++;
		sent++;
	}
	if (lc->pcap_i < due_n)
		lc->st.pcap_late++;          /* polls that left frames due: the rate was not kept */
}

static int gen_worker_setup(struct gen_lcore *lc, struct gen_bare *bare)
{
	char err[160];

	dp_txq_init(&lc->txq, &lc->tx, lc->pool, lc->port, lc->queue, (struct dp_txq_counters){
		&lc->st.tx_pkts, &lc->st.tx_bursts, &lc->st.tx_drops, &lc->st.tx_nombuf,
		&lc->st.tx_ring_full });
	if (lc->opts->no_load) {
		net_core_init(&bare->net, &lc->ifc, &lc->tx, NULL, NULL);
		return 0;
	}
	lc->load = gen_load_create(&lc->conf, &lc->opts->tcp, &lc->ifc, &lc->tx, err, sizeof(err));
	if (lc->load == NULL) {
		gen_worker_fail(lc, err);
		return -1;
	}
	return 0;
}

static inline void gen_worker_input(struct gen_lcore *lc, struct gen_bare *bare,
				    struct rte_mbuf **pkts, uint16_t nb)
{
	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (lc->load != NULL)
			gen_load_input(lc->load, rte_pktmbuf_mtod(m, const uint8_t *),
				       rte_pktmbuf_data_len(m));
		else
			net_input(&bare->net, rte_pktmbuf_mtod(m, const uint8_t *),
				  rte_pktmbuf_data_len(m));
	}
	rte_pktmbuf_free_bulk(pkts, nb);
	lc->st.rx_pkts += nb;
	lc->st.rx_bursts++;
}

static inline void gen_worker_idle(struct gen_lcore *lc, uint32_t *polls, uint32_t *sleep_us,
				   bool active)
{
	uint32_t cap = lc->opts->idle_sleep_us;

	if (active) {
		*polls = 0;
		*sleep_us = 0;
		return;
	}
	if (cap == 0 || ++*polls < GEN_IDLE_SPIN_POLLS)
		return;
	*sleep_us = *sleep_us == 0 ? 1 : RTE_MIN(*sleep_us * 2, cap);
	rte_delay_us_sleep(*sleep_us);
	lc->st.idle_sleeps++;
}

int gen_worker_main(void *arg)
{
	struct gen_lcore *lc = gen_lcores[rte_lcore_id()];
	struct rte_mbuf *pkts[GEN_BURST_MAX];
	struct gen_bare bare = { .arp_next_ns = 0 };
	struct gen_clock clk;
	uint64_t tsc, ns, pcap_start = 0, tx_before;
	uint32_t idle_polls = 0, idle_sleep = 0;
	bool stopped = false, ready = false, sent;
	uint16_t nb;
	int quit;

	(void)arg;
	if (gen_worker_setup(lc, &bare) < 0)
		return -1;
	gen_clock_init(&clk);
	__atomic_store_n(&lc->state, GEN_LC_RUNNING, __ATOMIC_RELEASE);

	for (;;) {
		quit = __atomic_load_n(&gen_quit, __ATOMIC_RELAXED);
		tsc = rte_rdtsc();
		ns = gen_clock_ns(&clk, tsc);
		tx_before = lc->st.tx_pkts + lc->st.tx_drops;

		if (quit == 2)
			break;
		if (quit == 1 && !stopped) {
			stopped = true;
			if (lc->load != NULL)
				gen_load_stop(lc->load);
		}
		/* The clock first: answers in this burst are timed now, not at
		 * the previous poll (which would shorten every latency by a loop). */
		if (lc->load != NULL)
			gen_load_poll(lc->load, ns);
		nb = rte_eth_rx_burst(lc->port, lc->queue, pkts, lc->opts->burst);
		if (nb != 0)
			gen_worker_input(lc, &bare, pkts, nb);
		if (!ready && gen_server_mac(lc, &bare, ns)) {
			ready = true;
			pcap_start = ns;
			lc->t_start_tsc = tsc;
		}
		if (ready && lc->pcap != NULL && !stopped)
			gen_pcap_send(lc, ns, pcap_start);
		dp_txq_flush(&lc->txq);
		sent = lc->st.tx_pkts + lc->st.tx_drops != tx_before;   /* incl. flushes when full */
		if (nb != 0 || sent)
			lc->st.busy_cycles += rte_rdtsc() - tsc;
		if (lc->load != NULL ? gen_load_done(lc->load) : stopped)
			break;
		gen_worker_idle(lc, &idle_polls, &idle_sleep, nb != 0 || sent || lc->txq.n != 0);
	}
	if (lc->load != NULL) {
		gen_load_abort(lc->load);
		gen_load_poll(lc->load, gen_clock_ns(&clk, rte_rdtsc()));
	}
	dp_txq_drain(&lc->txq);
	lc->t_end_tsc = rte_rdtsc();
	__atomic_store_n(&lc->state, GEN_LC_DONE, __ATOMIC_RELEASE);
	return 0;
}
