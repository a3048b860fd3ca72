/*
 * test_net_cap.h - what the lib/net tests share: a net_tx that captures the
 * frames it is given into plain arrays, a net_core on 198.18.0.1 with its
 * peer 198.18.0.2, a reference checksum written independently of net_csum.h
 * (big-endian 16-bit words, as RFC 1071 states it), and feed(), which copies
 * each frame into a heap buffer of exactly its length so that ASan reports
 * any read past len.
 */
#ifndef TEST_NET_CAP_H
#define TEST_NET_CAP_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_core.h"
#include "tcp.h"

#define CAP_MAX 8

struct cap_tx {
	uint8_t  buf[CAP_MAX][NET_FRAME_MAX];
	uint32_t len[CAP_MAX];
	int      n;              /* frames sent */
	int      allocs;         /* buffers handed out */
	int      discards;
	int      fail_alloc;     /* alloc returns NULL while set */
};

static uint8_t *cap_alloc(void *ctx, void **handle)
{
	struct cap_tx *c = ctx;

	if (c->fail_alloc || c->allocs >= CAP_MAX)
		return NULL;
	*handle = (void *)(intptr_t)c->allocs;
	/* Poison, so a test sees any byte the stack forgot to write. */
	memset(c->buf[c->allocs], 0xa5, NET_FRAME_MAX);
	return c->buf[c->allocs++];
}

static void cap_send(void *ctx, void *handle, uint32_t len)
{
	struct cap_tx *c = ctx;
	int i = (int)(intptr_t)handle;

	c->len[i] = len;
	c->n++;
}

static void cap_discard(void *ctx, void *handle)
{
	(void)handle;
	((struct cap_tx *)ctx)->discards++;
}

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
#define OUR_IP  "198.18.0.1"
#define PEER_IP "198.18.0.2"

static struct cap_tx cap;
static struct net_tx cap_net_tx = { cap_alloc, cap_send, cap_discard, &cap };
static struct net_core nc;

static inline uint32_t ip_of(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static inline void net_fixture(struct tcp_core *tcp)
{
	struct net_iface ifc = { .mtu = 1500 };

	memcpy(ifc.mac, our_mac, 6);
	ifc.ip = ip_of(OUR_IP);
	memset(&cap, 0, sizeof(cap));
	net_core_init(&nc, &ifc, &cap_net_tx, tcp, tcp != NULL ? tcp_input : NULL);
}

static inline void feed(const uint8_t *frame, uint32_t len)
{
	uint8_t *copy = calloc(1, len ? len : 1);

	if (copy == NULL)
		abort();
	memcpy(copy, frame, len);
	net_input(&nc, copy, len);
	free(copy);
}

/* RFC 1071 as written: sum of big-endian 16-bit words, odd byte padded. */
static inline uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Rewrites the checksum at p[off..off+1] over len bytes from p. */
static inline void ref_fix_csum(uint8_t *p, size_t len, size_t off)
{
	uint16_t c;

	p[off] = p[off + 1] = 0;
	c = ref_csum(p, len);
	p[off] = (uint8_t)(c >> 8);
	p[off + 1] = (uint8_t)c;
}

/* Sum of all net_core counters except rx_frames: how many things happened. */
static inline uint64_t net_events(void)
{
	const uint64_t *v = (const uint64_t *)&nc.st;
	uint64_t s = 0;

	for (int i = 1; i < (int)NET_STATS_N; i++)
		s += v[i];
	return s;
}

#endif
