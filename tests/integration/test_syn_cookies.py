#!/usr/bin/env python3
"""test_syn_cookies.py - with --syn-cookies always the server keeps no state
for a SYN: every connection is opened by the cookie the client's ACK brings
back (RFC 4987), and real clients see no difference.

Run by hand (root): tests/integration/test_syn_cookies.py  (SECKILL_BUILD=build dir)
"""
import harness
from harness import check_eq

CONNS = 500


def test():
    with harness.Dataplane(dp_args=["--syn-cookies", "always"]) as dp:
        r = dp.client("many", dp.ip, 80, CONNS, "keep")
        pipe = dp.client("pipeline", dp.ip, 80)
    check_eq((r["ok"], r["fail"]), (CONNS, 0), "connections opened by cookie ok/failed")
    check_eq([a[0] for a in pipe["answers"]], [200] * 4, "pipelined answers over a cookie connection")
    dp.check_clean_exit()
    opened = dp.probe_conns + CONNS + 1
    check_eq(dp.c("tcp.conns_opened"), opened, "tcp.conns_opened")
    check_eq(dp.c("tcp.cookies_sent"), dp.c("tcp.syn_received"), "a cookie for every SYN")
    check_eq(dp.c("tcp.cookies_accepted"), opened, "every connection came from a cookie")
    check_eq(dp.c("tcp.cookies_bad"), 0, "tcp.cookies_bad")


if __name__ == "__main__":
    harness.run(test)
