/*
 * ctl_redis_route.h - which Redis node a command goes to: one Redis, or the
 * primaries of a Redis Cluster (hiredis 0.14 has no cluster client).
 *
 * A route starts from seed nodes. If a seed answers CLUSTER SLOTS it is
 * a cluster: the route keeps a map of the 16384 slots to primaries, sends
 * each command to the primary of its key's slot (lib/util/redis_slot.h) and
 * follows the cluster's redirections, which Redis answers before it runs
 * anything, so following them never runs a command twice:
 *
 *   MOVED slot ip:port   the slot lives there now: the map is corrected and
 *                        refreshed from CLUSTER SLOTS before the next call
 *   ASK slot ip:port     the slot is migrating and the keys are there: this
 *                        one command goes there, after ASKING
 *   TRYAGAIN             a multi-key command (our scripts) in a slot being
 *                        migrated, its keys split between the two nodes:
 *                        asked again after a short wait
 *   NOSCRIPT             the node forgot the scripts (a restart, a failover
 *                        to a replica that never loaded them): reloaded
 *
 * Otherwise every command goes to the seed: the same code serves both.
 *
 * Each node has its own connection, dropped when it fails and reconnected
 * lazily after a back-off (50 ms doubling to 2 s): a dead node costs one
 * bounded connect attempt per interval, and only the commands of its slots.
 * The on_connect callback runs on every new connection (ctl_redis.c loads
 * its scripts there).
 *
 * Results are ctl_redis.h's codes: CTL_REDIS_OK, _DOWN (no connection, or a
 * slot still moving after the redirections allowed), _ERR.
 */
#ifndef SECKILL_CTL_REDIS_ROUTE_H
#define SECKILL_CTL_REDIS_ROUTE_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

struct ctl_route;

/* Runs on each new connection; returns a ctl_redis code, text in err. */
typedef int (*ctl_route_connect_fn)(void *arg, redisContext *c, char *err, size_t cap);

/*
 * A route from seeds, "IP:PORT[,IP:PORT...]" (connect and command timeout
 * tv): one Redis, or nodes of one Redis Cluster. The first seed that
 * answers is connected at once; NULL with the reason in err when none
 * does, or when several seeds name a Redis that is not a cluster.
 */
struct ctl_route *ctl_route_new(const char *seeds, struct timeval tv,
				ctl_route_connect_fn on_connect, void *arg, char *err, size_t cap);
void ctl_route_free(struct ctl_route *rt);

/* The last error's text ("" when none). */
const char *ctl_route_error(const struct ctl_route *rt);
/* True when the seed is a Redis Cluster node. */
bool ctl_route_cluster(const struct ctl_route *rt);
/* True while the node last used is connected. */
bool ctl_route_connected(const struct ctl_route *rt);
/* The node last used, "ip:port". */
const char *ctl_route_addr(const struct ctl_route *rt);
/* Redirections followed so far (MOVED, ASK, TRYAGAIN): tests and stats. */
unsigned long ctl_route_redirects(const struct ctl_route *rt);

/*
 * One command, already in the protocol (redisFormatCommand*), to the node
 * of key's slot, its redirections followed. On CTL_REDIS_OK *out is the
 * reply (an error reply too, other than the redirections), to free. what
 * names the command in the error text ("take failed: ...").
 */
int ctl_route_call(struct ctl_route *rt, const char *what, const char *key, const char *cmd,
		   size_t len, redisReply **out);

/*
 * The same, the command given as to redisvCommand (%b included). A
 * command that cannot be formatted (no memory) is CTL_REDIS_ERR.
 */
int ctl_route_vcommand(struct ctl_route *rt, const char *what, const char *key,
		       redisReply **out, const char *fmt, va_list ap);
int ctl_route_command(struct ctl_route *rt, const char *what, const char *key,
		      redisReply **out, const char *fmt, ...);

/* One command of a pipeline, and its outcome. */
struct ctl_route_cmd {
	const char *what;       /* its name in error texts */
	const char *key;        /* the slot's key (every key of a command shares it) */
	const char *cmd;        /* in the protocol */
	size_t len;
	redisReply *rep;        /* out: on CTL_REDIS_OK, to free */
	int rc;                 /* out */
	int node;               /* internal */
};

/*
 * n commands in one round trip per node: all are written, then every reply
 * read, each node's in order. Redirected ones are then asked again one by
 * one. A node whose link fails leaves its commands from that one on
 * CTL_REDIS_DOWN (each may or may not have run); the other nodes' answers
 * stand.
 */
void ctl_route_pipeline(struct ctl_route *rt, struct ctl_route_cmd *cmds, size_t n);

/*
 * The nodes that serve slots (the seed alone outside a cluster), for what
 * must visit every node (SCAN): up to cap of their indexes in idx.
 */
size_t ctl_route_primaries(struct ctl_route *rt, int *idx, size_t cap);
/* One command to node i (no redirections: SCAN and the like). */
int ctl_route_call_node(struct ctl_route *rt, int i, const char *what, const char *cmd,
			size_t len, redisReply **out);

#endif
