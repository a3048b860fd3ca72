"""services.py - the sale's back ends for integration tests: Kafka and Redis.

KafkaMock is tools/kafka-mock (librdkafka's mock brokers, the real Kafka
protocol on 127.0.0.1), from tests/kafka/kafka_mock.py, and orders() reads
the orders topic back with kcat. RedisServer is a private redis-server on a
loopback port of the test's own, with append-only persistence as the
control plane's Redis needs it (control/ctl_redis.h), stopped and removed
at exit. Neither reaches anything but loopback.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kafka"))

import kafka_mock  # noqa: E402  (tests/kafka, put on the path above)
from harness import TestFailure, build_dir  # noqa: E402

REDIS_START_S = 10


def kafka_mock_start(*args):
    """A fresh kafka-mock cluster; .bootstrap, .cmd("broker down all"), .stop()."""
    kafka_mock.EXE = os.path.join(build_dir(), "tools", "kafka-mock")
    return kafka_mock.Mock(*args)


def kafka_orders(bootstrap, topic=kafka_mock.TOPIC):
    """Every order message in the topic: [(key, parsed value)], partition by partition."""
    return [(k, json.loads(v)) for k, v, _ in kafka_mock.consume(bootstrap, topic)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisServer:
    """redis-server on 127.0.0.1:<port>, its data in a private directory."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="seckill-redis-")
        self.proc = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        exe = shutil.which("redis-server")
        if exe is None:
            raise TestFailure("redis-server not found; run tools/deps")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--daemonize", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + REDIS_START_S
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return self
            time.sleep(0.1)
        raise TestFailure("redis-server on port %d did not answer PING" % self.port)

    def cli(self, *args):
        """redis-cli ARGS; its output, stripped ("" when the server is not there)."""
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 else ""

    def kill(self):
        """SIGKILL: Redis crashes; what it acknowledged is in its append-only file."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False
