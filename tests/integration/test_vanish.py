#!/usr/bin/env python3
"""test_vanish.py - a client that disappears mid-request leaves a half-open
connection, and the idle timeout reclaims it.

The client is TCP written by hand over AF_PACKET from an address no kernel
owns (GHOST), so when it stops nothing answers the server for it ever again:
no FIN, no RST, as when a phone drops off the network. It completes the
handshake, sends half a request, sees it ACKed, and goes silent. With
--idle-timeout IDLE_MS the server must give the connection up by itself
(tcp.conns_timed_out) and hold no entry for it at exit.

Run by hand (root): tests/integration/test_vanish.py  (SECKILL_BUILD=build dir)
"""
import harness
from harness import check, check_eq

IDLE_MS = 1000
WATCH_S = 4          # idle timeout plus margin for the timer wheel's granularity


def test():
    with harness.Dataplane(dp_args=["--idle-timeout", str(IDLE_MS)]) as dp:
        ghost = dp.ip.rsplit(".", 1)[0] + ".250"
        r = dp.client("vanish", dp.cl_if, dp.dp_mac(), ghost, dp.ip, 80, WATCH_S)
        ok = dp.ns(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", dp.url("/healthz")])
    check_eq(r["synack"], True, "the ghost's SYN was answered")
    check_eq(r["data_acked"], True, "the half request was acknowledged")
    check(all(s["after_s"] >= IDLE_MS / 1000.0 * 0.9 for s in r["after"]),
          "the server sent nothing to the ghost before the idle timeout (%s)" % r["after"])
    check_eq(ok.stdout, "200", "the server still serves others")
    dp.check_clean_exit()
    check_eq(dp.c("tcp.conns_timed_out"), 1, "tcp.conns_timed_out (the ghost's connection)")
    check_eq(dp.c("http.requests"), dp.probe_requests + 1, "the half request was never served")
    check_eq(dp.c("gauge.established"), 0, "gauge.established at exit")


if __name__ == "__main__":
    harness.run(test)
