#!/usr/bin/env python3
"""hfitop against an API server that answers badly on purpose.

A Kubernetes API server of our own (http.server + ssl, HTTP/1.1 over TLS on
127.0.0.1 only) with one mode per kind of hostility: terminal escapes in
names and bodies, server numbers that overflow, endless answers, lists that
ignore `limit` or never end, watches that end at once or answer 410, bad
local input. Every case runs the sanitizer build of hfitop as a child and
checks its exit code, that no raw control byte reached its output, its peak
RSS (getrusage of the child, via wait4) and how many requests it made.

Every stream the server sends is bounded in bytes and time, and the server
stops with the test. Usage: hostile_test.py HFITOP [CASE...]
"""
import http.server
import json
import os
import re
import signal
import socketserver
import ssl
import subprocess
import sys
import tempfile
import termios
import threading
import time
import pty

NS = "hostile"
MB = 1 << 20
# Peak RSS bounds, in KB, for the sanitizer build (ASan's shadow and a
# small quarantine included).
RSS_BOUND_KB = 400 * 1024
# A child is killed when its RSS passes this, so a regression fails the
# test instead of taking the machine's memory.
RSS_KILL_KB = 1200 * 1024

results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}")


# ---------------------------------------------------------------------------
# output checks

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def raw_controls(data: bytes):
    """The first raw control character in data (what a terminal obeys), or None."""
    for b in data:
        if (b < 0x20 and b not in (0x0A, 0x09)) or b == 0x7F:
            return f"byte 0x{b:02x}"
    text = data.decode("utf-8", "replace")
    for ch in text:
        if 0x80 <= ord(ch) <= 0x9F:
            return f"C1 control U+{ord(ch):04X}"
    m = BIDI.search(text)
    if m:
        return f"bidi control U+{ord(m.group()):04X}"
    return None


# ---------------------------------------------------------------------------
# the server

def pod(name, *, phase="Running", sidecar=True, restarts=0, rs="web-5d8f7c9b4", rv="7", extra=None):
    containers = [{"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]}]
    if sidecar:
        containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0"})
    statuses = [{"name": c["name"], "ready": True, "restartCount": restarts} for c in containers]
    obj = {
        "metadata": {
            "name": name, "namespace": NS, "uid": "uid-" + str(abs(hash(name))), "resourceVersion": rv,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "5d8f7c9b4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "controller": True}],
        },
        "spec": {"containers": containers, "nodeName": "node-1"},
        "status": {"phase": phase, "podIP": "10.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": statuses},
    }
    if extra:
        obj["metadata"].update(extra)
    return obj


def pod_list(items, rv="7", cont=None):
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}


STATS = ("# TYPE wasmcustom_hfi_faults_aborts_total counter\n"
         "wasmcustom_hfi_faults_aborts_total 3\n"
         "# TYPE envoy_server_uptime gauge\nenvoy_server_uptime 100\n")


class Hostile:
    """What the server does, per case; the handler asks it."""

    def __init__(self):
        self.mode = "quiet"
        self.lock = threading.Lock()
        self.requests = []  # (time, method, kind, path)
        self.stop = threading.Event()

    def record(self, method, kind, path):
        with self.lock:
            self.requests.append((time.monotonic(), method, kind, path))

    def count(self, kind, since=0.0, until=None):
        with self.lock:
            return sum(1 for t, _, k, _ in self.requests if k == kind and t >= since and (until is None or t < until))

    def reset(self, mode):
        with self.lock:
            self.requests = []
        self.mode = mode


H = Hostile()


def classify(method, path):
    p = path.split("?", 1)[0]
    q = path.split("?", 1)[1] if "?" in path else ""
    if re.search(r"/pods/[^/]+/proxy/", p):
        return "scrape"
    if p.endswith("/pods"):
        return "watch" if re.search(r"(^|&)watch=(1|true)", q) else "list"
    if "/replicasets/" in p:
        return "replicaset"
    if p.endswith("/wasmplugins") or "/wasmplugins/" in p:
        return "wasmplugin"
    if p.endswith("/envoyfilters"):
        return "envoyfilter"
    return "other"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj, headers=None):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, code, text, headers=None):
        body = text.encode() if isinstance(text, str) else text
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, chunks, content_type="text/plain"):
        """A chunked answer from an iterator of bytes; stops when the client goes."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for c in chunks:
                if H.stop.is_set():
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        kind = classify(method, self.path)
        H.record(method, kind, self.path)
        handler = getattr(self, "mode_" + H.mode.replace("-", "_"))
        if handler(method, kind) is None:
            self.default(method, kind)

    def default(self, method, kind):
        if kind == "list":
            self.send_json(200, pod_list([pod("web-5d8f7c9b4-abcde")]))
        elif kind == "watch":
            self.hold_watch()
        elif kind == "scrape":
            self.send_text(200, STATS)
        elif kind == "replicaset":
            self.send_json(200, {"metadata": {"name": "web-5d8f7c9b4", "ownerReferences": [
                {"kind": "Deployment", "name": "web", "controller": True}]}})
        elif kind in ("wasmplugin", "envoyfilter"):
            self.send_json(200, {"kind": "List", "metadata": {}, "items": []})
        else:
            self.send_json(404, status(404, "NotFound", "not here"))

    def hold_watch(self, seconds=20):
        """A quiet watch: headers, then nothing until it times out or the test ends."""
        def quiet():
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not H.stop.is_set():
                time.sleep(0.1)
            return
            yield
        self.stream(quiet(), "application/json")

    # --- modes: each returns True when it answered -------------------------

    def mode_quiet(self, method, kind):
        return None

    def mode_escapes(self, method, kind):
        evil = "\x1b]0;owned\x07\x1b[2J\u202eevil\nline"
        if kind == "list":
            self.send_json(200, pod_list([
                pod("pod-" + evil, phase="Running", rs="rs\x1b[31m-x" + "-5d8f7c9b4"),
                pod("\u65e5\u672c-pod-2", rs="web-5d8f7c9b4"),
                pod("abc-pod-3", rs="web-5d8f7c9b4"),
                pod("pending-\x1b[5m", phase="Pend\x1b[1ming\u202e", sidecar=False),
            ]))
            return True
        if kind == "replicaset":
            self.send_json(200, {"metadata": {"name": "x", "ownerReferences": [
                {"kind": "Deployment", "name": "dep\x1b]2;t\x07\u202e", "controller": True}]}})
            return True
        if kind == "scrape" and "evil" in self.path:
            self.send_text(502, "upstream \x1b]0;title\x07\x1b[2J\u202e broke\n")
            return True
        if kind == "wasmplugin":
            self.send_json(403, status(403, "Forbidden", "no \x1b[2J\u202e wasmplugins for you"))
            return True
        return None

    def mode_restarts(self, method, kind):
        if kind == "list":
            # Each count is plausible (a billion); their sum is not an int.
            p = pod("web-5d8f7c9b4-abcde", restarts=1000000000)
            p["status"]["containerStatuses"].append({"name": "third", "restartCount": 1000000000})
            p["spec"]["containers"].append({"name": "third", "image": "x"})
            self.send_json(200, pod_list([p]))
            return True
        return None

    def mode_retry_after(self, method, kind):
        if kind == "list":
            self.send_json(429, status(429, "TooManyRequests", "slow down"),
                           {"Retry-After": "99999999999999999999"})
            return True
        return None

    def mode_endless_stats(self, method, kind):
        if kind == "list":
            self.send_json(200, pod_list([pod(f"web-5d8f7c9b4-p{i}") for i in range(8)]))
            return True
        if kind == "scrape":
            line = b"wasmcustom_hfi_faults_aborts_total{worker=\"%d\"} 1\n"
            block = b"".join(line % k for k in range(30000))  # about 1 MB
            limit = 64 * MB
            self.stream(block for _ in range(limit // len(block)))
            return True
        return None

    def mode_list_no_limit(self, method, kind):
        if kind == "list":
            # 100,000 pods in one page whatever `limit` said: about 100 MB.
            pad = "x" * 600
            head = b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":['
            item = ('{"metadata":{"name":"p%d","namespace":"' + NS + '","resourceVersion":"9",'
                    '"annotations":{"pad":"' + pad + '"}},"spec":{"containers":[{"name":"app"}]},'
                    '"status":{"phase":"Running"}}')

            def chunks():
                yield head
                batch = 1000
                for start in range(0, 100000, batch):
                    sep = "," if start else ""
                    yield (sep + ",".join(item % k for k in range(start, start + batch))).encode()
                yield b"]}"
            self.stream(chunks(), "application/json")
            return True
        return None

    def mode_watch_closes(self, method, kind):
        if kind == "watch":
            self.send_json(200, b"")
            return True
        if kind == "scrape":
            time.sleep(6)
            self.send_text(200, STATS)
            return True
        return None

    def mode_watch_410(self, method, kind):
        if kind == "watch":
            ev = {"type": "ERROR", "object": status(410, "Expired", "too old resource version")}
            self.send_json(200, (json.dumps(ev) + "\n").encode())
            return True
        if kind == "scrape":
            time.sleep(6)
            self.send_text(200, STATS)
            return True
        return None

    def mode_endless_continue(self, method, kind):
        if kind == "list":
            self.send_json(200, pod_list([], cont="more-%d" % len(H.requests)))
            return True
        return None

    def mode_slow_scrape(self, method, kind):
        if kind == "scrape":
            time.sleep(5)
            self.send_text(200, STATS)
            return True
        return None

    def mode_long_names(self, method, kind):
        if kind == "list":
            base = "a" * 650
            self.send_json(200, pod_list([pod(base + "-one", sidecar=False), pod(base + "-two", sidecar=False)]))
            return True
        return None

    def mode_held_deployment(self, method, kind):
        """Requests about Deployments (an action's) get no answer for 15 s."""
        if "/deployments/" in self.path:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not H.stop.is_set():
                time.sleep(0.1)
            self.send_json(404, status(404, "NotFound", "gone"))
            return True
        return None

    def mode_nameless_wasmplugin(self, method, kind):
        if kind == "wasmplugin" and method == "GET":
            self.send_json(200, {"kind": "WasmPluginList", "metadata": {}, "items": [
                {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                 "metadata": {"namespace": NS},
                 "spec": {"pluginConfig": {"policies": [{"metadata": {"name": "foo"}, "spec": {"rules": []}}]}}}]})
            return True
        return None

    def mode_numeric_wasmplugin(self, method, kind):
        if kind == "wasmplugin" and method == "GET":
            self.send_json(200, {"kind": "WasmPluginList", "metadata": {}, "items": [
                {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                 "metadata": {"name": 42, "namespace": NS},
                 "spec": {"pluginConfig": {"policies": [{"metadata": {"name": "foo"}, "spec": {"rules": []}}]}}}]})
            return True
        return None


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """hfitop hanging up mid-answer is what several cases are about."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, ssl.SSLError, OSError)):
            super().handle_error(request, client_address)


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1, and a second, unrelated CA."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hostile-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other-ca",
        "-keyout", "other.key", "-out", "other.crt")


def b64(path):
    import base64
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(d, port, name="config", ca="ca.crt", user=None, insecure=False):
    cluster = f"    server: https://127.0.0.1:{port}\n"
    if insecure:
        cluster += "    insecure-skip-tls-verify: true\n"
    else:
        cluster += f"    certificate-authority-data: {b64(os.path.join(d, ca))}\n"
    user = user or "    token: hostile-token\n"
    text = ("apiVersion: v1\nkind: Config\nclusters:\n- name: hostile\n  cluster:\n" + cluster +
            "users:\n- name: u\n  user:\n" + user +
            "contexts:\n- name: hostile\n  context: {cluster: hostile, user: u, namespace: " + NS + "}\n"
            "current-context: hostile\n")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# running hfitop

class Run:
    def __init__(self, rc, out, err, maxrss_kb, killed_for_rss, started):
        self.rc, self.out, self.err, self.maxrss_kb = rc, out, err, maxrss_kb
        self.killed_for_rss, self.started = killed_for_rss, started


def child_env(extra=None):
    env = dict(os.environ)
    # A small allocator quarantine, so that peak RSS measures what hfitop
    # holds rather than what ASan keeps of what it freed.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16:detect_leaks=1").lstrip(":")
    env.pop("KUBECONFIG", None)
    env["HOME"] = tempfile.gettempdir()
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env.update(extra or {})
    return env


def rss_watchdog(pid, stop, killed):
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:") and int(line.split()[1]) > RSS_KILL_KB:
                        killed.append(True)
                        os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            return
        time.sleep(0.05)


def run_hfitop(hfitop, args, timeout=60, env=None, stdin=subprocess.DEVNULL, signal_after=None, sig=None):
    """Runs hfitop to the end (killed after `timeout` s); rusage from wait4."""
    out_f, err_f = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.monotonic()
    p = subprocess.Popen([hfitop, *args], stdin=stdin, stdout=out_f, stderr=err_f, env=child_env(env))
    stop, killed = threading.Event(), []
    threading.Thread(target=rss_watchdog, args=(p.pid, stop, killed), daemon=True).start()
    deadline = started + timeout
    sent = False
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if signal_after is not None and not sent and now - started >= signal_after:
            os.kill(p.pid, sig)
            sent = True
        if now > deadline:
            os.kill(p.pid, signal.SIGKILL)
            _, st, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.02)
    stop.set()
    p.returncode = -os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
    out_f.seek(0)
    err_f.seek(0)
    return Run(p.returncode, out_f.read(), err_f.read(), ru.ru_maxrss, bool(killed), started)


def no_sanitizer_report(name, run):
    text = run.err.decode("utf-8", "replace")
    check(f"{name}: no sanitizer report", "runtime error" not in text and "Sanitizer" not in text,
          text[-600:])


def clean_output(name, run):
    for stream, data in (("stdout", run.out), ("stderr", run.err)):
        bad = raw_controls(data)
        check(f"{name}: no raw control characters on {stream}", bad is None, f"{bad} in {data[:300]!r}")


def rss_bounded(name, run, bound_kb=RSS_BOUND_KB):
    check(f"{name}: peak RSS {run.maxrss_kb // 1024} MB within {bound_kb // 1024} MB",
          run.maxrss_kb <= bound_kb and not run.killed_for_rss, f"{run.maxrss_kb} KB")


# ---------------------------------------------------------------------------
# the cases

def case_escapes(ctx):
    """Item 2: escapes from names, owners, phases and bodies are shown, not obeyed."""
    H.reset("escapes")
    for args in (["--once", "-o", "table"], ["--once", "-o", "json"], ["doctor"]):
        name = "escapes " + " ".join(args)
        run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, *args])
        no_sanitizer_report(name, run)
        clean_output(name, run)
        check(f"{name}: exits as usual (0 or doctor's 1)", run.rc in (0, 1), f"rc {run.rc}: {run.err[-300:]!r}")
        if args[-1] == "json":
            try:
                doc = json.loads(run.out)
                names = sorted(p["name"] for p in doc["pods"])
                check(f"{name}: the JSON is still JSON with the names as served, escaped",
                      any("\u202eevil" in n and "\x1b]0;" in n for n in names), names)
            except ValueError as e:
                check(f"{name}: the JSON is still JSON", False, str(e))
        if args[-1] == "table":
            lines = run.out.decode().splitlines()
            check(f"{name}: the escapes are visible", any("^[]0;owned^G^[[2J" in l for l in lines), lines[:5])
            # Columns line up in cells: DEPLOYMENT starts at the same cell in every row.
            import unicodedata

            def cells(s):
                return sum(2 if unicodedata.east_asian_width(c) in "WF" else
                           0 if unicodedata.combining(c) else 1 for c in s)
            starts = set()
            for l in lines:
                m = re.search(r"  (web|rs|-|dep)", l)
                if m:
                    starts.add(cells(l[:m.start()]))
            check(f"{name}: columns aligned in cells with wide names", len(starts) == 1, lines)


def case_restarts(ctx):
    """Item 3: restartCount sums saturate."""
    H.reset("restarts")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "-o", "json"])
    no_sanitizer_report("restarts", run)
    check("restarts: exit 0", run.rc == 0, run.err[-300:])
    if run.rc == 0:
        restarts = json.loads(run.out)["pods"][0]["restarts"]
        check("restarts: saturated at 2147483647", restarts == 2147483647, restarts)


def case_retry_after(ctx):
    """Item 3: Retry-After: 99999999999999999999 saturates (it overflowed under UBSan)."""
    H.reset("retry-after")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once"], signal_after=3, sig=signal.SIGTERM,
                     timeout=20)
    no_sanitizer_report("retry-after", run)
    check("retry-after: still waiting when told to stop (SIGTERM: 143)", run.rc in (-15, 143), run.rc)
    check("retry-after: one list, then waiting", H.count("list") <= 2, H.count("list"))


def case_endless_stats(ctx):
    """Item 4: eight sidecars streaming stats forever: each scrape is capped, memory stays bounded."""
    H.reset("endless-stats")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "-o", "table", "--interval", "30"],
                     timeout=90)
    no_sanitizer_report("endless stats", run)
    check("endless stats: exit 0", run.rc == 0, f"rc {run.rc} {run.err[-300:]!r}")
    rss_bounded("endless stats", run, 200 * 1024)
    out = run.out.decode("utf-8", "replace")
    check("endless stats: each pod says its answer was too large",
          out.count("larger than 4 MB") == 8, out[-800:])


def case_list_no_limit(ctx):
    """Item 4: a list that ignores `limit` (100,000 pods in one answer) meets the body cap."""
    H.reset("list-no-limit")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once"], timeout=90)
    no_sanitizer_report("list without limit", run)
    check("list without limit: exit 2", run.rc == 2, f"rc {run.rc}")
    check("list without limit: says the answer was too large", b"larger than 64 MB" in run.err, run.err[-300:])
    rss_bounded("list without limit", run)


def case_watch_closes(ctx):
    """Item 5: a watch that ends at once is reopened with backoff, not ~24 times a second."""
    H.reset("watch-closes")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "--interval", "30"], timeout=40)
    no_sanitizer_report("watch closes", run)
    check("watch closes: exit 0", run.rc == 0, run.err[-300:])
    n = H.count("watch", run.started, run.started + 6)
    check(f"watch closes: {n} watches in 6 s (bounded by the backoff: at most 6)", n <= 6, n)


def case_watch_410(ctx):
    """Item 5: a watch answering 410 relists with backoff."""
    H.reset("watch-410")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "--interval", "30"], timeout=40)
    no_sanitizer_report("watch 410", run)
    check("watch 410: exit 0", run.rc == 0, run.err[-300:])
    n = H.count("list", run.started, run.started + 6) + H.count("watch", run.started, run.started + 6)
    check(f"watch 410: {n} lists and watches in 6 s (at most 10)", n <= 10, n)


def case_endless_continue(ctx):
    """Item 5: a list whose `continue` never ends stops after the page limit."""
    H.reset("endless-continue")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once"], timeout=60)
    no_sanitizer_report("endless continue", run)
    check("endless continue: exit 2", run.rc == 2, run.rc)
    check("endless continue: names the cause", b"did not end after 400 pages" in run.err, run.err[-300:])
    check("endless continue: at most 401 pages asked for", H.count("list") <= 401, H.count("list"))


def case_local_input(ctx):
    """Item 8: local input is capped before it is parsed."""
    H.reset("quiet")
    d = ctx.dir
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", "/dev/zero", "--once"], timeout=30)
    check("kubeconfig /dev/zero: exit 2", run.rc == 2, run.rc)
    check("kubeconfig /dev/zero: says it is too large", b"larger than 8 MB" in run.err, run.err[-300:])
    rss_bounded("kubeconfig /dev/zero", run, 200 * 1024)
    kc = write_kubeconfig(d, ctx.port, "token-zero", user="    tokenFile: /dev/zero\n")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", kc, "--once"], timeout=30)
    check("tokenFile /dev/zero: exit 2", run.rc == 2, run.rc)
    check("tokenFile /dev/zero: says it is too large", b"larger than 1 MB" in run.err, run.err[-300:])
    rss_bounded("tokenFile /dev/zero", run, 200 * 1024)
    for name, text, want in (("deep flow nesting", "a: " + "[" * 100000, b"nested more than 64"),
                             ("100,000 keys", "".join(f"k{i}: v\n" for i in range(100000)), b"more than 4096 keys")):
        path = os.path.join(d, "bad-" + name.split()[0])
        with open(path, "w") as f:
            f.write(text)
        run = run_hfitop(ctx.hfitop, ["--kubeconfig", path, "--once"], timeout=30)
        no_sanitizer_report(name, run)
        check(f"{name}: exit 2", run.rc == 2, run.rc)
        check(f"{name}: names the problem", want in run.err, run.err[-300:])
    run = run_hfitop(ctx.hfitop, ["stats", "/dev/zero"], timeout=30)
    check("stats /dev/zero: exit 2, too large", run.rc == 2 and b"larger than 64 MB" in run.err, run.err[-200:])


def case_errors(ctx):
    """Item 10: errors name the cause."""
    H.reset("quiet")
    kc = write_kubeconfig(ctx.dir, ctx.port, "wrong-ca", ca="other.crt")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", kc, "--once"], timeout=30)
    check("wrong CA: exit 2", run.rc == 2, run.rc)
    check("wrong CA: says the certificate is not trusted", b"certificate is not trusted" in run.err, run.err[-300:])
    H.reset("slow-scrape")
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "-o", "table", "--interval", "1"],
                     timeout=30)
    out = run.out.decode("utf-8", "replace")
    check("scrape timeout: names the timeout, not TLS",
          "no complete answer within 1000 ms" in out and "SSL" not in out, out[-400:])


def case_small(ctx):
    """Item 11: request log 0600, long names apart, stats on nothing."""
    H.reset("long-names")
    log = os.path.join(ctx.dir, "requests.log")
    old_umask = os.umask(0o022)
    run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "--once", "-o", "json"],
                     env={"HFITOP_REQUEST_LOG": log})
    os.umask(old_umask)
    mode = os.stat(log).st_mode & 0o777 if os.path.exists(log) else None
    check("request log: created 0600", mode == 0o600, oct(mode) if mode is not None else "missing")
    pods = json.loads(run.out)["pods"] if run.rc == 0 else []
    check("names differing after 650 bytes: two pods", len(pods) == 2, [p["name"][-6:] for p in pods])
    empty = os.path.join(ctx.dir, "empty.txt")
    with open(empty, "w") as f:
        f.write("# nothing here\n\n")
    run = run_hfitop(ctx.hfitop, ["stats", empty])
    check("stats without samples: exit 1", run.rc == 1, run.rc)
    check("stats without samples: says so", b"holds no Prometheus samples" in run.err, run.err)


def case_wasmplugin(ctx):
    """Item 1: a WasmPlugin without a name, or a numeric one."""
    for mode in ("nameless-wasmplugin", "numeric-wasmplugin"):
        H.reset(mode)
        run = run_hfitop(ctx.hfitop, ["--kubeconfig", ctx.kubeconfig, "policy", "remove", "foo"], timeout=30)
        no_sanitizer_report(mode, run)
        check(f"{mode}: exit 1 (refused)", run.rc == 1, f"rc {run.rc} {run.err[-300:]!r}")
        check(f"{mode}: no (null) printed", b"(null)" not in run.out + run.err, run.err)
        patched = [p for _, m, k, p in H.requests if m == "PATCH"]
        check(f"{mode}: nothing patched", not patched, patched)


def pty_console(ctx, args, env, action, timeout=30):
    """The console on a pseudo-terminal: `action(master, pid)` drives it; returns
    (exit code, screen bytes, terminal attributes after exit)."""
    master, slave = pty.openpty()
    termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(slave))
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([ctx.hfitop, *args], stdin=slave, stdout=slave, stderr=slave, env=child_env(env),
                         start_new_session=True)
    p.master = master
    screen = bytearray()
    deadline = time.monotonic() + timeout

    def read_some(wait=0.1):
        import select
        r, _, _ = select.select([master], [], [], wait)
        if r:
            try:
                screen.extend(os.read(master, 65536))
            except OSError:
                pass
    action(p, read_some, screen)
    while p.poll() is None and time.monotonic() < deadline:
        read_some()
    if p.poll() is None:
        p.kill()
        p.wait()
    read_some(0.2)
    after = termios.tcgetattr(slave)
    os.close(slave)
    os.close(master)
    return p.returncode, bytes(screen), before, after


def drawn(screen):
    """What was drawn after curses took the screen (the alternate screen)."""
    return bytes(screen).split(b"\x1b[?1049h", 1)[1] if b"\x1b[?1049h" in screen else b""


def wait_for(read_some, screen, needle, seconds=20, after_curses=False):
    deadline = time.monotonic() + seconds

    def seen():
        return needle in (drawn(screen) if after_curses else screen)
    while not seen() and time.monotonic() < deadline:
        read_some()
    return seen()


def case_console(ctx):
    """Items 2, 6, 7 and 10 in the console: signals restore the terminal and exit 128+signal;
    TERM=dumb is refused; cluster text drawn visibly; actions in flight freed on quit; the
    insecure-TLS warning on the screen."""
    H.reset("quiet")
    for sig, want in ((signal.SIGTERM, 143), (signal.SIGQUIT, 131)):
        def act(p, read_some, screen, sig=sig):
            if wait_for(read_some, screen, b"hfitop"):
                time.sleep(0.3)
                p.send_signal(sig)
        rc, screen, before, after = pty_console(ctx, ["--kubeconfig", ctx.kubeconfig], {"TERM": "xterm"}, act)
        name = signal.Signals(sig).name
        check(f"console {name}: exit {want}", rc == want, rc)
        check(f"console {name}: terminal modes restored", before[3] == after[3],
              f"lflag {before[3]:#x} -> {after[3]:#x}")
    rc, screen, _, _ = pty_console(ctx, ["--kubeconfig", ctx.kubeconfig], {"TERM": "dumb"}, lambda *a: None,
                                   timeout=15)
    check("console TERM=dumb: refused with exit 2", rc == 2, rc)
    check("console TERM=dumb: says why", b"cannot draw on TERM=dumb" in screen, screen[-300:])
    # Item 2 in the console: what the cluster named is drawn visibly; no
    # OSC sequence or bidi control of its own reaches the terminal.
    H.reset("escapes")

    def look_at_pods(p, read_some, screen):
        wait_for(read_some, screen, b"abc-pod-3", after_curses=True)
        time.sleep(1)
        read_some()
        p.send_signal(signal.SIGTERM)
    rc, screen, _, _ = pty_console(ctx, ["--kubeconfig", ctx.kubeconfig], {"TERM": "xterm"}, look_at_pods)
    shown = drawn(screen)
    check("console escapes: the pods are drawn", b"abc-pod-3" in shown, screen[-300:])
    check("console escapes: no OSC from the cluster", b"\x1b]0;owned" not in shown and b"\x1b]2;" not in shown,
          shown[-300:])
    bidi = BIDI.search(shown.decode("utf-8", "replace"))
    check("console escapes: no bidi control", bidi is None, bidi)
    check("console escapes: an escape shown as ^[", b"^[" in shown, shown[-300:])
    # Item 7: quitting while an action waits for its answer frees it (the
    # sanitizer build reports any leak at exit) and exits 0.
    H.reset("held-deployment")

    def quit_during_action(p, read_some, screen):
        if not wait_for(read_some, screen, b"web-5d8f7c9b4-abcde", after_curses=True):
            return
        os.write(p.master, b"r")
        wait_for(read_some, screen, b"restart", after_curses=True)
        os.write(p.master, b"y")
        deadline = time.monotonic() + 10
        while not any("/deployments/" in path for _, _, _, path in H.requests) and time.monotonic() < deadline:
            read_some()
        os.write(p.master, b"q")
        wait_for(read_some, screen, b"Quit", after_curses=True, seconds=5)
        os.write(p.master, b"y")
    rc, screen, _, _ = pty_console(ctx, ["--kubeconfig", ctx.kubeconfig], {"TERM": "xterm"}, quit_during_action)
    asked = any("/deployments/" in path for _, _, _, path in H.requests)
    check("console quit during an action: the action was in flight", asked, H.requests[-3:])
    check("console quit during an action: exit 0, nothing leaked", rc == 0 and b"LeakSanitizer" not in screen,
          f"rc {rc} {screen[-400:]!r}")
    # Item 10 in the console: the banner names the cause.
    H.reset("quiet")
    for name, kc, want in (
            ("untrusted certificate", write_kubeconfig(ctx.dir, ctx.port, "wrong-ca-console", ca="other.crt"),
             (b"TLS", b"FAILED", b"trusted?")),
            ("failing credential plugin",
             write_kubeconfig(ctx.dir, ctx.port, "exec-fails", user=(
                 "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                 "      command: /bin/false\n      interactiveMode: Never\n")),
             (b"CREDENTIAL", b"PLUGIN", b"FAILED"))):
        # Words, not the phrase: curses may move the cursor over a space.
        def banner(p, read_some, screen, want=want):
            wait_for(read_some, screen, want[-1], after_curses=True)
            p.send_signal(signal.SIGTERM)
        rc, screen, _, _ = pty_console(ctx, ["--kubeconfig", kc], {"TERM": "xterm"}, banner)
        shown = drawn(screen)
        check(f"console {name}: the banner says so", all(w in shown for w in want) and b"UNREACHABLE" not in shown,
              shown[-300:])
    H.reset("quiet")
    kc = write_kubeconfig(ctx.dir, ctx.port, "insecure", insecure=True)

    def look(p, read_some, screen):
        wait_for(read_some, screen, b"insecure-skip-tls-verify", after_curses=True)
        p.send_signal(signal.SIGTERM)
    rc, screen, _, _ = pty_console(ctx, ["--kubeconfig", kc], {"TERM": "xterm"}, look)
    # Drawn after curses started, not only printed on stderr just before.
    check("console insecure TLS: the warning is on the screen", b"insecure-skip-tls-verify" in drawn(screen),
          screen[-300:])


CASES = {
    "escapes": case_escapes,
    "restarts": case_restarts,
    "retry-after": case_retry_after,
    "endless-stats": case_endless_stats,
    "list-no-limit": case_list_no_limit,
    "watch-closes": case_watch_closes,
    "watch-410": case_watch_410,
    "endless-continue": case_endless_continue,
    "local-input": case_local_input,
    "errors": case_errors,
    "small": case_small,
    "wasmplugin": case_wasmplugin,
    "console": case_console,
}


class Context:
    pass


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    ctx = Context()
    ctx.hfitop = os.path.abspath(sys.argv[1])
    chosen = sys.argv[2:] or list(CASES)
    with tempfile.TemporaryDirectory(prefix="hfitop-hostile-") as d:
        ctx.dir = d
        make_certs(d)
        server = Server(("127.0.0.1", 0), Handler)
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
        server.socket = sslctx.wrap_socket(server.socket, server_side=True)
        ctx.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ctx.kubeconfig = write_kubeconfig(d, ctx.port)
        try:
            for name in chosen:
                print(f"-- {name}: {CASES[name].__doc__.strip().splitlines()[0]}")
                H.stop.clear()
                CASES[name](ctx)
                H.stop.set()
        finally:
            H.stop.set()
            server.shutdown()
            server.server_close()
    print(f"RESULT {results['passed']} {results['failed']}")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
