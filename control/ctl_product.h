/*
 * ctl_product.h - the campaigns' product data (name, price, description,
 * image) on the control thread: set by seckillctl, kept in the state dir and
 * in Redis, published to the workers (lib/app/app_product.h).
 */
#ifndef SECKILL_CTL_PRODUCT_H
#define SECKILL_CTL_PRODUCT_H

#include <stddef.h>

#include "app_product.h"
#include "dp_conf.h"

struct ctl_req;

/* The table every worker reads (dp_main.c hands it to them). */
struct app_products *ctl_product_table(void);

/*
 * At start, before the workers: remembers where products are kept (the state
 * dir, and Redis with --redis) and publishes those kept there. A product
 * that cannot be read is skipped with a line on stderr: the sale goes on.
 */
struct sale;
void ctl_product_restore(const struct dp_conf *conf, struct sale *s);

/*
 * With --redis, after seckill:campaigns:version moved (ctl_sale_redis.c):
 * reloads from Redis the products another host changed (their rev is not
 * the one loaded here), publishes them and records them in the state dir.
 */
void ctl_product_sync(struct sale *s);

/* After the workers stopped: frees every blob. */
void ctl_product_fini(void);

/* "campaign.product": id, and any of name, price, description, image (a
 * file path, read here) and image_type; what is not given is kept. */
void ctl_sock_campaign_product(struct ctl_req *r);

#endif
