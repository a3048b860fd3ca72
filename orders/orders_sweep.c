/*
 * orders_sweep.c - the sweeper thread: unpaid orders expire, and Redis hears
 * of every final state.
 *
 * Every --sweep-ms (200 ms): one UPDATE expires the orders past their
 * deadline (rows a payment is locking are skipped and seen next time: the
 * database decides the race, orders_sql.h). Then the outbox: every order
 * whose final state Redis has not been told (synced_at is null) goes to
 * Redis in one pipelined round trip (orders_redis.c: give the unit back and
 * release the buyer, or announce the payment), and those Redis took are
 * marked synced. A crash between the two repeats the Redis step, which is
 * idempotent by order id; Redis down leaves them unsynced until it answers.
 * Several seckill-orders may sweep at once: the UPDATE skips locked rows and
 * the scripts are idempotent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "now.h"
#include "orders.h"
#include "orders_pg.h"
#include "orders_redis.h"
#include "orders_sql.h"
#include "str2int.h"

#define OS_ROWS 1000                /* orders per statement and per Redis round trip */
#define OS_IDS_CAP (OS_ROWS * (ORD_ID_STR_LEN + 1) + 3)

struct os {
	const struct orders_conf *c;
	PGconn *pg;
	struct orders_redis *redis;
	bool pg_down_logged, redis_down_logged;
	char err[ORDERS_ERR_CAP];
	/* One outbox batch: the rows' text stays in res until synced. */
	struct or_change ch[OS_ROWS];
	char ids[OS_IDS_CAP];
};

static bool os_pg(struct os *s)
{
	if (s->pg && PQstatus(s->pg) == CONNECTION_OK)
		return true;
	PQfinish(s->pg);
	s->pg = orders_pg_open(s->c->pg, s->err, sizeof(s->err));
	if (s->pg == NULL && !s->pg_down_logged)
		orders_log("sweeper: %s; expiry waits for the database", s->err);
	s->pg_down_logged = s->pg == NULL;
	return s->pg != NULL;
}

/* Expires what is due; the number expired, -1 on failure. */
static int64_t os_expire(struct os *s)
{
	char lim[16];
	const char *v[1] = { lim };
	int64_t n = 0, got;

	snprintf(lim, sizeof(lim), "%d", OS_ROWS);
	do {
		PGresult *r = PQexecParams(s->pg, ORDERS_SQL_EXPIRE, 1, NULL, v, NULL, NULL, 0);

		got = -1;
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			got = (int64_t)orders_pg_rows(r);
		else
			orders_log("sweeper: expiring: %s", PQresultErrorMessage(r));
		PQclear(r);
		if (got < 0)
			return -1;
		n += got;
	} while (got == OS_ROWS && !atomic_load(&orders_stop));
	orders_count(&orders_stats.expired, (uint64_t)n);
	return n;
}

/* Fills s->ch from the unsynced rows of r; the count. */
static size_t os_changes(struct os *s, PGresult *r)
{
	size_t n = 0;

	for (int i = 0; i < PQntuples(r) && n < OS_ROWS; i++) {
		uint64_t camp, buyer, qty;

		if (!str2u64(PQgetvalue(r, i, 1), 0, UINT32_MAX, &camp) ||
		    !str2u64(PQgetvalue(r, i, 2), 0, UINT64_MAX, &buyer) ||
		    !str2u64(PQgetvalue(r, i, 3), 0, UINT32_MAX, &qty))
			continue;
		s->ch[n++] = (struct or_change){
			.order_id = PQgetvalue(r, i, 0), .campaign = (uint32_t)camp, .buyer = buyer,
			.qty = (uint32_t)qty, .expired = strcmp(PQgetvalue(r, i, 4), "expired") == 0,
		};
	}
	return n;
}

/* Marks the changes Redis took as synced. */
static void os_mark(struct os *s, size_t n)
{
	const char *v[1] = { s->ids };
	size_t len = 0, marked = 0;
	PGresult *r;

	s->ids[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (s->ch[i].rc < 0)
			continue;
		len += (size_t)snprintf(s->ids + len, OS_IDS_CAP - len, "%s%s", marked ? "," : "",
					s->ch[i].order_id);
		marked++;
		if (s->ch[i].rc == OR_REPLAY)
			orders_count(&orders_stats.return_replays, 1);
		else if (s->ch[i].expired)
			orders_count(&orders_stats.returned, 1);
		else
			orders_count(&orders_stats.paid_announced, 1);
	}
	snprintf(s->ids + len, OS_IDS_CAP - len, "}");
	if (marked == 0)
		return;
	r = PQexecParams(s->pg, ORDERS_SQL_SYNCED, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		orders_log("sweeper: marking %zu orders synced: %s (Redis will be told again; "
			   "harmless)", marked, PQresultErrorMessage(r));
	PQclear(r);
}

/* One outbox pass; true when there may be more. */
static bool os_outbox(struct os *s)
{
	char lim[16];
	const char *v[1] = { lim };
	PGresult *r;
	size_t n;
	bool more;

	snprintf(lim, sizeof(lim), "%d", OS_ROWS);
	r = PQexecParams(s->pg, ORDERS_SQL_UNSYNCED, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		orders_log("sweeper: reading the outbox: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	n = os_changes(s, r);
	more = PQntuples(r) == OS_ROWS;
	if (n && or_tell_many(s->redis, s->ch, n) == OR_DOWN) {
		if (!s->redis_down_logged)
			orders_log("sweeper: %s; %zu order(s) wait to be given back or announced",
				   or_error(s->redis), n);
		s->redis_down_logged = true;
		orders_count(&orders_stats.redis_errors, 1);
		more = false;
	} else if (n) {
		if (s->redis_down_logged)
			orders_log("sweeper: Redis answers again");
		s->redis_down_logged = false;
		for (size_t i = 0; i < n; i++)
			if (s->ch[i].rc == OR_ERR) {
				orders_log("sweeper: %s", or_error(s->redis));
				orders_count(&orders_stats.redis_errors, 1);
			}
	}
	os_mark(s, n);
	PQclear(r);
	return more;
}

void *orders_sweep_run(void *arg)
{
	static struct os s;
	struct timespec pause;

	s.c = arg;
	s.redis = or_open(s.c->redis_host, s.c->redis_port);
	pause = (struct timespec){ s.c->sweep_ms / 1000, (long)(s.c->sweep_ms % 1000) * 1000000 };
	while (!atomic_load(&orders_stop)) {
		if (os_pg(&s) && os_expire(&s) >= 0)
			while (os_outbox(&s) && !atomic_load(&orders_stop))
				;
		nanosleep(&pause, NULL);
	}
	PQfinish(s.pg);
	or_close(s.redis);
	return NULL;
}
