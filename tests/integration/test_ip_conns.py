#!/usr/bin/env python3
"""test_ip_conns.py - --ip-conns N (nginx limit_conn) on two workers, with real
kernel clients from several addresses of the client namespace:

- address A opens N keep-alive connections, each answered; its N+1st
  completes the handshake and is reset (tcp.drop_ip_conns, in `seckillctl
  stats` while running and in the exit table); its connections are spread over
  both workers, so the count is shared, not per core;
- address B still opens N connections, and a plain curl is answered;
- `seckillctl limits show` says N; `limits set --ip-conns N+1` lets A's next
  connection in at once, and setting N back refuses the one after;
- A closes its connections: the count is given back, A opens N again.

Run by hand (root): tests/integration/test_ip_conns.py  (SECKILL_BUILD=build dir)
"""
import json
import subprocess
import sys
import time

import harness
from harness import check, check_eq

LIMIT = 8
IP_A, IP_B = "198.18.0.60", "198.18.0.61"
GAUGE_TICK_S = 0.3             # the workers publish their gauges ten times a second

# Runs in the namespace and holds connections between the test's commands,
# one JSON line per command read from stdin:
#   open SRC K   K connections from SRC, each sends GET /healthz and reads the
#                answer: ["200", ...], or "reset" for one the server refused
#   close SRC    closes SRC's connections (the client's FIN first)
HOLDER = r'''
import json, socket, sys
dst = sys.argv[1]
held = {}
REQ = b"GET /healthz HTTP/1.1\r\nHost: seckill\r\n\r\n"

def open_one(src):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    try:
        # The RST of a refused handshake may already be there when
        # connect returns, or come at the request or the read.
        s.connect((dst, 80))
        s.sendall(REQ)
        data = s.recv(4096)
    except OSError:
        data = b""
    if not data.startswith(b"HTTP/1.1 "):
        s.close()
        return "reset"
    held.setdefault(src, []).append(s)
    return data.split(b" ")[1].decode()

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "open":
        out = [open_one(cmd[1]) for _ in range(int(cmd[2]))]
    elif cmd[0] == "close":
        for s in held.pop(cmd[1], []):
            s.close()
        out = "closed"
    else:
        break
    print(json.dumps(out), flush=True)
'''


class Holder:
    def __init__(self, dp):
        self.p = dp.ns_popen([sys.executable, "-c", HOLDER, dp.ip], stdin=subprocess.PIPE,
                             text=True)

    def ask(self, *cmd):
        self.p.stdin.write(" ".join(str(c) for c in cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise harness.TestFailure("the holder died: %s" % self.p.stderr.read())
        return json.loads(line)

    def quit(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=10)


def drops(dp, name):
    st = dp.ctl_json("stats")
    return sum(c["drops"][name] for c in st["cores"]), [c["conns"] for c in st["cores"]]


def test():
    with harness.Dataplane(dp_args=["--ip-conns", str(LIMIT)], workers=2) as dp:
        dp.add_client_ips([IP_A, IP_B])
        h = Holder(dp)
        try:
            run(dp, h)
        finally:
            h.quit()
    dp.check_clean_exit()
    check_eq(dp.c("tcp.drop_ip_conns"), 2, "exit table: tcp.drop_ip_conns")
    check_eq(dp.c("dp.ip_conns_full"), 0, "the address table never failed open")
    # A: N, 1 while the limit was raised, N again; B: N; the curl is a probe.
    check_eq(dp.c("http.responses_2xx"), dp.probe_requests + 3 * LIMIT + 1,
             "every admitted connection was answered")


def run(dp, h):
    check_eq(dp.ctl_json("limits", "show")["ip_conns"], LIMIT, "limits show: ip_conns")
    check_eq(h.ask("open", IP_A, LIMIT), ["200"] * LIMIT, "A's %d connections answered" % LIMIT)
    check_eq(h.ask("open", IP_A, 1), ["reset"], "A's connection %d is reset" % (LIMIT + 1))
    time.sleep(GAUGE_TICK_S)
    n, conns = drops(dp, "tcp.drop_ip_conns")
    check_eq(n, 1, "seckillctl stats: tcp.drop_ip_conns")
    check(all(c > 0 for c in conns),
          "A's connections on both workers, one count (conns per core %s)" % conns)

    check_eq(h.ask("open", IP_B, LIMIT), ["200"] * LIMIT, "B's %d connections answered" % LIMIT)
    r = dp.ns(["curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
               dp.url("/healthz")])
    dp.probe_requests += 1
    check_eq(r.stdout, "200", "a legitimate curl is answered")

    # Live: one more place for A at once, then the limit back.
    check_eq(dp.ctl_json("limits", "set", "--ip-conns", str(LIMIT + 1))["ip_conns"], LIMIT + 1,
             "limits set --ip-conns %d" % (LIMIT + 1))
    check_eq(h.ask("open", IP_A, 1), ["200"], "A's next connection let in at once")
    check_eq(dp.ctl_json("limits", "set", "--ip-conns", str(LIMIT))["ip_conns"], LIMIT,
             "limits set --ip-conns %d" % LIMIT)
    check_eq(h.ask("open", IP_A, 1), ["reset"], "A over the limit again")

    # A's connections closed: its places come back.
    check_eq(h.ask("close", IP_A), "closed", "A closes its connections")
    harness.wait_for(lambda: sum(drops(dp, "tcp.drop_ip_conns")[1]) == LIMIT, 5,
                     "A's connections gone from the tables, B's %d left" % LIMIT)
    check_eq(h.ask("open", IP_A, LIMIT), ["200"] * LIMIT, "A opens %d again" % LIMIT)
    for src in (IP_A, IP_B):
        h.ask("close", src)
    harness.wait_for(lambda: sum(drops(dp, "tcp.drop_ip_conns")[1]) == 0, 5,
                     "every connection closed")


if __name__ == "__main__":
    harness.run(test)
