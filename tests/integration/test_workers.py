#!/usr/bin/env python3
"""test_workers.py - two worker lcores, one RX/TX queue pair each, same IP and
MAC: the port spreads connections over the queues (af_packet fanout here,
RSS on a NIC), each worker's own TCP table serves the flows pinned to it, and
no segment lands on a core that does not know its connection.

Run by hand (root): tests/integration/test_workers.py  (SECKILL_BUILD=build dir)
"""
import re

import harness
from harness import check, check_eq

CONNS = 16           # all on one queue by chance: 2 * 2^-16
SECONDS = 3


def test():
    with harness.Dataplane(workers=2) as dp:
        out = dp.ns(["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % SECONDS, dp.url("/healthz")],
                    timeout=SECONDS + 60).stdout
        ping = dp.ns(["ping", "-c", "3", "-i", "0.2", "-W", "2", dp.ip]).stdout
    print(out)
    check("Socket errors" not in out, "no socket errors")
    check("Non-2xx or 3xx responses" not in out, "no non-2xx answers")
    check(" 0% packet loss" in ping, "ping answered by whichever worker got it")
    dp.check_clean_exit()
    check_eq(len(dp.per_core["http.requests"]), 2, "exit table has two worker columns")
    opened = dp.per_core["tcp.conns_opened"]
    check(all(n > 0 for n in opened), "both workers opened connections %s" % opened)
    check(all(n > 0 for n in dp.per_core["http.responses_2xx"]), "both workers answered")
    # A segment reaching the other worker would find no connection there.
    check_eq(dp.c("tcp.drop_no_conn") + dp.c("tcp.rst_sent"), 0,
             "segments for unknown connections (flows stay on their queue)")
    check_eq(dp.c("tcp.conns_opened"), dp.probe_conns + CONNS + 1, "tcp.conns_opened")


if __name__ == "__main__":
    harness.run(test, tools=("wrk", "ping"))
