/*
 * tcp_syncookie.c - SYN cookies (RFC 4987 section 3.6) and initial sequence
 * numbers (RFC 6528).
 *
 * Under a SYN flood we keep no state for a SYN: the SYN-ACK's sequence number
 * itself says that we sent it and what the peer's MSS was, and the ACK that
 * completes the handshake brings it back (ack - 1). Layout of the cookie:
 *
 *   bits 31..5  SipHash-2-4(conf.cookie_key; both addresses and ports, the
 *               client's ISN, counter) - 27 bits a forger must guess
 *   bits  4..3  counter mod 4, to find which counter the hash used
 *   bits  2..0  index in tcp_cookie_mss[] of the largest MSS <= the peer's,
 *               so that we never send more than the peer's MSS (RFC 9293
 *               3.7.1); entry 0 is TCP_MIN_SND_MSS, which a peer announcing
 *               less gets anyway
 *
 * The counter is the clock in TCP_COOKIE_PERIOD_MS periods; an ACK is
 * accepted for the current and the previous counter, so a cookie lives one to
 * two periods. Binding the client's ISN (the ACK's seq - 1) means a cookie
 * is only good for the SYN it answered. Options other than MSS are lost with
 * cookies; we announce none anyway.
 */
#include <arpa/inet.h>
#include <string.h>

#include "siphash.h"
#include "tcp_priv.h"

#define TCP_COOKIE_PERIOD_MS 64000u   /* Linux uses 64 s too: long enough for a slow ACK */
#define TCP_COOKIE_AGES      2        /* current and previous counter */
#define TCP_COOKIE_HASH_MASK 0xffffffe0u
#define TCP_COOKIE_CNT_SHIFT 3
#define TCP_COOKIE_CNT_MASK  3u
#define TCP_COOKIE_MSS_MASK  7u

/* MSS values a cookie can carry, ascending: our floor, the default every
 * host takes, then common tunnel, VPN and LAN values. A peer announcing 64
 * gets 48 from a cookie: less than it could take, but never more. */
static const uint16_t tcp_cookie_mss[8] = {
	TCP_MIN_SND_MSS, 536, 1220, 1300, 1360, 1400, 1440, 1460
};

/* What the hash covers: the 4-tuple, the client's ISN, and a purpose tag so
 * that an ISN value can never serve as a cookie value or the reverse. */
struct tcp_cookie_in {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t client_isn;
	uint32_t counter;
	uint32_t purpose;
} __attribute__((packed));

#define TCP_PURPOSE_COOKIE 1u
#define TCP_PURPOSE_ISN    2u

static uint32_t tcp_tuple_hash(const struct tcp_core *tc, const struct tcp_seg *s,
			       uint32_t client_isn, uint32_t counter, uint32_t purpose)
{
	struct tcp_cookie_in in;

	memset(&in, 0, sizeof(in));
	in.saddr = s->ih->src;
	in.daddr = s->ih->dst;
	in.sport = s->th->sport;
	in.dport = s->th->dport;
	in.client_isn = client_isn;
	in.counter = counter;
	in.purpose = purpose;
	return (uint32_t)siphash24(tc->conf.cookie_key, &in, sizeof(in));
}

static uint32_t tcp_cookie_counter(const struct tcp_core *tc)
{
	return (uint32_t)(tc->now_us / 1000 / TCP_COOKIE_PERIOD_MS);
}

/* RFC 6528: a clock ticking every 4 us plus a keyed hash of the 4-tuple, so
 * ISNs of one tuple advance with time and other tuples' are unpredictable. */
uint32_t tcp_isn(const struct tcp_core *tc, const struct tcp_seg *s)
{
	return (uint32_t)(tc->now_us / 4) + tcp_tuple_hash(tc, s, 0, 0, TCP_PURPOSE_ISN);
}

/* The cookie ISN answering SYN s; *mss gets the MSS the cookie encodes. */
uint32_t tcp_cookie_make(struct tcp_core *tc, const struct tcp_seg *s, uint16_t *mss)
{
	uint32_t cnt = tcp_cookie_counter(tc), idx = 0;
	uint16_t peer = s->peer_mss ? s->peer_mss : TCP_DEFAULT_PEER_MSS;

	for (uint32_t i = 1; i < 8; i++)
		if (tcp_cookie_mss[i] <= peer)
			idx = i;
	*mss = tcp_cookie_mss[idx];
	return (tcp_tuple_hash(tc, s, s->seq, cnt, TCP_PURPOSE_COOKIE) & TCP_COOKIE_HASH_MASK) |
		((cnt & TCP_COOKIE_CNT_MASK) << TCP_COOKIE_CNT_SHIFT) | idx;
}

/* Whether ACK s completes a handshake we answered with a cookie in the last
 * TCP_COOKIE_AGES periods; *mss gets the peer's MSS from it. */
bool tcp_cookie_check(struct tcp_core *tc, const struct tcp_seg *s, uint16_t *mss)
{
	uint32_t cookie = s->ack - 1, client_isn = s->seq - 1;
	uint32_t now = tcp_cookie_counter(tc);

	for (uint32_t age = 0; age < TCP_COOKIE_AGES; age++) {
		uint32_t cnt = now - age;

		if ((cnt & TCP_COOKIE_CNT_MASK) != ((cookie >> TCP_COOKIE_CNT_SHIFT) & TCP_COOKIE_CNT_MASK))
			continue;
		if ((tcp_tuple_hash(tc, s, client_isn, cnt, TCP_PURPOSE_COOKIE) &
		     TCP_COOKIE_HASH_MASK) != (cookie & TCP_COOKIE_HASH_MASK))
			return false;
		*mss = tcp_cookie_mss[cookie & TCP_COOKIE_MSS_MASK];
		return true;
	}
	return false;
}
