/*
 * net_core.h - one core's view of the network: Ethernet, ARP, IPv4, ICMP, and
 * the hand-off of TCP segments to tcp_input.
 *
 * net_input takes one received frame and does everything it asks for before
 * returning: answers ARP and echo requests, validates IPv4 (header checksum,
 * lengths; fragments and options are dropped), and passes TCP on. Every frame
 * that is not used is counted under the reason it was dropped.
 */
#ifndef SECKILL_NET_CORE_H
#define SECKILL_NET_CORE_H

#include <stdint.h>

#include "arp.h"
#include "net_hdr.h"
#include "net_iface.h"
#include "stats.h"

struct tcp_core;

/*
 * The transport above IPv4 for protocol 6: lib/tcp's tcp_input, passed in by
 * whoever builds the stack. lib/net calls it without including a TCP header,
 * so net depends on nothing above it (tcp stands on net, not the reverse).
 */
typedef void (*net_tcp_input_fn)(struct tcp_core *tc, const struct eth_hdr *eh,
				 const struct ipv4_hdr *ih, const uint8_t *seg, uint32_t len);

#define NET_STATS(X) \
	X(rx_frames) X(tx_frames) X(arp_requests) X(arp_replies_sent) X(icmp_echo) \
	X(drop_runt) X(drop_not_for_us) X(drop_ethertype) X(drop_arp_bad) \
	X(drop_ip_bad_hdr) X(drop_ip_bad_csum) X(drop_ip_bad_len) X(drop_ip_fragment) \
	X(drop_ip_options) X(drop_ip_not_for_us) X(drop_ip_proto) X(drop_icmp_bad) \
	X(drop_no_tx) \
	X(arp_learned) X(arp_evicted) X(drop_arp_conflict) X(drop_ip_bad_src) X(drop_icmp_type)

struct net_stats { NET_STATS(STATS_FIELD) };
extern const char *const net_stats_names[];
#define NET_STATS_N (0 NET_STATS(STATS_COUNT))

struct net_core {
	struct net_iface ifc;
	struct net_tx *tx;
	struct tcp_core *tcp;        /* NULL: TCP segments are dropped as drop_ip_proto */
	net_tcp_input_fn tcp_input;  /* called with tcp for each TCP segment */
	struct arp_table arp;
	struct net_stats st;
};

/* tcp and tcp_input: lib/tcp's core and tcp_input, or NULL and NULL for no TCP. */
void net_core_init(struct net_core *nc, const struct net_iface *ifc, struct net_tx *tx,
		   struct tcp_core *tcp, net_tcp_input_fn tcp_input);
void net_input(struct net_core *nc, const uint8_t *frame, uint32_t len);

#endif
