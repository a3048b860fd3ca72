#!/usr/bin/env python3
"""test_orders_dataplane.py - the order's whole life through the real chain:
seckill-dp (--redis --kafka, two worker cores, in a network namespace) sells,
tools/kafka-mock carries the orders to seckill-orders, which stores them in
PostgreSQL (tools/postgres), takes payments (seckillctl order pay) and
expires what is unpaid after --pay-within 10; the dataplane reads the order
service's events from Redis (control/ctl_sale_events.c):

  - a paid order: GET /api/orders/{id} on the dataplane says "paid";
  - an expired order says "expired" within 1 s of the expiry (seckill-orders'
    event in Redis; PostgreSQL's expired_at), its buyer buys again at once
    (200, a new order id: the unit came back through Redis's stock, which the
    host had found empty), and a buyer who was told sold_out buys too;
  - restarted (SIGINT, same state dir), the host reads the events again from
    the start: a buyer whose order expired in its earlier run, whom its
    journal claimed again, may buy again; buyers who paid may not;
  - Redis's stock + sold + held = the campaign's stock at every sample, and
    seckillctl audit is clean at the end.

Run by hand (root): tests/orders/test_orders_dataplane.py
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from orders_env import Orders, Postgres, require_postgres  # noqa: E402  (puts tests/integration on the path)
import harness  # noqa: E402
import kafka_mock  # noqa: E402
import services  # noqa: E402
from harness import check, check_eq  # noqa: E402
from orders_dp import (Invariant, buy, buy_many, buy_until, order_status, pay,  # noqa: E402
                       pg_expired_at, pg_rows, seckillctl, watch, watched_at)

STOCK = 4
NODE = 7
# Long enough for the buys, the rows and a payment on a loaded 2-CPU box (a
# request from the namespace costs a python start-up, ~0.5 s).
PAY_WITHIN_S = 10
EVENT_BAR_S = 1.0            # expiry -> the dataplane says expired (the bar)


class Env:
    """What orders_env.Orders needs: the brokers, the database, Redis."""

    def __init__(self, mock, pg, redis):
        self.mock, self.pg, self.redis = mock, pg, redis


def paid(dp, pg, oid):
    rc, out = pay(pg, oid)
    check(rc == 0, "seckillctl order pay: %s" % out)
    check(watched_at(watch(dp, oid, "paid", 10)) is not None,
          "GET /api/orders/%s on the dataplane says paid" % oid)


def first_sale(dp, pg, redis, tokens):
    """Buyers 1..4 buy the 4 units; 1 pays, 2..4 expire; 2 and 5 buy the
    returned units and pay."""
    got = buy_many(dp, tokens[0:STOCK])
    check_eq([s for s, _ in got], [200] * STOCK, "buyers 1..%d: 200 each" % STOCK)
    oid = {b + 1: o for b, (_, o) in enumerate(got)}
    check_eq(buy_until(dp, tokens[4], ok=(410,)), (410, "sold_out"), "buyer 5: 410 sold_out")
    harness.wait_for(lambda: len(pg_rows(pg)) == STOCK, 30, "%d orders in PostgreSQL" % STOCK,
                     step_s=0.1)
    paid(dp, pg, oid[1])

    # Buyer 2's order expires: how long until the dataplane says so.
    w = watch(dp, oid[2], "expired", 30)
    ev = "expired %s 2" % oid[2]
    seen = harness.wait_for(lambda: ev in redis.cli("LRANGE", "seckill:order_events:{1}", "0", "-1")
                            .splitlines() and time.time(), 30, "the expiry's event in Redis",
                            step_s=0.01)
    dp_at = watched_at(w)
    check(dp_at is not None, "GET /api/orders/{expired} on the dataplane says expired")
    pg_at = pg_expired_at(pg, oid[2])
    print("expiry: PostgreSQL %.3f, event seen in Redis %.3f, dataplane says expired %.3f "
          "(%.0f ms after the event, %.0f ms after PostgreSQL)"
          % (pg_at, seen, dp_at, (dp_at - seen) * 1000, (dp_at - pg_at) * 1000), flush=True)
    check(dp_at - seen <= EVENT_BAR_S, "the dataplane says expired within %.1f s of the event "
          "(%.0f ms)" % (EVENT_BAR_S, (dp_at - seen) * 1000))
    check(dp_at - pg_at <= EVENT_BAR_S + 0.5, "... and of PostgreSQL's expiry (%.0f ms)"
          % ((dp_at - pg_at) * 1000))
    check_eq(redis.cli("EXISTS", "seckill:buyer:{1}:2"), "0", "buyer 2's Redis claim is gone")

    # The buyer buys again at once: the host found Redis empty before, and
    # takes the returned unit again (ctl_sale_redis.c's empty retry).
    t0 = time.time()
    st, new2 = buy_until(dp, tokens[1])
    print("buyer 2 bought again %.0f ms after seeing expired" % ((time.time() - t0) * 1000))
    check(st == 200 and new2 != oid[2], "buyer 2 buys again: 200, a new order (%s)" % new2)
    check_eq(order_status(dp, oid[2]), "expired", "the old order still says expired")
    harness.wait_for(lambda: set(pg_rows(pg).get(oid[b]) for b in (3, 4)) == {"expired"}, 30,
                     "orders 3 and 4 expired")
    st, o5 = buy_until(dp, tokens[4])
    check_eq(st, 200, "buyer 5, told sold_out before, buys a returned unit")
    harness.wait_for(lambda: new2 in pg_rows(pg) and o5 in pg_rows(pg), 30, "the new orders stored")
    paid(dp, pg, new2)
    paid(dp, pg, o5)


def restarted(dp, pg, tokens):
    """After the restart: buyers 3 and 4 (expired in the last run) were claimed
    again by the journal and released by the events read from 0."""
    check_eq(buy(dp, tokens[1])[0], 409, "buyer 2 bought again and paid: 409")
    check_eq(buy(dp, tokens[0])[0], 409, "buyer 1 paid: 409")
    st, o4 = buy_until(dp, tokens[3])
    check_eq(st, 200, "buyer 4, whose order expired in the earlier run, buys the last unit")
    harness.wait_for(lambda: o4 in pg_rows(pg), 30, "buyer 4's new order stored")
    paid(dp, pg, o4)


def test():
    require_postgres()
    kafka_mock.EXE = os.path.join(harness.build_dir(), "tools", "kafka-mock")
    state = tempfile.mkdtemp(prefix="seckill-orders-dp-")
    pg, redis, mock, orders = Postgres(), services.RedisServer(), None, None
    inv = Invariant(redis, 1, STOCK)
    try:
        pg.up()
        redis.start()
        mock = kafka_mock.Mock("--topic", "seckill.orders:3")
        key = harness.sale_key(state)
        tokens = harness.seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                                    "--count", "8", "--ttl", "600").split()
        args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state,
                "--ip-rate", "100000/s", "--ip-burst", "10000", "--buyer-rate", "100000/s",
                "--buyer-burst", "10000", "--kafka", mock.bootstrap, "--redis", redis.addr,
                "--node-id", str(NODE)]
        orders = Orders(Env(mock, pg, redis), "--pay-within", str(PAY_WITHIN_S), http=False)
        inv.start()
        with harness.Dataplane(dp_args=args, workers=2) as dp:
            first_sale(dp, pg, redis, tokens)
        dp.check_clean_exit()
        check_eq((dp.c("orders.paid"), dp.c("orders.expired")), (3, 3),
                 "the dataplane marked 3 orders paid, 3 expired")
        check_eq(dp.c("events.expired"), 3, "events.expired")
        with harness.Dataplane(dp_args=args, workers=2) as dp2:
            restarted(dp2, pg, tokens)
        dp2.check_clean_exit()
        check(dp2.c("events.released") >= 1, "the restarted host released buyers of earlier "
              "expired orders (%d)" % dp2.c("events.released"))
        check(dp2.c("events.kept") >= 1, "... and kept buyer 2, who bought again (%d)"
              % dp2.c("events.kept"))
        inv.stop()
        check(inv.samples > 20 and not inv.bad, "Redis: stock + sold + held = %d at all %d "
              "samples (off: %s)" % (STOCK, inv.samples, inv.bad[:5]))
        check_eq(sorted(pg_rows(pg).values()), ["expired"] * 3 + ["paid"] * 4,
                 "PostgreSQL: 4 paid, 3 expired")
        a = seckillctl("audit", "--campaign", "1", "--pg", pg.conninfo, "--redis", redis.addr,
                       "--kafka", mock.bootstrap)
        print(a.stdout, a.stderr)
        check_eq(a.returncode, 0, "seckillctl audit --campaign 1 exit code (clean)")
    finally:
        inv.halt.set()
        if orders:
            log = orders.stop()
            if os.environ.get("SECKILL_VERBOSE"):
                print("--- seckill-orders log:\n" + log)
        if mock:
            mock.stop()
        redis.cleanup()
        pg.cleanup()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test, tools=("kcat", "redis-server", "redis-cli"))
