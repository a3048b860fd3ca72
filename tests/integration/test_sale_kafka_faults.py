#!/usr/bin/env python3
"""test_sale_kafka_faults.py - no confirmed order is lost or doubled when
Kafka or the dataplane fails mid-sale.

Each case runs seckill-dp (one worker, --kafka) against a fresh
tools/kafka-mock cluster of three brokers and injects one fault through the
mock's command channel or by killing the dataplane:

- brokers_down: every broker down for 10 s mid-sale. Sales go on (200,
  pending), the orders wait in the journal (stats: journal depth), nothing
  is confirmed meanwhile; when the brokers return every order is delivered
  and confirmed.
- produce_errors: the next 20 Produce requests fail with
  NOT_ENOUGH_REPLICAS; the idempotent producer retries, every order is
  confirmed once.
- sigkill: orders in flight to slow brokers (3 s RTT) when seckill-dp is
  SIGKILLed; the restarted dataplane (same --state-dir) restores the sale
  from its journal, produces the undelivered orders first, sells what is
  left, and never resells.

After each, the topic read back with kcat holds every order of the journal,
no other, each order id once (after a crash, an order delivered but not yet
acked may be produced again: same order id, so the consumer keeps it once;
the test counts such copies and bounds them by the orders in flight), and
the campaign's sold + left = stock.

Run by hand (root): tests/integration/test_sale_kafka_faults.py [CASE...]
"""
import json
import os
import shutil
import sys
import tempfile
import time

import harness
import services
from harness import check, check_eq

DOWN_S = 10
CONFIRM_TIMEOUT_S = 40


def buy_reqs(tokens):
    return [{"method": "POST", "path": "/api/campaigns/1/orders", "body": "{}",
             "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + t}}
            for t in tokens]


def buy(dp, tokens):
    """Each token buys once, pipelined on one connection: [(status, order id or code)]."""
    out = []
    for a in dp.http("198.18.0.2", buy_reqs(tokens), pipeline=True):
        body = json.loads(a["body"])
        out.append((a["status"], body.get("order_id", body.get("error"))))
    return out


def order_status(dp, oid):
    return json.loads(dp.http("198.18.0.2", [{"method": "GET", "path": "/api/orders/" + oid}])[0]
                      ["body"])["status"]


def confirmed(dp, n):
    """Waits until the dataplane has confirmed n orders; its stats."""
    return harness.wait_for(lambda: (lambda s: s if s["orders"]["confirmed"] == n else None)(
        dp.ctl_json("stats")), CONFIRM_TIMEOUT_S, "%d orders confirmed" % n)


def kafka_matches_journal(mock, state, max_copies):
    recs = harness.journal_dump(os.path.join(state, "journal"))
    journal = {r[1] for r in recs}
    check_eq(len(journal), len(recs), "journal order ids are unique")
    # kcat -e stops at each partition's end as it sees it; on a loaded box
    # (the sanitizer pass) one read came back short of a partition once
    # (46 of 50 delivered orders). Read again before calling an order lost:
    # a lost one stays lost.
    for attempt in range(5):
        msgs = services.kafka_orders(mock.bootstrap)
        ids = [m["order_id"] for _, m in msgs]
        if set(ids) == journal:
            break
        print("Kafka read %d: %d of %d journaled orders; reading again" %
              (attempt + 1, len(set(ids) & journal), len(journal)), flush=True)
        time.sleep(1)
    check(set(ids) == journal, "Kafka holds every journaled order and no other (%d in Kafka, "
          "%d journaled)" % (len(set(ids)), len(journal)))
    copies = len(ids) - len(set(ids))
    print("copies of an order id in Kafka: %d" % copies)
    check(copies <= max_copies, "at most %d copies (orders in flight at a crash): %d"
          % (max_copies, copies))
    return recs


def sale_args(state, key, stock, mock):
    return ["--campaign", "1:%d" % stock, "--token-key", key, "--state-dir", state,
            "--ip-rate", "100000/s", "--ip-burst", "10000", "--kafka", mock.bootstrap]


def case_brokers_down(state, key, tokens, mock):
    with harness.Dataplane(dp_args=sale_args(state, key, 200, mock)) as dp:
        first = buy(dp, tokens[0:100])
        check_eq({s for s, _ in first}, {200}, "100 sold while Kafka is up")
        confirmed(dp, 100)
        check_eq(mock.cmd("broker down all"), "ok", "every broker down")
        down_at = time.time()
        second = buy(dp, tokens[100:200])
        check_eq({s for s, _ in second}, {200}, "100 more sold while Kafka is down")
        time.sleep(1.0)
        st = dp.ctl_json("stats")
        check_eq((st["orders"]["confirmed"], st["journal_depth"]), (100, 100),
                 "while down: nothing more confirmed, 100 orders wait in the journal")
        check_eq(order_status(dp, second[0][1]), "pending", "an order sold while down is pending")
        check_eq(buy(dp, tokens[200:210]), [(410, "sold_out")] * 10, "then sold out")
        time.sleep(max(0.0, DOWN_S - (time.time() - down_at)))
        check_eq(mock.cmd("broker up all"), "ok", "brokers up after %d s" % DOWN_S)
        st = confirmed(dp, 200)
        check_eq(st["journal_depth"], 0, "journal drained to Kafka")
        check_eq(order_status(dp, second[-1][1]), "confirmed", "the last order is confirmed")
    dp.check_clean_exit()
    check_eq((dp.c("orders.confirmed"), dp.c("campaign1.sold"), dp.c("campaign1.left")),
             (200, 200, 0), "confirmed, sold, left")
    recs = kafka_matches_journal(mock, state, 0)
    check_eq(len(recs), 200, "200 orders journaled")


def case_produce_errors(state, key, tokens, mock):
    with harness.Dataplane(dp_args=sale_args(state, key, 50, mock)) as dp:
        check_eq(mock.cmd("produce-errors 20 NOT_ENOUGH_REPLICAS"), "ok",
                 "the next 20 Produce requests fail")
        got = buy(dp, tokens[0:60])
        check_eq([s for s, _ in got], [200] * 50 + [410] * 10, "50 sold, then sold out")
        confirmed(dp, 50)
    dp.check_clean_exit()
    check_eq(dp.c("kafka.delivered"), 50, "50 delivered despite the errors")
    kafka_matches_journal(mock, state, 0)


def case_sigkill(state, key, tokens, mock):
    args = sale_args(state, key, 300, mock)
    with harness.Dataplane(dp_args=args) as dp:
        check_eq({s for s, _ in buy(dp, tokens[0:100])}, {200}, "100 sold")
        confirmed(dp, 100)
        check_eq(mock.cmd("rtt all 3000"), "ok", "brokers answer after 3 s")
        check_eq({s for s, _ in buy(dp, tokens[100:200])}, {200}, "100 sold to slow brokers")
        time.sleep(0.5)        # journaled and synced (1 ms passes), not yet delivered
        check_eq(dp.ctl_json("stats")["orders"]["confirmed"], 100, "the last 100 not yet confirmed")
        dp.kill()
    check_eq(mock.cmd("clear"), "ok", "brokers fast again")
    with harness.Dataplane(dp_args=args) as dp:
        check("restored 200 orders of earlier runs" in dp.output(), "restart restored 200 orders")
        check("journaled orders not yet in seckill.orders are produced first" in dp.output(),
              "restart produces the undelivered orders first")
        again = buy(dp, tokens[0:200:10])
        check_eq({s for s, _ in again}, {409}, "earlier buyers keep their purchase: 409")
        rest = buy(dp, tokens[200:320])
        check_eq([s for s, _ in rest], [200] * 100 + [410] * 20, "the 100 left are sold, then 410")
        harness.wait_for(lambda: dp.ctl_json("stats")["journal_depth"] == 0, CONFIRM_TIMEOUT_S,
                         "every journaled order delivered")
        st = dp.ctl_json("stats")
        check_eq(st["orders"]["confirmed"], 100, "this run's 100 orders confirmed")
    dp.check_clean_exit()
    check_eq((dp.c("campaign1.sold"), dp.c("campaign1.left")), (300, 0), "sold + left = stock")
    check(dp.c("kafka.replayed") >= 100, "the first run's undelivered orders were produced again")
    recs = kafka_matches_journal(mock, state, 100)
    check_eq(len(recs), 300, "300 orders journaled, none twice")


CASES = {"brokers_down": case_brokers_down, "produce_errors": case_produce_errors,
         "sigkill": case_sigkill}


def test():
    for name in sys.argv[1:] or CASES:
        print("== case %s" % name, flush=True)
        state = tempfile.mkdtemp(prefix="seckill-kfault-")
        mock = services.kafka_mock_start("--brokers", "3")
        try:
            key = harness.sale_key(state)
            tokens = harness.seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                                        "--count", "400", "--ttl", "600").split()
            CASES[name](state, key, tokens, mock)
        finally:
            mock.stop()
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test, tools=("kcat",))
