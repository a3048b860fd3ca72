#!/usr/bin/env python3
"""test_sale_campaigns.py - a host killed mid-sale loses nothing and strands
nothing; campaigns made at run time outlive it; every host of a sale follows
create, open and close (issue 11).

- redis_restart: a sale whose campaigns were all made with `seckillctl
  campaign create` (Redis + Kafka). Mid-sale, with orders journaled that
  Redis has not yet claimed (its writes paused), seckill-dp is SIGKILLed and
  started again with the same options: it loads the campaigns from Redis
  (`campaign list` shows what it showed before), restores and claims every
  journaled order, sells what it held again, and the sale ends with every
  unit sold: stock + sold + held = initial at every step, nothing held at
  the end.
- statedir_restart: the same without Redis: the campaigns made at run time
  and their states are in --state-dir; after a SIGKILL they come back, the
  journal's orders are restored into them, open and close keep working and
  are remembered.
- two_hosts_sync: two hosts of one sale. A campaign created, closed and
  opened on one is seen by the other within 100 ms (measured through the
  other's control socket, polled every 2 ms), plus a scheduling allowance.
  Then one is released while it runs: it drops what it held and answers
  503, the other sells the units, nothing is sold twice.
- release_host: a host dies holding stock, some of it sold but not claimed
  in Redis. `seckillctl campaign release-host` through the other host's
  socket gives its holding back to the stock; the other host sells every
  unit; the dead host, restarted, finds its unclaimed orders' units gone and
  rejects them (reason released) instead of overselling; then it takes part
  again. The same command straight to Redis (--redis) works with no host.

Run by hand (root): tests/integration/test_sale_campaigns.py [CASE...]
"""
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import harness
import services
from harness import check, check_eq

SETTLE_S = 40
# Sync: a host reads the campaigns' version every 10 ms (ctl_sale_redis.c),
# so a change reaches it within 10 ms plus a control-loop pass; the issue's
# bound is 100 ms.
SYNC_BOUND_MS = 100
# This box has 2 CPUs shared by two dataplanes' busy-polling worker lcores,
# their control threads, Redis and this client: a thread that becomes
# runnable may wait for the CPU up to one CFS scheduling period (24 ms with
# 8 or more runnable threads) before it runs, and a change crosses two such
# threads (the host that makes it, the host that follows). 50 ms covers both.
SCHED_ALLOWANCE_MS = 50
POLL_S = 0.002


# ---- helpers -----------------------------------------------------------------

def buy(dp, campaign, tokens):
    """Each token buys once in campaign, pipelined on one connection:
    [(status, order id or error code)]."""
    reqs = [{"method": "POST", "path": "/api/campaigns/%d/orders" % campaign, "body": "{}",
             "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + t}}
            for t in tokens]
    out = []
    for a in dp.http("198.18.0.2", reqs, pipeline=True):
        body = json.loads(a["body"])
        out.append((a["status"], body.get("order_id", body.get("error"))))
    return out


def buy_retry(dp, campaign, tokens, seconds=30):
    """buy(), each 503 tried again after a moment (a client honouring Retry-After)."""
    out = [None] * len(tokens)
    todo = list(range(len(tokens)))
    deadline = time.time() + seconds
    while todo:
        for i, a in zip(todo, buy(dp, campaign, [tokens[i] for i in todo])):
            out[i] = a
        todo = [i for i in todo if out[i][0] == 503]
        if todo and time.time() > deadline:
            break
        time.sleep(0.05)
    return out


def counts(got):
    out = {}
    for st, what in got:
        k = (st, "ok" if st == 200 else what)
        out[k] = out.get(k, 0) + 1
    return out


def redis_terms(redis, cid):
    """(stock, sold, held by all hosts, {host: held}) of a campaign in Redis."""
    raw = redis.cli("HGETALL", "seckill:hosts:{%d}" % cid).split()
    hosts = {raw[i]: int(raw[i + 1]) for i in range(0, len(raw) - 1, 2)}
    return (int(redis.cli("GET", "seckill:stock:{%d}" % cid) or 0),
            int(redis.cli("GET", "seckill:sold:{%d}" % cid) or 0), sum(hosts.values()), hosts)


def check_invariant(redis, cid, initial, when):
    stock, sold, held, hosts = redis_terms(redis, cid)
    check(min(stock, sold, held) >= 0 and stock + sold + held == initial,
          "%s: campaign %d: stock %d + sold %d + held %d (%s) = %d" %
          (when, cid, stock, sold, held, hosts, initial))
    return stock, sold, held, hosts


def settled(dp):
    def done():
        st = dp.ctl_json("stats")
        return st if st["journal_depth"] == 0 else None
    return harness.wait_for(done, SETTLE_S, "journal drained")


def listing(dp):
    """campaign list, without what sales move (left, sold, per core)."""
    return sorted((c["id"], c["phase"], c["stock"], c["starts_at"])
                  for c in dp.ctl_json("campaign", "list")["campaigns"])


def mint(d, key, first, n):
    return harness.seckillctl("token", "mint", "--key-file", key, "--buyer", str(first),
                              "--count", str(n), "--ttl", "900").split()


class CtlSocket:
    """One persistent connection to a dataplane's control socket (no process
    per request, so it can be polled every few ms)."""

    def __init__(self, dp):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(dp.ctl_socket())
        self.f = self.s.makefile("rb")

    def ask(self, **req):
        self.s.sendall((json.dumps(req) + "\n").encode())
        return json.loads(self.f.readline())

    def close(self):
        self.f.close()
        self.s.close()


def time_until(sock, pred, what, timeout_s=5):
    """Polls sock every POLL_S until pred(answer) holds: seconds since the call."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if pred(sock.ask(cmd="campaign.show", id=9)):
            return time.monotonic() - t0
        time.sleep(POLL_S)
    raise harness.TestFailure("%s: not within %d s" % (what, timeout_s))


def kill_with_unclaimed(dp, redis, campaign, tokens):
    """Sells `tokens` while Redis refuses writes (so their orders are
    journaled, not claimed there), then SIGKILLs the dataplane mid-sale."""
    check_eq(redis.cli("CLIENT", "PAUSE", "6000", "WRITE"), "OK", "Redis pauses its writes")
    try:
        got = buy_retry(dp, campaign, tokens, seconds=5)
        sold = sum(1 for s, _ in got if s == 200)
        # Journaled once the rings are empty: a pass drains and syncs before
        # it talks to Redis (whose commands now stall until they time out).
        harness.wait_for(lambda: all(c["ring_depth"] == 0 for c in dp.ctl_json("stats")["cores"]),
                         10, "the orders journaled")
        dp.kill()
    finally:
        redis.cli("CLIENT", "UNPAUSE")
    print("sold %d while Redis refused writes, then SIGKILL" % sold)
    return sold


def redis_args(state, key, mock, redis, host, extra=()):
    return ["--token-key", key, "--state-dir", state, "--ip-rate", "100000/s",
            "--ip-burst", "10000", "--kafka", mock.bootstrap, "--redis", redis.addr,
            "--redis-host", host] + list(extra)


# ---- cases -----------------------------------------------------------------

def case_redis_restart(d, key, mock, redis):
    stock, first, unclaimed = 500, 150, 30
    args = redis_args(d, key, mock, redis, "host-a", ["--max-stock", "600"])
    tokens = mint(d, key, 1, 700)
    with harness.Dataplane(dp_args=args) as dp:
        dp.ctl_json("campaign", "create", "--id", "5", "--stock", str(stock))
        dp.ctl_json("campaign", "create", "--id", "6", "--stock", "100")
        dp.ctl_json("campaign", "close", "--id", "6")
        before = listing(dp)
        print("campaign list before: %s" % before)
        check_eq(counts(buy_retry(dp, 5, tokens[:first])), {(200, "ok"): first},
                 "%d sold" % first)
        settled(dp)
        check_invariant(redis, 5, stock, "mid-sale")
        sold_paused = kill_with_unclaimed(dp, redis, 5, tokens[first:first + unclaimed])
    check(sold_paused > 0, "orders sold and journaled while Redis refused writes")
    _, r_sold, held, hosts = check_invariant(redis, 5, stock, "after SIGKILL")
    check(hosts.get("host-a", 0) >= sold_paused,
          "the dead host's holding is in Redis (%s), its unclaimed orders in it" % hosts)
    n0 = first + sold_paused
    with harness.Dataplane(dp_args=args) as dp:
        out = dp.output()
        check("restored %d orders of earlier runs" % n0 in out, "restart restored %d orders" % n0)
        check("campaigns not given now" not in out, "no order left without its campaign")
        check_eq(listing(dp), before, "campaign list after the restart")
        check_invariant(redis, 5, stock, "after the restart")
        check_eq(redis_terms(redis, 5)[1], n0, "every journaled order claimed in Redis")
        check_eq({s for s, _ in buy(dp, 5, tokens[:n0:9])}, {409}, "earlier buyers: 409")
        got = buy_retry(dp, 5, tokens[n0:n0 + stock - n0 + 50])
        check_eq(counts(got), {(200, "ok"): stock - n0, (410, "sold_out"): 50},
                 "the %d units left are sold once each, then 410" % (stock - n0))
        settled(dp)
        check_eq(redis_terms(redis, 5)[:3], (0, stock, 0), "campaign 5: every unit sold")
        dp.ctl_json("campaign", "open", "--id", "6")
        check_eq(counts(buy_retry(dp, 6, tokens[600:610])), {(200, "ok"): 10},
                 "campaign 6 opened after the restart: sells")
        dp.ctl_json("campaign", "close", "--id", "6")
        check_eq({s for s, _ in buy(dp, 6, tokens[610:612])}, {410}, "closed again: 410")
        settled(dp)
    dp.check_clean_exit()
    check_eq(redis_terms(redis, 6)[:3], (90, 10, 0), "campaign 6: 10 sold, the rest in stock")
    check_eq(redis_terms(redis, 5)[:3], (0, stock, 0), "campaign 5: sold out, nothing held")


def case_statedir_restart(d, key, mock, redis):
    args = ["--token-key", key, "--state-dir", d, "--max-stock", "300", "--ip-rate",
            "100000/s", "--ip-burst", "10000"]
    tokens = mint(d, key, 1, 400)
    with harness.Dataplane(dp_args=args) as dp:
        dp.ctl_json("campaign", "create", "--id", "5", "--stock", "200")
        dp.ctl_json("campaign", "create", "--id", "6", "--stock", "100", "--starts-at", "+3600")
        dp.ctl_json("campaign", "close", "--id", "5")
        dp.ctl_json("campaign", "open", "--id", "5")
        dp.ctl_json("campaign", "close", "--id", "6")
        before = listing(dp)
        check_eq({s for s, _ in buy(dp, 5, tokens[:50])}, {200}, "50 sold")
        time.sleep(0.3)                       # synced: a pass each ms
        dp.kill()
    with open(os.path.join(d, "campaigns")) as f:
        rec = f.read()
    print(rec, end="")
    check("5 200 " in rec and " open ctl" in rec and " closed ctl" in rec,
          "the state dir records both campaigns and their states")
    with harness.Dataplane(dp_args=args) as dp:
        out = dp.output()
        check("restored 50 orders of earlier runs" in out, "the journal's 50 orders restored")
        check("campaigns not given now" not in out, "no order left without its campaign")
        check_eq(listing(dp), before, "campaign list after the restart")
        check_eq({s for s, _ in buy(dp, 5, tokens[:50:7])}, {409}, "earlier buyers: 409")
        check_eq(counts(buy(dp, 5, tokens[50:250])), {(200, "ok"): 150, (410, "sold_out"): 50},
                 "150 left: sold once each, then 410")
        check_eq({s for s, _ in buy(dp, 6, tokens[250:251])}, {410}, "6 is still closed")
        dp.ctl_json("campaign", "open", "--id", "6")
        check_eq({s for s, _ in buy(dp, 6, tokens[250:260])}, {200}, "6 opened: sells")
        time.sleep(0.3)
        dp.kill()
    with harness.Dataplane(dp_args=args) as dp:
        check_eq(listing(dp), sorted([(5, "sold_out", 200, before[0][3]),
                                      (6, "open", 100, before[1][3])]),
                 "open remembered, sales restored, after a second SIGKILL")
        check_eq(counts(buy(dp, 6, tokens[260:360])), {(200, "ok"): 90, (410, "sold_out"): 10},
                 "6: the 90 left, then 410")
    dp.check_clean_exit()


def case_two_hosts_sync(d, key, mock, redis):
    d2 = tempfile.mkdtemp(prefix="seckill-camp-b-")
    tokens = mint(d, key, 1, 20)
    lat = {}
    try:
        with harness.Dataplane(dp_args=redis_args(d, key, mock, redis, "host-a", [
                "--max-stock", "1000", "--node-id", "1"])) as a, \
                harness.Dataplane(dp_args=redis_args(d2, key, mock, redis, "host-b", [
                    "--max-stock", "1000", "--node-id", "2"]), host=1) as b:
            sa, sb = CtlSocket(a), CtlSocket(b)
            try:
                check_eq(sb.ask(cmd="campaign.show", id=9)["error"], "unknown_campaign",
                         "b: no campaign 9 yet")
                t0 = time.monotonic()
                check(sa.ask(cmd="campaign.create", id=9, stock=100)["ok"], "a: create 9")
                lat["create"] = time.monotonic() - t0 + time_until(sb, lambda r: r["ok"], "b sees 9")
                for verb, src, dst, want in (("close", sa, sb, "closed"), ("open", sa, sb, "open"),
                                             ("close", sb, sa, "closed"), ("open", sb, sa, "open")):
                    t0 = time.monotonic()
                    check(src.ask(cmd="campaign." + verb, id=9)["ok"], "%s 9" % verb)
                    lat[verb + (" a->b" if src is sa else " b->a")] = time.monotonic() - t0 + \
                        time_until(dst, lambda r: r["campaign"]["phase"] == want,
                                   "%s seen on the other host" % verb)
                # A product set on a is on b's page once b sees the version move.
                t0 = time.monotonic()
                check(sa.ask(cmd="campaign.product", id=9, name="Blue phone",
                             price="9.99")["ok"], "a: campaign set 9 --name")

                def b_product():
                    r = b.ns(["curl", "-s", "-m", "1", b.url("/c/9/product")], check_rc=False)
                    try:
                        return json.loads(r.stdout).get("name") == "Blue phone"
                    except ValueError:
                        return False
                harness.wait_for(b_product, 5, "b's /c/9/product shows a's change", step_s=0.05)
                print("product set on a, on b's page after %.0f ms (curl polls included)"
                      % ((time.monotonic() - t0) * 1000), flush=True)
            finally:
                sa.close()
                sb.close()
            print("seen by the other host after (ms): %s" %
                  {k: round(v * 1000, 1) for k, v in lat.items()})
            for k, v in lat.items():
                check(v * 1000 < SYNC_BOUND_MS + SCHED_ALLOWANCE_MS,
                      "%s: %.1f ms < %d ms + %d ms allowance" %
                      (k, v * 1000, SYNC_BOUND_MS, SCHED_ALLOWANCE_MS))
            check("created on another host" in b.output(), "b logged the campaign it loaded")
            check_eq(counts(buy_retry(b, 9, tokens[:5])), {(200, "ok"): 5}, "b sells it")
            check_eq(counts(buy_retry(a, 9, tokens[5:10])), {(200, "ok"): 5}, "a sells it")
            settled(a)
            settled(b)
            # a is released while it runs (an operator's mistake): it must
            # neither sell on from the holding Redis took back nor oversell.
            held_a = check_invariant(redis, 9, 100, "before the release")[3].get("host-a", 0)
            check(held_a > 0, "a holds units of 9")
            rel = b.ctl_json("campaign", "release-host", "--id", "9", "--host", "host-a")
            check_eq(rel["released"], held_a, "release-host: a's holding back to the stock")
            harness.wait_for(lambda: a.ctl_json("stats")["redis"]["released_dropped"] == held_a,
                             10, "a learns it was released and drops what it held")
            check_eq({s for s, _ in buy(a, 9, tokens[10:13])}, {503},
                     "a sells no more of 9: 503 until it restarts")
            check_eq(counts(buy_retry(b, 9, tokens[13:18])), {(200, "ok"): 5},
                     "b sells on, the released units included")
            settled(b)
            check_invariant(redis, 9, 100, "after the release")
        a.check_clean_exit()
        b.check_clean_exit()
    finally:
        shutil.rmtree(d2, ignore_errors=True)
    check_eq(redis_terms(redis, 9)[:3], (85, 15, 0), "Redis: 15 sold, 85 back in stock")


def case_release_host(d, key, mock, redis):
    stock, first = 300, 20
    d2 = tempfile.mkdtemp(prefix="seckill-camp-b-")
    tokens = mint(d, key, 1, 450)
    args_a = redis_args(d, key, mock, redis, "host-a", ["--campaign", "1:%d" % stock,
                                                        "--node-id", "1"])
    args_b = redis_args(d2, key, mock, redis, "host-b", ["--campaign", "1:%d" % stock,
                                                         "--node-id", "2"])
    try:
        with harness.Dataplane(dp_args=args_b, host=1) as b:
            with harness.Dataplane(dp_args=args_a) as a:
                check_eq(counts(buy_retry(a, 1, tokens[:first])), {(200, "ok"): first},
                         "a sold %d" % first)
                settled(a)
                unclaimed = kill_with_unclaimed(a, redis, 1, tokens[first:first + 10])
            check(unclaimed > 0, "a died with orders Redis has not claimed")
            _, _, _, hosts = check_invariant(redis, 1, stock, "a dead")
            held_a = hosts.get("host-a", 0)
            check(held_a >= unclaimed, "a's holding (%d) is stranded in Redis" % held_a)
            rel = b.ctl_json("campaign", "release-host", "--id", "1", "--host", "host-a")
            check_eq(rel["released"], held_a, "release-host through b: a's holding back")
            check("host-a" not in check_invariant(redis, 1, stock, "released")[3],
                  "a holds nothing in Redis")
            check_eq(redis.cli("SISMEMBER", "seckill:released:{1}", "host-a"), "1",
                     "a is marked released")
            got = buy_retry(b, 1, tokens[first + 10:first + 10 + stock])
            check_eq(counts(got), {(200, "ok"): stock - first, (410, "sold_out"): first},
                     "b sells every unit left, a's released ones included")
            settled(b)
            check_eq(redis_terms(redis, 1)[:2], (0, stock), "sold out in Redis")
            # a comes back: its unclaimed orders find no unit left.
            with harness.Dataplane(dp_args=args_a) as a:
                out = a.output()
                check("had been released" in out, "a knows it was released, and rejoins")
                st = a.ctl_json("stats")
                check_eq(st["redis"]["released_rejects"], unclaimed,
                         "a's %d unclaimed orders rejected (released), not oversold" % unclaimed)
                check_eq(redis.cli("SISMEMBER", "seckill:released:{1}", "host-a"), "0",
                         "a takes part again")
                check_eq({s for s, _ in buy(a, 1, tokens[:first:5])}, {409},
                         "a's claimed buyers keep their purchase")
            a.check_clean_exit()
        b.check_clean_exit()
    finally:
        shutil.rmtree(d2, ignore_errors=True)
    check_eq(redis_terms(redis, 1)[:3], (0, stock, 0), "Redis: %d sold, never more" % stock)
    # A host that never ran: straight to Redis, no dataplane.
    out = json.loads(harness.seckillctl("campaign", "release-host", "--id", "1", "--host",
                                        "ghost", "--redis", redis.addr, "--json"))
    check_eq((out["ok"], out["released"]), (True, 0), "release-host --redis with no host up")
    check_invariant(redis, 1, stock, "the end")


CASES = {"redis_restart": case_redis_restart, "statedir_restart": case_statedir_restart,
         "two_hosts_sync": case_two_hosts_sync, "release_host": case_release_host}
NEEDS_REDIS = {"redis_restart", "two_hosts_sync", "release_host"}


def test():
    for name in sys.argv[1:] or CASES:
        print("== case %s" % name, flush=True)
        d = tempfile.mkdtemp(prefix="seckill-camp-")
        mock = redis = None
        try:
            if name in NEEDS_REDIS:
                mock = services.kafka_mock_start("--brokers", "3")
                redis = services.RedisServer().start()
            CASES[name](d, harness.sale_key(d), mock, redis)
        finally:
            if redis:
                redis.cleanup()
            if mock:
                mock.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test, tools=("kcat", "redis-server", "redis-cli"))
