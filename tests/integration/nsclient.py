#!/usr/bin/env python3
"""nsclient.py - the test clients that curl and wrk cannot be, run inside the
client namespace (`ip netns exec <ns> python3 nsclient.py CMD ...`). Each
command prints one JSON object on stdout for the calling test to check.

  pipeline IP PORT             four requests in one write, four answers back
  bytewise IP PORT             a request sent one byte per segment
  raw IP PORT HEX              send bytes, read until the server closes
  many IP PORT N close|keep    N connections in sequence, one request each
  shrink IP PORT N STALL READ  pipelined answers to a client whose window shrinks
  vanish IF DPMAC GHOST IP PORT  a client that disappears mid-request: a
        handcrafted TCP connection from an address no kernel owns, so when
        we stop, nothing will ever answer the server for it again
  race IP PORT CAMPAIGN TOKFILE FIRST COUNT SRCIPS CONNS START
        the sale race: tokens FIRST..FIRST+COUNT-1 of TOKFILE (one a line),
        each bought once (a 503 is retried) over CONNS keep-alive
        connections bound round-robin to the comma-separated SRCIPS, all
        firing at Unix time START
  http IP PORT SRCIP PIPELINE REQS_JSON
        one keep-alive connection from SRCIP; REQS_JSON is a list of
        {"method","path","headers":{...},"body"}; PIPELINE=1 sends them all in
        one write; returns each answer's status, headers and body
"""
import json
import socket
import struct
import sys
import time

TIMEOUT_S = 5


def request(path="/healthz", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: seckill\r\nUser-Agent: nsclient\r\n%s\r\n"
            % (path, extra)).encode()


def read_response(sock, buf):
    """One HTTP response from sock (buf holds bytes already read).
    Returns (status, headers, body, rest); raises EOFError on a short read."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside the headers: %r" % buf)
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    need = int(headers.get("content-length", "0"))
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside the body")
        buf += chunk
    return status, headers, buf[:need].decode("latin-1"), buf[need:]


def connect(ip, port):
    s = socket.create_connection((ip, port), timeout=TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_close(s):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, "reset"


def cmd_pipeline(ip, port):
    paths = ["/healthz", "/healthz", "/healthz", "/"]
    s = connect(ip, port)
    s.sendall(b"".join(request(p) for p in paths))
    out, buf = [], b""
    for _ in paths:
        status, headers, body, buf = read_response(s, buf)
        out.append([status, body])
    s.sendall(request("/healthz", "Connection: close\r\n"))
    status, headers, body, buf = read_response(s, buf)
    rest, closed = read_until_close(s)
    return {"answers": out, "last": [status, headers.get("connection", "")],
            "extra_bytes": len(buf) + len(rest), "closed": closed}


def cmd_bytewise(ip, port):
    req = request("/healthz", "Connection: close\r\n")
    s = connect(ip, port)
    for i in range(len(req)):
        s.send(req[i:i + 1])
        time.sleep(0.003)      # let each byte leave as its own segment
    status, headers, body, buf = read_response(s, b"")
    rest, closed = read_until_close(s)
    return {"status": status, "body": body, "bytes": len(req), "closed": closed}


def cmd_raw(ip, port, hexdata):
    s = connect(ip, port)
    s.sendall(bytes.fromhex(hexdata))
    data, closed = read_until_close(s)
    return {"data": data.decode("latin-1"), "closed": closed}


def cmd_many(ip, port, n, mode):
    extra = "Connection: close\r\n" if mode == "close" else ""
    req = request("/healthz", extra)
    ok = fail = 0
    errors = {}
    t0 = time.time()
    for _ in range(int(n)):
        try:
            s = connect(ip, port)
            s.sendall(req)
            status, headers, body, buf = read_response(s, b"")
            if mode == "close":
                rest, closed = read_until_close(s)   # the server closes first
                if closed is not True:
                    raise EOFError("server did not close after Connection: close")
            s.close()
            if status == 200:
                ok += 1
            else:
                fail += 1
                errors["status %d" % status] = errors.get("status %d" % status, 0) + 1
        except (OSError, EOFError) as e:
            fail += 1
            key = type(e).__name__
            errors[key] = errors.get(key, 0) + 1
    return {"ok": ok, "fail": fail, "errors": errors, "seconds": round(time.time() - t0, 2)}


def cmd_shrink(ip, port, n, stall_s, read_s):
    """n pipelined GET / from a client whose receive buffer shrinks to 4 KB
    after the handshake (Linux then drops data it had a window for), which
    stalls stall_s seconds before reading for at most read_s seconds."""
    n, stall_s, read_s = int(n), float(stall_s), float(read_s)
    s = connect(ip, port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(request("/") * n)
    time.sleep(stall_s)
    s.settimeout(read_s)
    data, t0 = b"", time.time()
    try:
        while data.count(b"HTTP/1.1 200 ") < n or not data.endswith(b"</html>\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return {"answers": data.count(b"HTTP/1.1 200 "), "seconds": round(time.time() - t0, 2)}


# -- vanish: TCP by hand over AF_PACKET ------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp_frame(src_mac, dst_mac, sip, dip, sport, dport, seq, ack, flags, payload=b""):
    sip_b, dip_b = socket.inet_aton(sip), socket.inet_aton(dip)
    opts = struct.pack("!BBH", 2, 4, 1460) if flags & 0x02 else b""
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 64240, 0, 0)
    tcp += opts + payload
    pseudo = sip_b + dip_b + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip_b, dip_b)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def parse_tcp(frame, ghost, sport):
    """(seq, ack, flags, payload_len) of a segment for ghost:sport, else None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0f) * 4
    if frame[30:34] != socket.inet_aton(ghost):
        return None
    t = frame[14 + ihl:]
    dport = struct.unpack("!H", t[2:4])[0]
    if dport != sport:
        return None
    seq, ack = struct.unpack("!II", t[4:12])
    tot = struct.unpack("!H", frame[16:18])[0]
    return seq, ack, t[13], tot - ihl - (t[12] >> 4) * 4


def wait_seg(sock, ghost, sport, pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        sock.settimeout(max(0.01, end - time.time()))
        try:
            frame = sock.recv(65536)
        except socket.timeout:
            break
        seg = parse_tcp(frame, ghost, sport)
        if seg and pred(seg):
            return seg
    return None


def cmd_vanish(ifname, dp_mac, ghost, ip, port, watch_s):
    port, watch_s = int(port), float(watch_s)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sock.bind((ifname, 0))
    my_mac = sock.getsockname()[4]
    dmac = bytes.fromhex(dp_mac.replace(":", ""))
    sport, isn = 40000 + int(time.time()) % 20000, 1000000
    half = request("/healthz")[:20]

    sock.send(tcp_frame(my_mac, dmac, ghost, ip, sport, port, isn, 0, 0x02))
    synack = wait_seg(sock, ghost, sport, lambda s: s[2] & 0x12 == 0x12, 3)
    if synack is None:
        return {"synack": False}
    srv = synack[0] + 1
    sock.send(tcp_frame(my_mac, dmac, ghost, ip, sport, port, isn + 1, srv, 0x18, half))
    acked = wait_seg(sock, ghost, sport, lambda s: s[1] == isn + 1 + len(half), 3)
    # From here on we are gone: nothing we own will ever answer for ghost.
    t0 = time.time()
    seen = []
    while time.time() - t0 < watch_s:
        seg = wait_seg(sock, ghost, sport, lambda s: True, watch_s - (time.time() - t0))
        if seg is None:
            break
        seen.append({"flags": seg[2], "len": seg[3], "after_s": round(time.time() - t0, 2)})
        if seg[2] & 0x04:
            break
    return {"synack": True, "data_acked": acked is not None, "half_bytes": len(half),
            "after": seen}


# -- the sale: race and single requests ---------------------------------------

RACE_RETRIES = 50          # a 503 (stock in motion, paused) is tried again
RACE_RETRY_S = 0.05        # sooner than Retry-After: the test has a deadline


def buy_request(campaign, token, body=b"{}"):
    return (b"POST /api/campaigns/%d/orders HTTP/1.1\r\nHost: seckill\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (campaign, token.encode(), len(body), body))


async def aread_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body.decode("latin-1")


async def race_conn(ip, port, src, campaign, queue, out, start_at):
    import asyncio
    reader, writer = await asyncio.open_connection(ip, port, local_addr=(src, 0))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    try:
        while queue:
            token = queue.pop()
            t0 = time.monotonic()
            for attempt in range(RACE_RETRIES):
                writer.write(buy_request(campaign, token))
                status, headers, body = await aread_response(reader)
                if status != 503:
                    break
                out["retried_503"][json.loads(body)["error"]] = \
                    out["retried_503"].get(json.loads(body)["error"], 0) + 1
                await asyncio.sleep(RACE_RETRY_S)
            out["lat_us"].append(int((time.monotonic() - t0) * 1e6))
            key = str(status)
            out["status"][key] = out["status"].get(key, 0) + 1
            code = json.loads(body).get("error", "ok")
            out["codes"][code] = out["codes"].get(code, 0) + 1
            if status == 200:
                out["orders"].append([int(token.split(".")[1]), json.loads(body)["order_id"]])
    finally:
        writer.close()


def cmd_race(ip, port, campaign, tokfile, first, count, srcips, conns, start_at):
    import asyncio
    port, first, count, conns, campaign = int(port), int(first), int(count), int(conns), int(campaign)
    with open(tokfile) as f:
        tokens = f.read().split()[first:first + count]
    srcs = srcips.split(",")
    out = {"status": {}, "codes": {}, "orders": [], "retried_503": {}, "conn_errors": {},
           "lat_us": []}
    queue = list(reversed(tokens))

    async def main():
        tasks = [race_conn(ip, port, srcs[i % len(srcs)], campaign, queue, out, float(start_at))
                 for i in range(conns)]
        for r in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(r, BaseException):
                k = type(r).__name__
                out["conn_errors"][k] = out["conn_errors"].get(k, 0) + 1
    t0 = time.time()
    asyncio.run(main())
    out["seconds"] = round(time.time() - max(t0, float(start_at)), 2)
    out["unsent"] = len(queue)
    return out


def cmd_http(ip, port, src, pipeline, reqs_json):
    reqs = json.loads(reqs_json)
    s = socket.create_connection((ip, int(port)), timeout=TIMEOUT_S, source_address=(src, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw = []
    for r in reqs:
        body = r.get("body", "").encode()
        head = "%s %s HTTP/1.1\r\nHost: seckill\r\n" % (r["method"], r["path"])
        for k, v in r.get("headers", {}).items():
            head += "%s: %s\r\n" % (k, v)
        if r["method"] == "POST":
            head += "Content-Length: %d\r\n" % len(body)
        raw.append(head.encode() + b"\r\n" + body)
    answers, buf = [], b""
    if pipeline == "1":
        s.sendall(b"".join(raw))
    for data in raw:
        if pipeline != "1":
            s.sendall(data)
        status, headers, body, buf = read_response(s, buf)
        answers.append({"status": status, "body": body,
                        "retry_after": headers.get("retry-after"),
                        "www_authenticate": headers.get("www-authenticate"),
                        "allow": headers.get("allow")})
    s.close()
    return answers


COMMANDS = {"race": cmd_race, "http": cmd_http, "pipeline": cmd_pipeline, "bytewise": cmd_bytewise, "raw": cmd_raw,
            "many": cmd_many, "vanish": cmd_vanish, "shrink": cmd_shrink}

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd in ("pipeline", "bytewise", "raw", "many", "shrink"):
        args[1] = int(args[1])
    print(json.dumps(COMMANDS[cmd](*args)))
