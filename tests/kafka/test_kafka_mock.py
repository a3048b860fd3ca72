#!/usr/bin/env python3
"""tools/kafka-mock end to end, with kcat as the Kafka client.

Each test starts its own kafka-mock (a fresh cluster), produces with
`kcat -P -K:` and consumes back with `kcat -C -e -o beginning`, and injects
faults through the mock's command channel (stdin, a Unix socket or a FIFO):
brokers down then up, Produce errors, broker RTT. Every wait is bounded and
every process started is stopped, also when a test fails.

    test_kafka_mock.py PATH/TO/kafka-mock      (exit 77 = skipped: no kcat)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import kafka_mock
from kafka_mock import KCAT, KCAT_TIMEOUT, REPLY_TIMEOUT, TOPIC, Mock, consume, produce

MOCK = None
SHORT_MSG_TIMEOUT_MS = 2000   # a produce to a dead cluster gives up after this


def order_json(i):
    """An order as the control plane will publish it (the schema's shape)."""
    return json.dumps({"order_id": "65f1a2b3-0000-%04x-%016x" % (i % 2, i),
                       "buyer": 1000 + i % 7, "campaign": 1, "qty": 1,
                       "time_ms": 1700000000000 + i}, separators=(",", ":"))


class KafkaMockTest(unittest.TestCase):
    def setUp(self):
        self.mock = None

    def tearDown(self):
        if self.mock:
            self.mock.stop()

    def start(self, *args):
        self.mock = Mock(*args)
        return self.mock

    def test_bootstrap_line_lists_brokers_on_loopback(self):
        m = self.start("--brokers", "2")
        addrs = m.bootstrap.split(",")
        self.assertEqual(len(addrs), 2)
        for a in addrs:
            host, port = a.split(":")
            self.assertEqual(host, "127.0.0.1")
            self.assertTrue(0 < int(port) < 65536)

    def test_round_trip_keys_and_values(self):
        m = self.start()
        lines = ["buyer-%d:%s" % (1000 + i % 7, order_json(i)) for i in range(30)]
        r = produce(m.bootstrap, lines, "-X", "enable.idempotence=true", "-X", "acks=all")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        got = consume(m.bootstrap)
        self.assertEqual(sorted((k, v) for k, v, _ in got),
                         sorted(tuple(line.split(":", 1)) for line in lines))
        # Keyed by buyer: one buyer's orders all land in one partition, in order.
        parts = {}
        for k, v, p in got:
            parts.setdefault(k, set()).add(p)
        self.assertTrue(all(len(s) == 1 for s in parts.values()), parts)
        for k in parts:
            mine = [v for kk, v, _ in got if kk == k]
            self.assertEqual(mine, [line.split(":", 1)[1] for line in lines
                                    if line.split(":", 1)[0] == k])
        self.assertEqual({p for _, _, p in got} <= {0, 1, 2}, True)

    def test_topic_option_sets_partitions(self):
        m = self.start("--brokers", "1", "--topic", TOPIC + ":1")
        r = produce(m.bootstrap, ["a:1", "b:2", "c:3"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(consume(m.bootstrap), [("a", "1", 0), ("b", "2", 0), ("c", "3", 0)])

    def test_brokers_down_then_up(self):
        m = self.start()
        self.assertEqual(m.cmd("broker down all"), "ok")
        t0 = time.monotonic()
        r = produce(m.bootstrap, ["lost:1"], "-X", "message.timeout.ms=%d" % SHORT_MSG_TIMEOUT_MS)
        self.assertNotEqual(r.returncode, 0, "produce to a dead cluster succeeded")
        self.assertLess(time.monotonic() - t0, KCAT_TIMEOUT)
        self.assertEqual(m.cmd("broker up all"), "ok")
        r = produce(m.bootstrap, ["kept:2"], "-X", "message.timeout.ms=10000")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual([(k, v) for k, v, _ in consume(m.bootstrap)], [("kept", "2")])

    def test_one_broker_down_and_up(self):
        m = self.start()
        self.assertEqual(m.cmd("broker down 2"), "ok")
        self.assertEqual(m.cmd("broker up 2"), "ok")
        r = produce(m.bootstrap, ["x:1"], "-X", "message.timeout.ms=10000")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual([(k, v) for k, v, _ in consume(m.bootstrap)], [("x", "1")])

    def test_produce_errors_fail_first_produce_only(self):
        m = self.start()
        self.assertEqual(m.cmd("produce-errors 1 NOT_ENOUGH_REPLICAS"), "ok")
        noretry = ["-X", "retries=0", "-X", "message.timeout.ms=10000"]
        r = produce(m.bootstrap, ["first:1"], *noretry)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Not enough in-sync replicas", r.stderr.decode())
        r = produce(m.bootstrap, ["second:2"], *noretry)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual([(k, v) for k, v, _ in consume(m.bootstrap)], [("second", "2")])

    def test_produce_errors_by_number_and_clear(self):
        m = self.start()
        # 19 = NOT_ENOUGH_REPLICAS; `clear` drops what was not used yet.
        self.assertEqual(m.cmd("produce-errors 5 19"), "ok")
        self.assertEqual(m.cmd("clear"), "ok")
        r = produce(m.bootstrap, ["after-clear:1"], "-X", "retries=0")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual([(k, v) for k, v, _ in consume(m.bootstrap)], [("after-clear", "1")])

    def test_rtt_delays_produce(self):
        m = self.start()
        self.assertEqual(m.cmd("rtt all 1500"), "ok")
        t0 = time.monotonic()
        r = produce(m.bootstrap, ["slow:1"], "-X", "message.timeout.ms=20000")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        # A floor only: the delay is a minimum, load can only add to it.
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)

    def test_command_errors(self):
        m = self.start()
        self.assertEqual(m.cmd("broker down 4"), "error: no broker '4': ids are 1..3 or all")
        self.assertEqual(m.cmd("broker sideways 1"), "error: usage: broker down|up ID|all")
        self.assertEqual(m.cmd("rtt 1 x"), "error: bad rtt 'x': want 0..600000 milliseconds")
        self.assertEqual(m.cmd("produce-errors 0 19"), "error: bad count '0': want 1..100000")
        self.assertEqual(m.cmd("produce-errors 1 NO_SUCH_ERROR"),
                         "error: unknown Kafka error code 'NO_SUCH_ERROR' (a name such as "
                         "NOT_ENOUGH_REPLICAS or _TRANSPORT, or its number)")
        self.assertEqual(m.cmd("jump"), "error: unknown command 'jump' (broker, rtt, "
                         "produce-errors, clear, bootstrap, quit)")
        self.assertEqual(m.cmd("x" * 300), "error: line longer than 255 bytes")
        self.assertEqual(m.cmd("bootstrap"), m.bootstrap)
        self.assertEqual(m.cmd("quit"), "ok")
        self.assertEqual(m.proc.wait(timeout=10), 0)

    def test_sigterm_and_sigint_exit_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            m = self.start()
            m.proc.send_signal(sig)
            self.assertEqual(m.proc.wait(timeout=10), 0)
            m.stop()

    def test_bad_arguments(self):
        for args, msg in ((["--brokers", "0"], "bad --brokers '0'"),
                          (["--topic", "bad/name"], "bad topic name"),
                          (["--topic", "t:0"], "bad partition count"),
                          (["--port-base", "9092"], "--port-base is not supported"),
                          (["--frob"], "unknown argument '--frob'")):
            r = subprocess.run([MOCK, *args], capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr.decode())
            self.assertEqual(r.stdout, b"")

    def test_control_socket(self):
        with tempfile.TemporaryDirectory(prefix="kafka-mock-") as d:
            path = os.path.join(d, "ctl.sock")
            m = self.start("--control", path)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(REPLY_TIMEOUT)
                s.connect(path)
                f = s.makefile("rw")
                for line, want in (("broker down all", "ok"), ("broker up 1", "ok"),
                                   ("broker up 7", "error: no broker '7': ids are 1..3 or all"),
                                   ("clear", "ok")):
                    f.write(line + "\n")
                    f.flush()
                    self.assertEqual(f.readline(), want + "\n")
            r = produce(m.bootstrap, ["via-socket:1"], "-X", "message.timeout.ms=10000")
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            m.proc.send_signal(signal.SIGTERM)
            self.assertEqual(m.proc.wait(timeout=10), 0)
            self.assertFalse(os.path.exists(path), "control socket left behind")

    def test_control_fifo_answers_on_stdout(self):
        with tempfile.TemporaryDirectory(prefix="kafka-mock-") as d:
            path = os.path.join(d, "ctl.fifo")
            os.mkfifo(path)
            m = self.start("--control", path)
            with open(path, "w") as f:
                f.write("broker down all\n")
            self.assertEqual(m.readline(REPLY_TIMEOUT), "ok")
            r = produce(m.bootstrap, ["lost:1"], "-X", "message.timeout.ms=%d" % SHORT_MSG_TIMEOUT_MS)
            self.assertNotEqual(r.returncode, 0)
            with open(path, "w") as f:
                f.write("broker up all\nquit\n")
            self.assertEqual(m.readline(REPLY_TIMEOUT), "ok")
            self.assertEqual(m.readline(REPLY_TIMEOUT), "ok")
            self.assertEqual(m.proc.wait(timeout=10), 0)


def main():
    global MOCK
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    MOCK = kafka_mock.EXE = os.path.abspath(sys.argv[1])
    if not KCAT:
        print("kcat not found (Debian: apt-get install kcat): skipped", file=sys.stderr)
        return 77
    prog = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
