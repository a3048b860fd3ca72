#!/usr/bin/env python3
"""test_install.py - `meson install --destdir` puts the programs, the systemd
units and the example settings where they belong, and systemd accepts the
units.

    test_install.py BUILD_DIR

The units are checked with `systemd-analyze verify` (when present): nothing
may be reported but the programs' absence at their final paths (they are
under the destdir, not installed for real).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

failed = 0


def check(cond, what):
    global failed
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    failed += 0 if cond else 1


def main():
    build = sys.argv[1]
    dest = tempfile.mkdtemp(prefix="seckill-install-")
    try:
        r = subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild",
                            "--quiet"], capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "meson install --destdir (%s)" % (r.stdout + r.stderr)[-500:])
        files = {os.path.relpath(p, dest) for p in glob.glob(dest + "/**", recursive=True)
                 if os.path.isfile(p)}

        def find(suffix):
            return [f for f in files if f.endswith(suffix)]
        for prog in ("seckill-dp", "seckill-orders", "seckillctl", "seckill-journal"):
            check(len(find("/bin/" + prog)) == 1, "installs bin/%s" % prog)
        units = find("/lib/systemd/system/seckill-dp@.service") + \
            find("/lib/systemd/system/seckill-orders.service")
        check(len(units) == 2, "installs the units: %s" % units)
        for ex in ("seckill-dp.conf.example", "seckill-orders.conf.example"):
            check(len(find("/seckill/" + ex)) == 1, "installs etc/seckill/%s" % ex)
        for u in units:
            text = open(os.path.join(dest, u)).read()
            check("@" not in re.sub(r"(seckill-dp@|%i)", "", text.split("[Unit]", 1)[1]),
                  "%s: every @path@ filled in" % os.path.basename(u))
        if shutil.which("systemd-analyze") and units:
            r = subprocess.run(["systemd-analyze", "verify"] +
                               [os.path.join(dest, u) for u in units],
                               capture_output=True, text=True, timeout=60)
            other = [l for l in (r.stdout + r.stderr).splitlines()
                     if l.strip() and "is not executable" not in l]
            check(other == [], "systemd-analyze verify: %s" % other)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    print("FAIL" if failed else "PASS")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
