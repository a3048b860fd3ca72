/*
 * ip4_input.c - IPv4 receive: validate, then hand to ICMP or TCP.
 *
 * We are an end host for exactly one address and only speak to peers that
 * behave, so the rules are strict and cheap: a 20-byte header (no options),
 * version 4, a good header checksum, a total length that fits the frame, no
 * fragments (every peer does PMTU discovery with DF; reassembly would be a
 * memory-exhaustion target), our address as destination and a unicast,
 * routable source. Each refusal is counted under its own reason. Ethernet
 * pads short frames to 60 bytes, so bytes beyond total_len are ignored.
 */
#include <arpa/inet.h>

#include "net_csum.h"
#include "net_priv.h"

/*
 * Sources no peer can legitimately have (RFC 1122 3.2.1.3, RFC 6890):
 * 0/8 "this network", 127/8 loopback, 224/4 multicast and 240/4 reserved,
 * which includes the limited broadcast 255.255.255.255. Answering them would
 * send to nobody or to everybody.
 */
static inline bool ip4_src_bad(uint32_t src_n)
{
	uint8_t first = (uint8_t)(ntohl(src_n) >> 24);

	return first == 0 || first == 127 || first >= 224;
}

/* Checks the 20 fixed header bytes against len; NULL when good, else the counter to bump. */
static inline uint64_t *ip4_hdr_check(struct net_core *nc, const struct ipv4_hdr *ih,
				      uint32_t len)
{
	uint16_t total = ntohs(ih->total_len);

	if (unlikely((ih->ver_ihl >> 4) != 4 || (ih->ver_ihl & 0x0f) < 5))
		return &nc->st.drop_ip_bad_hdr;
	if (unlikely((ih->ver_ihl & 0x0f) != 5))
		return &nc->st.drop_ip_options;
	if (unlikely(net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN)) != 0))
		return &nc->st.drop_ip_bad_csum;
	if (unlikely(total < NET_IPV4_HLEN || total > len || total > NET_MTU))
		return &nc->st.drop_ip_bad_len;
	if (unlikely(ih->frag_off & htons(NET_IPV4_MF | NET_IPV4_OFF_MASK)))
		return &nc->st.drop_ip_fragment;
	if (unlikely(ih->dst != nc->ifc.ip))
		return &nc->st.drop_ip_not_for_us;
	if (unlikely(ip4_src_bad(ih->src)))
		return &nc->st.drop_ip_bad_src;
	return NULL;
}

void ip4_input(struct net_core *nc, const struct eth_hdr *eh, const uint8_t *pkt, uint32_t len)
{
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)pkt;
	uint64_t *drop;
	uint32_t l4len;

	if (unlikely(len < NET_IPV4_HLEN)) {
		nc->st.drop_ip_bad_len++;
		return;
	}
	drop = ip4_hdr_check(nc, ih, len);
	if (unlikely(drop != NULL)) {
		(*drop)++;
		return;
	}
	l4len = ntohs(ih->total_len) - NET_IPV4_HLEN;

	if (likely(ih->proto == NET_IPPROTO_TCP && nc->tcp != NULL))
		nc->tcp_input(nc->tcp, eh, ih, pkt + NET_IPV4_HLEN, l4len);
	else if (ih->proto == NET_IPPROTO_ICMP)
		icmp_input(nc, eh, ih, pkt + NET_IPV4_HLEN, l4len);
	else
		nc->st.drop_ip_proto++;
}
