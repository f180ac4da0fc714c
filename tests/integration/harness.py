"""harness.py - start the real gpuscope binary on simulator scenarios and read it back.

Used by every integration test.  The binary and the simulator library come
from the environment CTest sets (GPUSCOPE_BIN, GPUSCOPE_SIM_LIB), so the same
tests run against the normal and the ASan/UBSan build.
"""
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("GPUSCOPE_BIN", "build/gpuscope")
SIM_LIB = os.environ.get("GPUSCOPE_SIM_LIB", "build/sim/libgpuscope-nvml-sim.so")


def write_scenario(doc, directory=None):
    """Writes a scenario dict to a temporary JSON file and returns its path."""
    fd, path = tempfile.mkstemp(suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """A running `gpuscope serve`; use as a context manager."""

    def __init__(self, *args, scenario=None, env=None, demo=True):
        self.args = list(args)
        self.scenario = scenario
        self.env = dict(os.environ, GPUSCOPE_SIM_LIB=SIM_LIB, **(env or {}))
        self.demo = demo
        self.proc = None
        self.port = None
        self.stderr_path = tempfile.mkstemp(suffix=".log")[1]

    def __enter__(self):
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0"]
        if self.demo:
            cmd += ["--demo"] + ([self.scenario] if self.scenario else [])
        cmd += self.args
        self.err = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err, env=self.env)
        deadline = time.time() + 15
        while time.time() < deadline:
            m = re.search(r"on port (\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("gpuscope exited early:\n" + self.stderr())
            time.sleep(0.02)
        raise AssertionError("gpuscope did not start:\n" + self.stderr())

    def __exit__(self, *exc):
        self.stop()

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM, then the exit code (asserting it stopped in time)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("gpuscope did not stop on SIGTERM:\n" + self.stderr())
        if not self.err.closed:
            self.err.close()
        return self.proc.returncode

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, headers=None, timeout=5):
        """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
        req = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def metrics_text(self, headers=None):
        status, hdrs, body = self.get("/metrics", headers)
        assert status == 200, status
        if hdrs.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body.decode()

    def metrics(self):
        return parse_exposition(self.metrics_text())

    def json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s" % what)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """Prometheus text -> {(name, frozenset(labels.items())): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "unparseable line: %r" % line
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def series(samples, name, **labels):
    """Values of every series called name whose labels include the given ones."""
    want = set((k, str(v)) for k, v in labels.items())
    return [v for (n, ls), v in samples.items() if n == name and want <= ls]


def one(samples, name, **labels):
    vals = series(samples, name, **labels)
    assert len(vals) == 1, "%s%s: expected one series, got %d" % (name, labels, len(vals))
    return vals[0]


def run(*args, env=None, timeout=30):
    """Runs gpuscope to completion: (exit code, stdout, stderr)."""
    e = dict(os.environ, GPUSCOPE_SIM_LIB=SIM_LIB, **(env or {}))
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
