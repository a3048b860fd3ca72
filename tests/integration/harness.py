"""harness.py - drive the real seckill-dp with real kernel clients.

Every integration test is a script built on this module:

    with Dataplane(dp_args=["--idle-timeout", "1000"]) as dp:
        out = dp.ns(["curl", "-s", dp.url("/healthz")])
    c = dp.counters            # the exit table of seckill-dp, after SIGINT

Dataplane brings up a private client namespace and veth pair with
tools/netns (names unique to this process, so tests can run next to a person's
own `tools/netns up`), starts seckill-dp through tools/serve in the foreground
with an idle back-off, waits until GET /healthz answers from inside the
namespace, and on exit stops it with SIGINT, parses the counters it prints, and
always removes the namespace. The probes it made itself are counted
(probe_conns, probe_requests) so tests can assert exact totals.

Environment: SECKILL_BUILD (build directory, default ./build), SECKILL_NS,
SECKILL_DP_IF, SECKILL_CL_IF, SECKILL_DP_IP, SECKILL_CL_IP (names and
addresses; unique defaults per process). Needs root; exits 77 (meson: skip)
without it.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77                      # meson's "skipped" exit code
READY_TIMEOUT_S = 30           # EAL start + port start + first answer
STOP_TIMEOUT_S = 20            # SIGINT to exit, counters printed
SETTLE_S = 0.5                 # last client segments reach the dataplane before SIGINT
# The back-off cap the tests run with: idle cores must not starve the compilers
# and the clients that share this 2-CPU machine.
IDLE_SLEEP_US = "200"


class TestFailure(Exception):
    pass


def check(cond, what):
    """Fails the test with `what` unless cond holds."""
    if not cond:
        raise TestFailure(what)
    print("ok:", what, flush=True)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))
    print("ok: %s == %r" % (what, want), flush=True)


def _names(host=0):
    """Interface and namespace names: env overrides, else unique to this pid.
    A further host (host > 0, for tests that run several dataplanes side by
    side) always gets its own names, suffixed h<host>."""
    tag = "%d" % (os.getpid() % 100000) + ("h%d" % host if host else "")
    env = os.environ if not host else {}
    return {
        "SECKILL_NS": env.get("SECKILL_NS", "seckill-it" + tag),
        "SECKILL_DP_IF": env.get("SECKILL_DP_IF", "skd" + tag),
        "SECKILL_CL_IF": env.get("SECKILL_CL_IF", "skc" + tag),
        "SECKILL_DP_IP": os.environ.get("SECKILL_DP_IP", "198.18.0.1"),
        "SECKILL_CL_IP": os.environ.get("SECKILL_CL_IP", "198.18.0.2"),
    }


def require_root_and_tools(*tools):
    if os.geteuid() != 0:
        print("skip: integration tests need root (network namespaces, af_packet)")
        sys.exit(SKIP)
    missing = [t for t in ("ip", "ethtool") + tools if shutil.which(t) is None]
    if missing:
        print("skip: missing %s; run tools/deps" % " ".join(missing))
        sys.exit(SKIP)


def parse_counters(lines, per_core=None):
    """{name: total} from seckill-dp's exit table (also gauge.* lines); when
    per_core is a dict, it gets {name: [value of each worker lcore]}."""
    out, inside = {}, False
    for line in lines:
        if line.startswith("seckill-dp: final counters"):
            inside = True
            continue
        if line.startswith("seckill-dp: end of counters"):
            break
        m = re.match(r"^([a-z0-9_]+\.[a-z0-9_]+)((?:\s+\d+)+)\s*$", line)
        if inside and m:
            values = [int(v) for v in m.group(2).split()]
            out[m.group(1)] = values[0]
            if per_core is not None:
                per_core[m.group(1)] = values[1:]
    return out


class Dataplane:
    def __init__(self, dp_args=(), workers=1, build=None, host=0):
        self.env = dict(os.environ, **_names(host))
        self.ns_name = self.env["SECKILL_NS"]
        self.ip = self.env["SECKILL_DP_IP"]
        self.dp_if = self.env["SECKILL_DP_IF"]
        self.cl_if = self.env["SECKILL_CL_IF"]
        self.build = build or os.environ.get("SECKILL_BUILD", os.path.join(ROOT, "build"))
        self.dp_args = ["--idle-sleep-us", IDLE_SLEEP_US] + list(dp_args)
        self.workers = workers
        self.proc = None
        self.lines = []
        self.counters = None
        self.exit_code = None
        self.probe_conns = 0
        self.probe_requests = 0

    # -- helpers for tests -------------------------------------------------
    def url(self, path="/"):
        return "http://%s%s" % (self.ip, path)

    def ns(self, argv, timeout=60, check_rc=True, **kw):
        """Runs argv inside the client namespace; CompletedProcess (text)."""
        r = subprocess.run(["ip", "netns", "exec", self.ns_name] + list(argv),
                           capture_output=True, timeout=timeout, **kw)
        # Decoded by hand: text=True would turn HTTP's \r\n into \n.
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        if check_rc and r.returncode != 0:
            raise TestFailure("%s exited %d: %s%s" % (" ".join(argv), r.returncode,
                                                      r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def ns_python(self, code, *args, timeout=120):
        """Runs a Python 3 snippet inside the namespace; its stdout."""
        return self.ns([sys.executable, "-c", code] + [str(a) for a in args],
                       timeout=timeout).stdout

    def client(self, cmd, *args, timeout=300):
        """Runs an nsclient.py command in the namespace; its JSON result."""
        out = self.ns_python_file(os.path.join(HERE, "nsclient.py"), cmd, *args, timeout=timeout)
        print("client %s: %s" % (cmd, out.strip()[:500]), flush=True)
        return json.loads(out)

    def ns_python_file(self, path, *args, timeout=120):
        return self.ns([sys.executable, path] + [str(a) for a in args], timeout=timeout).stdout

    def add_client_ips(self, ips):
        """Gives the namespace's interface more addresses, to send from."""
        for ip in ips:
            self.ns(["ip", "addr", "add", "%s/24" % ip, "dev", self.cl_if])

    def ns_popen(self, argv, **kw):
        """Starts argv inside the client namespace; a Popen with stdout piped."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns_name] + list(argv),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def http(self, src, reqs, pipeline=False):
        """nsclient http: the answers to reqs on one connection from src."""
        return self.client("http", self.ip, 80, src, "1" if pipeline else "0", json.dumps(reqs))

    def ctl_socket(self):
        """The control socket tools/serve gives this dataplane (file prefix seckill-<if>)."""
        return "/run/seckill/seckill-%s.sock" % self.dp_if

    def ctl_json(self, *args):
        """seckillctl ARGS --json against this dataplane; the answer, parsed."""
        return json.loads(seckillctl(*(args + ("--socket", self.ctl_socket(), "--json"))))

    def dp_mac(self):
        with open("/sys/class/net/%s/address" % self.dp_if) as f:
            return f.read().strip()

    def output(self):
        return "".join(self.lines)

    # -- life cycle ---------------------------------------------------------
    def _tool(self, *argv, check_rc=True):
        r = subprocess.run([os.path.join(ROOT, "tools", argv[0])] + list(argv[1:]),
                           env=self.env, capture_output=True, text=True, timeout=60)
        if check_rc and r.returncode != 0:
            raise TestFailure("tools/%s failed: %s%s" % (" ".join(argv), r.stdout, r.stderr))
        return r

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if os.environ.get("SECKILL_VERBOSE"):
                sys.stdout.write("dp| " + line)

    def _probe(self):
        """One GET /healthz from the namespace; True on a 200."""
        r = self.ns(["curl", "-s", "-o", "/dev/null", "-m", "1",
                     "-w", "%{http_code} %{num_connects}", self.url("/healthz")],
                    check_rc=False, timeout=10)
        parts = r.stdout.split()
        if len(parts) == 2:
            self.probe_conns += int(parts[1])
            if parts[0] != "000":
                self.probe_requests += 1
        return parts[:1] == ["200"]

    def start(self):
        self._tool("netns", "up")
        argv = [os.path.join(ROOT, "tools", "serve"), "--workers", str(self.workers),
                "--build", self.build, "--"] + self.dp_args
        print("starting:", " ".join(argv), flush=True)
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._reader, daemon=True).start()
        deadline = time.time() + READY_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise TestFailure("seckill-dp exited %d while starting:\n%s"
                                  % (self.proc.returncode, self.output()))
            # Probe only once it polls: a SYN queued in the port before that
            # would be answered after its client gave up, and reset.
            if "seckill-dp: serving " in self.output() and self._probe():
                print("ready: %s answers /healthz" % self.ip, flush=True)
                return self
            time.sleep(0.2)
        raise TestFailure("no answer to GET /healthz within %d s:\n%s"
                          % (READY_TIMEOUT_S, self.output()))

    def stop(self):
        """SIGINT, wait, parse the exit counters. Idempotent."""
        if self.proc is None or self.exit_code is not None:
            return
        if self.proc.poll() is None:
            # The clients' last segments (a FIN or RST at their exit) may still
            # be in the kernel's backlog; let the dataplane see them first.
            time.sleep(SETTLE_S)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        time.sleep(0.1)          # let the reader thread take the last lines
        self.exit_code = self.proc.returncode
        self.per_core = {}
        self.counters = parse_counters(self.lines, self.per_core)
        self.remove_runtime_dir()

    def file_prefix(self):
        """The EAL file prefix tools/serve gives this dataplane."""
        return "seckill-%s" % self.dp_if

    def remove_runtime_dir(self):
        """The EAL's /var/run/dpdk/<file prefix> (telemetry socket, config), which
        the process leaves behind; only once it has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            remove_dpdk_runtime_dir(self.file_prefix())

    def kill(self):
        """SIGKILL: a crash, no counters, nothing flushed by the dataplane."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.exit_code = self.proc.returncode
        self.counters = {}

    def cleanup(self):
        try:
            self.stop()
        finally:
            self.remove_runtime_dir()    # after a kill() too
            self._tool("netns", "down", check_rc=False)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- checks every test makes after stop() ------------------------------
    def check_clean_exit(self):
        check_eq(self.exit_code, 0, "seckill-dp exit code after SIGINT")
        check(len(self.counters) > 0, "seckill-dp printed its exit counters")
        c = self.counters
        check_eq(c.get("dp.tx_nombuf"), 0, "dp.tx_nombuf")
        check_eq(c.get("tcp.drop_table_full"), 0, "tcp.drop_table_full")
        check_eq(c.get("gauge.conns", -1) - c.get("gauge.time_wait", 0), 0,
                 "connections in use at exit apart from TIME_WAIT")

    def c(self, name):
        if name not in self.counters:
            raise TestFailure("no counter %s in the exit table:\n%s" % (name, self.output()))
        return self.counters[name]


def remove_dpdk_runtime_dir(prefix):
    """Removes /var/run/dpdk/<prefix>, the runtime dir a DPDK process run with
    --file-prefix <prefix> leaves behind (call it once that process exited)."""
    if prefix and "/" not in prefix and prefix not in (".", ".."):
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)


TCP_STATE_CLOSE, TCP_STATE_CLOSE_WAIT = 7, 8     # struct tcp_info.tcpi_state


def tcp_ended(s):
    """Whether the server ended socket s (RST or FIN), without reading its data."""
    import socket
    try:
        st = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return True
    return st in (TCP_STATE_CLOSE, TCP_STATE_CLOSE_WAIT)


class Prober:
    """A legitimate buyer beside an attack: curl GET /healthz from the
    namespace every period_s, in a thread, while the with-block runs. times:
    each answer's seconds, or None when it was not a 200 within 2 s."""

    def __init__(self, dp, period_s=0.5):
        self.dp, self.period_s, self.times = dp, period_s, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        while not self.stop.is_set():
            r = self.dp.ns(["curl", "-s", "-o", "/dev/null", "-m", "2", "-w",
                            "%{http_code} %{time_total}", self.dp.url("/healthz")],
                           check_rc=False)
            parts = r.stdout.split()
            ok = len(parts) == 2 and parts[0] == "200"
            self.times.append(float(parts[1]) if ok else None)
            self.stop.wait(self.period_s)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False


def wait_for(pred, timeout_s, what, step_s=0.2):
    """Polls pred() until it is true (returns its value) or fails the test after timeout_s."""
    deadline = time.time() + timeout_s
    while True:
        got = pred()
        if got:
            return got
        if time.time() > deadline:
            raise TestFailure("%s: not within %.0f s" % (what, timeout_s))
        time.sleep(step_s)


def build_dir():
    return os.environ.get("SECKILL_BUILD", os.path.join(ROOT, "build"))


def race(dp, tokfile, campaign, buyers, procs, conns, src_ips, start_delay_s, timeout_s):
    """Buyers race for a campaign: `procs` nsclient.py race processes in the
    namespace, each with `conns` keep-alive connections from its share of
    src_ips, all starting at one instant start_delay_s from now (so every
    connection is up before it), each buying with its slice of the tokens in
    tokfile (one per line). Returns each process's JSON result."""
    start_at = time.time() + start_delay_s
    per = buyers // procs
    running = []
    for p in range(procs):
        srcs = ",".join(src_ips[p::procs])
        running.append(dp.ns_popen([sys.executable, os.path.join(HERE, "nsclient.py"), "race",
                                    dp.ip, "80", str(campaign), tokfile, str(p * per), str(per),
                                    srcs, str(conns), "%.3f" % start_at]))
    results = []
    for p in running:
        out, err = p.communicate(timeout=timeout_s)
        if p.returncode != 0:
            raise TestFailure("race client exited %d: %s" % (p.returncode, err.decode()))
        results.append(json.loads(out))
    return results


def race_merge(results):
    """Adds up race results: (status counts, error codes, retried 503s by code,
    [buyer, order id] pairs, connection errors, latencies in us)."""
    status, codes, retried, orders, errors, lat = {}, {}, {}, [], {}, []
    for r in results:
        for d, src in ((status, r["status"]), (codes, r["codes"]), (retried, r["retried_503"]),
                       (errors, r["conn_errors"])):
            for k, v in src.items():
                d[k] = d.get(k, 0) + v
        orders += r["orders"]
        lat += r["lat_us"]
        print("client: %.2f s, %s, unsent %d" % (r["seconds"], r["status"], r["unsent"]))
    return status, codes, retried, orders, errors, lat


def seckillctl(*args):
    """Runs the build's seckillctl; its stdout (fails the test on an error)."""
    r = subprocess.run([os.path.join(build_dir(), "control", "seckillctl")] + list(args),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise TestFailure("seckillctl %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def sale_key(dirname):
    """A fresh operator key file in dirname (seckillctl token keygen); its path."""
    path = os.path.join(dirname, "token.key")
    with open(path, "w") as f:
        f.write(seckillctl("token", "keygen"))
    return path


def tokens_file(dirname, key, n):
    """Tokens for buyers 1..n (seckillctl token mint --count), one a line, in
    dirname/tokens, readable by the race clients in the namespace; its path."""
    path = os.path.join(dirname, "tokens")
    with open(path, "w") as f:
        f.write(seckillctl("token", "mint", "--key-file", key, "--buyer", "1",
                           "--count", str(n), "--ttl", "600"))
    os.chmod(dirname, 0o755)
    os.chmod(path, 0o644)
    return path


def journal_dump(journal_dir, acked=None):
    """[(seq, order_id, campaign, buyer, qty)] from seckill-journal, checking its count line;
    with a list as acked, appends the ack watermark (records delivered to Kafka) to it."""
    # Built in control/ since the control plane moved there.
    r = subprocess.run([os.path.join(build_dir(), "control", "seckill-journal"), journal_dir],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise TestFailure("seckill-journal %s exited %d: %s" % (journal_dir, r.returncode, r.stderr))
    lines = r.stdout.splitlines()
    m = re.match(r"^acked (\d+)$", lines[-1] if lines else "")
    if not m:
        raise TestFailure("seckill-journal: no 'acked N' line at the end: %r" % lines[-1:])
    if acked is not None:
        acked.append(int(m.group(1)))
    lines = lines[:-1]
    recs = []
    for line in lines[:-1]:
        m = re.match(r"^(\d+) ([0-9a-f-]{35}) campaign=(\d+) buyer=(\d+) time_ms=(\d+) qty=(\d+)$",
                     line)
        if not m:
            raise TestFailure("seckill-journal: unexpected line %r" % line)
        recs.append((int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)),
                     int(m.group(6))))
    check_eq(lines[-1], "records %d" % len(recs), "seckill-journal's count line")
    return recs


def run(test_fn, tools=()):
    """Runs test_fn(); prints PASS/FAIL and exits 0/1 (77 when skipped)."""
    require_root_and_tools("curl", *tools)
    # meson's timeout sends SIGTERM: unwind through the with-blocks, so the
    # dataplane is stopped and the namespace removed even then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name = os.path.basename(sys.argv[0])
    try:
        test_fn()
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        sys.exit(1)
    print("PASS", name, flush=True)
    sys.exit(0)
