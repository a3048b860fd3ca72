/*
 * ctl_redis_events.c - reading the order service's events and buyer claims
 * (see ctl_redis_events.h) over a hiredis connection of its own.
 *
 * Its own connection rather than ctl_redis.c's: the reads are plain list and
 * key reads, no script, and keeping them apart leaves the sale's handle (its
 * scripts, its error text, its back-off) to the sale. Every call pipelines
 * all it asks, one round trip per call, as the confirms do.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ctl_redis_events.h"
#include "now.h"

/* As ctl_redis.c: first retry soon (a Redis restart takes ~100 ms), then back
 * off so a dead server costs one bounded connect attempt per 2 s. */
#define CTL_REDIS_EVENTS_BACKOFF_MIN_MS 50
#define CTL_REDIS_EVENTS_BACKOFF_MAX_MS 2000
/* "seckill:order_events:{<u32>}", "seckill:buyer:{<u32>}:<u64>": well under this. */
#define CTL_REDIS_EVENTS_KEY_CAP 64

struct ctl_redis_events {
	redisContext *c;            /* NULL while down */
	char ip[256];
	int port;
	struct timeval tv;          /* connect and command timeout */
	uint64_t next_try_ms;       /* monotonic; no reconnect before this */
	unsigned backoff_ms;
	char err[CTL_REDIS_ERR_CAP];
};

struct ctl_redis_events *ctl_redis_events_open(const char *host, int port, unsigned timeout_ms,
					       char *err, size_t cap)
{
	struct ctl_redis_events *e;

	if (host == NULL || strlen(host) >= sizeof(e->ip) || port <= 0 || port > 65535 ||
	    timeout_ms == 0) {
		snprintf(err, cap, "redis events: bad address %s:%d or timeout %u ms",
			 host ? host : "(null)", port, timeout_ms);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(err, cap, "redis events: out of memory");
		return NULL;
	}
	strcpy(e->ip, host);
	e->port = port;
	e->tv.tv_sec = timeout_ms / 1000;
	e->tv.tv_usec = (timeout_ms % 1000) * 1000;
	e->backoff_ms = CTL_REDIS_EVENTS_BACKOFF_MIN_MS;
	return e;
}

void ctl_redis_events_close(struct ctl_redis_events *e)
{
	if (e == NULL)
		return;
	if (e->c)
		redisFree(e->c);
	free(e);
}

const char *ctl_redis_events_error(const struct ctl_redis_events *e)
{
	return e->err;
}

/* Forgets a broken link; the next call may reconnect after the back-off. */
static int ev_drop(struct ctl_redis_events *e, const char *what)
{
	snprintf(e->err, sizeof(e->err), "redis %s:%d: %s failed: %s; the order service's "
		 "events wait in Redis, reading again in %u ms", e->ip, e->port, what,
		 e->c && e->c->errstr[0] ? e->c->errstr : "connection lost", e->backoff_ms);
	if (e->c)
		redisFree(e->c);
	e->c = NULL;
	e->next_try_ms = now_mono_ms() + e->backoff_ms;
	return CTL_REDIS_DOWN;
}

/* OK when linked; DOWN at once while the back-off runs. */
static int ev_ensure(struct ctl_redis_events *e)
{
	if (e->c)
		return CTL_REDIS_OK;
	if (now_mono_ms() < e->next_try_ms)
		return CTL_REDIS_DOWN;
	e->c = redisConnectWithTimeout(e->ip, e->port, e->tv);
	if (e->c == NULL || e->c->err) {
		ev_drop(e, "connect");
		e->backoff_ms = e->backoff_ms * 2 > CTL_REDIS_EVENTS_BACKOFF_MAX_MS ?
			CTL_REDIS_EVENTS_BACKOFF_MAX_MS : e->backoff_ms * 2;
		return CTL_REDIS_DOWN;
	}
	if (redisSetTimeout(e->c, e->tv) != REDIS_OK)
		return ev_drop(e, "setting the command timeout");
	e->backoff_ms = CTL_REDIS_EVENTS_BACKOFF_MIN_MS;
	e->err[0] = '\0';
	return CTL_REDIS_OK;
}

/* The next reply of the pipeline, or NULL after dropping the link. */
static redisReply *ev_reply(struct ctl_redis_events *e, const char *what)
{
	redisReply *rep = NULL;

	if (redisGetReply(e->c, (void **)&rep) != REDIS_OK || rep == NULL) {
		ev_drop(e, what);
		return NULL;
	}
	return rep;
}

/* A reply that is not the expected type: the text says which. */
static int ev_bad(struct ctl_redis_events *e, redisReply *rep, const char *what)
{
	snprintf(e->err, sizeof(e->err), "redis %s:%d: %s answered %s", e->ip, e->port, what,
		 rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
	freeReplyObject(rep);
	return CTL_REDIS_ERR;
}

int ctl_redis_events_read(struct ctl_redis_events *e, struct ctl_redis_events_page *page,
			  size_t n, unsigned max, ctl_redis_events_fn fn, void *arg)
{
	char key[CTL_REDIS_EVENTS_KEY_CAP];
	int rc = ev_ensure(e);

	if (rc != CTL_REDIS_OK || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "seckill:order_events:{%" PRIu32 "}", page[i].campaign);
		redisAppendCommand(e->c, "LLEN %s", key);
		redisAppendCommand(e->c, "LRANGE %s %" PRIu64 " %" PRIu64, key, page[i].from,
				   page[i].from + (max ? max : 1) - 1);
	}
	/* Every reply is read, even after a bad one, so the link stays in step. */
	for (size_t i = 0; i < n; i++) {
		redisReply *len = ev_reply(e, "LLEN"), *list;

		if (len == NULL)
			return CTL_REDIS_DOWN;
		list = ev_reply(e, "LRANGE");
		if (list == NULL) {
			freeReplyObject(len);
			return CTL_REDIS_DOWN;
		}
		page[i].n = 0;
		page[i].len = len->type == REDIS_REPLY_INTEGER && len->integer > 0 ?
			(uint64_t)len->integer : 0;
		if (len->type != REDIS_REPLY_INTEGER)
			rc = ev_bad(e, len, "LLEN");
		else
			freeReplyObject(len);
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
		freeReplyObject(list);
	}
	return rc;
}

int ctl_redis_events_claims(struct ctl_redis_events *e, size_t n, const uint32_t *campaign,
			    const uint64_t *buyer, bool *held)
{
	char key[CTL_REDIS_EVENTS_KEY_CAP];
	int rc = ev_ensure(e);

	if (rc != CTL_REDIS_OK || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "seckill:buyer:{%" PRIu32 "}:%" PRIu64, campaign[i],
			 buyer[i]);
		redisAppendCommand(e->c, "EXISTS %s", key);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *rep = ev_reply(e, "EXISTS");

		if (rep == NULL)
			return CTL_REDIS_DOWN;
		if (rep->type != REDIS_REPLY_INTEGER) {
			rc = ev_bad(e, rep, "EXISTS");
			held[i] = true;         /* unknown: keep the claim */
			continue;
		}
		held[i] = rep->integer != 0;
		freeReplyObject(rep);
	}
	return rc;
}
