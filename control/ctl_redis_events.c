/*
 * ctl_redis_events.c - reading the order service's events and buyer claims
 * (see ctl_redis_events.h) over connections of its own: a ctl_route, so
 * one Redis or a Redis Cluster's primaries.
 *
 * Its own connections rather than ctl_redis.c's: the reads are plain list
 * and key reads, no script, and keeping them apart leaves the sale's handle
 * (its scripts, its error text, its back-off) to the sale. Every call
 * pipelines all it asks, one round trip per node per call, as the confirms
 * do.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ctl_redis_buckets.h"
#include "ctl_redis_events.h"
#include "ctl_redis_route.h"
#include "now.h"

/* As ctl_redis.c: first retry soon (a Redis restart takes ~100 ms), then back
 * off so a dead server costs one bounded connect attempt per 2 s. */
#define CTL_REDIS_EVENTS_BACKOFF_MIN_MS 50
#define CTL_REDIS_EVENTS_BACKOFF_MAX_MS 2000

struct ctl_redis_events {
	struct ctl_route *rt;       /* NULL until the first call finds Redis */
	char seeds[256];            /* IP:PORT[,IP:PORT...] */
	struct timeval tv;          /* connect and command timeout */
	uint64_t next_try_ms;       /* monotonic; no new route before this */
	unsigned backoff_ms;
	struct ctl_buckets buckets; /* each campaign's, read once */
	char err[CTL_REDIS_ERR_CAP];
};

struct ctl_redis_events *ctl_redis_events_open(const char *seeds, unsigned timeout_ms,
					       char *err, size_t cap)
{
	struct ctl_redis_events *e;

	if (seeds == NULL || seeds[0] == '\0' || strlen(seeds) >= sizeof(e->seeds) ||
	    timeout_ms == 0) {
		snprintf(err, cap, "redis events: bad seeds '%s' or timeout %u ms",
			 seeds ? seeds : "(null)", timeout_ms);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(err, cap, "redis events: out of memory");
		return NULL;
	}
	strcpy(e->seeds, seeds);
	e->tv.tv_sec = timeout_ms / 1000;
	e->tv.tv_usec = (timeout_ms % 1000) * 1000;
	e->backoff_ms = CTL_REDIS_EVENTS_BACKOFF_MIN_MS;
	return e;
}

void ctl_redis_events_close(struct ctl_redis_events *e)
{
	if (e == NULL)
		return;
	ctl_route_free(e->rt);
	free(e);
}

const char *ctl_redis_events_error(const struct ctl_redis_events *e)
{
	return e->err;
}

/* OK with a route; DOWN at once while the back-off runs. Once made, the
 * route reconnects node by node by itself. */
static int ev_ensure(struct ctl_redis_events *e)
{
	char why[CTL_REDIS_ERR_CAP];

	if (e->rt)
		return CTL_REDIS_OK;
	if (now_mono_ms() < e->next_try_ms)
		return CTL_REDIS_DOWN;
	e->rt = ctl_route_new(e->seeds, e->tv, NULL, NULL, why, sizeof(why));
	if (e->rt == NULL) {
		snprintf(e->err, sizeof(e->err), "%.300s; the order service's events wait in "
			 "Redis, reading again in %u ms", why, e->backoff_ms);
		e->next_try_ms = now_mono_ms() + e->backoff_ms;
		e->backoff_ms = e->backoff_ms * 2 > CTL_REDIS_EVENTS_BACKOFF_MAX_MS ?
			CTL_REDIS_EVENTS_BACKOFF_MAX_MS : e->backoff_ms * 2;
		return CTL_REDIS_DOWN;
	}
	e->backoff_ms = CTL_REDIS_EVENTS_BACKOFF_MIN_MS;
	e->err[0] = '\0';
	return CTL_REDIS_OK;
}

/* A command of the pipeline that did not get an answer (its node is down). */
static int ev_down(struct ctl_redis_events *e)
{
	snprintf(e->err, sizeof(e->err), "%.300s; the order service's events wait in Redis",
		 ctl_route_error(e->rt));
	return CTL_REDIS_DOWN;
}

/* A reply that is not the expected type: the text says which. */
static int ev_bad(struct ctl_redis_events *e, const redisReply *rep, const char *what)
{
	snprintf(e->err, sizeof(e->err), "redis %s: %s answered %s", ctl_route_addr(e->rt), what,
		 rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
	return CTL_REDIS_ERR;
}

/* Formats cmds[i] (what, key) or says so; cmds was zeroed. */
static bool ev_format(struct ctl_redis_events *e, struct ctl_route_cmd *cmd, const char *what,
		      const char *key, int len)
{
	if (len < 0) {
		snprintf(e->err, sizeof(e->err), "redis events: out of memory");
		return false;
	}
	cmd->len = (size_t)len;
	cmd->key = key;
	cmd->what = what;
	return true;
}

static void ev_free(struct ctl_route_cmd *cmds, size_t n)
{
	for (size_t i = 0; cmds && i < n; i++) {
		if (cmds[i].rc == CTL_REDIS_OK && cmds[i].rep)
			freeReplyObject(cmds[i].rep);
		redisFreeCommand((char *)cmds[i].cmd);
	}
	free(cmds);
}

int ctl_redis_events_read(struct ctl_redis_events *e, struct ctl_redis_events_page *page,
			  size_t n, unsigned max, ctl_redis_events_fn fn, void *arg)
{
	char (*keys)[CTL_REDIS_KEY_CAP];
	struct ctl_route_cmd *cmds;
	int rc = ev_ensure(e);

	if (rc != CTL_REDIS_OK || n == 0)
		return rc;
	cmds = calloc(2 * n, sizeof(*cmds));
	keys = malloc(n * sizeof(*keys));
	if (cmds == NULL || keys == NULL) {
		free(cmds);
		free(keys);
		snprintf(e->err, sizeof(e->err), "redis events: out of memory");
		return CTL_REDIS_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "seckill:order_events:{%" PRIu32 "}",
			 page[i].campaign);
		if (!ev_format(e, &cmds[2 * i], "LLEN", keys[i],
			       redisFormatCommand((char **)&cmds[2 * i].cmd, "LLEN %s", keys[i])) ||
		    !ev_format(e, &cmds[2 * i + 1], "LRANGE", keys[i],
			       redisFormatCommand((char **)&cmds[2 * i + 1].cmd,
						  "LRANGE %s %" PRIu64 " %" PRIu64, keys[i],
						  page[i].from, page[i].from + (max ? max : 1) - 1))) {
			ev_free(cmds, 2 * n);
			free(keys);
			return CTL_REDIS_ERR;
		}
	}
	ctl_route_pipeline(e->rt, cmds, 2 * n);
	for (size_t i = 0; i < n; i++) {
		const redisReply *len = cmds[2 * i].rep, *list = cmds[2 * i + 1].rep;

		page[i].n = 0;
		page[i].len = 0;
		if (cmds[2 * i].rc != CTL_REDIS_OK || cmds[2 * i + 1].rc != CTL_REDIS_OK) {
			rc = ev_down(e);
			continue;
		}
		if (len->type == REDIS_REPLY_INTEGER)
			page[i].len = len->integer > 0 ? (uint64_t)len->integer : 0;
		else
			rc = ev_bad(e, len, "LLEN");
		if (list->type != REDIS_REPLY_ARRAY) {
			rc = ev_bad(e, list, "LRANGE");
			continue;
		}
		for (size_t j = 0; j < list->elements; j++) {
			const redisReply *ev = list->element[j];

			if (ev->type == REDIS_REPLY_STRING)
				fn(arg, page[i].campaign, page[i].from + j, ev->str, ev->len);
			page[i].n++;
		}
	}
	ev_free(cmds, 2 * n);
	free(keys);
	return rc;
}

int ctl_redis_events_claims(struct ctl_redis_events *e, size_t n, const uint32_t *campaign,
			    const uint64_t *buyer, bool *held)
{
	char (*keys)[CTL_REDIS_KEY_CAP];
	struct ctl_route_cmd *cmds;
	int rc = ev_ensure(e);

	if (rc != CTL_REDIS_OK || n == 0)
		return rc;
	cmds = calloc(n, sizeof(*cmds));
	keys = malloc(n * sizeof(*keys));
	if (cmds == NULL || keys == NULL) {
		free(cmds);
		free(keys);
		snprintf(e->err, sizeof(e->err), "redis events: out of memory");
		return CTL_REDIS_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned buckets;

		held[i] = true;         /* unknown until read: keep the claim */
		rc = ctl_buckets_get(&e->buckets, e->rt, campaign[i], &buckets, e->err,
				     sizeof(e->err));
		if (rc != CTL_REDIS_OK)
			break;
		char field[CTL_REDIS_FIELD_CAP];
		bool in_hash = ctl_redis_claim_at(keys[i], sizeof(keys[i]), field, sizeof(field),
						  campaign[i], buckets, buyer[i]);

		if (!ev_format(e, &cmds[i], "EXISTS", keys[i], in_hash ?
			       redisFormatCommand((char **)&cmds[i].cmd, "HEXISTS %s %s", keys[i],
						  field) :
			       redisFormatCommand((char **)&cmds[i].cmd, "EXISTS %s", keys[i]))) {
			rc = CTL_REDIS_ERR;
			break;
		}
	}
	if (rc != CTL_REDIS_OK) {
		ev_free(cmds, n);
		free(keys);
		return rc;
	}
	ctl_route_pipeline(e->rt, cmds, n);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].rc != CTL_REDIS_OK) {
			rc = ev_down(e);
			continue;
		}
		if (cmds[i].rep->type != REDIS_REPLY_INTEGER) {
			rc = ev_bad(e, cmds[i].rep, "EXISTS");
			continue;
		}
		held[i] = cmds[i].rep->integer != 0;
	}
	ev_free(cmds, n);
	free(keys);
	return rc;
}
