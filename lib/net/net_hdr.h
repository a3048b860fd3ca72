/*
 * net_hdr.h - wire formats of the headers the stack reads and writes.
 *
 * All multi-byte fields are in network byte order, exactly as on the wire;
 * structs are packed so they can be laid over a frame buffer at any offset
 * (af_packet and most NICs give 2-byte aligned IP headers).
 */
#ifndef SECKILL_NET_HDR_H
#define SECKILL_NET_HDR_H

#include <stdint.h>

#define NET_ETH_ALEN      6
#define NET_ETH_HLEN      14
#define NET_ETHERTYPE_IPV4 0x0800
#define NET_ETHERTYPE_ARP  0x0806
#define NET_ETHERTYPE_VLAN 0x8100

/* The largest frame the stack builds or accepts: a 1500-byte MTU plus the
 * Ethernet header (no FCS: NICs strip and add it). */
#define NET_MTU           1500
#define NET_FRAME_MAX     (NET_MTU + NET_ETH_HLEN)

#define NET_IPPROTO_ICMP  1
#define NET_IPPROTO_TCP   6

struct eth_hdr {
	uint8_t  dst[NET_ETH_ALEN];
	uint8_t  src[NET_ETH_ALEN];
	uint16_t type;
} __attribute__((packed));

struct arp_hdr {
	uint16_t htype;          /* 1: Ethernet */
	uint16_t ptype;          /* 0x0800: IPv4 */
	uint8_t  hlen;           /* 6 */
	uint8_t  plen;           /* 4 */
	uint16_t op;             /* 1: request, 2: reply */
	uint8_t  sha[NET_ETH_ALEN];
	uint32_t spa;
	uint8_t  tha[NET_ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));

#define NET_ARP_REQUEST 1
#define NET_ARP_REPLY   2

struct ipv4_hdr {
	uint8_t  ver_ihl;        /* version 4, header length in 32-bit words */
	uint8_t  tos;
	uint16_t total_len;
	uint16_t id;
	uint16_t frag_off;       /* flags (3 bits) and fragment offset */
	uint8_t  ttl;
	uint8_t  proto;
	uint16_t csum;
	uint32_t src;
	uint32_t dst;
} __attribute__((packed));

#define NET_IPV4_HLEN      20
#define NET_IPV4_DF        0x4000
#define NET_IPV4_MF        0x2000
#define NET_IPV4_OFF_MASK  0x1fff
#define NET_IPV4_TTL       64

struct icmp_hdr {
	uint8_t  type;
	uint8_t  code;
	uint16_t csum;
	uint16_t id;
	uint16_t seq;
} __attribute__((packed));

#define NET_ICMP_ECHO_REPLY   0
#define NET_ICMP_ECHO_REQUEST 8

struct tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t  off;            /* data offset in the high nibble, in 32-bit words */
	uint8_t  flags;
	uint16_t win;
	uint16_t csum;
	uint16_t urp;
} __attribute__((packed));

#define NET_TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_OPT_EOL    0
#define TCP_OPT_NOP    1
#define TCP_OPT_MSS    2
#define TCP_OPT_WSCALE 3
#define TCP_OPT_SACK_OK 4
#define TCP_OPT_TS     8

#endif
