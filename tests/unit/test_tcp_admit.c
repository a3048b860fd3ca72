/* lib/tcp's admission hook (struct tcp_admit) wired, as the dataplane wires
 * it, to lib/sale's shared lim_conn table: a handshake over the per-address
 * limit is reset and counted (stateful or by cookie), other addresses get
 * in, and every way a counted connection ends gives its place back exactly
 * once: the peer's FIN (LAST_ACK), ours (TIME_WAIT), the peer's RST, the
 * application's abort, the idle timeout, an answer never acknowledged,
 * TIME_WAIT reused, a full table; a half-open entry was never counted. Two
 * cores share one table. On a full table a cookie's ACK is admitted before
 * it takes an entry: refused, it evicts nobody; with no entry to take, its
 * count goes back. */
#include "lim_conn.h"
#include "tcp_harness.h"

#define OTHER_IP htonl(0xc6120003)    /* 198.18.0.3 */

static struct lim_conn *tbl;

static enum tcp_admit_verdict t_admit(void *ctx, uint32_t ip)
{
	switch (lim_conn_admit(ctx, ip)) {
	case LIM_CONN_COUNTED:
		return TCP_ADMIT_COUNTED;
	case LIM_CONN_REFUSE:
		return TCP_ADMIT_REFUSE;
	default:
		return TCP_ADMIT_PASS;
	}
}

static void t_release(void *ctx, uint32_t ip)
{
	lim_conn_release(ctx, ip);
}

static void t_conf(struct tcp_conf *conf, uint32_t limit, enum tcp_cookie_mode mode)
{
	th_conf(conf);
	conf->cookies = mode;
	if (tbl == NULL)
		tbl = lim_conn_create(2 * conf->max_conns, limit, NULL);
	cr_assert_not_null(tbl);
	conf->admit = (struct tcp_admit){ t_admit, t_release, tbl };
}

static struct th *th_limited(uint32_t limit, enum tcp_cookie_mode mode)
{
	struct tcp_conf conf;

	t_conf(&conf, limit, mode);
	return th_new_conf(&conf);
}

/* A second core (tcp_harness.h keeps one in a static), same callbacks. */
static struct th *th_second(uint32_t limit)
{
	static struct th h2;
	struct tcp_conf conf;
	struct net_iface ifc = { .ip = TH_OUR_IP, .mtu = NET_MTU };
	struct net_tx tx = { th_alloc, th_sendf, th_discard, &h2 };
	struct tcp_app app = { th_on_data, th_on_peer_fin, th_on_closed, &h2, th_on_established };

	t_conf(&conf, limit, TCP_COOKIES_NEVER);
	memset(&h2, 0, sizeof(h2));
	memcpy(ifc.mac, th_our_mac, 6);
	h2.conf = conf;
	h2.consume = -1;
	h2.now_us = 1000000;
	h2.tc = tcp_core_create(&conf, &ifc, &tx, &app);
	cr_assert_not_null(h2.tc);
	tcp_set_now(h2.tc, h2.now_us);
	return &h2;
}

static uint32_t count(void)
{
	return lim_conn_count(tbl, TH_PEER_IP);
}

static void done(struct th *h)
{
	th_free(h);
	cr_assert_eq(lim_conn_unmatched(tbl), 0, "a release with nothing counted");
	lim_conn_free(tbl);
	tbl = NULL;
}

/* The peer's SYN from `port`, our SYN-ACK, its ACK: the handshake's end,
 * with nothing asserted about the answer to the ACK. Returns our ISS. */
static uint32_t handshake(struct th *h, uint16_t port)
{
	uint32_t iss = th_syn_port(h, port, 1460).seq;

	th_send_from(h, port, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, NULL, 0);
	return iss;
}

/* The handshake's ACK is answered <SEQ=SEG.ACK><CTL=RST> and nothing stays. */
static void expect_refused(struct th *h, uint16_t port, uint32_t conns_before)
{
	uint64_t drops = TH_ST(h, drop_ip_conns);
	uint32_t iss = handshake(h, port);
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_RST);
	cr_assert_eq(f.seq, iss + 1);
	cr_assert_eq(f.dport, port);
	th_none(h);
	cr_assert_eq(TH_ST(h, drop_ip_conns), drops + 1);
	cr_assert_eq(th_gauges(h).conns, conns_before, "the refused entry is freed");
	cr_assert_eq(th_gauges(h).syn_rcvd, 0);
}

Test(tcp_admit, handshake_over_the_limit_is_reset_and_counted)
{
	struct th *h = th_limited(2, TCP_COOKIES_NEVER);

	th_open_port(h, 1);
	th_open_port(h, 2);
	th_none(h);
	cr_assert_eq(count(), 2);
	cr_assert_eq(th_gauges(h).established, 2);
	expect_refused(h, 3, 2);
	cr_assert_eq(count(), 2, "a refusal takes no place");
	cr_assert_eq(TH_ST(h, conns_opened), 2);
	cr_assert_eq(h->closed, 0, "the application never saw it");
	/* The peer sends its request anyway: no connection, reset. */
	th_send_from(h, 3, TH_ISN + 1, 1, TCP_ACK, 65535, 0, "GET", 3);
	cr_assert_eq(th_next(h).flags, TCP_RST);
	done(h);
}

Test(tcp_admit, other_addresses_are_apart)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);
	uint8_t buf[NET_FRAME_MAX + 64];

	th_open_port(h, 1);
	expect_refused(h, 2, 1);
	th_input_frame(h, buf, th_build(buf, OTHER_IP, 2, TH_PORT, TH_ISN, 0, TCP_SYN, 65535,
					1460, NULL, 0));
	struct th_frame f = th_next(h);

	cr_assert_eq(f.flags, TCP_SYN | TCP_ACK);
	th_input_frame(h, buf, th_build(buf, OTHER_IP, 2, TH_PORT, TH_ISN + 1, f.seq + 1, TCP_ACK,
					65535, 0, NULL, 0));
	th_none(h);
	cr_assert_eq(th_gauges(h).established, 2);
	cr_assert_eq(lim_conn_count(tbl, OTHER_IP), 1);
	cr_assert_eq(count(), 1);
	done(h);
}

Test(tcp_admit, cookie_connections_are_counted_and_refused)
{
	struct th *h = th_limited(1, TCP_COOKIES_ALWAYS);

	handshake(h, 1);
	th_none(h);
	cr_assert_eq(TH_ST(h, cookies_accepted), 1);
	cr_assert_eq(count(), 1);
	expect_refused(h, 2, 1);
	cr_assert_eq(TH_ST(h, cookies_accepted), 1, "refused before an entry was taken");
	cr_assert_eq(TH_ST(h, conns_opened), 1);
	done(h);
}

Test(tcp_admit, limit_off_counts_nothing)
{
	struct th *h = th_limited(0, TCP_COOKIES_NEVER);

	for (uint16_t p = 1; p <= 10; p++)
		th_open_port(h, p);
	cr_assert_eq(th_gauges(h).established, 10);
	cr_assert_eq(count(), 0);
	lim_conn_set_limit(tbl, 1);         /* those let in before stay uncounted */
	th_send_from(h, 1, TH_ISN + 1, 0, TCP_RST, 65535, 0, NULL, 0);
	th_open_port(h, 11);
	cr_assert_eq(count(), 1);
	expect_refused(h, 12, 10);
	done(h);                            /* nothing released that was not counted */
}

Test(tcp_admit, peer_closes_first_last_ack_frees)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);
	uint32_t iss = th_peer_closes_first(h);

	cr_assert_eq(count(), 1, "LAST_ACK still holds it");
	th_send(h, TH_ISN + 2, iss + 2, TCP_ACK, NULL, 0);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(count(), 0);
	th_open_port(h, 7);
	cr_assert_eq(count(), 1);
	done(h);
}

Test(tcp_admit, we_close_first_time_wait_gives_the_place_back)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);

	th_close_to_time_wait(h, 1, "q", "a");
	cr_assert_eq(th_gauges(h).time_wait, 1);
	cr_assert_eq(count(), 0, "TIME_WAIT is TCP's own: the address may connect again");
	th_open_port(h, 2);
	cr_assert_eq(count(), 1);
	/* A newer SYN on the TIME_WAIT tuple reopens it: freed, not released again. */
	th_send_from(h, 1, TH_ISN + 100000, 0, TCP_SYN, 65535, 1460, NULL, 0);
	cr_assert_eq(th_next(h).flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(count(), 1);
	cr_assert_eq(th_gauges(h).time_wait, 0);
	done(h);
}

Test(tcp_admit, peer_reset_frees)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);

	th_open(h);
	cr_assert_eq(count(), 1);
	th_send(h, TH_ISN + 1, 0, TCP_RST, NULL, 0);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(count(), 0);
	done(h);
}

Test(tcp_admit, application_abort_frees)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);
	uint32_t iss = th_open(h);

	h->abort_on_data = true;
	th_send(h, TH_ISN + 1, iss + 1, TCP_ACK, "q", 1);
	cr_assert_eq(th_next(h).flags, TCP_RST | TCP_ACK);
	cr_assert_eq(h->why, TCP_CLOSE_ABORT);
	cr_assert_eq(count(), 0);
	done(h);
}

/* Advances a second at a time until the application hears c is closed. */
static void until_closed(struct th *h, int max_s)
{
	for (int s = 0; s < max_s && h->closed == 0; s++)
		th_advance(h, 1000);
	cr_assert_eq(h->closed, 1);
}

Test(tcp_admit, idle_timeout_frees)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	until_closed(h, 600);           /* (whichever deadline ends a silent connection) */
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(count(), 0);
	done(h);
}

/* An answer the peer never acknowledges: retransmissions run out (or the
 * send deadline comes first); either way the place comes back. */
Test(tcp_admit, unacknowledged_answer_frees)
{
	struct tcp_conf conf;

	t_conf(&conf, 1, TCP_COOKIES_NEVER);
	conf.idle_timeout_ms = 1u << 29;
	struct th *h = th_new_conf(&conf);
	uint32_t iss = th_open(h);

	th_first_request(h, iss, "q");
	th_app_send(h, "answer", 6);
	until_closed(h, 600);
	cr_assert_neq(h->why, TCP_CLOSE_IDLE);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(count(), 0);
	done(h);
}

/* A full table of one address's idle connections, and more of its SYNs:
 * whatever the table does with them (a new one takes an idle one's entry,
 * or waits), the address's count is its live connections, exactly. */
Test(tcp_admit, full_table_count_stays_exact)
{
	struct tcp_conf conf;

	t_conf(&conf, 100, TCP_COOKIES_NEVER);
	conf.max_conns = 4;
	conf.syn_backlog = 4;
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 12; p++) {
		th_reset_capture(h);
		th_send_from(h, p, TH_ISN, 0, TCP_SYN, 65535, 1460, NULL, 0);
		if (h->nframes == 1 && th_out(h, 0).flags == (TCP_SYN | TCP_ACK))
			th_send_from(h, p, TH_ISN + 1, th_out(h, 0).seq + 1, TCP_ACK, 65535, 0,
				     NULL, 0);
		th_advance(h, 100);
		cr_assert_eq(count(), th_gauges(h).established, "after port %u", p);
	}
	for (int s = 0; s < 600 && th_gauges(h).conns; s++)
		th_advance(h, 1000);
	cr_assert_eq(th_gauges(h).conns, 0, "every idle connection ends in time");
	cr_assert_eq(count(), 0);
	done(h);
}

Test(tcp_admit, half_open_entry_is_never_counted)
{
	struct th *h = th_limited(1, TCP_COOKIES_NEVER);

	th_syn(h, 1460);
	cr_assert_eq(count(), 0, "counted only once the handshake completes");
	for (int s = 0; s < 60 && th_gauges(h).conns; s++)
		th_advance(h, 1000);
	cr_assert_eq(th_gauges(h).conns, 0);
	cr_assert_eq(count(), 0);
	done(h);                            /* and nothing released */
}

/* RSS puts one address's flows on two cores: the limit is theirs together. */
Test(tcp_admit, two_cores_share_one_count)
{
	struct th *a = th_limited(3, TCP_COOKIES_NEVER);
	struct th *b = th_second(3);

	th_open_port(a, 1);
	th_open_port(a, 2);
	th_open_port(b, 3);
	cr_assert_eq(count(), 3);
	expect_refused(b, 4, 1);
	expect_refused(a, 5, 2);
	cr_assert_eq(TH_ST(a, drop_ip_conns) + TH_ST(b, drop_ip_conns), 2);
	/* One closes on core a: core b admits the next. */
	th_send_from(a, 1, TH_ISN + 1, 0, TCP_RST, 65535, 0, NULL, 0);
	cr_assert_eq(count(), 2);
	th_open_port(b, 6);
	th_none(b);
	cr_assert_eq(th_gauges(b).established, 2);
	cr_assert_eq(count(), 3);
	tcp_core_destroy(b->tc);
	done(a);
}

/* Opens a connection from (ip, port) by whatever the SYN gets back: a
 * SYN-ACK, stateful or cookie, is acknowledged. The answer to that ACK (if
 * any) is left in the capture; returns whether a SYN-ACK came. */
static bool open_from(struct th *h, uint32_t ip, uint16_t port)
{
	uint8_t buf[NET_FRAME_MAX + 64];

	th_reset_capture(h);
	th_input_frame(h, buf, th_build(buf, ip, port, TH_PORT, TH_ISN, 0, TCP_SYN, 65535, 1460,
					NULL, 0));
	if (h->nframes != 1 || th_out(h, 0).flags != (TCP_SYN | TCP_ACK))
		return false;
	th_input_frame(h, buf, th_build(buf, ip, port, TH_PORT, TH_ISN + 1, th_out(h, 0).seq + 1,
					TCP_ACK, 65535, 0, NULL, 0));
	return true;
}

/* A full table answers SYNs with cookies; the ACK of one from an address
 * at its limit is refused before it takes an entry, so no idle buyer is
 * evicted to make room for a connection that is then reset. */
Test(tcp_admit, cookie_over_the_limit_on_a_full_table_evicts_nobody)
{
	struct tcp_conf conf;

	t_conf(&conf, 2, TCP_COOKIES_AUTO);
	conf.max_conns = 4;
	conf.syn_backlog = 4;
	struct th *h = th_new_conf(&conf);

	cr_assert(open_from(h, TH_PEER_IP, 1));
	cr_assert(open_from(h, TH_PEER_IP, 2));
	cr_assert(open_from(h, OTHER_IP, 1));
	cr_assert(open_from(h, OTHER_IP, 2));
	cr_assert_eq(th_gauges(h).established, 4);
	cr_assert(open_from(h, TH_PEER_IP, 3), "a cookie for the full table");
	cr_assert_eq(TH_ST(h, cookies_sent), 1);
	cr_assert_eq(h->nframes, 2);
	cr_assert_eq(th_out(h, 1).flags, TCP_RST, "its ACK is reset");
	cr_assert_eq(TH_ST(h, drop_ip_conns), 1);
	cr_assert_eq(th_gauges(h).established, 4, "nobody evicted");
	cr_assert_eq(h->closed, 0);
	cr_assert_eq(count(), 2);
	done(h);
}

/* The cookie's address was counted, but the table, full of connections with
 * answers in flight, has no entry to give: the count goes back at once. */
Test(tcp_admit, cookie_without_an_entry_gives_its_count_back)
{
	struct tcp_conf conf;

	t_conf(&conf, 2, TCP_COOKIES_AUTO);
	conf.max_conns = 2;
	conf.syn_backlog = 2;
	conf.rx_bufs = conf.tx_bufs = 2;
	struct th *h = th_new_conf(&conf);

	for (uint16_t p = 1; p <= 2; p++) {
		uint32_t iss = th_open_port(h, p);

		h->reply = "answer";            /* unacknowledged: in flight, not evictable */
		th_send_from(h, p, TH_ISN + 1, iss + 1, TCP_ACK, 65535, 0, "q", 1);
		th_next(h);
		h->reply = NULL;
	}
	cr_assert(open_from(h, OTHER_IP, 1), "a cookie for the full table");
	cr_assert_eq(h->nframes, 1, "its ACK is dropped, not reset");
	cr_assert_eq(TH_ST(h, drop_table_full), 1);
	cr_assert_eq(lim_conn_count(tbl, OTHER_IP), 0, "its count given back");
	cr_assert_eq(count(), 2);
	done(h);
}
