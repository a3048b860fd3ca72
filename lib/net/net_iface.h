/*
 * net_iface.h - what the stack needs from the port it runs on: our addresses
 * and a way to send frames.
 *
 * lib/ never sees an mbuf. The dataplane implements net_tx on top of mbufs and
 * a TX burst; unit tests implement it on plain arrays. Output costs two
 * indirect calls per frame, alloc for the buffer and send to queue it
 * (net_priv.h's net_tx_alloc/net_tx_send, tcp_output.c's tcp_out_seg), which
 * is noise next to building the frame.
 */
#ifndef SECKILL_NET_IFACE_H
#define SECKILL_NET_IFACE_H

#include <stdint.h>
#include "net_hdr.h"

struct net_iface {
	uint8_t  mac[NET_ETH_ALEN];
	uint32_t ip;             /* network byte order */
	uint16_t mtu;            /* IP MTU, at most NET_MTU */
};

struct net_tx {
	/*
	 * Returns a buffer with room for NET_FRAME_MAX bytes for one outgoing
	 * frame, and sets *handle to what send() needs to find it again; NULL when
	 * no buffer is free (the caller counts the drop and moves on: TCP's
	 * retransmission covers a lost segment, nothing else is owed).
	 */
	uint8_t *(*alloc)(void *ctx, void **handle);
	/* Queues the frame written into alloc's buffer, len bytes from its start. */
	void (*send)(void *ctx, void *handle, uint32_t len);
	/* Gives back a buffer from alloc that will not be sent after all. */
	void (*discard)(void *ctx, void *handle);
	void *ctx;
};

#endif
