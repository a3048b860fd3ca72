/*
 * ctl_cmd_product.h - the product options of `seckillctl campaign create`
 * and `campaign set` (ctl_cmd_product.c).
 */
#ifndef SECKILL_CTL_CMD_PRODUCT_H
#define SECKILL_CTL_CMD_PRODUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_client.h"

/* Whether any of --name, --price, --image, --description was given. */
bool ctl_product_given(const struct ctl_opts *o);
/* Checks them and writes the "campaign.product" request for campaign id into
 * req: 0, or the exit code of a usage error it reported. */
int ctl_product_prepare(const struct ctl_opts *o, const char *hint, uint64_t id, char *req,
			size_t cap);
/* Sends it and prints the product: the exit code. */
int ctl_product_send(const struct ctl_opts *o, const char *req);
/* seckillctl campaign set. */
int ctl_campaign_set(int argc, char **argv);

#endif
