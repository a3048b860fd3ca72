/*
 * net_priv.h - what the files of lib/net share and nobody else needs:
 * branch hints, the per-protocol input functions net_input dispatches to, and
 * the two steps of sending a frame we build ourselves (ARP and ICMP replies).
 */
#ifndef SECKILL_NET_PRIV_H
#define SECKILL_NET_PRIV_H

#include <stdint.h>
#include <string.h>

#include "net_core.h"

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* The shortest Ethernet frame without FCS (IEEE 802.3: 64 with it). Not every
 * NIC or virtual port pads short frames, so the frames we build are padded. */
#define NET_ETH_ZLEN 60

/* pkt: the IPv4 packet after the Ethernet header, len bytes to the end of the frame. */
void ip4_input(struct net_core *nc, const struct eth_hdr *eh, const uint8_t *pkt, uint32_t len);
/* msg: the whole ICMP message (len bytes, IP padding excluded) of a validated datagram. */
void icmp_input(struct net_core *nc, const struct eth_hdr *eh, const struct ipv4_hdr *ih,
		const uint8_t *msg, uint32_t len);

/* A buffer for one reply frame, or NULL (counted as drop_no_tx). */
static inline uint8_t *net_tx_alloc(struct net_core *nc, void **handle)
{
	uint8_t *buf = NULL;

	if (likely(nc->tx != NULL))
		buf = nc->tx->alloc(nc->tx->ctx, handle);
	if (unlikely(buf == NULL))
		nc->st.drop_no_tx++;
	return buf;
}

/* Sends len bytes of a buffer from net_tx_alloc, zero-padded to NET_ETH_ZLEN. */
static inline void net_tx_send(struct net_core *nc, uint8_t *frame, void *handle, uint32_t len)
{
	if (len < NET_ETH_ZLEN) {
		memset(frame + len, 0, NET_ETH_ZLEN - len);
		len = NET_ETH_ZLEN;
	}
	nc->tx->send(nc->tx->ctx, handle, len);
	nc->st.tx_frames++;
}

#endif
