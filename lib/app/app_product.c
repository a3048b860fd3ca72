/*
 * app_product.c - a campaign's product blob (app_product.h): checked,
 * turned into the JSON and headers the workers answer with, published.
 *
 * Runs on the control thread only (seckillctl's campaign create/set, a
 * restart's state dir, Redis); the workers only read what it publishes.
 */
#include "app_product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

/* Not a secret: ETags only have to change with the bytes (see app_site.c). */
static const uint64_t product_etag_key[2] = { 0x70726f6475637420ULL, 0x6574616720202020ULL };

/* The page polls for the units left, not for this: a few seconds in a
 * cache is enough for an operator's change to show soon. */
#define PRODUCT_CACHE_CONTROL "Cache-Control: public, max-age=5\r\n"

/* Valid UTF-8 with no control character but tab and newline. */
static bool text_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = p[i], k;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		k = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : 0;
		if (k == 0 || i + k >= n)         /* a bad lead byte, or cut short */
			return false;
		for (unsigned j = 1; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/* "19", "19.9", "19.99": up to 12 digits, then at most two decimals. */
static bool price_ok(const char *s)
{
	size_t i = 0, d = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i > 12)
		return false;
	if (s[i] == '.') {
		while (s[i + 1 + d] >= '0' && s[i + 1 + d] <= '9')
			d++;
		if (d == 0 || d > 2)
			return false;
		i += 1 + d;
	}
	return s[i] == '\0';
}

const char *app_product_sniff(const uint8_t *p, uint32_t n)
{
	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0)
		return "image/jpeg";
	if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
		return "image/gif";
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return "image/webp";
	if (n >= 5 && (memcmp(p, "<svg", 4) == 0 || memcmp(p, "<?xml", 5) == 0))
		return "image/svg+xml";
	return NULL;
}

/* Appends s to b as a JSON string's content (quotes, backslash, controls
 * and '<' escaped, so the text is safe even where it lands in HTML). */
static size_t json_esc(char *b, const char *s)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			o += (size_t)sprintf(b + o, "\\u%04x", c);
		} else {
			b[o++] = (char)c;
		}
	}
	return o;
}

static int field_ok(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max) {
		snprintf(err, errlen, "%s is %zu bytes; at most %zu", what, n, max);
		return -1;
	}
	if (n && !text_ok(s, n)) {
		snprintf(err, errlen, "%s is not UTF-8 text (control characters other than "
			 "tab and newline are refused)", what);
		return -1;
	}
	return 0;
}

static int product_check(const struct app_product_in *in, char *err, size_t errlen)
{
	if (field_ok("--name", in->name, APP_PRODUCT_NAME_MAX, err, errlen) < 0 ||
	    field_ok("--description", in->description, APP_PRODUCT_DESC_MAX, err, errlen) < 0)
		return -1;
	if (in->price && in->price[0] && !price_ok(in->price)) {
		snprintf(err, errlen, "--price '%s': expected a decimal such as 19 or 19.99",
			 in->price);
		return -1;
	}
	if (in->image && in->image_len > APP_PRODUCT_IMAGE_MAX) {
		snprintf(err, errlen, "the image is %u bytes; at most %u (256 KiB): scale it down "
			 "or save it as WebP or JPEG", in->image_len, APP_PRODUCT_IMAGE_MAX);
		return -1;
	}
	if (in->image && (in->image_type == NULL || strlen(in->image_type) >= APP_PRODUCT_TYPE_MAX ||
			  strncmp(in->image_type, "image/", 6) != 0)) {
		snprintf(err, errlen, "the image is not PNG, JPEG, GIF, WebP or SVG");
		return -1;
	}
	return 0;
}

static void product_json(struct app_product *p, char *b)
{
	size_t o = 0;

	o += (size_t)sprintf(b + o, "{\"campaign\":%u,\"name\":\"", p->campaign);
	o += json_esc(b + o, p->name);
	o += (size_t)sprintf(b + o, "\",\"price\":\"%s\",\"description\":\"", p->price);
	o += json_esc(b + o, p->description);
	if (p->image)
		o += (size_t)sprintf(b + o, "\",\"image\":\"/c/%u/image?v=%08x\"}", p->campaign,
				     p->image_tag);
	else
		o += (size_t)sprintf(b + o, "\",\"image\":null}");
	p->json_len = (uint32_t)o;
}

struct app_product *app_product_new(const struct app_product_in *in, char *err, size_t errlen)
{
	struct app_product *p;
	/* Every character escaped at worst as \u00XX, plus the fixed parts. */
	size_t cap = 6 * (APP_PRODUCT_NAME_MAX + APP_PRODUCT_DESC_MAX) + APP_PRODUCT_PRICE_MAX + 256;
	char *json;
	uint64_t h;

	if (product_check(in, err, errlen) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	json = malloc(cap);
	if (p == NULL || json == NULL || (in->image && !(p->image = malloc(in->image_len + 1)))) {
		free(json);
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->campaign = in->campaign;
	snprintf(p->name, sizeof(p->name), "%s", in->name ? in->name : "");
	snprintf(p->price, sizeof(p->price), "%s", in->price ? in->price : "");
	snprintf(p->description, sizeof(p->description), "%s",
		 in->description ? in->description : "");
	if (in->image) {
		memcpy(p->image, in->image, in->image_len);
		p->image_len = in->image_len;
		snprintf(p->image_type, sizeof(p->image_type), "%s", in->image_type);
		h = siphash24(product_etag_key, p->image, p->image_len);
		p->image_tag = (uint32_t)h;
		/* The page asks for ?v=<tag>: a new image is a new URL, so the
		 * old one may stay cached for long. */
		snprintf(p->image_etag, sizeof(p->image_etag), "\"%016llx\"", (unsigned long long)h);
		snprintf(p->image_hdr, sizeof(p->image_hdr),
			 "ETag: %s\r\nCache-Control: public, max-age=86400\r\n", p->image_etag);
	}
	product_json(p, json);
	p->json = (uint8_t *)json;
	h = siphash24(product_etag_key, json, p->json_len);
	p->json_tag = (uint32_t)h;
	snprintf(p->json_etag, sizeof(p->json_etag), "\"%016llx\"", (unsigned long long)h);
	snprintf(p->json_hdr, sizeof(p->json_hdr), "ETag: %s\r\n" PRODUCT_CACHE_CONTROL,
		 p->json_etag);
	return p;
}

void app_product_free(struct app_product *p)
{
	if (p == NULL)
		return;
	free(p->json);
	free(p->image);
	free(p);
}

int app_products_publish(struct app_products *t, struct app_product *p,
			 struct app_product **old)
{
	*old = NULL;
	for (unsigned i = 0; i < APP_PRODUCTS_MAX; i++) {
		struct app_product *cur = t->slot[i];   /* ours alone to write */

		if (cur != NULL && cur->campaign != p->campaign)
			continue;
		*old = cur;
		/* Pairs with the acquire load in app_product_get: a worker that
		 * sees the pointer sees the whole blob. */
		__atomic_store_n(&t->slot[i], p, __ATOMIC_RELEASE);
		return 0;
	}
	return -1;
}

const struct app_product *app_products_peek(const struct app_products *t, uint32_t campaign)
{
	for (unsigned i = 0; i < APP_PRODUCTS_MAX && t->slot[i] != NULL; i++)
		if (t->slot[i]->campaign == campaign)
			return t->slot[i];
	return NULL;
}
