#!/usr/bin/env python3
"""test_config.py - --config FILE for seckill-dp and seckill-orders, and the
commented examples under etc/.

    test_config.py NAME PROGRAM EXAMPLE

- the example and PROGRAM's --help list the same options, both directions
  (--help and --config themselves aside): a setting added to one and not
  the other fails here;
- a file's mistakes are errors at start (exit 2) that name the file and the
  line: an unknown key, a key without the value it needs, a bad value; a
  missing file names the file;
- every line of the example, uncommented, is a setting the program accepts
  (only for seckill-dp, whose options are all parsed before anything starts:
  the file with `ip` and the example's values parses up to the sale's key).
"""
import os
import re
import subprocess
import sys
import tempfile

HELP_OPT = re.compile(r"^  --([a-z][a-z0-9-]*)\b")     # an option's line, not an example's
EXAMPLE_OPT = re.compile(r"^#?([a-z][a-z0-9-]*)(?:\s|$)")
failed = 0


def check(cond, what):
    global failed
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    failed += 0 if cond else 1


def help_options(prog):
    r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
    opts = {m.group(1) for line in r.stdout.splitlines() if (m := HELP_OPT.match(line))}
    return opts - {"help", "config"}


def example_options(path):
    """Setting lines: `key value` or `#key value` (no blank after '#'; prose
    comments are `# ...`)."""
    keys = set()
    for line in open(path):
        if line.startswith("# ") or line.strip() in ("", "#"):
            continue
        m = EXAMPLE_OPT.match(line)
        if m:
            keys.add(m.group(1))
    return keys


def run_with(prog, name, text, *extra):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text)
    try:
        argv = [prog] + (["--"] if name == "seckill-dp" else []) + ["--config", f.name]
        r = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=30)
        return r, f.name
    finally:
        os.unlink(f.name)


def main():
    name, prog, example = sys.argv[1], sys.argv[2], sys.argv[3]
    h, e = help_options(prog), example_options(example)
    check(len(h) > 5, "%s --help lists options (%d)" % (name, len(h)))
    check(h - e == set(), "every option of --help is in %s (missing: %s)"
          % (os.path.basename(example), sorted(h - e)))
    check(e - h == set(), "every setting of %s is an option of --help (unknown: %s)"
          % (os.path.basename(example), sorted(e - h)))

    r, path = run_with(prog, name, "# a comment\n\nno-such-thing 1\n")
    check(r.returncode == 2 and "%s line 3: unknown setting 'no-such-thing'" % path in r.stderr,
          "an unknown key: exit 2 naming the file and line (%s)" % r.stderr.strip())
    r, path = run_with(prog, name, "batch\n" if name == "seckill-orders" else "port\n")
    check(r.returncode == 2 and "line 1:" in r.stderr and "needs a value" in r.stderr,
          "a key without its value: exit 2 (%s)" % r.stderr.strip())
    r = subprocess.run([prog] + (["--"] if name == "seckill-dp" else []) +
                       ["--config", "/nonexistent/x.conf"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 2 and "/nonexistent/x.conf" in r.stderr,
          "a missing file: exit 2 naming it (%s)" % r.stderr.strip())
    if name == "seckill-dp":
        r, path = run_with(prog, name, "ip 198.18.0.1\n# the port\nport 0\n")
        check(r.returncode == 2 and "%s line 3: --port '0'" % path in r.stderr,
              "a bad value: exit 2 naming the file and line (%s)" % r.stderr.strip())
        r, path = run_with(prog, name, "ip 198.18.0.1\nport 8080\n", "--port", "0")
        check(r.returncode == 2 and "--port '0'" in r.stderr and path not in r.stderr,
              "the command line is parsed after the file (%s)" % r.stderr.strip())
        # Every example line, uncommented: the options parse; the sale then
        # wants its key file, which the example only names.
        text = "".join(l[1:] if re.match(r"^#[a-z]", l) else l for l in open(example))
        r, _ = run_with(prog, name, text)
        check(r.returncode == 2 and "--token-key" in r.stderr,
              "the example, uncommented, parses up to the key file (%s)" % r.stderr.strip())
    else:
        r, _ = run_with(prog, name, "quiet yes\n")
        check(r.returncode == 2 and "takes no value" in r.stderr,
              "a flag with a value: exit 2 (%s)" % r.stderr.strip())
        r, _ = run_with(prog, name, "batch 0\n")
        check(r.returncode == 2 and "--batch '0'" in r.stderr,
              "a bad value in the file: exit 2 (%s)" % r.stderr.strip())
    print("%s: %s" % (name, "FAIL" if failed else "PASS"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
