#!/usr/bin/env python3
"""test_sale_cluster.py - one campaign sold by two hosts through a Redis
Cluster of three primaries, its buyer claims sharded over 6 buckets.

tools/redis-cluster starts the cluster (Debian's redis-server, cluster-enabled,
append-only with fsync always) with campaign 1's buckets spread over the
primaries. Host A runs seckill-dp --redis with the three nodes as seeds; host
B with a dead first seed, then one node (it must find the others). The
campaign is created on A at run time with `seckillctl campaign create
--buckets 6`; B sells it as soon as it sees the campaigns' version move.
Buyers 0..249 buy on A, 100..349 on B (150 of them try on both), each
retrying a 503 as a client honouring Retry-After would.

Checks: the claims are in the buckets, on every primary, none beside the
campaign; each buyer who got 200 on both hosts has one order confirmed and
the other rejected as a duplicate; Kafka holds one order per buyer, as many
as Redis sold (all settled); after both hosts stop, stock + sold = 300 and
no host holds a unit; `seckillctl campaign show` and the product set with
the campaign reach Redis through the cluster.

Run by hand (root): tests/integration/test_sale_cluster.py
"""
import os
import shutil
import subprocess
import tempfile
import threading

import harness
import services
from harness import check, check_eq
from test_sale_redis import buy_retry, kafka_buyers, settled

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "tools", "redis-cluster")
BUCKETS = 6
STOCK = 300


def rcli(port, *args):
    """redis-cli -c (follows MOVED) against the cluster."""
    r = subprocess.run(["redis-cli", "-c", "-p", str(port)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def keys(port, pattern):
    r = subprocess.run(["redis-cli", "-p", str(port), "--scan", "--pattern", pattern],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.split()


def claims(ports, pattern, fields):
    """Claims on each primary, {port: n}: keys matching pattern, or the
    fields of the hashes matching it (a sharded campaign's buckets)."""
    return {p: sum(int(rcli(p, "HLEN", k)) for k in keys(p, pattern)) if fields else
            len(keys(p, pattern)) for p in ports}


def args(d, key, mock, seeds, node):
    return ["--token-key", key, "--state-dir", d, "--ip-rate", "100000/s", "--ip-burst",
            "10000", "--kafka", mock.bootstrap, "--redis", seeds, "--node-id", str(node),
            "--max-stock", str(STOCK)]


def test():
    d = tempfile.mkdtemp(prefix="seckill-cluster-a-")
    d2 = tempfile.mkdtemp(prefix="seckill-cluster-b-")
    cdir = os.path.join(d, "cluster")
    mock = services.kafka_mock_start("--brokers", "3")
    try:
        out = subprocess.run([CLUSTER, "start", "--dir", cdir, "--aof", "--spread",
                              "1:%d" % BUCKETS], capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "a Redis Cluster of 3 primaries: %s%s" %
              (out.stdout.strip(), out.stderr.strip()))
        ports = [int(p) for p in out.stdout.split()[1:]]
        seeds = ",".join("127.0.0.1:%d" % p for p in ports)
        dead = services.free_port()
        key = harness.sale_key(d)
        tokens = harness.seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                                    "--count", "350", "--ttl", "600").split()
        with harness.Dataplane(dp_args=args(d, key, mock, seeds, 1)) as a, \
                harness.Dataplane(dp_args=args(d2, key, mock, "127.0.0.1:%d,127.0.0.1:%d" %
                                               (dead, ports[1]), 2), host=1) as b:
            check("(a Redis Cluster)" in a.output() and "(a Redis Cluster)" in b.output(),
                  "both hosts found the cluster (B past a dead first seed)")
            harness.seckillctl("campaign", "create", "--id", "1", "--stock", str(STOCK),
                               "--buckets", str(BUCKETS), "--name", "Cluster", "--price", "1.00",
                               "--socket", a.ctl_socket())
            check_eq(rcli(ports[0], "HGET", "seckill:campaign:{1}", "buckets"), str(BUCKETS),
                     "the campaign is sharded in Redis")
            harness.wait_for(lambda: any(c["id"] == 1 for c in
                                         b.ctl_json("campaign", "list")["campaigns"]),
                             10, "host B sells campaign 1")
            res = {}

            def run(name, dp, toks):
                res[name] = buy_retry(dp, toks, 30)
            ts = [threading.Thread(target=run, args=("a", a, tokens[0:250])),
                  threading.Thread(target=run, args=("b", b, tokens[100:350]))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            sa, sb = settled(a), settled(b)
            ok_a = {i for i, (s, _) in enumerate(res["a"]) if s == 200}
            ok_b = {100 + i for i, (s, _) in enumerate(res["b"]) if s == 200}
            both = ok_a & ok_b
            print("host a: %d answered 200, host b: %d, %d on both" %
                  (len(ok_a), len(ok_b), len(both)), flush=True)
            check_eq(sa["orders"]["rejected"] + sb["orders"]["rejected"], len(both),
                     "the second order of each buyer served on both hosts is rejected")
            check_eq(sa["orders"]["confirmed"] + sb["orders"]["confirmed"], len(ok_a | ok_b),
                     "one confirmed order per buyer who got a 200")
            check_eq(rcli(ports[0], "HGET", "seckill:product:{1}", "name"), "Cluster",
                     "the product reached Redis through the cluster")
        a.check_clean_exit()
        b.check_clean_exit()
        msgs, kb, ids = kafka_buyers(mock)
        check_eq(len(kb), len(set(kb)), "Kafka: no buyer twice")
        sold = int(rcli(ports[0], "GET", "seckill:sold:{1}"))
        left = int(rcli(ports[0], "GET", "seckill:stock:{1}"))
        held = sum(int(v) for v in rcli(ports[0], "HVALS", "seckill:hosts:{1}").split())
        check_eq(len(msgs), sold, "Kafka holds as many orders as Redis sold (all settled)")
        check_eq((left + sold, held), (STOCK, 0),
                 "after both stopped: stock + sold = %d, no host holds a unit" % STOCK)
        in_buckets = claims(ports, "seckill:claims:{1:*", True)
        check_eq(sum(in_buckets.values()), sold, "one claim a sold unit, in the buckets")
        check(all(n > 0 for n in in_buckets.values()),
              "every primary holds claims: %s" % in_buckets)
        check_eq(sum(claims(ports, "seckill:buyer:{1}:*", False).values()), 0,
                 "no claim beside the campaign")
    finally:
        subprocess.run([CLUSTER, "stop", "--dir", cdir], timeout=60)
        mock.stop()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(d2, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test, tools=("kcat", "redis-server", "redis-cli"))
