#!/usr/bin/env python3
"""test_slow_clients.py - what slow and greedy clients may hold (issue 14).

Against the real seckill-dp with small deadlines and a 32-entry table:
  - slowloris: SLOWLORIS connections send an incomplete request head and then
    a byte a second; each ends HEADER_MS after its first byte (the bytes it
    trickles do not move the deadline): tcp.timeout_header;
  - silent: SILENT connections complete the handshake and send nothing; each
    ends FIRST_MS after it: tcp.timeout_first_request;
  - a slow reader: a socket with a tiny receive buffer pipelines requests and
    never reads; its window shuts and it is reset SEND_MS later:
    tcp.timeout_send;
  - a full table: MAX_CONNS idle keep-alive connections take every entry,
    and curl still gets in (the cookie ACK takes the entry of the oldest idle
    one, which is reset): tcp.evicted_idle.
A legitimate curl is answered within 1 s throughout, and the counters,
in the exit table and in `seckillctl stats`, say why each connection ended.

The clients run inside the namespace: this same file, run there with a
command (`client` or `fill`), prints one JSON object.

Run (root): meson test -C BUILD integration_slow_clients, or by hand:
tests/integration/test_slow_clients.py with SECKILL_BUILD=BUILD.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

from harness import tcp_ended

HEADER_MS = 4000
FIRST_MS = 1000
SEND_MS = 2000
MAX_CONNS = 32         # receive blocks are a quarter of it: one each for the
                       # slowloris heads and the slow reader's stalled requests
SLOWLORIS = 6
SILENT = 3
PIPELINED = 200
SLACK_S = 1.2            # timer wheel tick, worker back-off, namespace scheduling


def request(path="/healthz"):
    return ("GET %s HTTP/1.1\r\nHost: seckill\r\n\r\n" % path).encode()


def slowloris(ip, port, out, i):
    s = socket.create_connection((ip, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: seckill\r\nX-Slow: ")
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < 10:
        r, _, _ = select.select([s], [], [], 1.0)
        if r or tcp_ended(s):
            break
        try:
            s.send(b"x")            # one byte a second, never the end of the head
            sent += 1
        except OSError:
            break
    out[i] = {"seconds": round(time.monotonic() - t0, 2), "trickled": sent,
              "ended": tcp_ended(s) or bool(r)}
    s.close()


def silent(ip, port, out, i):
    s = socket.create_connection((ip, port), timeout=5)
    t0 = time.monotonic()
    r, _, _ = select.select([s], [], [], 5.0)
    out[i] = {"seconds": round(time.monotonic() - t0, 2), "ended": bool(r) or tcp_ended(s)}
    s.close()


def slow_reader(ip, port, out, i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)     # window shut at once
    s.connect((ip, port))
    s.setblocking(False)
    data = request() * PIPELINED
    t0 = time.monotonic()
    end = None
    while time.monotonic() - t0 < 10:
        if data:
            try:
                data = data[s.send(data):]
            except BlockingIOError:
                pass
            except OSError:
                pass
        if tcp_ended(s):
            end = time.monotonic()
            break
        time.sleep(0.02)
    out[i] = {"seconds": round((end or time.monotonic()) - t0, 2), "ended": end is not None,
              "unsent": len(data)}
    s.close()


def cmd_client(ip, port):
    """The slowloris, silent and slow-reader clients at once."""
    out = {}
    threads = [threading.Thread(target=slowloris, args=(ip, port, out, "loris%d" % i))
               for i in range(SLOWLORIS)]
    threads += [threading.Thread(target=silent, args=(ip, port, out, "silent%d" % i))
                for i in range(SILENT)]
    threads.append(threading.Thread(target=slow_reader, args=(ip, port, out, "reader")))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def cmd_fill(ip, port, n):
    """n idle keep-alive connections (one request each, answered), oldest
    first; then curl; then which of them the server ended."""
    conns = []
    for _ in range(n):
        s = socket.create_connection((ip, port), timeout=5)
        s.sendall(request())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096) or b"\r\n\r\n"
        head, _, body = buf.partition(b"\r\n\r\n")
        need = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                if l.lower().startswith(b"content-length:")]
        while need and len(body) < need[0]:
            body += s.recv(4096) or b" " * need[0]
        conns.append(s)
        time.sleep(0.02)
    time.sleep(0.3)
    t0 = time.monotonic()
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}",
                        "http://%s:%d/healthz" % (ip, port)], capture_output=True, text=True)
    curl_s = time.monotonic() - t0
    time.sleep(0.2)
    gone = [i for i, s in enumerate(conns) if tcp_ended(s)]
    for s in conns:
        s.close()
    return {"curl": r.stdout, "curl_seconds": round(curl_s, 3), "ended": gone}


# ---- the test, outside the namespace -------------------------------------------

def test():
    import harness
    from harness import check, check_eq

    with socket.socket() as p:                  # a free port for GET /metrics
        p.bind(("127.0.0.1", 0))
        metrics = p.getsockname()[1]
    args = ["--max-conns", str(MAX_CONNS), "--header-timeout", str(HEADER_MS),
            "--first-request-timeout", str(FIRST_MS), "--send-timeout", str(SEND_MS),
            "--metrics-listen", "127.0.0.1:%d" % metrics]
    with harness.Dataplane(dp_args=args) as dp:
        me = os.path.abspath(__file__)
        with harness.Prober(dp) as probe:
            r = json.loads(dp.ns_python_file(me, "client", dp.ip, 80, timeout=60))
        print("client:", json.dumps(r), flush=True)
        f = json.loads(dp.ns_python_file(me, "fill", dp.ip, 80, MAX_CONNS, timeout=60))
        print("fill:", json.dumps(f), flush=True)
        st = dp.ctl_json("stats")
        prom = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics,
                                      timeout=5).read().decode()
    worst = probe.times
    buyers = len(worst)
    check(buyers >= 4 and None not in worst and max(worst) < 1.0,
          "every legitimate curl answered within 1 s (%d, slowest %s s)"
          % (buyers, max([w for w in worst if w is not None], default=None)))
    for i in range(SLOWLORIS):
        c = r["loris%d" % i]
        check(c["ended"] and HEADER_MS / 1000 - 0.3 <= c["seconds"] <= HEADER_MS / 1000 + SLACK_S
              and c["trickled"] >= HEADER_MS / 1000 - 2,
              "slowloris %d ended %.2f s after its first byte (header timeout %d ms), "
              "%d bytes trickled" % (i, c["seconds"], HEADER_MS, c["trickled"]))
    for i in range(SILENT):
        c = r["silent%d" % i]
        check(c["ended"] and FIRST_MS / 1000 - 0.3 <= c["seconds"] <= FIRST_MS / 1000 + SLACK_S,
              "silent connection %d ended %.2f s after its handshake" % (i, c["seconds"]))
    c = r["reader"]
    check(c["ended"] and c["seconds"] <= SEND_MS / 1000 + 2 * SLACK_S,
          "the slow reader was reset %.2f s after it began (send timeout %d ms)"
          % (c["seconds"], SEND_MS))
    check_eq(f["curl"], "200", "curl answered with the table full of idle connections")
    check(f["curl_seconds"] < 1.0, "... within 1 s (%.3f s)" % f["curl_seconds"])
    check_eq(f["ended"], [0], "the oldest idle connection, and only it, made room")
    drops = st["cores"][0]["drops"]
    check_eq((drops.get("tcp.timeout_header"), drops.get("tcp.timeout_first_request"),
              drops.get("tcp.timeout_send"), drops.get("tcp.evicted_idle")),
             (SLOWLORIS, SILENT, 1, 1), "seckillctl stats: timeouts and evictions by reason")
    for reason, n in (("timeout_header", SLOWLORIS), ("timeout_first_request", SILENT),
                      ("timeout_send", 1), ("evicted_idle", 1)):
        line = 'seckill_drops_total{core="0",layer="tcp",reason="%s"} %d' % (reason, n)
        check(line in prom, "GET /metrics: " + line)
    check_eq(dp.c("tcp.timeout_header"), SLOWLORIS, "tcp.timeout_header")
    check_eq(dp.c("tcp.timeout_first_request"), SILENT, "tcp.timeout_first_request")
    check_eq(dp.c("tcp.timeout_send"), 1, "tcp.timeout_send")
    check_eq(dp.c("tcp.evicted_idle"), 1, "tcp.evicted_idle")
    check_eq(dp.c("tcp.evicted_head"), 0, "tcp.evicted_head")
    check_eq(dp.c("tcp.drop_table_full"), 0, "tcp.drop_table_full")
    check_eq(dp.c("tcp.conns_timed_out"), SLOWLORIS + SILENT + 1,
             "tcp.conns_timed_out: the deadlines, nothing else")
    check_eq(dp.exit_code, 0, "seckill-dp exit code after SIGINT")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        print(json.dumps(cmd_client(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "fill":
        print(json.dumps(cmd_fill(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import harness
        harness.run(test)
