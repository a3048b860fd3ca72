/*
 * ctl_sock_campaign.c - campaign.create, .list, .show, .open, .close and .pow on
 * seckill-dp's control socket (seckillctl's side: ctl_cmd_campaign.c).
 *
 * A campaign made here is sold at once by every worker, without a restart:
 * sale_campaign_add fills a free slot and publishes it with a release store
 * of the campaign count, which the workers' look-up (sale_campaign_find)
 * acquires, so a core sees the campaign whole or not at all. Room:
 * SALE_MAX_CAMPAIGNS, and --max-stock units in all (the order books are
 * sized by it when the sale is created). With --redis a new campaign is made
 * in Redis, so the other hosts sell the same stock. open and close store the
 * campaign's state word, and record it in Redis, whose version tells the
 * other hosts (they follow within a few tens of ms, ctl_sale_redis.c) and
 * hosts that start later. Without Redis, create, open and close are
 * recorded in the state dir (ctl_campaigns.c), so a restart keeps them.
 * pow sets the proof of work a campaign's orders need (lib/sale/pow.h),
 * live, as one relaxed store the workers load per order, and records it as
 * open and close record the state.
 * release_host gives a dead host's holding in Redis back to the stock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl_redis.h"
#include "ctl_sock_priv.h"
#include "now.h"

/* The campaign as answers show it: {"id":..,"phase":..,..,"sold_per_core":[..]}. */
static void ctl_campaign_json(struct ctl_req *r, uint32_t id)
{
	struct sale *s = r->st->ctl->sale;
	struct stock_pool *pool = sale_campaign_pool(s, id);
	struct sale_campaign_view v;

	sale_campaign_info(s, id, now_wall_ms(), &v);
	ctl_buf_printf(r->b, "{\"id\":%" PRIu32 ",\"phase\":\"%s\",\"stock\":%" PRIu64
		       ",\"left\":%" PRIu64 ",\"sold\":%" PRIu64 ",\"starts_at\":%" PRIu64
		       ",\"pow_bits\":%u,\"sold_per_core\":[", id, sale_phase_str(v.phase),
		       v.stock, v.left, v.stock - v.left, v.starts_at_ms, v.pow_bits);
	for (unsigned i = 0; i < sale_n_cores(s); i++)
		/* share.sold: the owner's atomic store; any thread may load it. */
		ctl_buf_printf(r->b, "%s%" PRIu64, i ? "," : "",
			       (uint64_t)atomic_load_explicit(&pool->share[i].sold,
							      memory_order_relaxed));
	ctl_buf_printf(r->b, "]}");
}

/* {"ok":true,"campaign":{...}}: what every campaign command but list answers. */
static void ctl_campaign_answer(struct ctl_req *r, uint32_t id)
{
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":");
	ctl_campaign_json(r, id);
	ctl_buf_printf(r->b, "}");
}

/* show, open, close: a request of one field, the "id" of a campaign that
 * exists; false answered with an error. */
static bool ctl_campaign_id(struct ctl_req *r, uint32_t *id)
{
	static const char *const f[] = { "id", NULL };
	uint64_t v;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r) ||
	    ctl_req_u64(r, "id", 1, UINT32_MAX, true, &v) < 0)
		return false;
	*id = (uint32_t)v;
	if (sale_campaign_pool(r->st->ctl->sale, *id) != NULL)
		return true;
	ctl_req_err(r, "unknown_campaign", "no campaign %" PRIu32 "; see 'seckillctl campaign "
		    "list'", *id);
	return false;
}

/* With --redis: made in Redis (or preheated from it if another host made it). */
static void ctl_campaign_create_redis(struct ctl_req *r, uint32_t id, uint64_t stock,
				      uint64_t at, unsigned buckets)
{
	struct dp_campaign cp = { .id = id, .stock = stock, .starts_at_ms = at,
				  .buckets = buckets };
	char err[512];

	if (ctl_sale_redis_campaign_create(r->st->ctl, &cp, err, sizeof(err)) < 0) {
		ctl_req_err(r, "failed", "%s", err);
		return;
	}
	ctl_campaign_answer(r, id);
}

/* Why sale_campaign_add refused (rc < 0), as an error answer. */
static void ctl_campaign_add_failed(struct ctl_req *r, int rc, uint64_t id, uint64_t stock)
{
	if (rc == -EEXIST)
		ctl_req_err(r, "exists", "campaign %" PRIu64 " exists already", id);
	else if (rc == -ENOSPC)
		ctl_req_err(r, "no_room", "no room for %" PRIu64 " more units or another "
			    "campaign (at most %u campaigns, %" PRIu64 " units in all: "
			    "seckill-dp --max-stock)", stock, SALE_MAX_CAMPAIGNS,
			    r->st->conf->sale.max_stock);
	else
		ctl_req_err(r, "failed", "cannot add campaign %" PRIu64 ": %s", id,
			    strerror(-rc));
}

void ctl_sock_campaign_create(struct ctl_req *r)
{
	static const char *const f[] = { "id", "stock", "starts_at", "buckets", NULL };
	struct sale *s = r->st->ctl->sale;
	uint64_t id, stock, at = 0, buckets = 1;
	char err[512];
	int rc;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r) ||
	    ctl_req_u64(r, "id", 1, UINT32_MAX, true, &id) < 0 ||
	    ctl_req_u64(r, "stock", 1, DP_STOCK_MAX, true, &stock) < 0 ||
	    ctl_req_u64(r, "starts_at", 0, UINT64_MAX, false, &at) < 0 ||
	    ctl_req_u64(r, "buckets", 1, CTL_REDIS_BUCKETS_MAX, false, &buckets) < 0)
		return;
	if (r->st->ctl->redis != NULL && sale_campaign_pool(s, (uint32_t)id) == NULL) {
		ctl_campaign_create_redis(r, (uint32_t)id, stock, at, (unsigned)buckets);
		return;
	}
	if (buckets > 1) {
		ctl_req_err(r, "bad_request", "--buckets %" PRIu64 " shards a campaign's claims in "
			    "Redis: this seckill-dp has no --redis", buckets);
		return;
	}
	rc = sale_campaign_add(s, (uint32_t)id, stock, at);
	if (rc < 0) {
		ctl_campaign_add_failed(r, rc, id, stock);
		return;
	}
	printf("seckill-dp: campaign %" PRIu64 " created by seckillctl: %" PRIu64 " units, opens "
	       "at %" PRIu64 " ms\n", id, stock, at);
	if (ctl_campaigns_created(r->st->ctl, (uint32_t)id, stock, at, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-dp: campaign %" PRIu64 ": not recorded in the state dir: "
			"%s\n", id, err);
		ctl_req_err(r, "not_recorded", "campaign %" PRIu64 " sells, but could not be "
			    "recorded in the state dir (%s): a restart would forget it", id, err);
		return;
	}
	ctl_campaign_answer(r, (uint32_t)id);
}

void ctl_sock_campaign_list(struct ctl_req *r)
{
	static const char *const f[] = { NULL };
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	unsigned n;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r))
		return;
	n = sale_campaign_ids(r->st->ctl->sale, ids, SALE_MAX_CAMPAIGNS);
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaigns\":[");
	for (unsigned i = 0; i < n; i++) {
		ctl_buf_printf(r->b, i ? "," : "");
		ctl_campaign_json(r, ids[i]);
	}
	ctl_buf_printf(r->b, "]}");
}

void ctl_sock_campaign_show(struct ctl_req *r)
{
	uint32_t id;

	if (!ctl_campaign_id(r, &id))
		return;
	ctl_campaign_answer(r, id);
}

/* open and close: the state word first (the workers act on it at once),
 * then the record: Redis (retried each sync while it is away, so the other
 * hosts learn it late, not never) or the state dir. */
static void ctl_campaign_state(struct ctl_req *r, enum sale_state st)
{
	char err[512];
	uint32_t id;

	if (!ctl_campaign_id(r, &id))
		return;
	sale_campaign_set_state(r->st->ctl->sale, id, st);
	printf("seckill-dp: campaign %" PRIu32 " %s by seckillctl\n", id,
	       st == SALE_OPEN ? "opened" : "closed");
	if (ctl_sale_redis_set_state(r->st->ctl, id, st) < 0)
		fprintf(stderr, "seckill-dp: redis: campaign %" PRIu32 ": state not recorded in "
			"Redis (unreachable); recorded when it returns, the other hosts follow "
			"then\n", id);
	if (ctl_campaigns_state(r->st->ctl, id, st, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-dp: campaign %" PRIu32 ": state not recorded in the state "
			"dir: %s\n", id, err);
		ctl_req_err(r, "not_recorded", "campaign %" PRIu32 " is %s now, but that could not "
			    "be recorded in the state dir (%s): a restart would forget it", id,
			    st == SALE_OPEN ? "open" : "closed", err);
		return;
	}
	ctl_campaign_answer(r, id);
}

void ctl_sock_campaign_open(struct ctl_req *r)
{
	ctl_campaign_state(r, SALE_OPEN);
}

void ctl_sock_campaign_close(struct ctl_req *r)
{
	ctl_campaign_state(r, SALE_CLOSED_STATE);
}

/* pow: the bits first (the workers check the next order against them), then
 * the record, as ctl_campaign_state does. */
void ctl_sock_campaign_pow(struct ctl_req *r)
{
	static const char *const f[] = { "id", "bits", NULL };
	char err[512];
	uint64_t id, bits;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r) ||
	    ctl_req_u64(r, "id", 1, UINT32_MAX, true, &id) < 0 ||
	    ctl_req_u64(r, "bits", 0, POW_MAX_BITS, true, &bits) < 0)
		return;
	if (sale_campaign_set_pow(r->st->ctl->sale, (uint32_t)id, (unsigned)bits) < 0) {
		ctl_req_err(r, "unknown_campaign", "no campaign %" PRIu64 "; see 'seckillctl "
			    "campaign list'", id);
		return;
	}
	printf("seckill-dp: campaign %" PRIu64 ": proof of work %" PRIu64 " bits%s, set by "
	       "seckillctl\n", id, bits, bits ? "" : " (off)");
	if (ctl_sale_redis_set_pow(r->st->ctl, (uint32_t)id, (unsigned)bits) < 0)
		fprintf(stderr, "seckill-dp: redis: campaign %" PRIu64 ": proof of work not "
			"recorded in Redis (unreachable); recorded when it returns\n", id);
	if (ctl_campaigns_pow(r->st->ctl, (uint32_t)id, (unsigned)bits, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-dp: campaign %" PRIu64 ": proof of work not recorded in "
			"the state dir: %s\n", id, err);
		ctl_req_err(r, "not_recorded", "campaign %" PRIu64 " asks %" PRIu64 " bits now, "
			    "but that could not be recorded in the state dir (%s): a restart "
			    "would forget it", id, bits, err);
		return;
	}
	ctl_campaign_answer(r, (uint32_t)id);
}

/* A dead host's holding back to Redis's stock (ctl_redis.h, release_host). */
void ctl_sock_campaign_release_host(struct ctl_req *r)
{
	static const char *const f[] = { "id", "host", NULL };
	char host[CTL_REDIS_HOST_MAX + 1], err[512];
	uint64_t id, given = 0;
	int i;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r) ||
	    ctl_req_u64(r, "id", 1, UINT32_MAX, true, &id) < 0)
		return;
	i = ctl_json_get(r->text, r->t, 0, "host");
	if (i < 0 || r->t[i].type != CTL_JSON_STRING ||
	    ctl_json_str(r->text, r->t, i, host, sizeof(host)) <= 0) {
		ctl_req_err(r, "bad_request", "'host' is required: the name of the host in "
			    "seckill:hosts:{%" PRIu64 "}, 1..%d bytes", id, CTL_REDIS_HOST_MAX);
		return;
	}
	if (r->st->ctl->redis == NULL) {
		ctl_req_err(r, "not_supported", "seckill-dp runs without --redis: no host holds "
			    "stock of another");
		return;
	}
	if (ctl_sale_redis_release_host(r->st->ctl, (uint32_t)id, host, &given, err,
					sizeof(err)) < 0) {
		ctl_req_err(r, "failed", "%s", err);
		return;
	}
	ctl_buf_printf(r->b, "{\"ok\":true,\"campaign\":%" PRIu64 ",\"host\":", id);
	ctl_buf_json_str(r->b, host);
	ctl_buf_printf(r->b, ",\"released\":%" PRIu64 "}", given);
}
