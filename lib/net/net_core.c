/*
 * net_core.c - a received frame's first steps: Ethernet demultiplexing.
 *
 * net_input is the whole receive path of one frame, in the order a reader
 * expects it (as in DPDK's l3fwd): count it, check it is long enough and
 * addressed to us, switch on the ethertype. IPv4 goes to ip4_input, which
 * passes TCP to tcp_input and ICMP to icmp_input; ARP goes to arp_input.
 * Nothing is kept from the frame after the call returns, and nothing is read
 * past len: each layer checks its own header fits before looking at it.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net_priv.h"

const char *const net_stats_names[] = { NET_STATS(STATS_NAME) };
_Static_assert(sizeof(net_stats_names) / sizeof(net_stats_names[0]) == NET_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct net_stats) == NET_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

void net_core_init(struct net_core *nc, const struct net_iface *ifc, struct net_tx *tx,
		   struct tcp_core *tcp, net_tcp_input_fn tcp_input)
{
	memset(nc, 0, sizeof(*nc));
	nc->ifc = *ifc;
	/* Replies are built in NET_FRAME_MAX-byte buffers; a larger MTU cannot be honoured. */
	if (nc->ifc.mtu == 0 || nc->ifc.mtu > NET_MTU)
		nc->ifc.mtu = NET_MTU;
	nc->tx = tx;
	nc->tcp = tcp_input != NULL ? tcp : NULL;
	nc->tcp_input = tcp_input;
	arp_table_init(&nc->arp);
}

static inline bool mac_is_bcast(const uint8_t m[NET_ETH_ALEN])
{
	static const uint8_t bcast[NET_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return memcmp(m, bcast, NET_ETH_ALEN) == 0;
}

void net_input(struct net_core *nc, const uint8_t *frame, uint32_t len)
{
	const struct eth_hdr *eh = (const struct eth_hdr *)frame;
	bool unicast;

	nc->st.rx_frames++;
	if (unlikely(len < NET_ETH_HLEN)) {
		nc->st.drop_runt++;
		return;
	}
	unicast = memcmp(eh->dst, nc->ifc.mac, NET_ETH_ALEN) == 0;

	/* IPv4 to our MAC is the hot path: every TCP segment takes it. */
	if (likely(unicast && eh->type == htons(NET_ETHERTYPE_IPV4))) {
		ip4_input(nc, eh, frame + NET_ETH_HLEN, len - NET_ETH_HLEN);
		return;
	}
	/* Broadcast is accepted for ARP only: nothing else we speak uses it. */
	if (!unicast && !(mac_is_bcast(eh->dst) && eh->type == htons(NET_ETHERTYPE_ARP))) {
		nc->st.drop_not_for_us++;
		return;
	}
	if (eh->type == htons(NET_ETHERTYPE_ARP))
		arp_input(nc, frame + NET_ETH_HLEN, len - NET_ETH_HLEN);
	else
		nc->st.drop_ethertype++;    /* VLAN tags (0x8100), IPv6, LLDP, ... */
}
