/*
 * arp.h - the neighbour table and ARP (RFC 826) for one core.
 *
 * The server answers to the MAC a frame came from, so it never needs to ask
 * for one (only the load generator asks, arp_request): the table only remembers who asked us (or answered us) so that the
 * dataplane and operators can see our neighbours, and so that a gratuitous
 * ARP announcing a changed MAC is honoured. It is a fixed array of
 * ARP_TABLE_SIZE entries searched linearly: ARP is rare, 64 compares are
 * cheaper than a hash, and nothing here allocates.
 *
 * Learning follows RFC 826's "merge" rule: a packet from a known sender
 * refreshes its entry; a new sender is added only when the packet is aimed at
 * our address. Gratuitous and third-party ARP therefore update, never add.
 * When the table is full the oldest insertion is replaced (FIFO): a flood of
 * forged requests can churn the table but never grow it, and losing an entry
 * costs nothing because replies use the frame's source MAC anyway.
 */
#ifndef SECKILL_ARP_H
#define SECKILL_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "net_hdr.h"

/* Room for a busy /26 of routers, load balancers and peers on one segment. */
#define ARP_TABLE_SIZE 64

struct arp_entry {
	uint32_t ip;                 /* network order; 0 marks a free slot */
	uint8_t  mac[NET_ETH_ALEN];
};

struct arp_table {
	struct arp_entry ent[ARP_TABLE_SIZE];
	uint32_t used;               /* slots filled, in order 0..used-1 */
	uint32_t next_victim;        /* when full: the oldest insertion (FIFO hand) */
};

enum arp_update_result {
	ARP_UPD_IGNORED = 0,         /* unknown sender and create was false */
	ARP_UPD_REFRESHED,           /* known sender; MAC rewritten */
	ARP_UPD_ADDED,               /* new entry in a free slot */
	ARP_UPD_REPLACED,            /* new entry over the oldest one (table full) */
};

struct net_core;

void arp_table_init(struct arp_table *t);
/* Copies ip's MAC to mac and returns true when ip (network order) is known. */
bool arp_lookup(const struct arp_table *t, uint32_t ip, uint8_t mac[NET_ETH_ALEN]);
/* Records ip -> mac; a new ip is added only when create is true. ip must not be 0. */
enum arp_update_result arp_update(struct arp_table *t, uint32_t ip,
				  const uint8_t mac[NET_ETH_ALEN], bool create);

/*
 * Broadcasts "who has ip (network order)?": the load generator's way to find
 * the server it talks to. The reply is learned by arp_input (it is aimed at
 * our address), after which arp_lookup finds it.
 */
void arp_request(struct net_core *nc, uint32_t ip);

/* Who-has is repeated this often until the address answers. */
#define ARP_RESOLVE_EVERY_NS (200 * 1000 * 1000ull)

enum arp_resolve_res {
	ARP_RESOLVED = 0,            /* known: mac is filled */
	ARP_ASKED,                   /* unknown, and a who-has went out now */
	ARP_WAITING,                 /* unknown, the last who-has is still young */
};

/*
 * A client's way to an address (ip, network order): its MAC when the table
 * has it, else a who-has at most every ARP_RESOLVE_EVERY_NS. now_ns is the
 * caller's clock; *ask_at_ns (0 at first) is when the next who-has is due.
 */
enum arp_resolve_res arp_resolve(struct net_core *nc, uint32_t ip, uint8_t mac[NET_ETH_ALEN],
				 uint64_t now_ns, uint64_t *ask_at_ns);

/*
 * One ARP packet (pkt, len bytes after the Ethernet header) from a frame that
 * net_input already accepted (our MAC or broadcast). Learns, and answers a
 * request for our address with a reply in a new frame.
 */
void arp_input(struct net_core *nc, const uint8_t *pkt, uint32_t len);

#endif
