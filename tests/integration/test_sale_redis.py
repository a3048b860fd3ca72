#!/usr/bin/env python3
"""test_sale_redis.py - one sale shared through Redis and Kafka: no unit
oversold, none left unsold, no buyer served twice, whatever fails.

Every case starts its own redis-server (private loopback port, append-only
with fsync always) and tools/kafka-mock, and runs seckill-dp with
--kafka and --redis; the campaign lives in Redis (seckill:campaign:{1},
seckill:stock:{1}, seckill:sold:{1}, seckill:hosts:{1}).

- race: 20,000 buyers race for 1,000 units on one host with two workers.
  Exactly 1,000 answers 200 (a 503 stock_busy while a chunk is on its way
  is retried), every order confirmed, Kafka holds exactly those 1,000,
  Redis says sold 1,000, stock 0, nothing held.
- two_hosts: two dataplanes (two namespaces, node ids 1 and 2) sell one
  campaign of 300 to overlapping buyers: each buyer who bought on both hosts
  is confirmed on one and rejected (duplicate) on the other. Kafka holds
  one order per buyer, as many as Redis has sold; after both stop, stock +
  sold = 300 and no host holds anything.
- redis_restart: Redis is SIGKILLed mid-sale and restarted on its port.
  Meanwhile the host sells from the units it holds (200, pending), or
  answers 503, never 410; the orders are confirmed once Redis is back.
- close: `seckillctl campaign close` gives every unsold unit this host holds
  back to Redis at once and records the state there; `campaign open` takes
  them again and they are sold, once each.
- dp_sigkill: seckill-dp is SIGKILLed with orders not yet confirmed; the
  restarted one confirms them, sells what its Redis holding still has, and
  the sale ends with sold = stock everywhere.

Run by hand (root): tests/integration/test_sale_redis.py [CASE...]
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import harness
import services
from harness import check, check_eq
from test_sale_kafka_faults import buy

CONFIRM_TIMEOUT_S = 40
SRC_IPS = ["198.18.0.%d" % i for i in range(10, 74)]


def redis_state(redis):
    """(stock, sold, held by all hosts) of campaign 1 in Redis."""
    held = sum(int(v) for v in redis.cli("HVALS", "seckill:hosts:{1}").split())
    return int(redis.cli("GET", "seckill:stock:{1}")), int(redis.cli("GET", "seckill:sold:{1}")), held


def sale_args(state, key, stock, mock, redis, node=0):
    return ["--campaign", "1:%d" % stock, "--token-key", key, "--state-dir", state,
            "--ip-rate", "100000/s", "--ip-burst", "10000", "--kafka", mock.bootstrap,
            "--redis", redis.addr, "--node-id", str(node)]


def settled(dp, n=None):
    """Waits until every journaled order is confirmed or rejected; the stats."""
    def done():
        st = dp.ctl_json("stats")
        o = st["orders"]
        if st["journal_depth"] == 0 and (n is None or o["confirmed"] + o["rejected"] == n):
            return st
        return None
    return harness.wait_for(done, CONFIRM_TIMEOUT_S, "orders settled")


def buy_retry(dp, tokens, seconds=20):
    """buy(), with each 503 (a chunk on its way from Redis) tried again after
    a moment, as a client honouring Retry-After would: [(status, id or code)]."""
    out = [None] * len(tokens)
    todo = list(range(len(tokens)))
    deadline = time.time() + seconds
    while todo:
        for i, a in zip(todo, buy(dp, [tokens[i] for i in todo])):
            out[i] = a
        todo = [i for i in todo if out[i][0] == 503]
        if todo and time.time() > deadline:
            break
        time.sleep(0.05)
    return out


def answer_counts(got):
    """{(status, "ok" or error code): n}. Counts, not positions: a buyer whose
    503 was retried may be served after a later buyer was."""
    out = {}
    for st, what in got:
        k = (st, "ok" if st == 200 else what)
        out[k] = out.get(k, 0) + 1
    return out


def kafka_buyers(mock):
    msgs = services.kafka_orders(mock.bootstrap)
    return msgs, [m["buyer"] for _, m in msgs], {m["order_id"] for _, m in msgs}


def case_race(d, key, tokens, mock, redis):
    buyers, stock = 20000, 1000
    tokfile = harness.tokens_file(d, key, buyers)
    # The race client retries a 503 at once, unlike a buyer honouring
    # Retry-After: the per-buyer limit would then answer 429 (it has its own test).
    args = sale_args(d, key, stock, mock, redis) + ["--buyer-rate", "100000/s",
                                                    "--buyer-burst", "10000"]
    with harness.Dataplane(dp_args=args, workers=2) as dp:
        dp.add_client_ips(SRC_IPS)
        status, codes, retried, orders, errors, _ = harness.race_merge(harness.race(
            dp, tokfile, 1, buyers, 4, 24, SRC_IPS, 3.0, 60))
        print("503s retried: %s" % retried)
        check_eq(errors, {}, "client connection errors")
        check_eq(status, {"200": stock, "410": buyers - stock}, "answers: 200 per unit, 410 for the rest")
        check(set(retried) <= {"stock_busy"}, "only stock_busy 503s were retried: %s" % retried)
        st = settled(dp, stock)
        check_eq(st["orders"], {"confirmed": stock, "rejected": 0}, "every order confirmed")
        check_eq(st["redis"]["confirms"], stock, "one Redis confirm per order")
    dp.check_clean_exit()
    msgs, kb, ids = kafka_buyers(mock)
    check_eq(len(msgs), stock, "messages in Kafka")
    check(ids == {o for _, o in orders}, "Kafka holds exactly the orders answered 200")
    check_eq(redis_state(redis), (0, stock, 0), "Redis: stock 0, sold %d, nothing held" % stock)


def case_two_hosts(d, key, tokens, mock, redis):
    stock = 300
    d2 = tempfile.mkdtemp(prefix="seckill-redis-b-")
    try:
        with harness.Dataplane(dp_args=sale_args(d, key, stock, mock, redis, 1)) as a, \
                harness.Dataplane(dp_args=sale_args(d2, key, stock, mock, redis, 2), host=1) as b:
            # Buyers 0..249 on A, 100..349 on B: 150 of them try on both.
            res = {}

            def run(name, dp, toks):
                res[name] = buy_retry(dp, toks)
            ts = [threading.Thread(target=run, args=("a", a, tokens[0:250])),
                  threading.Thread(target=run, args=("b", b, tokens[100:350]))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            sa, sb = settled(a), settled(b)
            ok_a = [i for i, (s, _) in enumerate(res["a"]) if s == 200]
            ok_b = [100 + i for i, (s, _) in enumerate(res["b"]) if s == 200]
            print("host a: %d answered 200, host b: %d" % (len(ok_a), len(ok_b)))
            both = set(ok_a) & set(ok_b)
            rejected = sa["orders"]["rejected"] + sb["orders"]["rejected"]
            check_eq(rejected, len(both), "one of the two orders of each buyer served on both "
                     "hosts is rejected as a duplicate")
            check_eq(sa["redis"]["duplicates"] + sb["redis"]["duplicates"], len(both),
                     "duplicates counted")
            check_eq(sa["orders"]["confirmed"] + sb["orders"]["confirmed"],
                     len(set(ok_a) | set(ok_b)), "one confirmed order per buyer who got a 200")
            for dp, oid in [(a, res["a"][i][1]) for i in sorted(both)[:5]] + \
                           [(b, res["b"][i - 100][1]) for i in sorted(both)[:5]]:
                look = json.loads(dp.http("198.18.0.2", [{"method": "GET",
                                                          "path": "/api/orders/" + oid}])[0]["body"])
                check(look["status"] in ("confirmed", "rejected") and
                      (look["status"] == "confirmed" or look.get("reason") == "duplicate"),
                      "order %s of a buyer on both hosts: %s" % (oid, look))
        a.check_clean_exit()
        b.check_clean_exit()
    finally:
        shutil.rmtree(d2, ignore_errors=True)
    msgs, kb, ids = kafka_buyers(mock)
    check_eq(len(kb), len(set(kb)), "Kafka: no buyer twice")
    stock_left, sold, held = redis_state(redis)
    check_eq(len(msgs), sold, "Kafka holds as many orders as Redis sold")
    check(sold <= stock, "no oversell: sold %d of %d" % (sold, stock))
    check_eq((stock_left + sold, held), (stock, 0),
             "after both stopped: stock + sold = %d, no host holds a unit" % stock)


def case_redis_restart(d, key, tokens, mock, redis):
    stock = 300
    with harness.Dataplane(dp_args=sale_args(d, key, stock, mock, redis)) as dp:
        check_eq({s for s, _ in buy_retry(dp, tokens[0:100])}, {200}, "100 sold with Redis up")
        settled(dp, 100)
        redis.kill()
        got = buy(dp, tokens[100:200])
        codes = {s for s, _ in got}
        sold_down = sum(1 for s, _ in got if s == 200)
        print("while Redis is down: %d sold, %s" % (sold_down, sorted(codes)))
        check(codes <= {200, 503}, "while Redis is down: 200 from held stock or 503, never 410")
        check(sold_down > 0, "the host sold from the units it held")
        time.sleep(1.0)
        st = dp.ctl_json("stats")
        check_eq(st["orders"]["confirmed"], 100, "nothing confirmed while Redis is down")
        check(st["journal_depth"] >= sold_down, "the orders wait in the journal")
        redis.start()
        settled(dp, 100 + sold_down)
        rest = [i for i, (s, _) in zip(range(100, 200), got) if s != 200]
        again = buy_retry(dp, [tokens[i] for i in rest] + tokens[200:320])
        n200 = sum(1 for s, _ in again if s == 200)
        check_eq(100 + sold_down + n200, stock, "every unit sold once Redis is back")
        check_eq({s for s, _ in again} - {200}, {410}, "then sold out")
        settled(dp, stock)
    dp.check_clean_exit()
    msgs, kb, ids = kafka_buyers(mock)
    check_eq((len(msgs), len(ids), len(set(kb))), (stock, stock, stock),
             "Kafka: every order once, no buyer twice")
    check_eq(redis_state(redis), (0, stock, 0), "Redis: stock 0, sold %d, nothing held" % stock)


def case_dp_sigkill(d, key, tokens, mock, redis):
    stock = 300
    args = sale_args(d, key, stock, mock, redis)
    with harness.Dataplane(dp_args=args) as dp:
        check_eq({s for s, _ in buy_retry(dp, tokens[0:50])}, {200}, "50 sold")
        settled(dp, 50)
        check_eq(mock.cmd("rtt all 3000"), "ok", "slow brokers")
        check_eq({s for s, _ in buy_retry(dp, tokens[50:100])}, {200}, "50 more sold")
        time.sleep(0.5)
        dp.kill()
    check_eq(mock.cmd("clear"), "ok", "brokers fast again")
    with harness.Dataplane(dp_args=args) as dp:
        check("restored 100 orders of earlier runs" in dp.output(), "restart restored 100 orders")
        check_eq({s for s, _ in buy(dp, tokens[0:100:7])}, {409}, "earlier buyers: 409")
        got = buy_retry(dp, tokens[100:320])
        check_eq(answer_counts(got), {(200, "ok"): stock - 100, (410, "sold_out"): 20},
                 "the %d units left are sold once, then 410" % (stock - 100))
        settled(dp)
    dp.check_clean_exit()
    msgs, kb, ids = kafka_buyers(mock)
    check_eq((len(ids), len(set(kb))), (stock, stock), "Kafka: %d orders, no buyer twice" % stock)
    check_eq(redis_state(redis), (0, stock, 0), "Redis: stock 0, sold %d, nothing held" % stock)


def case_close(d, key, tokens, mock, redis):
    stock = 300
    with harness.Dataplane(dp_args=sale_args(d, key, stock, mock, redis)) as dp:
        check_eq({s for s, _ in buy_retry(dp, tokens[0:50])}, {200}, "50 sold")
        settled(dp, 50)
        check(redis_state(redis)[2] > 0, "the host holds a chunk while open")
        dp.ctl_json("campaign", "close", "--id", "1")
        harness.wait_for(lambda: redis_state(redis) == (stock - 50, 50, 0), 10,
                         "closed: every unsold unit given back to Redis")
        check_eq(redis.cli("HGET", "seckill:campaign:{1}", "state"), "closed",
                 "the state is recorded in Redis")
        check_eq(buy(dp, tokens[50:55]), [(410, "closed")] * 5, "closed: 410 closed")
        dp.ctl_json("campaign", "open", "--id", "1")
        check_eq(redis.cli("HGET", "seckill:campaign:{1}", "state"), "open", "open again in Redis")
        got = buy_retry(dp, tokens[50:400])
        check_eq(answer_counts(got), {(200, "ok"): stock - 50, (410, "sold_out"): 100},
                 "open again: the units come back from Redis, each sold once, then 410")
        settled(dp, stock)
    dp.check_clean_exit()
    check(dp.c("redis.given_back") >= 1, "units were given back")
    check_eq(redis_state(redis), (0, stock, 0), "Redis: stock 0, sold %d, nothing held" % stock)


CASES = {"race": case_race, "close": case_close, "two_hosts": case_two_hosts,
         "redis_restart": case_redis_restart, "dp_sigkill": case_dp_sigkill}


def test():
    for name in sys.argv[1:] or CASES:
        print("== case %s" % name, flush=True)
        d = tempfile.mkdtemp(prefix="seckill-redis-")
        mock = services.kafka_mock_start("--brokers", "3")
        redis = services.RedisServer().start()
        try:
            key = harness.sale_key(d)
            tokens = harness.seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                                        "--count", "400", "--ttl", "600").split()
            CASES[name](d, key, tokens, mock, redis)
        finally:
            redis.cleanup()
            mock.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test, tools=("kcat", "redis-server", "redis-cli"))
