#!/usr/bin/env python3
"""test_ctl_telemetry.py - seckill-dp's counters on DPDK's telemetry socket.

The EAL serves /var/run/dpdk/<file prefix>/dpdk_telemetry.v2, a SOCK_SEQPACKET
socket that answers a command with one JSON message (what DPDK's
usertools/dpdk-telemetry.py does; the few lines of that client are here).
After two sales and a refusal on one worker: /seckill/stats has core0's exact
counters, the same seckillctl stats shows, /seckill/campaigns has the
campaign's stock, left and sold, and "/" lists both commands. DPDK's own
client, `dpdk-telemetry.py` (Debian's dpdk-dev), says the same, as README
shows it: `echo /seckill/stats | dpdk-telemetry.py -f <file prefix>`.

Run by hand (root): tests/integration/test_ctl_telemetry.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import check, check_eq


def telemetry(path, cmd):
    """One command on the telemetry socket: its parsed answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(path)
    hello = json.loads(s.recv(1024).decode())
    s.send(cmd.encode())
    answer = json.loads(s.recv(hello["max_output_len"]).decode())
    s.close()
    return answer


def buy(token):
    return {"method": "POST", "path": "/api/campaigns/1/orders", "body": "{}",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + token}}


def test():
    state = tempfile.mkdtemp(prefix="seckill-tel-")
    try:
        run_telemetry(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_telemetry(state):
    key = harness.sale_key(state)
    toks = [harness.seckillctl("token", "mint", "--key-file", key, "--buyer", str(b)).strip()
            for b in (1, 2)]
    sock = os.path.join(state, "ctl.sock")
    args = ["--campaign", "1:10", "--token-key", key, "--state-dir", state,
            "--ctl-socket", sock]
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        path = "/var/run/dpdk/seckill-%s/dpdk_telemetry.v2" % dp.dp_if
        a = dp.http("198.18.0.2", [buy(toks[0]), buy(toks[1]), buy(toks[1])])
        check_eq([x["status"] for x in a], [200, 200, 409], "two sales and a repeat")
        cmds = telemetry(path, "/")["/"]
        check("/seckill/stats" in cmds and "/seckill/campaigns" in cmds,
              "the /seckill commands are registered")
        st = telemetry(path, "/seckill/stats")["/seckill/stats"]
        core = st["core0"]
        check_eq((core["sales"], core["requests"], core["buy_already_bought"],
                  core["buy_sold_out"], core["lcore"]),
                 (2, 3 + dp.probe_requests, 1, 0, 1), "/seckill/stats core0")
        check(core["rx_pkts"] > 0 and core["tx_pkts"] > 0, "packets counted")
        check_eq(sorted(k for k in st if k.startswith("core")), ["core0"], "one worker")
        check_eq((st["orders_confirmed"], st["orders_rejected"]), (0, 0),
                 "/seckill/stats: no order decided without Kafka")
        check(not any(k.startswith(("kafka_", "redis_")) for k in st),
              "no kafka_ or redis_ counters without --kafka and --redis")
        camps = telemetry(path, "/seckill/campaigns")["/seckill/campaigns"]
        check_eq({k: {f: v for f, v in c.items() if f != "starts_at"} for k, c in camps.items()},
                 {"1": {"phase": "open", "stock": 10, "left": 8, "sold": 2}},
                 "/seckill/campaigns")
        r = subprocess.run(["dpdk-telemetry.py", "-f", "seckill-%s" % dp.dp_if],
                           input="/seckill/stats\n", capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 0, "dpdk-telemetry.py exit status")
        tool = json.loads(r.stdout)["/seckill/stats"]["core0"]
        check_eq((tool["sales"], tool["buy_already_bought"]), (2, 1),
                 "echo /seckill/stats | dpdk-telemetry.py -f seckill-%s" % dp.dp_if)
        r = subprocess.run([os.path.join(harness.build_dir(), "control", "seckillctl"), "stats",
                            "--json", "--socket", sock], capture_output=True, text=True,
                           timeout=30)
        ctl = json.loads(r.stdout)["cores"][0]
        check_eq((ctl["sales"], ctl["requests"], ctl["drops"]["buy.already_bought"]),
                 (core["sales"], core["requests"], core["buy_already_bought"]),
                 "seckillctl stats says the same")
    dp.check_clean_exit()
    check(not os.path.exists(sock), "--ctl-socket's file is removed at exit")
    check(not os.path.exists("/var/run/dpdk/%s" % dp.file_prefix()),
          "the EAL runtime dir is removed after the test (harness)")


if __name__ == "__main__":
    harness.run(test, tools=("dpdk-telemetry.py",))
