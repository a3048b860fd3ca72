/*
 * app_priv.h - what the route files share: the route function type and the
 * answer helpers. Not for other modules.
 */
#ifndef SECKILL_APP_PRIV_H
#define SECKILL_APP_PRIV_H

#include "app.h"

typedef void (*app_route_fn)(struct app *a, struct tcp_conn *c,
			     const struct http_request *req, struct http_reply *rep);

/* Answers status with a constant body (content type NULL: JSON). */
void app_reply(struct http_reply *rep, uint16_t status, const char *type, const char *body);

/* Answers status with {"error":"<code>"}. */
void app_reply_error(struct http_reply *rep, uint16_t status, const char *code);

/* The sale API (app_sale.c): everything under these two prefixes. */
void app_route_campaigns(struct app *a, struct tcp_conn *c,
			 const struct http_request *req, struct http_reply *rep);
void app_route_orders(struct app *a, struct tcp_conn *c,
		      const struct http_request *req, struct http_reply *rep);

/* The sale page (app_page.c): /, /c/{id}..., /api/campaigns, the site's files. */
void app_route_page(struct app *a, struct tcp_conn *c,
		    const struct http_request *req, struct http_reply *rep);
void app_route_c(struct app *a, struct tcp_conn *c,
		 const struct http_request *req, struct http_reply *rep);
void app_route_list(struct app *a, struct tcp_conn *c,
		    const struct http_request *req, struct http_reply *rep);
void app_route_asset(struct app *a, struct tcp_conn *c,
		     const struct http_request *req, struct http_reply *rep);

#endif
