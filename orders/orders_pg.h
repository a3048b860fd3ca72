/*
 * orders_pg.h - seckill-orders' PostgreSQL connections: opening one (schema
 * and prepared statements included) and reading the stored offsets.
 */
#ifndef SECKILL_ORDERS_PG_H
#define SECKILL_ORDERS_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "str2int.h"

/* Partitions of the orders topic we keep offsets for (Kafka allows more;
 * a topic that large is refused with this reason). */
#define ORDERS_MAX_PARTITIONS 4096

/*
 * Connects with conninfo (connect_timeout defaults to 5 s), creates the
 * tables if missing (under an advisory lock, so consumers starting together
 * do not race) and prepares the batch writer's statements. NULL with the
 * reason and what to do in err.
 */
PGconn *orders_pg_open(const char *conninfo, char *err, size_t cap);

/*
 * next[p] = the stored next offset of partition p of topic, -1 where there
 * is none, for p < n. 0, or -1 with err (the connection may be dead).
 */
int orders_pg_offsets(PGconn *pg, const char *topic, int64_t *next, size_t n, char *err,
		      size_t cap);

/* Rows a command touched: PQcmdTuples' decimal ("" for a command that
 * reports none), read with the one strict parser (lib/util/str2int.h). */
static inline uint64_t orders_pg_rows(PGresult *r)
{
	uint64_t n = 0;

	if (!str2u64(PQcmdTuples(r), 0, UINT64_MAX, &n))
		n = 0;
	return n;
}

#endif
