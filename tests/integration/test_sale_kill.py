#!/usr/bin/env python3
"""test_sale_kill.py - SIGKILL mid-sale, three times: every buyer told 200
has an order in Kafka, and the sale still ends exactly sold out.

One host (one worker) sells STOCK units through Redis and Kafka
(tools/kafka-mock, a private redis-server) to BUYERS buyers who arrive over
SPREAD_S seconds (nsbuyers.py arrive: each buyer asks until told 200, 409 or
410, and asks again after a 503, a refused or silent connection). The
dataplane is killed with SIGKILL at three moments and restarted at once
with the same options:

  early       once a few percent of the stock is sold;
  kafka_down  with every broker down for a while (orders wait in the
              journal), the restart too happens with Kafka down;
  near_end    once most of the stock is sold.

The sale then runs to its end. Checked: every buyer answered 200 has that
order in Kafka, for that buyer; the distinct orders in Kafka = Redis's sold
= the stock; in Redis stock + sold + held = the stock after every kill and
at the end (stock 0, nothing held); no buyer has two orders in Kafka; the
journal's orders are exactly Kafka's; every buyer got a final answer, and a
buyer answered 409 has an order in Kafka (its earlier answer was lost in a
crash).

Cases: `conf` (the campaign given with --campaign) and `runtime` (made with
`seckillctl campaign create` on a dataplane started with --max-stock; after
each restart it must come back from Redis before the buyers can go on).
Not run by default: `kafka`, the conf case with --answer-after kafka (a
200 waits for Kafka's acks: with the brokers down buyers wait, time out
and ask again), and `unsafe`, the conf case with --answer-after
memory-unsafe, where the first check may fail (what the hold prevents).

Run by hand (root): tests/integration/test_sale_kill.py [conf|runtime|kafka|unsafe ...]
"""
import os
import shutil
import sys
import tempfile
import time

import harness
import services
from harness import check, check_eq, TestFailure
from test_sale_durable import Buyers

STOCK = 1500
BUYERS = 2000
SPREAD_S = 15
CONNS = 256               # buyers asking at once, at most
DEADLINE_S = 150          # a buyer gives up after this (never, if all is well)
KAFKA_DOWN_S = 4          # brokers down this long around the second kill
PROGRESS_TIMEOUT_S = 60   # for the sale to reach each kill's moment
SETTLE_TIMEOUT_S = 60


def redis_int(redis, *cmd):
    out = redis.cli(*cmd)
    return int(out) if out else 0


def redis_counts(redis):
    """(stock, sold, held by hosts) of campaign 1 in Redis."""
    held = sum(int(v) for v in redis.cli("HVALS", "seckill:hosts:{1}").split())
    return (redis_int(redis, "GET", "seckill:stock:{1}"), redis_int(redis, "GET", "seckill:sold:{1}"),
            held)


def check_redis_sum(redis, when):
    stock, sold, held = redis_counts(redis)
    check_eq(stock + sold + held, STOCK, "%s: Redis stock %d + sold %d + held %d = the stock"
             % (when, stock, sold, held))


def sold_at_least(redis, n, what):
    harness.wait_for(lambda: redis_counts(redis)[1] >= n, PROGRESS_TIMEOUT_S,
                     "%s: Redis sold >= %d" % (what, n), step_s=0.05)


def restart(dp, runtime):
    """The same dataplane again, same options, on the same namespace."""
    dp.lines, dp.exit_code, dp.counters = [], None, None
    dp.start()
    if runtime:
        ids = [c["id"] for c in dp.ctl_json("campaign", "list")["campaigns"]]
        if 1 not in ids:
            raise TestFailure("after the restart the run-time campaign 1 is gone (campaigns "
                              "%s): a restarted host must load the campaigns Redis knows "
                              "(seckill:campaigns) before it sells" % ids)


def kill(dp, redis, buyers, name):
    n200 = sum(1 for a in buyers.answers if a["s"] == 200)
    dp.kill()
    stock, sold, held = redis_counts(redis)
    print("== kill %s: %d buyers answered 200 so far; Redis stock %d sold %d held %d"
          % (name, n200, stock, sold, held), flush=True)
    check_redis_sum(redis, "after the kill " + name)


ANSWER_AFTER = {"kafka": ["--answer-after", "kafka"],
                "unsafe": ["--answer-after", "memory-unsafe"]}


def run(variant):
    runtime = variant == "runtime"
    d = tempfile.mkdtemp(prefix="seckill-kill-")
    mock = services.kafka_mock_start("--brokers", "3")
    redis = services.RedisServer().start()
    buyers = None
    try:
        key = harness.sale_key(d)
        tokfile = harness.tokens_file(d, key, BUYERS)
        state = os.path.join(d, "state")
        args = ["--token-key", key, "--state-dir", state, "--kafka", mock.bootstrap,
                "--redis", redis.addr, "--ip-rate", "0", "--buyer-rate", "0", "--ip-conns", "0"]
        args += ["--max-stock", str(STOCK)] if runtime else ["--campaign", "1:%d" % STOCK]
        args += ANSWER_AFTER.get(variant, [])
        dp = harness.Dataplane(dp_args=args)
        try:
            dp.start()
            if runtime:
                dp.ctl_json("campaign", "create", "--id", "1", "--stock", str(STOCK))
            buyers = Buyers(dp, lambda p: ["arrive", dp.ip, 80, 1, tokfile, 0, BUYERS,
                                           "198.18.0.2", CONNS, SPREAD_S, DEADLINE_S], procs=1)
            t0 = time.time()

            sold_at_least(redis, STOCK * 5 // 100, "early")
            kill(dp, redis, buyers, "early")
            restart(dp, runtime)

            sold_at_least(redis, STOCK * 35 // 100, "before Kafka goes down")
            check_eq(mock.cmd("broker down all"), "ok", "every broker down")
            down_at = time.time()
            time.sleep(KAFKA_DOWN_S / 2)
            kill(dp, redis, buyers, "kafka_down")
            restart(dp, runtime)
            time.sleep(max(0.0, KAFKA_DOWN_S - (time.time() - down_at)))
            st = dp.ctl_json("stats")
            print("restarted with Kafka down: journal depth %d" % st["journal_depth"], flush=True)
            check_eq(mock.cmd("broker up all"), "ok", "brokers up again")

            sold_at_least(redis, STOCK * 85 // 100, "near the end")
            kill(dp, redis, buyers, "near_end")
            restart(dp, runtime)

            buyers.wait(DEADLINE_S + 30)
            print("buyers done after %.1f s" % (time.time() - t0), flush=True)
            harness.wait_for(lambda: redis_counts(redis)[1] == STOCK and
                             dp.ctl_json("stats")["journal_depth"] == 0, SETTLE_TIMEOUT_S,
                             "every order claimed in Redis and delivered to Kafka")
            dp.stop()
            dp.check_clean_exit()
        finally:
            if buyers is not None:
                buyers.stop()
            dp.cleanup()
        check_outcome(buyers, mock, redis, state)
    finally:
        redis.cleanup()
        mock.stop()
        shutil.rmtree(d, ignore_errors=True)


def check_outcome(buyers, mock, redis, state):
    final = {}
    for a in buyers.answers:
        if a["b"] in final:
            raise TestFailure("buyer %d given two final answers: %s, %s" % (a["b"], final[a["b"]], a))
        final[a["b"]] = a
    by_status = {}
    for a in final.values():
        by_status[a["s"]] = by_status.get(a["s"], 0) + 1
    print("buyers' final answers by status: %s; client %s" % (by_status, buyers.summaries),
          flush=True)
    check_eq(len(final), BUYERS, "every buyer got a final answer or gave up")
    check_eq(by_status.get(0, 0), 0, "no buyer gave up")

    msgs = services.kafka_orders(mock.bootstrap)
    buyer_of = {}
    orders_of = {}
    for _, m in msgs:
        if buyer_of.get(m["order_id"], m["buyer"]) != m["buyer"]:
            raise TestFailure("order %s has two buyers in Kafka: %d, %d"
                              % (m["order_id"], buyer_of[m["order_id"]], m["buyer"]))
        buyer_of[m["order_id"]] = m["buyer"]
        orders_of.setdefault(m["buyer"], set()).add(m["order_id"])
    print("Kafka: %d messages, %d distinct orders (copies from crashes: %d)"
          % (len(msgs), len(buyer_of), len(msgs) - len(buyer_of)), flush=True)

    oks = [(a["b"], a["o"]) for a in final.values() if a["s"] == 200]
    lost = [(b, o) for b, o in oks if buyer_of.get(o) != b]
    check_eq(lost, [], "every buyer answered 200 has that order in Kafka")
    stock, sold, held = redis_counts(redis)
    check_eq((len(buyer_of), sold), (STOCK, STOCK),
             "distinct orders in Kafka, Redis sold = the stock")
    check_eq((stock, held), (0, 0), "Redis at the end: stock 0, nothing held")
    twice = {b: o for b, o in orders_of.items() if len(o) > 1}
    check_eq(twice, {}, "no buyer has two orders in Kafka")
    no_order_409 = [b for b, a in final.items() if a["s"] == 409 and b not in orders_of]
    check_eq(no_order_409, [], "a buyer answered 409 has an order in Kafka")
    recs = harness.journal_dump(os.path.join(state, "journal"))
    check(set(r[1] for r in recs if r[4] > 0) == set(buyer_of),
          "the journal's orders are exactly Kafka's (%d journaled)" % len(recs))
    lost_answers = len(set(orders_of) - {b for b, _ in oks})
    print("buyers with an order whose 200 was lost in a crash (answered 409 or 410 later): %d"
          % lost_answers, flush=True)


def test():
    for variant in sys.argv[1:] or ["conf", "runtime"]:
        print("== case %s" % variant, flush=True)
        run(variant)


if __name__ == "__main__":
    harness.run(test, tools=("kcat", "redis-server", "redis-cli"))
