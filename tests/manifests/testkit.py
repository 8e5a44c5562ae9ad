"""What the manifests tests share: one-expectation checks counted into
the `RESULT <passed> <failed>` line tests/run-tests.sh adds up, commands
with a time limit, and a meshsim of their own."""
import base64
import os
import re
import signal
import ssl
import subprocess
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import yaml

TIMEOUT = 60  # seconds, for every command

counts = {"passed": 0, "failed": 0}


def check(name, fn, *args):
    """One expectation: fn raising (an assert) is a failure, with its reason."""
    try:
        fn(*args)
        counts["passed"] += 1
    except Exception as e:  # noqa: BLE001 - any error fails this check only
        fail(name, str(e) or traceback.format_exc(limit=2).strip().splitlines()[-1])


def fail(name, why):
    counts["failed"] += 1
    print("FAIL %s: %s" % (name, why[:3000]))


def result():
    """Prints the RESULT line; the exit code."""
    print("RESULT %d %d" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


def run(cmd, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


class Meshsim:
    """meshsim on a loopback port with its own kubeconfig; extra flags
    (e.g. "--traffic", "5") go on its command line."""

    def __init__(self, binary, tmp, *extra):
        self.dir = tempfile.mkdtemp(prefix="meshsim-", dir=tmp)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.out = open(os.path.join(self.dir, "out"), "w+")
        self.err = open(os.path.join(self.dir, "err"), "w+")
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--kubeconfig", self.kubeconfig,
                                      *extra], stdout=self.out, stderr=self.err)
        self.server = None
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            self.out.seek(0)
            m = re.search(r"^meshsim ready (https://\S+)$", self.out.read(), re.M)
            if m:
                self.server = m.group(1)
                break
            time.sleep(0.1)
        if not self.server:
            self.err.seek(0)
            self.stop()
            raise RuntimeError("meshsim did not start in 30 s: %s" % self.err.read()[-500:])
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig)
        cfg = yaml.safe_load(open(self.kubeconfig))
        user = cfg["users"][0]["user"]
        cluster = cfg["clusters"][0]["cluster"]
        self.ssl = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.headers = {}
        if "client-certificate-data" in user:
            cert, keyf = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
            open(cert, "wb").write(base64.b64decode(user["client-certificate-data"]))
            open(keyf, "wb").write(base64.b64decode(user["client-key-data"]))
            self.ssl.load_cert_chain(cert, keyf)
        if "token" in user:
            self.headers["Authorization"] = "Bearer " + user["token"]

    def kubectl(self, *args):
        return run(["kubectl", "--request-timeout=20s"] + list(args), env=self.env)

    def request(self, path, headers=None):
        """(status, headers, body) of a GET."""
        req = urllib.request.Request(self.server + path, headers=dict(self.headers, **(headers or {})))
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=20) as r:
                return r.status, dict(r.headers), r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()
        self.err.close()
