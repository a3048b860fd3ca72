#!/usr/bin/env python3
"""test_wrk.py - a 5-second wrk run (1 thread, a few keep-alive connections)
with no socket errors and no non-2xx answers, and the server's own count of
answers agrees with wrk's.

Run by hand (root): tests/integration/test_wrk.py  (SECKILL_BUILD=build dir)
"""
import re

import harness
from harness import check, check_eq

CONNS = 4
SECONDS = 5


def test():
    with harness.Dataplane() as dp:
        r = dp.ns(["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % SECONDS, "--latency",
                   dp.url("/healthz")], timeout=SECONDS + 60)
    out = r.stdout
    print(out)
    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    check(m is not None, "wrk printed its totals")
    done = int(m.group(1))
    check(done > 0, "wrk completed %d requests" % done)
    check("Socket errors" not in out, "no socket errors (connect/read/write/timeout)")
    check("Non-2xx or 3xx responses" not in out, "no non-2xx answers")
    dp.check_clean_exit()
    # wrk connects once more before the run, to check the address (script_resolve).
    check_eq(dp.c("tcp.conns_opened"), dp.probe_conns + CONNS + 1, "tcp.conns_opened")
    # wrk counts answers it read in time; the server may have answered a few more
    # requests that were in flight when wrk stopped (at most one per connection).
    served = dp.c("http.responses_2xx") - dp.probe_requests
    check(done <= served <= done + CONNS, "server answered %d, wrk counted %d" % (served, done))
    check_eq(dp.c("http.responses_4xx") + dp.c("http.responses_5xx"), 0, "4xx + 5xx answers")


if __name__ == "__main__":
    harness.run(test, tools=("wrk",))
