#!/usr/bin/env python3
"""test_sale_durable.py - no buyer hears 200 for an order a crash loses.

seckill-dp holds a sold order's 200 until the order's journal record is
fsynced (--answer-after disk, the default; control/ctl_durable.c,
lib/app/app_hold.c). Here many buyers buy as fast as the answers come (two
nsbuyers.py flood processes, 64 keep-alive connections each) and the
dataplane is SIGKILLed in the middle of it, answers in flight. Every order
id a buyer was answered 200 must then be in the journal (seckill-journal),
with that buyer; and the journal holds each buyer at most once.

- disk: as above, KILLS times, each time a fresh sale killed at a different
  moment into the buying.
- unsafe (not run by default; `test_sale_durable.py unsafe`): the same with
  --answer-after memory-unsafe, which answers at once. Nothing is asserted
  about the 200s: it prints how many answered orders the journal lacks,
  which is what the hold prevents (an order still in the worker's ring or
  in the journal's write buffer when the process dies; what reached the
  journal's file survives a SIGKILL, in the page cache). Seen here: 0 and
  512 of ~1,750 answered 200s missing after two kills.

Run by hand (root): tests/integration/test_sale_durable.py [disk|unsafe ...]
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import harness
from harness import check, check_eq

STOCK = 1000000
TOKENS = 60000
PROCS = 2
CONNS = 64
FLOOD_S = 12            # the clients' own deadline: they outlive the kill
AFTER_KILL_S = 2.0
KILLS = 2
KILL_AFTER = (200, 1500)  # answers seen before each round's kill


class Buyers:
    """nsbuyers.py processes in the namespace, their answers read as they come."""

    def __init__(self, dp, argv_of, procs=PROCS):
        self.answers, self.summaries = [], []
        self.procs = [dp.ns_popen([sys.executable, os.path.join(harness.HERE, "nsbuyers.py")]
                                  + [str(a) for a in argv_of(p)]) for p in range(procs)]
        self.threads = [threading.Thread(target=self._read, args=(p,), daemon=True)
                        for p in self.procs]
        for t in self.threads:
            t.start()

    def _read(self, proc):
        for line in proc.stdout:
            d = json.loads(line)
            if "summary" in d:
                self.summaries.append(d["summary"])
            else:
                self.answers.append(d)

    def wait(self, timeout_s):
        for p in self.procs:
            p.wait(timeout=timeout_s)
            if p.returncode != 0:
                raise harness.TestFailure("nsbuyers.py exited %d: %s"
                                          % (p.returncode, p.stderr.read().decode()[-2000:]))
        for t in self.threads:
            t.join(timeout=10)

    def stop(self):
        """Stops the clients (what they were told is already out, line by line)."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=10)
        for t in self.threads:
            t.join(timeout=10)


def one_round(d, key, tokfile, mode, kill_after):
    state = os.path.join(d, "state-%s-%d" % (mode, kill_after))
    args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state,
            "--ip-rate", "0", "--buyer-rate", "0"]
    if mode == "unsafe":
        args += ["--answer-after", "memory-unsafe"]
    per = TOKENS // PROCS
    with harness.Dataplane(dp_args=args) as dp:
        buyers = Buyers(dp, lambda p: ["flood", dp.ip, 80, 1, tokfile, p * per, per,
                                       "198.18.0.2", CONNS, FLOOD_S])
        harness.wait_for(lambda: len(buyers.answers) >= kill_after, FLOOD_S,
                         "%d answers before the kill" % kill_after, step_s=0.01)
        seen = len(buyers.answers)
        dp.kill()
        print("killed after %d answers" % seen, flush=True)
        # An answer sent before the kill is in the client's socket by now;
        # give the clients time to read it, then stop them.
        time.sleep(AFTER_KILL_S)
        buyers.stop()
    oks = [(a["b"], a["o"]) for a in buyers.answers if a["s"] == 200]
    others = {}
    for a in buyers.answers:
        if a["s"] != 200:
            others[a["s"]] = others.get(a["s"], 0) + 1
    recs = harness.journal_dump(os.path.join(state, "journal"))
    journal = {r[1]: r[3] for r in recs}
    missing = [(b, o) for b, o in oks if journal.get(o) != b]
    unanswered = len(set(journal) - {o for _, o in oks})
    print("%s: %d answered 200 (other answers %s), %d in the journal, %d journaled but not "
          "answered before the kill (held or in flight), %d answered 200 and NOT in the journal; "
          "client summary %s" % (mode, len(oks), others, len(recs), unanswered, len(missing),
                                 buyers.summaries), flush=True)
    check(len(oks) > 0, "buyers were answered 200 before the kill")
    check_eq(len({r[3] for r in recs}), len(recs), "the journal holds each buyer once")
    return missing


def test():
    cases = sys.argv[1:] or ["disk"]
    d = tempfile.mkdtemp(prefix="seckill-durable-")
    try:
        key = harness.sale_key(d)
        tokfile = harness.tokens_file(d, key, TOKENS)
        for mode in cases:
            print("== case %s" % mode, flush=True)
            lost = []
            for i in range(KILLS):
                missing = one_round(d, key, tokfile, mode, KILL_AFTER[i % len(KILL_AFTER)])
                if mode == "disk":
                    check_eq(missing, [], "every order answered 200 is in the journal, "
                             "with its buyer")
                lost.append(len(missing))
            if mode == "unsafe":
                print("unsafe: answered 200 but not in the journal, per kill: %s" % lost,
                      flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test)
