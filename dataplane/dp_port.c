/*
 * dp_port.c - the mbuf pool and a port: one RX/TX queue pair per worker.
 *
 * The port gives us our MAC (the stack answers ARP with it) and its MTU.
 * Promiscuous mode is turned off: frames for other hosts on the segment are
 * the NIC's (or the kernel's) to drop, not a worker's. With several queues
 * the NIC's RSS keeps each flow on one queue (dp_port_rss). No checksum
 * offloads are asked for: lib/ computes every checksum itself, so the same
 * code runs on af_packet and on a real NIC.
 */
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>

#include "dp_port.h"
#include "net_hdr.h"

/* Descriptors per queue: l3fwd's defaults, a PMD may round them. */
#define DP_RX_DESC 1024
#define DP_TX_DESC 1024
/* Per-lcore mempool cache: a few bursts, so alloc/free rarely touch the ring. */
#define DP_MBUF_CACHE 256

_Static_assert(RTE_MBUF_DEFAULT_DATAROOM >= NET_FRAME_MAX,
	       "an mbuf must hold a whole frame: lib/ builds frames in one buffer");

struct rte_mempool *dp_pool_create(const char *name, unsigned int mbufs, unsigned int workers)
{
	unsigned int cache = DP_MBUF_CACHE;

	/* The mempool wants cache <= n / 1.5; each worker's cache also holds
	 * mbufs back from the others, so keep all caches to half the pool. */
	while (cache > 8 && cache * (workers + 1) > mbufs / 2)
		cache /= 2;
	return rte_pktmbuf_pool_create(name, mbufs, cache, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
}

static int dp_port_queues(uint16_t port, uint16_t queues, struct rte_mempool *pool,
			  char *err, size_t errlen)
{
	uint16_t nrx = DP_RX_DESC, ntx = DP_TX_DESC;
	int socket = rte_eth_dev_socket_id(port);
	uint16_t q;
	int ret;

	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	if (ret < 0) {
		snprintf(err, errlen, "port %u: cannot size its rings: %s", port, rte_strerror(-ret));
		return -1;
	}
	for (q = 0; q < queues; q++) {
		ret = rte_eth_rx_queue_setup(port, q, nrx, socket, NULL, pool);
		if (ret < 0) {
			snprintf(err, errlen, "port %u: RX queue %u setup failed: %s", port, q,
				 rte_strerror(-ret));
			return -1;
		}
		ret = rte_eth_tx_queue_setup(port, q, ntx, socket, NULL);
		if (ret < 0) {
			snprintf(err, errlen, "port %u: TX queue %u setup failed: %s", port, q,
				 rte_strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* Our addresses as the port reports them; ifc->ip is the caller's. */
static int dp_port_addr(uint16_t port, struct net_iface *ifc, char *err, size_t errlen)
{
	struct rte_ether_addr mac;
	uint16_t mtu = NET_MTU;
	int ret;

	ret = rte_eth_macaddr_get(port, &mac);
	if (ret < 0) {
		snprintf(err, errlen, "port %u: cannot read its MAC: %s", port, rte_strerror(-ret));
		return -1;
	}
	memcpy(ifc->mac, mac.addr_bytes, NET_ETH_ALEN);
	/* A port that cannot tell its MTU gets the Ethernet default. */
	if (rte_eth_dev_get_mtu(port, &mtu) < 0 || mtu > NET_MTU)
		mtu = NET_MTU;
	ifc->mtu = mtu;
	return 0;
}

/*
 * Spreads flows over the workers' queues. Each worker owns the connections
 * of its queue, so every segment of a flow must reach the same queue: any
 * hash of the IPv4 4-tuple does (we only answer, so the hash need not be
 * symmetric). A PMD that hashes on its own, like af_packet through the
 * kernel's fanout, reports no RSS offloads and is left as it is.
 */
static void dp_port_rss(struct rte_eth_conf *pconf, const struct rte_eth_dev_info *info,
			uint16_t queues)
{
	uint64_t hf = (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP) &
		      info->flow_type_rss_offloads;

	if (queues < 2 || hf == 0)
		return;
	pconf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	pconf->rx_adv_conf.rss_conf.rss_key = NULL;  /* the PMD's default key */
	pconf->rx_adv_conf.rss_conf.rss_hf = hf;
}

int dp_port_init(uint16_t port, uint16_t queues, struct rte_mempool *pool,
		 struct net_iface *ifc, char *err, size_t errlen)
{
	struct rte_eth_conf pconf;
	struct rte_eth_dev_info info;
	int ret;

	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, errlen, "no DPDK port %u: pass one with --vdev "
			 "net_af_packet0,iface=<veth> (tools/serve does) or bind a NIC", port);
		return -1;
	}
	ret = rte_eth_dev_info_get(port, &info);
	if (ret < 0) {
		snprintf(err, errlen, "port %u: no device info: %s", port, rte_strerror(-ret));
		return -1;
	}
	if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
		snprintf(err, errlen, "port %u (%s) has %u RX / %u TX queues, %u workers need one "
			 "each: use fewer worker lcores or more queues (af_packet: qpairs=%u)",
			 port, info.driver_name, info.max_rx_queues, info.max_tx_queues, queues,
			 queues);
		return -1;
	}
	memset(&pconf, 0, sizeof(pconf));
	dp_port_rss(&pconf, &info, queues);
	ret = rte_eth_dev_configure(port, queues, queues, &pconf);
	if (ret < 0) {
		snprintf(err, errlen, "port %u: configure with %u queues failed: %s", port, queues,
			 rte_strerror(-ret));
		return -1;
	}
	if (dp_port_queues(port, queues, pool, err, errlen) < 0)
		return -1;
	ret = rte_eth_dev_start(port);
	if (ret < 0) {
		snprintf(err, errlen, "port %u: start failed: %s", port, rte_strerror(-ret));
		return -1;
	}
	/* Not every PMD can switch promiscuous mode; frames for others are then
	 * dropped by net_input as drop_not_for_us, so this is not fatal. */
	rte_eth_promiscuous_disable(port);
	return dp_port_addr(port, ifc, err, errlen);
}

void dp_port_fini(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}
