/*
 * arp.c - the neighbour table and the answer to "who has our address?".
 *
 * See arp.h for the learning rules and the full-table policy. arp_input
 * validates the fixed Ethernet/IPv4 shape of ARP (anything else is not for an
 * IPv4-over-Ethernet host), applies RFC 826's merge rule, and for a request
 * aimed at us writes the reply into a fresh frame: the request is never
 * touched, so the caller's RX buffer stays read-only.
 */
#include <arpa/inet.h>
#include <string.h>

#include "arp.h"
#include "net_priv.h"

#define ARP_HTYPE_ETHER 1
#define ARP_PKT_LEN     ((uint32_t)sizeof(struct arp_hdr))   /* 28 */

void arp_table_init(struct arp_table *t)
{
	memset(t, 0, sizeof(*t));
}

static struct arp_entry *arp_find(const struct arp_table *t, uint32_t ip)
{
	for (uint32_t i = 0; i < t->used; i++)
		if (t->ent[i].ip == ip)
			return (struct arp_entry *)&t->ent[i];
	return NULL;
}

bool arp_lookup(const struct arp_table *t, uint32_t ip, uint8_t mac[NET_ETH_ALEN])
{
	const struct arp_entry *e = arp_find(t, ip);

	if (e == NULL)
		return false;
	memcpy(mac, e->mac, NET_ETH_ALEN);
	return true;
}

enum arp_update_result arp_update(struct arp_table *t, uint32_t ip,
				  const uint8_t mac[NET_ETH_ALEN], bool create)
{
	struct arp_entry *e = arp_find(t, ip);
	enum arp_update_result r = ARP_UPD_REFRESHED;

	if (e == NULL) {
		if (!create)
			return ARP_UPD_IGNORED;
		if (t->used < ARP_TABLE_SIZE) {
			e = &t->ent[t->used++];
			r = ARP_UPD_ADDED;
		} else {
			/* Slots were filled 0..N-1 and are replaced in the same
			 * order, so the hand always points at the oldest insertion. */
			e = &t->ent[t->next_victim];
			t->next_victim = (t->next_victim + 1) % ARP_TABLE_SIZE;
			r = ARP_UPD_REPLACED;
		}
		e->ip = ip;
	}
	memcpy(e->mac, mac, NET_ETH_ALEN);
	return r;
}

/* The fixed shape of IPv4-over-Ethernet ARP, and a sender we could talk to. */
static bool arp_valid(const struct arp_hdr *ah)
{
	uint16_t op = ntohs(ah->op);

	if (ah->htype != htons(ARP_HTYPE_ETHER) || ah->ptype != htons(NET_ETHERTYPE_IPV4) ||
	    ah->hlen != NET_ETH_ALEN || ah->plen != 4)
		return false;
	if (op != NET_ARP_REQUEST && op != NET_ARP_REPLY)
		return false;
	/* A group address as sender hardware address is forged or broken:
	 * learning it would send our answers to everyone. */
	return (ah->sha[0] & 0x01) == 0;
}

/* One ARP packet of ours: op, to the frame address eth_dst, asking about or
 * answering tpa (whose hardware address, when known, is tha). False when no
 * TX buffer was free (net_tx_alloc counted it). */
static bool arp_send(struct net_core *nc, uint16_t op, const uint8_t eth_dst[NET_ETH_ALEN],
		     const uint8_t tha[NET_ETH_ALEN], uint32_t tpa)
{
	void *h;
	uint8_t *frame = net_tx_alloc(nc, &h);
	struct eth_hdr *eh;
	struct arp_hdr *ah;

	if (frame == NULL)
		return false;
	eh = (struct eth_hdr *)frame;
	ah = (struct arp_hdr *)(frame + NET_ETH_HLEN);
	memcpy(eh->dst, eth_dst, NET_ETH_ALEN);
	memcpy(eh->src, nc->ifc.mac, NET_ETH_ALEN);
	eh->type = htons(NET_ETHERTYPE_ARP);
	ah->htype = htons(ARP_HTYPE_ETHER);
	ah->ptype = htons(NET_ETHERTYPE_IPV4);
	ah->hlen = NET_ETH_ALEN;
	ah->plen = 4;
	ah->op = htons(op);
	memcpy(ah->sha, nc->ifc.mac, NET_ETH_ALEN);
	ah->spa = nc->ifc.ip;
	memcpy(ah->tha, tha, NET_ETH_ALEN);
	ah->tpa = tpa;
	net_tx_send(nc, frame, h, NET_ETH_HLEN + ARP_PKT_LEN);
	return true;
}

static void arp_reply(struct net_core *nc, const struct arp_hdr *req)
{
	if (arp_send(nc, NET_ARP_REPLY, req->sha, req->sha, req->spa))
		nc->st.arp_replies_sent++;
}

void arp_request(struct net_core *nc, uint32_t ip)
{
	static const uint8_t bcast[NET_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t unknown[NET_ETH_ALEN];   /* RFC 826: what we ask for */

	arp_send(nc, NET_ARP_REQUEST, bcast, unknown, ip);
}

enum arp_resolve_res arp_resolve(struct net_core *nc, uint32_t ip, uint8_t mac[NET_ETH_ALEN],
				 uint64_t now_ns, uint64_t *ask_at_ns)
{
	if (arp_lookup(&nc->arp, ip, mac))
		return ARP_RESOLVED;
	if (now_ns < *ask_at_ns)
		return ARP_WAITING;
	arp_request(nc, ip);
	*ask_at_ns = now_ns + ARP_RESOLVE_EVERY_NS;
	return ARP_ASKED;
}

static void arp_learn(struct net_core *nc, const struct arp_hdr *ah, bool create)
{
	switch (arp_update(&nc->arp, ah->spa, ah->sha, create)) {
	case ARP_UPD_ADDED:
		nc->st.arp_learned++;
		break;
	case ARP_UPD_REPLACED:
		nc->st.arp_learned++;
		nc->st.arp_evicted++;
		break;
	default:
		break;
	}
}

void arp_input(struct net_core *nc, const uint8_t *pkt, uint32_t len)
{
	const struct arp_hdr *ah = (const struct arp_hdr *)pkt;
	bool for_us;

	if (unlikely(len < ARP_PKT_LEN || !arp_valid(ah))) {
		nc->st.drop_arp_bad++;
		return;
	}
	/* Our address from another MAC is a conflict operators must see; from
	 * our own MAC it is a frame of ours looped back by the port. */
	if (unlikely(ah->spa == nc->ifc.ip)) {
		if (memcmp(ah->sha, nc->ifc.mac, NET_ETH_ALEN) == 0)
			nc->st.drop_not_for_us++;
		else
			nc->st.drop_arp_conflict++;
		return;
	}
	for_us = ah->tpa == nc->ifc.ip;
	/* spa 0 is an RFC 5227 probe: there is nobody to remember yet. */
	if (ah->spa != 0)
		arp_learn(nc, ah, for_us);
	if (!for_us) {
		nc->st.drop_not_for_us++;
		return;
	}
	if (ah->op == htons(NET_ARP_REQUEST)) {
		nc->st.arp_requests++;
		arp_reply(nc, ah);
	}
}
