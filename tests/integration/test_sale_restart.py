#!/usr/bin/env python3
"""test_sale_restart.py - a restarted dataplane never sells the same stock or
the same buyer twice.

The stock of a campaign is given on the command line, again at each start;
the orders of earlier runs are in the journal of the state directory. A run
sells 6 of 10 units and stops: once cleanly (SIGINT), once crashing
(SIGKILL, after the orders had time to reach the disk: the control thread
syncs every millisecond). Each time the next run, same --campaign and
--state-dir, must show 4 left, answer the earlier buyers 409, sell exactly
the 4 units left and then 410, and leave exactly 10 orders in the journal.

Run by hand (root): tests/integration/test_sale_restart.py  (SECKILL_BUILD=build dir)
"""
import json
import os
import shutil
import tempfile
import time

import harness
from harness import check, check_eq

STOCK = 10
FIRST_RUN = 6
BUYERS = 20
SYNC_WAIT_S = 0.5            # hundreds of the control thread's 1 ms sync passes


def buy(dp, tokens, buyers):
    """POST an order for each buyer (1-based ids) on one connection; their statuses."""
    reqs = [{"method": "POST", "path": "/api/campaigns/1/orders",
             "headers": {"Authorization": "Bearer " + tokens[b - 1],
                         "Content-Type": "application/json"}, "body": "{}"} for b in buyers]
    return [a["status"] for a in dp.http("198.18.0.2", reqs)]


def left(dp):
    return json.loads(dp.http("198.18.0.2", [{"method": "GET", "path": "/api/campaigns/1"}])[0]["body"])


def run(state, crash):
    key = harness.sale_key(state)
    tokens = harness.seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                                "--count", str(BUYERS), "--ttl", "600").split()
    args = ["--campaign", "1:%d" % STOCK, "--token-key", key, "--state-dir", state]
    how = "SIGKILL" if crash else "SIGINT"

    with harness.Dataplane(dp_args=args) as dp:
        check_eq(buy(dp, tokens, range(1, FIRST_RUN + 1)), [200] * FIRST_RUN,
                 "first run sells %d units" % FIRST_RUN)
        if crash:
            time.sleep(SYNC_WAIT_S)
            dp.kill()
        else:
            dp.stop()
            dp.check_clean_exit()

    with harness.Dataplane(dp_args=args) as dp:
        check("restored %d orders of earlier runs" % FIRST_RUN in dp.output(),
              "the second run restored the first run's %d orders (after %s)" % (FIRST_RUN, how))
        camp = left(dp)
        check_eq((camp["stock"], camp["left"]), (STOCK, STOCK - FIRST_RUN),
                 "after %s: stock as given, the first run's units still sold" % how)
        check_eq(buy(dp, tokens, range(1, FIRST_RUN + 1)), [409] * FIRST_RUN,
                 "earlier buyers keep their purchase: 409")
        got = buy(dp, tokens, range(FIRST_RUN + 1, BUYERS + 1))
        check_eq(got, [200] * (STOCK - FIRST_RUN) + [410] * (BUYERS - STOCK),
                 "the units left are sold once, then 410")
        dp.stop()
        dp.check_clean_exit()
        check_eq(dp.c("buy.ok"), STOCK - FIRST_RUN, "second run's sales")

    recs = harness.journal_dump(os.path.join(state, "journal"))
    check_eq(sorted(r[3] for r in recs), list(range(1, STOCK + 1)),
             "the journal holds one order for each of buyers 1..%d, none twice" % STOCK)


def test():
    for crash in (False, True):
        state = tempfile.mkdtemp(prefix="seckill-restart-")
        try:
            run(state, crash)
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    harness.run(test)
