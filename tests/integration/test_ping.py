#!/usr/bin/env python3
"""test_ping.py - ARP and ICMP echo: the kernel in the client namespace
resolves the dataplane's MAC and gets exactly one reply per echo request.

Run by hand (root): tests/integration/test_ping.py  (SECKILL_BUILD=build dir)
"""
import re

import harness
from harness import check, check_eq

COUNT = 5


def test():
    with harness.Dataplane() as dp:
        out = dp.ns(["ping", "-c", str(COUNT), "-i", "0.2", "-W", "2", dp.ip]).stdout
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        check(m is not None, "ping printed its summary")
        check_eq(int(m.group(2)), COUNT, "echo replies received")
        neigh = dp.ns(["ip", "neigh", "show", dp.ip]).stdout
        check(dp.dp_mac() in neigh, "client learned the dataplane's MAC %s by ARP" % dp.dp_mac())
    dp.check_clean_exit()
    check_eq(dp.c("net.icmp_echo"), COUNT, "net.icmp_echo")
    check(dp.c("net.arp_replies_sent") >= 1, "net.arp_replies_sent >= 1")
    check_eq(dp.c("net.drop_ip_bad_csum"), 0, "net.drop_ip_bad_csum")


if __name__ == "__main__":
    harness.run(test, tools=("ping",))
