/*
 * bench_stack.c - cycles per packet through the whole stack, on one core.
 *
 * A keep-alive client in the same process: after one handshake, each round
 * feeds a ~250-byte "GET /healthz" frame to net_input (which runs IPv4, TCP,
 * the HTTP server and the application's route, and sends the answer through
 * a capturing net_tx), then feeds the client's ACK of that answer. Only the
 * two net_input calls are timed; building the client's frames is not the
 * stack's work and is left out. Rounds are repeated in several runs, and the
 * minimum and median per run are printed, so one noisy run (the machine is
 * shared) does not decide the result.
 *
 *   bench_stack [requests per run (100000)] [runs (7)] [buy]
 *
 * With "buy" the request is a sale request instead (POST /api/campaigns/1/
 * orders with a buyer token, ~250 bytes) against a campaign whose one unit
 * the warm-up sells: every timed request is the sold-out answer a flash
 * sale gives most of its buyers (token checked, the core's sold-out flag,
 * a 410 with a JSON body).
 *
 * Cycles come from the TSC (__rdtsc, fenced) on x86 and are converted to
 * nanoseconds with the TSC rate measured against CLOCK_MONOTONIC over the same
 * runs; elsewhere the monotonic clock alone is used and cycles are not printed.
 * Per-burst work of the dataplane (tcp_set_now, tcp_timers_run) is done once
 * per round outside the timed part: in the dataplane it is shared by a burst.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#else
#define BENCH_HAVE_TSC 0
#endif

#include "app.h"
#include "sale.h"
#include "http_server.h"
#include "net_core.h"
#include "net_tcp_frame.h"
#include "now.h"
#include "str2int.h"
#include "tcp.h"

#define BENCH_PORT    80
#define BENCH_CPORT   40000
#define BENCH_MAXRUNS 64
#define BENCH_OUTQ    16         /* frames the stack may send in one net_input */

/* A browser-like request of about 250 bytes. */
static const char bench_req[] =
	"GET /healthz HTTP/1.1\r\n"
	"Host: 198.18.0.1\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101\r\n"
	"Accept: application/json\r\n"
	"Accept-Language: en-US,en;q=0.5\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Connection: keep-alive\r\n"
	"X-Request-Id: 5f0c2b1e9a7d4c3f\r\n"
	"\r\n";

/* The buy request: the token is minted at start (bench_buy_setup). */
static char bench_buy_req[512];
static const char *bench_body = bench_req;
static uint32_t bench_body_len = sizeof(bench_req) - 1;
static const char *bench_want = "HTTP/1.1 200";
static const char *bench_what = "keep-alive GET /healthz";

static const uint8_t srv_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t cli_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* ---- a net_tx that keeps what the stack sends until the client reads it ---- */

struct bench_out {
	uint8_t  buf[BENCH_OUTQ][NET_FRAME_MAX];
	uint32_t len[BENCH_OUTQ];
	uint32_t sent;               /* frames sent since the client last looked */
	uint32_t next;               /* buffer alloc hands out next */
};

static struct bench_out out;

static uint8_t *bench_alloc(void *ctx, void **handle)
{
	(void)ctx;
	if (out.next >= BENCH_OUTQ)
		return NULL;
	*handle = (void *)(uintptr_t)out.next;
	return out.buf[out.next++];
}

static void bench_send(void *ctx, void *handle, uint32_t len)
{
	(void)ctx;
	out.len[(uintptr_t)handle] = len;
	out.sent++;
}

static void bench_discard(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

static void bench_out_reset(void)
{
	out.sent = 0;
	out.next = 0;
}

/* ---- the stack and the client ---- */

struct bench {
	struct net_core nc;
	struct tcp_core *tc;
	struct http_server *hs;
	struct app app;
	struct net_tx tx;
	struct net_iface ifc;
	uint64_t now_us;
	uint32_t cli_ip;
	uint32_t snd_nxt;            /* client's next seq */
	uint32_t rcv_nxt;            /* client's next expected server seq */
	uint8_t  frame[NET_FRAME_MAX];
};

static void die(const char *what)
{
	fprintf(stderr, "bench_stack: %s\n", what);
	exit(1);
}

static uint32_t bench_client_frame(struct bench *b, uint8_t flags, const uint8_t *opts,
				   uint8_t optlen, const void *data, uint32_t len)
{
	struct net_tcp_seg s = {
		.src_ip = b->cli_ip, .dst_ip = b->ifc.ip, .sport = BENCH_CPORT,
		.dport = BENCH_PORT, .seq = b->snd_nxt, .ack = b->rcv_nxt, .flags = flags,
		.win = 65535, .opts = opts, .optlen = optlen, .payload = data, .len = len,
	};

	memcpy(s.src_mac, cli_mac, 6);
	memcpy(s.dst_mac, srv_mac, 6);
	return net_tcp_frame(b->frame, &s);
}

/*
 * Reads what the stack sent since the last call, as the client: advances
 * rcv_nxt over it and returns the payload bytes; dies on a frame a peer would
 * refuse, on a RST, or when want_http and the answer is not a 200.
 */
static uint32_t bench_client_read(struct bench *b, int want_http)
{
	uint32_t bytes = 0;

	for (uint32_t i = 0; i < out.sent; i++) {
		struct net_tcp_seg s;

		if (!net_tcp_frame_parse(out.buf[i], out.len[i], &s))
			die("the stack sent a frame that is not valid IPv4/TCP");
		if (s.flags & TCP_RST)
			die("the stack reset the connection");
		if (want_http && s.len && bytes == 0 && memcmp(s.payload, bench_want, 12) != 0)
			die("the answer is not the expected status");
		b->rcv_nxt = s.seq + s.len + !!(s.flags & TCP_SYN) + !!(s.flags & TCP_FIN);
		bytes += s.len;
	}
	return bytes;
}

static void bench_clock(struct bench *b)
{
	b->now_us += 10;
	tcp_set_now(b->tc, b->now_us);
	tcp_timers_run(b->tc);
}

static void bench_create(struct bench *b)
{
	struct tcp_conf tconf;
	struct http_server_conf hconf;
	struct tcp_app tapp;

	memset(b, 0, sizeof(*b));
	memcpy(b->ifc.mac, srv_mac, 6);
	inet_pton(AF_INET, "198.18.0.1", &b->ifc.ip);
	inet_pton(AF_INET, "198.18.0.2", &b->cli_ip);
	b->ifc.mtu = NET_MTU;
	b->tx = (struct net_tx){ bench_alloc, bench_send, bench_discard, NULL };

	app_init(&b->app);
	http_server_conf_default(&hconf);
	b->hs = http_server_create(&hconf, app_handle, &b->app);
	tcp_conf_default(&tconf);
	tconf.listen_port = BENCH_PORT;
	tconf.cookie_key[0] = 0x9e3779b97f4a7c15ULL;
	tconf.cookie_key[1] = 0xbf58476d1ce4e5b9ULL;
	tapp = (struct tcp_app){ http_server_on_data, http_server_on_peer_fin,
				 http_server_on_closed, b->hs };
	b->tc = tcp_core_create(&tconf, &b->ifc, &b->tx, &tapp);
	if (b->hs == NULL || b->tc == NULL)
		die("cannot create the HTTP server or the TCP core");
	net_core_init(&b->nc, &b->ifc, &b->tx, b->tc, tcp_input);
	b->now_us = 1000000;
	http_server_set_time(b->hs, 1767225600);
	bench_clock(b);
}

static void bench_handshake(struct bench *b)
{
	static const uint8_t mss[4] = { TCP_OPT_MSS, 4, 0x05, 0xb4 };   /* 1460 */
	uint32_t len;

	b->snd_nxt = 0x1000;
	bench_out_reset();
	len = bench_client_frame(b, TCP_SYN, mss, sizeof(mss), NULL, 0);
	b->snd_nxt++;
	net_input(&b->nc, b->frame, len);
	if (out.sent != 1)
		die("no SYN-ACK to the SYN");
	bench_client_read(b, 0);
	bench_out_reset();
	len = bench_client_frame(b, TCP_ACK, NULL, 0, NULL, 0);
	net_input(&b->nc, b->frame, len);
	bench_clock(b);
}

/* ---- timing ---- */

static inline uint64_t bench_ticks(void)
{
#if BENCH_HAVE_TSC
	_mm_lfence();            /* do not let the read move before earlier work */
	return __rdtsc();
#else
	return now_mono_ns();
#endif
}

/* What one bench_ticks pair costs with nothing between: subtracted per timed call. */
static uint64_t bench_tick_overhead(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 1000; i++) {
		uint64_t t0 = bench_ticks(), t1 = bench_ticks();

		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

struct bench_run {
	uint64_t ticks;              /* in the stack, overhead removed */
	uint64_t ticks_ack;          /* the part spent on the client's ACKs */
	uint64_t pkts;               /* frames in + frames out */
};

static struct bench_run bench_rounds(struct bench *b, uint32_t n, uint64_t overhead)
{
	struct bench_run r = { 0, 0, 0 };
	const uint32_t reqlen = bench_body_len;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		uint64_t t0, t1;

		bench_clock(b);
		bench_out_reset();
		len = bench_client_frame(b, TCP_ACK | TCP_PSH, NULL, 0, bench_body, reqlen);
		b->snd_nxt += reqlen;
		t0 = bench_ticks();
		net_input(&b->nc, b->frame, len);
		t1 = bench_ticks();
		r.ticks += t1 - t0 - overhead;
		r.pkts += 1 + out.sent;
		if (bench_client_read(b, 1) == 0)
			die("no answer to the request");

		bench_out_reset();
		len = bench_client_frame(b, TCP_ACK, NULL, 0, NULL, 0);
		t0 = bench_ticks();
		net_input(&b->nc, b->frame, len);
		t1 = bench_ticks();
		r.ticks += t1 - t0 - overhead;
		r.ticks_ack += t1 - t0 - overhead;
		r.pkts += 1 + out.sent;
		bench_client_read(b, 0);
	}
	return r;
}

static const struct token_key bench_key = { { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull } };
#define BENCH_NOW_MS 1767225600000ull

/* The buy request of buyer, with a valid token. */
static void bench_buy_request(uint64_t buyer)
{
	char tok[TOKEN_STR_CAP];
	int n;

	token_mint(&bench_key, buyer, BENCH_NOW_MS / 1000 + 3600, tok, sizeof(tok));
	n = snprintf(bench_buy_req, sizeof(bench_buy_req),
		     "POST /api/campaigns/1/orders HTTP/1.1\r\n"
		     "Host: 198.18.0.1\r\n"
		     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101\r\n"
		     "Accept: application/json\r\n"
		     "Authorization: Bearer %s\r\n"
		     "\r\n", tok);
	bench_body = bench_buy_req;
	bench_body_len = (uint32_t)n;
}

/* "buy": a sale of one unit; buyer 1 takes it, buyer 2 then finds it sold out
 * (which sets the core's sold-out flag) and asks again and again. */
static void bench_buy_setup(struct bench *b, uint64_t overhead)
{
	struct sale_conf sc;
	struct sale *sale;
	char err[SALE_ERR_CAP];

	sale_conf_default(&sc);
	sc.key = bench_key;
	sc.max_stock = 16;
	sale = sale_create(&sc, err, sizeof(err));
	if (sale == NULL || sale_campaign_add(sale, 1, 1, BENCH_NOW_MS - 1000) != 0)
		die("cannot create the sale");
	app_set_sale(&b->app, sale_core(sale, 0));
	app_set_time_ms(&b->app, BENCH_NOW_MS);
	bench_buy_request(1);
	bench_rounds(b, 1, overhead);
	bench_buy_request(2);
	bench_want = "HTTP/1.1 410";
	bench_what = "keep-alive sold-out buys";
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static struct bench b;
	uint64_t n64 = 100000, runs64 = 7;
	uint32_t n;
	int runs;
	double per_req[BENCH_MAXRUNS], per_pkt[BENCH_MAXRUNS], per_ack[BENCH_MAXRUNS];
	double pkts_per_req = 0;
	uint64_t overhead, tick0, tick1, ns0, ns1;
	double ticks_per_ns = 1.0;

	if ((argc > 1 && !str2u64(argv[1], 1, UINT32_MAX, &n64)) ||
	    (argc > 2 && !str2u64(argv[2], 1, BENCH_MAXRUNS, &runs64)) ||
	    (argc > 3 && strcmp(argv[3], "buy") != 0))
		die("usage: bench_stack [requests per run > 0] [runs 1..64] [buy]");
	n = (uint32_t)n64;
	runs = (int)runs64;
	bench_create(&b);
	bench_handshake(&b);
	overhead = bench_tick_overhead();
	if (argc > 3)
		bench_buy_setup(&b, overhead);
	bench_rounds(&b, n / 10 + 1, overhead);      /* warm caches and branch predictors */

	tick0 = bench_ticks();
	ns0 = now_mono_ns();
	for (int r = 0; r < runs; r++) {
		struct bench_run br = bench_rounds(&b, n, overhead);

		per_req[r] = (double)br.ticks / n;
		per_pkt[r] = (double)br.ticks / (double)br.pkts;
		per_ack[r] = (double)br.ticks_ack / n;
		pkts_per_req = (double)br.pkts / n;
	}
	tick1 = bench_ticks();
	ns1 = now_mono_ns();
#if BENCH_HAVE_TSC
	ticks_per_ns = (double)(tick1 - tick0) / (double)(ns1 - ns0);
#else
	(void)tick0; (void)tick1; (void)ns0; (void)ns1;
#endif

	double req_min = per_req[0], pkt_min = per_pkt[0];

	for (int r = 1; r < runs; r++) {
		if (per_req[r] < req_min)
			req_min = per_req[r];
		if (per_pkt[r] < pkt_min)
			pkt_min = per_pkt[r];
	}
	double req_med = median(per_req, runs), pkt_med = median(per_pkt, runs);
	double ack_med = median(per_ack, runs);

	printf("bench_stack: %u %s per run, %d runs, %u-byte request, "
	       "%.1f packets per request (in + out)\n", n, bench_what, runs, bench_body_len,
	       pkts_per_req);
#if BENCH_HAVE_TSC
	printf("TSC %.3f GHz, timer overhead %llu cycles (subtracted)\n", ticks_per_ns,
	       (unsigned long long)overhead);
	printf("cycles per request   min %8.0f   median %8.0f\n", req_min, req_med);
	printf("cycles per packet    min %8.0f   median %8.0f\n", pkt_min, pkt_med);
	printf("  of a request: GET frame in + answer out %.0f, client ACK in %.0f (medians)\n",
	       req_med - ack_med, ack_med);
#endif
	printf("ns per request       min %8.1f   median %8.1f\n", req_min / ticks_per_ns,
	       req_med / ticks_per_ns);
	printf("requests/s, 1 core   best %8.0f   median %8.0f\n", 1e9 * ticks_per_ns / req_min,
	       1e9 * ticks_per_ns / req_med);
	tcp_core_destroy(b.tc);
	http_server_destroy(b.hs);
	return 0;
}
