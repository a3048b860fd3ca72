/*
 * orders_sql.h - the order service's tables and every statement that changes
 * an order: one text, shared by seckill-orders, seckillctl (order, audit) and
 * tools/bench-orders, so the life cycle is written once.
 *
 * Tables (created by seckill-orders at start, IF NOT EXISTS):
 *
 *   orders           one row per order the front end sold (Kafka's
 *                    seckill.orders, schema 1): order_id is the primary key,
 *                    so the front end's at-least-once copies are absorbed by
 *                    INSERT ... ON CONFLICT DO NOTHING. status moves
 *                    awaiting_payment -> paid | expired, once (CHECKs tie
 *                    paid_at/expired_at to it). synced_at: when Redis was
 *                    told of the final state (expired: unit returned and
 *                    buyer released; paid: announced); NULL while pending.
 *   order_offsets    (topic, partition) -> next offset to apply. Written in
 *                    the same transaction as the orders it covers, so the
 *                    database, not Kafka, says where consumption stands.
 *   order_campaigns  campaign -> pay_within_s, when a campaign has its own
 *                    payment window (else seckill-orders --pay-within).
 *
 * "unique (campaign, buyer)" holds among live orders (not expired): an
 * expired order releases its buyer, who may buy again in the same campaign,
 * so the unique index is partial (orders_live_buyer). A second live order of
 * a buyer is absorbed like a copy, and seckillctl audit lists it (it is in
 * Kafka but not in the table).
 *
 * buyer is numeric(20,0): buyer ids are u64, PostgreSQL's bigint is signed.
 */
#ifndef SECKILL_ORDERS_SQL_H
#define SECKILL_ORDERS_SQL_H

#define ORDERS_SQL_SCHEMA \
	"create table if not exists orders (\n" \
	"  order_id   text primary key,\n" \
	"  campaign   bigint not null,\n" \
	"  buyer      numeric(20,0) not null,\n" \
	"  qty        integer not null,\n" \
	"  node       integer not null,\n" \
	"  core       integer not null,\n" \
	"  status     text not null default 'awaiting_payment'\n" \
	"             check (status in ('awaiting_payment', 'paid', 'expired')),\n" \
	"  sold_at    timestamptz not null,\n" \
	"  pay_by     timestamptz not null,\n" \
	"  created_at timestamptz not null default now(),\n" \
	"  paid_at    timestamptz,\n" \
	"  expired_at timestamptz,\n" \
	"  synced_at  timestamptz,\n" \
	"  check ((status = 'paid') = (paid_at is not null)),\n" \
	"  check ((status = 'expired') = (expired_at is not null)));\n" \
	"create unique index if not exists orders_live_buyer on orders (campaign, buyer)\n" \
	"  where status <> 'expired';\n" \
	"create index if not exists orders_due on orders (pay_by)\n" \
	"  where status = 'awaiting_payment';\n" \
	"create index if not exists orders_unsynced on orders (campaign)\n" \
	"  where synced_at is null and status <> 'awaiting_payment';\n" \
	"create table if not exists order_offsets (\n" \
	"  topic       text not null,\n" \
	"  partition   integer not null,\n" \
	"  next_offset bigint not null,\n" \
	"  primary key (topic, partition));\n" \
	"create table if not exists order_campaigns (\n" \
	"  campaign     bigint primary key,\n" \
	"  pay_within_s integer not null check (pay_within_s > 0));\n"

/* The tables made by whichever program comes first (seckill-orders at start,
 * seckillctl order pay-within), one at a time: CREATE ... IF NOT EXISTS can
 * race itself, so under a transaction's advisory lock ("seckill" in a number). */
#define ORDERS_SQL_CREATE \
	"begin; select pg_advisory_xact_lock(7405311);\n" ORDERS_SQL_SCHEMA "commit;"

/* The staging table COPY fills; emptied by every commit. */
#define ORDERS_SQL_STAGE \
	"create temp table if not exists orders_in (order_id text, campaign bigint,\n" \
	"  buyer numeric(20,0), qty integer, node integer, core integer, time_ms bigint)\n" \
	"  on commit delete rows"
#define ORDERS_SQL_COPY "copy orders_in from stdin"
/* The fast path: the rows straight into orders, sold_at and pay_by computed
 * by the writer from ORDERS_SQL_WINDOWS, read in the same transaction. A
 * copy of an order already there (or a second live order of a buyer) fails
 * it with ORDERS_SQLSTATE_UNIQUE; the writer then redoes the batch through
 * the staging table, whose INSERT ... ON CONFLICT absorbs them. */
#define ORDERS_SQL_COPY_DIRECT \
	"copy orders (order_id, campaign, buyer, qty, node, core, sold_at, pay_by) from stdin"
#define ORDERS_SQL_WINDOWS "select campaign, pay_within_s from order_campaigns"
#define ORDERS_SQLSTATE_UNIQUE "23505"
/* $1: the default payment window, seconds. */
#define ORDERS_SQL_FROM_STAGE \
	"insert into orders (order_id, campaign, buyer, qty, node, core, sold_at, pay_by)\n" \
	"select i.order_id, i.campaign, i.buyer, i.qty, i.node, i.core,\n" \
	"       to_timestamp(i.time_ms / 1000.0),\n" \
	"       to_timestamp(i.time_ms / 1000.0)\n" \
	"         + make_interval(secs => coalesce(c.pay_within_s, $1::integer))\n" \
	"from orders_in i left join order_campaigns c on c.campaign = i.campaign\n" \
	"on conflict do nothing"

/* One row: $1 id, $2 campaign, $3 buyer, $4 qty, $5 node, $6 core, $7 time_ms, $8 window. */
#define ORDERS_SQL_INSERT_ONE \
	"insert into orders (order_id, campaign, buyer, qty, node, core, sold_at, pay_by)\n" \
	"values ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint / 1000.0),\n" \
	"  to_timestamp($7::bigint / 1000.0) + make_interval(secs => coalesce(\n" \
	"    (select pay_within_s from order_campaigns where campaign = $2::bigint), $8::integer)))\n" \
	"on conflict do nothing"

/*
 * The offset of one partition moves from $3 (what this consumer read from
 * the table; -1: no row yet) to $4. A consumer that lost the partition in a
 * rebalance and writes late finds another value there: the statement fails
 * with ORDERS_SQLSTATE_FENCED and its whole transaction is rolled back.
 */
#define ORDERS_SQL_OFFSET_MOVE \
	"with m as (insert into order_offsets (topic, partition, next_offset) values ($1, $2, $4)\n" \
	"  on conflict (topic, partition) do update set next_offset = excluded.next_offset\n" \
	"  where order_offsets.next_offset = $3::bigint returning 1)\n" \
	"select 1 / (select count(*)::integer from m)"
/* A fenced move divides by zero (not a constant: the planner cannot fold it),
 * which aborts the transaction even inside a pipeline. */
#define ORDERS_SQLSTATE_FENCED "22012"
#define ORDERS_SQL_OFFSETS_READ \
	"select partition, next_offset from order_offsets where topic = $1"

/*
 * Payment: $1 order id. Answers one row, one column: paid_now (this call
 * paid it), paid (it was paid before: idempotent), expired, too_late (the
 * deadline passed; the sweeper expires it), or no row (unknown order).
 * Payment and expiry both lock the row; whichever is first wins, the other
 * finds the status changed.
 */
#define ORDERS_SQL_PAY \
	"with u as (update orders set status = 'paid', paid_at = now()\n" \
	"           where order_id = $1 and status = 'awaiting_payment' and pay_by > now()\n" \
	"           returning 'paid_now'::text as r)\n" \
	"select r from u\n" \
	"union all\n" \
	"select case when status = 'awaiting_payment' then 'too_late' else status end\n" \
	"from orders where order_id = $1 and not exists (select 1 from u)"

/* Expiry: up to $1 orders past their deadline; rows a payment holds are skipped. */
#define ORDERS_SQL_EXPIRE \
	"update orders set status = 'expired', expired_at = now()\n" \
	"where order_id in (select order_id from orders\n" \
	"                   where status = 'awaiting_payment' and pay_by <= now()\n" \
	"                   order by pay_by limit $1 for update skip locked)"

/* The outbox: final states Redis has not been told about, up to $1. */
#define ORDERS_SQL_UNSYNCED \
	"select order_id, campaign, buyer, qty, status from orders\n" \
	"where synced_at is null and status <> 'awaiting_payment' limit $1"
/* $1: a text array literal of order ids. */
#define ORDERS_SQL_SYNCED \
	"update orders set synced_at = now() where order_id = any($1::text[]) and synced_at is null"

/* One order for GET /orders/{id} and seckillctl order show. */
#define ORDERS_SQL_GET \
	"select order_id, campaign, buyer, qty, status,\n" \
	"  (extract(epoch from sold_at) * 1000)::bigint, (extract(epoch from pay_by) * 1000)::bigint,\n" \
	"  synced_at is not null from orders where order_id = $1"

#endif
