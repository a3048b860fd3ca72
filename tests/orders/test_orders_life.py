#!/usr/bin/env python3
"""The order's life cycle through the real seckill-orders, PostgreSQL, Redis
and Kafka (mock brokers):

  - the same orders redelivered (every message produced twice, then the
    whole topic again): exactly one row each;
  - payment through seckillctl and through POST /orders/{id}/paid, paid
    twice (idempotent), an unknown order (404);
  - expiry (--pay-within 2): the unit is back in seckill:stock, sold down,
    the buyer's claim gone, an event for the hosts; a late payment is 409;
  - an expiry racing payments: orders whose deadline falls while payments
    arrive end paid or expired, never both, and the answers agree with the
    rows;
  - a clean seckillctl audit, and sold - returned + left = stock.
"""
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request

from orders_env import Env, check, free_port, run, wait_for

N = 300


def check_metrics(o, mport):
    """GET /metrics on --http and on --metrics-listen's own port: the counters
    of /stats in Prometheus's format; promtool's lint; nothing else on that port."""
    with urllib.request.urlopen(o.url("/metrics"), timeout=10) as r:
        ctype, text = r.headers["Content-Type"], r.read().decode()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        own = r.read().decode()
    check(own.split("\n")[:3] == text.split("\n")[:3],
          "GET /metrics on --metrics-listen's port too")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/stats" % mport, timeout=10)
        check(False, "--metrics-listen's port serves /metrics alone")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "--metrics-listen's port serves /metrics alone (404)")
    check(ctype.startswith("text/plain; version=0.0.4"), "GET /metrics: %s" % ctype)
    inserted = o.stats()["inserted"]
    check("\nseckill_orders_inserted_total %d\n" % inserted in text,
          "GET /metrics: seckill_orders_inserted_total %d, as /stats" % inserted)
    wait_for(lambda: o.lag() == (0, 3), "consumer lag 0 on each of the 3 partitions, "
             "all written")
    if shutil.which("promtool"):
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=30)
        check(lint.returncode == 0, "promtool check metrics: %s%s" % (lint.stdout, lint.stderr))


def main():
    with Env(stock=1000) as env:
        mport = free_port()
        o = env.orders("--pay-within", "6", "--metrics-listen", str(mport))
        o.assigned()
        lines = env.sale.sell(N)
        env.sale.produce(lines)                       # every order twice
        env.wait_rows(N)
        env.sale.produce(lines)                       # and the whole topic again
        wait_for(lambda: o.stats().get("consumed", 0) >= 3 * N, "3N consumed")
        check(env.rows() == N, "%d messages (3 copies each) make %d rows" % (3 * N, N))
        st = o.stats()
        # The copies take the writer's slow path: the direct COPY meets rows
        # already there, rolls back, and the batch goes through the stage.
        check(st["staged_batches"] >= 1 and st["duplicates"] == 2 * N,
              "copies redone through the stage: %d batches, %d duplicates absorbed"
              % (st["staged_batches"], st["duplicates"]))
        check_metrics(o, mport)

        first, second = env.sale.orders[0][0], env.sale.orders[1][0]
        r = env.ctl("order", "pay", "--id", first, "--pg", env.pg.conninfo)
        check(r.returncode == 0 and "paid" in r.stdout, "seckillctl order pay: %s" % r.stdout.strip())
        r = env.ctl("order", "pay", "--id", first, "--pg", env.pg.conninfo)
        check(r.returncode == 0 and "already" in r.stdout, "paying again is idempotent")
        st, body = o.request("POST", "/orders/%s/paid" % second)
        check(st == 200 and body["status"] == "paid", "POST /orders/{id}/paid -> 200 paid")
        st, body = o.request("POST", "/orders/%s/paid" % second)
        check(st == 200 and body.get("already") is True, "POST again -> 200 already")
        st, _ = o.request("POST", "/orders/65f1a2b3-0001-0000-00000000deadbeef/paid")
        check(st == 404, "unknown order -> 404")
        st, _ = o.request("POST", "/orders/nonsense/paid")
        check(st == 400, "bad order id -> 400")

        # The race: payments for orders 3..N spread across the deadline.
        answers = {}

        def pay(ids):
            for oid in ids:
                answers[oid] = o.request("POST", "/orders/%s/paid" % oid)[0]
                time.sleep(0.01)
        ids = [oid for oid, _ in env.sale.orders[2:]]
        deadline = int(env.pg.sql("select (extract(epoch from min(pay_by)) * 1000)::bigint "
                                  "from orders")[0][0]) / 1000.0
        time.sleep(max(0, deadline - time.time() - 1.0))
        ts = [threading.Thread(target=pay, args=(ids[k::3],)) for k in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wait_for(lambda: env.statuses().get("awaiting_payment", 0) == 0, "every order decided")
        rows = dict(env.pg.sql("select order_id, status from orders"))
        paid = [i for i in ids if answers[i] == 200]
        refused = [i for i in ids if answers[i] == 409]
        check(len(paid) + len(refused) == len(ids), "every racing payment answered 200 or 409 "
              "(%d paid, %d refused)" % (len(paid), len(refused)))
        check(all(rows[i] == "paid" for i in paid) and all(rows[i] == "expired" for i in refused),
              "each order is what its payment was told: paid or expired, never both")
        check(int(env.pg.sql("select count(*) from orders where paid_at is not null and "
                             "expired_at is not null")[0][0]) == 0, "no row both paid and expired")

        expired = env.statuses().get("expired", 0)
        wait_for(lambda: int(env.redis.cli("SCARD", "seckill:returned:{1}")) == expired,
                 "the expired units back in Redis")
        oid, buyer = env.sale.orders[refused[0] and ids.index(refused[0]) + 2] if refused else (None, None)
        if oid:
            check(env.redis.cli("EXISTS", "seckill:buyer:{1}:%d" % buyer) == "0",
                  "an expired order's buyer claim is released")
            st, _ = o.request("POST", "/orders/%s/paid" % oid)
            check(st == 409, "paying an expired order -> 409")
            events = env.redis.cli("LRANGE", "seckill:order_events:{1}", 0, -1).splitlines()
            check("expired %s %d" % (oid, buyer) in events, "the hosts' event list says so")
        check(env.redis.cli("EXISTS", "seckill:buyer:{1}:%d" % env.sale.orders[0][1]) == "1",
              "a paid order's buyer claim stays")
        a = env.check_ledger(N)
        print("audit:", a["postgres"], a["redis"])


if __name__ == "__main__":
    run(main)
