#!/usr/bin/env python3
"""test_sale_refusals.py - every way a buy is refused, and that none takes stock.

One worker sells campaign 1 (10 units, open) and campaign 2 (5 units, opens
in an hour), with a per-IP limit of 5 r/s burst 3, a per-buyer limit of 2 r/s
burst 3, 198.18.0.66 and buyer 666 blacklisted. Each kind of request comes
from its own source address added to the namespace, so the per-IP limit is
only met where it is tested:

  a buyer's repeats                      409 already_bought
  10 pipelined buys from one address     4 pass (1 + burst), 6 get 429
                                         rate_limited_ip with Retry-After
  forged / expired / malformed / missing token   401 with their codes
  before starts_at                       425 not_open, Retry-After ~3600
  blacklisted address, buyer             403 blacklisted_ip / _buyer
  unknown campaign                       404 unknown_campaign
  malformed ids and bodies               400 with their codes

Then campaign 1's `left` is 10 minus the 200s exactly, and the exit counters
say the same per reason. Also: seckill-dp's sale options are checked before
the EAL starts, with messages that say what to do.

Run by hand (root): tests/integration/test_sale_refusals.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
from harness import check, check_eq

IP_REPEAT, IP_BURST, IP_MISC, IP_BLACK = "198.18.0.20", "198.18.0.21", "198.18.0.22", "198.18.0.66"


def buy(campaign, token=None, body="{}", path=None):
    r = {"method": "POST", "path": path or "/api/campaigns/%s/orders" % campaign, "body": body,
         "headers": {"Content-Type": "application/json"}}
    if token is not None:
        r["headers"]["Authorization"] = "Bearer " + token
    return r


def get(path):
    return {"method": "GET", "path": path}


def answer(a):
    return a["status"], json.loads(a["body"])


def option_errors(key):
    """seckill-dp refuses bad sale options before the EAL, exit 2."""
    binary = os.path.join(harness.build_dir(), "dataplane", "seckill-dp")
    cases = [
        (["--campaign", "1:10"], "seckill-dp: --campaign needs --token-key FILE, the key buyer "
         "tokens are signed with; make one: seckillctl token keygen > FILE\n"),
        (["--campaign", "1:0", "--token-key", key], "seckill-dp: --campaign '1:0': expected "
         "ID:STOCK[:STARTS_AT] with ID 1..4294967295, STOCK 1..67108864, STARTS_AT Unix seconds "
         "or +SECONDS, e.g. --campaign 1:1000:+60\n"),
        (["--campaign", "1:5", "--campaign", "1:6", "--token-key", key],
         "seckill-dp: --campaign 1:6: campaign 1 is given twice; campaign ids must differ\n"),
        (["--campaign", "1:5", "--token-key", key, "--order-ring", "1000"],
         "seckill-dp: --order-ring 1000: must be a power of two, e.g. 16384\n"),
        (["--campaign", "1:5", "--token-key", key, "--ip-rate", "5/h"],
         "seckill-dp: --ip-rate '5/h': expected N, N/s or N/m with N 0..4000000 (0 = no limit), "
         "e.g. --ip-rate 50/s\n"),
        (["--campaign", "1:5", "--token-key", key, "--blacklist-ip", "1.2.3"],
         "seckill-dp: --blacklist-ip '1.2.3' is not an IPv4 address; give dotted quad, "
         "e.g. 203.0.113.7\n"),
    ]
    for args, want in cases:
        r = subprocess.run([binary, "--", "--ip", "198.18.0.1"] + args, capture_output=True,
                           text=True, timeout=10)
        check_eq((r.returncode, r.stderr), (2, want), "seckill-dp %s" % " ".join(args))
    r = subprocess.run([binary, "--", "--ip", "198.18.0.1", "--campaign", "1:5",
                        "--token-key", "/nonexistent/key"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2 and "/nonexistent/key" in r.stderr and
          "seckillctl token keygen > /nonexistent/key" in r.stderr,
          "a missing key file is named, with how to make one: %r" % r.stderr)


def test():
    state = tempfile.mkdtemp(prefix="seckill-refusals-")
    try:
        run_refusals(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_refusals(state):
    key = harness.sale_key(state)
    option_errors(key)

    def tok(buyer, *extra):
        return harness.seckillctl("token", "mint", "--key-file", key, "--buyer", str(buyer),
                                  *extra).strip()

    good = tok(1)
    burst = [tok(b) for b in range(100, 110)]
    forged = tok(300)[:-1] + ("0" if tok(300)[-1] != "0" else "1")
    expired = tok(301, "--expiry", str(int(time.time()) - 5))
    args = ["--campaign", "1:10", "--campaign", "2:5:+3600", "--token-key", key,
            "--state-dir", state, "--ip-rate", "5/s", "--ip-burst", "3",
            "--buyer-rate", "2/s", "--buyer-burst", "3",
            "--blacklist-ip", IP_BLACK, "--blacklist-buyer", "666"]
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        dp.add_client_ips([IP_REPEAT, IP_BURST, IP_MISC, IP_BLACK])
        before = answer(dp.http(IP_MISC, [get("/api/campaigns/1")])[0])
        rep = dp.http(IP_REPEAT, [buy(1, good), buy(1, good), buy(1, good)])
        order_id = json.loads(rep[0]["body"])["order_id"]
        bur = dp.http(IP_BURST, [buy(1, t) for t in burst], pipeline=True)
        misc = dp.http(IP_MISC, [
            buy(1, forged), buy(1, expired), buy(1, "v1.nonsense"), buy(1),
            buy(2, tok(302)),
            buy(1, tok(666)),
            buy(99, tok(303)),
            buy(None, tok(304), path="/api/campaigns/01/orders"),
            get("/api/campaigns/abc"),
            get("/api/orders/xyz"),
            get("/api/orders/00000001-0000-0000-0000000000000001"),
            buy(1, tok(305), body="{"),
            buy(1, tok(306), body="[1]"),
            get("/api/orders/" + order_id),
        ])
        black = dp.http(IP_BLACK, [buy(1, tok(307))])
        after = answer(dp.http(IP_MISC, [get("/api/campaigns/1")])[0])

    check_eq(before[1]["left"], 10, "campaign 1 left before")
    check_eq([answer(a)[0] for a in rep], [200, 409, 409], "a buyer's repeats")
    check_eq(answer(rep[1])[1], {"error": "already_bought"}, "409 body")
    check_eq(answer(rep[0])[1], {"order_id": order_id, "status": "pending"}, "200 body")

    check_eq([a["status"] for a in bur], [200] * 4 + [429] * 6,
             "10 buys at once from one address: 1 + burst pass, then 429")
    for a in bur[4:]:
        check_eq(answer(a)[1], {"error": "rate_limited_ip"}, "429 body")
        check(a["retry_after"] is not None and int(a["retry_after"]) >= 1,
              "429 has Retry-After (%s)" % a["retry_after"])

    want = [
        (401, "token_forged"), (401, "token_expired"), (401, "token_malformed"),
        (401, "token_missing"), (425, "not_open"), (403, "blacklisted_buyer"),
        (404, "unknown_campaign"), (400, "bad_campaign_id"), (400, "bad_campaign_id"),
        (400, "bad_order_id"), (404, "unknown_order"), (400, "bad_json"),
        (400, "body_not_object"),
    ]
    for a, (status, code) in zip(misc, want):
        check_eq(answer(a), (status, {"error": code}), "refusal %s" % code)
    check_eq([a["www_authenticate"] for a in misc[:4]],
             ['Bearer error="invalid_token"'] * 3 + ["Bearer"], "401 challenges")
    check(3590 <= int(misc[4]["retry_after"]) <= 3600,
          "425 Retry-After is the time to the start (%s)" % misc[4]["retry_after"])
    check_eq(answer(misc[-1]), (200, {"order_id": order_id, "campaign": 1, "buyer": 1,
                                      "status": "pending"}), "GET /api/orders/{id}")
    check_eq(answer(black[0]), (403, {"error": "blacklisted_ip"}), "blacklisted address")
    check_eq(after[1]["left"], 10 - 5, "campaign 1 left: only the five 200s took stock")

    dp.check_clean_exit()
    c = dp.c
    check_eq((c("buy.ok"), c("stock1.take_ok"), c("campaign1.left"), c("campaign2.left")),
             (5, 5, 5, 5), "sold, taken, left per campaign")
    for name, n in (("already_bought", 2), ("rate_limited_ip", 6), ("token_forged", 1),
                    ("token_expired", 1), ("token_malformed", 1), ("token_missing", 1),
                    ("not_open", 1), ("blacklisted_ip", 1), ("blacklisted_buyer", 1),
                    ("unknown_campaign", 1), ("sold_out", 0), ("rate_limited_buyer", 0)):
        check_eq(c("buy." + name), n, "buy." + name)
    check_eq((c("app.bad_campaign_id"), c("app.bad_order_id"), c("app.bad_json"),
              c("app.body_not_object"), c("app.order_unknown")), (2, 1, 1, 1, 1),
             "app 400/404 counters")
    check_eq((c("ctl.journaled"), c("ctl.journal_depth")), (5, 5), "journal holds the 5 orders")
    check_eq(c("purchase.purchase_claimed"), 5, "purchase claims")


if __name__ == "__main__":
    harness.run(test)
