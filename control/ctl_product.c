/*
 * ctl_product.c - the campaigns' product data on the control thread.
 *
 * `seckillctl campaign create ... --name --price --image FILE --description`
 * and `seckillctl campaign set --id ID [...]` send "campaign.product" here.
 * The control thread reads the image file itself (seckillctl runs on this
 * host, and a request line is at most 4 KiB), builds the campaign's
 * immutable blob (lib/app/app_product.c), records it, and publishes it to
 * the workers with one release store (app_products_publish).
 *
 * Where it is kept:
 *   - the state dir: <state-dir>/products/<id>.product, written to a
 *     temporary file, fsynced and renamed, so a crash leaves the old one or
 *     the new one. A state dir from before products existed has no such
 *     directory and reads as "no products": old state stays readable.
 *   - with --redis, the hash seckill:product:{<id>} beside the campaign's own
 *     keys (fields name, price, description, image_type, image), so a host
 *     that starts on an empty state dir finds the products other hosts set.
 *     Written and read with a short timeout: the control loop must not wait
 *     on a slow Redis for a picture. Each write also bumps the hash's `rev`
 *     and seckill:campaigns:version, which every host polls (ctl_sale_redis.c):
 *     a host that sees the version move asks each campaign's rev (one HGET)
 *     and reloads the products whose rev it has not loaded (ctl_product_sync),
 *     so a change made on one host is on every host's page within a sync
 *     period or two.
 *
 * Reclaiming a replaced blob: a worker holds the pointer it loaded only for
 * the request it is answering (a streamed image looks it up again for each
 * piece and resets the connection if it changed), so the old blob is freed
 * after CTL_PRODUCT_GRACE_MS, many orders of magnitude longer than any
 * request takes on a core. Retired blobs wait on a bounded list; when it is
 * full of blobs younger than the grace period, the change is refused with
 * `busy` (an operator does not change products 32 times in 10 s).
 */
#include "ctl_product.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_plane.h"
#include "ctl_redis.h"
#include "ctl_redis_route.h"
#include "ctl_sock_priv.h"
#include "now.h"

#define CTL_PRODUCT_GRACE_MS 10000
#define CTL_PRODUCT_RETIRE_MAX 32
/* Redis is asked with this timeout, on an operator's command or at start. */
#define CTL_PRODUCT_REDIS_TIMEOUT_MS 300
#define CTL_PRODUCT_MAGIC "seckill-product 1\n"

static struct app_products ctl_products;
static struct {
	struct app_product *p;
	uint64_t at_ms;
} ctl_retired[CTL_PRODUCT_RETIRE_MAX];
static unsigned ctl_n_retired;
static char ctl_product_dir[DP_PATH_CAP + 16];
static char ctl_redis_seeds[256];     /* --redis; "" without */
/* The Redis rev of each product this host loaded or wrote (0: none). */
static struct {
	uint32_t campaign;
	long long rev;
} ctl_revs[APP_PRODUCTS_MAX];
static unsigned ctl_n_revs;

static long long *ctl_product_rev(uint32_t campaign)
{
	for (unsigned i = 0; i < ctl_n_revs; i++)
		if (ctl_revs[i].campaign == campaign)
			return &ctl_revs[i].rev;
	if (ctl_n_revs == APP_PRODUCTS_MAX)
		return NULL;
	ctl_revs[ctl_n_revs].campaign = campaign;
	ctl_revs[ctl_n_revs].rev = 0;
	return &ctl_revs[ctl_n_revs++].rev;
}

struct app_products *ctl_product_table(void)
{
	return &ctl_products;
}

/* Frees the retired blobs whose grace period is over. */
static void ctl_product_reap(uint64_t now_ms)
{
	unsigned i, j = 0;

	for (i = 0; i < ctl_n_retired; i++) {
		if (now_ms - ctl_retired[i].at_ms >= CTL_PRODUCT_GRACE_MS)
			app_product_free(ctl_retired[i].p);
		else
			ctl_retired[j++] = ctl_retired[i];
	}
	ctl_n_retired = j;
}

/* Publishes p; 0, or -1 (table full, or no room to retire: p not taken). */
static int ctl_product_publish(struct app_product *p, char *err, size_t errlen)
{
	struct app_product *old;
	uint64_t now = now_wall_ms();

	ctl_product_reap(now);
	if (ctl_n_retired == CTL_PRODUCT_RETIRE_MAX) {
		snprintf(err, errlen, "%u products changed in the last %d s; try again in a few "
			 "seconds", CTL_PRODUCT_RETIRE_MAX, CTL_PRODUCT_GRACE_MS / 1000);
		return -1;
	}
	if (app_products_publish(&ctl_products, p, &old) < 0) {
		snprintf(err, errlen, "%d campaigns have products already", APP_PRODUCTS_MAX);
		return -1;
	}
	if (old != NULL) {
		ctl_retired[ctl_n_retired].p = old;
		ctl_retired[ctl_n_retired++].at_ms = now;
	}
	return 0;
}

/* ---- the state dir ---- */

static void put_field(FILE *f, const char *name, const void *v, size_t n)
{
	fprintf(f, "%s %zu\n", name, n);
	fwrite(v, 1, n, f);
	fputc('\n', f);
}

static int ctl_product_save_file(const struct app_product *p, char *err, size_t errlen)
{
	char path[sizeof(ctl_product_dir) + 32], tmp[sizeof(path) + 8];
	FILE *f;
	int ok;

	if (ctl_product_dir[0] == '\0')
		return 0;
	if (mkdir(ctl_product_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %.300s: %s", ctl_product_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%" PRIu32 ".product", ctl_product_dir, p->campaign);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL) {
		snprintf(err, errlen, "cannot write %.300s: %s", tmp, strerror(errno));
		return -1;
	}
	fputs(CTL_PRODUCT_MAGIC, f);
	put_field(f, "name", p->name, strlen(p->name));
	put_field(f, "price", p->price, strlen(p->price));
	put_field(f, "description", p->description, strlen(p->description));
	put_field(f, "image_type", p->image_type, p->image ? strlen(p->image_type) : 0);
	put_field(f, "image", p->image, p->image ? p->image_len : 0);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Reads "name len\n<bytes>\n" into a new buffer (NUL-terminated). */
static uint8_t *get_field(FILE *f, const char *name, size_t max, size_t *len)
{
	char key[32];
	size_t n;
	uint8_t *v;

	if (fscanf(f, "%31s %zu", key, &n) != 2 || strcmp(key, name) != 0 || n > max ||
	    fgetc(f) != '\n')
		return NULL;
	v = malloc(n + 1);
	if (v == NULL || fread(v, 1, n, f) != n || fgetc(f) != '\n') {
		free(v);
		return NULL;
	}
	v[n] = '\0';
	*len = n;
	return v;
}

/* The product kept in the state dir for campaign id, or NULL. */
static struct app_product *ctl_product_load_file(const char *path, uint32_t id)
{
	char magic[sizeof(CTL_PRODUCT_MAGIC)], err[256];
	uint8_t *v[5] = { 0 };
	size_t n[5] = { 0 };
	static const char *const names[5] = { "name", "price", "description", "image_type",
					       "image" };
	static const size_t max[5] = { APP_PRODUCT_NAME_MAX, APP_PRODUCT_PRICE_MAX,
				       APP_PRODUCT_DESC_MAX, APP_PRODUCT_TYPE_MAX,
				       APP_PRODUCT_IMAGE_MAX };
	struct app_product *p = NULL;
	FILE *f = fopen(path, "rb");
	unsigned i;

	if (f == NULL)
		return NULL;
	if (fgets(magic, sizeof(magic), f) == NULL || strcmp(magic, CTL_PRODUCT_MAGIC) != 0) {
		fprintf(stderr, "seckill-dp: %s: not a product file; skipped\n", path);
		goto out;
	}
	for (i = 0; i < 5; i++) {
		v[i] = get_field(f, names[i], max[i], &n[i]);
		if (v[i] == NULL) {
			fprintf(stderr, "seckill-dp: %s: field %s unreadable; skipped\n", path,
				names[i]);
			goto out;
		}
	}
	p = app_product_new(&(struct app_product_in){
		.campaign = id, .name = (char *)v[0], .price = (char *)v[1],
		.description = (char *)v[2], .image_type = (char *)v[3],
		.image = n[4] ? v[4] : NULL, .image_len = (uint32_t)n[4] }, err, sizeof(err));
	if (p == NULL)
		fprintf(stderr, "seckill-dp: %s: %s; skipped\n", path, err);
out:
	for (i = 0; i < 5; i++)
		free(v[i]);
	fclose(f);
	return p;
}

/* ---- Redis ---- */

/* A route to Redis (one, or a cluster's primaries): NULL when it does not answer. */
static struct ctl_route *ctl_product_redis(void)
{
	struct timeval tv = { 0, CTL_PRODUCT_REDIS_TIMEOUT_MS * 1000 };
	char err[CTL_REDIS_ERR_CAP];

	if (ctl_redis_seeds[0] == '\0')
		return NULL;
	return ctl_route_new(ctl_redis_seeds, tv, NULL, NULL, err, sizeof(err));
}

/* A command (formatted as redisCommand, %b included: no printf attribute)
 * to the node of key's slot; NULL when no answer came. */
static redisReply *ctl_product_cmd(struct ctl_route *rt, const char *key, const char *fmt, ...)
{
	redisReply *rep = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ctl_route_vcommand(rt, "product", key, &rep, fmt, ap);
	va_end(ap);
	return rc == CTL_REDIS_OK ? rep : NULL;
}

static int ctl_product_save_redis(const struct app_product *p, char *err, size_t errlen)
{
	char key[CTL_REDIS_KEY_CAP];
	struct ctl_route *rt;
	redisReply *rep;
	int ok;

	if (ctl_redis_seeds[0] == '\0')
		return 0;
	rt = ctl_product_redis();
	if (rt == NULL) {
		snprintf(err, errlen, "Redis %s does not answer", ctl_redis_seeds);
		return -1;
	}
	snprintf(key, sizeof(key), "seckill:product:{%" PRIu32 "}", p->campaign);
	rep = ctl_product_cmd(rt, key, "HSET %s name %s price %s description %s image_type %s "
			      "image %b", key, p->name, p->price, p->description,
			      p->image ? p->image_type : "", p->image ? (const char *)p->image : "",
			      (size_t)(p->image ? p->image_len : 0));
	ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(err, errlen, "Redis refused the product: %s",
			 rep ? rep->str : ctl_route_error(rt));
	freeReplyObject(rep);
	/* The other hosts learn of it by the version they poll. */
	if (ok) {
		long long *rev = ctl_product_rev(p->campaign);

		rep = ctl_product_cmd(rt, key, "HINCRBY %s rev 1", key);
		if (rep != NULL && rep->type == REDIS_REPLY_INTEGER && rev != NULL)
			*rev = rep->integer;
		freeReplyObject(rep);
		freeReplyObject(ctl_product_cmd(rt, CTL_REDIS_VERSION_KEY,
						"INCR " CTL_REDIS_VERSION_KEY));
	}
	ctl_route_free(rt);
	return ok ? 0 : -1;
}

static struct app_product *ctl_product_load_redis(struct ctl_route *rt, uint32_t id)
{
	char key[CTL_REDIS_KEY_CAP];
	redisReply *rep;

	snprintf(key, sizeof(key), "seckill:product:{%" PRIu32 "}", id);
	rep = ctl_product_cmd(rt, key, "HMGET %s name price description image_type image", key);
	struct app_product *p = NULL;
	char err[256];

	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 5 &&
	    rep->element[0]->type == REDIS_REPLY_STRING) {
		redisReply **e = rep->element;
		bool img = e[4]->type == REDIS_REPLY_STRING && e[4]->len > 0;

		p = app_product_new(&(struct app_product_in){
			.campaign = id, .name = e[0]->str,
			.price = e[1]->type == REDIS_REPLY_STRING ? e[1]->str : NULL,
			.description = e[2]->type == REDIS_REPLY_STRING ? e[2]->str : NULL,
			.image_type = e[3]->type == REDIS_REPLY_STRING ? e[3]->str : NULL,
			.image = img ? (const uint8_t *)e[4]->str : NULL,
			.image_len = img ? (uint32_t)e[4]->len : 0 }, err, sizeof(err));
		if (p == NULL)
			fprintf(stderr, "seckill-dp: Redis seckill:product:{%" PRIu32 "}: %s; "
				"skipped\n", id, err);
	}
	freeReplyObject(rep);
	return p;
}

void ctl_product_restore(const struct dp_conf *conf, struct sale *s)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n = s ? sale_campaign_ids(s, ids, SALE_MAX_CAMPAIGNS) : 0;
	struct ctl_route *c = NULL;
	struct app_product *p;
	char path[sizeof(ctl_product_dir) + 32], err[256];

	snprintf(ctl_product_dir, sizeof(ctl_product_dir), "%s/products", conf->sale.state_dir);
	if (conf->sale.redis_port != 0)
		snprintf(ctl_redis_seeds, sizeof(ctl_redis_seeds), "%s", conf->sale.redis_seeds);
	/* The campaigns known now: the command line's, the state dir's, Redis's. */
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%" PRIu32 ".product", ctl_product_dir, ids[i]);
		p = ctl_product_load_file(path, ids[i]);
		if (p == NULL && ctl_redis_seeds[0] != '\0') {
			if (c == NULL)
				c = ctl_product_redis();
			if (c != NULL)
				p = ctl_product_load_redis(c, ids[i]);
		}
		if (p != NULL && ctl_product_publish(p, err, sizeof(err)) < 0) {
			fprintf(stderr, "seckill-dp: campaign %" PRIu32 "'s product: %s\n", ids[i], err);
			app_product_free(p);
		}
	}
	ctl_route_free(c);
}

void ctl_product_sync(struct sale *s)
{
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n = sale_campaign_ids(s, ids, SALE_MAX_CAMPAIGNS);
	char err[256], key[CTL_REDIS_KEY_CAP];
	struct ctl_route *c;

	if (ctl_redis_seeds[0] == '\0' || n == 0 || (c = ctl_product_redis()) == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		long long *have = ctl_product_rev(ids[i]), rev;
		redisReply *rep;

		snprintf(key, sizeof(key), "seckill:product:{%" PRIu32 "}", ids[i]);
		rep = ctl_product_cmd(c, key, "HGET %s rev", key);
		struct app_product *p;

		if (rep == NULL)
			break;                  /* Redis went away: the next change */
		rev = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
		freeReplyObject(rep);
		if (rev == 0 || have == NULL || rev == *have)
			continue;
		p = ctl_product_load_redis(c, ids[i]);
		if (p == NULL)
			continue;
		if (ctl_product_publish(p, err, sizeof(err)) < 0) {
			fprintf(stderr, "seckill-dp: campaign %" PRIu32 "'s product from Redis: %s\n",
				ids[i], err);
			app_product_free(p);
			continue;               /* tried again at the next change */
		}
		*have = rev;
		/* A restart on this state dir shows it too. */
		if (ctl_product_save_file(p, err, sizeof(err)) < 0)
			fprintf(stderr, "seckill-dp: campaign %" PRIu32 "'s product: %s\n", ids[i], err);
	}
	ctl_route_free(c);
}

/* ---- the control socket: "campaign.product" ---- */

/* A string field into out: 1 given, 0 absent, -1 bad (answered). */
static int req_str(struct ctl_req *r, const char *name, char *out, size_t cap)
{
	int i = ctl_json_get(r->text, r->t, 0, name);

	if (i < 0)
		return 0;
	if (ctl_json_str(r->text, r->t, i, out, cap) < 0) {
		ctl_req_err(r, "bad_request", "'%s' must be a string of at most %zu bytes", name,
			    cap - 1);
		return -1;
	}
	return 1;
}

/* Reads the image file at path (bounded); 0, or -1 answered. */
static int read_image(struct ctl_req *r, const char *path, uint8_t **data, uint32_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ctl_req_err(r, "bad_request", "cannot read the image %s: %s", path,
			    fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size > (off_t)APP_PRODUCT_IMAGE_MAX || st.st_size == 0) {
		ctl_req_err(r, "too_large", "the image %s is %lld bytes; it must be 1 to %u "
			    "(256 KiB): scale it down or save it as WebP or JPEG", path,
			    (long long)st.st_size, APP_PRODUCT_IMAGE_MAX);
		close(fd);
		return -1;
	}
	*data = malloc((size_t)st.st_size);
	got = *data ? read(fd, *data, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		free(*data);
		ctl_req_err(r, "failed", "cannot read the image %s", path);
		return -1;
	}
	*len = (uint32_t)st.st_size;
	return 0;
}

void ctl_sock_campaign_product(struct ctl_req *r)
{
	static const char *const f[] = { "id", "name", "price", "description", "image", NULL };
	static char name[APP_PRODUCT_NAME_MAX + 1], price[APP_PRODUCT_PRICE_MAX + 1],
		desc[APP_PRODUCT_DESC_MAX + 1], image_path[DP_PATH_CAP];
	const struct app_product *cur;
	struct app_product_in in = { 0 };
	struct sale_campaign_view v;
	struct app_product *p;
	uint8_t *img = NULL;
	uint64_t id;
	char err[512];
	int gn, gp, gd, gi;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r) ||
	    ctl_req_u64(r, "id", 1, UINT32_MAX, true, &id) < 0)
		return;
	if (!sale_campaign_info(r->st->ctl->sale, (uint32_t)id, now_wall_ms(), &v)) {
		ctl_req_err(r, "unknown_campaign", "no campaign %" PRIu64 "; see 'seckillctl "
			    "campaign list'", id);
		return;
	}
	if ((gn = req_str(r, "name", name, sizeof(name))) < 0 ||
	    (gp = req_str(r, "price", price, sizeof(price))) < 0 ||
	    (gd = req_str(r, "description", desc, sizeof(desc))) < 0 ||
	    (gi = req_str(r, "image", image_path, sizeof(image_path))) < 0)
		return;
	/* What is not given stays as it is. */
	cur = app_products_peek(&ctl_products, (uint32_t)id);
	in.campaign = (uint32_t)id;
	in.name = gn ? name : cur ? cur->name : NULL;
	in.price = gp ? price : cur ? cur->price : NULL;
	in.description = gd ? desc : cur ? cur->description : NULL;
	if (gi && image_path[0] != '\0') {
		if (read_image(r, image_path, &img, &in.image_len) < 0)
			return;
		in.image = img;
		in.image_type = app_product_sniff(img, in.image_len);
	} else if (!gi && cur && cur->image) {
		in.image = cur->image;
		in.image_len = cur->image_len;
		in.image_type = cur->image_type;
	}
	p = app_product_new(&in, err, sizeof(err));
	free(img);
	if (p == NULL) {
		ctl_req_err(r, "bad_request", "%s", err);
		return;
	}
	if (ctl_product_publish(p, err, sizeof(err)) < 0) {
		app_product_free(p);
		ctl_req_err(r, "busy", "%s", err);
		return;
	}
	if (ctl_product_save_file(p, err, sizeof(err)) < 0 ||
	    ctl_product_save_redis(p, err, sizeof(err)) < 0) {
		ctl_req_err(r, "not_recorded", "the product is on sale but not recorded (%s): a "
			    "restart would forget it", err);
		return;
	}
	ctl_buf_printf(r->b, "{\"ok\":true,\"product\":{\"campaign\":%" PRIu64 ",\"name\":", id);
	ctl_buf_json_str(r->b, p->name);
	ctl_buf_printf(r->b, ",\"price\":");
	ctl_buf_json_str(r->b, p->price);
	ctl_buf_printf(r->b, ",\"description\":");
	ctl_buf_json_str(r->b, p->description);
	ctl_buf_printf(r->b, ",\"image_bytes\":%" PRIu32 ",\"image_type\":", p->image_len);
	ctl_buf_json_str(r->b, p->image ? p->image_type : "");
	ctl_buf_printf(r->b, "}}");
}

void ctl_product_fini(void)
{
	for (unsigned i = 0; i < ctl_n_retired; i++)
		app_product_free(ctl_retired[i].p);
	ctl_n_retired = 0;
	for (unsigned i = 0; i < APP_PRODUCTS_MAX; i++) {
		app_product_free(ctl_products.slot[i]);
		ctl_products.slot[i] = NULL;
	}
}
