/*
 * tcp_connect.c - the active open of client mode (tcp.h), for the load
 * generator: a new entry in SYN_SENT, its SYN, and the SYN timer.
 *
 * The entry is keyed by (server address, our local port), which client mode
 * keeps in peer_port, so the table, timers, buffers and every state after
 * the handshake are the server's code unchanged. The application owns the
 * connection from here (TCP_F_APP): it hears on_established, or on_closed if
 * the server refuses (RST) or never answers (syn_retries SYNs).
 */
#include <arpa/inet.h>
#include <string.h>

#include "siphash.h"
#include "tcp_priv.h"

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secret),
 * M a 4-microsecond clock, F a keyed PRF. */
static uint32_t tcp_client_isn(const struct tcp_core *tc, uint32_t ip, uint16_t port)
{
	uint64_t m[2] = { (uint64_t)ip << 16 | port, tc->ifc.ip };

	return (uint32_t)(tc->now_us / 4) + (uint32_t)siphash24(tc->hash_key, m, sizeof(m));
}

struct tcp_conn *tcp_connect(struct tcp_core *tc, uint32_t ip, uint16_t local_port,
			     const uint8_t mac[NET_ETH_ALEN])
{
	uint16_t key = htons(local_port);
	struct tcp_conn *c;
	uint32_t iss;

	if (!tc->conf.client || local_port == 0 || tcp_table_lookup(tc, ip, key))
		return NULL;
	c = tcp_table_alloc(tc, ip, key);
	if (!c) {
		tc->st.drop_table_full++;
		return NULL;
	}
	memcpy(c->peer_mac, mac, NET_ETH_ALEN);
	iss = tcp_client_isn(tc, ip, key);
	c->snd_una = iss;
	c->snd_nxt = c->snd_max = iss + 1;
	c->mss = TCP_DEFAULT_PEER_MSS;        /* until the SYN-ACK says */
	c->rto_ms = tc->conf.rto_init_ms;
	c->last_rx_ms = tc->now_ms;
	c->flags = TCP_F_APP | TCP_F_RTT;     /* time the SYN (Karn: only if not resent) */
	c->rtt_seq = iss;
	c->rtt_ts = tc->now_ms;
	tcp_set_state(tc, c, TCP_S_SYN_SENT);
	tc->st.syn_sent++;
	tcp_out_synack(tc, c);
	tcp_timer_arm(tc, c, tc->now_ms + c->rto_ms, TCP_TM_SYNACK);
	return c;
}
