/*
 * The burst peek (lib/net/net_peek.h, lib/app/app_prefetch.c): where a
 * frame's TCP payload is, and which (campaign, buyer) a buy's first segment
 * names. Both feed prefetch hints only, so the rules are about never reading
 * out of bounds and never naming a buy that is not one; sale_prefetch_buy is
 * called on a real sale for known, unknown and sold-out campaigns.
 */
#include <criterion/criterion.h>

#include "app.h"
#include "net_peek.h"
#include "net_tcp_frame.h"
#include "sale.h"

static uint32_t frame_of(uint8_t *frame, const char *payload)
{
	struct net_tcp_seg s = {
		.src_mac = { 2, 0, 0, 0, 0, 2 }, .dst_mac = { 2, 0, 0, 0, 0, 1 },
		.src_ip = htonl(0xc6120002), .dst_ip = htonl(0xc6120001),
		.sport = 40000, .dport = 80, .seq = 1, .ack = 1, .flags = TCP_ACK,
		.win = 65535, .payload = (const uint8_t *)payload, .len = (uint32_t)strlen(payload),
	};

	return net_tcp_frame(frame, &s);
}

Test(net_peek, finds_the_tcp_payload)
{
	static uint8_t f[NET_FRAME_MAX];
	const char *req = "POST /api/campaigns/7/orders HTTP/1.1\r\n\r\n";
	uint32_t len = frame_of(f, req), plen = 0;
	const uint8_t *p = net_peek_tcp_payload(f, len, &plen);

	cr_assert_not_null(p);
	cr_assert_eq(plen, strlen(req));
	cr_assert_arr_eq(p, req, plen);
	/* Every truncation is refused or stays inside the frame. */
	for (uint32_t cut = 0; cut < len; cut++) {
		p = net_peek_tcp_payload(f, cut, &plen);
		cr_assert(p == NULL || (p >= f && p + plen <= f + cut), "cut %u", cut);
	}
}

Test(net_peek, refuses_what_is_not_tcp_payload)
{
	static uint8_t f[NET_FRAME_MAX];
	uint32_t len = frame_of(f, "x"), plen;

	cr_assert_not_null(net_peek_tcp_payload(f, len, &plen));
	cr_assert_null(net_peek_tcp_payload(f, frame_of(f, ""), &plen), "a pure ACK");
	len = frame_of(f, "x");
	f[12] = 0x08, f[13] = 0x06;                 /* ARP */
	cr_assert_null(net_peek_tcp_payload(f, len, &plen));
	len = frame_of(f, "x");
	f[23] = NET_IPPROTO_ICMP;
	cr_assert_null(net_peek_tcp_payload(f, len, &plen));
	len = frame_of(f, "x");
	f[20] |= 0x20;                              /* more fragments */
	cr_assert_null(net_peek_tcp_payload(f, len, &plen));
	len = frame_of(f, "x");
	f[16] = 0x7f, f[17] = 0xff;                 /* total length past the frame */
	cr_assert_null(net_peek_tcp_payload(f, len, &plen));
	len = frame_of(f, "x");
	f[14 + 20 + 12] = 0xf0;                     /* TCP header past the packet */
	cr_assert_null(net_peek_tcp_payload(f, len, &plen));
}

static bool parse(const char *req, uint32_t *campaign, uint64_t *buyer)
{
	return app_prefetch_parse((const uint8_t *)req, (uint32_t)strlen(req), campaign, buyer);
}

Test(app_prefetch, reads_the_campaign_and_the_tokens_buyer)
{
	uint32_t c = 0;
	uint64_t b = 0;

	cr_assert(parse("POST /api/campaigns/42/orders HTTP/1.1\r\nHost: x\r\n"
			"Authorization: Bearer v1.123456789012.1700000000.3f1c0a9e5b7d2468\r\n\r\n",
			&c, &b));
	cr_assert_eq(c, 42);
	cr_assert_eq(b, 123456789012ull);
	cr_assert(parse("POST /api/campaigns/4294967295/orders?x=1 HTTP/1.1\r\n"
			"authorization: bearer   v1.18446744073709551615.1.0123456789abcdef \r\n\r\n",
			&c, &b));
	cr_assert_eq(c, 4294967295u);
	cr_assert_eq(b, UINT64_MAX);
}

Test(app_prefetch, names_nothing_that_is_not_a_buy_with_a_token)
{
	uint32_t c;
	uint64_t b;
	static const char *const no[] = {
		"GET /api/campaigns/42/orders HTTP/1.1\r\nAuthorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/challenge HTTP/1.1\r\nAuthorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/ordersX HTTP/1.1\r\nAuthorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns//orders HTTP/1.1\r\nAuthorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/4294967296/orders HTTP/1.1\r\nAuthorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nX-Authorization: Bearer v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nAuthorization: Basic v1.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nAuthorization: Bearer v2.1.2.3\r\n\r\n",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nAuthorization: Bearer v1.12",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nAuthorization: Bearer v1.",
		"POST /api/campaigns/42/orders HTTP/1.1\r\nAuthoriz",
		"POST /api/campaigns/42",
		"",
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert_not(parse(no[i], &c, &b), "named a buy in: %s", no[i]);
	/* Every prefix of a real buy is read without going past it. */
	const char *buy = "POST /api/campaigns/42/orders HTTP/1.1\r\n"
			  "Authorization: Bearer v1.77.1700000000.3f1c0a9e5b7d2468\r\n\r\n";

	for (size_t n = 0; n <= strlen(buy); n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buy, n);
		if (app_prefetch_parse(copy, (uint32_t)n, &c, &b))
			cr_assert(c == 42 && b == 77, "prefix %zu", n);
		free(copy);
	}
}

Test(app_prefetch, hints_a_real_sale_whatever_the_campaign)
{
	static const struct token_key key = { { 1, 2 } };
	const char *buy = "POST /api/campaigns/1/orders HTTP/1.1\r\n"
			  "Authorization: Bearer v1.77.1700000000.3f1c0a9e5b7d2468\r\n\r\n";
	struct sale_conf cf;
	char err[SALE_ERR_CAP];
	struct sale *s;
	struct sale_core *core;
	struct sale_stats before;
	static struct app a;
	unsigned want;

	sale_conf_default(&cf);
	cf.n_cores = 1;
	cf.epoch = 1700000000u;
	cf.key = key;
	cf.ip_capacity = cf.buyer_capacity = 1024;
	cf.purchase_capacity = 1 << 12;
	cf.blacklist_capacity = 64;
	cf.ring_size = 1024;
	cf.max_stock = 1000;
	s = sale_create(&cf, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(sale_campaign_add(s, 1, 10, 0), 0);
	core = sale_core(s, 0);
	before = core->stats;
	app_init(&a);
	app_prefetch_request(&a, (const uint8_t *)buy, (uint32_t)strlen(buy));  /* no sale yet */
	cr_assert_eq(core->prefetch_n, 0);
	app_set_sale(&a, core);
	app_prefetch_request(&a, (const uint8_t *)buy, (uint32_t)strlen(buy));
	want = core->prefetch_n;                  /* the purchase slot, and the buyer-rate one if on */
	cr_assert(want == 1 || want == 2, "a buy names %u slots", want);
	sale_prefetch_buy(core, 2, 77);           /* unknown campaign */
	sale_prefetch_buy(core, 1, 0);            /* buyer 0: no buyer */
	cr_assert_eq(core->prefetch_n, want, "a buy that is none named a slot");
	app_prefetch_issue(&a);                   /* loaded: the batch starts again */
	cr_assert_eq(core->prefetch_n, 0);
	/* A burst longer than the batch: the rest are loaded at once, never
	 * written past the array. */
	for (uint64_t b = 1; b <= 4 * SALE_PREFETCH_MAX; b++) {
		sale_prefetch_buy(core, 1, b);
		cr_assert_leq(core->prefetch_n, SALE_PREFETCH_MAX);
	}
	cr_assert_geq(core->prefetch_n, SALE_PREFETCH_MAX - 1);
	app_prefetch_issue(&a);
	cr_assert_eq(core->prefetch_n, 0);
	/* A hint decides and counts nothing. */
	cr_assert_arr_eq(&core->stats, &before, sizeof(before));
	for (unsigned r = 0; r < SALE_RESULT_N; r++)
		cr_assert_eq(core->results[r], 0);
	sale_destroy(s);
}
