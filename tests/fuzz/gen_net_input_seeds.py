#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_net_input (tests/fuzz/corpus/net_input/).

Each seed is a script in the harness's format (see fuzz_net_input.c): a byte
choosing the stack (0: SYN cookies when the backlog is full, 1: always), then
operations, each one op byte (low 3 bits mod 5: 0 RAW, 1 SEG, 2 HTTP, 3 TIME, 4 TXFAIL; bits 4-5 its
argument, e.g. the client), then the op's bytes. Run it again after changing
the format:  python3 tests/fuzz/gen_net_input_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'net_input')
SRV_MAC = bytes.fromhex('020000000001')
CLI_MAC = bytes.fromhex('020000000002')
SRV_IP = bytes([198, 18, 0, 1])
CLI_IP = bytes([198, 18, 0, 2])
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
MSS_OPT = bytes([2, 4, 0x05, 0xb4])


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(proto, l4, src=CLI_IP, dst=SRV_IP):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0, src, dst)
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + l4


def raw(frame, fix=0):
    """RAW op; fix: 0x10 fixes the IPv4 checksum, 0x30 the TCP one too."""
    return bytes([0 | fix]) + struct.pack('!H', len(frame)) + frame


def seg(client, flags, win=65535, opts=b'', data=b''):
    assert len(opts) % 4 == 0
    mode = (len(opts) // 4) << 4
    return (bytes([1 | client << 4, flags, mode]) + struct.pack('!H', win) + opts +
            struct.pack('!H', len(data)) + data)


def http(client, which, start=0, end=0):
    """Bytes start..end (0: to the end) of canned request number which."""
    return bytes([2 | client << 4, which, start, end])


def time(steps):
    return bytes([3, steps])


def txfail(n):
    return bytes([4, n])


def handshake(c):
    return seg(c, SYN, opts=MSS_OPT) + seg(c, ACK)


arp_req = (b'\xff' * 6 + CLI_MAC + b'\x08\x06' +
           struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, CLI_MAC, CLI_IP, b'\0' * 6, SRV_IP))
echo = struct.pack('!BBHHH', 8, 0, 0, 0x1234, 1) + b'ping payload'
echo = echo[:2] + struct.pack('!H', csum(echo)) + echo[4:]
icmp_req = SRV_MAC + CLI_MAC + b'\x08\x00' + ipv4(1, echo)
tcp_syn = struct.pack('!HHIIBBHHH', 40000, 80, 1000, 0, 0x60, SYN, 65535, 0, 0) + MSS_OPT
raw_syn = SRV_MAC + CLI_MAC + b'\x08\x00' + ipv4(6, tcp_syn)

seeds = {
    'syn': seg(0, SYN, opts=MSS_OPT),
    'handshake_get': handshake(0) + http(0, 0) + time(1) + seg(0, ACK),
    'handshake_get_close': handshake(0) + http(0, 1) + time(1) + seg(0, ACK) + seg(0, FIN | ACK),
    'pipelined_then_fin': handshake(1) + http(1, 2) + seg(1, ACK) + seg(1, FIN | ACK) + time(5),
    'post_split': handshake(2) + http(2, 3, 0, 40) + time(1) + http(2, 3, 40) + seg(2, ACK),
    'two_clients_bad_requests': handshake(0) + handshake(3) + http(0, 6) + http(3, 7) +
                                seg(0, ACK) + seg(3, ACK) + time(50),
    'rst_after_get': handshake(0) + http(0, 0) + seg(0, RST),
    'retransmit_then_timeout': handshake(0) + txfail(3) + http(0, 4) + time(60) + time(255) +
                               time(255) + seg(0, ACK),
    # The answer's only transmission finds no TX buffer: it must be retransmitted.
    'txfail_first_send': handshake(0) + txfail(1) + http(0, 0) + time(255) + time(255) +
                         time(255) + seg(0, ACK),
    # Canned requests 12-14: buyers 1-3 buy in campaign 1 (2 units: the third
    # is sold out); 15-17 the same in campaign 2 (not open); 8-11 GETs and a
    # forged token.
    'sale_buy_sellout': handshake(0) + http(0, 12) + seg(0, ACK) + http(0, 13) + seg(0, ACK) +
                        http(0, 14) + seg(0, ACK) + http(0, 12) + seg(0, ACK) + http(0, 8),
    'sale_not_open_and_bad': handshake(1) + http(1, 15) + seg(1, ACK) + http(1, 9) +
                             seg(1, ACK) + http(1, 10) + seg(1, ACK) + http(1, 11),
    'syn_options_all': seg(0, SYN, opts=MSS_OPT + bytes([1, 3, 3, 7, 1, 1, 4, 2, 1, 1, 8, 10]) +
                           bytes(8)),
    'arp_request': raw(arp_req),
    'icmp_echo': raw(icmp_req),
    'raw_syn_fixed_csum': raw(raw_syn, 0x30),
}

# The same conversations against the stack that always answers with a cookie.
for name in ('handshake_get', 'pipelined_then_fin', 'two_clients_bad_requests'):
    seeds['cookie_' + name] = bytes([1]) + seeds[name]
for name in list(seeds):
    if not name.startswith('cookie_'):
        seeds[name] = bytes([0]) + seeds[name]

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.remove(os.path.join(OUT, old))
for name, data in seeds.items():
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)
print('wrote %d seeds to %s' % (len(seeds), OUT))
