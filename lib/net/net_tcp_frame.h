/*
 * net_tcp_frame.h - play the other end of a TCP connection on plain buffers.
 *
 * Tests, the fuzzer and the stack benchmark need to write the frames a client
 * would send (valid checksums, chosen seq/ack) and read the frames the stack
 * answers with. Nothing on the data path uses this file: the stack's own
 * output is lib/tcp's job. net_tcp_frame_parse checks everything a real peer
 * would (IPv4 and TCP checksums, lengths), so it is also an oracle for output.
 */
#ifndef SECKILL_NET_TCP_FRAME_H
#define SECKILL_NET_TCP_FRAME_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ip4_build.h"
#include "net_csum.h"
#include "net_hdr.h"

/* One segment as a client sees it; numbers in host order, addresses in network order. */
struct net_tcp_seg {
	uint8_t  src_mac[NET_ETH_ALEN];
	uint8_t  dst_mac[NET_ETH_ALEN];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t  flags;
	uint16_t win;
	const uint8_t *opts;         /* optlen bytes, a multiple of 4, at most 40 */
	uint8_t  optlen;
	const uint8_t *payload;      /* len bytes */
	uint32_t len;
};

/* Writes s as a frame (at most NET_FRAME_MAX bytes, the caller's job); returns its length. */
static inline uint32_t net_tcp_frame(uint8_t *frame, const struct net_tcp_seg *s)
{
	struct net_iface from = { .ip = s->src_ip, .mtu = NET_MTU };
	uint16_t l4len = (uint16_t)(NET_TCP_HLEN + s->optlen + s->len);
	struct tcp_hdr *th;

	memcpy(from.mac, s->src_mac, NET_ETH_ALEN);
	th = (struct tcp_hdr *)ip4_build(frame, &from, s->dst_mac, s->dst_ip,
					 NET_IPPROTO_TCP, l4len);
	th->sport = htons(s->sport);
	th->dport = htons(s->dport);
	th->seq = htonl(s->seq);
	th->ack = htonl(s->ack);
	th->off = (uint8_t)(((NET_TCP_HLEN + s->optlen) / 4) << 4);
	th->flags = s->flags;
	th->win = htons(s->win);
	th->csum = 0;
	th->urp = 0;
	if (s->optlen)
		memcpy((uint8_t *)th + NET_TCP_HLEN, s->opts, s->optlen);
	if (s->len)
		memcpy((uint8_t *)th + NET_TCP_HLEN + s->optlen, s->payload, s->len);
	th->csum = net_csum_fold(net_csum_add(
		net_csum_pseudo(s->src_ip, s->dst_ip, NET_IPPROTO_TCP, l4len), th, l4len));
	return NET_ETH_HLEN + NET_IPV4_HLEN + l4len;
}

/*
 * Reads a frame as a peer would: fills s (payload and opts point into frame)
 * and returns true only for a well-formed IPv4/TCP frame whose IP header and
 * TCP checksums verify and whose lengths agree with len.
 */
static inline bool net_tcp_frame_parse(const uint8_t *frame, uint32_t len, struct net_tcp_seg *s)
{
	const struct eth_hdr *eh = (const struct eth_hdr *)frame;
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)(frame + NET_ETH_HLEN);
	const struct tcp_hdr *th = (const struct tcp_hdr *)(frame + NET_ETH_HLEN + NET_IPV4_HLEN);
	uint32_t total, l4len, doff;

	if (len < NET_ETH_HLEN + NET_IPV4_HLEN + NET_TCP_HLEN || eh->type != htons(NET_ETHERTYPE_IPV4))
		return false;
	total = ntohs(ih->total_len);
	if (ih->ver_ihl != 0x45 || ih->proto != NET_IPPROTO_TCP ||
	    total + NET_ETH_HLEN > len || total < NET_IPV4_HLEN + NET_TCP_HLEN ||
	    net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN)) != 0)
		return false;
	l4len = total - NET_IPV4_HLEN;
	doff = (uint32_t)(th->off >> 4) * 4;
	if (doff < NET_TCP_HLEN || doff > l4len)
		return false;
	if (net_csum_fold(net_csum_add(net_csum_pseudo(ih->src, ih->dst, NET_IPPROTO_TCP,
						       (uint16_t)l4len), th, l4len)) != 0)
		return false;
	memcpy(s->src_mac, eh->src, NET_ETH_ALEN);
	memcpy(s->dst_mac, eh->dst, NET_ETH_ALEN);
	s->src_ip = ih->src;
	s->dst_ip = ih->dst;
	s->sport = ntohs(th->sport);
	s->dport = ntohs(th->dport);
	s->seq = ntohl(th->seq);
	s->ack = ntohl(th->ack);
	s->flags = th->flags;
	s->win = ntohs(th->win);
	s->opts = (const uint8_t *)th + NET_TCP_HLEN;
	s->optlen = (uint8_t)(doff - NET_TCP_HLEN);
	s->payload = (const uint8_t *)th + doff;
	s->len = l4len - doff;
	return true;
}

#endif
