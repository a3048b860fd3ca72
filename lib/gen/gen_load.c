/*
 * gen_load.c - the load generator's engine (gen_load.h).
 *
 * Each connection has a slot; the slot's index lives in the TCP connection's
 * application word, so a callback finds it in O(1). Slots move between a
 * free list and, in the open loop, a list of idle keep-alive connections
 * waiting for the next due request. Every request the run owes is in exactly
 * one place: sent on a connection (BUSY), carried by a connect in progress
 * (CONNECTING), or due in the backlog; at the end whatever is left there is
 * counted unanswered, so requests = answers + failures + unanswered holds.
 */
#include "gen_load.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "http_resp.h"
#include "pow.h"

const char *const gen_stats_names[] = { GEN_STATS(STATS_NAME) };
_Static_assert(sizeof(gen_stats_names) / sizeof(gen_stats_names[0]) == GEN_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct gen_stats) == GEN_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

#define NS_PER_S   1000000000ull
#define NS_PER_US  1000u
/* Open loop: due requests started per poll at most; the rest stay due (and
 * keep their due time), so a slow poll delays sends, never drops them. */
#define GEN_DUE_PER_POLL 1024
/* Open loop backlog: due requests waiting for a connection. */
#define GEN_BACKLOG_MAX (1u << 16)
/* retry_503: buyers waiting to be asked again; more are counted, not kept. */
#define GEN_RETRY_MAX (1u << 16)
/* Longest request head we build before the token: request line, Host and
 * the --header lines. */
#define GEN_REQ_MAX 1024
#define GEN_NONE UINT32_MAX
/* Tokens are minted once at create for up to this many buyers (64 bytes
 * each: 256 MiB at most), so a request costs a copy, not a SipHash and two
 * integer printings; more buyers than this are minted per request. */
#define GEN_TOKENS_PRE_MAX (1u << 22)
#define GEN_TOKEN_STRIDE 64
_Static_assert(TOKEN_MAX_LEN < GEN_TOKEN_STRIDE, "a token and its length fit a stride");
/* One buyer's "X-Seckill-PoW: <challenge>:<nonce>\r\n", its length in the last byte. */
#define GEN_POW_STRIDE 128
#define GEN_POW_HEAD POW_HEADER ": "
_Static_assert(sizeof(GEN_POW_HEAD) + POW_CHALLENGE_CAP + 1 + 20 + 2 < GEN_POW_STRIDE,
	       "a proof-of-work line and its length fit a stride");

enum gen_slot_state { GS_FREE = 0, GS_CONNECTING, GS_BUSY, GS_IDLE, GS_CLOSING };

struct gen_slot {
	struct tcp_conn *c;
	uint64_t t0;                 /* when the request in flight (or carried) was due */
	uint64_t buyer;              /* the buyer (index) of the request in flight */
	uint64_t body_left;          /* body bytes of the answer being read, still to come */
	uint32_t done;               /* answers on this connection */
	uint32_t prev, next;         /* free or idle list */
	uint16_t status;             /* of the answer being read, once its head is in */
	uint8_t state;
	bool in_body;                /* its head is read, body_left bytes are not */
	bool close;                  /* and it said Connection: close */
};

struct gen_load {
	struct gen_conf conf;
	struct tcp_core *tcp;
	struct net_core net;
	struct net_tx tx;            /* the caller's, copied: net_core keeps a pointer */
	struct gen_slot *slots;
	uint32_t nslots, free_head, idle_head;
	uint32_t open;               /* slots not free */
	uint32_t connecting;
	uint64_t now_ns;
	bool have_mac, started, stopping;
	uint64_t arp_next_ns;
	uint64_t start_ns, last_ns;
	uint64_t issued;             /* requests the run has started (sent, carried or due) */
	uint64_t due_i;              /* open loop: the next request's number */
	uint64_t *backlog;           /* open loop: due times, a ring */
	uint32_t bl_head, bl_n;
	uint32_t next_port;
	uint64_t next_buyer;
	uint64_t *retry;             /* retry_503: buyers answered 503, to ask again (a ring) */
	uint32_t rt_head, rt_n;
	char *tokens;                /* buyers x GEN_TOKEN_STRIDE: text, length in the last byte */
	char *pows;                  /* pow_bits: buyers x GEN_POW_STRIDE, likewise */
	char head_get[GEN_REQ_MAX], head_buy[GEN_REQ_MAX];
	uint32_t head_get_len, head_buy_len;
	struct gen_stats st;
	struct gen_hist hist;
};

void gen_conf_default(struct gen_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->server_port = 80;
	conf->port_lo = 1024;
	conf->port_hi = 65535;
	conf->conns = 64;
	conf->opens_per_poll = 64;
	conf->host = "198.18.0.1";
	conf->path = "/healthz";
	conf->buyer_first = 1;
	conf->buyers = 1;
}

/* ---- lists of slots -------------------------------------------------------- */

static void list_push(struct gen_load *g, uint32_t *head, uint32_t i)
{
	struct gen_slot *s = &g->slots[i];

	s->prev = GEN_NONE;
	s->next = *head;
	if (*head != GEN_NONE)
		g->slots[*head].prev = i;
	*head = i;
}

static void list_del(struct gen_load *g, uint32_t *head, uint32_t i)
{
	struct gen_slot *s = &g->slots[i];

	if (s->prev != GEN_NONE)
		g->slots[s->prev].next = s->next;
	else
		*head = s->next;
	if (s->next != GEN_NONE)
		g->slots[s->next].prev = s->prev;
	s->prev = s->next = GEN_NONE;
}

static uint32_t slot_of(struct tcp_conn *c)
{
	return (uint32_t)*tcp_conn_app(c);
}

static void slot_free(struct gen_load *g, uint32_t i)
{
	struct gen_slot *s = &g->slots[i];

	if (s->state == GS_IDLE)
		list_del(g, &g->idle_head, i);
	if (s->state == GS_CONNECTING)
		g->connecting--;
	s->state = GS_FREE;
	s->c = NULL;
	list_push(g, &g->free_head, i);
	g->open--;
}

/* ---- the backlog (open loop) ----------------------------------------------- */

static void backlog_push(struct gen_load *g, uint64_t t)
{
	if (g->bl_n == GEN_BACKLOG_MAX) {
		g->st.backlog_full++;
		return;
	}
	g->backlog[(g->bl_head + g->bl_n++) & (GEN_BACKLOG_MAX - 1)] = t;
}

static uint64_t backlog_pop(struct gen_load *g)
{
	uint64_t t = g->backlog[g->bl_head];

	g->bl_head = (g->bl_head + 1) & (GEN_BACKLOG_MAX - 1);
	g->bl_n--;
	return t;
}

/* ---- requests ---------------------------------------------------------------- */

/* More to send: requests not yet issued, or buyers answered 503 to ask again
 * (a retry repeats an issued request, so it does not count towards requests). */
static bool gen_more(const struct gen_load *g)
{
	return !g->stopping && (g->conf.requests == 0 || g->issued < g->conf.requests || g->rt_n);
}

/* Sends the next request on s, due at t0. False when c was aborted. */
static bool gen_send(struct gen_load *g, uint32_t i, uint64_t t0)
{
	struct gen_slot *s = &g->slots[i];
	bool last = g->conf.reqs_per_conn && s->done + 1 >= g->conf.reqs_per_conn;
	char req[GEN_REQ_MAX + TOKEN_STR_CAP + GEN_POW_STRIDE + 64];
	uint32_t n;

	if (g->conf.campaign) {
		int tl;

		if (g->rt_n) {                   /* a buyer answered 503 goes first */
			s->buyer = g->retry[g->rt_head];
			g->rt_head = (g->rt_head + 1) & (GEN_RETRY_MAX - 1);
			g->rt_n--;
			g->st.retries++;
			g->issued--;             /* the caller counted a new request */
		} else {
			s->buyer = g->next_buyer;
			if (++g->next_buyer == g->conf.buyers)
				g->next_buyer = 0;
		}
		memcpy(req, g->head_buy, g->head_buy_len);
		n = g->head_buy_len;
		if (g->tokens != NULL) {
			const char *t = g->tokens + s->buyer * GEN_TOKEN_STRIDE;

			tl = (uint8_t)t[GEN_TOKEN_STRIDE - 1];
			memcpy(req + n, t, TOKEN_MAX_LEN);   /* fixed size: one unrolled copy */
		} else {
			tl = token_mint(&g->conf.key, g->conf.buyer_first + s->buyer,
					g->conf.token_expiry, req + n, TOKEN_STR_CAP);
		}
		n += (uint32_t)(tl > 0 ? tl : 0);
		memcpy(req + n, "\r\n", 2);
		n += 2;
		if (g->pows != NULL) {
			const char *p = g->pows + s->buyer * GEN_POW_STRIDE;

			memcpy(req + n, p, (uint8_t)p[GEN_POW_STRIDE - 1]);
			n += (uint8_t)p[GEN_POW_STRIDE - 1];
		}
	} else {
		memcpy(req, g->head_get, g->head_get_len);
		n = g->head_get_len;
	}
	if (last) {
		memcpy(req + n, "Connection: close\r\n", 19);
		n += 19;
	}
	memcpy(req + n, "\r\n", 2);
	n += 2;
	if (tcp_send(g->tcp, s->c, req, n) < 0) {
		g->st.send_failed++;
		s->state = GS_CLOSING;   /* counted: on_closed must not count it again */
		tcp_abort(g->tcp, s->c);
		return false;
	}
	s->t0 = t0;
	s->state = GS_BUSY;
	g->st.requests++;
	return true;
}

/* A connection to the server, carrying a request due at t0 (open loop) or
 * the next one (closed loop). False when no port or slot is free. */
static bool gen_open(struct gen_load *g, uint64_t t0)
{
	uint32_t range = (uint32_t)g->conf.port_hi - g->conf.port_lo + 1u;
	uint32_t i = g->free_head;
	struct tcp_conn *c = NULL;

	if (i == GEN_NONE) {
		g->st.no_port++;
		return false;
	}
	/* A port whose last connection is still closing is skipped; bounded,
	 * so a table of busy ports costs one pass, not a spin. */
	for (uint32_t tries = 0; tries < range && tries < 64 && c == NULL; tries++) {
		uint16_t port = (uint16_t)(g->conf.port_lo + g->next_port);

		if (++g->next_port == range)
			g->next_port = 0;
		c = tcp_connect(g->tcp, g->conf.server_ip, port, g->conf.server_mac);
	}
	if (c == NULL) {
		g->st.no_port++;
		return false;
	}
	list_del(g, &g->free_head, i);
	g->slots[i] = (struct gen_slot){ .c = c, .t0 = t0, .state = GS_CONNECTING,
					 .prev = GEN_NONE, .next = GEN_NONE };
	*tcp_conn_app(c) = i;
	g->open++;
	g->connecting++;
	return true;
}

/* Open loop: request due at t goes out on an idle connection, a new one, or waits. */
static void gen_dispatch(struct gen_load *g, uint64_t t)
{
	g->issued++;
	if (g->idle_head != GEN_NONE) {
		uint32_t i = g->idle_head;

		list_del(g, &g->idle_head, i);
		gen_send(g, i, t);
		return;
	}
	if (g->open < g->conf.conns && gen_open(g, t))
		return;
	backlog_push(g, t);
}

/* s is free for its next request after an answer (the connection stays). */
static void gen_next(struct gen_load *g, uint32_t i)
{
	struct gen_slot *s = &g->slots[i];

	if (g->conf.rate) {
		if (g->bl_n) {
			gen_send(g, i, backlog_pop(g));
			return;
		}
	} else if (gen_more(g)) {
		g->issued++;
		gen_send(g, i, g->now_ns);
		return;
	}
	if (g->stopping || !gen_more(g)) {
		s->state = GS_CLOSING;
		tcp_close(g->tcp, s->c);
		return;
	}
	s->state = GS_IDLE;
	list_push(g, &g->idle_head, i);
}

/* ---- TCP's callbacks ------------------------------------------------------- */

static void gen_on_established(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	struct gen_load *g = ctx;
	uint32_t i = slot_of(c);
	struct gen_slot *s = &g->slots[i];

	(void)tc;
	g->st.conns_opened++;
	g->connecting--;
	if (g->conf.rate) {
		gen_send(g, i, s->t0);           /* the request it was opened for */
	} else if (gen_more(g)) {
		g->issued++;
		gen_send(g, i, s->t0);           /* timed from the connect */
	} else {
		s->state = GS_CLOSING;
		tcp_close(g->tcp, c);
	}
}

static void gen_count_status(struct gen_load *g, uint16_t status)
{
	switch (status) {
	case 200: g->st.s200++; return;
	case 304: g->st.s304++; return;
	case 403: g->st.s403++; return;
	case 409: g->st.s409++; return;
	case 410: g->st.s410++; return;
	case 428: g->st.s428++; return;
	case 429: g->st.s429++; return;
	case 503: g->st.s503++; return;
	default: break;
	}
	if (status >= 200 && status < 300)
		g->st.s2xx_other++;
	else if (status >= 400 && status < 500)
		g->st.s4xx_other++;
	else if (status >= 500)
		g->st.s5xx_other++;
	else
		g->st.s1xx_3xx++;
}

/* The answer on slot i is complete: count it, then the connection's next step. */
static void gen_answered(struct gen_load *g, uint32_t i)
{
	struct gen_slot *s = &g->slots[i];

	g->st.responses++;
	gen_count_status(g, s->status);
	if (s->status == 503 && g->retry != NULL) {
		if (g->rt_n < GEN_RETRY_MAX)
			g->retry[(g->rt_head + g->rt_n++) & (GEN_RETRY_MAX - 1)] = s->buyer;
		else
			g->st.retry_overflow++;
	}
	gen_hist_add(&g->hist, g->now_ns - s->t0);
	g->last_ns = g->now_ns;
	s->done++;
	if (s->close || (g->conf.reqs_per_conn && s->done >= g->conf.reqs_per_conn))
		s->state = GS_CLOSING;           /* the server closes: its FIN, then ours */
	else
		gen_next(g, i);
}

/*
 * The head is read once it is all there (TCP keeps what is not taken); the
 * body is skipped as it comes, so an answer larger than the receive buffer
 * still ends (only the head must fit: HTTP_RESP_HEAD_MAX).
 */
static uint32_t gen_on_data(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			    const uint8_t *data, uint32_t len)
{
	struct gen_load *g = ctx;
	uint32_t i = slot_of(c);
	struct gen_slot *s = &g->slots[i];
	uint32_t used = 0;
	uint64_t take;

	(void)tc;
	if (s->state == GS_BUSY && !s->in_body) {
		struct http_resp r;
		int hl = http_resp_head(data, len, &r);

		if (hl == HTTP_RESP_INCOMPLETE)
			return 0;
		if (hl > 0) {
			used = (uint32_t)hl;
			g->st.resp_bytes += (uint64_t)hl + r.content_length;
			s->status = r.status;
			s->close = r.close;
			s->body_left = r.content_length;
			s->in_body = true;
		}
	}
	if (s->state != GS_BUSY || !s->in_body) {
		g->st.bad_responses++;           /* bytes nobody asked for, or no framing */
		s->state = GS_CLOSING;
		tcp_abort(g->tcp, c);
		return 0;
	}
	take = s->body_left < len - used ? s->body_left : len - used;
	used += (uint32_t)take;
	s->body_left -= take;
	if (s->body_left == 0) {
		s->in_body = false;
		gen_answered(g, i);
	}
	return used;
}

static void gen_on_peer_fin(void *ctx, struct tcp_core *tc, struct tcp_conn *c)
{
	(void)ctx;
	tcp_close(tc, c);
}

static void gen_on_closed(void *ctx, struct tcp_core *tc, struct tcp_conn *c,
			  enum tcp_close_reason why)
{
	struct gen_load *g = ctx;
	uint32_t i = slot_of(c);
	struct gen_slot *s = &g->slots[i];

	(void)tc;
	(void)why;
	if (s->state == GS_CONNECTING)
		g->st.connects_failed++;     /* and the request it carried is lost with it */
	else if (s->state == GS_BUSY)
		g->st.conns_broken++;
	slot_free(g, i);
	/* Open loop: a request waiting for a connection takes this one's place. */
	if (g->conf.rate && g->bl_n && !g->stopping && gen_open(g, g->backlog[g->bl_head]))
		backlog_pop(g);
}

/* ---- set-up ---------------------------------------------------------------- */

/* Appends conf.headers, each with its CRLF, to head[*n..cap); false when they do not fit. */
static bool gen_add_headers(const struct gen_conf *cf, char *head, size_t cap, int *n)
{
	for (unsigned i = 0; i < cf->n_headers; i++) {
		int k = snprintf(head + *n, cap - (size_t)*n, "%s\r\n", cf->headers[i]);

		if (k < 0 || (size_t)k >= cap - (size_t)*n)
			return false;
		*n += k;
	}
	return true;
}

static int gen_build_heads(struct gen_load *g, char *err, size_t errlen)
{
	const struct gen_conf *cf = &g->conf;
	int n;

	n = snprintf(g->head_get, sizeof(g->head_get), "GET %s HTTP/1.1\r\nHost: %s\r\n",
		     cf->path, cf->host);
	if (n < 0 || (size_t)n >= sizeof(g->head_get) ||
	    !gen_add_headers(cf, g->head_get, sizeof(g->head_get), &n)) {
		snprintf(err, errlen, "the request path, host and headers are too long "
			 "(%d bytes at most)", GEN_REQ_MAX - 1);
		return -1;
	}
	g->head_get_len = (uint32_t)n;
	n = snprintf(g->head_buy, sizeof(g->head_buy),
		     "POST /api/campaigns/%u/orders HTTP/1.1\r\nHost: %s\r\n", cf->campaign, cf->host);
	if (n < 0 || (size_t)n >= sizeof(g->head_buy) ||
	    !gen_add_headers(cf, g->head_buy, sizeof(g->head_buy), &n) ||
	    (size_t)n + sizeof("Authorization: Bearer ") > sizeof(g->head_buy)) {
		snprintf(err, errlen, "the host name and headers are too long (%d bytes at most)",
			 GEN_REQ_MAX - 32);
		return -1;
	}
	n += snprintf(g->head_buy + n, sizeof(g->head_buy) - (size_t)n, "Authorization: Bearer ");
	g->head_buy_len = (uint32_t)n;
	return 0;
}

static int gen_mint_tokens(struct gen_load *g)
{
	const struct gen_conf *cf = &g->conf;

	if (!cf->campaign || cf->buyers > GEN_TOKENS_PRE_MAX)
		return 0;
	g->tokens = malloc(cf->buyers * GEN_TOKEN_STRIDE);
	if (g->tokens == NULL)
		return -1;
	for (uint64_t b = 0; b < cf->buyers; b++) {
		char *t = g->tokens + b * GEN_TOKEN_STRIDE;
		int n = token_mint(&cf->key, cf->buyer_first + b, cf->token_expiry, t, TOKEN_STR_CAP);

		t[GEN_TOKEN_STRIDE - 1] = (char)(n > 0 ? n : 0);
	}
	return 0;
}

/* Each buyer's proof of work, solved now (pow.h): ~2^pow_bits hashes a buyer. */
static int gen_solve_pows(struct gen_load *g)
{
	const struct gen_conf *cf = &g->conf;
	struct pow_key k;

	if (cf->pow_bits == 0)
		return 0;
	g->pows = malloc(cf->buyers * GEN_POW_STRIDE);
	if (g->pows == NULL)
		return -1;
	pow_key_derive(&cf->key, &k);
	for (uint64_t b = 0; b < cf->buyers; b++) {
		char *p = g->pows + b * GEN_POW_STRIDE, ch[POW_CHALLENGE_CAP], nonce[24];
		uint64_t i = 0;
		int n = pow_challenge(&k, cf->buyer_first + b, cf->campaign, cf->pow_bits,
				      cf->pow_issued_s, ch, sizeof(ch));

		pow_solve(ch, (size_t)n, cf->pow_bits, &i, nonce, sizeof(nonce));
		n = snprintf(p, GEN_POW_STRIDE - 1, GEN_POW_HEAD "%s:%s\r\n", ch, nonce);
		p[GEN_POW_STRIDE - 1] = (char)n;
	}
	return 0;
}

static const char *gen_conf_check(const struct gen_conf *cf, const struct tcp_conf *tcp)
{
	if (cf->server_ip == 0)
		return "no server address";
	if (cf->conns == 0)
		return "conns must be at least 1";
	if (cf->port_lo == 0 || cf->port_hi < cf->port_lo)
		return "the local port range is empty (port_lo 1..port_hi)";
	if (cf->conns > (uint32_t)cf->port_hi - cf->port_lo + 1u)
		return "more connections than local ports: widen the port range or use fewer";
	if (tcp->max_conns < cf->conns)
		return "the TCP table is smaller than conns: raise its max_conns";
	if (cf->campaign && (cf->buyers == 0 || cf->buyer_first == 0))
		return "buy requests need buyers (first >= 1, count >= 1)";
	if (cf->pow_bits && (!cf->campaign || cf->buyers > GEN_TOKENS_PRE_MAX ||
			     cf->pow_bits > POW_MAX_BITS))
		return "a proof of work needs buy requests, at most 4194304 buyers and 1..32 bits";
	if (cf->opens_per_poll == 0)
		return "opens_per_poll must be at least 1";
	if (cf->n_headers > GEN_HEADERS_MAX)
		return "more extra header lines than GEN_HEADERS_MAX";
	return NULL;
}

struct gen_load *gen_load_create(const struct gen_conf *conf, const struct tcp_conf *tcp,
				 const struct net_iface *ifc, struct net_tx *tx,
				 char *err, size_t errlen)
{
	struct tcp_app app = {
		.on_data = gen_on_data,
		.on_peer_fin = gen_on_peer_fin,
		.on_closed = gen_on_closed,
		.on_established = gen_on_established,
	};
	struct tcp_conf tconf = *tcp;
	const char *why = gen_conf_check(conf, tcp);
	struct gen_load *g;

	if (why != NULL) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		goto oom;
	g->conf = *conf;
	if (gen_build_heads(g, err, errlen) < 0) {
		free(g);
		return NULL;
	}
	g->nslots = conf->conns;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->backlog = conf->rate ? calloc(GEN_BACKLOG_MAX, sizeof(*g->backlog)) : NULL;
	g->retry = conf->retry_503 && conf->campaign ? calloc(GEN_RETRY_MAX, sizeof(*g->retry)) : NULL;
	if (g->slots == NULL || (conf->rate && g->backlog == NULL) || gen_mint_tokens(g) < 0 ||
	    gen_solve_pows(g) < 0 || (conf->retry_503 && conf->campaign && g->retry == NULL))
		goto oom_free;
	g->free_head = g->idle_head = GEN_NONE;
	for (uint32_t i = g->nslots; i-- > 0;)
		list_push(g, &g->free_head, i);
	app.ctx = g;
	tconf.client = true;
	tconf.listen_port = conf->server_port;
	g->tx = *tx;
	g->tcp = tcp_core_create(&tconf, ifc, &g->tx, &app);
	if (g->tcp == NULL) {
		why = tcp_conf_check(&tconf);
		snprintf(err, errlen, "cannot create the client TCP: %s",
			 why ? why : "out of memory for its table and buffers");
		free(g->retry);
		free(g->tokens);
	free(g->pows);
		free(g->backlog);
		free(g->slots);
		free(g);
		return NULL;
	}
	net_core_init(&g->net, ifc, &g->tx, g->tcp, tcp_input);
	g->have_mac = memcmp(conf->server_mac, (uint8_t[NET_ETH_ALEN]){ 0 }, NET_ETH_ALEN) != 0;
	gen_hist_init(&g->hist);
	return g;
oom_free:
	free(g->retry);
	free(g->tokens);
	free(g->pows);
	free(g->backlog);
	free(g->slots);
	free(g);
oom:
	snprintf(err, errlen, "out of memory for %u connections", conf->conns);
	return NULL;
}

void gen_load_destroy(struct gen_load *g)
{
	if (g == NULL)
		return;
	tcp_core_destroy(g->tcp);
	free(g->retry);
	free(g->tokens);
	free(g->pows);
	free(g->backlog);
	free(g->slots);
	free(g);
}

/* ---- the run ----------------------------------------------------------------- */

void gen_load_input(struct gen_load *g, const uint8_t *frame, uint32_t len)
{
	net_input(&g->net, frame, len);
}

/* Until the server's MAC is known nothing else can be sent. */
static bool gen_resolve(struct gen_load *g)
{
	switch (arp_resolve(&g->net, g->conf.server_ip, g->conf.server_mac, g->now_ns,
			    &g->arp_next_ns)) {
	case ARP_RESOLVED:
		g->have_mac = true;
		return true;
	case ARP_ASKED:
		g->st.arp_requests++;
		return false;
	default:
		return false;
	}
}

/* Keep-alive connections nothing more will be sent on. */
static void gen_close_idle(struct gen_load *g)
{
	while (g->idle_head != GEN_NONE) {
		uint32_t i = g->idle_head;

		list_del(g, &g->idle_head, i);
		g->slots[i].state = GS_CLOSING;
		tcp_close(g->tcp, g->slots[i].c);
	}
}

static void gen_start_due(struct gen_load *g)
{
	const uint64_t rate = g->conf.rate;

	for (uint32_t k = 0; k < GEN_DUE_PER_POLL && gen_more(g); k++) {
		/* Request i is due at start + i / rate: computed from i each time,
		 * so rounding never accumulates into drift. */
		uint64_t due = g->start_ns + (uint64_t)((unsigned __int128)g->due_i * NS_PER_S / rate);

		if (due > g->now_ns)
			break;
		g->due_i++;
		gen_dispatch(g, due);
	}
}

void gen_load_poll(struct gen_load *g, uint64_t now_ns)
{
	g->now_ns = now_ns;
	tcp_set_now(g->tcp, now_ns / NS_PER_US);
	if (!g->have_mac && !gen_resolve(g))
		return;
	if (!g->started) {
		g->started = true;
		g->start_ns = g->last_ns = now_ns;
	}
	if (g->conf.rate) {
		gen_start_due(g);
		if (!gen_more(g))
			gen_close_idle(g);       /* the last request is out */
	} else {
		/* Closed loop: keep conns connections; connects in flight count as
		 * requests to come, so a request limit is not overshot. */
		for (uint32_t k = 0; k < g->conf.opens_per_poll && g->open < g->conf.conns &&
		     gen_more(g) && (g->conf.requests == 0 ||
				     g->issued + g->connecting < g->conf.requests); k++)
			if (!gen_open(g, now_ns))
				break;
	}
	tcp_timers_run(g->tcp);
}

void gen_load_stop(struct gen_load *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	g->st.unanswered += g->bl_n;         /* due, never sent */
	g->bl_n = 0;
	gen_close_idle(g);
}

bool gen_load_done(const struct gen_load *g)
{
	return g->started && !gen_more(g) && g->open == 0 && g->bl_n == 0;
}

void gen_load_abort(struct gen_load *g)
{
	gen_load_stop(g);
	for (uint32_t i = 0; i < g->nslots; i++) {
		struct gen_slot *s = &g->slots[i];

		if (s->state == GS_FREE)
			continue;
		if (s->state == GS_BUSY || s->state == GS_CONNECTING)
			g->st.unanswered++;
		s->state = GS_CLOSING;           /* counted here, not again in on_closed */
		tcp_abort(g->tcp, s->c);
	}
}

bool gen_load_ready(const struct gen_load *g)
{
	return g->have_mac;
}

const uint8_t *gen_load_server_mac(const struct gen_load *g)
{
	return g->conf.server_mac;
}

uint64_t gen_load_elapsed_ns(const struct gen_load *g)
{
	if (!g->started)
		return 0;
	return (gen_load_done(g) ? g->last_ns : g->now_ns) - g->start_ns;
}

const struct gen_stats *gen_load_stats(const struct gen_load *g)
{
	return &g->st;
}

const struct gen_hist *gen_load_hist(const struct gen_load *g)
{
	return &g->hist;
}

struct tcp_core *gen_load_tcp(struct gen_load *g)
{
	return g->tcp;
}

struct net_core *gen_load_net(struct gen_load *g)
{
	return &g->net;
}
