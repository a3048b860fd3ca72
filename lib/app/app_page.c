/*
 * app_page.c - the sale page's routes: the page, its files, each campaign's
 * product and image, and the list of campaigns the page shows.
 *
 *   GET /                  the page (index.html): the open and upcoming campaigns
 *   GET /c/{id}            the same page, showing campaign id
 *   GET /c/{id}/product    the product's JSON (name, price, description, image URL)
 *   GET /c/{id}/image      the product's image, with its content type
 *   GET /api/campaigns     {"now_ms":..,"campaigns":[{id,state,starts_at,stock,left,pow_bits}]}
 *   GET /<file>            the site's other files (app.js, worker.js, style.css ...)
 *
 * Nothing here formats or reads a file per request, but the list: the site
 * was built at start (app_site.c) and each product by the control thread
 * (app_product.c), headers included, and the answer points at those bytes
 * (http_reply.ext_body), which the server sends in pieces when they exceed
 * the send buffer. Per request a route only picks the copy (gzip when
 * Accept-Encoding allows it) and compares If-None-Match with the ETag.
 */
#include "app_priv.h"

#include <string.h>

#include "app_product.h"
#include "app_site.h"
#include "sale.h"
#include "siphash.h"
#include "str2int.h"

#define C_PREFIX "/c/"
#define PRODUCT_SUFFIX "/product"
#define IMAGE_SUFFIX "/image"

static const char allow_get[] = "Allow: GET, HEAD\r\n";

const struct app_asset *app_site_find(const struct app_site *s, const char *path, size_t n)
{
	for (unsigned i = 0; s != NULL && i < s->n; i++)
		if (strlen(s->f[i].path) == n && memcmp(s->f[i].path, path, n) == 0)
			return &s->f[i];
	return NULL;
}

void app_set_site(struct app *a, const struct app_site *site)
{
	a->site = site;
}

void app_set_products(struct app *a, const struct app_products *t)
{
	a->products = t;
}

/* Whether the span holds needle (n bytes). */
static bool span_has(struct http_span v, const char *needle, size_t n)
{
	for (uint32_t i = 0; v.p != NULL && i + n <= v.len; i++)
		if (memcmp(v.p + i, needle, n) == 0)
			return true;
	return false;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/*
 * Whether Accept-Encoding lists gzip with a q above 0 (RFC 9110 12.5.3).
 * Browsers send "gzip, deflate, br"; "gzip;q=0" is a refusal, and so is a
 * missing header (identity only, as curl without --compressed asks).
 */
static bool accepts_gzip(const struct http_request *req)
{
	const struct http_span *h = http_request_header(req, "accept-encoding");
	uint32_t i, j;

	if (h == NULL)
		return false;
	for (i = 0; i + 4 <= h->len; i++) {
		if (lower(h->p[i]) != 'g' || lower(h->p[i + 1]) != 'z' || lower(h->p[i + 2]) != 'i' ||
		    lower(h->p[i + 3]) != 'p')
			continue;
		if (i > 0 && h->p[i - 1] != ' ' && h->p[i - 1] != ',' && h->p[i - 1] != '\t')
			continue;
		j = i + 4;
		while (j < h->len && (h->p[j] == ' ' || h->p[j] == '\t'))
			j++;
		if (j == h->len || h->p[j] == ',')
			return true;
		if (h->p[j] != ';')
			continue;
		/* ;q=0, ;q=0.0, ;q=0.00, ;q=0.000: refused; any other weight accepts. */
		for (j++; j < h->len && (h->p[j] == ' ' || h->p[j] == '\t'); j++)
			;
		if (j + 2 < h->len && lower(h->p[j]) == 'q' && h->p[j + 1] == '=' && h->p[j + 2] == '0') {
			for (j += 3; j < h->len && (h->p[j] == '.' || h->p[j] == '0'); j++)
				;
			if (j == h->len || h->p[j] == ',' || h->p[j] == ' ')
				return false;
		}
		return true;
	}
	return false;
}

/*
 * Answers with bytes built in advance: 304 when If-None-Match names etag
 * (weak comparison, as RFC 9110 13.1.2 asks for If-None-Match; "*" too),
 * else 200 pointing at the bytes.
 */
static void reply_bytes(struct http_reply *rep, const struct http_request *req,
			const char *type, const char *etag, const char *hdr,
			const uint8_t *body, uint32_t len, uint32_t tag, bool *not_modified)
{
	const struct http_span *inm = http_request_header(req, "if-none-match");

	*not_modified = inm != NULL && (span_has(*inm, etag, strlen(etag)) ||
					(inm->len == 1 && inm->p[0] == '*'));
	rep->extra_headers = hdr;
	if (*not_modified) {
		rep->status = 304;
		rep->body_len = 0;
		return;
	}
	rep->status = 200;
	rep->content_type = type;
	rep->ext_body = body;
	rep->ext_len = len;
	rep->ext_tag = tag;
}

/* One file of the site, gzipped when the client takes it. */
static void serve_asset(struct app *a, const struct http_request *req, struct http_reply *rep,
			const struct app_asset *f)
{
	bool gz = f->gz != NULL && accepts_gzip(req), nm;

	if (gz)
		reply_bytes(rep, req, f->type, f->etag_gz, f->hdr_gz, f->gz, f->gz_len,
			    f->tag ^ 1, &nm);
	else
		reply_bytes(rep, req, f->type, f->etag, f->hdr, f->body, f->len, f->tag, &nm);
	if (rep->resume)
		return;                          /* counted when it began */
	a->stats.page++;
	if (nm)
		a->stats.page_not_modified++;
	else if (gz)
		a->stats.page_gzip++;
}

static bool get_only(struct app *a, const struct http_request *req, struct http_reply *rep)
{
	if (req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD)
		return true;
	a->stats.method_not_allowed++;
	app_reply_error(rep, 405, "method_not_allowed");
	rep->extra_headers = allow_get;
	return false;
}

static void page_not_found(struct app *a, struct http_reply *rep)
{
	a->stats.not_found++;
	app_reply_error(rep, 404, "not_found");
}

/* GET / (the route table checked the method). */
void app_route_page(struct app *a, struct tcp_conn *c, const struct http_request *req,
		    struct http_reply *rep)
{
	(void)c;
	if (a->site == NULL || a->site->index == NULL) {
		page_not_found(a, rep);
		return;
	}
	serve_asset(a, req, rep, a->site->index);
}

/* Any other path: a file of the site, or 404. */
void app_route_asset(struct app *a, struct tcp_conn *c, const struct http_request *req,
		     struct http_reply *rep)
{
	const struct app_asset *f = app_site_find(a->site, req->path.p, req->path.len);

	(void)c;
	if (f == NULL) {
		page_not_found(a, rep);
		return;
	}
	if (get_only(a, req, rep))
		serve_asset(a, req, rep, f);
}

/* /c/{id}, /c/{id}/product, /c/{id}/image. */
void app_route_c(struct app *a, struct tcp_conn *c, const struct http_request *req,
		 struct http_reply *rep)
{
	const char *id = req->path.p + strlen(C_PREFIX);
	size_t rest = req->path.len - strlen(C_PREFIX), n = 0;
	const struct app_product *p;
	unsigned long long v;
	bool nm;

	(void)c;
	while (n < rest && id[n] != '/')
		n++;
	if (n == 0 || n > 10 || !str2ull(id, n, &v) || v > UINT32_MAX) {
		page_not_found(a, rep);
		return;
	}
	if (!get_only(a, req, rep))
		return;
	if (n == rest) {                         /* the page; its JS asks for the rest */
		app_route_page(a, c, req, rep);
		return;
	}
	p = a->products ? app_product_get(a->products, (uint32_t)v) : NULL;
	if (rest - n == strlen(PRODUCT_SUFFIX) && memcmp(id + n, PRODUCT_SUFFIX, rest - n) == 0) {
		if (p == NULL) {
			/* No product set: an empty one, not a 404, so a page for
			 * a bare campaign logs no failed request. */
			if (!rep->resume)
				a->stats.product_none++;
			app_reply(rep, 200, NULL, "{\"name\":\"\",\"price\":\"\","
				  "\"description\":\"\",\"image\":null}");
			rep->extra_headers = "Cache-Control: public, max-age=5\r\n";
			return;
		}
		reply_bytes(rep, req, NULL, p->json_etag, p->json_hdr, p->json, p->json_len,
			    p->json_tag, &nm);
		if (!rep->resume)
			a->stats.product++;
		return;
	}
	if (rest - n == strlen(IMAGE_SUFFIX) && memcmp(id + n, IMAGE_SUFFIX, rest - n) == 0) {
		if (p == NULL || p->image == NULL) {
			if (!rep->resume)
				a->stats.product_none++;
			app_reply_error(rep, 404, "no_image");
			return;
		}
		reply_bytes(rep, req, p->image_type, p->image_etag, p->image_hdr, p->image,
			    p->image_len, p->image_tag, &nm);
		if (!rep->resume)
			a->stats.image++;
		return;
	}
	page_not_found(a, rep);
}

/* A JSON body in a->list, bounded by APP_LIST_CAP. */
struct lb {
	char *p;
	uint32_t len;
	bool over;
};

static void lb_str(struct lb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->over || n > APP_LIST_CAP - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += (uint32_t)n;
}

static void lb_u64(struct lb *b, uint64_t v)
{
	char d[21];
	size_t i = sizeof(d) - 1;

	d[i] = '\0';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	lb_str(b, d + i);
}

/*
 * GET /api/campaigns: every campaign, and the server's clock (now_ms), which
 * the page uses to count down on the server's time rather than the phone's.
 * Built per request (it changes with every sale), into a->list; at most
 * SALE_MAX_CAMPAIGNS entries of about 110 bytes.
 */
void app_route_list(struct app *a, struct tcp_conn *c, const struct http_request *req,
		    struct http_reply *rep)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n;
	struct lb b = { a->list, 0, false };
	uint64_t h;

	(void)c;
	if (a->sale == NULL) {
		a->stats.no_sale++;
		page_not_found(a, rep);
		return;
	}
	if (!get_only(a, req, rep))
		return;
	n = sale_campaign_ids(a->sale->s, ids, SALE_MAX_CAMPAIGNS);
	lb_str(&b, "{\"now_ms\":");
	lb_u64(&b, a->now_ms);
	lb_str(&b, ",\"campaigns\":[");
	for (unsigned i = 0; i < n; i++) {
		struct sale_campaign_view v;

		if (!sale_campaign_info(a->sale->s, ids[i], a->now_ms, &v))
			continue;
		lb_str(&b, i ? ",{\"id\":" : "{\"id\":");
		lb_u64(&b, v.id);
		lb_str(&b, ",\"state\":\"");
		lb_str(&b, sale_phase_str(v.phase));
		lb_str(&b, "\",\"starts_at\":");
		lb_u64(&b, v.starts_at_ms);
		lb_str(&b, ",\"stock\":");
		lb_u64(&b, v.stock);
		lb_str(&b, ",\"left\":");
		lb_u64(&b, v.left);
		lb_str(&b, ",\"pow_bits\":");
		lb_u64(&b, v.pow_bits);
		lb_str(&b, "}");
	}
	lb_str(&b, "]}");
	if (b.over) {
		rep->body_len = rep->body_cap + 1;       /* the server's 500; cannot be */
		return;
	}
	if (!rep->resume)
		a->stats.campaign_list++;
	/* Its identity, should it be streamed: a resumed list that changed
	 * meanwhile resets the connection rather than splicing two lists. */
	h = siphash24((const uint64_t[2]){ 0, 0 }, a->list, b.len);
	rep->extra_headers = "Cache-Control: no-store\r\n";
	rep->ext_body = (const uint8_t *)a->list;
	rep->ext_len = b.len;
	rep->ext_tag = (uint32_t)h;
}
