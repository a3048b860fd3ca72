#!/usr/bin/env python3
"""test_sale_journal_full.py - a full order journal pauses the sale; it never
drops an order (the peers' bug: a queue that drops silently on overflow).

The journal is the bounded queue between the cores and Kafka, and with
ORD_JOURNAL_KEEP_ACKED (control/ctl_sale.c) it also bounds the whole sale:
--journal-max-mb 1 holds ~18,700 orders. The control loop pauses sales
(control/ctl_loop.c) once fewer than two order rings' worth of records fit
(here 2 x 4,096), so what the cores may still commit always fits. One worker
sells a campaign larger than that: first a race of 96 keep-alive connections
well short of the pause (every buyer 200), then buyers one after the other on
one connection across it (no client retries, so every answer is seen as given):

  - the sale stops short of the stock with 503 order_queue_full, not with a
    410 or a silent loss; the pause is live (`seckillctl stats`: paused) and
    counted (ctl.pauses 1, sale.refused_paused = every 503 order_queue_full);
  - it pauses near full, not early: sold >= what fits - the reserve - slack;
  - nothing taken for a refused buyer: `left` = stock - sold;
  - nothing lost: the journal holds exactly the orders answered 200, and no
    record was left in memory at exit (ctl.unjournaled 0);
  - restarted with a larger journal (same --state-dir) the sale resumes: the
    earlier buyers are 409, a buyer refused with 503 buys (he held no claim),
    and the units he was refused are still there.

Run by hand (root): tests/integration/test_sale_journal_full.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import tempfile

import harness
from harness import check, check_eq

JOURNAL_MB = 1
ORDER_RING = 4096
FRAME_BYTES = 56                  # ORD_JOURNAL_FRAME_BYTES (lib/journal/ord_journal.h)
FITS = (JOURNAL_MB << 20) // FRAME_BYTES
RESERVE = 2 * ORDER_RING          # CTL_PAUSE_RINGS x workers x --order-ring (ctl_sale.c)
SLACK = 64                        # segment headers and the loop's header slack, in records
PROCS = 4
CONNS = 24                        # per process
# Phase 1, a race well short of the pause (a multiple of PROCS); phase 2, one
# connection buying one after the other across it, up to PHASE2 buyers.
RACE_BUYERS = (FITS - RESERVE - SLACK - 200) // PROCS * PROCS
PHASE2 = 600
CHUNK = 100                       # buys per nsclient call in phase 2
BUYERS = RACE_BUYERS + PHASE2
STOCK = BUYERS                    # stock is never what stops this sale
SRC_IPS = ["198.18.0.%d" % i for i in range(10, 74)]
START_DELAY_S = 2.0
RACE_TIMEOUT_S = 60


def campaign(dp):
    return json.loads(dp.http("198.18.0.2", [{"method": "GET", "path": "/api/campaigns/1"}])[0]
                      ["body"])


def buy(dp, toks):
    """Each token buys in turn on one connection: [(status, "ok" or error code)]."""
    got = dp.http("198.18.0.2", [{"method": "POST", "path": "/api/campaigns/1/orders",
                                  "headers": {"Authorization": "Bearer " + t,
                                              "Content-Type": "application/json"},
                                  "body": "{}"} for t in toks])
    return [(a["status"], json.loads(a["body"]).get("error", "ok")) for a in got]


def test():
    state = tempfile.mkdtemp(prefix="seckill-jfull-")
    try:
        run(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run(state):
    key = harness.sale_key(state)
    tokfile = harness.tokens_file(state, key, BUYERS)
    with open(tokfile) as f:
        tokens = f.read().split()
    args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state,
            "--ip-rate", "100000/s", "--ip-burst", "10000",
            "--buyer-rate", "100000/s", "--buyer-burst", "10000",
            "--order-ring", str(ORDER_RING), "--journal-max-mb", str(JOURNAL_MB)]

    with harness.Dataplane(dp_args=args) as dp:
        dp.add_client_ips(SRC_IPS)
        status, codes, retried, orders, errors, _ = harness.race_merge(harness.race(
            dp, tokfile, 1, RACE_BUYERS, PROCS, CONNS, SRC_IPS, START_DELAY_S, RACE_TIMEOUT_S))
        print("race: status %s codes %s retried 503s %s" % (status, codes, retried))
        check_eq(errors, {}, "client connection errors")
        check_eq(status, {"200": RACE_BUYERS}, "the race, short of the pause: every buyer 200")
        check_eq(retried, {}, "no 503 in the race")
        check_eq(dp.ctl_json("stats")["paused"], False, "not paused yet")
        # Across the pause, one buy after the other: sold, sold, ... then
        # refused, and refused from then on (nothing frees this journal).
        answers = []
        for first in range(RACE_BUYERS, BUYERS, CHUNK):
            answers += buy(dp, tokens[first:first + CHUNK])
            if answers[-1][0] != 200:
                break
        answers += buy(dp, tokens[RACE_BUYERS + len(answers):BUYERS])
        live = dp.ctl_json("stats")
        camp = campaign(dp)
    late = sum(1 for a in answers if a == (200, "ok"))
    refused = len(answers) - late
    sold = RACE_BUYERS + late
    print("across the pause: %d more sold, then %d refused" % (late, refused))
    check_eq(len(answers), PHASE2, "every buyer answered")
    check_eq(answers, [(200, "ok")] * late + [(503, "order_queue_full")] * refused,
             "200s until the pause, then only 503 order_queue_full (no 410, nothing else)")
    check(refused > 0, "the journal, not the stock, ended the sale")
    check(sold >= FITS - RESERVE - SLACK,
          "paused near full, not early: %d sold, %d fit, %d reserved" % (sold, FITS, RESERVE))
    check_eq(live["paused"], True, "seckillctl stats: paused")
    check_eq((camp["stock"], camp["left"]), (STOCK, STOCK - sold),
             "left = stock - sold: no unit taken for a refused buyer")

    dp.check_clean_exit()
    check_eq((dp.c("ctl.pauses"), dp.c("ctl.paused")), (1, 1), "ctl.pauses, ctl.paused")
    check_eq(dp.c("buy.ok"), sold, "buy.ok")
    check_eq(dp.c("buy.order_queue_full"), refused, "buy.order_queue_full = the 503s")
    check_eq(dp.c("sale.refused_paused"), dp.c("buy.order_queue_full"),
             "every order_queue_full was the pause (not a full ring)")
    check_eq((dp.c("ctl.drained"), dp.c("ctl.journaled"), dp.c("ctl.unjournaled")),
             (sold, sold, 0), "ctl drained, journaled, unjournaled")
    check_eq(dp.c("ring.depth"), 0, "order rings empty at exit")
    check("order journal nearly full" in dp.output(), "the pause was logged")

    recs = harness.journal_dump(os.path.join(state, "journal"))
    check_eq(len(recs), sold, "journal records = orders answered 200")
    check_eq(sorted(r[3] for r in recs), list(range(1, sold + 1)),
             "the journal holds the buyers answered 200, each once")
    check(set((r[3], r[1]) for r in recs) >= set((b, o) for b, o in orders),
          "with the order ids the race's buyers were told")

    # Resumed with room: the refused buyers held nothing, their units are there.
    refused_buyer, earlier_buyer = sold + 1, sold
    args[args.index("--journal-max-mb") + 1] = str(2 * JOURNAL_MB)
    with harness.Dataplane(dp_args=args) as dp:
        check("restored %d orders of earlier runs" % sold in dp.output(),
              "the restart restored the %d orders" % sold)
        check_eq(campaign(dp)["left"], STOCK - sold, "after the restart: left = stock - sold")
        check_eq(buy(dp, [tokens[earlier_buyer - 1]]), [(409, "already_bought")],
                 "the last buyer answered 200 before the pause keeps his order")
        check_eq(buy(dp, [tokens[refused_buyer - 1]]), [(200, "ok")],
                 "the first buyer refused by the pause buys once there is room")
        check_eq(campaign(dp)["left"], STOCK - sold - 1, "his unit was still there")
    dp.check_clean_exit()
    check_eq(dp.c("ctl.pauses"), 0, "the larger journal does not pause")


if __name__ == "__main__":
    harness.run(test)
