#!/usr/bin/env python3
"""test_bytewise.py - a request that arrives one byte per segment is
reassembled by TCP and HTTP and answered once.

Run by hand (root): tests/integration/test_bytewise.py  (SECKILL_BUILD=build dir)
"""
import harness
from harness import check, check_eq


def test():
    with harness.Dataplane() as dp:
        r = dp.client("bytewise", dp.ip, 80)
        health = dp.ns(["curl", "-s", dp.url("/healthz")]).stdout
    check_eq(r["status"], 200, "status of the byte-by-byte request")
    check_eq(r["body"], health, "its body is /healthz's")
    check_eq(r["closed"], True, "server closed after Connection: close")
    dp.check_clean_exit()
    check_eq(dp.c("http.requests"), dp.probe_requests + 2, "http.requests (one per request)")
    # Each byte was its own segment: the payload-carrying segments alone exceed it.
    check(dp.c("tcp.rx_segs") >= r["bytes"], "tcp.rx_segs >= %d request bytes" % r["bytes"])
    check_eq(dp.c("http.bad_request"), 0, "http.bad_request")


if __name__ == "__main__":
    harness.run(test)
