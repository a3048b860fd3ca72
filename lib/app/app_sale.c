/*
 * app_sale.c - the sale API: HTTP in, sale engine, JSON out.
 *
 *   GET  /api/campaigns/{id}          a campaign and its stock
 *   GET  /api/campaigns/{id}/challenge   a proof-of-work challenge (Bearer)
 *   POST /api/campaigns/{id}/orders   buy (Authorization: Bearer <token>,
 *                                     X-Seckill-PoW when the campaign asks)
 *   GET  /api/orders/{order_id}       an order's state
 *
 * This file only checks the request's syntax (ids, JSON body, the
 * Authorization scheme) and turns the engine's answer into status, body and
 * headers; every decision about a sale is sale_buy's (sale.c), including
 * the order of its checks. A missing or bad token is therefore not refused
 * here: it reaches sale_buy, which says 404 for an unknown campaign first.
 * Syntax errors are 400 with a stable code and a counter, and take nothing.
 *
 * The bodies and the Retry-After header are built with memcpy and a small
 * integer printer, not snprintf: the POST answer is on the hot path, and in
 * a flood most answers are 429s that carry Retry-After.
 */
#include "app_priv.h"

#include <string.h>

#include "json_check.h"
#include "sale.h"
#include "str2int.h"

#define CAMPAIGNS_PREFIX "/api/campaigns/"
#define ORDERS_PREFIX "/api/orders/"
#define ORDERS_SUFFIX "/orders"
#define CHALLENGE_SUFFIX "/challenge"
/* Digits of UINT32_MAX: a longer campaign id is refused before any arithmetic. */
#define U32_DIGITS 10
/* a->hdr takes the longest Retry-After whole, so refusal_headers never cuts one. */
#define RETRY_AFTER_LONGEST "Retry-After: 4294967295\r\n"
_Static_assert(sizeof(RETRY_AFTER_LONGEST) <= APP_HDR_CAP, "APP_HDR_CAP too small");

static const char allow_get[] = "Allow: GET, HEAD\r\n";
static const char allow_post[] = "Allow: POST\r\n";
/* RFC 6750 3: a 401 names the scheme; invalid_token when one was sent. */
static const char auth_missing[] = "WWW-Authenticate: Bearer\r\n";
static const char auth_invalid[] = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";

/* An id in canonical decimal: 1..10 digits, no sign, no leading zero, <= UINT32_MAX. */
static int parse_u32(const char *p, size_t n, uint32_t *out)
{
	unsigned long long v;

	if (n > U32_DIGITS || !str2ull(p, n, &v) || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A JSON body under construction in the reply's buffer. */
struct jb {
	uint8_t *p;
	uint32_t len, cap;
	int over;
};

static void jb_mem(struct jb *b, const char *s, size_t n)
{
	if (b->over || n > b->cap - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += (uint32_t)n;
}

static void jb_str(struct jb *b, const char *s)
{
	jb_mem(b, s, strlen(s));
}

static void jb_u64(struct jb *b, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jb_mem(b, d + i, sizeof(d) - i);
}

static void jb_id(struct jb *b, struct ord_id id)
{
	char s[ORD_ID_STR_CAP];

	ord_id_format(id, s, sizeof(s));
	jb_mem(b, s, ORD_ID_STR_LEN);
}

static void jb_done(struct jb *b, struct http_reply *rep, uint16_t status)
{
	rep->status = status;
	rep->content_type = NULL;
	rep->body_len = b->over ? rep->body_cap + 1 : b->len;   /* over: the server's 500 */
}

/* The first six bytes at p as the low 48 bits of a little-endian word. */
static inline uint64_t load6(const char *p)
{
	uint64_t w = 0;

	memcpy(&w, p, 6);
	return w;
}
#define BEARER_LOWER 0x726572616562ull   /* "bearer", little-endian */

/* The bearer token of the request: NULL when there is no Authorization;
 * the whole value when the scheme is not Bearer, which the token check
 * then calls malformed (RFC 6750 2.1: scheme case-insensitive, 1*SP). */
static const char *bearer_token(const struct http_request *req, size_t *len)
{
	struct http_span v = req->authorization;
	size_t i = 6;

	*len = 0;
	if (v.p == NULL)
		return NULL;
	/* "Bearer " in any case: six letters fold to lowercase with | 0x20
	 * (they are letters, so nothing else folds onto them), one compare. */
	if (v.len > 7 && v.p[6] == ' ' && ((load6(v.p) | 0x202020202020ull) == BEARER_LOWER)) {
		while (i < v.len && v.p[i] == ' ')
			i++;
		*len = v.len - i;
		return v.p + i;
	}
	*len = v.len;
	return v.p;
}

/* 400 for a body that is present and not a JSON object; 0 when it is fine. */
static int check_body(struct app *a, const struct http_request *req, struct http_reply *rep)
{
	enum json_type t;

	if (req->body.len == 0)
		return 0;
	if (json_check(req->body.p, req->body.len, APP_JSON_DEPTH, &t) != JSON_OK) {
		a->stats.bad_json++;
		app_reply_error(rep, 400, "bad_json");
		return -1;
	}
	if (t != JSON_OBJECT) {
		a->stats.body_not_object++;
		app_reply_error(rep, 400, "body_not_object");
		return -1;
	}
	return 0;
}

/* Extra headers for a refusal: Retry-After, or the 401 challenge. */
static const char *refusal_headers(struct app *a, enum sale_result r, uint32_t retry_after_s)
{
	struct jb h;

	if (r == SALE_TOKEN_MISSING)
		return auth_missing;
	if (sale_result_status(r) == 401)
		return auth_invalid;
	if (retry_after_s == 0)
		return NULL;
	h = (struct jb){ (uint8_t *)a->hdr, 0, sizeof(a->hdr) - 1, 0 };
	jb_str(&h, "Retry-After: ");
	jb_u64(&h, retry_after_s);
	jb_str(&h, "\r\n");
	a->hdr[h.len] = '\0';
	return a->hdr;
}

static void route_buy(struct app *a, struct tcp_conn *c, const struct http_request *req,
		      struct http_reply *rep, uint32_t campaign)
{
	struct sale_out out;
	enum sale_result r;
	const char *tok;
	size_t tok_len;
	struct jb b = { rep->body, 0, rep->body_cap, 0 };

	if (check_body(a, req, rep) < 0)
		return;
	a->stats.buy++;
	/* Every held answer waits for its order's sync: a full queue means the
	 * journal is behind, and a sale now could not be answered in order. */
	if (app_hold_full(a)) {
		a->stats.hold_full++;
		app_reply_error(rep, sale_result_status(SALE_RING_FULL),
				sale_result_code(SALE_RING_FULL));
		rep->extra_headers = refusal_headers(a, SALE_RING_FULL, SALE_RETRY_AFTER_S);
		return;
	}
	tok = bearer_token(req, &tok_len);
	r = sale_buy_pow(a->sale, campaign, tok, tok_len, req->pow.p, req->pow.len,
			 c ? tcp_conn_peer_ip(c) : 0, a->now_ms, &out);
	if (r != SALE_OK) {
		app_reply_error(rep, sale_result_status(r), sale_result_code(r));
		rep->extra_headers = refusal_headers(a, r, out.retry_after_s);
		return;
	}
	jb_str(&b, "{\"order_id\":\"");
	jb_id(&b, out.id);
	jb_str(&b, "\",\"status\":\"pending\"}");
	jb_done(&b, rep, 200);
	/* The 200 leaves once the order is durable (app_hold.c). */
	if (a->held_cap != 0 && c != NULL) {
		rep->hold = 1;
		rep->hold_ticket = (uint32_t)ord_id_seq(out.id);
		app_hold_push(a, c, ord_id_seq(out.id));
	}
}

static void route_campaign(struct app *a, struct http_reply *rep, uint32_t id)
{
	struct sale_campaign_view v;
	struct jb b = { rep->body, 0, rep->body_cap, 0 };

	if (!sale_campaign_get(a->sale, id, a->now_ms, &v)) {
		a->stats.campaign_unknown++;
		app_reply_error(rep, 404, "unknown_campaign");
		return;
	}
	a->stats.campaign_get++;
	jb_str(&b, "{\"id\":");
	jb_u64(&b, v.id);
	jb_str(&b, ",\"state\":\"");
	jb_str(&b, sale_phase_str(v.phase));
	jb_str(&b, "\",\"starts_at\":");
	jb_u64(&b, v.starts_at_ms);
	jb_str(&b, ",\"stock\":");
	jb_u64(&b, v.stock);
	jb_str(&b, ",\"left\":");
	jb_u64(&b, v.left);
	jb_str(&b, ",\"pow_bits\":");
	jb_u64(&b, v.pow_bits);
	jb_str(&b, "}");
	jb_done(&b, rep, 200);
}

/* GET /api/campaigns/{id}/challenge: {"challenge":..,"bits":..,"expires_ms":..}. */
static void route_challenge(struct app *a, const struct http_request *req,
			    struct http_reply *rep, uint32_t id)
{
	struct sale_challenge ch;
	enum sale_result r;
	const char *tok;
	size_t tok_len;
	struct jb b = { rep->body, 0, rep->body_cap, 0 };

	tok = bearer_token(req, &tok_len);
	r = sale_challenge(a->sale, id, tok, tok_len, a->now_ms, &ch);
	if (r != SALE_OK) {
		a->stats.challenge_refused++;
		app_reply_error(rep, sale_result_status(r), sale_result_code(r));
		rep->extra_headers = refusal_headers(a, r, 0);
		return;
	}
	a->stats.challenge++;
	jb_str(&b, "{\"challenge\":\"");
	jb_str(&b, ch.text);
	jb_str(&b, "\",\"bits\":");
	jb_u64(&b, ch.bits);
	jb_str(&b, ",\"expires_ms\":");
	jb_u64(&b, ch.expires_ms);
	jb_str(&b, "}");
	jb_done(&b, rep, 200);
}

/* Whether the method is allowed; if not, the 405 is answered. */
static int method_ok(struct app *a, const struct http_request *req, struct http_reply *rep,
		     int post)
{
	enum http_method m = req->method;

	if (post ? m == HTTP_METHOD_POST : (m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD))
		return 1;
	a->stats.method_not_allowed++;
	app_reply_error(rep, 405, "method_not_allowed");
	rep->extra_headers = post ? allow_post : allow_get;
	return 0;
}

static void not_found(struct app *a, struct http_reply *rep)
{
	a->stats.not_found++;
	app_reply_error(rep, 404, "not_found");
}

/* What every /api/ route checks once its path matched: a sale to ask (none:
 * 404, the API is not served), then the method (405 with Allow). */
static bool api_ready(struct app *a, const struct http_request *req, struct http_reply *rep,
		      int post)
{
	if (a->sale == NULL) {
		a->stats.no_sale++;
		not_found(a, rep);
		return false;
	}
	return method_ok(a, req, rep, post);
}

/* Whether the path's rest after the id (p[0..n)) is exactly suffix. */
static bool suffix_is(const char *p, size_t n, const char *suffix)
{
	return n == strlen(suffix) && memcmp(p, suffix, n) == 0;
}

/* /api/campaigns/{id}, .../orders and .../challenge; anything else below is 404. */
void app_route_campaigns(struct app *a, struct tcp_conn *c, const struct http_request *req,
			 struct http_reply *rep)
{
	const char *id = req->path.p + strlen(CAMPAIGNS_PREFIX);
	size_t rest = req->path.len - strlen(CAMPAIGNS_PREFIX), n = 0;
	int post, challenge;
	uint32_t cid;

	while (n < rest && id[n] != '/')
		n++;
	post = n < rest && suffix_is(id + n, rest - n, ORDERS_SUFFIX);
	challenge = n < rest && suffix_is(id + n, rest - n, CHALLENGE_SUFFIX);
	if (n == 0 || (n < rest && !post && !challenge)) {
		not_found(a, rep);
		return;
	}
	if (!api_ready(a, req, rep, post))
		return;
	if (parse_u32(id, n, &cid) < 0) {
		a->stats.bad_campaign_id++;
		app_reply_error(rep, 400, "bad_campaign_id");
		return;
	}
	if (post)
		route_buy(a, c, req, rep, cid);
	else if (challenge)
		route_challenge(a, req, rep, cid);
	else
		route_campaign(a, rep, cid);
}

static void order_json(struct jb *b, struct ord_id id, const struct ord_book_view *v)
{
	jb_str(b, "{\"order_id\":\"");
	jb_id(b, id);
	jb_str(b, "\",\"campaign\":");
	jb_u64(b, v->campaign);
	jb_str(b, ",\"buyer\":");
	jb_u64(b, v->buyer);
	jb_str(b, ",\"status\":\"");
	jb_str(b, ord_state_str(v->state));
	jb_str(b, "\"");
	if (v->state == ORD_REJECTED) {
		jb_str(b, ",\"reason\":\"");
		jb_str(b, ord_reason_str(v->reason) ? ord_reason_str(v->reason) : "other");
		jb_str(b, "\"");
	}
	jb_str(b, "}");
}

/* /api/orders/{order_id}, from any core: the book of the core that sold. */
void app_route_orders(struct app *a, struct tcp_conn *c, const struct http_request *req,
		      struct http_reply *rep)
{
	const char *p = req->path.p + strlen(ORDERS_PREFIX);
	size_t n = req->path.len - strlen(ORDERS_PREFIX);
	struct ord_book_view v;
	struct ord_id id;
	struct jb b = { rep->body, 0, rep->body_cap, 0 };

	(void)c;
	if (n == 0 || memchr(p, '/', n)) {
		not_found(a, rep);
		return;
	}
	if (!api_ready(a, req, rep, 0))
		return;
	if (!ord_id_parse(p, n, &id)) {
		a->stats.bad_order_id++;
		app_reply_error(rep, 400, "bad_order_id");
		return;
	}
	if (!sale_order_get(a->sale->s, id, &v)) {
		a->stats.order_unknown++;
		a->sale->stats.gets_order_unknown++;
		app_reply_error(rep, 404, "unknown_order");
		return;
	}
	a->stats.order_get++;
	a->sale->stats.gets_order++;
	order_json(&b, id, &v);
	jb_done(&b, rep, 200);
}
