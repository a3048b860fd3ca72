#!/usr/bin/env python3
"""test_shrunk_window.py - recovery when the peer drops a whole flight.

A client shrinks its receive buffer after the handshake, pipelines 300
requests and stalls: Linux then drops segments it had advertised room for
(a shrunk window; RFC 9293 3.8.6.2.1 asks senders to be robust to it), the
same as losing a whole flight. Once the client reads, the server must resend
everything unacknowledged promptly, not one segment per backed-off RTO.

NOT registered in meson.build yet: it fails with lib/tcp as of this writing
(tcp_out_retransmit resends one segment per timeout and keeps snd_nxt, so the
rest of the flight waits for further RTOs; pure ACKs carry seq = snd_nxt,
beyond the peer's window, and Linux discards them). Register it once fixed.

Run by hand (root): tests/integration/test_shrunk_window.py  (SECKILL_BUILD=build dir)
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
