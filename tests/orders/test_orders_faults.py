#!/usr/bin/env python3
"""Faults, each ending with exactly one row per sold order, the offsets in
the database covering every message once, sold - returned + left = stock,
and a clean seckillctl audit:

  kill      seckill-orders SIGKILLed mid-stream (small batches), restarted
  pg        PostgreSQL stopped with pg_ctl -m immediate and started again
  group     two consumers in one group: a second joins (rebalance), the
            first is SIGKILLed (its partitions move after the session)
  redis     Redis down while expired units are due back: they wait, and
            are returned once when it is back

  test_orders_faults.py [kill|pg|group|redis ...]   (default: all)
"""
import sys
import time

from orders_env import Env, check, run, wait_for


def offsets_cover(env, messages):
    total = int(env.pg.sql("select coalesce(sum(next_offset), 0) from order_offsets")[0][0])
    check(total == messages, "order_offsets cover the %d messages exactly" % messages)


def fault_kill():
    n = 20000
    with Env(stock=n) as env:
        o = env.orders("--batch", "200", "--batch-ms", "5", http=True)
        o.assigned()
        env.sale.sell(n)
        wait_for(lambda: env.rows() >= 1000, "a first part stored")
        o.kill()
        at = env.rows()
        check(0 < at < n, "SIGKILLed mid-stream with %d of %d rows stored" % (at, n))
        o2 = env.orders()
        env.wait_rows(n)
        time.sleep(1)
        check(o2.stats()["inserted"] == n - at, "the restart inserted exactly the rest")
        offsets_cover(env, n)
        env.check_ledger(n)


def fault_pg():
    n = 10000
    with Env(stock=n) as env:
        o = env.orders("--batch", "500", "--batch-ms", "5")
        o.assigned()
        env.sale.sell(n // 2)
        wait_for(lambda: env.rows() >= 1, "first rows")
        env.pg.stop_immediate()
        print("ok: pg_ctl -m immediate stop", flush=True)
        env.sale.sell(n // 2, first=n // 2 + 1)
        wait_for(lambda: o.lag()[0] >= n // 2, "the consumer lag grows while the database "
                 "is down (at least the %d orders sold since)" % (n // 2))
        print("ok: consumer lag %d" % o.lag()[0], flush=True)
        time.sleep(1)
        env.pg.up()
        print("ok: PostgreSQL started again", flush=True)
        env.wait_rows(n)
        wait_for(lambda: o.lag()[0] == 0, "the consumer lag back to 0")
        st = o.stats()
        check(st["write_errors"] + st["resyncs"] >= 2, "the consumer saw the outage and re-read "
              "its offsets (%d write errors, %d resyncs)" % (st["write_errors"], st["resyncs"]))
        offsets_cover(env, n)
        env.check_ledger(n)


def fault_group():
    n = 6000
    with Env(stock=n, partitions=4) as env:
        o1 = env.orders()
        o1.assigned()
        env.sale.sell(n // 3)
        env.wait_rows(n // 3)
        o2 = env.orders()
        env.sale.sell(n // 3, first=n // 3 + 1)
        wait_for(lambda: o2.stats().get("resyncs", 0) >= 1, "the second consumer assigned")
        env.wait_rows(2 * n // 3)
        o1.kill()
        print("ok: first consumer SIGKILLed", flush=True)
        env.sale.sell(n // 3, first=2 * n // 3 + 1)
        env.wait_rows(n)
        time.sleep(1)
        check(o1.proc.returncode is not None and o2.stats()["rebalances"] >= 3,
              "rebalances seen by the survivor: %d" % o2.stats()["rebalances"])
        offsets_cover(env, n)
        env.check_ledger(n)


def fault_redis():
    n = 100
    with Env(stock=1000) as env:
        o = env.orders("--pay-within", "3")
        o.assigned()
        env.sale.sell(n)
        env.wait_rows(n)
        env.redis.kill()
        print("ok: Redis SIGKILLed", flush=True)
        wait_for(lambda: env.statuses().get("expired", 0) == n, "all expired in PostgreSQL")
        time.sleep(1)
        unsynced = int(env.pg.sql("select count(*) from orders where synced_at is null")[0][0])
        check(unsynced == n, "with Redis down the %d units wait (unsynced)" % n)
        env.redis.start()
        wait_for(lambda: int(env.redis.cli("SCARD", "seckill:returned:{1}") or 0) == n,
                 "the units returned once Redis is back")
        wait_for(lambda: int(env.pg.sql("select count(*) from orders where synced_at is null")[0][0]) == 0,
                 "every expiry marked synced")
        check(env.redis.cli("GET", "seckill:sold:{1}") == "0", "Redis sold back to 0")
        env.check_ledger(n)


FAULTS = {"kill": fault_kill, "pg": fault_pg, "group": fault_group, "redis": fault_redis}


def main():
    for name in sys.argv[1:] or list(FAULTS):
        print("== fault:", name, flush=True)
        FAULTS[name]()


if __name__ == "__main__":
    run(main)
