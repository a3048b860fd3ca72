/*
 * app_routes.c - the route table and the routes that are not the sale API.
 *
 * A request's path is matched against each row (a handful of rows: a linear
 * scan of short memcmps beats any structure here), exactly, or as a prefix
 * for the rows of the sale API, whose functions parse the rest of the path
 * (app_sale.c). A path that matches with a method the row does not take is
 * 405 with the row's Allow header (RFC 9110 15.5.6); no match at all is 404.
 * HEAD is routed as GET: the server sends the head only.
 */
#include "app_priv.h"

#include <string.h>

const char *const app_stats_names[] = { APP_STATS(STATS_NAME) };
_Static_assert(sizeof(app_stats_names) / sizeof(app_stats_names[0]) == APP_STATS_N,
	       "a name for every counter");
_Static_assert(sizeof(struct app_stats) == APP_STATS_N * sizeof(uint64_t),
	       "the counters are read as an array of uint64_t, one per name");

#define M(m) (1u << HTTP_METHOD_##m)
#define M_GET_HEAD (M(GET) | M(HEAD))
#define M_ANY UINT32_MAX             /* the route's function checks the method */

struct app_route {
	const char *path;
	uint8_t prefix;              /* 1: path is a prefix, the function parses the rest */
	uint32_t methods;            /* M() bits */
	const char *allow;           /* the Allow line a 405 carries */
	app_route_fn fn;
};

/* Copies a constant body into the reply (they are all far below body_cap). */
void app_reply(struct http_reply *rep, uint16_t status, const char *type, const char *body)
{
	size_t n = strlen(body);

	rep->status = status;
	rep->content_type = type;
	if (n > rep->body_cap)
		n = rep->body_cap + 1;   /* let the server turn it into a 500 */
	else
		memcpy(rep->body, body, n);
	rep->body_len = (uint32_t)n;
}

static const char index_html[] =
	"<!DOCTYPE html>\n"
	"<html><head><meta charset=\"utf-8\"><title>seckill</title></head>\n"
	"<body><h1>seckill</h1>\n"
	"<p>The front end of a flash sale: a kernel-bypass HTTP server that takes "
	"a million buyers pressing one button in the same second.</p>\n"
	"<p>Endpoints: <code>GET /healthz</code> (liveness), "
	"<code>GET /api/campaigns/{id}</code> (a sale and its stock), "
	"<code>POST /api/campaigns/{id}/orders</code> (buy), "
	"<code>GET /api/orders/{id}</code> "
	"(an order's state).</p>\n"
	"</body></html>\n";

/* The sale page when the dataplane gave a site (app_page.c), else the
 * API's index above. */
static void route_index(struct app *a, struct tcp_conn *c,
			const struct http_request *req, struct http_reply *rep)
{
	if (a->site != NULL) {
		app_route_page(a, c, req, rep);
		return;
	}
	a->stats.index++;
	app_reply(rep, 200, "text/html; charset=utf-8", index_html);
}

static void route_healthz(struct app *a, struct tcp_conn *c,
			  const struct http_request *req, struct http_reply *rep)
{
	(void)c;
	(void)req;
	a->stats.healthz++;
	app_reply(rep, 200, NULL, "{\"status\":\"ok\"}");
}

void app_reply_error(struct http_reply *rep, uint16_t status, const char *code)
{
	static const char pre[] = "{\"error\":\"", post[] = "\"}";
	size_t n = strlen(code), len = sizeof(pre) - 1 + n + sizeof(post) - 1;

	rep->status = status;
	rep->content_type = NULL;
	if (len > rep->body_cap) {
		rep->body_len = rep->body_cap + 1;   /* the server's 500 */
		return;
	}
	memcpy(rep->body, pre, sizeof(pre) - 1);
	memcpy(rep->body + sizeof(pre) - 1, code, n);
	memcpy(rep->body + sizeof(pre) - 1 + n, post, sizeof(post) - 1);
	rep->body_len = (uint32_t)len;
}

static const struct app_route app_routes[] = {
	{ "/", 0, M_GET_HEAD, "Allow: GET, HEAD\r\n", route_index },
	{ "/healthz", 0, M_GET_HEAD, "Allow: GET, HEAD\r\n", route_healthz },
	{ "/api/campaigns/", 1, M_ANY, NULL, app_route_campaigns },
	{ "/api/orders/", 1, M_ANY, NULL, app_route_orders },
	/* The sale page (app_page.c); the last row takes every other path:
	 * one of the site's files, or 404. */
	{ "/api/campaigns", 0, M_ANY, NULL, app_route_list },
	{ "/c/", 1, M_ANY, NULL, app_route_c },
	{ "/", 1, M_ANY, NULL, app_route_asset },
};

void app_init(struct app *a)
{
	memset(a, 0, sizeof(*a));
}

void app_set_sale(struct app *a, struct sale_core *sc)
{
	a->sale = sc;
}

/* Whether path is the row's path, or starts with it for a prefix row. */
static int app_route_match(const struct app_route *r, struct http_span path)
{
	size_t n;

	if (!r->prefix)
		return http_span_eq(path, r->path);
	n = strlen(r->path);
	return path.len >= n && memcmp(path.p, r->path, n) == 0;
}

const struct app_stats *app_stats(const struct app *a)
{
	return &a->stats;
}

void app_handle(void *ctx, struct tcp_conn *c, const struct http_request *req,
		struct http_reply *rep)
{
	struct app *a = ctx;

	for (size_t i = 0; i < sizeof(app_routes) / sizeof(app_routes[0]); i++) {
		const struct app_route *r = &app_routes[i];

		if (!app_route_match(r, req->path))
			continue;
		if (!(r->methods & (1u << req->method))) {
			a->stats.method_not_allowed++;
			app_reply_error(rep, 405, "method_not_allowed");
			rep->extra_headers = r->allow;
			return;
		}
		r->fn(a, c, req, rep);
		return;
	}
	a->stats.not_found++;
	app_reply_error(rep, 404, "not_found");
}
