/*
 * orders_pg.c - opening a connection of the order service and reading the
 * offsets that live in the database (orders_pg.h).
 */
#include "orders_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orders_sql.h"
#include "orders_write.h"
#include "str2int.h"

#define ORDERS_CONNECT_TIMEOUT "5"

static void orders_pg_err(PGconn *pg, const char *what, const char *hint, char *err,
			  size_t cap)
{
	snprintf(err, cap, "PostgreSQL: %s: %s%s", what, PQerrorMessage(pg), hint);
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* "relation ... already exists, skipping" and the like: not for the log. */
static void orders_pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *orders_pg_connect(const char *conninfo, char *err, size_t cap)
{
	const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { ORDERS_CONNECT_TIMEOUT, "seckill-orders", conninfo, NULL };
	/* expand_dbname: the conninfo string (or URI) is parsed as a whole, and
	 * what it sets wins over the defaults before it. */
	PGconn *pg = PQconnectdbParams(keys, vals, 1);

	if (pg == NULL) {
		snprintf(err, cap, "PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		orders_pg_err(pg, "cannot connect with --pg", "; check the conninfo, "
			      "and that the server runs (tools/postgres status)", err, cap);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, orders_pg_quiet, NULL);
	return pg;
}

PGconn *orders_pg_open(const char *conninfo, char *err, size_t cap)
{
	PGconn *pg = orders_pg_connect(conninfo, err, cap);
	PGresult *r;

	if (pg == NULL)
		return NULL;
	r = PQexec(pg, ORDERS_SQL_CREATE);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		orders_pg_err(pg, "creating the tables", "; the --pg user needs CREATE on the "
			      "database", err, cap);
		PQclear(r);
		PQfinish(pg);
		return NULL;
	}
	PQclear(r);
	if (ow_prepare(pg, err, cap) != 0) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

int orders_pg_offsets(PGconn *pg, const char *topic, int64_t *next, size_t n, char *err,
		      size_t cap)
{
	const char *v[1] = { topic };
	PGresult *r = PQexecParams(pg, ORDERS_SQL_OFFSETS_READ, 1, NULL, v, NULL, NULL, 0);
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		next[i] = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		orders_pg_err(pg, "reading order_offsets", "", err, cap);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		uint64_t p, off;

		if (!str2u64(PQgetvalue(r, i, 0), 0, n - 1, &p) ||
		    !str2u64(PQgetvalue(r, i, 1), 0, INT64_MAX, &off)) {
			snprintf(err, cap, "order_offsets: partition %s offset %s out of range "
				 "(at most %zu partitions)", PQgetvalue(r, i, 0),
				 PQgetvalue(r, i, 1), n);
			rc = -1;
		} else {
			next[p] = (int64_t)off;
		}
	}
	PQclear(r);
	return rc;
}
