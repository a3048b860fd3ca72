#!/usr/bin/env python3
"""test_cluster.py - one hot campaign's confirms on a Redis Cluster of three
primaries, its buyer claims sharded over 12 buckets, while its slots move.

tools/redis-cluster starts the cluster (Debian's redis-server, cluster-enabled)
with the campaign's buckets spread over the primaries; tools/sim_hosts plays
hosts' control planes (ctl_redis, as seckill-dp uses it) and checks the
invariants at the end: no buyer confirmed twice (its own record and the claims
counted in every primary), sold = the orders confirmed, stock + sold + held =
the campaign's stock.

  0. A cluster of one primary (it does not know its own address).
  1. The slot arithmetic: this test's CRC16 and tools/redis-cluster's agree
     with CLUSTER KEYSLOT, and a sale on a still cluster follows no
     redirection at all (ctl_redis computes every slot as the cluster does).
  2. A sale while every bucket slot of one primary is migrated to another,
     by hand as redis-cli --cluster reshard does it (SETSLOT IMPORTING and
     MIGRATING, MIGRATE, SETSLOT NODE), a key each 0.1 s, so the sale meets
     TRYAGAIN (keys split), ASK (all moved, slot not handed over) and MOVED:
     nothing lost, nothing doubled, and redirections were followed.
  3. A sale during `redis-cli --cluster reshard` of 3000 slots: the same.

Needs redis-server and redis-cli (exits 77, skipped, without them).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SECKILL_BUILD", os.path.join(ROOT, "build"))
SIM = os.path.join(BUILD, "tools", "sim_hosts")
CLUSTER = os.path.join(ROOT, "tools", "redis-cluster")
# One campaign a sale (a sale force-creates its campaign; a fresh one has no
# old claims to delete first); sim_hosts --mode batched sells campaign + 1.
CAMPAIGNS = (31, 41, 51)
BUCKETS = 12


def fail(msg):
    print("FAIL test_cluster.py: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


class Conn:
    """A minimal RESP client: the migration must be quick, not a process a command."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()

    def reply(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key):
    k = key.encode()
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return crc16(k) % 16384


def sale(ports, orders, campaign):
    return subprocess.Popen([SIM, "--ports", ",".join(map(str, ports)), "--hosts", "10",
                             "--threads", "4", "--orders", str(orders), "--mode", "batched",
                             "--campaign", str(campaign), "--buckets", str(BUCKETS)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_selling(p, conns, i, campaign):
    """Until the sale's hosts have claimed in a bucket of primary i."""
    keys = ["seckill:claimed:{%d:%d}" % (campaign + 1, k) for k in range(BUCKETS)]
    mine = [k for k in keys if owner(conns, slot(k)) == i]
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        if any(conns[i].cmd("EXISTS", k) for k in mine):
            return
        time.sleep(0.01)
    fail("the sale made no claim on primary %d" % i)


def sale_result(p, what):
    out, _ = p.communicate(timeout=600)
    print(out, end="", flush=True)
    check(p.returncode == 0 and "invariants hold" in out,
          "%s: no buyer twice, sold = confirmed, stock + sold + held = initial" % what)
    for line in out.splitlines():
        if "redirections followed" in line:
            return int(line.split("redirections followed")[0].split()[-1])
    fail("%s: sim_hosts printed no redirection count" % what)


def owner(conns, s):
    """The index of the primary serving slot s."""
    for r in conns[0].cmd("CLUSTER", "SLOTS"):
        if r[0] <= s <= r[1]:
            port = r[2][1]
            return [c.port for c in conns].index(port)
    fail("slot %d is served by no primary" % s)


def migrate_slot(conns, ids, s, src, dst, pause):
    """Moves slot s from primary src to dst, one key at a time, `pause` s
    apart: while some keys have moved a script on the slot gets TRYAGAIN;
    once all have, and until the slot is handed over, ASK (the target then
    runs it only after ASKING)."""
    a, b = conns[src], conns[dst]
    b.cmd("CLUSTER", "SETSLOT", s, "IMPORTING", ids[src])
    a.cmd("CLUSTER", "SETSLOT", s, "MIGRATING", ids[dst])
    moved = 0
    while True:
        keys = a.cmd("CLUSTER", "GETKEYSINSLOT", s, 1)
        if not keys:
            break
        a.cmd("MIGRATE", "127.0.0.1", b.port, "", 0, 5000, "KEYS", *keys)
        moved += len(keys)
        time.sleep(pause)
    time.sleep(pause)
    for c in (b, a) + tuple(c for i, c in enumerate(conns) if i not in (src, dst)):
        c.cmd("CLUSTER", "SETSLOT", s, "NODE", ids[dst])
    return moved


def main():
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print("SKIP: %s is missing (tools/deps installs it)" % tool)
            sys.exit(77)
    if not os.access(SIM, os.X_OK):
        fail("%s is missing; build first" % SIM)
    tmp = tempfile.mkdtemp(prefix="seckill-cluster-")
    cdir = os.path.join(tmp, "cluster")
    try:
        # 0. A cluster of one primary: its node does not know its own address
        # (CLUSTER SLOTS says ""), the hosts use the one they reached.
        one = os.path.join(tmp, "one")
        out = subprocess.run([CLUSTER, "start", "--dir", one, "--primaries", "1"],
                             capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "a cluster of one primary: %s%s" % (out.stdout.strip(),
                                                                      out.stderr.strip()))
        sale_result(sale([int(out.stdout.split()[1])], 20000, CAMPAIGNS[0]),
                    "a sale on a cluster of one primary")
        subprocess.run([CLUSTER, "stop", "--dir", one], timeout=60)

        out = subprocess.run([CLUSTER, "start", "--dir", cdir, "--spread",
                              ",".join("%d:%d" % (c + 1, BUCKETS) for c in CAMPAIGNS)],
                             capture_output=True, text=True, timeout=120)
        check(out.returncode == 0 and out.stdout.startswith("ports "),
              "tools/redis-cluster started 3 primaries: %s%s" % (out.stdout.strip(),
                                                                out.stderr.strip()))
        ports = [int(p) for p in out.stdout.split()[1:]]
        conns = [Conn(p) for p in ports]
        for c, p in zip(conns, ports):
            c.port = p
        ids = [c.cmd("CLUSTER", "MYID") for c in conns]

        # 1. The slot arithmetic.
        keys = ["seckill:stock:{32}", "seckill:buyer:{32:7}:123456",
                "seckill:campaigns", "seckill:campaigns:version", "{}x", "a{b}{c}", "foo"]
        check(all(conns[0].cmd("CLUSTER", "KEYSLOT", k) == slot(k) for k in keys),
              "CRC16 and hash tags agree with CLUSTER KEYSLOT")
        spread = sorted(owner(conns, slot("{%d:%d}" % (CAMPAIGNS[0] + 1, k)))
                        for k in range(BUCKETS))
        check(spread == sorted(list(range(3)) * (BUCKETS // 3)),
              "the campaign's %d buckets are spread 4 a primary: %s" % (BUCKETS, spread))
        r = sale_result(sale(ports, 30000, CAMPAIGNS[0]), "a sale on a still cluster")
        check(r == 0, "no redirection on a still cluster: every slot computed right (%d)" % r)

        # 2. Every bucket slot of primary 0 migrated to primary 1, during a sale.
        hot = [slot("{%d:%d}" % (CAMPAIGNS[1] + 1, k)) for k in range(BUCKETS)]
        mine = [s for s in hot if owner(conns, s) == 0]
        p = sale(ports, 600000, CAMPAIGNS[1])
        wait_selling(p, conns, 0, CAMPAIGNS[1])
        moved = 0
        for s in mine:
            moved += migrate_slot(conns, ids, s, 0, 1, 0.1)
        running = p.poll() is None
        r = sale_result(p, "a sale while %d bucket slots migrated (%d keys)" % (len(mine), moved))
        check(running, "the sale was still running when the last slot had moved")
        check(moved > 0 and r > 0,
              "the sale followed %d redirections (MOVED, ASK, TRYAGAIN) as %d keys moved" %
              (r, moved))
        check(all(owner(conns, s) == 1 for s in mine), "the slots are on primary 1 now")

        # 3. redis-cli --cluster reshard during a sale.
        p = sale(ports, 300000, CAMPAIGNS[2])
        wait_selling(p, conns, 1, CAMPAIGNS[2])
        rs = subprocess.run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % ports[1],
                             "--cluster-from", ids[1], "--cluster-to", ids[2],
                             "--cluster-slots", "3000", "--cluster-yes"],
                            capture_output=True, text=True, timeout=300)
        check(rs.returncode == 0, "redis-cli --cluster reshard moved 3000 slots: %s" %
              rs.stderr.strip()[-200:])
        sale_result(p, "a sale during redis-cli --cluster reshard")
    finally:
        subprocess.run([CLUSTER, "stop", "--dir", cdir], timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
