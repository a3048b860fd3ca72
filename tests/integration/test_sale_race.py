#!/usr/bin/env python3
"""test_sale_race.py - 20,000 buyers race for 1,000 units on two worker cores.

seckill-dp with 2 workers (af_packet, 2 queue pairs) sells campaign 1 of 1,000
units. 20,000 distinct buyers (tokens minted by `seckillctl token mint
--count`) each try once, from 4 client processes with 24 keep-alive
connections each, bound to 64 source addresses added to the namespace
(198.18.0.10-73), all firing at the same instant; a 503 (stock in motion) is
retried. The per-IP limit is set high for this phase (the refusals test
covers it), so exactly 1,000 buyers get 200 and 19,000 get 410 sold_out.

Checked: order ids unique, one per buyer; the dataplane's counters agree
(sold 1,000, both workers sold, flows reached both queues);
GET /api/campaigns/1 says sold_out and left 0; GET /api/orders/{id} says
pending for sold ids; after shutdown the journal (read by seckill-journal)
holds exactly the 1,000 orders.

Run by hand (root): tests/integration/test_sale_race.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import tempfile

import harness
from harness import check, check_eq

BUYERS = 20000
STOCK = 1000
PROCS = 4
CONNS = 24                   # per process: 96 connections in all
SRC_IPS = ["198.18.0.%d" % i for i in range(10, 74)]
START_DELAY_S = 3.0          # connections are all up before the start instant
RACE_TIMEOUT_S = 45


def test():
    state = tempfile.mkdtemp(prefix="seckill-race-")
    try:
        run_race(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_race(state):
    key = harness.sale_key(state)
    tokfile = harness.tokens_file(state, key, BUYERS)
    args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state,
            "--ip-rate", "100000/s", "--ip-burst", "10000"]
    with harness.Dataplane(dp_args=args, workers=2) as dp:
        dp.add_client_ips(SRC_IPS)
        status, codes, retried, orders, errors, _ = harness.race_merge(harness.race(
            dp, tokfile, 1, BUYERS, PROCS, CONNS, SRC_IPS, START_DELAY_S, RACE_TIMEOUT_S))
        camp = dp.http("198.18.0.2", [{"method": "GET", "path": "/api/campaigns/1"}])[0]
        sample = sorted(orders)[:: STOCK // 10]
        looks = dp.http("198.18.0.2", [{"method": "GET", "path": "/api/orders/" + oid}
                                       for _, oid in sample])
    print("race: status %s codes %s retried 503s %s" % (status, codes, retried))
    check_eq(errors, {}, "client connection errors")
    check_eq(status, {"200": STOCK, "410": BUYERS - STOCK}, "answers: 200 per unit, 410 for the rest")
    check_eq(codes, {"ok": STOCK, "sold_out": BUYERS - STOCK}, "error codes")
    check(set(retried) <= {"stock_busy"}, "only stock_busy 503s were retried: %s" % retried)
    buyers = [b for b, _ in orders]
    ids = [oid for _, oid in orders]
    check_eq(len(set(buyers)), STOCK, "distinct buyers with an order")
    check_eq(len(set(ids)), STOCK, "distinct order ids")

    check_eq(camp["status"], 200, "GET /api/campaigns/1 status")
    body = json.loads(camp["body"])
    check_eq((body["state"], body["stock"], body["left"]), ("sold_out", STOCK, 0),
             "campaign 1 state, stock, left")
    for (buyer, oid), look in zip(sample, looks):
        check_eq((look["status"], json.loads(look["body"])),
                 (200, {"order_id": oid, "campaign": 1, "buyer": buyer, "status": "pending"}),
                 "GET /api/orders/%s" % oid)

    dp.check_clean_exit()
    check_eq(dp.c("buy.ok"), STOCK, "buy.ok")
    check_eq(dp.c("stock1.take_ok"), STOCK, "stock1.take_ok")
    check_eq((dp.c("campaign1.sold"), dp.c("campaign1.left")), (STOCK, 0), "campaign1 sold, left")
    check_eq(dp.c("buy.sold_out"), BUYERS - STOCK, "buy.sold_out")
    check_eq(dp.c("buy.stock_busy"), sum(retried.values()), "buy.stock_busy = retried 503s")
    check(all(n > 0 for n in dp.per_core["http.requests"]),
          "flows reached both queues: %s" % dp.per_core["http.requests"])
    check(all(n > 0 for n in dp.per_core["buy.ok"]),
          "both workers sold: %s" % dp.per_core["buy.ok"])
    check_eq((dp.c("ctl.drained"), dp.c("ctl.journaled"), dp.c("ctl.unjournaled")),
             (STOCK, STOCK, 0), "ctl drained, journaled, unjournaled")
    check_eq((dp.c("ctl.journal_depth"), dp.c("ctl.journal_synced_seq")), (STOCK, STOCK),
             "journal depth and last durable seq")
    check_eq(dp.c("ring.depth"), 0, "order rings empty at exit")
    check(dp.c("ctl.syncs") >= 1, "the journal was synced")
    check("dp.busy_cycles_per_request" in dp.counters, "busy cycles per request printed")
    print("dp.busy_cycles_per_request %d" % dp.c("dp.busy_cycles_per_request"))

    recs = harness.journal_dump(os.path.join(state, "journal"))
    check([r[0] for r in recs] == list(range(1, STOCK + 1)), "journal seqs are 1..1000")
    check(sorted((r[3], r[1]) for r in recs) == sorted((b, o) for b, o in orders),
          "journal holds exactly the 1,000 orders answered 200 (buyer, order id)")
    check_eq({(r[2], r[4]) for r in recs}, {(1, 1)}, "journal records: campaign 1, qty 1")


if __name__ == "__main__":
    harness.run(test)
