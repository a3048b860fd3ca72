#!/usr/bin/env python3
"""nsbuyers.py - buyers who keep trying through a dataplane's crash, run in
the client namespace by the crash tests (test_sale_durable.py,
test_sale_kill.py).

  nsbuyers.py arrive IP PORT CAMPAIGN TOKFILE FIRST COUNT SRCIPS CONNS SPREAD_S DEADLINE_S
      COUNT buyers (tokens FIRST.. of TOKFILE, one a line) arriving evenly
      over SPREAD_S seconds, at most CONNS at a time, each on a connection of
      its own: a person pressing "buy" and pressing again until told yes or
      no. 200, 409 and 410 end a buyer; a 503, 429 or 404 (campaign not
      there yet, after a restart) is asked again after a moment; a
      connection that fails, is reset, or stays silent for READ_S (the
      dataplane was killed) is opened again. A buyer not done by DEADLINE_S
      gives up.
  nsbuyers.py flood IP PORT CAMPAIGN TOKFILE FIRST COUNT SRCIPS CONNS DEADLINE_S
      CONNS keep-alive connections buy as fast as the answers come, each
      buyer once, until the tokens run out or DEADLINE_S: many answers in
      flight at any instant, for killing the dataplane in the middle.

Every final answer is one JSON line on stdout as soon as it is read, flushed,
so what a buyer was told survives this process being stopped:
{"b": buyer, "s": status, "o": order id or error code, "t": seconds since
start}; a buyer that gave up has "s": 0. The last line is {"summary": {...}}
(attempts, connection errors by kind, retried answers by status).
"""
import asyncio
import json
import sys
import time

CONNECT_S = 1.0      # a SYN unanswered this long: the dataplane is down
READ_S = 3.0         # an answer this late: the dataplane died holding it
RETRY_S = 0.1        # after a 503/429/404 or a failed connection
FINAL = (200, 409, 410)

T0 = time.monotonic()
summary = {"attempts": 0, "conn_errors": {}, "retried": {}, "gave_up": 0}


def emit(buyer, status, what):
    print(json.dumps({"b": buyer, "s": status, "o": what,
                      "t": round(time.monotonic() - T0, 3)}), flush=True)


def count(d, k):
    d[k] = d.get(k, 0) + 1


def buy_request(campaign, token):
    return (b"POST /api/campaigns/%d/orders HTTP/1.1\r\nHost: seckill\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n{}" % (campaign, token.encode()))


async def read_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, json.loads(body) if body else {}


async def open_conn(ip, port, src):
    return await asyncio.wait_for(asyncio.open_connection(ip, port, local_addr=(src, 0)),
                                  CONNECT_S)


async def ask(reader, writer, campaign, token):
    """One buy on an open connection: (status, body)."""
    summary["attempts"] += 1
    writer.write(buy_request(campaign, token))
    return await asyncio.wait_for(read_answer(reader), READ_S)


def buyer_id(token):
    return int(token.split(".")[1])


def close(writer):
    if writer is not None:
        try:
            writer.transport.abort()
        except Exception:
            pass


async def one_buyer(ip, port, src, campaign, token, deadline, sem):
    """A person: asks until told yes or no, across failures."""
    async with sem:
        reader = writer = None
        while time.monotonic() < deadline:
            try:
                if writer is None:
                    reader, writer = await open_conn(ip, port, src)
                status, body = await ask(reader, writer, campaign, token)
            except (OSError, EOFError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                count(summary["conn_errors"], type(e).__name__)
                close(writer)
                reader = writer = None
                await asyncio.sleep(RETRY_S)
                continue
            if status in FINAL:
                emit(buyer_id(token), status, body.get("order_id", body.get("error")))
                close(writer)
                return
            count(summary["retried"], str(status))
            await asyncio.sleep(RETRY_S)
        close(writer)
        summary["gave_up"] += 1
        emit(buyer_id(token), 0, "gave_up")


async def arrive(ip, port, campaign, tokens, srcs, conns, spread_s, deadline_s):
    sem = asyncio.Semaphore(conns)
    deadline = T0 + deadline_s
    tasks = []
    for i, tok in enumerate(tokens):
        at = T0 + spread_s * i / max(1, len(tokens))
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        tasks.append(asyncio.ensure_future(
            one_buyer(ip, port, srcs[i % len(srcs)], campaign, tok, deadline, sem)))
    await asyncio.gather(*tasks)


async def flood_conn(ip, port, src, campaign, queue, deadline):
    reader = writer = None
    token = None
    while time.monotonic() < deadline:
        if token is None:
            if not queue:
                break
            token = queue.pop()
        try:
            if writer is None:
                reader, writer = await open_conn(ip, port, src)
            status, body = await ask(reader, writer, campaign, token)
        except (OSError, EOFError, asyncio.TimeoutError,
                asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            count(summary["conn_errors"], type(e).__name__)
            close(writer)
            reader = writer = None
            await asyncio.sleep(RETRY_S)
            continue
        if status in FINAL:
            emit(buyer_id(token), status, body.get("order_id", body.get("error")))
            token = None
        else:
            count(summary["retried"], str(status))
    close(writer)


async def flood(ip, port, campaign, tokens, srcs, conns, deadline_s):
    queue = list(reversed(tokens))
    await asyncio.gather(*[flood_conn(ip, port, srcs[i % len(srcs)], campaign, queue,
                                      T0 + deadline_s) for i in range(conns)])


def main():
    mode, ip, port, campaign, tokfile, first, n, srcs, conns = sys.argv[1:10]
    with open(tokfile) as f:
        tokens = f.read().split()[int(first):int(first) + int(n)]
    args = (ip, int(port), int(campaign), tokens, srcs.split(","), int(conns))
    if mode == "arrive":
        asyncio.run(arrive(*args, float(sys.argv[10]), float(sys.argv[11])))
    elif mode == "flood":
        asyncio.run(flood(*args, float(sys.argv[10])))
    else:
        sys.exit("nsbuyers.py: unknown mode %r" % mode)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
