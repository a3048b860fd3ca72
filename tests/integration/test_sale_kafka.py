#!/usr/bin/env python3
"""test_sale_kafka.py - a sale's orders reach Kafka, each exactly once, and
the delivery report confirms them.

seckill-dp with 2 workers and --kafka pointed at tools/kafka-mock (three mock
brokers speaking the real Kafka protocol on loopback) sells campaign 1 of
1,000 units to 20,000 buyers racing over 96 connections, as in
test_sale_race.py. Then:

- every order answered 200 becomes `confirmed` (GET /api/orders/{id}) and
  `seckillctl stats` shows the journal drained to Kafka;
- the topic, read back with kcat, holds exactly 1,000 messages: one per
  order answered 200, unique order ids, keyed by buyer, schema 1;
- the exit counters and the journal agree: 1,000 delivered and confirmed,
  the journal's ack watermark at 1,000, its records still all there.

Run by hand (root): tests/integration/test_sale_kafka.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import tempfile

import harness
import services
from harness import check, check_eq

BUYERS = 20000
STOCK = 1000
PROCS = 4
CONNS = 24
SRC_IPS = ["198.18.0.%d" % i for i in range(10, 74)]
START_DELAY_S = 3.0
RACE_TIMEOUT_S = 45
CONFIRM_TIMEOUT_S = 30


def test():
    state = tempfile.mkdtemp(prefix="seckill-kafka-")
    mock = services.kafka_mock_start("--brokers", "3")
    try:
        run(state, mock)
    finally:
        mock.stop()
        shutil.rmtree(state, ignore_errors=True)


def run(state, mock):
    key = harness.sale_key(state)
    tokfile = harness.tokens_file(state, key, BUYERS)
    args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state,
            "--ip-rate", "100000/s", "--ip-burst", "10000", "--kafka", mock.bootstrap]
    with harness.Dataplane(dp_args=args, workers=2) as dp:
        dp.add_client_ips(SRC_IPS)
        status, codes, _, orders, errors, _ = harness.race_merge(harness.race(
            dp, tokfile, 1, BUYERS, PROCS, CONNS, SRC_IPS, START_DELAY_S, RACE_TIMEOUT_S))
        check_eq(errors, {}, "client connection errors")
        check_eq(status, {"200": STOCK, "410": BUYERS - STOCK}, "answers: 200 per unit, 410 for the rest")
        st = harness.wait_for(lambda: (lambda s: s if s["orders"]["confirmed"] == STOCK else None)(
            dp.ctl_json("stats")), CONFIRM_TIMEOUT_S, "every order confirmed by a delivery report")
        check_eq((st["journal_depth"], st["kafka"]["delivered"], st["kafka"]["delivery_errors"]),
                 (0, STOCK, 0), "stats: journal drained, %d delivered, no error" % STOCK)
        sample = sorted(orders)[:: STOCK // 20]
        looks = dp.http("198.18.0.2", [{"method": "GET", "path": "/api/orders/" + oid}
                                       for _, oid in sample])
        for (buyer, oid), look in zip(sample, looks):
            check_eq((look["status"], json.loads(look["body"])),
                     (200, {"order_id": oid, "campaign": 1, "buyer": buyer, "status": "confirmed"}),
                     "GET /api/orders/%s" % oid)

    dp.check_clean_exit()
    check_eq((dp.c("buy.ok"), dp.c("orders.confirmed"), dp.c("kafka.delivered")),
             (STOCK, STOCK, STOCK), "exit counters: sold, confirmed, delivered")
    check_eq((dp.c("kafka.journal_depth"), dp.c("kafka.queue_depth"), dp.c("kafka.replayed")),
             (0, 0, 0), "nothing left for Kafka at exit, nothing produced twice")

    msgs = services.kafka_orders(mock.bootstrap)
    check_eq(len(msgs), STOCK, "messages in seckill.orders")
    got = sorted((m["buyer"], m["order_id"]) for _, m in msgs)
    want = sorted(tuple(o) for o in orders)
    check(got == want, "Kafka holds exactly the orders answered 200 (buyer, order id); "
          "only in Kafka %s, missing %s" % (sorted(set(got) - set(want))[:5],
                                            sorted(set(want) - set(got))[:5]))
    check_eq({k for k, m in msgs if k != str(m["buyer"])}, set(), "each message is keyed by its buyer")
    check_eq({(m["campaign"], m["qty"], m["schema"]) for _, m in msgs}, {(1, 1, 1)},
             "campaign 1, qty 1, schema 1")

    acked = []
    recs = harness.journal_dump(os.path.join(state, "journal"), acked)
    check_eq((len(recs), acked), (STOCK, [STOCK]),
             "the journal keeps all 1,000 orders, acked up to 1,000")


if __name__ == "__main__":
    harness.run(test, tools=("kcat",))
