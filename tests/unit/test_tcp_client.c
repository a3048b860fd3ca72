/*
 * Client mode of lib/tcp (tcp_connect, RFC 9293 3.10.7.3 SYN-SENT), one
 * scripted exchange per rule, then a client core and a server core of ours
 * wired back to back for whole requests.
 *
 * In these tests our core (198.18.0.1) is the client; the scripted peer at
 * 198.18.0.2 is the server on port TH_PORT (80); our local ports are chosen
 * by the test.
 */
#include "tcp_harness.h"

#define LPORT 40001
#define SRV_ISN 7000u

static struct th *client(void)
{
	struct tcp_conf conf;

	th_conf(&conf);
	conf.client = true;            /* listen_port (80) is the server's */
	return th_new_conf(&conf);
}

/* The next frame we sent: well formed, from a local port to port 80. */
static struct th_frame cnext(struct th *h, uint16_t lport)
{
	cr_assert_lt(h->seen, h->nframes, "expected a segment, none sent");
	struct th_frame f = th_out(h, h->seen++);

	cr_assert(f.eth_ok && f.ip_csum_ok && f.tcp_csum_ok, "malformed segment");
	cr_assert_eq(f.sport, lport);
	cr_assert_eq(f.dport, TH_PORT);
	return f;
}

static void cexpect(struct th *h, uint16_t lport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct th_frame f = cnext(h, lport);

	cr_assert_eq(f.flags, flags, "flags %#x, expected %#x", f.flags, flags);
	cr_assert_eq(f.seq, seq, "seq %u, expected %u", f.seq, seq);
	cr_assert_eq(f.ack, ack, "ack %u, expected %u", f.ack, ack);
}

/* A segment from the server (port 80) to our local port. */
static void from_server(struct th *h, uint16_t lport, uint32_t seq, uint32_t ack, uint8_t flags,
			uint16_t mss, const void *data, uint32_t len)
{
	uint8_t buf[NET_FRAME_MAX + 64];

	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, TH_PORT, lport, seq, ack, flags, 65535,
					 mss, data, len));
}

/* connect, answer the SYN with a SYN-ACK; returns our ISS. */
static uint32_t handshake(struct th *h, uint16_t lport)
{
	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, lport, th_peer_mac));
	struct th_frame syn = cnext(h, lport);

	from_server(h, lport, SRV_ISN, syn.seq + 1, TCP_SYN | TCP_ACK, 1460, NULL, 0);
	return syn.seq;
}

Test(tcp_client, connect_sends_a_syn_with_our_mss)
{
	struct th *h = client();
	struct tcp_conn *c = tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac);
	struct th_frame f;

	cr_assert_not_null(c);
	f = cnext(h, LPORT);
	cr_assert_eq(f.flags, TCP_SYN);
	cr_assert_eq(f.ack, 0);
	cr_assert_eq(f.mss, h->conf.mss);
	cr_assert_eq(f.len, 0);
	th_none(h);
	cr_assert_eq(th_gauges(h).syn_sent, 1);
	cr_assert_eq(TH_ST(h, syn_sent), 1);
	cr_assert_eq(h->established, 0);
	th_free(h);
}

Test(tcp_client, synack_establishes_acks_and_the_request_goes_out)
{
	struct th *h = client();
	const char *req = "GET / HTTP/1.1\r\n\r\n";
	uint32_t iss;
	struct th_frame f;

	h->request = req;
	iss = handshake(h, LPORT);
	cr_assert_eq(h->established, 1);
	cr_assert_eq(th_gauges(h).established, 1);
	cr_assert_eq(th_gauges(h).syn_sent, 0);
	/* The request carries the handshake's ACK. */
	f = cnext(h, LPORT);
	cr_assert_eq(f.flags, TCP_ACK | TCP_PSH);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.ack, SRV_ISN + 1);
	cr_assert_eq(f.len, strlen(req));
	cr_assert(!memcmp(f.data, req, f.len));
	th_none(h);
	/* The answer is delivered in order, as on the server side. */
	from_server(h, LPORT, SRV_ISN + 1, iss + 1 + f.len, TCP_ACK | TCP_PSH, 0, "HTTP/1.1 200", 12);
	cr_assert_eq(h->rx_total, 12);
	cr_assert(!memcmp(h->rx, "HTTP/1.1 200", 12));
	cr_assert_eq(TH_ST(h, conns_opened), 1);
	th_free(h);
}

Test(tcp_client, synack_without_a_request_is_acked_at_once)
{
	struct th *h = client();
	uint32_t iss = handshake(h, LPORT);

	cexpect(h, LPORT, TCP_ACK, iss + 1, SRV_ISN + 1);
	th_free(h);
}

Test(tcp_client, rst_with_our_ack_refuses_the_connection)
{
	struct th *h = client();
	struct th_frame syn;

	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	syn = cnext(h, LPORT);
	from_server(h, LPORT, 0, syn.seq + 1, TCP_RST | TCP_ACK, 0, NULL, 0);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_RESET);
	cr_assert_eq(h->established, 0);
	cr_assert_eq(TH_ST(h, connects_refused), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_none(h);
	th_free(h);
}

Test(tcp_client, rst_with_another_ack_is_dropped)
{
	struct th *h = client();
	struct th_frame syn;

	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	syn = cnext(h, LPORT);
	from_server(h, LPORT, 0, syn.seq + 7, TCP_RST | TCP_ACK, 0, NULL, 0);
	from_server(h, LPORT, 0, 0, TCP_RST, 0, NULL, 0);
	cr_assert_eq(h->closed, 0, "a forged reset does not kill the attempt");
	cr_assert_eq(th_gauges(h).syn_sent, 1);
	th_none(h);
	th_free(h);
}

Test(tcp_client, synack_acking_the_wrong_sequence_gets_a_reset)
{
	struct th *h = client();
	struct th_frame syn, f;

	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	syn = cnext(h, LPORT);
	from_server(h, LPORT, SRV_ISN, syn.seq + 99, TCP_SYN | TCP_ACK, 1460, NULL, 0);
	/* <SEQ=SEG.ACK><CTL=RST>, and the attempt goes on. */
	f = cnext(h, LPORT);
	cr_assert_eq(f.flags, TCP_RST);
	cr_assert_eq(f.seq, syn.seq + 99);
	cr_assert_eq(th_gauges(h).syn_sent, 1);
	cr_assert_eq(h->established, 0);
	th_free(h);
}

Test(tcp_client, syn_is_resent_with_back_off_then_the_attempt_gives_up)
{
	struct th *h = client();
	uint32_t rto = h->conf.rto_init_ms;
	struct th_frame syn, again;

	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	syn = cnext(h, LPORT);
	for (unsigned i = 0; i < h->conf.syn_retries; i++) {
		th_advance(h, rto - 1);
		th_none(h);
		th_advance(h, 1);
		again = cnext(h, LPORT);
		cr_assert_eq(again.flags, TCP_SYN);
		cr_assert_eq(again.seq, syn.seq, "the same ISS every time");
		rto = rto * 2 > h->conf.rto_max_ms ? h->conf.rto_max_ms : rto * 2;
	}
	th_advance(h, rto);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_RETRANS);
	cr_assert_eq(TH_ST(h, syn_retrans), h->conf.syn_retries);
	cr_assert_eq(TH_ST(h, connects_timed_out), 1);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_free(h);
}

Test(tcp_client, a_local_port_in_use_or_a_server_core_cannot_connect)
{
	struct th *h = client();

	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	cr_assert_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac), "port in use");
	cr_assert_null(tcp_connect(h->tc, TH_PEER_IP, 0, th_peer_mac), "port 0");
	cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, LPORT + 1, th_peer_mac));
	th_free(h);
	h = th_new();                  /* server mode */
	cr_assert_null(tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac));
	th_free(h);
}

Test(tcp_client, segments_not_from_the_server_port_are_dropped)
{
	struct th *h = client();
	uint8_t buf[NET_FRAME_MAX + 64];

	handshake(h, LPORT);
	th_reset_capture(h);
	th_input_frame(h, buf, th_build(buf, TH_PEER_IP, 8080, LPORT, SRV_ISN + 1, 0, TCP_ACK,
					 65535, 0, NULL, 0));
	cr_assert_eq(TH_ST(h, drop_bad_port), 1);
	th_none(h);
	/* For a port with no connection: a reset (CLOSED). */
	from_server(h, LPORT + 5, 1, 2, TCP_ACK, 0, NULL, 0);
	cr_assert_eq(cnext(h, LPORT + 5).flags, TCP_RST);
	th_free(h);
}

Test(tcp_client, close_before_the_answer_deletes_the_attempt)
{
	struct th *h = client();
	struct tcp_conn *c = tcp_connect(h->tc, TH_PEER_IP, LPORT, th_peer_mac);

	cnext(h, LPORT);
	tcp_close(h->tc, c);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_ABORT);
	cr_assert_eq(th_gauges(h).conns, 0);
	th_none(h);
	th_free(h);
}

Test(tcp_client, client_closes_first_and_waits_in_time_wait)
{
	struct th *h = client();
	uint32_t iss = handshake(h, LPORT);
	struct th_frame fin;

	cexpect(h, LPORT, TCP_ACK, iss + 1, SRV_ISN + 1);
	tcp_close(h->tc, h->conn);
	fin = cnext(h, LPORT);
	cr_assert_eq(fin.flags, TCP_FIN | TCP_ACK);
	cr_assert_eq(fin.seq, iss + 1);
	from_server(h, LPORT, SRV_ISN + 1, iss + 2, TCP_FIN | TCP_ACK, 0, NULL, 0);
	cexpect(h, LPORT, TCP_ACK, iss + 2, SRV_ISN + 2);
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert_eq(h->closed, 1);
	cr_assert_eq(h->why, TCP_CLOSE_NORMAL);
	th_free(h);
}

/* ---- a client core and a server core of ours, back to back ---------------- */

/* The server side: its own core, frames captured in its own queue, an
 * application answering each 4-byte "ping" with "pong", closing when asked. */
struct srv {
	struct tcp_core *tc;
	uint8_t frames[TH_MAX_FRAMES][NET_FRAME_MAX];
	uint32_t flen[TH_MAX_FRAMES];
	int n;
	int closed;
};

static struct srv srv;

static uint8_t *srv_alloc(void *ctx, void **handle)
{
	struct srv *s = ctx;

	if (s->n >= TH_MAX_FRAMES)
		return NULL;
	*handle = (void *)(intptr_t)s->n;
	return s->frames[s->n];
}

static void srv_send(void *ctx, void *handle, uint32_t len)
{
	struct srv *s = ctx;

	s->flen[(intptr_t)handle] = len;
	s->n++;
}

static void srv_discard(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

static uint32_t srv_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			    const uint8_t *data, uint32_t len)
{
	uint32_t used = 0;

	(void)ctx;
	for (; len - used >= 4; used += 4) {
		cr_assert(!memcmp(data + used, "ping", 4));
		cr_assert_eq(tcp_send(tc, c, "pong", 4), 0);
	}
	return used;
}

static void srv_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	(void)ctx;
	tcp_close(tc, c);
}

static void srv_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			  enum tcp_close_reason why)
{
	(void)tc;
	(void)c;
	cr_assert_eq(why, TCP_CLOSE_NORMAL);
	((struct srv *)ctx)->closed++;
}

static void srv_new(void)
{
	struct tcp_conf conf;
	struct net_iface ifc = { .ip = TH_PEER_IP, .mtu = NET_MTU };
	struct net_tx tx = { srv_alloc, srv_send, srv_discard, &srv };
	struct tcp_app app = { srv_on_data, srv_on_peer_fin, srv_on_closed, &srv, NULL };

	memset(&srv, 0, sizeof(srv));
	memcpy(ifc.mac, th_peer_mac, 6);
	th_conf(&conf);
	srv.tc = tcp_core_create(&conf, &ifc, &tx, &app);
	cr_assert_not_null(srv.tc);
}

/* Moves every captured frame to the other core until both are quiet. */
static void wire(struct th *h)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		int moved = 0;

		for (int i = h->seen; i < h->nframes; i++, moved++)
			tcp_input(srv.tc, (const struct eth_hdr *)h->frames[i],
				  (const struct ipv4_hdr *)(h->frames[i] + NET_ETH_HLEN),
				  h->frames[i] + NET_ETH_HLEN + NET_IPV4_HLEN,
				  h->flen[i] - NET_ETH_HLEN - NET_IPV4_HLEN);
		th_reset_capture(h);
		for (int i = 0; i < srv.n; i++, moved++)
			tcp_input(h->tc, (const struct eth_hdr *)srv.frames[i],
				  (const struct ipv4_hdr *)(srv.frames[i] + NET_ETH_HLEN),
				  srv.frames[i] + NET_ETH_HLEN + NET_IPV4_HLEN,
				  srv.flen[i] - NET_ETH_HLEN - NET_IPV4_HLEN);
		srv.n = 0;
		if (!moved)
			return;
	}
	cr_assert_fail("the two cores never went quiet");
}

Test(tcp_client, back_to_back_with_our_server_many_connections_each_closed_cleanly)
{
	struct th *h = client();
	struct tcp_gauges g;
	const int conns = 200, pings = 3;

	srv_new();
	h->request = "pingpingping";
	for (int i = 0; i < conns; i++) {
		uint64_t before = h->rx_total;

		cr_assert_not_null(tcp_connect(h->tc, TH_PEER_IP, (uint16_t)(20000 + i),
					       th_peer_mac));
		wire(h);
		cr_assert_eq(h->rx_total - before, 4u * pings, "connection %d: %lu bytes back", i,
			     (unsigned long)(h->rx_total - before));
		tcp_close(h->tc, h->conn);     /* the client closes first: TIME_WAIT is ours */
		wire(h);
	}
	cr_assert_eq(h->established, conns);
	cr_assert_eq(h->closed, conns);
	cr_assert_eq(srv.closed, conns);
	tcp_core_gauges(srv.tc, &g);
	cr_assert_eq(g.conns, 0, "the server holds nothing: the client kept TIME_WAIT");
	tcp_core_gauges(h->tc, &g);
	cr_assert_eq(g.conns, g.time_wait);
	cr_assert_eq(TH_ST(h, drop_no_conn) + TH_ST(h, drop_bad_port) + TH_ST(h, retrans_segs), 0);
	cr_assert_eq(tcp_core_stats(srv.tc)->drop_no_conn + tcp_core_stats(srv.tc)->retrans_segs, 0);
	tcp_core_destroy(srv.tc);
	th_free(h);
}
