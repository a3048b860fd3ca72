"""orders_dp.py - the order service seen from a running seckill-dp: buying,
GET /api/orders/{id} until it says paid or expired, paying with seckillctl,
and Redis's stock + sold + held sampled all along. Shared by
tests/orders/test_orders_dataplane.py and tools/flash-sale (the demo).

The dataplane is tests/integration/harness.py's Dataplane (the caller puts
tests/integration on sys.path before importing this)."""
import json
import os
import subprocess
import sys
import threading
import time

import harness

CLIENT_IP = "198.18.0.2"
SAMPLE_S = 0.05

# Runs in the client namespace: GET /api/orders/{id} every 20 ms on one
# keep-alive connection until the status is the one wanted; prints the time.
WATCH = r"""
import http.client, json, sys, time
ip, oid, want, limit = sys.argv[1], sys.argv[2], sys.argv[3], time.time() + float(sys.argv[4])
c = http.client.HTTPConnection(ip, 80, timeout=2)
while time.time() < limit:
    try:
        c.request("GET", "/api/orders/" + oid)
        st = json.loads(c.getresponse().read()).get("status")
    except Exception:
        c.close(); c = http.client.HTTPConnection(ip, 80, timeout=2); st = None
    if st == want:
        print("%.3f" % time.time()); sys.exit(0)
    time.sleep(0.02)
print("timeout"); sys.exit(1)
"""

# stock + sold + held in one step (control/ctl_redis.h's invariant); -1 while
# the campaign is not in Redis yet.
SUM_LUA = ("if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end "
           "local h = 0 for _, v in ipairs(redis.call('HVALS', KEYS[3])) do h = h + tonumber(v) end "
           "return tonumber(redis.call('GET', KEYS[1]) or '0') + "
           "tonumber(redis.call('GET', KEYS[2]) or '0') + h")


def _buy_req(token, campaign):
    return {"method": "POST", "path": "/api/campaigns/%d/orders" % campaign, "body": "{}",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + token}}


def _answer(a):
    body = json.loads(a["body"])
    return a["status"], body.get("order_id", body.get("error"))


def buy(dp, token, campaign=1):
    """One buy: (status, order id or error code)."""
    return _answer(dp.http(CLIENT_IP, [_buy_req(token, campaign)])[0])


def buy_many(dp, tokens, campaign=1, seconds=10.0):
    """Each token buys, pipelined on one connection (one client process: the
    namespace's python start-up is most of a request's time); a 503 (a unit
    on its way from Redis) is asked again after 50 ms. [(status, id or code)]."""
    out, todo = [None] * len(tokens), list(range(len(tokens)))
    deadline = time.time() + seconds
    while todo:
        got = dp.http(CLIENT_IP, [_buy_req(tokens[i], campaign) for i in todo], pipeline=True)
        for i, a in zip(todo, got):
            out[i] = _answer(a)
        todo = [i for i in todo if out[i][0] == 503]
        if not todo or time.time() > deadline:
            return out
        time.sleep(0.05)


def buy_until(dp, token, campaign=1, ok=(200,), seconds=5.0):
    """Buys until an answer in ok (others asked again after 50 ms: a unit may
    be on its way from Redis); the last (status, order id or code)."""
    deadline, seen = time.time() + seconds, {}
    while True:
        got = buy(dp, token, campaign)
        if got[0] in ok or time.time() > deadline:
            if seen:
                print("buy: asked again after %s; then %d %s" % (
                    ", ".join("%d %s x%d" % (k[0], k[1], n) for k, n in seen.items()),
                    got[0], got[1]), flush=True)
            return got
        seen[got] = seen.get(got, 0) + 1
        time.sleep(0.05)


def order_status(dp, oid):
    """GET /api/orders/{oid} on the dataplane: its status field, or the error."""
    body = json.loads(dp.http(CLIENT_IP, [{"method": "GET", "path": "/api/orders/" + oid}])[0]
                      ["body"])
    return body.get("status", body.get("error"))


def watch(dp, oid, want, timeout_s):
    """A namespace process that ends when GET /api/orders/{oid} says want
    (watched_at reads when)."""
    return dp.ns_popen([sys.executable, "-c", WATCH, dp.ip, oid, want, str(timeout_s)])


def watched_at(proc):
    """When the watched order said so (Unix s), or None if it never did."""
    out, _ = proc.communicate(timeout=120)
    out = out.decode().strip()
    return float(out) if proc.returncode == 0 else None


def seckillctl(*args):
    return subprocess.run([os.path.join(harness.build_dir(), "control", "seckillctl")] +
                          [str(a) for a in args], capture_output=True, text=True, timeout=120)


def pay(pg, oid):
    """seckillctl order pay --id oid: (exit code, what it said)."""
    r = seckillctl("order", "pay", "--id", oid, "--pg", pg.conninfo)
    return r.returncode, (r.stdout + r.stderr).strip()


def pg_rows(pg, campaign=None):
    """{order id: status} in the order service's table."""
    q = "select order_id, status from orders"
    if campaign is not None:
        q += " where campaign = %d" % campaign
    return dict(pg.sql(q))


def pg_expired_at(pg, oid):
    return float(pg.sql("select extract(epoch from expired_at) from orders where order_id = '%s'"
                        % oid)[0][0])


class Invariant(threading.Thread):
    """Samples stock + sold + held of a campaign in Redis until stop()."""

    def __init__(self, redis, campaign, stock):
        super().__init__(daemon=True)
        self.redis, self.campaign, self.stock = redis, campaign, stock
        self.samples, self.bad, self.halt = 0, [], threading.Event()

    def run(self):
        c = self.campaign
        while not self.halt.is_set():
            v = self.redis.cli("EVAL", SUM_LUA, "4", "seckill:stock:{%d}" % c, "seckill:sold:{%d}" % c,
                               "seckill:hosts:{%d}" % c, "seckill:campaign:{%d}" % c)
            if v and v != "-1":
                self.samples += 1
                if int(v) != self.stock:
                    self.bad.append(int(v))
            time.sleep(SAMPLE_S)

    def stop(self):
        self.halt.set()
        self.join()
        return self
