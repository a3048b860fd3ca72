#!/usr/bin/env python3
"""seckillctl end to end: every subcommand, every usage error and failure,
exact output and exit codes (0 ok, 1 failure, 2 usage).

It also carries a 20-line SipHash-2-4 token minter, the reference a site's
login service can copy: tokens minted here must verify in seckillctl (and so
in the dataplane, which shares lib/sale/token.c), and the other way round.

    test_ctl.py PATH/TO/seckillctl
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

CTL = None
KEY_HEX = "000102030405060708090a0b0c0d0e0f"
T42 = "v1.42.1700000000.806f4e6caa6a4ab4"
MASK = (1 << 64) - 1


def siphash24(key16: bytes, msg: bytes) -> int:
    """SipHash-2-4, from the paper; key bytes as two little-endian words."""
    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & MASK

    k0, k1 = int.from_bytes(key16[:8], "little"), int.from_bytes(key16[8:], "little")
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1,
         0x6C7967656E657261 ^ k0, 0x7465646279746573 ^ k1]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & MASK; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK; v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK; v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)

    full = len(msg) // 8 * 8
    for i in range(0, full, 8):
        m = int.from_bytes(msg[i:i + 8], "little")
        v[3] ^= m; rounds(2); v[0] ^= m
    b = ((len(msg) & 0xFF) << 56) | int.from_bytes(msg[full:], "little")
    v[3] ^= b; rounds(2); v[0] ^= b
    v[2] ^= 0xFF; rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def mint(key_hex: str, buyer: int, expiry: int) -> str:
    signed = f"v1.{buyer}.{expiry}"
    return f"{signed}.{siphash24(bytes.fromhex(key_hex), signed.encode()):016x}"


def run(*args):
    p = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.key = self.write("key", KEY_HEX + "\n")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def usage(self, args, message, hint):
        """A usage error: exit 2, the exact message and the hint, nothing on stdout."""
        self.assertEqual(run(*args), (2, "", f"seckillctl: {message}\nTry '{hint}'.\n"))

    def failure(self, args, message):
        self.assertEqual(run(*args), (1, "", f"seckillctl: {message}\n"))


class TestReference(unittest.TestCase):
    def test_python_siphash_matches_paper_vector(self):
        self.assertEqual(siphash24(bytes(range(16)), bytes(range(15))), 0xA129CA6149BE45E5)

    def test_python_mint_matches_known_token(self):
        self.assertEqual(mint(KEY_HEX, 42, 1700000000), T42)


class TestTopLevel(Base):
    def test_help(self):
        for flag in ("--help", "-h", "help"):
            rc, out, err = run(flag)
            self.assertEqual((rc, err), (0, ""))
            self.assertTrue(out.startswith("Usage: seckillctl <group> <command> [options]\n"))
            self.assertIn("\n  token      Buyer tokens:", out)
            self.assertIn("Exit status: 0 success, 1 failure, 2 usage error.\n", out)

    def test_no_arguments_is_usage_error_with_help_on_stderr(self):
        rc, out, err = run()
        self.assertEqual((rc, out), (2, ""))
        self.assertTrue(err.startswith("Usage: seckillctl <group>"))

    def test_unknown_group(self):
        self.usage(["bogus"], "unknown command group 'bogus'", "seckillctl --help")


class TestTokenGroup(Base):
    def test_help(self):
        rc, out, err = run("token", "--help")
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("Usage: seckillctl token <command> [options]\n"))
        for cmd in ("\n  keygen\n", "\n  mint --key-file FILE --buyer ID",
                    "\n  verify --key-file FILE [--now UNIX] TOKEN\n"):
            self.assertIn(cmd, out)

    def test_no_command(self):
        rc, out, err = run("token")
        self.assertEqual((rc, out), (2, ""))
        self.assertTrue(err.startswith("Usage: seckillctl token <command>"))

    def test_unknown_command(self):
        self.usage(["token", "frob"], "unknown token command 'frob'", "seckillctl token --help")

    def test_command_help(self):
        for cmd in ("keygen", "mint", "verify"):
            rc, out, err = run("token", cmd, "--help")
            self.assertEqual((rc, err), (0, ""), cmd)
            self.assertTrue(out.startswith(f"Usage: seckillctl token {cmd}"), out)


class TestKeygen(Base):
    def test_prints_a_fresh_key_each_time(self):
        keys = set()
        for _ in range(3):
            rc, out, err = run("token", "keygen")
            self.assertEqual((rc, err), (0, ""))
            self.assertRegex(out, r"\A[0-9a-f]{32}\n\Z")
            keys.add(out)
        self.assertEqual(len(keys), 3)

    def test_key_works_for_mint_and_verify(self):
        _, key, _ = run("token", "keygen")
        path = self.write("fresh", key)
        rc, tok, err = run("token", "mint", "--key-file", path, "--buyer", "7", "--expiry", "4000000000")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(tok, mint(key.strip(), 7, 4000000000) + "\n")
        self.assertEqual(run("token", "verify", "--key-file", path, "--now", "3999999999", tok.strip()),
                         (0, "buyer=7 expiry=4000000000 expires_in=1s\n", ""))

    def test_rejects_arguments(self):
        self.usage(["token", "keygen", "extra"], "keygen: unexpected argument 'extra'",
                   "seckillctl token keygen --help")
        self.usage(["token", "keygen", "--buyer", "1"],
                   "keygen: option --buyer does not apply to keygen", "seckillctl token keygen --help")


class TestMint(Base):
    H = "seckillctl token mint --help"

    def test_known_answer(self):
        self.assertEqual(run("token", "mint", "--key-file", self.key, "--buyer", "42", "--expiry", "1700000000"),
                         (0, T42 + "\n", ""))
        self.assertEqual(run("token", "mint", "--key-file=" + self.key, "--buyer=42", "--expiry=1700000000"),
                         (0, T42 + "\n", ""))

    def test_matches_independent_minter(self):
        for buyer, expiry in ((1, 0), (18446744073709551615, 18446744073709551615), (1234567, 1800000000)):
            rc, out, _ = run("token", "mint", "--key-file", self.key, "--buyer", str(buyer), "--expiry", str(expiry))
            self.assertEqual((rc, out), (0, mint(KEY_HEX, buyer, expiry) + "\n"))

    def test_default_ttl_is_an_hour(self):
        before = int(time.time())
        rc, out, _ = run("token", "mint", "--key-file", self.key, "--buyer", "42")
        after = int(time.time())
        m = re.fullmatch(r"v1\.42\.(\d+)\.[0-9a-f]{16}\n", out)
        self.assertEqual(rc, 0)
        # One second of slack below: time(2)'s coarse clock (see test_ttl).
        self.assertTrue(before - 1 + 3600 <= int(m.group(1)) <= after + 3600)
        self.assertEqual(out.strip(), mint(KEY_HEX, 42, int(m.group(1))))

    def test_ttl(self):
        before = int(time.time())
        rc, out, _ = run("token", "mint", "--key-file", self.key, "--buyer", "42", "--ttl", "60")
        expiry = int(out.split(".")[2])
        self.assertEqual(rc, 0)
        # time(2) reads the kernel's coarse clock, which may still show the
        # last second just after Python's clock ticked over: one second slack.
        self.assertTrue(before - 1 + 60 <= expiry <= int(time.time()) + 60,
                        (before, expiry))

    def test_count_mints_consecutive_buyers(self):
        rc, out, err = run("token", "mint", "--key-file", self.key, "--buyer", "41", "--count", "3",
                           "--expiry", "1700000000")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "".join(mint(KEY_HEX, b, 1700000000) + "\n" for b in (41, 42, 43)))
        self.assertEqual(out.splitlines()[1], T42)
        # 20,000 in one process, as the load tests use them: distinct, each the reference's.
        rc, out, _ = run("token", "mint", "--key-file", self.key, "--buyer", "1", "--count", "20000",
                         "--expiry", "4000000000")
        lines = out.splitlines()
        self.assertEqual((rc, len(lines), len(set(lines))), (0, 20000, 20000))
        self.assertEqual(lines[19999], mint(KEY_HEX, 20000, 4000000000))
        # The last buyer id is reachable, one past it is not.
        rc, out, _ = run("token", "mint", "--key-file", self.key, "--buyer", "18446744073709551614",
                         "--count", "2", "--expiry", "5")
        self.assertEqual((rc, out.splitlines()[1]), (0, mint(KEY_HEX, 18446744073709551615, 5)))

    def test_count_usage_errors(self):
        k = ["--key-file", self.key, "--buyer", "1"]
        for n in ("0", "-1", "x", "10000001", "01"):
            with self.subTest(n=n):
                self.usage(["token", "mint", *k, "--count", n],
                           f"mint: --count '{n}' is not a number of tokens from 1 to 10000000", self.H)
        self.usage(["token", "mint", "--key-file", self.key, "--buyer", "18446744073709551615", "--count", "2"],
                   "mint: --buyer 18446744073709551615 --count 2 passes the last buyer id 18446744073709551615",
                   self.H)
        self.usage(["token", "verify", "--key-file", self.key, "--count", "2", T42],
                   "verify: option --count does not apply to verify", "seckillctl token verify --help")

    def test_usage_errors(self):
        k = ["--key-file", self.key]
        cases = [
            (["--buyer", "42"], "mint: --key-file is required"),
            (k, "mint: --buyer is required"),
            (k + ["--buyer", "0"], "mint: --buyer '0' is not a buyer id (decimal, 1 to 18446744073709551615)"),
            (k + ["--buyer", "042"], "mint: --buyer '042' is not a buyer id (decimal, 1 to 18446744073709551615)"),
            (k + ["--buyer", "-1"], "mint: --buyer '-1' is not a buyer id (decimal, 1 to 18446744073709551615)"),
            (k + ["--buyer", "18446744073709551616"],
             "mint: --buyer '18446744073709551616' is not a buyer id (decimal, 1 to 18446744073709551615)"),
            (k + ["--buyer", "4x"], "mint: --buyer '4x' is not a buyer id (decimal, 1 to 18446744073709551615)"),
            (k + ["--buyer", "1", "--ttl", "0"], "mint: --ttl '0' is not a number of seconds from 1 to 31536000"),
            (k + ["--buyer", "1", "--ttl", "31536001"],
             "mint: --ttl '31536001' is not a number of seconds from 1 to 31536000"),
            (k + ["--buyer", "1", "--ttl", "1h"], "mint: --ttl '1h' is not a number of seconds from 1 to 31536000"),
            (k + ["--buyer", "1", "--expiry", "soon"], "mint: --expiry 'soon' is not a Unix time in seconds"),
            (k + ["--buyer", "1", "--ttl", "5", "--expiry", "5"], "mint: give --ttl or --expiry, not both"),
            (k + ["--buyer", "1", "--buyer", "2"], "mint: --buyer given twice"),
            (k + ["--buyer", "1", "--bogus"], "mint: unknown option '--bogus'"),
            (k + ["--buyer", "1", "--now", "5"], "mint: option --now does not apply to mint"),
            (k + ["--buyer"], "mint: option '--buyer' needs a value"),
            (k + ["--buyer", "1", "extra"], "mint: unexpected argument 'extra'"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.usage(["token", "mint", *args], message, self.H)

    def test_key_file_failures(self):
        missing = os.path.join(self.dir.name, "nope")
        self.failure(["token", "mint", "--key-file", missing, "--buyer", "1"],
                  f"can't open key file {missing}: No such file or directory")
        short = self.write("short", "abcd\n")
        self.failure(["token", "mint", "--key-file", short, "--buyer", "1"],
                  f"key file {short}: key has 4 hex digits; expected 32 (make one with 'seckillctl token keygen')")
        zero = self.write("zero", "0" * 32 + "\n")
        self.failure(["token", "mint", "--key-file", zero, "--buyer", "1"],
                  f"key file {zero}: key is all zeros; make a random one with 'seckillctl token keygen'")
        crlf = self.write("crlf", KEY_HEX + "\r\n")
        self.failure(["token", "mint", "--key-file", crlf, "--buyer", "1"],
                  f"key file {crlf}: key has more than 32 hex digits, or something other than one newline after them")


class TestVerify(Base):
    H = "seckillctl token verify --help"

    def verify(self, *args):
        return run("token", "verify", "--key-file", self.key, *args)

    def test_valid(self):
        self.assertEqual(self.verify("--now", "1699999000", T42),
                         (0, "buyer=42 expiry=1700000000 expires_in=1000s\n", ""))
        self.assertEqual(self.verify("--now", "1699999999", T42),
                         (0, "buyer=42 expiry=1700000000 expires_in=1s\n", ""))

    def test_valid_now(self):
        tok = mint(KEY_HEX, 99, int(time.time()) + 100)
        rc, out, err = self.verify(tok)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"\Abuyer=99 expiry=\d+ expires_in=(99|100)s\n\Z")

    def test_expired_at_the_second_of_expiry(self):
        self.failure(["token", "verify", "--key-file", self.key, "--now", "1700000000", T42],
                  "verify: token expired 0 s ago: buyer=42 expiry=1700000000")
        before = int(time.time())
        rc, out, err = run("token", "verify", "--key-file", self.key, T42)
        # From a second before (time(2)'s coarse clock, see test_ttl).
        ago = [t - 1700000000 for t in range(before - 1, int(time.time()) + 1)]
        self.assertEqual((rc, out), (1, ""))
        self.assertIn(err, [f"seckillctl: verify: token expired {a} s ago: buyer=42 expiry=1700000000\n"
                            for a in ago])

    def test_bad_mac(self):
        forged = T42[:-1] + "5"
        self.failure(["token", "verify", "--key-file", self.key, "--now", "1", forged],
                  "verify: token has a bad MAC: not minted with this key, or altered "
                  "(it claims buyer=42 expiry=1700000000)")
        other = self.write("other", "f" * 32 + "\n")
        self.failure(["token", "verify", "--key-file", other, "--now", "1", T42],
                  "verify: token has a bad MAC: not minted with this key, or altered "
                  "(it claims buyer=42 expiry=1700000000)")
        self.failure(["token", "verify", "--key-file", self.key, "--now", "1", "v1.43" + T42[5:]],
                  "verify: token has a bad MAC: not minted with this key, or altered "
                  "(it claims buyer=43 expiry=1700000000)")

    def test_malformed(self):
        for tok in ("", "v1.42.1700000000", T42.upper(), "v1.042" + T42[5:], T42 + ".", "v2" + T42[2:]):
            with self.subTest(tok=tok):
                self.failure(["token", "verify", "--key-file", self.key, "--now", "1", tok],
                          "verify: token is malformed: expected v1.<buyer>.<expiry>.<16 lowercase hex digits>")

    def test_usage_errors(self):
        self.usage(["token", "verify", T42], "verify: --key-file is required", self.H)
        self.usage(["token", "verify", "--key-file", self.key], "verify: expected one TOKEN, got 0 arguments", self.H)
        self.usage(["token", "verify", "--key-file", self.key, T42, T42],
                   "verify: expected one TOKEN, got 2 arguments", self.H)
        self.usage(["token", "verify", "--key-file", self.key, "--now", "-5", T42],
                   "verify: --now '-5' is not a Unix time in seconds", self.H)
        self.usage(["token", "verify", "--key-file", self.key, "--ttl", "5", T42],
                   "verify: option --ttl does not apply to verify", self.H)

    def test_key_file_failure(self):
        missing = os.path.join(self.dir.name, "nope")
        self.failure(["token", "verify", "--key-file", missing, T42],
                  f"can't open key file {missing}: No such file or directory")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_ctl.py PATH/TO/seckillctl [unittest args]")
    CTL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
