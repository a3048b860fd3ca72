/*
 * ip4_build.h - writes the Ethernet and IPv4 headers in front of a reply.
 *
 * Every frame we send (TCP segments, ICMP and ARP aside) starts this way; the
 * caller writes the L4 header and payload at the returned pointer and fills
 * the L4 checksum itself.
 */
#ifndef SECKILL_IP4_BUILD_H
#define SECKILL_IP4_BUILD_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "net_csum.h"
#include "net_hdr.h"
#include "net_iface.h"

/*
 * Writes Ethernet (ifc->mac -> dst_mac) and a 20-byte IPv4 header (ifc->ip ->
 * dst_ip, DF set, TTL 64) for l4_len bytes of proto. Returns where the L4
 * header goes: frame + 34. The whole frame is 34 + l4_len bytes.
 */
static inline uint8_t *ip4_build(uint8_t *frame, const struct net_iface *ifc,
				 const uint8_t dst_mac[NET_ETH_ALEN], uint32_t dst_ip,
				 uint8_t proto, uint16_t l4_len)
{
	struct eth_hdr *eh = (struct eth_hdr *)frame;
	struct ipv4_hdr *ih = (struct ipv4_hdr *)(frame + NET_ETH_HLEN);

	memcpy(eh->dst, dst_mac, NET_ETH_ALEN);
	memcpy(eh->src, ifc->mac, NET_ETH_ALEN);
	eh->type = htons(NET_ETHERTYPE_IPV4);
	ih->ver_ihl = 0x45;
	ih->tos = 0;
	ih->total_len = htons((uint16_t)(NET_IPV4_HLEN + l4_len));
	/* DF is set on every packet, so the ID need not be unique (RFC 6864). */
	ih->id = 0;
	ih->frag_off = htons(NET_IPV4_DF);
	ih->ttl = NET_IPV4_TTL;
	ih->proto = proto;
	ih->csum = 0;
	ih->src = ifc->ip;
	ih->dst = dst_ip;
	ih->csum = net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN));
	return frame + NET_ETH_HLEN + NET_IPV4_HLEN;
}

#endif
