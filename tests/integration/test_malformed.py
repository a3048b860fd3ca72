#!/usr/bin/env python3
"""test_malformed.py - malformed requests get 400 Bad Request and the server
closes the connection after the answer (RFC 9112 section 2.2); a good
request afterwards on a new connection still works.

Run by hand (root): tests/integration/test_malformed.py  (SECKILL_BUILD=build dir)
"""
import re

import harness
from harness import check, check_eq

BAD = [
    b"GARBAGE\r\n\r\n",                                        # no target, no version
    b"GET /healthz HTTP/1.1\r\nHost seckill\r\n\r\n",          # header line without ':'
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",  # bad length
]


def test():
    answers = []
    with harness.Dataplane() as dp:
        for req in BAD:
            answers.append(dp.client("raw", dp.ip, 80, req.hex()))
        good = dp.ns(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", dp.url("/healthz")])
    for req, a in zip(BAD, answers):
        check(re.match(r"HTTP/1\.1 400 ", a["data"]) is not None,
              "%r answered 400 (%r)" % (req[:24], a["data"][:40]))
        check(re.search(r"(?i)\r\nConnection: close\r\n", a["data"]) is not None,
              "the 400 says Connection: close")
        check_eq(a["closed"], True, "server closed the connection after the 400")
    check_eq(good.stdout, "200", "a good request afterwards")
    dp.check_clean_exit()
    check_eq(dp.c("http.responses_4xx"), len(BAD), "http.responses_4xx")
    check_eq(dp.c("http.bad_request"), len(BAD), "http.bad_request")
    check_eq(dp.c("http.responses_2xx"), dp.probe_requests + 1, "http.responses_2xx")


if __name__ == "__main__":
    harness.run(test)
