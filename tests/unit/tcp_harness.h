/*
 * tcp_harness.h - shared scaffolding for the tests/unit/test_tcp_*.c files
 * (header-only, static inline).
 *
 * One tcp_core per test, talking to a net_tx that captures every frame it is
 * given into an array, and an application whose behaviour each test sets
 * (consume all / some, answer with a string, close after answering, abort).
 * Segments are built as whole Ethernet + IPv4 + TCP frames with correct
 * checksums (th_send), fed to tcp_input, and the captured replies are parsed
 * back (th_out) with their IP and TCP checksums verified independently of the
 * code under test, so every test can assert the exact reply.
 */
#ifndef TCP_HARNESS_H
#define TCP_HARNESS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "net_csum.h"
#include "net_hdr.h"
#include "net_iface.h"
#include "tcp.h"

#define TH_MAX_FRAMES 256
#define TH_PORT       80
#define TH_PEER_PORT  40000
#define TH_OUR_IP     htonl(0xc6120001)   /* 198.18.0.1 */
#define TH_PEER_IP    htonl(0xc6120002)   /* 198.18.0.2 */
#define TH_RX_MAX     65536

static const uint8_t th_our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t th_peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* A parsed captured frame. */
struct th_frame {
	uint32_t src_ip, dst_ip;        /* network order */
	uint16_t sport, dport;          /* host order */
	uint32_t seq, ack;
	uint8_t  flags;
	uint16_t win;
	uint16_t mss;                   /* MSS option, 0 when absent */
	uint32_t hlen;                  /* TCP header length */
	const uint8_t *data;
	uint32_t len;
	bool     ip_csum_ok, tcp_csum_ok, eth_ok;
};

struct th {
	struct tcp_core *tc;
	struct tcp_conf conf;
	/* net_tx capture */
	uint8_t frames[TH_MAX_FRAMES][NET_FRAME_MAX];
	uint32_t flen[TH_MAX_FRAMES];
	int nframes;
	int seen;                       /* frames already looked at by th_next */
	bool tx_fail;                   /* alloc returns NULL */
	/* application behaviour */
	const char *reply;              /* sent from on_data when set */
	bool close_after_reply;
	bool abort_on_data;
	bool close_on_peer_fin;
	bool send_may_fail;             /* tcp_send may refuse (full buffers) */
	int send_fails;
	int32_t consume;                /* bytes on_data takes: -1 all */
	/* application record */
	uint8_t rx[TH_RX_MAX];
	uint64_t rx_total;              /* bytes consumed; the first TH_RX_MAX in rx[] */
	int data_calls;
	uint32_t last_offer;            /* len of the last on_data */
	const uint8_t *last_ptr;        /* data of the last on_data */
	int peer_fins;
	int closed;
	enum tcp_close_reason why;
	struct tcp_conn *conn;          /* the last connection seen */
	uint64_t now_us;
	/* client mode (test_tcp_client.c) */
	const char *request;            /* sent from on_established when set */
	int established;
};

static struct th *th_cur;               /* for callbacks */

static inline uint8_t *th_alloc(void *ctx, void **handle)
{
	struct th *h = ctx;

	if (h->tx_fail || h->nframes >= TH_MAX_FRAMES)
		return NULL;
	*handle = (void *)(intptr_t)h->nframes;
	return h->frames[h->nframes];
}

static inline void th_sendf(void *ctx, void *handle, uint32_t len)
{
	struct th *h = ctx;
	int i = (int)(intptr_t)handle;

	cr_assert_eq(i, h->nframes, "send of a frame that was not the last allocated");
	cr_assert_leq(len, NET_FRAME_MAX);
	h->flen[i] = len;
	h->nframes++;
}

static inline void th_discard(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

static inline uint32_t th_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
				  const uint8_t *data, uint32_t len)
{
	struct th *h = ctx;
	uint32_t n = h->consume < 0 || (uint32_t)h->consume > len ? len : (uint32_t)h->consume;

	h->conn = c;
	h->data_calls++;
	h->last_offer = len;
	h->last_ptr = data;
	if (h->rx_total + n <= TH_RX_MAX)       /* long runs only count */
		memcpy(h->rx + h->rx_total, data, n);
	h->rx_total += n;
	if (h->abort_on_data) {
		tcp_abort(tc, c);
		return 0;
	}
	if (h->reply && n) {
		int rc = tcp_send(tc, c, h->reply, (uint32_t)strlen(h->reply));

		if (rc)
			h->send_fails++;
		cr_assert(rc == 0 || h->send_may_fail, "tcp_send failed");
		if (h->close_after_reply)
			tcp_close(tc, c);
	}
	return n;
}

static inline void th_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	struct th *h = ctx;

	h->peer_fins++;
	if (h->close_on_peer_fin)
		tcp_close(tc, c);
}

static inline void th_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
				enum tcp_close_reason why)
{
	struct th *h = ctx;

	(void)tc;
	h->closed++;
	h->why = why;
	if (h->conn == c)
		h->conn = NULL;
}

static inline void th_on_established(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	struct th *h = ctx;

	h->established++;
	h->conn = c;
	if (h->request)
		cr_assert_eq(tcp_send(tc, c, h->request, (uint32_t)strlen(h->request)), 0);
}

/* Default test configuration: small, deterministic. */
static inline void th_conf(struct tcp_conf *conf)
{
	tcp_conf_default(conf);
	conf->max_conns = 64;
	conf->syn_backlog = 16;
	conf->listen_port = TH_PORT;
	conf->cookies = TCP_COOKIES_NEVER;
}

static inline struct th *th_new_conf(const struct tcp_conf *conf)
{
	static struct th h;
	struct net_iface ifc = { .ip = TH_OUR_IP, .mtu = NET_MTU };
	struct net_tx tx = { th_alloc, th_sendf, th_discard, &h };
	struct tcp_app app = { th_on_data, th_on_peer_fin, th_on_closed, &h, th_on_established };

	memset(&h, 0, sizeof(h));
	memcpy(ifc.mac, th_our_mac, 6);
	h.conf = *conf;
	h.consume = -1;
	h.now_us = 1000000;             /* arbitrary origin: 1 s */
	h.tc = tcp_core_create(conf, &ifc, &tx, &app);
	cr_assert_not_null(h.tc);
	tcp_set_now(h.tc, h.now_us);
	th_cur = &h;
	return &h;
}

static inline struct th *th_new(void)
{
	struct tcp_conf conf;

	th_conf(&conf);
	return th_new_conf(&conf);
}

static inline void th_free(struct th *h)
{
	tcp_core_destroy(h->tc);
	h->tc = NULL;
}

/* Advances the clock by ms and runs the timers. */
static inline void th_advance(struct th *h, uint32_t ms)
{
	h->now_us += (uint64_t)ms * 1000;
	tcp_set_now(h->tc, h->now_us);
	tcp_timers_run(h->tc);
}

/* Builds a frame from peer (ip, port) into buf; returns its length. */
static inline uint32_t th_build(uint8_t *buf, uint32_t src_ip, uint16_t sport, uint16_t dport,
				uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
				uint16_t mss, const void *data, uint32_t len)
{
	struct eth_hdr *eh = (struct eth_hdr *)buf;
	struct ipv4_hdr *ih = (struct ipv4_hdr *)(buf + NET_ETH_HLEN);
	uint8_t *l4 = buf + NET_ETH_HLEN + NET_IPV4_HLEN;
	struct tcp_hdr *t = (struct tcp_hdr *)l4;
	uint32_t hlen = NET_TCP_HLEN + (mss ? 4 : 0);
	uint16_t l4len = (uint16_t)(hlen + len);

	memcpy(eh->dst, th_our_mac, 6);
	memcpy(eh->src, th_peer_mac, 6);
	eh->type = htons(NET_ETHERTYPE_IPV4);
	memset(ih, 0, sizeof(*ih));
	ih->ver_ihl = 0x45;
	ih->total_len = htons((uint16_t)(NET_IPV4_HLEN + l4len));
	ih->ttl = 64;
	ih->proto = NET_IPPROTO_TCP;
	ih->src = src_ip;
	ih->dst = TH_OUR_IP;
	ih->csum = net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN));
	memset(t, 0, sizeof(*t));
	t->sport = htons(sport);
	t->dport = htons(dport);
	t->seq = htonl(seq);
	t->ack = htonl(ack);
	t->off = (uint8_t)((hlen / 4) << 4);
	t->flags = flags;
	t->win = htons(win);
	if (mss) {
		l4[20] = TCP_OPT_MSS;
		l4[21] = 4;
		l4[22] = (uint8_t)(mss >> 8);
		l4[23] = (uint8_t)mss;
	}
	if (len)
		memcpy(l4 + hlen, data, len);
	t->csum = net_csum_fold(net_csum_add(net_csum_pseudo(src_ip, TH_OUR_IP, NET_IPPROTO_TCP,
							     l4len), l4, l4len));
	return NET_ETH_HLEN + NET_IPV4_HLEN + l4len;
}

/* Feeds a built frame to tcp_input as the dataplane would. */
static inline void th_input_frame(struct th *h, const uint8_t *buf, uint32_t flen)
{
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)(buf + NET_ETH_HLEN);

	tcp_input(h->tc, (const struct eth_hdr *)buf, ih, buf + NET_ETH_HLEN + NET_IPV4_HLEN,
		  flen - NET_ETH_HLEN - NET_IPV4_HLEN);
}

/* Sends one segment from the peer at TH_PEER_IP:sport. */
static inline void th_send_from(struct th *h, uint16_t sport, uint32_t seq, uint32_t ack,
				uint8_t flags, uint16_t win, uint16_t mss, const void *data,
				uint32_t len)
{
	uint8_t buf[NET_FRAME_MAX + 64];

	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, sport, TH_PORT, seq, ack, flags, win,
					 mss, data, len));
}

static inline void th_send(struct th *h, uint32_t seq, uint32_t ack, uint8_t flags,
			   const void *data, uint32_t len)
{
	th_send_from(h, TH_PEER_PORT, seq, ack, flags, 65535, 0, data, len);
}

/* Parses captured frame i, verifying both checksums independently. */
static inline struct th_frame th_out(const struct th *h, int i)
{
	struct th_frame f;
	const uint8_t *buf = h->frames[i];
	const struct eth_hdr *eh = (const struct eth_hdr *)buf;
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)(buf + NET_ETH_HLEN);
	const uint8_t *l4 = buf + NET_ETH_HLEN + NET_IPV4_HLEN;
	const struct tcp_hdr *t = (const struct tcp_hdr *)l4;
	uint32_t l4len = ntohs(ih->total_len) - NET_IPV4_HLEN;

	cr_assert_lt(i, h->nframes, "frame %d not sent (only %d)", i, h->nframes);
	memset(&f, 0, sizeof(f));
	cr_assert_eq(h->flen[i], NET_ETH_HLEN + ntohs(ih->total_len));
	f.eth_ok = !memcmp(eh->dst, th_peer_mac, 6) && !memcmp(eh->src, th_our_mac, 6) &&
		ntohs(eh->type) == NET_ETHERTYPE_IPV4 && ih->proto == NET_IPPROTO_TCP;
	f.ip_csum_ok = net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN)) == 0;
	f.tcp_csum_ok = net_csum_fold(net_csum_add(net_csum_pseudo(ih->src, ih->dst,
								   NET_IPPROTO_TCP,
								   (uint16_t)l4len),
						   l4, l4len)) == 0;
	f.src_ip = ih->src;
	f.dst_ip = ih->dst;
	f.sport = ntohs(t->sport);
	f.dport = ntohs(t->dport);
	f.seq = ntohl(t->seq);
	f.ack = ntohl(t->ack);
	f.flags = t->flags;
	f.win = ntohs(t->win);
	f.hlen = (uint32_t)(t->off >> 4) * 4;
	if (f.hlen == 24 && l4[20] == TCP_OPT_MSS && l4[21] == 4)
		f.mss = (uint16_t)(l4[22] << 8 | l4[23]);
	f.data = l4 + f.hlen;
	f.len = l4len - f.hlen;
	return f;
}

/* The next captured frame not yet looked at; asserts there is one and that
 * it is well formed (addresses, checksums). */
static inline struct th_frame th_next(struct th *h)
{
	cr_assert_lt(h->seen, h->nframes, "expected a reply, none sent (%d frames)", h->nframes);
	struct th_frame f = th_out(h, h->seen++);

	cr_assert(f.eth_ok, "bad Ethernet/IP addressing in reply");
	cr_assert(f.ip_csum_ok, "bad IPv4 checksum in reply");
	cr_assert(f.tcp_csum_ok, "bad TCP checksum in reply");
	cr_assert_eq(f.sport, TH_PORT);
	return f;
}

/* Forgets the captured frames (long tests reuse the array). */
static inline void th_reset_capture(struct th *h)
{
	h->nframes = 0;
	h->seen = 0;
}

/* Asserts no frame was sent since the last th_next. */
static inline void th_none(const struct th *h)
{
	cr_assert_eq(h->nframes, h->seen, "unexpected reply (%d frames, %d seen)", h->nframes,
		     h->seen);
}

static inline void th_expect(struct th *h, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, flags, "flags %#x, expected %#x", f.flags, flags);
	cr_assert_eq(f.seq, seq, "seq %u, expected %u", f.seq, seq);
	cr_assert_eq(f.ack, ack, "ack %u, expected %u", f.ack, ack);
}

/* Peer ISN used by the tests. */
#define TH_ISN 1000u

/*
 * The peer's SYN (ISN TH_ISN) from `port`, with an MSS option of mss (0: no
 * option). Asserts the answer is a SYN-ACK of it to that port and returns it
 * (its seq is our ISS); the handshake's last ACK is the caller's.
 */
static inline struct th_frame th_syn_port(struct th *h, uint16_t port, uint16_t mss)
{
	th_send_from(h, port, TH_ISN, 0, TCP_SYN, 65535, mss, NULL, 0);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(f.ack, TH_ISN + 1);
	cr_assert_eq(f.dport, port);
	return f;
}

static inline struct th_frame th_syn(struct th *h, uint16_t mss)
{
	return th_syn_port(h, TH_PEER_PORT, mss);
}

/* Opens a connection from `port` (the peer's MSS 1460); returns our ISS. */
static inline uint32_t th_open_port(struct th *h, uint16_t port)
{
	uint32_t iss = th_syn_port(h, port, 1460).seq;

	th_send_from(h, port, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, NULL, 0);
	return iss;
}

/* Opens a connection with the default peer port; returns our ISS. */
static inline uint32_t th_open(struct th *h)
{
	return th_open_port(h, TH_PEER_PORT);
}

/* The peer's first bytes after its SYN (our ISS iss; they complete the
 * handshake if th_syn left it open), which the application takes without
 * answering: our ACK of them is checked. */
static inline void th_first_request(struct th *h, uint32_t iss, const char *req)
{
	uint32_t n = (uint32_t)strlen(req);

	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, req, n);
	th_expect(h, TCP_ACK, iss + 1, TH_ISN + 1 + n);
}

/* The application sends n bytes from outside its callbacks on the last
 * connection; asserts they were taken and returns the segment that went out. */
static inline struct th_frame th_app_send(struct th *h, const void *data, uint32_t n)
{
	cr_assert_eq(tcp_send(h->tc, h->conn, data, n), 0);
	return th_next(h);
}

/*
 * Opens a connection from `port`, and the application answers the peer's
 * `req` with `reply` and closes: the answer carries our FIN (checked, as is
 * that nothing else went out). Returns our ISS. FIN_WAIT_1.
 */
static inline uint32_t th_answer_close(struct th *h, uint16_t port, const char *req,
				       const char *reply)
{
	uint32_t iss = th_open_port(h, port), n = (uint32_t)strlen(req);
	uint32_t len = (uint32_t)strlen(reply);

	h->reply = reply;
	h->close_after_reply = true;
	th_send_from(h, port, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, req, n);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH | TCP_FIN);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.ack, TH_ISN + 1 + n);
	cr_assert_eq(f.len, len);
	cr_assert_arr_eq(f.data, reply, len);
	th_none(h);
	return iss;
}

/* th_answer_close, then the peer's FIN acknowledging our answer and FIN,
 * which we ACK: the connection is in TIME_WAIT. Returns our ISS. */
static inline uint32_t th_close_to_time_wait(struct th *h, uint16_t port, const char *req,
					     const char *reply)
{
	uint32_t iss = th_answer_close(h, port, req, reply);
	uint32_t seq = TH_ISN + 1 + (uint32_t)strlen(req), ack = iss + 2 + (uint32_t)strlen(reply);

	th_send_from(h, port, seq, ack, TCP_ACK | TCP_FIN, 65535, 0, NULL, 0);
	th_expect(h, TCP_ACK, ack, seq + 1);
	return iss;
}

/* Opens a connection and the peer closes first; the application closes on
 * its FIN, so our FIN rides on the ACK of it (checked). Returns our ISS.
 * LAST_ACK. */
static inline uint32_t th_peer_closes_first(struct th *h)
{
	uint32_t iss = th_open(h);

	h->close_on_peer_fin = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK | TCP_FIN, NULL, 0);
	th_expect(h, TCP_ACK | TCP_FIN, iss + 1, TH_ISN + 2);
	return iss;
}

/* Advances ms - 1, asserts nothing was sent, then 1 more: a timer that must
 * fire exactly ms from now. */
static inline void th_just_before_and_at(struct th *h, uint32_t ms)
{
	th_advance(h, ms - 1);
	th_none(h);
	th_advance(h, 1);
}

static inline struct tcp_gauges th_gauges(const struct th *h)
{
	struct tcp_gauges g;

	tcp_core_gauges(h->tc, &g);
	return g;
}

#define TH_ST(h, name) (tcp_core_stats((h)->tc)->name)

#endif
