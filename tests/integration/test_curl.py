#!/usr/bin/env python3
"""test_curl.py - curl as a real HTTP client: an HTTP/1.0 request answered
and closed, then HTTP/1.1 keep-alive with three requests on one connection
(curl must report that it re-used the connection, and made one connect).

Run by hand (root): tests/integration/test_curl.py  (SECKILL_BUILD=build dir)
"""
import re

import harness
from harness import check, check_eq

KEEPALIVE_URLS = ["/healthz", "/healthz", "/"]


def http10(dp):
    r = dp.ns(["curl", "-0", "-s", "-i", "-v", "-w", "\n#connects=%{num_connects}",
               dp.url("/healthz")])
    head, _, rest = r.stdout.partition("\r\n\r\n")
    head += "\r\n"
    check(re.match(r"HTTP/1\.[01] 200 OK\r\n", head) is not None,
          "HTTP/1.0 GET /healthz answered 200 OK (%r)" % head.split("\r\n")[0])
    check(re.search(r"\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n", head) is not None,
          "the answer has an RFC 9110 Date header")
    check(re.search(r"(?i)\r\nConnection: close\r\n", head) is not None,
          "an HTTP/1.0 request without keep-alive is answered with Connection: close")
    check(re.search(r"(?i)\r\nContent-Length: (\d+)\r\n", head) is not None, "Content-Length present")
    check("#connects=1" in rest, "one connection made")
    return rest.partition("\n#connects=")[0]


def keepalive(dp):
    argv = ["curl", "-s", "-v", "-w", "#%{http_code} %{num_connects}\n"]
    for path in KEEPALIVE_URLS:
        argv += [dp.url(path)]
    r = dp.ns(argv)
    codes = re.findall(r"#(\d{3}) (\d+)", r.stdout)
    check_eq([c for c, _ in codes], ["200"] * len(KEEPALIVE_URLS), "keep-alive status codes")
    check_eq([int(n) for _, n in codes], [1] + [0] * (len(KEEPALIVE_URLS) - 1),
             "connects per request (one connect, then re-use)")
    reused = len(re.findall(r"Re-using existing connection", r.stderr))
    check_eq(reused, len(KEEPALIVE_URLS) - 1, "curl's 'Re-using existing connection' lines")
    return r.stdout


def test():
    with harness.Dataplane() as dp:
        body10 = http10(dp)
        out11 = keepalive(dp)
        check(len(body10) > 0 and body10 in out11, "same /healthz body over 1.0 and 1.1")
    dp.check_clean_exit()
    check_eq(dp.c("tcp.conns_opened"), dp.probe_conns + 2, "tcp.conns_opened (probes + 2)")
    check_eq(dp.c("http.requests"), dp.probe_requests + 1 + len(KEEPALIVE_URLS), "http.requests")
    check_eq(dp.c("http.responses_2xx"), dp.c("http.requests"), "every answer a 2xx")
    check_eq(dp.c("tcp.conns_reset"), 0, "tcp.conns_reset")


if __name__ == "__main__":
    harness.run(test)
