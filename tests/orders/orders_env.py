"""orders_env.py - the order service's world for a test: a private PostgreSQL
(tools/postgres on a directory and port of its own), a private redis-server,
tools/kafka-mock, a campaign whose units were sold as the front end sells them
(Redis: stock taken, sold counted, buyers claimed; Kafka: one schema 1 message
per order, keyed by buyer), and seckill-orders processes to start, SIGKILL and
restart. Every wait is bounded; everything is stopped and removed at exit.

Skips (exit 77) only when PostgreSQL's server binaries are missing.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))

import kafka_mock  # noqa: E402
from services import RedisServer, free_port  # noqa: E402

SKIP = 77
WAIT_S = 60


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok:", what, flush=True)


def build_dir():
    return os.environ.get("SECKILL_BUILD", os.path.join(ROOT, "build"))


def exe(*path):
    return os.path.join(build_dir(), *path)


def require_postgres():
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not os.environ.get("SECKILL_PG_BIN"):
        print("skip: PostgreSQL server binaries missing (/usr/lib/postgresql/*/bin); "
              "run tools/deps (Debian package postgresql)")
        sys.exit(SKIP)


def wait_for(fn, what, timeout=WAIT_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise Fail("timed out after %d s waiting for %s" % (timeout, what))


class Postgres:
    """tools/postgres on a private directory and port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="seckill-pg-")
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, SECKILL_PG_DIR=self.dir, SECKILL_PG_PORT=str(free_port()))
        self.conninfo = None

    def tool(self, *args):
        r = subprocess.run([os.path.join(ROOT, "tools", "postgres"), *args], env=self.env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode not in (0, 3):
            raise Fail("tools/postgres %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def up(self):
        self.conninfo = self.tool("up").splitlines()[0]
        return self

    def stop_immediate(self):
        """pg_ctl -m immediate: a crash as far as PostgreSQL is concerned."""
        binp = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        cmd = [os.path.join(binp, "pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m",
               "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, capture_output=True, timeout=60, check=True)

    def sql(self, q):
        r = subprocess.run(["psql", self.conninfo, "-tAX", "-F", "\t", "-c", q],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("psql %r: %s" % (q, r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def cleanup(self):
        try:
            self.tool("destroy")
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def order_id(i, node=1, core=0, epoch=0x65f1a2b3):
    return "%08x-%04x-%04x-%016x" % (epoch, node, core, i)


class Sale:
    """A campaign of `stock` units in Redis of which `sold` were sold as the
    front end does it, and their orders in Kafka."""

    def __init__(self, redis, mock, campaign=1, stock=1000):
        self.redis, self.mock, self.campaign, self.stock = redis, mock, campaign, stock
        self.orders = []            # (order_id, buyer)
        c = campaign
        redis.cli("HSET", "seckill:campaign:{%d}" % c, "stock", stock, "starts_at", 0,
                  "state", "open")
        redis.cli("SET", "seckill:stock:{%d}" % c, stock)
        redis.cli("SET", "seckill:sold:{%d}" % c, 0)

    def sell(self, n, first=1, time_ms=None):
        """n orders (ids first..first+n-1, buyer 1000+i): Redis as the front end
        leaves it, and the messages produced (once) to Kafka."""
        now = int(time.time() * 1000) if time_ms is None else time_ms
        c = self.campaign
        lines, pipe = [], []
        for i in range(first, first + n):
            oid, buyer = order_id(i), 1000 + i
            self.orders.append((oid, buyer))
            pipe.append("SET seckill:buyer:{%d}:%d %s EX 604800" % (c, buyer, oid))
            lines.append("%d:%s" % (buyer, json.dumps(
                {"order_id": oid, "campaign": c, "buyer": buyer, "qty": 1, "time_ms": now,
                 "core": 0, "node": 1, "schema": 1}, separators=(",", ":"))))
        pipe.append("DECRBY seckill:stock:{%d} %d" % (c, n))
        pipe.append("INCRBY seckill:sold:{%d} %d" % (c, n))
        r = subprocess.run(["redis-cli", "-p", str(self.redis.port)], input="\n".join(pipe) + "\n",
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("redis-cli pipe: %s" % r.stderr)
        self.produce(lines)
        return lines

    def produce(self, lines):
        for at in range(0, len(lines), 5000):
            r = kafka_mock.produce(self.mock.bootstrap, lines[at:at + 5000])
            if r.returncode != 0:
                raise Fail("kcat -P: %s" % r.stderr.decode())


class Orders:
    """One seckill-orders process."""

    def __init__(self, env, *extra, http=True):
        self.http_port = free_port() if http else None
        args = [exe("orders", "seckill-orders"), "--kafka", env.mock.bootstrap, "--pg",
                env.pg.conninfo, "--redis", env.redis.addr, "--session-timeout-ms", "3000",
                "--sweep-ms", "100"]
        if http:
            args += ["--http", str(self.http_port)]
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args + list(extra), stdout=self.log, stderr=self.log)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def request(self, method, path):
        req = urllib.request.Request(self.url(path), method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stats(self):
        """The counters ({} while the process is not listening yet)."""
        try:
            return self.request("GET", "/stats")[1]
        except OSError:
            return {}

    def lag(self):
        """seckill_orders_consumer_lag_messages from GET /metrics: (the sum,
        how many partitions report one)."""
        with urllib.request.urlopen(self.url("/metrics"), timeout=10) as r:
            lines = [l for l in r.read().decode().split("\n")
                     if l.startswith("seckill_orders_consumer_lag_messages{")]
        return sum(int(l.rsplit(" ", 1)[1]) for l in lines), len(lines)

    def assigned(self):
        wait_for(lambda: self.stats().get("resyncs", 0) >= 1, "partitions assigned")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


class Env:
    def __init__(self, stock=1000, partitions=3):
        require_postgres()
        kafka_mock.EXE = exe("tools", "kafka-mock")
        self.pg = Postgres()
        self.redis = RedisServer()
        self.mock = None
        self.procs = []
        self.partitions = partitions
        self.stock = stock

    def __enter__(self):
        self.pg.up()
        self.redis.start()
        self.mock = kafka_mock.Mock("--topic", "seckill.orders:%d" % self.partitions)
        self.sale = Sale(self.redis, self.mock, stock=self.stock)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            out = p.stop()
            if exc[0] is not None:
                print("--- seckill-orders log:\n" + out)
        if self.mock:
            self.mock.stop()
        self.redis.cleanup()
        self.pg.cleanup()
        return False

    def orders(self, *extra, http=True):
        p = Orders(self, *extra, http=http)
        self.procs.append(p)
        return p

    def rows(self):
        return int(self.pg.sql("select count(*) from orders")[0][0])

    def statuses(self):
        return dict((s, int(n)) for s, n in self.pg.sql(
            "select status, count(*) from orders group by status"))

    def wait_rows(self, n, timeout=WAIT_S):
        wait_for(lambda: self.rows() >= n, "%d rows in orders" % n, timeout)

    def ctl(self, *args):
        return subprocess.run([exe("control", "seckillctl"), *args], capture_output=True,
                              text=True, timeout=120)

    def audit(self):
        return self.ctl("audit", "--campaign", str(self.sale.campaign), "--pg", self.pg.conninfo,
                        "--redis", self.redis.addr, "--kafka", self.mock.bootstrap, "--json")

    def check_ledger(self, sold):
        """Exactly one row per sold order; sold - returned + left = stock; a clean audit."""
        ids = [r[0] for r in self.pg.sql("select order_id from orders")]
        want = sorted(o for o, _ in self.sale.orders[:sold])
        check(sorted(ids) == want, "exactly one row per sold order (%d)" % sold)
        c = self.sale.campaign
        returned = int(self.redis.cli("SCARD", "seckill:returned:{%d}" % c))
        left = int(self.redis.cli("GET", "seckill:stock:{%d}" % c))
        expired = self.statuses().get("expired", 0)
        check(returned == expired, "every expired order's unit returned once (%d)" % expired)
        check(sold - returned + left == self.stock,
              "sold %d - returned %d + left %d = stock %d" % (sold, returned, left, self.stock))
        a = self.audit()
        if a.returncode != 0:
            print(a.stdout, a.stderr)
        check(a.returncode == 0, "seckillctl audit is clean")
        return json.loads(a.stdout)


def run(main):
    try:
        main()
    except Fail as e:
        print("FAIL:", e, flush=True)
        sys.exit(1)
    print("passed", flush=True)
