"""kafka_mock.py - tools/kafka-mock and kcat for Python tests.

Mock starts one kafka-mock process (a fresh cluster of librdkafka's mock
brokers on 127.0.0.1), reads its bootstrap line and sends it fault commands;
produce and consume run kcat against it. Used by tests/kafka and by the
integration tests that publish a sale's orders. Every wait is bounded.
"""
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
TOPIC = "seckill.orders"
START_TIMEOUT = 10.0      # s for the mock to print its bootstrap servers
REPLY_TIMEOUT = 5.0       # s for one command's answer
KCAT_TIMEOUT = 30.0       # s for one kcat run, far above its own timeouts
# The kafka-mock binary: the test runner sets it, else the build's.
EXE = os.path.join(os.environ.get("SECKILL_BUILD", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")),
    "tools", "kafka-mock")


class Mock:
    """One kafka-mock process; commands go to its stdin, answers come on stdout."""

    def __init__(self, *args):
        # stderr to a file: a pipe nobody reads could fill and stall the mock.
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([EXE, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.stopped = False
        self.bootstrap = self.readline(START_TIMEOUT)
        if not self.bootstrap:
            err = self.stop()
            raise AssertionError("kafka-mock printed no bootstrap line: %r" % err)

    def readline(self, timeout):
        buf = b""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            b = os.read(fd, 1)     # one byte at a time: never read past the line
            if not b:
                return None
            buf += b
        return buf.decode().rstrip("\n")

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return self.readline(REPLY_TIMEOUT)

    def stop(self):
        """SIGTERM, bounded wait, SIGKILL as a last resort; returns stderr."""
        if self.stopped:
            return ""
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.seek(0)
        err = self.err.read().decode(errors="replace")
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            try:
                f.close()
            except OSError:
                pass
        return err


def produce(bootstrap, lines, *extra, topic=TOPIC):
    """kcat -P -K: (key:value lines); returns the CompletedProcess."""
    data = "".join(line + "\n" for line in lines).encode()
    return subprocess.run([KCAT, "-P", "-b", bootstrap, "-t", topic, "-K:", *extra],
                          input=data, capture_output=True, timeout=KCAT_TIMEOUT)


def consume(bootstrap, topic=TOPIC):
    """Every message in topic as (key, value, partition), in partition+offset order."""
    r = subprocess.run([KCAT, "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning",
                        "-q", "-f", "%p\t%o\t%k\t%s\n"], capture_output=True,
                       timeout=KCAT_TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("kcat -C exited %d: %s" % (r.returncode, r.stderr.decode()))
    rows = []
    for line in r.stdout.decode().splitlines():
        p, o, k, v = line.split("\t")
        rows.append((int(p), int(o), k, v))
    rows.sort()
    return [(k, v, p) for p, _, k, v in rows]
