/*
 * app.h - the application behind the HTTP server: routes to answers.
 *
 * app_handle is the http_handler_fn the dataplane gives http_server_create,
 * with a struct app (one per worker core) as its ctx. The routes live in one
 * table in app_routes.c: a path, the methods it takes and its function. The
 * sale API (/api/campaigns/{id}, /api/orders/{id}) is added there as more
 * rows; a route's function gets the struct app and reaches the sale state
 * through it.
 *
 * The sale API (app_sale.c) runs on the worker's struct sale_core: a worker
 * without one (app_set_sale never called) answers 404 under /api/, so the
 * server can run with only / and /healthz.
 */
#ifndef SECKILL_APP_H
#define SECKILL_APP_H

#include "http_server.h"
#include "stats.h"

/* Per-core answer counters, one per route and per refusal reason. The buy
 * answers are counted by the sale engine, per result (sale_core.results). */
#define APP_STATS(X) \
	X(index) X(healthz) \
	X(campaign_get)      /* GET /api/campaigns/{id} answered 200 */ \
	X(campaign_unknown)  /* ... 404 unknown_campaign */ \
	X(order_get)         /* GET /api/orders/{id} answered 200 */ \
	X(order_unknown)     /* ... 404 unknown_order */ \
	X(buy)               /* POST .../orders reaching the sale engine */ \
	X(challenge)         /* GET .../challenge answered 200 */ \
	X(challenge_refused) /* ... 404 unknown_campaign or 401 (token) */ \
	X(bad_campaign_id)   /* 400: not a canonical u32 */ \
	X(bad_order_id)      /* 400: not an ord_id_format text */ \
	X(bad_json)          /* 400: body is not JSON */ \
	X(body_not_object)   /* 400: body is JSON but not an object */ \
	X(no_sale)           /* 404: sale API on a worker without a sale */ \
	X(not_found) X(method_not_allowed) \
	X(held)              /* sold orders' 200s held until durable (app_hold.c) */ \
	X(released)          /* connections whose held answers were released */ \
	X(hold_full)         /* 503 order_queue_full: the hold queue is full */ \
	X(page)              /* the sale page's files (app_page.c) answered */ \
	X(page_gzip)         /* ... with the gzip copy */ \
	X(page_not_modified) /* ... 304: If-None-Match named the ETag */ \
	X(product)           /* GET /c/{id}/product answered 200 or 304 */ \
	X(image)             /* GET /c/{id}/image answered 200 or 304 */ \
	X(product_none)      /* ... none set: an empty product, or 404 for the image */ \
	X(campaign_list)     /* GET /api/campaigns answered 200 */

struct app_stats { APP_STATS(STATS_FIELD) };
extern const char *const app_stats_names[];
#define APP_STATS_N (0 APP_STATS(STATS_COUNT))

/* Room for the extra header lines of one answer (Retry-After, WWW-Authenticate). */
#define APP_HDR_CAP 64
/* Nesting a buy request's JSON body may have: it is a small flat object. */
#define APP_JSON_DEPTH 8

struct sale_core;
struct app_site;
struct app_products;

/* The largest GET /api/campaigns answer: SALE_MAX_CAMPAIGNS entries of at
 * most ~150 bytes and the clock. */
#define APP_LIST_CAP 10240

/* A held answer: its connection and its order's sequence (app_hold.c). */
struct app_held {
	struct tcp_conn *c;
	uint64_t seq;
};

struct app {
	struct app_stats stats;
	struct sale_core *sale;      /* NULL: no sale API (404) */
	uint64_t now_ms;             /* Unix ms, app_set_time_ms */
	char hdr[APP_HDR_CAP];       /* extra_headers of the answer being built */
	/* Sold orders' answers waiting for durability, oldest first (app_hold.c);
	 * held_cap 0: answers leave at once. */
	struct app_held *held;
	uint32_t held_cap, held_head, held_n;
	/* The sale page (app_page.c): this core's copy of the site, and the
	 * products the control thread publishes; NULL: none (404). */
	const struct app_site *site;
	const struct app_products *products;
	char list[APP_LIST_CAP];     /* GET /api/campaigns being answered */
};

/* Zeroes a: no sale, time 0. */
void app_init(struct app *a);

/* The worker's part of the sale, for the /api/ routes. */
void app_set_sale(struct app *a, struct sale_core *sc);

/* The sale page (app_page.c, app_site.h): the site this core answers /
 * and its files from (it must outlive a), and the products table. */
void app_set_site(struct app *a, const struct app_site *site);
void app_set_products(struct app *a, const struct app_products *t);

/*
 * Durable answers (app_hold.c): with a hold queue of cap entries, a buy that
 * sold is answered only once app_release says its order is durable; a buy
 * arriving with the queue full gets 503 order_queue_full. cap 0 (the
 * default): answers leave at once. 0, or -ENOMEM.
 */
int app_set_hold(struct app *a, uint32_t cap);
void app_hold_push(struct app *a, struct tcp_conn *c, uint64_t seq);
static inline bool app_hold_full(const struct app *a)
{
	return a->held_cap != 0 && a->held_n == a->held_cap;
}
/* Whether answers wait in the queue: the worker loop's cheap test. */
static inline bool app_holding(const struct app *a)
{
	return a->held_n != 0;
}
/* Releases the connections whose held orders are all at or below durable
 * (the core's sale_durable_seq); returns how many. */
unsigned app_release(struct app *a, struct tcp_core *tc, uint64_t durable);

/* The worker loop's clock, Unix milliseconds (starts, tokens, rate limits). */
static inline void app_set_time_ms(struct app *a, uint64_t now_ms)
{
	a->now_ms = now_ms;
}

/*
 * Before a burst is served (app_prefetch.c): p, len is one frame's TCP
 * payload; if it begins a buy ("POST /api/campaigns/{id}/orders" with a
 * bearer token), the buyer's purchase-set slot is named, to be loaded with
 * the burst's others by app_prefetch_issue. A hint only.
 * app_prefetch_parse is its reading of the request: the campaign and the
 * (unverified) buyer id of the token, or false.
 */
void app_prefetch_request(struct app *a, const uint8_t *p, uint32_t len);
bool app_prefetch_parse(const uint8_t *p, uint32_t len, uint32_t *campaign, uint64_t *buyer);
/* After the burst's app_prefetch_request calls: their loads, together. */
void app_prefetch_issue(struct app *a);

/* The http_handler_fn: ctx is a struct app. */
void app_handle(void *ctx, struct tcp_conn *c, const struct http_request *req,
		struct http_reply *rep);

const struct app_stats *app_stats(const struct app *a);

#endif
