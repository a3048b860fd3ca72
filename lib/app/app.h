/*
 * app.h - the application behind the HTTP server: routes to answers.
 *
 * app_handle is the http_handler_fn the dataplane gives http_server_create,
 * with a struct app (one per worker core) as its ctx. The routes live in one
 * table in app_routes.c: a path, the methods it takes and its function. The
 * sale API (/api/campaigns/{id}, /api/orders/{id}) is added there as more
 * rows; a route's function gets the struct app and reaches the sale state
 * through it.
 */
#ifndef SECKILL_APP_H
#define SECKILL_APP_H

#include "http_server.h"
#include "stats.h"

/* Per-core answer counters, one per route and per refusal reason. */
#define APP_STATS(X) \
	X(index) X(healthz) X(not_found) X(method_not_allowed)

struct app_stats { APP_STATS(STATS_FIELD) };
extern const char *const app_stats_names[];
#define APP_STATS_N (0 APP_STATS(STATS_COUNT))

struct app {
	struct app_stats stats;
};

void app_init(struct app *a);

/* The http_handler_fn: ctx is a struct app. */
void app_handle(void *ctx, struct tcp_conn *c, const struct http_request *req,
		struct http_reply *rep);

const struct app_stats *app_stats(const struct app *a);

#endif
