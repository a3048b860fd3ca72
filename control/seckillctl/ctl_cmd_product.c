/*
 * ctl_cmd_product.c - a campaign's product, as the sale page shows it:
 * `campaign create ... --name --price --image FILE --description` and
 * `campaign set --id ID [--name ..] [--price ..] [--image FILE] [--description ..]`.
 *
 * One "campaign.product" request on the control socket; what is not given is
 * kept. The image goes as an absolute path: seckill-dp, on this host, reads
 * the file (a request line is at most 4 KiB), so it is checked here first
 * (exists, 1 byte to 256 KiB) for a usage error before anything is sent.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "ctl_client.h"
#include "ctl_cmd_product.h"
#include "ctl_proto.h"
#include "str2int.h"

/* lib/app/app_product.h's bounds, checked again by the dataplane. */
#define CTL_IMAGE_MAX (256u << 10)
#define CTL_NAME_MAX 200
#define CTL_DESC_MAX 2000
#define CTL_REQ_CAP 4096

static const char set_usage[] =
	"Usage: seckillctl campaign set --id ID [--name TEXT] [--price DECIMAL]\n"
	"                               [--image FILE] [--description TEXT]\n"
	"                               [--socket PATH] [--json]\n"
	"\n"
	"Changes what the sale page shows of campaign ID: its product's name (up to\n"
	"200 bytes), price (a decimal such as 19.99, shown as given), image (PNG,\n"
	"JPEG, GIF, WebP or SVG, at most 256 KiB; --image '' removes it) and\n"
	"description (up to 2000 bytes). What is not given stays as it is. The\n"
	"workers serve the new product at once; it is kept in the state dir and,\n"
	"with --redis, in Redis (seckill:product:{ID}).\n";

bool ctl_product_given(const struct ctl_opts *o)
{
	return o->name || o->price || o->image || o->description;
}

/* "19", "19.9", "19.99": 1 to 12 digits, then at most two decimals. */
static bool price_ok(const char *s)
{
	size_t i = strspn(s, "0123456789"), d;

	if (i == 0 || i > 12)
		return false;
	if (s[i] == '\0')
		return true;
	if (s[i] != '.')
		return false;
	d = strspn(s + i + 1, "0123456789");
	return d >= 1 && d <= 2 && s[i + 1 + d] == '\0';
}

/* The checks the dataplane makes too, so a typo costs nothing. */
static int product_check(const struct ctl_opts *o, const char *hint, char *abs_image)
{
	struct stat st;

	if (o->name && strlen(o->name) > CTL_NAME_MAX)
		return ctl_usage_error(hint, "--name: %zu bytes; at most %d", strlen(o->name),
				       CTL_NAME_MAX);
	if (o->description && strlen(o->description) > CTL_DESC_MAX)
		return ctl_usage_error(hint, "--description: %zu bytes; at most %d",
				       strlen(o->description), CTL_DESC_MAX);
	if (o->price && o->price[0] && !price_ok(o->price))
		return ctl_usage_error(hint, "--price '%s': expected a decimal such as 19 or 19.99",
				       o->price);
	abs_image[0] = '\0';
	if (o->image && o->image[0]) {
		if (realpath(o->image, abs_image) == NULL || stat(abs_image, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			return ctl_usage_error(hint, "--image %s: no such file", o->image);
		if (st.st_size == 0 || st.st_size > (off_t)CTL_IMAGE_MAX)
			return ctl_usage_error(hint, "--image %s: %lld bytes; an image is 1 byte to "
					       "256 KiB (262144): scale it down or save it as WebP "
					       "or JPEG", o->image, (long long)st.st_size);
	}
	return 0;
}

int ctl_product_prepare(const struct ctl_opts *o, const char *hint, uint64_t id, char *req,
			size_t cap)
{
	char abs_image[PATH_MAX];
	struct ctl_buf b;
	int rc = product_check(o, hint, abs_image);

	if (rc != 0)
		return rc;
	ctl_buf_init(&b, req, cap);
	ctl_buf_printf(&b, "{\"cmd\":\"campaign.product\",\"id\":%" PRIu64, id);
	if (o->name) {
		ctl_buf_printf(&b, ",\"name\":");
		ctl_buf_json_str(&b, o->name);
	}
	if (o->price) {
		ctl_buf_printf(&b, ",\"price\":");
		ctl_buf_json_str(&b, o->price);
	}
	if (o->description) {
		ctl_buf_printf(&b, ",\"description\":");
		ctl_buf_json_str(&b, o->description);
	}
	if (o->image) {
		ctl_buf_printf(&b, ",\"image\":");
		ctl_buf_json_str(&b, abs_image);
	}
	ctl_buf_printf(&b, "}");
	if (b.overflow)
		return ctl_usage_error(hint, "--name and --description are too long together "
				       "(a request is at most 4 KiB)");
	return 0;
}

int ctl_product_send(const struct ctl_opts *o, const char *req)
{
	struct ctl_answer a;
	char s[CTL_DESC_MAX * 2 + 1];
	int rc = ctl_call(o, req, &a), p;

	if (rc != 0)
		return rc;
	if (!o->json) {
		p = ctl_json_get(a.text, a.t, 0, "product");
		printf("name       %s\n", ctl_ans_str(&a, p, "name", s, sizeof(s)));
		printf("price      %s\n", ctl_ans_str(&a, p, "price", s, sizeof(s)));
		printf("image      %" PRIu64 " bytes %s\n", ctl_ans_u64(&a, p, "image_bytes"),
		       ctl_ans_str(&a, p, "image_type", s, sizeof(s)));
		printf("description %s\n", ctl_ans_str(&a, p, "description", s, sizeof(s)));
	}
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

int ctl_campaign_set(int argc, char **argv)
{
	const char *hint = CTL_HINT("campaign", "set");
	struct ctl_opts o;
	uint64_t id;
	char req[CTL_REQ_CAP];
	int rc = ctl_opts_parse(argc, argv, "sjinPIdh", hint, &o);

	if (rc || o.help)
		return rc ? rc : (fputs(set_usage, stdout), CTL_EXIT_OK);
	if (o.id == NULL)
		return ctl_usage_error(hint, "--id ID is required");
	if (!str2u64(o.id, 1, UINT32_MAX, &id))
		return ctl_usage_error(hint, "--id '%s': expected a campaign id, 1..4294967295",
				       o.id);
	if (!ctl_product_given(&o))
		return ctl_usage_error(hint, "nothing to set: give --name, --price, --image or "
				       "--description");
	if ((rc = ctl_product_prepare(&o, hint, id, req, sizeof(req))) != 0)
		return rc;
	return ctl_product_send(&o, req);
}
