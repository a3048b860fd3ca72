/*
 * fuzz_net_input.c - libFuzzer harness for the whole receive path:
 * frame -> net_input -> tcp_input -> http_server -> the application's routes
 * -> the sale engine (campaign 1 open with 2 units, 2 not open yet; the canned
 * buys carry valid tokens, so the buy path runs to stock and orders).
 *
 * Raw random frames rarely get past TCP's checksum and sequence checks, so an
 * input is one byte choosing the stack (bit 0: SYN cookies always, else
 * stateful up to the backlog) and a script of operations, each starting with
 * one op byte whose low
 * three bits (mod 5) say which and whose bits 4-5 are its argument:
 *
 *   RAW    a frame taken as is (optionally with its IPv4/TCP checksums fixed,
 *          so that mutated headers reach the code behind the checksum);
 *   SEG    a TCP segment from one of FZ_CLIENTS clients, with flags, window,
 *          options and payload from the input and seq/ack taken from a model
 *          of the client that follows what the stack answered (or raw);
 *   HTTP   bytes of one of a few canned requests, in order on a connection;
 *   TIME   advances the clock (up to 2.55 s) and runs the timers;
 *   TXFAIL makes the next net_tx allocations fail.
 *
 * The two stacks live across inputs, as in the dataplane; each input starts by
 * advancing the clock ten minutes, which expires most of what the last one
 * left, so a crash reproducer replays alone in most cases.
 * Every frame the stack sends is checked as a peer would (lengths, IPv4 and
 * TCP checksums): a bad frame out is a crash, like a bad read in. So is a
 * net_tx buffer neither sent nor given back, and a connection that outlives
 * two hours of silence (checked when the next input starts).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_server.h"
#include "net_core.h"
#include "net_tcp_frame.h"
#include "sale.h"
#include "tcp.h"

#define FZ_CLIENTS   4
#define FZ_BUFS      8           /* net_tx buffers the stack may hold at once */
#define FZ_PORT      80
#define FZ_CPORT     40000
#define FZ_MAX_CONNS 16          /* small, so "table full" is reachable */
#define FZ_UNIX_S    1767225600u /* 2026-01-01: the wall clock at start */
#define FZ_RESET_STEPS 12        /* > data_retries (6) + 1: every RTX chain ends */
#define FZ_BUYERS    3           /* buyers with a valid token in the canned requests */

enum { OP_RAW, OP_SEG, OP_HTTP, OP_TIME, OP_TXFAIL, OP_COUNT };

struct fz_client {
	uint32_t snd_nxt;            /* next seq the client sends */
	uint32_t rcv_nxt;            /* what the client acknowledges: server seq + len */
};

/* One whole stack; there are two, differing in the SYN cookie mode. */
struct fz_stack {
	struct net_core nc;
	struct tcp_core *tc;
	struct http_server *hs;
	struct app app;
	uint64_t now_us;
};

static struct {
	struct sale *sale;           /* one sale, a core of it behind each stack */
	struct fz_stack stk[2];      /* [0] cookies AUTO, [1] cookies ALWAYS */
	struct fz_stack *s;          /* the one this input drives */
	struct net_tx tx;
	uint8_t buf[FZ_BUFS][NET_FRAME_MAX];
	uint8_t busy[FZ_BUFS];
	uint32_t fail_allocs;
	struct fz_client cl[FZ_CLIENTS];
	int trace;                   /* FUZZ_NET_TRACE set: print each TCP frame sent */
} fz;

static const uint8_t srv_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t cli_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint32_t srv_ip = 0x010012c6;   /* 198.18.0.1, network order */
static const uint32_t cli_ip = 0x020012c6;   /* 198.18.0.2 */

/* ---- net_tx: checks every frame, remembers what the clients must ACK ---- */

static uint8_t *fz_alloc(void *ctx, void **handle)
{
	(void)ctx;
	if (fz.fail_allocs) {
		fz.fail_allocs--;
		return NULL;
	}
	for (int i = 0; i < FZ_BUFS; i++) {
		if (!fz.busy[i]) {
			fz.busy[i] = 1;
			*handle = (void *)(intptr_t)i;
			return fz.buf[i];
		}
	}
	return NULL;
}

static void fz_release(void *handle)
{
	int i = (int)(intptr_t)handle;

	if (i < 0 || i >= FZ_BUFS || !fz.busy[i])
		abort();             /* send/discard of a buffer that was not handed out */
	fz.busy[i] = 0;
}

static void fz_check_tcp(const uint8_t *frame, uint32_t len)
{
	struct net_tcp_seg s;
	uint32_t k, end;

	if (!net_tcp_frame_parse(frame, len, &s))
		abort();             /* the stack sent a frame no peer would accept */
	/* From us, within our MSS. RAW frames may come from anyone, so the
	 * destination is only compared to decide whether a client sees it. A
	 * RST answering a segment to a port we do not serve comes from that
	 * port (RFC 9293 3.10.7.1), so only other segments must be from ours. */
	if (s.src_ip != srv_ip || (s.sport != FZ_PORT && !(s.flags & TCP_RST)) ||
	    memcmp(s.src_mac, srv_mac, 6) != 0 ||
	    s.len > NET_MTU - NET_IPV4_HLEN - NET_TCP_HLEN)
		abort();
	if (fz.trace)
		fprintf(stderr, "out: port %u flags %02x seq %u ack %u win %u len %u %.12s\n",
			s.dport, s.flags, s.seq, s.ack, s.win, s.len, s.len ? (const char *)s.payload : "");
	k = (uint32_t)(s.dport - FZ_CPORT);
	if (s.dst_ip != cli_ip || k >= FZ_CLIENTS || (s.flags & TCP_RST))
		return;
	end = s.seq + s.len + !!(s.flags & TCP_SYN) + !!(s.flags & TCP_FIN);
	if ((s.flags & TCP_SYN) || (int32_t)(end - fz.cl[k].rcv_nxt) > 0)
		fz.cl[k].rcv_nxt = end;
}

static void fz_send(void *ctx, void *handle, uint32_t len)
{
	const uint8_t *frame = fz.buf[(intptr_t)handle];
	const struct eth_hdr *eh = (const struct eth_hdr *)frame;

	(void)ctx;
	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		abort();
	if (eh->type == htons(NET_ETHERTYPE_IPV4) &&
	    frame[NET_ETH_HLEN + 9] == NET_IPPROTO_TCP)
		fz_check_tcp(frame, len);
	fz_release(handle);
}

static void fz_discard(void *ctx, void *handle)
{
	(void)ctx;
	fz_release(handle);
}

/* ---- the stack ---- */

static void fz_sale_create(void);    /* with the canned requests, below */

static void fz_stack_create(struct fz_stack *st, enum tcp_cookie_mode cookies)
{
	struct net_iface ifc = { .ip = srv_ip, .mtu = NET_MTU };
	struct tcp_conf tconf;
	struct http_server_conf hconf;
	struct tcp_app tapp;

	memcpy(ifc.mac, srv_mac, 6);
	app_init(&st->app);
	app_set_sale(&st->app, sale_core(fz.sale, (unsigned)(st - fz.stk)));
	http_server_conf_default(&hconf);
	st->hs = http_server_create(&hconf, app_handle, &st->app);
	tcp_conf_default(&tconf);
	tconf.max_conns = FZ_MAX_CONNS;
	tconf.syn_backlog = FZ_MAX_CONNS / 2;
	tconf.cookies = cookies;
	tconf.listen_port = FZ_PORT;
	tconf.rx_buf = 4096;
	tconf.tx_buf = 8192;
	tconf.cookie_key[0] = 0x0123456789abcdefULL;
	tconf.cookie_key[1] = 0xfedcba9876543210ULL;
	tapp = (struct tcp_app){ http_server_on_data, http_server_on_peer_fin,
				 http_server_on_closed, st->hs };
	st->tc = tcp_core_create(&tconf, &ifc, &fz.tx, &tapp);
	if (st->hs == NULL || st->tc == NULL)
		abort();
	net_core_init(&st->nc, &ifc, &fz.tx, st->tc, tcp_input);
	st->now_us = 1000000;
}

static void fz_init(void)
{
	fz.tx = (struct net_tx){ fz_alloc, fz_send, fz_discard, NULL };
	fz_sale_create();
	fz_stack_create(&fz.stk[0], TCP_COOKIES_AUTO);
	fz_stack_create(&fz.stk[1], TCP_COOKIES_ALWAYS);
	fz.trace = getenv("FUZZ_NET_TRACE") != NULL;
}

static void fz_clock(uint64_t advance_us)
{
	struct fz_stack *st = fz.s;

	st->now_us += advance_us;
	tcp_set_now(st->tc, st->now_us);
	http_server_set_time(st->hs, FZ_UNIX_S + st->now_us / 1000000);
	app_set_time_ms(&st->app, FZ_UNIX_S * 1000ULL + st->now_us / 1000);
	tcp_timers_run(st->tc);
}

/* ---- the script ---- */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t fz_u16(struct fz_in *in)
{
	uint16_t hi = fz_u8(in);

	return (uint16_t)(hi << 8 | fz_u8(in));
}

static uint32_t fz_u32(struct fz_in *in)
{
	uint32_t hi = fz_u16(in);

	return hi << 16 | fz_u16(in);
}

/* Takes up to want bytes of the input; returns how many it could. */
static uint32_t fz_take(struct fz_in *in, uint32_t want, const uint8_t **p)
{
	uint32_t n = want < in->n ? want : (uint32_t)in->n;

	*p = in->p;
	in->p += n;
	in->n -= n;
	return n;
}

static void fz_feed(const uint8_t *frame, uint32_t len)
{
	/* An exact-size copy: ASan sees any read past len. */
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL)
		abort();
	memcpy(copy, frame, len);
	net_input(&fz.s->nc, copy, len);
	free(copy);
}

/* RAW: op bit 4 fixes the IPv4 header checksum, bit 5 the TCP checksum. */
static void fz_op_raw(struct fz_in *in, uint8_t op)
{
	static uint8_t frame[NET_FRAME_MAX + 64];
	const uint8_t *p;
	uint32_t len = fz_take(in, fz_u16(in) % sizeof(frame), &p);

	memcpy(frame, p, len);
	if ((op & 0x10) && len >= NET_ETH_HLEN + NET_IPV4_HLEN) {
		struct ipv4_hdr *ih = (struct ipv4_hdr *)(frame + NET_ETH_HLEN);

		ih->csum = 0;
		ih->csum = net_csum_fold(net_csum_add(0, ih, NET_IPV4_HLEN));
		if ((op & 0x20) && ih->proto == NET_IPPROTO_TCP) {
			uint32_t tl = ntohs(ih->total_len);

			if (tl >= NET_IPV4_HLEN + NET_TCP_HLEN && tl + NET_ETH_HLEN <= len) {
				struct tcp_hdr *th = (struct tcp_hdr *)(ih + 1);
				uint16_t l4 = (uint16_t)(tl - NET_IPV4_HLEN);

				th->csum = 0;
				th->csum = net_csum_fold(net_csum_add(
					net_csum_pseudo(ih->src, ih->dst, NET_IPPROTO_TCP, l4), th, l4));
			}
		}
	}
	fz_feed(frame, len);
}

static void fz_segment(uint32_t k, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		       const uint8_t *opts, uint8_t optlen, const uint8_t *data, uint32_t len)
{
	static uint8_t frame[NET_FRAME_MAX];
	struct net_tcp_seg s = {
		.src_ip = cli_ip, .dst_ip = srv_ip, .sport = (uint16_t)(FZ_CPORT + k),
		.dport = FZ_PORT, .seq = seq, .ack = ack, .flags = flags, .win = win,
		.opts = opts, .optlen = optlen, .payload = data, .len = len,
	};

	memcpy(s.src_mac, cli_mac, 6);
	memcpy(s.dst_mac, srv_mac, 6);
	fz_feed(frame, net_tcp_frame(frame, &s));
}

/*
 * SEG: [op: client in bits 4-5] flags, mode, [seq32 if mode&1], [ack32 if
 * mode&2], win16, optlen/4 in mode bits 4-7 (options bytes follow), len16, data.
 */
static void fz_op_seg(struct fz_in *in, uint8_t op)
{
	uint32_t k = (op >> 4) % FZ_CLIENTS;
	struct fz_client *c = &fz.cl[k];
	uint8_t flags = fz_u8(in), mode = fz_u8(in);
	uint32_t seq = (mode & 1) ? fz_u32(in) : c->snd_nxt;
	uint32_t ack = (mode & 2) ? fz_u32(in) : c->rcv_nxt;
	uint16_t win = fz_u16(in);
	const uint8_t *opts, *data;
	uint8_t optlen = (uint8_t)(fz_take(in, (uint32_t)(mode >> 4) * 4 % 44, &opts) & ~3u);
	/* Headers, options and payload within one MTU-sized datagram. */
	uint32_t room = NET_MTU - NET_IPV4_HLEN - NET_TCP_HLEN - optlen;
	uint32_t len = fz_take(in, fz_u16(in) % (room + 1), &data);

	fz_segment(k, flags, seq, ack, win, opts, optlen, data, len);
	if (!(mode & 1))
		c->snd_nxt = seq + len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
}

static const char *const fz_fixed_requests[] = {
	"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
	("POST /buy HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
	 "Content-Length: 27\r\n\r\n{\"item\":1,\"user\":\"u000001\"}"),
	"GET /stock HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /nope HTTP/1.0\r\n\r\n",
	"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /api/campaigns/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /api/campaigns/2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /api/orders/xyz HTTP/1.1\r\nHost: a\r\n\r\n",
	("POST /api/campaigns/1/orders HTTP/1.1\r\nHost: a\r\n"
	 "Authorization: Bearer v1.forged.token\r\nContent-Length: 2\r\n\r\n{}"),
};
#define FZ_NFIXED (sizeof(fz_fixed_requests) / sizeof(fz_fixed_requests[0]))
/* The fixed ones, then a buy with a valid token per buyer (campaign 1 is
 * open, 2 opens in 2100) and the same for campaign 2. */
#define FZ_NREQ (FZ_NFIXED + 2 * FZ_BUYERS)

static const char *fz_requests[FZ_NREQ];
static char fz_buys[2 * FZ_BUYERS][512];

/* A sale as a worker sees it: campaign 1 open with little stock (so it
 * sells out), campaign 2 scheduled far ahead (425), small tables. */
static void fz_sale_create(void)
{
	static const uint64_t year_2100_s = 4102444800u;
	struct sale_conf conf;
	char err[SALE_ERR_CAP], tok[TOKEN_STR_CAP];

	sale_conf_default(&conf);
	conf.n_cores = 2;
	conf.key.k[0] = 0x1111111111111111ULL;
	conf.key.k[1] = 0x2222222222222222ULL;
	conf.ip_capacity = conf.buyer_capacity = conf.purchase_capacity = 64;
	conf.blacklist_capacity = 16;
	conf.ring_size = 64;
	conf.max_stock = 64;
	conf.return_headroom = 16;
	conf.stock_chunk = 2;
	fz.sale = sale_create(&conf, err, sizeof(err));
	if (fz.sale == NULL) {
		fprintf(stderr, "fuzz_net_input: sale_create: %s\n", err);
		abort();
	}
	if (sale_campaign_add(fz.sale, 1, 2, 0) != 0 ||
	    sale_campaign_add(fz.sale, 2, 5, year_2100_s * 1000) != 0)
		abort();
	for (uint32_t i = 0; i < FZ_NFIXED; i++)
		fz_requests[i] = fz_fixed_requests[i];
	for (uint32_t i = 0; i < 2 * FZ_BUYERS; i++) {
		if (token_mint(&conf.key, 1 + i % FZ_BUYERS, year_2100_s, tok, sizeof(tok)) < 0)
			abort();
		snprintf(fz_buys[i], sizeof(fz_buys[i]),
			 "POST /api/campaigns/%u/orders HTTP/1.1\r\nHost: a\r\n"
			 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: 2\r\n\r\n{}", 1 + i / FZ_BUYERS, tok);
		fz_requests[FZ_NFIXED + i] = fz_buys[i];
	}
}

/* HTTP: [op: client in bits 4-5] which request, first byte, end (0: to the end). */
static void fz_op_http(struct fz_in *in, uint8_t op)
{
	uint32_t k = (op >> 4) % FZ_CLIENTS;
	struct fz_client *c = &fz.cl[k];
	const char *req = fz_requests[fz_u8(in) % FZ_NREQ];
	uint32_t len = (uint32_t)strlen(req), from = fz_u8(in), to = fz_u8(in);

	if (to == 0 || to > len)
		to = len;
	if (from >= to)
		return;
	fz_segment(k, TCP_ACK | TCP_PSH, c->snd_nxt, c->rcv_nxt, 65535, NULL, 0,
		   (const uint8_t *)req + from, to - from);
	c->snd_nxt += to - from;
}

static void fz_run(struct fz_in *in)
{
	while (in->n) {
		uint8_t op = fz_u8(in);

		if (fz.trace)
			fprintf(stderr, "op %s (0x%02x)\n",
				(const char *const[]){ "raw", "seg", "http", "time", "txfail" }
					[(op & 0x07) % OP_COUNT], op);

		switch ((op & 0x07) % OP_COUNT) {
		case OP_RAW:    fz_op_raw(in, op); break;
		case OP_SEG:    fz_op_seg(in, op); break;
		case OP_HTTP:   fz_op_http(in, op); break;
		case OP_TIME:   fz_clock((uint64_t)fz_u8(in) * 10000); break;
		case OP_TXFAIL: fz.fail_allocs = fz_u8(in) % 8; break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct tcp_gauges g;

	if (fz.stk[0].tc == NULL)
		fz_init();
	if (fz.trace)
		fprintf(stderr, "input: %zu bytes\n", size);
	if (in.n == 0)
		return 0;
	/* The first byte picks the stack: bit 0 set, SYN cookies always. */
	fz.s = &fz.stk[fz_u8(&in) & 1];
	/* Silence, ten minutes at a time, until the connections the last input
	 * left are gone: idle, half-open and TIME_WAIT ones go at the first
	 * step, one with data in flight after its retransmissions run out
	 * (one per step). Then an input replays alone as it ran here. Steps
	 * are few because each walks the whole timer wheel. */
	fz.fail_allocs = 0;
	for (int i = 0; i < FZ_RESET_STEPS; i++) {
		fz_clock(600ULL * 1000000);
		tcp_core_gauges(fz.s->tc, &g);
		if (g.conns == 0)
			break;
	}
	/* Every state has a timer that ends it: a connection that outlives
	 * two hours of silence is a leak the table would fill up with. */
	if (g.conns != 0) {
		fprintf(stderr, "fuzz_net_input: %u connection(s) survived %d x 10 min of "
			"silence (established %u, closing %u, time_wait %u, syn_rcvd %u)\n",
			g.conns, FZ_RESET_STEPS, g.established, g.closing, g.time_wait, g.syn_rcvd);
		abort();
	}
	for (uint32_t k = 0; k < FZ_CLIENTS; k++) {
		fz.cl[k].snd_nxt = 1000000u * (k + 1);
		fz.cl[k].rcv_nxt = 0;
	}
	fz_run(&in);

	tcp_core_gauges(fz.s->tc, &g);
	if (g.conns > FZ_MAX_CONNS)
		abort();
	for (int i = 0; i < FZ_BUFS; i++)
		if (fz.busy[i])
			abort();     /* a buffer from alloc was neither sent nor discarded */
	return 0;
}
