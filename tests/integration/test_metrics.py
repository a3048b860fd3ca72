#!/usr/bin/env python3
"""test_metrics.py - GET /metrics scraped by a real Prometheus through a flash sale.

seckill-dp (2 workers) serves /metrics on 127.0.0.1:<free port> in the root
namespace (--metrics-listen), a kernel socket of the control thread's own.
The sale's settings come from a --config file (the command line's
--metrics-listen overriding the file's). Debian's `prometheus` is started on another free loopback port with a private
data dir and a scrape config pointing at it (every 0.5 s). Then 400 buyers
race from the client namespace for a campaign of 150 units. Checked:

- `promtool check metrics` accepts the exposition (format and naming lint);
- Prometheus's HTTP API: `sum by (result) (seckill_buys_total)` has ok equal
  to the stock and sold_out the rest; the README's three queries (buys/s by
  result, units left, journal depth) answer, with left 0 and a depth equal to
  the stock (no Kafka: every order stays in the journal);
- the durability histogram counted every order journaled;
- the metrics port is not on the dataplane's public address (the dataplane
  resets a SYN to it), and a path other than /metrics is 404.

Run by hand (root): tests/integration/test_metrics.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import harness
from harness import check, check_eq

BUYERS = 400
STOCK = 150
PROCS = 2
CONNS = 8
SRC_IPS = ["198.18.0.%d" % i for i in range(10, 26)]
START_DELAY_S = 2.0
RACE_TIMEOUT_S = 45


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=10):
    """(status, body) of GET url; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def prom_query(base, q):
    """The result vector of an instant query: [(labels, value)]."""
    st, body = get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    if st != 200:
        raise harness.TestFailure("query %s: %d %s" % (q, st, body))
    return [(r["metric"], float(r["value"][1])) for r in json.loads(body)["data"]["result"]]


def start_prometheus(state, target):
    port = free_port()
    conf = os.path.join(state, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
                "scrape_configs:\n  - job_name: seckill\n    static_configs:\n"
                "      - targets: ['%s']\n" % target)
    log = open(os.path.join(state, "prometheus.log"), "w")
    proc = subprocess.Popen(["prometheus", "--config.file", conf,
                             "--storage.tsdb.path", os.path.join(state, "tsdb"),
                             "--web.listen-address", "127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port

    def ready():
        if proc.poll() is not None:
            raise harness.TestFailure("prometheus exited %d: %s" % (
                proc.returncode, open(os.path.join(state, "prometheus.log")).read()[-2000:]))
        try:
            return get(base + "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False
    harness.wait_for(ready, 30, "prometheus ready")
    return proc, base


def test():
    state = tempfile.mkdtemp(prefix="seckill-metrics-")
    prom = None
    try:
        prom = run_metrics(state)
    finally:
        if prom is not None and prom.poll() is None:
            prom.terminate()
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        shutil.rmtree(state, ignore_errors=True)


def run_metrics(state):
    key = harness.sale_key(state)
    tokfile = harness.tokens_file(state, key, BUYERS)
    mport = free_port()
    target = "127.0.0.1:%d" % mport
    # The sale's settings from a --config file; the command line's
    # --metrics-listen wins over the file's.
    conf = os.path.join(state, "seckill-dp.conf")
    with open(conf, "w") as f:
        f.write("# test_metrics.py\ncampaign 1:%d\ntoken-key %s\nstate-dir %s\n\n"
                "ctl-socket %s\nip-rate 0\nmetrics-listen 127.0.0.1:%d\n"
                % (STOCK, key, state, os.path.join(state, "ctl.sock"), free_port()))
    args = ["--config", conf, "--metrics-listen", target]
    prom = None
    with harness.Dataplane(dp_args=args, workers=2) as dp:
        check("metrics on http://%s/metrics" % target in dp.output(),
              "start-up names the port of the command line, not the config file's")
        st, text = get("http://%s/metrics" % target)
        check_eq(st, 200, "GET /metrics")
        check("seckill_buys_total{campaign=\"1\",result=\"ok\"} 0" in text, "no sale yet")
        check("seckill_core_buys_total{core=\"1\",result=\"ok\"} 0" in text,
              "per core as well")
        check_eq(get("http://%s/nope" % target)[0], 404, "another path is 404")
        r = dp.ns(["curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
                   "http://%s:%d/metrics" % (dp.ip, mport)], check_rc=False)
        check_eq(r.stdout, "000", "the public address does not serve /metrics")

        prom, base = start_prometheus(state, target)
        harness.wait_for(lambda: prom_query(base, 'up{job="seckill"}') == [
            ({"__name__": "up", "instance": target, "job": "seckill"}, 1.0)], 30,
            "prometheus scrapes seckill-dp")

        dp.add_client_ips(SRC_IPS)
        status, codes, retried, orders, errors, _ = harness.race_merge(harness.race(
            dp, tokfile, 1, BUYERS, PROCS, CONNS, SRC_IPS, START_DELAY_S, RACE_TIMEOUT_S))
        check_eq(errors, {}, "client connection errors")
        check_eq(codes.get("ok"), STOCK, "buyers answered 200")

        answered = BUYERS + sum(retried.values())

        def by_result():
            """Once a scrape after the race's last answer is in (one taken
            mid-race already has every sale, not every refusal)."""
            got = {m["result"]: v for m, v in prom_query(
                base, "sum by (result) (seckill_buys_total)")}
            return got if sum(got.values()) == answered else None
        got = harness.wait_for(by_result, 30, "Prometheus sees every sale")
        check_eq(int(got["ok"]), STOCK, "Prometheus: buys with result ok = the stock")
        check_eq(int(got["sold_out"]), codes.get("sold_out", 0), "Prometheus: sold_out buys")
        check_eq(int(sum(got.values())), answered, "Prometheus: every buy answered, by result")
        camp = {(m["campaign"], m["result"]): v for m, v in prom_query(
            base, 'sum by (campaign, result) (seckill_buys_total{result="ok"})')}
        check_eq(camp, {("1", "ok"): float(STOCK)}, "Prometheus: campaign 1 sold its stock")
        per_core = prom_query(base, 'sum(seckill_core_buys_total)')
        check_eq(per_core[0][1], float(answered), "per core, the same buys")

        # The README's three queries.
        rate = prom_query(base, "sum by (result) (rate(seckill_buys_total[1m]))")
        check({m["result"] for m, _ in rate} >= {"ok", "sold_out"}, "buys/s by result answers")
        check_eq(prom_query(base, "seckill_campaign_left_units")[0][1], 0.0, "units left")
        harness.wait_for(lambda: prom_query(base, "seckill_journal_depth")[0][1] == STOCK,
                         10, "journal depth = the stock (no Kafka)")
        hist = prom_query(base, "seckill_durable_publish_seconds_count")
        check_eq(hist[0][1], float(STOCK), "durability histogram: one count per order")

        st, text = get("http://%s/metrics" % target)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=30)
        print(lint.stdout, lint.stderr)
        check_eq(lint.returncode, 0, "promtool check metrics")
    dp.check_clean_exit()
    check_eq(dp.c("buy.ok"), STOCK, "exit table buy.ok")
    return prom


if __name__ == "__main__":
    harness.run(test, tools=("prometheus", "promtool"))
