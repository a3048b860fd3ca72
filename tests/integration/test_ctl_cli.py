#!/usr/bin/env python3
"""test_ctl_cli.py - seckillctl against the real running seckill-dp.

One worker sells campaign 1 (10 units, open) with --max-stock 40, so there is
room for campaigns made at run time. Over the control socket (its default
path, /run/seckill/<file prefix>.sock, found through --socket and
$SECKILL_SOCKET), every subcommand in human and --json form:

  campaign create 7 (5 units) -> a buy on it over HTTP is 200 -> show: sold 1
  campaign close 7 -> 410 closed; open 7 -> 200 again
  campaign create 8 starting in an hour -> 425; campaign open 8 -> 200
  blacklist add ip -> 403 blacklisted_ip; del -> 200; the same for a buyer
  limits show; limits set while selling -> the new rule holds at once; a bad
  burst refused (exit 1)
  stats: the requests and sales made, per core, and drops by reason
  errors: usage (exit 2), duplicate / unknown campaign, too much stock
  (exit 1), no dataplane (exit 3); raw protocol errors (bad JSON, unknown
  command or field, a line over 4 KiB)

Then the socket file is gone after SIGINT, and the exit counters agree.
The telemetry test is test_ctl_telemetry.py.

Run by hand (root): tests/integration/test_ctl_cli.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import harness
from harness import check, check_eq

IP_A, IP_B = "198.18.0.30", "198.18.0.31"


def ctl(*args, env=None):
    """seckillctl ARGS: (exit code, stdout, stderr)."""
    r = subprocess.run([os.path.join(harness.build_dir(), "control", "seckillctl")] + list(args),
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout, r.stderr


def ok(*args, env=None):
    rc, out, err = ctl(*args, env=env)
    check_eq((rc, err), (0, ""), "seckillctl %s" % " ".join(args))
    return out


def ok_json(*args):
    out = ok(*(args + ("--json",)))
    check_eq(out.count("\n"), 1, "--json prints one line")
    obj = json.loads(out)
    check_eq(obj["ok"], True, "%s: ok" % " ".join(args))
    return obj


def fails(args, code, message, rc=1):
    got = ctl(*args)
    check_eq(got, (rc, "", "seckillctl: %s (%s)\n" % (message, code)),
             "seckillctl %s fails" % " ".join(args))


def usage(args, message, hint):
    check_eq(ctl(*args), (2, "", "seckillctl: %s\nTry '%s'.\n" % (message, hint)),
             "usage error: seckillctl %s" % " ".join(args))


def buy(campaign, token):
    return {"method": "POST", "path": "/api/campaigns/%d/orders" % campaign, "body": "{}",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + token}}


def raw(path, data):
    """Sends data on the control socket; the answer line, parsed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(data)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    check_eq(buf.count(b"\n"), 1, "one answer line to %r" % data[:40])
    return json.loads(buf)


def campaign_lines(cid, phase, stock, left, sold, per_core, starts="-", pow_bits=0):
    return ("campaign   %d\nphase      %s\nstock      %d\nleft       %d\nsold       %d\n"
            "starts_at  %s\npow_bits   %d\nsold/core  %s\n"
            % (cid, phase, stock, left, sold, starts, pow_bits,
               " ".join(str(v) for v in per_core)))


def usage_errors():
    """Checked before anything is sent: no dataplane needed."""
    usage(["campaign", "create", "--stock", "5"], "--id ID is required",
          "seckillctl campaign create --help")
    usage(["campaign", "create", "--id", "0", "--stock", "5"],
          "--id '0': expected a campaign id, 1..4294967295", "seckillctl campaign create --help")
    usage(["campaign", "create", "--id", "7", "--stock", "-3"],
          "--stock '-3': expected a number of units, at least 1",
          "seckillctl campaign create --help")
    usage(["campaign", "create", "--id", "7", "--stock", "3", "--starts-at", "soon"],
          "--starts-at 'soon': expected Unix seconds or +SECONDS, e.g. +60",
          "seckillctl campaign create --help")
    usage(["campaign", "show", "--id", "7", "--ip", "1.2.3.4"],
          "show: option --ip does not apply to show", "seckillctl campaign show --help")
    usage(["campaign", "show", "7"], "show: unexpected argument '7'",
          "seckillctl campaign show --help")
    usage(["blacklist", "add", "--ip", "1.2.3"],
          "--ip '1.2.3' is not an IPv4 address; give dotted quad, e.g. 203.0.113.7",
          "seckillctl blacklist add --help")
    usage(["blacklist", "del", "--ip", "1.2.3.4", "--buyer", "5"],
          "give exactly one of --ip A.B.C.D and --buyer ID", "seckillctl blacklist del --help")
    usage(["limits", "set"], "nothing to set: give --ip-rate, --ip-burst, --buyer-rate, "
          "--buyer-burst or --ip-conns", "seckillctl limits set --help")
    usage(["limits", "set", "--ip-conns", "-1"], "--ip-conns '-1': expected a number of "
          "connections, 0..16777216 (0 = off)", "seckillctl limits set --help")
    usage(["limits", "set", "--ip-rate", "5/h"], "--ip-rate '5/h': expected N, N/s or N/m",
          "seckillctl limits set --help")
    usage(["stats", "--frob"], "stats: unknown option '--frob'", "seckillctl stats --help")
    usage(["campaign", "frob"], "unknown campaign command 'frob'", "seckillctl campaign --help")
    rc, out, err = ctl("campaign", "create", "--help")
    check(rc == 0 and out.startswith("Usage: seckillctl campaign create") and err == "",
          "campaign create --help")


def not_running(sock):
    want = (3, "", "seckillctl: seckill-dp is not running (no socket at %s); start it with "
            "tools/serve, or pass --socket\n" % sock)
    check_eq(ctl("stats", "--socket", sock), want, "stats without a dataplane: exit 3")
    check_eq(ctl("campaign", "list", env={"SECKILL_SOCKET": sock}), want,
             "campaign list without a dataplane ($SECKILL_SOCKET): exit 3")


def protocol_errors(sock):
    a = raw(sock, b"not json\n")
    check_eq((a["ok"], a["error"]), (False, "bad_json"), "bad JSON answered")
    a = raw(sock, b'{"cmd":"campaign.show","id":1,"colour":"red"}\n')
    check_eq((a["error"], a["message"]), ("bad_request", "unknown field 'colour'"),
             "unknown field refused")
    a = raw(sock, b'{"cmd":"campaign.show","id":1,"id":2}\n')
    check_eq((a["error"], a["message"]), ("bad_request", "field 'id' given twice"),
             "a repeated field refused")
    a = raw(sock, b'{"cmd":"frob"}\n')
    check_eq(a["error"], "unknown_cmd", "unknown command refused")
    a = raw(sock, b'{"cmd":"campaign.show","id":1.5}\n')
    check_eq(a["error"], "bad_json", "a float is not an integer")
    a = raw(sock, b'{"cmd":"campaign.show","id":"1"}\n')
    check_eq(a["message"], "'id' must be an integer from 1 to 4294967295", "id as a string")
    a = raw(sock, b"x" * 5000)
    check_eq((a["ok"], a["error"]), (False, "line_too_long"), "a 5000-byte line refused")
    # At most 8 clients at once: the ninth is told so and closed.
    held = []
    for _ in range(8):
        h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        h.connect(sock)
        held.append(h)
    time.sleep(0.05)
    a = raw(sock, b'{"cmd":"stats"}\n')
    check_eq((a["ok"], a["error"]), (False, "busy"), "a ninth client is refused")
    for h in held:
        h.close()
    time.sleep(0.05)
    a = raw(sock, b'{"cmd":"campaign.show","id":1}\n')
    check_eq((a["ok"], a["campaign"]["id"]), (True, 1), "the server still answers")
    # Two requests in one write: two answers, in order.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(b'{"cmd":"campaign.show","id":1}\n{"cmd":"limits.get"}\n')
    buf = b""
    while buf.count(b"\n") < 2:
        buf += s.recv(65536)
    s.close()
    first, second = [json.loads(l) for l in buf.splitlines()]
    check_eq((first["campaign"]["id"], second["ip"]["burst"]), (1, 2), "pipelined requests")


def no_sale(state):
    """Without --campaign: stats work, sale commands say why they cannot."""
    sock = os.path.join(state, "nosale.sock")
    with harness.Dataplane(dp_args=["--ctl-socket", sock], workers=1) as dp:
        st = ok_json("stats", "--socket", sock)
        check_eq((st["sale"], len(st["cores"]), st["cores"][0]["requests"]),
                 (False, 1, dp.probe_requests), "stats without a sale")
        fails(["campaign", "list", "--socket", sock], "no_sale",
              "seckill-dp runs without a sale (start it with --token-key and --campaign, "
              "or --max-stock for campaigns made here)")
        check_eq(ok("limits", "show", "--socket", sock), "conns per ip    256\n",
                 "limits show without a sale: the connection limit alone")
        check_eq(ok_json("limits", "set", "--ip-conns", "0", "--socket", sock),
                 {"ok": True, "ip_conns": 0}, "limits set --ip-conns without a sale")
        fails(["limits", "set", "--ip-rate", "5", "--socket", sock], "no_sale",
              "seckill-dp runs without a sale (start it with --token-key and --campaign, "
              "or --max-stock for campaigns made here)")
    dp.check_clean_exit()


def runtime_only_sale(state):
    """--token-key and --max-stock, no --campaign: a sale whose campaigns all
    come from seckillctl."""
    key = harness.sale_key(state)
    sock = os.path.join(state, "rt.sock")
    args = ["--token-key", key, "--max-stock", "3", "--state-dir", os.path.join(state, "rt"),
            "--ctl-socket", sock]
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        check_eq(ok_json("campaign", "list", "--socket", sock)["campaigns"], [],
                 "a sale with no campaign yet")
        ok("campaign", "create", "--id", "3", "--stock", "3", "--socket", sock)
        toks = [harness.seckillctl("token", "mint", "--key-file", key, "--buyer",
                                   str(b)).strip() for b in (1, 2, 3, 4)]
        a = dp.http("198.18.0.2", [buy(3, t) for t in toks], pipeline=True)
        check_eq([x["status"] for x in a], [200, 200, 200, 410],
                 "campaign 3 made with seckillctl sells its 3 units, then 410")
        fails(["campaign", "create", "--id", "4", "--stock", "1", "--socket", sock], "no_room",
              "no room for 1 more units or another campaign (at most 64 campaigns, 3 units "
              "in all: seckill-dp --max-stock)")
    dp.check_clean_exit()


def campaigns(sock, dp, tok):
    S = ("--socket", sock)
    out = ok("campaign", "list", *S)
    # --campaign 1:10 opens when seckill-dp started: that time, in UTC.
    check_eq(re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$", "TIME\n", out),
             "ID         PHASE          STOCK       LEFT       SOLD  POW  STARTS_AT\n"
             "1          open              10         10          0    0  TIME\n",
             "campaign list")
    out = ok("campaign", "create", "--id", "7", "--stock", "5", *S)
    check_eq(out, campaign_lines(7, "open", 5, 5, 0, [0]), "campaign create 7 (human)")
    fails(["campaign", "create", "--id", "7", "--stock", "5", *S], "exists",
          "campaign 7 exists already")
    fails(["campaign", "create", "--id", "9", "--stock", "100", *S], "no_room",
          "no room for 100 more units or another campaign (at most 64 campaigns, 40 units "
          "in all: seckill-dp --max-stock)")
    fails(["campaign", "show", "--id", "99", *S], "unknown_campaign",
          "no campaign 99; see 'seckillctl campaign list'")
    fails(["campaign", "close", "--id", "99", *S], "unknown_campaign",
          "no campaign 99; see 'seckillctl campaign list'")
    rc, out, err = ctl("campaign", "open", "--id", "99", "--json", *S)
    check_eq((rc, json.loads(out), err), (1, {"ok": False, "error": "unknown_campaign",
                                              "message": "no campaign 99; see 'seckillctl "
                                              "campaign list'"},
                                          "seckillctl: no campaign 99; see 'seckillctl campaign "
                                          "list' (unknown_campaign)\n"),
             "--json on a refusal: the answer on stdout, the message on stderr, exit 1")

    a = dp.http(IP_A, [buy(7, tok(70))])
    check_eq(a[0]["status"], 200, "a buy on the campaign made at run time")
    c = ok_json("campaign", "show", "--id", "7", *S)["campaign"]
    check_eq(c, {"id": 7, "phase": "open", "stock": 5, "left": 4, "sold": 1, "starts_at": 0,
                 "pow_bits": 0, "sold_per_core": [1]}, "campaign show --json after the sale")
    check_eq(ok("campaign", "show", "--id", "7", *S), campaign_lines(7, "open", 5, 4, 1, [1]),
             "campaign show (human)")

    check_eq(ok_json("campaign", "close", "--id", "7", *S)["campaign"]["phase"], "closed",
             "campaign close --json")
    a = dp.http(IP_A, [buy(7, tok(71))])
    check_eq((a[0]["status"], json.loads(a[0]["body"])), (410, {"error": "closed"}),
             "closed campaign: 410 closed")
    check_eq(ok("campaign", "open", "--id", "7", *S), campaign_lines(7, "open", 5, 4, 1, [1]),
             "campaign open (human)")
    check_eq(dp.http(IP_A, [buy(7, tok(71))])[0]["status"], 200, "open again: 200")

    c = ok_json("campaign", "create", "--id", "8", "--stock", "3", "--starts-at", "+3600",
                *S)["campaign"]
    check_eq((c["phase"], c["left"]), ("scheduled", 3), "campaign 8 scheduled in an hour")
    check_eq(dp.http(IP_A, [buy(8, tok(80))])[0]["status"], 425, "before the start: 425")
    ok("campaign", "open", "--id", "8", *S)
    check_eq(dp.http(IP_A, [buy(8, tok(80))])[0]["status"], 200, "opened early: 200")

    camps = ok_json("campaign", "list", *S)["campaigns"]
    check_eq([(c["id"], c["phase"], c["left"], c["sold"]) for c in camps],
             [(1, "open", 10, 0), (7, "open", 3, 2), (8, "open", 2, 1)], "campaign list --json")


def blacklists(sock, dp, tok):
    S = ("--socket", sock)
    check_eq(ok("blacklist", "list", *S), "TYPE   VALUE\nbuyer  666\n",
             "blacklist list: the command line's buyer")
    check_eq(ok("blacklist", "add", "--ip", IP_B, *S), "ip %s added\n" % IP_B, "blacklist add ip")
    a = dp.http(IP_B, [buy(1, tok(90))])
    check_eq((a[0]["status"], json.loads(a[0]["body"])), (403, {"error": "blacklisted_ip"}),
             "blacklisted address: 403")
    check_eq(ok_json("blacklist", "list", *S), {"ok": True, "ips": [IP_B], "buyers": [666]},
             "blacklist list --json")
    ok("blacklist", "del", "--ip", IP_B, *S)
    check_eq(dp.http(IP_B, [buy(1, tok(90))])[0]["status"], 200, "deleted: allowed again")
    fails(["blacklist", "del", "--ip", IP_B, *S], "not_listed", "that IP is not on the blacklist")

    check_eq(ok_json("blacklist", "add", "--buyer", "91", *S),
             {"ok": True, "added": True, "buyer": 91}, "blacklist add buyer --json")
    a = dp.http(IP_A, [buy(1, tok(91))])
    check_eq((a[0]["status"], json.loads(a[0]["body"])), (403, {"error": "blacklisted_buyer"}),
             "blacklisted buyer: 403")
    check_eq(ok("blacklist", "del", "--buyer", "91", *S), "buyer 91 deleted\n",
             "blacklist del buyer")
    check_eq(dp.http(IP_A, [buy(1, tok(91))])[0]["status"], 200, "buyer allowed again")
    check_eq(ok("blacklist", "add", "--buyer", "666", *S), "buyer 666 was already listed\n",
             "adding a listed buyer is harmless")


def limits_table(ip_rate, ip_burst, buyer_rate, buyer_burst, ip_conns="256"):
    return "%-6s %12s %8s\n%-6s %12s %8s\n%-6s %12s %8s\nconns per ip %6s\n" % (
        "LIMIT", "RATE", "BURST", "ip", ip_rate, ip_burst, "buyer", buyer_rate, buyer_burst,
        ip_conns)


def limits(sock, dp, tok):
    S = ("--socket", sock)
    check_eq(ok("limits", "show", *S), limits_table("50/s", "2", "2/s", "5"), "limits show")
    check_eq(ok_json("limits", "show", *S), {"ok": True, "ip": {"rate": 50, "per": "s",
                                                                 "burst": 2},
                                             "buyer": {"rate": 2, "per": "s", "burst": 5},
                                             "ip_conns": 256},
             "limits show --json")
    # Changed while selling: the new rule holds at the next request.
    check_eq(ok("limits", "set", "--ip-rate", "100/s", "--ip-burst", "4", *S),
             limits_table("100/s", "4", "2/s", "5"), "limits set prints the rules in force")
    a = dp.http("198.18.0.32", [buy(1, tok(b)) for b in range(200, 206)], pipeline=True)
    check_eq([x["status"] for x in a], [200] * 5 + [429], "the new limit holds: 1 + 4 pass")
    set_json = ok_json("limits", "set", "--buyer-rate", "0", "--ip-rate", "50/m", *S)
    check_eq((set_json["ip"], set_json["buyer"]["rate"]),
             ({"rate": 50, "per": "m", "burst": 4}, 0),
             "limits set --json: per minute, the burst kept, the buyer limit off")
    check_eq(ok("limits", "show", *S), limits_table("50/m", "4", "off", "5"),
             "limits show: the buyer limit is off")
    fails(["limits", "set", "--ip-burst", "20000", *S], "bad_request",
          "'ip_burst' must be an integer from 0 to 16777")
    check_eq(ok("limits", "set", "--ip-rate", "50/s", "--ip-burst", "2", "--buyer-rate", "2/s",
                *S), limits_table("50/s", "2", "2/s", "5"), "the rules as at start again")


def stats(dp, sock, env_sock):
    st = ok_json("stats", "--socket", sock)
    check_eq(len(st["cores"]), 1, "stats: one worker")
    core = st["cores"][0]
    check_eq(core["sales"], 10, "stats: sales so far")
    check_eq(core["requests"], 15 + dp.probe_requests, "stats: the 15 buys and the probes")
    check_eq((core["drops"]["buy.closed"], core["drops"]["buy.not_open"],
              core["drops"]["buy.blacklisted_ip"], core["drops"]["buy.blacklisted_buyer"],
              core["drops"]["buy.rate_limited_ip"]), (1, 1, 1, 1, 1), "stats: refusals by reason")
    check_eq(st["journal_depth"] <= 10 and st["paused"], False, "stats: journal, not paused")
    check_eq((st["orders"], st["kafka"], st["redis"]), ({"confirmed": 0, "rejected": 0}, None, None),
             "stats: no order decided without Kafka; no Kafka, no Redis")
    out = ok("stats", env={"SECKILL_SOCKET": env_sock})
    lines = out.splitlines()
    check_eq(lines[0].split(), ["CORE", "LCORE", "RX_PPS", "TX_PPS", "REQ/S", "SALES/S",
                                "REQUESTS", "SALES", "CONNS", "RING"], "stats header")
    row = lines[1].split()
    check_eq((row[0], row[7]), ("0", "10"), "stats row: core 0, 10 sales")
    check("orders confirmed 0, rejected 0" in lines, "stats human: orders line")
    check("kafka: off (orders stay pending; seckill-dp -- --kafka BROKERS)" in lines,
          "stats human: Kafka off")
    check("drops and refusals (non-zero):" in lines, "stats lists drops")
    check(any(l.split()[-2:] == ["buy.closed", "1"] for l in lines if l.startswith("  core")),
          "stats human: buy.closed 1")


def test():
    state = tempfile.mkdtemp(prefix="seckill-ctl-")
    try:
        run_ctl(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_ctl(state):
    usage_errors()
    no_sale(state)
    runtime_only_sale(state)
    key = harness.sale_key(state)

    def tok(buyer):
        return harness.seckillctl("token", "mint", "--key-file", key, "--buyer",
                                  str(buyer)).strip()

    args = ["--campaign", "1:10", "--max-stock", "40", "--token-key", key, "--state-dir",
            state, "--ip-rate", "50/s", "--ip-burst", "2", "--blacklist-buyer", "666"]
    dp = harness.Dataplane(dp_args=args, workers=1)
    sock = "/run/seckill/seckill-%s.sock" % dp.dp_if
    not_running(sock)
    with dp:
        check(os.path.exists(sock), "the default socket %s exists" % sock)
        check_eq(os.stat(sock).st_mode & 0o777, 0o660, "socket mode 0660")
        dp.add_client_ips([IP_A, IP_B, "198.18.0.32"])
        protocol_errors(sock)
        campaigns(sock, dp, tok)
        blacklists(sock, dp, tok)
        limits(sock, dp, tok)
        stats(dp, sock, sock)
    check(not os.path.exists(sock), "the socket file is removed at exit")
    not_running(sock)
    dp.check_clean_exit()
    # (The exit table lists the --campaign campaigns only, not those made at run time.)
    check_eq((dp.c("buy.ok"), dp.c("campaign1.sold"), dp.c("ctl.journaled")), (10, 7, 10),
             "exit counters: sales")


if __name__ == "__main__":
    harness.run(test)
