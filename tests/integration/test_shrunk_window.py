#!/usr/bin/env python3
"""test_shrunk_window.py - recovery when the peer drops a whole flight.

A client shrinks its receive buffer after the handshake, pipelines 300
requests and stalls: Linux then drops segments it had advertised room for
(a shrunk window; RFC 9293 3.8.6.2.1 asks senders to be robust to it), the
same as losing a whole flight. Once the client reads, the server must resend
everything unacknowledged promptly, not one segment per backed-off RTO.

It guards lib/tcp/tcp_output.c: a retransmission timeout goes back to
snd_una and each ACK of resent data lets the next segments out at once, and
ACK-only segments carry a sequence number inside the peer's window, so that
Linux does not discard them (tests/unit/test_tcp_recovery.c checks the same
rules segment by segment).

Run (root): meson test -C BUILD integration_shrunk_window (it is in
tests/integration/meson.build), or by hand: tests/integration/test_shrunk_window.py
with SECKILL_BUILD=BUILD.
"""
import harness
from harness import check, check_eq

REQUESTS = 300
STALL_S = 3
READ_S = 8           # a Linux sender needs well under a second here


def test():
    with harness.Dataplane() as dp:
        r = dp.client("shrink", dp.ip, 80, REQUESTS, STALL_S, READ_S, timeout=60)
    check_eq(r["answers"], REQUESTS, "answers read within %d s of reading" % READ_S)
    check(r["seconds"] < 3, "read in %.2f s (< 3 s)" % r["seconds"])
    dp.check_clean_exit()


if __name__ == "__main__":
    harness.run(test)
