#!/usr/bin/env python3
"""test_sale_pow.py - the proof of work a campaign asks of its orders (issue 12, section 2).

One worker sells campaign 1 (10 units, open). With no proof of work asked
(pow_bits 0) a buy needs no header. Then `seckillctl campaign pow --bits 12`:

  GET /api/campaigns/1/challenge (curl, Bearer)  200 {"challenge","bits":12,"expires_ms"}
  a buy without X-Seckill-PoW                    428 pow_required
  a buy with another buyer's solution            403 pow_invalid
  a buy with a wrong nonce                       403 pow_invalid
  a buy with its own solution (solved here,
  hashlib)                                       200
  a challenge without a token                    401 token_missing

`campaign show` and GET /api/campaigns/1 say pow_bits 12; the refusals are
in `seckillctl stats` (drops by reason) and in the exit counters (buy.*,
pow.*); the bits are kept in --state-dir across a restart; --bits 0 turns
it off again.

With --redis (and Kafka's mock): `campaign pow` writes pow_bits into
seckill:campaign:{1} and moves the campaigns' version; a change made in Redis
by another host is followed here; a restarted host reads the bits back.

Run by hand (root): tests/integration/test_sale_pow.py  (SECKILL_BUILD=build dir)
"""
import hashlib
import json
import shutil
import tempfile
import time

import harness
import services
from harness import check, check_eq

BITS = 12
IP = "198.18.0.2"


def solve(challenge, bits):
    """The first decimal nonce whose SHA-256(challenge || nonce) starts with bits zero bits."""
    prefix = hashlib.sha256(challenge.encode())
    n = 0
    while True:
        h = prefix.copy()
        h.update(str(n).encode())
        if int.from_bytes(h.digest()[:4], "big") >> (32 - bits) == 0:
            return str(n)
        n += 1


def unsolving_nonce(challenge, bits):
    """A nonce that does not solve it (most do not)."""
    n = 0
    while True:
        d = hashlib.sha256((challenge + str(n)).encode()).digest()
        if int.from_bytes(d[:4], "big") >> (32 - bits) != 0:
            return str(n)
        n += 1


def buy(token, pow_value=None):
    h = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
    if pow_value is not None:
        h["X-Seckill-PoW"] = pow_value
    return {"method": "POST", "path": "/api/campaigns/1/orders", "body": "{}", "headers": h}


def answer(a):
    return a["status"], json.loads(a["body"])


def challenge(dp, token):
    """GET /api/campaigns/1/challenge with curl in the namespace: (status, body)."""
    argv = ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", dp.url("/api/campaigns/1/challenge")]
    if token is not None:
        argv[1:1] = ["-H", "Authorization: Bearer " + token]
    out = dp.ns(argv).stdout.rsplit("\n", 1)
    return int(out[1]), json.loads(out[0])


def test():
    state = tempfile.mkdtemp(prefix="seckill-pow-")
    try:
        run_pow(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    state = tempfile.mkdtemp(prefix="seckill-pow-redis-")
    mock = redis = None
    try:
        mock = services.kafka_mock_start("--brokers", "1")
        redis = services.RedisServer().start()
        run_pow_redis(state, mock, redis)
    finally:
        if redis:
            redis.cleanup()
        if mock:
            mock.stop()
        shutil.rmtree(state, ignore_errors=True)


def run_pow_redis(state, mock, redis):
    key = harness.sale_key(state)
    args = ["--campaign", "1:10", "--token-key", key, "--state-dir", state,
            "--kafka", mock.bootstrap, "--redis", redis.addr, "--redis-host", "host-a"]

    def bits_here(dp):
        return dp.ctl_json("campaign", "show", "--id", "1")["campaign"]["pow_bits"]

    with harness.Dataplane(dp_args=args, workers=1) as dp:
        version = int(redis.cli("GET", "seckill:campaigns:version") or 0)
        dp.ctl_json("campaign", "pow", "--id", "1", "--bits", "10")
        check_eq(redis.cli("HGET", "seckill:campaign:{1}", "pow_bits"), "10",
                 "redis: pow_bits recorded in the campaign's hash")
        check_eq(int(redis.cli("GET", "seckill:campaigns:version")), version + 1,
                 "redis: the campaigns' version moved")
        # Another host's change, as it writes it: followed within a sync.
        redis.cli("HSET", "seckill:campaign:{1}", "pow_bits", "14")
        redis.cli("INCR", "seckill:campaigns:version")
        harness.wait_for(lambda: bits_here(dp) == 14, 5, "another host's pow_bits followed")
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        check_eq(bits_here(dp), 14, "redis: pow_bits read back at start")


def run_pow(state):
    key = harness.sale_key(state)

    def tok(buyer):
        return harness.seckillctl("token", "mint", "--key-file", key, "--buyer",
                                  str(buyer)).strip()

    args = ["--campaign", "1:10", "--token-key", key, "--state-dir", state]
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        check_eq(answer(dp.http(IP, [buy(tok(1))])[0])[0], 200, "no proof of work asked: 200")
        show = dp.ctl_json("campaign", "pow", "--id", "1", "--bits", str(BITS))
        check_eq(show["campaign"]["pow_bits"], BITS, "campaign pow answers the campaign")
        check_eq(dp.ctl_json("campaign", "show", "--id", "1")["campaign"]["pow_bits"], BITS,
                 "campaign show: pow_bits")
        check_eq(dp.ctl_json("campaign", "list")["campaigns"][0]["pow_bits"], BITS,
                 "campaign list: pow_bits")
        info = answer(dp.http(IP, [{"method": "GET", "path": "/api/campaigns/1"}])[0])
        check_eq(info[1]["pow_bits"], BITS, "GET /api/campaigns/1: pow_bits")

        t2, t3, t4 = tok(2), tok(3), tok(4)
        st, ch2 = challenge(dp, t2)
        check_eq((st, sorted(ch2)), (200, ["bits", "challenge", "expires_ms"]),
                 "challenge answer")
        check_eq(ch2["bits"], BITS, "challenge bits")
        now_ms = time.time() * 1000
        check(now_ms + 100e3 < ch2["expires_ms"] <= now_ms + 125e3,
              "expires_ms ~120 s ahead (%d)" % (ch2["expires_ms"] - now_ms))
        check(ch2["challenge"].startswith("1.%d." % BITS), "challenge text %s" % ch2["challenge"])
        _, ch3 = challenge(dp, t3)
        check_eq(challenge(dp, None), (401, {"error": "token_missing"}),
                 "a challenge needs the token")

        sol2 = ch2["challenge"] + ":" + solve(ch2["challenge"], BITS)
        sol3 = ch3["challenge"] + ":" + solve(ch3["challenge"], BITS)
        wrong = ch3["challenge"] + ":" + unsolving_nonce(ch3["challenge"], BITS)
        got = [answer(a) for a in dp.http(IP, [
            buy(t3),                    # no header
            buy(t3, sol2),              # buyer 2's solution
            buy(t3, wrong),             # not solved
            buy(t3, sol3),              # its own
            buy(t2, sol2),              # buyer 2 with its own
        ])]
        check_eq(got[:3], [(428, {"error": "pow_required"}), (403, {"error": "pow_invalid"}),
                           (403, {"error": "pow_invalid"})], "refusals")
        check_eq([g[0] for g in got[3:]], [200, 200], "solved: 200")
        drops = dp.ctl_json("stats")["cores"][0]["drops"]
        check_eq((drops["buy.pow_required"], drops["buy.pow_invalid"]), (1, 2),
                 "seckillctl stats: the refusals by reason")

        # Off again: no header needed.
        dp.ctl_json("campaign", "pow", "--id", "1", "--bits", "0")
        check_eq(answer(dp.http(IP, [buy(t4)])[0])[0], 200, "bits 0: off")
        dp.ctl_json("campaign", "pow", "--id", "1", "--bits", str(BITS))

    dp.check_clean_exit()
    c = dp.c
    check_eq((c("buy.ok"), c("buy.pow_required"), c("buy.pow_invalid")), (4, 1, 2),
             "exit counters: buy.*")
    check_eq((c("pow.pow_challenges"), c("pow.pow_bad_mac"), c("pow.pow_unsolved")), (2, 1, 1),
             "exit counters: pow.*")

    # The bits live in the state dir: a restart asks them still.
    with harness.Dataplane(dp_args=args, workers=1) as dp:
        check_eq(dp.ctl_json("campaign", "show", "--id", "1")["campaign"]["pow_bits"], BITS,
                 "pow_bits restored from the state dir")
        check_eq(answer(dp.http(IP, [buy(tok(5))])[0]), (428, {"error": "pow_required"}),
                 "still asked after the restart")


if __name__ == "__main__":
    harness.run(test)
