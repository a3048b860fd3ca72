/*
 * ctl_redis_route.c - one Redis or a Redis Cluster's primaries (ctl_redis_route.h).
 *
 * The smallest client that is correct against a cluster being resharded:
 * a slot map refreshed from CLUSTER SLOTS whenever a MOVED says it is
 * stale, one connection per node, and the four answers that mean "not
 * here, not now" handled where every command passes. Pipelines write to
 * every node first and read after, so N nodes cost one round trip, not N.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_redis.h"
#include "ctl_redis_route.h"
#include "now.h"
#include "redis_slot.h"
#include "str2int.h"

#define ROUTE_BACKOFF_MIN_MS 50
#define ROUTE_BACKOFF_MAX_MS 2000
/* A cluster of this many nodes is far past what one sale needs (README:
 * scale-out); more are refused rather than silently not routed to. */
#define ROUTE_NODES_MAX 64
/* Redirections one command follows before it gives up (DOWN: the caller
 * asks again later). A slot migration's TRYAGAIN lasts while the slot's
 * keys move, milliseconds for ours, so TRYAGAIN waits ROUTE_TRYAGAIN_US
 * doubling, ~0.5 s in all. */
#define ROUTE_REDIRECTS_MAX 24
#define ROUTE_TRYAGAIN_US 1000
#define ROUTE_TRYAGAIN_MAX_US 64000

struct route_node {
	char ip[64];
	int port;
	redisContext *c;            /* NULL while down */
	uint64_t next_try_ms;       /* monotonic; no reconnect before this */
	unsigned backoff_ms;
	bool serves;                /* owns a slot in the last map */
};

struct ctl_route {
	struct route_node node[ROUTE_NODES_MAX];
	int n_nodes;
	int16_t slot[REDIS_SLOTS];  /* node index, -1 unknown (cluster only) */
	bool cluster;
	int single;                 /* not a cluster: the node every command goes to */
	bool stale;                 /* a MOVED was seen: refresh before routing */
	int cur;                    /* node last used */
	unsigned long redirects;
	struct timeval tv;
	ctl_route_connect_fn on_connect;
	void *arg;
	char addr[80];
	char err[CTL_REDIS_ERR_CAP];
};

static void __attribute__((format(printf, 2, 3)))
route_err(struct ctl_route *rt, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rt->err, sizeof(rt->err), fmt, ap);
	va_end(ap);
}

const char *ctl_route_error(const struct ctl_route *rt) { return rt->err; }
bool ctl_route_cluster(const struct ctl_route *rt) { return rt->cluster; }
bool ctl_route_connected(const struct ctl_route *rt) { return rt->node[rt->cur].c != NULL; }
unsigned long ctl_route_redirects(const struct ctl_route *rt) { return rt->redirects; }

const char *ctl_route_addr(const struct ctl_route *rt)
{
	return rt->addr;
}

static void use_node(struct ctl_route *rt, int i)
{
	if (i != rt->cur || rt->addr[0] == '\0')
		snprintf(rt->addr, sizeof(rt->addr), "%s:%d", rt->node[i].ip, rt->node[i].port);
	rt->cur = i;
}

/* The node ip:port, added when new; -1 when the table is full. */
static int node_find(struct ctl_route *rt, const char *ip, size_t ip_len, int port)
{
	struct route_node *n;

	for (int i = 0; i < rt->n_nodes; i++)
		if (rt->node[i].port == port && strlen(rt->node[i].ip) == ip_len &&
		    memcmp(rt->node[i].ip, ip, ip_len) == 0)
			return i;
	if (rt->n_nodes == ROUTE_NODES_MAX || ip_len == 0 || ip_len >= sizeof(n->ip)) {
		route_err(rt, "redis cluster: node %.*s:%d not added (%d nodes at most, "
			  "addresses under 64 bytes)", (int)ip_len, ip, port, ROUTE_NODES_MAX);
		return -1;
	}
	n = &rt->node[rt->n_nodes];
	memset(n, 0, sizeof(*n));
	memcpy(n->ip, ip, ip_len);
	n->port = port;
	n->backoff_ms = ROUTE_BACKOFF_MIN_MS;
	return rt->n_nodes++;
}

/* Forgets node i's broken link; it may reconnect after the back-off. */
static int node_drop(struct ctl_route *rt, int i, const char *what)
{
	struct route_node *n = &rt->node[i];

	route_err(rt, "redis %s:%d: %s failed: %s; selling goes on from held chunks, "
		  "reconnecting in %u ms (check that redis-server is up)", n->ip, n->port, what,
		  n->c && n->c->errstr[0] ? n->c->errstr : "connection lost", n->backoff_ms);
	if (n->c)
		redisFree(n->c);
	n->c = NULL;
	n->next_try_ms = now_mono_ms() + n->backoff_ms;
	return CTL_REDIS_DOWN;
}

/* Node i linked (OK), or DOWN at once while its back-off runs. */
static int node_ensure(struct ctl_route *rt, int i)
{
	struct route_node *n = &rt->node[i];
	int rc;

	use_node(rt, i);
	if (n->c)
		return CTL_REDIS_OK;
	if (now_mono_ms() < n->next_try_ms) {
		route_err(rt, "redis %s:%d is down; retrying in %" PRIu64 " ms", n->ip, n->port,
			  n->next_try_ms - now_mono_ms());
		return CTL_REDIS_DOWN;
	}
	n->c = redisConnectWithTimeout(n->ip, n->port, rt->tv);
	if (n->c == NULL || n->c->err) {
		rc = node_drop(rt, i, "connect");
		n->backoff_ms = n->backoff_ms * 2 > ROUTE_BACKOFF_MAX_MS ?
			ROUTE_BACKOFF_MAX_MS : n->backoff_ms * 2;
		return rc;
	}
	if (redisSetTimeout(n->c, rt->tv) != REDIS_OK)
		return node_drop(rt, i, "setting the command timeout");
	n->backoff_ms = ROUTE_BACKOFF_MIN_MS;
	rc = rt->on_connect ? rt->on_connect(rt->arg, n->c, rt->err, sizeof(rt->err)) :
		CTL_REDIS_OK;
	if (rc == CTL_REDIS_DOWN)
		return node_drop(rt, i, "loading the scripts");
	if (rc == CTL_REDIS_OK)
		rt->err[0] = '\0';
	return rc;
}

/* One element of CLUSTER SLOTS: {start, end, {ip, port, id}, replicas...},
 * read from node `from`. */
static bool slots_range(struct ctl_route *rt, int from, const redisReply *e)
{
	const redisReply *m;
	const char *ip;
	size_t ip_len;
	int i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER ||
	    e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
		return false;
	m = e->element[2];
	if (m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER ||
	    e->element[0]->integer < 0 || e->element[1]->integer >= REDIS_SLOTS ||
	    e->element[0]->integer > e->element[1]->integer)
		return false;
	ip = m->element[0]->str;
	ip_len = m->element[0]->len;
	if (ip_len == 0 || (ip_len == 1 && ip[0] == '?')) {
		/* The node does not know its address (a cluster of one that never
		 * met another): the one we reached it at. */
		ip = rt->node[from].ip;
		ip_len = strlen(ip);
	}
	i = node_find(rt, ip, ip_len, (int)m->element[1]->integer);
	if (i < 0)
		return false;
	rt->node[i].serves = true;
	for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
		rt->slot[s] = (int16_t)i;
	return true;
}

/*
 * Reads the slot map from node i. 1: it is a cluster and the map is new;
 * 0: not a cluster (the command is refused); < 0: a ctl_redis code.
 */
static int slots_load(struct ctl_route *rt, int i)
{
	redisReply *rep;
	int rc = node_ensure(rt, i);

	if (rc != CTL_REDIS_OK)
		return rc;
	rep = redisCommand(rt->node[i].c, "CLUSTER SLOTS");
	if (rep == NULL)
		return node_drop(rt, i, "CLUSTER SLOTS");
	if (rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "cluster support disabled")) {
		freeReplyObject(rep);
		return 0;   /* one Redis, not a cluster */
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* LOADING, NOAUTH, a renamed command ...: say so, do not guess. */
		route_err(rt, "redis %s: CLUSTER SLOTS refused: %.200s", rt->addr, rep->str);
		freeReplyObject(rep);
		return CTL_REDIS_ERR;
	}
	rc = 1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		route_err(rt, "redis %s: CLUSTER SLOTS: unexpected reply", rt->addr);
		rc = CTL_REDIS_ERR;
	} else {
		for (int s = 0; s < REDIS_SLOTS; s++)
			rt->slot[s] = -1;
		for (int n = 0; n < rt->n_nodes; n++)
			rt->node[n].serves = false;
		for (size_t k = 0; k < rep->elements && rc == 1; k++)
			if (!slots_range(rt, i, rep->element[k])) {
				char why[sizeof(rt->err)];

				snprintf(why, sizeof(why), "%s", rt->err);
				route_err(rt, "redis %s: CLUSTER SLOTS: a range not understood (%.300s)",
					  rt->addr, why);
				rc = CTL_REDIS_ERR;
			}
	}
	freeReplyObject(rep);
	return rc;
}

/* After a MOVED: the map again, from the first node that answers. */
static void slots_refresh(struct ctl_route *rt)
{
	int first = rt->cur;

	for (int k = 0; k < rt->n_nodes; k++) {
		int i = (first + k) % rt->n_nodes;

		if (rt->node[i].c == NULL && now_mono_ms() < rt->node[i].next_try_ms)
			continue;
		if (slots_load(rt, i) == 1) {
			rt->stale = false;
			return;
		}
	}
}

/* The node a key's commands go to. */
static int key_node(struct ctl_route *rt, const char *key)
{
	int i;

	if (!rt->cluster)
		return rt->single;
	if (rt->stale)
		slots_refresh(rt);
	i = rt->slot[redis_key_slot(key, strlen(key))];
	return i >= 0 ? i : rt->cur;   /* an uncovered slot: ask anyone, follow MOVED */
}

/* "ip:port" of len bytes: the node, added (or found). -1 when malformed. */
static int seed_add(struct ctl_route *rt, const char *s, size_t len)
{
	const char *colon = NULL;
	uint64_t port;
	char num[8];

	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;   /* the last: an address may have colons */

	if (colon == NULL || colon == s || (size_t)(s + len - colon - 1) >= sizeof(num))
		return -1;
	memcpy(num, colon + 1, (size_t)(s + len - colon - 1));
	num[s + len - colon - 1] = '\0';
	if (!str2u64(num, 1, 65535, &port))
		return -1;
	return node_find(rt, s, (size_t)(colon - s), (int)port);
}

struct ctl_route *ctl_route_new(const char *seeds, struct timeval tv,
				ctl_route_connect_fn on_connect, void *arg, char *err, size_t cap)
{
	struct ctl_route *rt = calloc(1, sizeof(*rt));
	const char *p = seeds;
	int rc = CTL_REDIS_DOWN, n_seeds;

	if (rt == NULL) {
		snprintf(err, cap, "redis: out of memory");
		return NULL;
	}
	rt->tv = tv;
	rt->on_connect = on_connect;
	rt->arg = arg;
	while (p && *p) {
		size_t len = strcspn(p, ",");

		if (seed_add(rt, p, len) < 0) {
			snprintf(err, cap, "redis: bad seed '%.*s' in '%s' (want IP:PORT[,IP:PORT...])",
				 (int)len, p, seeds);
			free(rt);
			return NULL;
		}
		p += len + (p[len] == ',');
	}
	if (rt->n_nodes == 0) {
		snprintf(err, cap, "redis: no seed given (want IP:PORT[,IP:PORT...])");
		free(rt);
		return NULL;
	}
	/* The first seed that answers says what it is; the others stay known,
	 * for the slot map to be read from when that one is down. */
	n_seeds = rt->n_nodes;
	for (int i = 0; i < n_seeds && rc < 0; i++) {
		rc = slots_load(rt, i);
		if (rc >= 0)
			rt->cur = i;
	}
	if (rc < 0) {
		snprintf(err, cap, "%s", rt->err);
		ctl_route_free(rt);
		return NULL;
	}
	rt->cluster = rc == 1;
	if (!rt->cluster && n_seeds > 1) {
		snprintf(err, cap, "redis %s is not a Redis Cluster node: give one IP:PORT for a "
			 "single Redis, or a cluster's nodes", rt->addr);
		ctl_route_free(rt);
		return NULL;
	}
	if (!rt->cluster) {
		rt->node[rt->cur].serves = true;
		rt->single = rt->cur;
	}
	return rt;
}

void ctl_route_free(struct ctl_route *rt)
{
	if (rt == NULL)
		return;
	for (int i = 0; i < rt->n_nodes; i++)
		if (rt->node[i].c)
			redisFree(rt->node[i].c);
	free(rt);
}

/* "MOVED 3999 127.0.0.1:6381": the slot and the node, added when new. */
static int redirect_node(struct ctl_route *rt, const char *text, long *slot)
{
	const char *sp = strchr(text, ' '), *addr, *colon;
	uint64_t port;
	char num[8];

	if (sp == NULL || (addr = strchr(sp + 1, ' ')) == NULL)
		return -1;
	*slot = strtol(sp + 1, NULL, 10);
	addr++;
	colon = strrchr(addr, ':');
	if (colon == NULL || strlen(colon + 1) >= sizeof(num))
		return -1;
	strcpy(num, colon + 1);
	if (!str2u64(num, 1, 65535, &port) || *slot < 0 || *slot >= REDIS_SLOTS)
		return -1;
	return node_find(rt, addr, (size_t)(colon - addr), (int)port);
}

enum route_verdict { R_DONE, R_AGAIN, R_ASK };

/*
 * What a reply means for routing. R_AGAIN: ask again (the map corrected,
 * the scripts reloaded, or after a TRYAGAIN's wait); R_ASK: ask *ask_node
 * once, after ASKING. The reply is freed unless R_DONE. Inside a pipeline
 * (act false) the node's link still has replies to read: nothing is sent
 * and nothing waited for, the command is only marked to be asked again.
 */
static enum route_verdict verdict(struct ctl_route *rt, int i, redisReply *rep, int *ask_node,
				  unsigned *waits, bool act)
{
	long slot;
	int n;

	if (rep->type != REDIS_REPLY_ERROR)
		return R_DONE;
	if (strncmp(rep->str, "MOVED ", 6) == 0 && (n = redirect_node(rt, rep->str, &slot)) >= 0) {
		rt->slot[slot] = (int16_t)n;
		rt->node[n].serves = true;
		rt->stale = true;
	} else if (strncmp(rep->str, "ASK ", 4) == 0 &&
		   (n = redirect_node(rt, rep->str, &slot)) >= 0) {
		*ask_node = n;
		freeReplyObject(rep);
		rt->redirects++;
		return R_ASK;
	} else if (!act && (strncmp(rep->str, "ASK ", 4) == 0 ||
			    strncmp(rep->str, "TRYAGAIN", 8) == 0 ||
			    strncmp(rep->str, "NOSCRIPT", 8) == 0)) {
		/* asked again alone, after the pipeline's replies are read */
	} else if (strncmp(rep->str, "TRYAGAIN", 8) == 0) {
		struct timespec ts;
		unsigned us = ROUTE_TRYAGAIN_US << (*waits < 6 ? *waits : 6);

		if (us > ROUTE_TRYAGAIN_MAX_US)
			us = ROUTE_TRYAGAIN_MAX_US;
		(*waits)++;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)us * 1000;
		nanosleep(&ts, NULL);
	} else if (strncmp(rep->str, "NOSCRIPT", 8) == 0 && rt->on_connect) {
		/* The script did not run; load them again on this node. */
		if (rt->on_connect(rt->arg, rt->node[i].c, rt->err, sizeof(rt->err)) != CTL_REDIS_OK)
			return R_DONE;
	} else {
		return R_DONE;
	}
	freeReplyObject(rep);
	rt->redirects++;
	return R_AGAIN;
}

/* Writes cmd to node i (ASKING first when asking) and reads its reply. */
static int node_exchange(struct ctl_route *rt, int i, const char *what, bool asking,
			 const char *cmd, size_t len, redisReply **rep)
{
	redisContext *c = rt->node[i].c;
	redisReply *ask = NULL;

	*rep = NULL;
	if ((asking && redisAppendCommand(c, "ASKING") != REDIS_OK) ||
	    redisAppendFormattedCommand(c, cmd, len) != REDIS_OK)
		return node_drop(rt, i, what);
	if (asking) {
		if (redisGetReply(c, (void **)&ask) != REDIS_OK || ask == NULL)
			return node_drop(rt, i, "ASKING");
		freeReplyObject(ask);
	}
	if (redisGetReply(c, (void **)rep) != REDIS_OK || *rep == NULL)
		return node_drop(rt, i, what);
	return CTL_REDIS_OK;
}

int ctl_route_call(struct ctl_route *rt, const char *what, const char *key, const char *cmd,
		   size_t len, redisReply **out)
{
	unsigned waits = 0;
	int ask = -1;

	for (int tries = 0; tries < ROUTE_REDIRECTS_MAX; tries++) {
		int i = ask >= 0 ? ask : key_node(rt, key);
		bool asking = ask >= 0;
		redisReply *rep;
		int rc = node_ensure(rt, i);

		if (rc != CTL_REDIS_OK)
			return rc;
		rc = node_exchange(rt, i, what, asking, cmd, len, &rep);
		if (rc != CTL_REDIS_OK)
			return rc;
		ask = -1;
		switch (verdict(rt, i, rep, &ask, &waits, true)) {
		case R_DONE:
			*out = rep;
			return CTL_REDIS_OK;
		case R_ASK:
		case R_AGAIN:
			break;
		}
	}
	route_err(rt, "redis cluster: key %s still redirected after %d tries (a slot "
		  "migrating for long, or a cluster in flux); asked again later", key,
		  ROUTE_REDIRECTS_MAX);
	return CTL_REDIS_DOWN;
}

int ctl_route_vcommand(struct ctl_route *rt, const char *what, const char *key,
		       redisReply **out, const char *fmt, va_list ap)
{
	char *cmd;
	int len = redisvFormatCommand(&cmd, fmt, ap), rc;

	if (len < 0) {
		route_err(rt, "redis: out of memory formatting %s", what);
		return CTL_REDIS_ERR;
	}
	rc = ctl_route_call(rt, what, key, cmd, (size_t)len, out);
	redisFreeCommand(cmd);
	return rc;
}

int ctl_route_command(struct ctl_route *rt, const char *what, const char *key,
		      redisReply **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ctl_route_vcommand(rt, what, key, out, fmt, ap);
	va_end(ap);
	return rc;
}

void ctl_route_pipeline(struct ctl_route *rt, struct ctl_route_cmd *cmds, size_t n)
{
	bool dead[ROUTE_NODES_MAX] = { false };

	for (size_t k = 0; k < n; k++) {
		struct ctl_route_cmd *m = &cmds[k];

		m->rep = NULL;
		m->rc = CTL_REDIS_DOWN;
		m->node = key_node(rt, m->key);
		if (dead[m->node] || node_ensure(rt, m->node) != CTL_REDIS_OK) {
			dead[m->node] = true;
			m->node = -1;
			continue;
		}
		if (redisAppendFormattedCommand(rt->node[m->node].c, m->cmd, m->len) != REDIS_OK) {
			node_drop(rt, m->node, m->what);
			dead[m->node] = true;
			m->node = -1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct ctl_route_cmd *m = &cmds[k];
		unsigned waits = 0;
		int ask = -1;

		if (m->node < 0 || dead[m->node])
			continue;
		use_node(rt, m->node);
		if (redisGetReply(rt->node[m->node].c, (void **)&m->rep) != REDIS_OK ||
		    m->rep == NULL) {
			node_drop(rt, m->node, m->what);
			dead[m->node] = true;
			m->rep = NULL;
			continue;
		}
		if (verdict(rt, m->node, m->rep, &ask, &waits, false) == R_DONE) {
			m->rc = CTL_REDIS_OK;
			continue;
		}
		m->rep = NULL;
		m->node = -2;   /* redirected: asked again below, alone */
	}
	for (size_t k = 0; k < n; k++)
		if (cmds[k].node == -2)
			cmds[k].rc = ctl_route_call(rt, cmds[k].what, cmds[k].key, cmds[k].cmd,
						    cmds[k].len, &cmds[k].rep);
}

size_t ctl_route_primaries(struct ctl_route *rt, int *idx, size_t cap)
{
	size_t n = 0;

	if (rt->cluster && rt->stale)
		slots_refresh(rt);
	for (int i = 0; i < rt->n_nodes && n < cap; i++)
		if (rt->node[i].serves)
			idx[n++] = i;
	return n;
}

int ctl_route_call_node(struct ctl_route *rt, int i, const char *what, const char *cmd,
			size_t len, redisReply **out)
{
	int rc = node_ensure(rt, i);

	if (rc != CTL_REDIS_OK)
		return rc;
	return node_exchange(rt, i, what, false, cmd, len, out);
}
