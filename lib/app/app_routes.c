/*
 * app_routes.c - the route table and the routes that are not the sale API.
 *
 * A request's path is matched exactly against each row (a handful of rows:
 * a linear scan of short memcmps beats any structure here). A path that
 * matches with a method the row does not take is 405 with the row's Allow
 * header (RFC 9110 15.5.6); no match at all is 404. HEAD is routed as GET:
 * the server sends the head only.
 */
#include "app.h"

#include <string.h>

const char *const app_stats_names[] = { APP_STATS(STATS_NAME) };

#define M(m) (1u << HTTP_METHOD_##m)
#define M_GET_HEAD (M(GET) | M(HEAD))

typedef void (*app_route_fn)(struct app *a, struct tcp_conn *c,
			     const struct http_request *req, struct http_reply *rep);

struct app_route {
	const char *path;
	uint32_t methods;            /* M() bits */
	const char *allow;           /* the Allow line a 405 carries */
	app_route_fn fn;
};

/* Copies a constant body into the reply (they are all far below body_cap). */
static void reply(struct http_reply *rep, uint16_t status, const char *type, const char *body)
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
	"<code>POST /api/orders</code> (buy), <code>GET /api/orders/{id}</code> "
	"(an order's state).</p>\n"
	"</body></html>\n";

static void route_index(struct app *a, struct tcp_conn *c,
			const struct http_request *req, struct http_reply *rep)
{
	(void)c;
	(void)req;
	a->stats.index++;
	reply(rep, 200, "text/html; charset=utf-8", index_html);
}

static void route_healthz(struct app *a, struct tcp_conn *c,
			  const struct http_request *req, struct http_reply *rep)
{
	(void)c;
	(void)req;
	a->stats.healthz++;
	reply(rep, 200, NULL, "{\"status\":\"ok\"}");
}

static const struct app_route app_routes[] = {
	{ "/", M_GET_HEAD, "Allow: GET, HEAD\r\n", route_index },
	{ "/healthz", M_GET_HEAD, "Allow: GET, HEAD\r\n", route_healthz },
};

void app_init(struct app *a)
{
	memset(a, 0, sizeof(*a));
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

		if (!http_span_eq(req->path, r->path))
			continue;
		if (!(r->methods & (1u << req->method))) {
			a->stats.method_not_allowed++;
			reply(rep, 405, NULL, "{\"error\":\"method_not_allowed\"}");
			rep->extra_headers = r->allow;
			return;
		}
		r->fn(a, c, req, rep);
		return;
	}
	a->stats.not_found++;
	reply(rep, 404, NULL, "{\"error\":\"not_found\"}");
}
