#!/usr/bin/env python3
"""test_many_conns.py - 10,000 connections opened and closed in sequence, each
with one request, through a table of MAX_CONNS entries: every entry is reused
about ten times, so a leak shows as failed connects (drop_table_full) and, at
exit, as entries still in use. Most connections are closed by the client
first (the server passes through LAST_ACK and frees the entry); the last
SERVER_CLOSES send Connection: close, so the server closes first and holds
TIME_WAIT, which must stay bounded (fewer of them than the table has room for,
so the table's full-of-TIME_WAIT policy is not what this test measures).

Run by hand (root): tests/integration/test_many_conns.py  (SECKILL_BUILD=build dir)
"""
import harness
from harness import check, check_eq

CLIENT_CLOSES = 9000
SERVER_CLOSES = 1000
MAX_CONNS = 1024


def test():
    with harness.Dataplane(dp_args=["--max-conns", str(MAX_CONNS)]) as dp:
        keep = dp.client("many", dp.ip, 80, CLIENT_CLOSES, "keep", timeout=600)
        close = dp.client("many", dp.ip, 80, SERVER_CLOSES, "close", timeout=300)
    check_eq((keep["ok"], keep["fail"]), (CLIENT_CLOSES, 0), "client-closed connections ok/failed")
    check_eq((close["ok"], close["fail"]), (SERVER_CLOSES, 0), "server-closed connections ok/failed")
    dp.check_clean_exit()
    total = CLIENT_CLOSES + SERVER_CLOSES
    check_eq(dp.c("tcp.conns_opened"), dp.probe_conns + total, "tcp.conns_opened")
    check_eq(dp.c("http.responses_2xx"), dp.probe_requests + total, "http.responses_2xx")
    check_eq(dp.c("tcp.conns_reset"), 0, "tcp.conns_reset")
    check(dp.c("gauge.time_wait") <= SERVER_CLOSES, "TIME_WAIT entries at exit (%d) <= %d"
          % (dp.c("gauge.time_wait"), SERVER_CLOSES))


if __name__ == "__main__":
    harness.run(test)
