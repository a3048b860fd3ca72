#!/usr/bin/env python3
"""test_pipeline.py - four requests in one write are answered in order on
the same connection (pipelining), then Connection: close ends it.

Run by hand (root): tests/integration/test_pipeline.py  (SECKILL_BUILD=build dir)
"""
import harness
from harness import check, check_eq


def test():
    with harness.Dataplane() as dp:
        r = dp.client("pipeline", dp.ip, 80)
        health = dp.ns(["curl", "-s", dp.url("/healthz")]).stdout
        root = dp.ns(["curl", "-s", dp.url("/")]).stdout
    check_eq([a[0] for a in r["answers"]], [200, 200, 200, 200], "pipelined status codes")
    check_eq([a[1] for a in r["answers"]], [health, health, health, root],
             "pipelined bodies in request order (/healthz x3, /)")
    check_eq(r["last"], [200, "close"], "last request answered with Connection: close")
    check_eq(r["extra_bytes"], 0, "no bytes beyond the five answers")
    check_eq(r["closed"], True, "server closed after Connection: close")
    dp.check_clean_exit()
    check_eq(dp.c("http.requests"), dp.probe_requests + 5 + 2, "http.requests")
    check_eq(dp.c("tcp.conns_opened"), dp.probe_conns + 1 + 2, "tcp.conns_opened")


if __name__ == "__main__":
    harness.run(test)
