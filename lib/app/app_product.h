/*
 * app_product.h - what the sale page shows of a campaign's product (name,
 * price, description, image), served from core memory.
 *
 * The control thread builds one immutable blob per campaign (app_product_new:
 * the JSON the page fetches, the image, their header lines) and publishes it
 * in a table of pointers that every worker reads (app_products_publish: one
 * release store). A worker acquire-loads the pointer per request and never
 * keeps it past the request: a streamed image's later pieces look the blob
 * up again and compare its tag, so an image replaced half-way resets that
 * connection rather than mixing two images. The replaced blob is freed by
 * the control thread after a grace period (ctl_product.c), far longer than
 * one request takes on a core.
 */
#ifndef SECKILL_APP_PRODUCT_H
#define SECKILL_APP_PRODUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_site.h"

/* One per campaign (lib/sale's SALE_MAX_CAMPAIGNS). */
#define APP_PRODUCTS_MAX 64
/* An image is one photo for a phone screen: 256 KiB is generous for a WebP
 * or JPEG at 1080 px, and bounds what each worker holds per campaign. */
#define APP_PRODUCT_IMAGE_MAX (256u << 10)
#define APP_PRODUCT_NAME_MAX 200
#define APP_PRODUCT_DESC_MAX 2000
#define APP_PRODUCT_PRICE_MAX 24
#define APP_PRODUCT_TYPE_MAX 40

/* What the operator gives (seckillctl campaign create/set); strings are UTF-8. */
struct app_product_in {
	uint32_t campaign;
	const char *name;            /* "" or NULL: none */
	const char *price;           /* decimal text, "19.99"; "" or NULL: none */
	const char *description;
	const uint8_t *image;        /* NULL: none */
	uint32_t image_len;
	const char *image_type;      /* image/png, image/jpeg, image/webp, image/gif, image/svg+xml */
};

struct app_product {
	uint32_t campaign;
	uint32_t json_len, image_len;
	uint32_t json_tag, image_tag;        /* identities of the bytes (streamed answers) */
	char image_type[APP_PRODUCT_TYPE_MAX];
	char json_etag[20], image_etag[20];  /* quoted, as sent */
	char json_hdr[APP_ASSET_HDR];        /* ETag, Cache-Control */
	char image_hdr[APP_ASSET_HDR];
	uint8_t *json;                       /* {"campaign":..,"name":..,"price":..,...} */
	uint8_t *image;                      /* NULL: none */
	/* The fields as given, for the control plane to persist and show. */
	char name[APP_PRODUCT_NAME_MAX + 1];
	char price[APP_PRODUCT_PRICE_MAX + 1];
	char description[APP_PRODUCT_DESC_MAX + 1];
};

/* The table the workers read; zeroed at start. */
struct app_products {
	struct app_product *slot[APP_PRODUCTS_MAX];
};

/*
 * Checks in and builds its blob: NULL with err saying what is wrong (too
 * long, not UTF-8 text, a price that is not a decimal, an image too large
 * or of an unknown type).
 */
struct app_product *app_product_new(const struct app_product_in *in, char *err, size_t errlen);
void app_product_free(struct app_product *p);

/* The image type of a file's first bytes (PNG, JPEG, GIF, WebP, SVG), or NULL. */
const char *app_product_sniff(const uint8_t *p, uint32_t len);

/*
 * Control thread only: makes p the product of its campaign, with one release
 * store, and returns the blob it replaces (NULL: none) for the caller to free
 * after the grace period. -1 when the table is full.
 */
int app_products_publish(struct app_products *t, struct app_product *p,
			 struct app_product **old);

/* The control thread's view (it is the only writer): plain loads. */
const struct app_product *app_products_peek(const struct app_products *t, uint32_t campaign);

/* A worker: the campaign's product, or NULL. Valid during this request only. */
static inline const struct app_product *app_product_get(const struct app_products *t,
							 uint32_t campaign)
{
	for (unsigned i = 0; i < APP_PRODUCTS_MAX; i++) {
		/* Pairs with the release store in app_products_publish: the blob
		 * behind the pointer is complete when the pointer is seen. */
		const struct app_product *p = __atomic_load_n(&t->slot[i], __ATOMIC_ACQUIRE);

		if (p == NULL)
			return NULL;        /* slots fill in order and never empty */
		if (p->campaign == campaign)
			return p;
	}
	return NULL;
}

#endif
