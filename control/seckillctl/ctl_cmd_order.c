/*
 * ctl_cmd_order.c - "seckillctl order": orders in the order service's
 * PostgreSQL (seckill-orders, orders/).
 *
 *   pay --id ORDER                  marks it paid, unless it expired first
 *   show --id ORDER                 its status, times and campaign
 *   pay-within --campaign ID --seconds S   the campaign's own payment window
 *
 * They talk to PostgreSQL directly (--pg CONNINFO, else $SECKILL_PG) with the
 * very statements seckill-orders runs (orders/orders_sql.h), so a payment
 * here and one through seckill-orders' HTTP endpoint race on the row alike:
 * the database decides between payment and expiry. seckill-orders' sweeper
 * tells Redis (and the hosts) of the payment.
 *
 * Exit: 0 done (paid now or before); 1 refused (expired, unknown) or the
 * database failed; 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ctl.h"
#include "ord_record.h"
#include "orders_sql.h"
#include "str2int.h"

static const char pay_usage[] =
	"Usage: seckillctl order pay --id ORDER [--pg CONNINFO] [--json]\n"
	"\n"
	"Marks the order paid, if it is awaiting payment and its deadline has not\n"
	"passed. Paying a paid order again succeeds and changes nothing. --pg: the\n"
	"order service's database (default $SECKILL_PG).\n";
static const char show_usage[] =
	"Usage: seckillctl order show --id ORDER [--pg CONNINFO] [--json]\n"
	"\n"
	"The order as the order service holds it: awaiting_payment, paid or expired.\n";
static const char window_usage[] =
	"Usage: seckillctl order pay-within --campaign ID --seconds S [--pg CONNINFO] [--json]\n"
	"\n"
	"The campaign's own payment window for orders seckill-orders stores from now\n"
	"on (the others get seckill-orders --pay-within). Works before seckill-orders\n"
	"first ran: it makes the order service's tables if they are missing.\n";

static const struct option order_opts[] = {
	{ "id", required_argument, NULL, 300 },
	{ "pg", required_argument, NULL, 301 },
	{ "campaign", required_argument, NULL, 302 },
	{ "seconds", required_argument, NULL, 303 },
	{ "json", no_argument, NULL, 304 },
	{ "help", no_argument, NULL, 305 },
	{ NULL, 0, NULL, 0 },
};
static const struct ctl_optspec order_spec = { order_opts, 300, "igcsjh" };

struct order_args {
	const char *id, *pg, *campaign, *seconds;
	unsigned flags;
};
#define ORDER_JSON (1u << 4)
#define ORDER_HELP (1u << 5)

static int order_parse(int argc, char **argv, const char *allowed, const char *hint,
		       struct order_args *a)
{
	const char **slots[] = { &a->id, &a->pg, &a->campaign, &a->seconds, NULL, NULL };
	int first, rc;

	memset(a, 0, sizeof(*a));
	rc = ctl_getopt(argc, argv, &order_spec, allowed, hint, slots, &a->flags, &first);
	if (rc)
		return rc;
	if (first < argc)
		return ctl_usage_error(hint, "unexpected argument '%s'", argv[first]);
	if (a->flags & ORDER_HELP)
		return 0;
	if (a->pg == NULL)
		a->pg = getenv("SECKILL_PG");
	if (a->pg == NULL)
		return ctl_usage_error(hint, "give --pg CONNINFO (the order service's database, "
				       "as seckill-orders --pg) or set SECKILL_PG");
	return 0;
}

/* --id: the order id's text form, checked before any connection. */
static int order_id_arg(const struct order_args *a, const char *hint)
{
	struct ord_id id;

	if (a->id == NULL)
		return ctl_usage_error(hint, "--id ORDER is required");
	if (!ord_id_parse(a->id, strlen(a->id), &id))
		return ctl_usage_error(hint, "--id '%s': expected an order id such as "
				       "65f1a2b3-0001-0002-0000000000000007", a->id);
	return 0;
}

static PGconn *order_connect(const char *conninfo)
{
	PGconn *pg = PQconnectdb(conninfo);

	if (PQstatus(pg) != CONNECTION_OK) {
		ctl_fail("cannot connect to PostgreSQL with --pg: %s(is it running? tools/postgres "
			 "status)", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Runs sql on $1 (and $2); a result of want, or NULL after reporting. */
static PGresult *order_exec(PGconn *pg, const char *sql, int n, const char *const *v,
			    ExecStatusType want)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, v, NULL, NULL, 0);

	if (PQresultStatus(r) == want)
		return r;
	ctl_fail("PostgreSQL: %s", PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

static int order_pay(int argc, char **argv)
{
	const char *hint = "seckillctl order pay --help";
	struct order_args a;
	const char *v[1], *res;
	PGconn *pg;
	PGresult *r;
	int rc = order_parse(argc, argv, "igjh", hint, &a);

	if (rc || (a.flags & ORDER_HELP))
		return rc ? rc : (fputs(pay_usage, stdout), CTL_EXIT_OK);
	if ((rc = order_id_arg(&a, hint)) != 0)
		return rc;
	if ((pg = order_connect(a.pg)) == NULL)
		return CTL_EXIT_FAIL;
	v[0] = a.id;
	r = order_exec(pg, ORDERS_SQL_PAY, 1, v, PGRES_TUPLES_OK);
	rc = CTL_EXIT_FAIL;
	if (r) {
		res = PQntuples(r) ? PQgetvalue(r, 0, 0) : "unknown_order";
		if (strcmp(res, "paid_now") == 0 || strcmp(res, "paid") == 0)
			rc = CTL_EXIT_OK;
		if (a.flags & ORDER_JSON)
			printf("{\"ok\":%s,\"order_id\":\"%s\",\"result\":\"%s\"}\n",
			       rc ? "false" : "true", a.id, res);
		else if (rc == CTL_EXIT_OK)
			printf("order %s paid%s\n", a.id, res[4] ? "" : " (already)");
		else
			ctl_fail("order %s not paid: %s", a.id,
				 strcmp(res, "unknown_order") == 0 ? "no such order in the database" :
				 "its payment deadline passed (expired)");
		PQclear(r);
	}
	PQfinish(pg);
	return rc;
}

static int order_show(int argc, char **argv)
{
	const char *hint = "seckillctl order show --help";
	struct order_args a;
	const char *v[1];
	PGconn *pg;
	PGresult *r;
	int rc = order_parse(argc, argv, "igjh", hint, &a);

	if (rc || (a.flags & ORDER_HELP))
		return rc ? rc : (fputs(show_usage, stdout), CTL_EXIT_OK);
	if ((rc = order_id_arg(&a, hint)) != 0)
		return rc;
	if ((pg = order_connect(a.pg)) == NULL)
		return CTL_EXIT_FAIL;
	v[0] = a.id;
	r = order_exec(pg, ORDERS_SQL_GET, 1, v, PGRES_TUPLES_OK);
	rc = CTL_EXIT_FAIL;
	if (r && PQntuples(r) == 0)
		ctl_fail("no order %s in the database", a.id);
	else if (r) {
		rc = CTL_EXIT_OK;
		if (a.flags & ORDER_JSON)
			printf("{\"ok\":true,\"order_id\":\"%s\",\"campaign\":%s,\"buyer\":%s,"
			       "\"qty\":%s,\"status\":\"%s\",\"sold_at_ms\":%s,\"pay_by_ms\":%s,"
			       "\"synced\":%s}\n", a.id, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
			       PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
			       PQgetvalue(r, 0, 6), *PQgetvalue(r, 0, 7) == 't' ? "true" : "false");
		else
			printf("order %s campaign %s buyer %s qty %s: %s (sold at %s ms, pay by %s "
			       "ms)%s\n", a.id, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
			       PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
			       PQgetvalue(r, 0, 6), *PQgetvalue(r, 0, 7) == 't' ? ", Redis told" : "");
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}

static int order_pay_within(int argc, char **argv)
{
	const char *hint = "seckillctl order pay-within --help";
	struct order_args a;
	const char *v[2];
	uint64_t camp, secs;
	PGconn *pg;
	PGresult *r;
	int rc = order_parse(argc, argv, "gcsjh", hint, &a);

	if (rc || (a.flags & ORDER_HELP))
		return rc ? rc : (fputs(window_usage, stdout), CTL_EXIT_OK);
	if (!a.campaign || !str2u64(a.campaign, 1, UINT32_MAX, &camp))
		return ctl_usage_error(hint, "--campaign ID is required: 1..4294967295");
	if (!a.seconds || !str2u64(a.seconds, 1, INT32_MAX, &secs))
		return ctl_usage_error(hint, "--seconds S is required: 1..2147483647");
	if ((pg = order_connect(a.pg)) == NULL)
		return CTL_EXIT_FAIL;
	/* Before seckill-orders first ran too: a window set then applies to the
	 * first orders it stores. */
	r = PQexec(pg, ORDERS_SQL_CREATE);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		ctl_fail("PostgreSQL: creating the order service's tables: %s",
			 PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(pg);
		return CTL_EXIT_FAIL;
	}
	PQclear(r);
	v[0] = a.campaign, v[1] = a.seconds;
	r = order_exec(pg, "insert into order_campaigns (campaign, pay_within_s) values ($1, $2) "
		       "on conflict (campaign) do update set pay_within_s = excluded.pay_within_s",
		       2, v, PGRES_COMMAND_OK);
	if (r && (a.flags & ORDER_JSON))
		printf("{\"ok\":true,\"campaign\":%s,\"pay_within_s\":%s}\n", a.campaign, a.seconds);
	else if (r)
		printf("campaign %s: pay within %s s\n", a.campaign, a.seconds);
	PQclear(r);
	PQfinish(pg);
	return r ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static const struct ctl_cmd order_cmds[] = {
	{ "pay", "--id ORDER [--pg CONNINFO]", "mark an order paid (unless it expired)", order_pay },
	{ "show", "--id ORDER [--pg CONNINFO]", "an order in the order service's database",
	  order_show },
	{ "pay-within", "--campaign ID --seconds S", "a campaign's own payment window",
	  order_pay_within },
};

const struct ctl_group ctl_order_group = {
	.name = "order",
	.summary = "orders in the order service's PostgreSQL: pay, show, pay-within",
	.cmds = order_cmds,
	.ncmds = sizeof(order_cmds) / sizeof(order_cmds[0]),
};
