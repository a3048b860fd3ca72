#!/usr/bin/env python3
"""test_options.py - seckill-dp's option checking: each mistake is refused
before the EAL starts, with exit code 2 and a message that names the option
and says what to give instead; --help prints the usage and exits 0. Also
tools/serve's message when the binary is not built. Needs no root.

Run by hand: tests/integration/test_options.py  (SECKILL_BUILD=build dir)
"""
import os
import subprocess
import sys

import harness
from harness import check, check_eq

CASES = [
    ([], "--ip is required: the address to serve on, e.g. --ip 198.18.0.1"),
    (["--ip", "1.2.3"], "--ip '1.2.3' is not an IPv4 address"),
    (["--ip", "198.18.0.1", "--port", "0"], "--port '0': expected a whole number from 1 to 65535"),
    (["--ip", "198.18.0.1", "--port", "80x"], "--port '80x': expected a whole number"),
    (["--ip", "198.18.0.1", "--burst", "257"], "--burst '257': expected a whole number from 1 to 256"),
    (["--ip", "198.18.0.1", "--max-conns", "-1"], "--max-conns '-1': expected a whole number"),
    (["--ip", "198.18.0.1", "--syn-cookies", "maybe"],
     "--syn-cookies 'maybe': use auto, always or never"),
    (["--ip", "198.18.0.1", "--rx-buf", "70000"], "TCP settings rejected: tcp: rx_buf must be"),
    (["--ip", "198.18.0.1", "--mbufs", "10"], "--mbufs '10': expected a whole number from 511"),
    (["--ip", "198.18.0.1", "--ip-conns", "-1"],
     "--ip-conns '-1': expected a whole number from 0 to 16777216"),
    (["--ip", "198.18.0.1", "--max-conns", "100", "--tx-bufs", "200"],
     "TCP settings rejected: tcp: rx_bufs and tx_bufs must not exceed max_conns"),
    (["--ip", "198.18.0.1", "--redis", "127.0.0.1"],
     "--redis '127.0.0.1': expected IP:PORT, e.g. --redis 127.0.0.1:6379, or a Redis Cluster's"),
    (["--ip", "198.18.0.1", "--redis", "127.0.0.1:7000,127.0.0.1:0"],
     "--redis '127.0.0.1:7000,127.0.0.1:0': expected IP:PORT"),
    (["--ip", "198.18.0.1", "--redis", "127.0.0.1:7000,"],
     "--redis '127.0.0.1:7000,': expected IP:PORT"),
    (["--ip", "198.18.0.1", "--frobnicate"], "unknown option or missing value: '--frobnicate'"),
    (["--ip", "198.18.0.1", "stray"], "unexpected argument 'stray'"),
]


def test():
    build = os.environ.get("SECKILL_BUILD", os.path.join(harness.ROOT, "build"))
    binary = os.path.join(build, "dataplane", "seckill-dp")
    check(os.access(binary, os.X_OK), "%s is built" % binary)
    for args, want in CASES:
        # EAL options before "--" must not matter: the check comes first.
        r = subprocess.run([binary, "--no-huge", "--"] + args, capture_output=True, text=True,
                           timeout=30)
        check_eq(r.returncode, 2, "exit code for %s" % args)
        check(r.stderr.startswith("seckill-dp: " + want), "%s -> %r" % (args, r.stderr.strip()))
        check("EAL" not in r.stdout + r.stderr, "refused before the EAL started")
    for argv in ([binary, "--", "--help"], [binary, "--help"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 0, "%s exit code" % " ".join(argv[1:]))
        check("--ip A.B.C.D" in r.stdout and "--idle-sleep-us" in r.stdout, "usage printed")
    r = subprocess.run([os.path.join(harness.ROOT, "tools", "serve"), "--build", "/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    check_eq(r.returncode, 1, "tools/serve without a build")
    check("build it with 'meson setup /nonexistent && ninja -C /nonexistent'" in r.stderr,
          "tools/serve says how to build (%r)" % r.stderr.strip())


if __name__ == "__main__":
    name = os.path.basename(sys.argv[0])
    try:
        test()
    except harness.TestFailure as e:
        print("FAIL %s: %s" % (name, e))
        sys.exit(1)
    print("PASS", name)
