/*
 * icmp.c - ICMP echo (ping) for our address, nothing else.
 *
 * Ping is how operators and load balancers check that a port is alive, so
 * echo requests are answered; other ICMP (unreachables, redirects, ...) would
 * only matter to a stack that routes or does PMTU discovery on its own
 * output, and is counted and dropped. The reply is a fresh frame to the
 * requester's MAC with the same identifier, sequence and payload, so the
 * request buffer is never written.
 */
#include <arpa/inet.h>

#include "ip4_build.h"
#include "net_csum.h"
#include "net_priv.h"

#define ICMP_HLEN ((uint32_t)sizeof(struct icmp_hdr))   /* 8 */

static void icmp_echo_reply(struct net_core *nc, const struct eth_hdr *eh,
			    const struct ipv4_hdr *ih, const uint8_t *msg, uint32_t len)
{
	void *h;
	uint8_t *frame = net_tx_alloc(nc, &h);
	struct icmp_hdr *rep;

	if (frame == NULL)
		return;
	rep = (struct icmp_hdr *)ip4_build(frame, &nc->ifc, eh->src, ih->src,
					   NET_IPPROTO_ICMP, (uint16_t)len);
	memcpy(rep, msg, len);
	rep->type = NET_ICMP_ECHO_REPLY;
	rep->code = 0;
	rep->csum = 0;
	rep->csum = net_csum_fold(net_csum_add(0, rep, len));
	net_tx_send(nc, frame, h, NET_ETH_HLEN + NET_IPV4_HLEN + len);
}

void icmp_input(struct net_core *nc, const struct eth_hdr *eh, const struct ipv4_hdr *ih,
		const uint8_t *msg, uint32_t len)
{
	const struct icmp_hdr *ic = (const struct icmp_hdr *)msg;

	/* The checksum covers the whole message; a reply that does not fit our
	 * MTU in one unfragmented datagram cannot be sent, so it is not owed. */
	if (unlikely(len < ICMP_HLEN || net_csum_fold(net_csum_add(0, msg, len)) != 0 ||
		     NET_IPV4_HLEN + len > nc->ifc.mtu)) {
		nc->st.drop_icmp_bad++;
		return;
	}
	if (ic->type != NET_ICMP_ECHO_REQUEST || ic->code != 0) {
		nc->st.drop_icmp_type++;
		return;
	}
	nc->st.icmp_echo++;
	icmp_echo_reply(nc, eh, ih, msg, len);
}
