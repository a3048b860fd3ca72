/*
 * net_peek.h - where a frame's TCP payload is, without processing the frame.
 *
 * The worker looks at a whole RX burst before the stack runs on it, to start
 * the cache misses each request will take (dp_worker.c, app_prefetch.c): the
 * l3fwd habit of prefetching ahead, one layer up. This is only a peek: no
 * checksum, no connection, no sequence number is looked at, and whatever it
 * finds is used for prefetch hints alone; net_input still judges the frame.
 */
#ifndef SECKILL_NET_PEEK_H
#define SECKILL_NET_PEEK_H

#include <arpa/inet.h>
#include <stdint.h>

#include "net_hdr.h"

/* The TCP payload of an untagged Ethernet / IPv4 (unfragmented) / TCP frame
 * and its length in *plen; NULL when the frame is anything else, too short,
 * or carries no payload. */
static inline const uint8_t *net_peek_tcp_payload(const uint8_t *frame, uint32_t len,
						  uint32_t *plen)
{
	const struct eth_hdr *eh = (const struct eth_hdr *)frame;
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)(frame + NET_ETH_HLEN);
	uint32_t ihl, tot, thl;

	if (len < NET_ETH_HLEN + NET_IPV4_HLEN + NET_TCP_HLEN ||
	    eh->type != htons(NET_ETHERTYPE_IPV4) || (ih->ver_ihl >> 4) != 4 ||
	    ih->proto != NET_IPPROTO_TCP ||
	    (ih->frag_off & htons(NET_IPV4_MF | NET_IPV4_OFF_MASK)))
		return NULL;
	ihl = (ih->ver_ihl & 0x0fu) * 4u;
	tot = ntohs(ih->total_len);
	if (ihl < NET_IPV4_HLEN || tot > len - NET_ETH_HLEN || tot < ihl + NET_TCP_HLEN)
		return NULL;
	thl = (uint32_t)(frame[NET_ETH_HLEN + ihl + 12] >> 4) * 4u;
	if (thl < NET_TCP_HLEN || ihl + thl >= tot)
		return NULL;
	*plen = tot - ihl - thl;
	return frame + NET_ETH_HLEN + ihl + thl;
}

#endif
