#!/usr/bin/env python3
"""test_gen.py - seckill-gen against seckill-dp over net_memif: what the
generator counts is what the server did, and the stock says the same.

Each scenario is a fresh seckill-dp (one worker, memif server) selling
campaign 1, and one seckill-gen run (one worker, memif client):

  repeat_buyers   stock 500, 300 buyers asking 3 times each on 8 keep-alive
                  connections: 300 x 200, 600 x 409, 200 units left
  sold_out        stock 500, 800 new buyers: 500 x 200, 300 x 410
  one_per_conn    stock 100, 300 buyers, one request per connection
                  (Connection: close): 100 x 200, 200 x 410, 300 handshakes
                  on both sides, nothing left open
  pow             stock 500, campaign pow 8 bits (seckillctl), 200 buyers with
                  --pow 8 (challenges minted and solved before the run):
                  200 x 200, no 428 or 403 on the server
  held_burst      stock 1000, 1000 buyers on 256 connections through memif
                  rings of 32 slots: each group commit releases far more held
                  200s than a ring holds; the full ring was met on both sides,
                  yet no frame was dropped and nothing retransmitted
  syn_flood       open loop, 500 buys/s for 2 s, beside a replayed SYN flood
                  of 5,000 frames/s from forged sources (tools/synflood-pcap):
                  every buy answered, the flood met with SYN cookies

Checked each time: the generator's 200/409/410 equal the server's buy.ok /
buy.already_bought / buy.sold_out, its answers equal the server's HTTP
requests, the campaign's sold + left equal its stock, the journal holds one
record per 200, and the generator saw no error.

The server stops before the generator leaves the memif (seckill-gen
--linger): a memif peer disconnecting while the other side polls can crash
that side in DPDK 22.11.

Run by hand (root): tests/integration/test_gen.py  (SECKILL_BUILD=build dir)
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import TestFailure, check, check_eq

DP_IP, GEN_IP = "198.18.0.1", "198.18.0.2"
MEM_MB = "256"
REPORT_TIMEOUT_S = 60


def eal(role, prefix, lcores, sock, rsize=None):
    vdev = "net_memif0,role=%s,socket=%s" % (role, sock)
    if rsize is not None:
        vdev += ",rsize=%d" % rsize    # the rings' slots, log2 (memif's default 10)
    return ["--no-huge", "-m", MEM_MB, "--no-pci", "--file-prefix", prefix, "--lcores", lcores,
            "--vdev", vdev]


class Pair:
    """A seckill-dp and a seckill-gen joined by memif in directory d."""

    def __init__(self, d, key, stock, rsize=None):
        self.d, self.key, self.stock, self.rsize = d, key, stock, rsize
        self.sock = os.path.join(d, "memif.sock")
        self.state = os.path.join(d, "state-%d" % time.monotonic_ns())
        self.dp_log = os.path.join(d, "dp.log")
        build = harness.build_dir()
        self.dp_bin = os.path.join(build, "dataplane", "seckill-dp")
        self.gen_bin = os.path.join(build, "tools", "seckill-gen")
        self.dp = None
        self.counters = {}

    def start_dp(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        argv = [self.dp_bin] + eal("server", "sktg-dp", "0@0,1@1", self.sock, self.rsize) + [
            "--", "--ip", DP_IP, "--idle-sleep-us", harness.IDLE_SLEEP_US,
            "--campaign", "1:%d" % self.stock, "--token-key", self.key,
            "--ip-rate", "0", "--buyer-rate", "0", "--state-dir", self.state,
            "--ctl-socket", os.path.join(self.d, "ctl.sock")]
        self.log = open(self.dp_log, "w")
        self.dp = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        harness.wait_for(lambda: "serving http" in open(self.dp_log).read() or
                         self.dp.poll() is not None, harness.READY_TIMEOUT_S, "seckill-dp up")
        if self.dp.poll() is not None:
            raise TestFailure("seckill-dp exited %d: %s" % (self.dp.returncode,
                                                           open(self.dp_log).read()[-2000:]))

    def stop_dp(self):
        self.dp.send_signal(signal.SIGINT)
        rc = self.dp.wait(timeout=harness.STOP_TIMEOUT_S)
        self.log.close()
        lines = open(self.dp_log).read().splitlines(True)
        check_eq(rc, 0, "seckill-dp exit code")
        self.counters = harness.parse_counters(lines)

    def gen(self, *args):
        """Runs seckill-gen with args; {name: value} of its report. The
        server is stopped (counters read) before the generator leaves."""
        out = os.path.join(self.d, "gen.out")
        argv = [self.gen_bin] + eal("client", "sktg-gen", "0@1,1@0", self.sock, self.rsize) + [
            "--", "--ip", GEN_IP, "--server", DP_IP, "--idle-sleep-us", harness.IDLE_SLEEP_US,
            "--linger", "30", "--token-key", self.key] + [str(a) for a in args]
        with open(out, "w") as f:
            gen = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        try:
            harness.wait_for(lambda: "port.idle_sleeps" in open(out).read() or
                             gen.poll() is not None, REPORT_TIMEOUT_S, "seckill-gen report")
            self.stop_dp()
        finally:
            gen.send_signal(signal.SIGTERM)
            rc = gen.wait(timeout=30)
        text = open(out).read()
        print(text[-3000:], flush=True)
        check_eq(rc, 0, "seckill-gen exit code")
        rep = {}
        for line in text.splitlines():
            m = re.match(r"^((?:gen|port)\.[a-z0-9_.]+) ([0-9.]+)$", line)
            if m:
                rep[m.group(1)] = float(m.group(2)) if "." in m.group(2) else int(m.group(2))
        check("gen.responses" in rep, "seckill-gen printed its report")
        return rep

    def c(self, name):
        return self.counters.get(name, 0)


def agree(p, g, want, what):
    """The generator's counts against the server's, the stock and the journal."""
    got = (g["gen.s200"], g["gen.s409"], g["gen.s410"])
    check_eq(got, want, "%s: generator's 200/409/410" % what)
    check_eq((p.c("buy.ok"), p.c("buy.already_bought"), p.c("buy.sold_out")), got,
             "%s: server's buy.ok/already_bought/sold_out against the generator's" % what)
    check_eq(g["gen.responses"], p.c("http.requests"), "%s: answers = server's requests" % what)
    check_eq(g["gen.requests"], g["gen.responses"], "%s: every request answered" % what)
    check_eq(g["gen.errors"], 0, "%s: generator errors" % what)
    check_eq(p.c("campaign1.sold") + p.c("campaign1.left"), p.stock,
             "%s: sold + left = stock" % what)
    check_eq(p.c("campaign1.sold"), want[0], "%s: units sold = 200s" % what)
    check_eq(len(harness.journal_dump(os.path.join(p.state, "journal"))), want[0],
             "%s: journal records = 200s" % what)


def scenario(d, key, stock, want, what, *gen_args):
    p = Pair(d, key, stock)
    p.start_dp()
    g = p.gen("--campaign", "1", *gen_args)
    agree(p, g, want, what)
    return p, g


def held_burst(d, key):
    """A group commit releases up to 256 held 200s at once (one address's
    connections, --ip-conns' default) into a ring of 32 slots: the frames the full ring refuses wait in the TX queue for the
    next flush (dataplane/dp_txq.h), so none is dropped and no connection
    waits out a retransmission timeout."""
    p = Pair(d, key, 1000, rsize=5)
    p.start_dp()
    g = p.gen("--campaign", "1", "--conns", "256", "--buyer-first", "9000", "--buyers", "1000",
              "--requests", "1000")
    agree(p, g, (1000, 0, 0), "held_burst")
    check(p.c("dp.tx_ring_full") > 0 and g["port.tx_ring_full"] > 0,
          "held_burst: the 32-slot ring was full at times (server %d, generator %d flushes "
          "taken in part)" % (p.c("dp.tx_ring_full"), g["port.tx_ring_full"]))
    check_eq((p.c("dp.tx_drops"), g["port.tx_drops"]), (0, 0),
             "held_burst: frames dropped (server, generator)")
    check_eq(p.c("tcp.retrans_segs"), 0, "held_burst: the server's retransmissions")


def pow_scenario(d, key):
    """seckill-gen --pow: every order carries a good proof of work."""
    p = Pair(d, key, 500)
    p.start_dp()
    harness.seckillctl("campaign", "pow", "--id", "1", "--bits", "8",
                       "--socket", os.path.join(d, "ctl.sock"))
    g = p.gen("--campaign", "1", "--conns", "8", "--buyers", "200", "--requests", "200",
              "--pow", "8")
    agree(p, g, (200, 0, 0), "pow")
    check_eq((p.c("buy.pow_required"), p.c("buy.pow_invalid")), (0, 0),
             "pow: no order refused for its proof of work")


def options():
    """Bad options are refused before the EAL starts, each with its reason."""
    gen = os.path.join(harness.build_dir(), "tools", "seckill-gen")
    r = subprocess.run([gen, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "--rate N" in r.stdout, "seckill-gen --help")
    for args, want in [
            (["--ip", GEN_IP], "--ip and --server are required"),
            (["--ip", GEN_IP, "--server", DP_IP, "--campaign", "1"], "--token-key"),
            (["--ip", GEN_IP, "--server", DP_IP, "--conns", "0"], "nothing to do"),
            (["--ip", GEN_IP, "--server", DP_IP, "--pcap", "/nonexistent"], "--pcap-rate"),
            (["--ip", GEN_IP, "--server", DP_IP, "--ports", "9-2"], "LO-HI"),
            (["--ip", "1.2.3", "--server", DP_IP], "IPv4 address")]:
        r = subprocess.run([gen, "--"] + args, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and want in r.stderr,
              "seckill-gen %s: exit 2 saying %r (got %d: %s)" % (" ".join(args), want,
                                                               r.returncode, r.stderr.strip()))


def test():
    options()
    d = tempfile.mkdtemp(prefix="seckill-gen-")
    os.chmod(d, 0o755)
    try:
        key = harness.sale_key(d)
        scenario(d, key, 500, (300, 600, 0), "repeat_buyers",
                 "--conns", "8", "--buyers", "300", "--requests", "900")
        scenario(d, key, 500, (500, 0, 300), "sold_out",
                 "--conns", "8", "--buyer-first", "5000", "--buyers", "800", "--requests", "800")

        pow_scenario(d, key)
        held_burst(d, key)
        p, g = scenario(d, key, 100, (100, 0, 200), "one_per_conn",
                        "--conns", "16", "--close", "--buyers", "300", "--requests", "300")
        check_eq(g["gen.conns_opened"], 300, "one_per_conn: a handshake per request")
        check_eq(p.c("tcp.conns_opened"), 300, "one_per_conn: the server's handshakes")
        check_eq(p.c("gauge.conns") - p.c("gauge.time_wait"), 0,
                 "one_per_conn: the server holds nothing but TIME_WAIT")
        check_eq(p.c("dp.rx_pkts"), g["port.tx_pkts"], "one_per_conn: every frame arrived")
        check_eq(g["port.rx_pkts"], p.c("dp.tx_pkts"), "one_per_conn: and every answer")

        pcap = os.path.join(d, "syn.pcap")
        subprocess.run([os.path.join(harness.ROOT, "tools", "synflood-pcap"), "--out", pcap,
                        "--count", "4096", "--dst", DP_IP], check=True, timeout=60)
        p = Pair(d, key, 1000000)
        p.start_dp()
        # 32 connections: each in-stock 200 waits for its order's fsync (a pass and
        # an fsync, several ms on a loaded or sanitized build), so 8 could not
        # carry 500 buys/s and the open loop's backlog would overflow.
        g = p.gen("--campaign", "1", "--conns", "32", "--rate", "500", "--duration", "2",
                  "--buyers", "100000", "--pcap", pcap, "--pcap-rate", "5000")
        n = g["gen.responses"]
        check(n >= 500, "syn_flood: buys answered during the flood (%d)" % n)
        agree(p, g, (n, 0, 0), "syn_flood")
        check(g["port.pcap_sent"] >= 5000, "syn_flood: flood frames sent (%d)" % g["port.pcap_sent"])
        check_eq(p.c("dp.rx_pkts"), g["port.tx_pkts"],
                 "syn_flood: every frame sent arrived (memif loses none)")
        check(p.c("tcp.syn_received") >= 4096,
              "syn_flood: the server took each forged SYN (%d; the file's 4,096 are "
              "replayed over and over, a repeat is a retransmission)" % p.c("tcp.syn_received"))
        check(p.c("tcp.cookies_sent") > 0, "syn_flood: answered with SYN cookies")
        check_eq(p.c("tcp.drop_bad_csum"), 0, "syn_flood: the pcap's checksums are right")
    finally:
        shutil.rmtree(d, ignore_errors=True)
        for prefix in ("sktg-dp", "sktg-gen"):      # eal()'s file prefixes
            harness.remove_dpdk_runtime_dir(prefix)


if __name__ == "__main__":
    harness.run(test)
