#!/usr/bin/env python3
"""The writer's ways agree (orders/orders_write.c), on a private PostgreSQL:

  - `copy` (COPY straight into orders, sold_at and pay_by computed by the
    writer) and `stage` (COPY into a staging table, INSERT ... SELECT ... ON
    CONFLICT, pay_by computed by PostgreSQL) write the same rows, to the
    microsecond, for two campaigns of which one has its own payment window;
  - with 20 % of every batch sent again in the next one, `copy` redoes those
    batches through the stage and still ends with one row per order, as do
    `stage` and `pipeline`.

bench-orders-db (tools/bench-orders' writer) sends the orders: the batches,
copies and offsets seckill-orders commits.
"""
import subprocess

from orders_env import Fail, Postgres, check, exe, require_postgres, run

ORDERS = 20000
ROWS = ("select order_id, campaign, buyer, qty, node, core, status, "
        "to_char(sold_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
        "to_char(pay_by at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') "
        "from orders order by order_id")


def bench(pg, modes, copies):
    r = subprocess.run([exe("orders", "bench-orders-db"), "--pg", pg.conninfo, "--orders",
                        str(ORDERS), "--batch", "1000", "--copies", str(copies), "--modes", modes],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Fail("bench-orders-db --modes %s --copies %d: %s%s" % (modes, copies, r.stdout,
                                                                    r.stderr))
    return r.stdout


def main():
    require_postgres()
    pg = Postgres()
    try:
        pg.up()
        bench(pg, "copy", 0)                  # makes the tables
        pg.sql("insert into order_campaigns values (2, 60)")
        out = bench(pg, "copy", 0)
        check("(0 batches redone" in out, "no copies, no batch redone: %s" % out.strip())
        direct = pg.sql(ROWS)
        bench(pg, "stage", 0)
        staged = pg.sql(ROWS)
        check(len(direct) == ORDERS and direct == staged,
              "copy and stage write the same %d rows (%d and %d)" % (ORDERS, len(direct),
                                                                   len(staged)))
        windows = pg.sql("select campaign, extract(epoch from pay_by - sold_at)::int, count(*) "
                         "from orders group by 1, 2 order by 1")
        check(windows == [["1", "900", str(ORDERS // 2)], ["2", "60", str(ORDERS // 2)]],
              "pay_by: campaign 1 the default 900 s, campaign 2 its own 60 s: %s" % windows)

        for modes in ("copy", "stage", "pipeline"):
            out = bench(pg, modes, 20)        # exits 1 unless rows = orders
            check(len(pg.sql("select order_id from orders")) == ORDERS,
                  "%s with copies: one row per order" % modes)
            if modes == "copy":
                redone = int(out.split("(")[-1].split()[0])
                check(redone >= ORDERS // 1000 - 1,
                      "copy with copies: the batches holding them went through the stage "
                      "(%d)" % redone)
        print("copy = stage to the microsecond for %d orders; copies absorbed by all three"
              % ORDERS)
    finally:
        pg.cleanup()


if __name__ == "__main__":
    run(main)
