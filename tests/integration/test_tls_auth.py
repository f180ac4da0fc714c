"""TLS and basic authentication through the exporter-toolkit web configuration
(--web-config-file): a real Prometheus scrapes over TLS with a client certificate and a
password; a wrong password is 401, a missing client certificate is refused, /health stays
open; broken files are exit 2 with the reason."""
import base64
import crypt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, free_port, run  # noqa: E402
from test_prometheus import PROMETHEUS, promql  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all from the CA."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
                name + ".key", "-out", name + ".csr", cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", name + ".crt", *ext, cwd=d)
    # A second CA whose certificates the agent must not trust.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other",
            "-keyout", "other.key", "-out", "other.crt", cwd=d)


def bcrypt(password):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))


class TlsAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp()
        make_pki(cls.d)
        # Hashes as htpasswd writes them ($2y$) must verify too.
        hashed = bcrypt("s3cret").replace("$2b$", "$2y$", 1)
        cls.web = os.path.join(cls.d, "web.yml")
        with open(cls.web, "w") as f:
            f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
                    "basic_auth_users:\n  prometheus: '%s'\n" % hashed)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d, ignore_errors=True)

    def ctx(self, cert="client"):
        c = ssl.create_default_context(cafile=os.path.join(self.d, "ca.crt"))
        if cert:
            c.load_cert_chain(os.path.join(self.d, cert + ".crt"), os.path.join(self.d, cert + ".key"))
        return c

    def get(self, port, path, user=None, password=None, cert="client"):
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path))
        if user:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(req, context=self.ctx(cert), timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_scrape_over_tls_with_password_and_client_certificate(self):
        with Agent("--no-history", "--web-config-file", self.web) as a:
            status, body = self.get(a.port, "/metrics", "prometheus", "s3cret")
            self.assertEqual(status, 200)
            self.assertIn(b"DCGM_FI_DEV_GPU_UTIL", body)
            # Again: remembered, fast.
            t0 = time.monotonic()
            for _ in range(5):
                self.assertEqual(self.get(a.port, "/healthz", "prometheus", "s3cret")[0], 200)
            self.assertLess((time.monotonic() - t0) / 5, 0.5)
            self.assertEqual(self.get(a.port, "/metrics", "prometheus", "wrong")[0], 401)
            self.assertEqual(self.get(a.port, "/metrics", "nobody", "s3cret")[0], 401)
            self.assertEqual(self.get(a.port, "/metrics")[0], 401)
            # Probes written for dcgm-exporter reach /health without a password.
            self.assertEqual(self.get(a.port, "/health"), (200, b"OK"))
            # No client certificate, or one from another CA: refused.
            for cert in (None, "other"):
                try:
                    status, _ = self.get(a.port, "/metrics", "prometheus", "s3cret", cert=cert)
                except (urllib.error.URLError, ssl.SSLError, ConnectionError):
                    status = "refused"
                self.assertIn(status, (403, "refused"), cert)
            # Plain HTTP to a TLS port gets nothing useful.
            with self.assertRaises(Exception):
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % a.port, timeout=5).read()

            # A real Prometheus over TLS, with the client certificate and the password.
            data = tempfile.mkdtemp()
            port = free_port()
            cfg = os.path.join(data, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                        "  - job_name: gpuscope\n    scheme: https\n"
                        "    tls_config:\n      ca_file: %s/ca.crt\n      cert_file: %s/client.crt\n"
                        "      key_file: %s/client.key\n"
                        "    basic_auth:\n      username: prometheus\n      password: s3cret\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                        "  - job_name: wrong\n    scheme: https\n"
                        "    tls_config:\n      ca_file: %s/ca.crt\n      cert_file: %s/client.crt\n"
                        "      key_file: %s/client.key\n"
                        "    basic_auth:\n      username: prometheus\n      password: nope\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                        % ((self.d,) * 3 + (a.port,) + (self.d,) * 3 + (a.port,)))
            prom = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                got = {}
                deadline = time.time() + 40
                while time.time() < deadline:
                    try:
                        got = promql(port, "up")
                        if len(got) == 2 and promql(port, "DCGM_FI_DEV_GPU_UTIL"):
                            break
                    except OSError:
                        pass
                    time.sleep(0.5)
                ups = {__import__("json").loads(k)["job"]: v for k, v in got.items()}
                self.assertEqual(ups, {"gpuscope": 1.0, "wrong": 0.0})
            finally:
                prom.terminate()
                prom.wait(10)
                shutil.rmtree(data, ignore_errors=True)

    def test_sighup_swaps_users(self):
        web = os.path.join(self.d, "web2.yml")

        def write(user):
            with open(web, "w") as f:
                f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                        "basic_auth_users:\n  %s: '%s'\n" % (user, bcrypt("pw-" + user)))
        write("alice")
        with Agent("--no-history", "--web-config-file", web) as a:
            self.assertEqual(self.get(a.port, "/healthz", "alice", "pw-alice", cert=None)[0], 200)
            write("bob")
            a.proc.send_signal(signal.SIGHUP)
            a.wait_for(lambda: "basic auth: 1 user" in a.stderr(), timeout=10, what="reload")
            self.assertEqual(self.get(a.port, "/healthz", "alice", "pw-alice", cert=None)[0], 401)
            self.assertEqual(self.get(a.port, "/healthz", "bob", "pw-bob", cert=None)[0], 200)
            # A broken file keeps bob.
            with open(web, "w") as f:
                f.write("basic_auth_users:\n  eve: plain\n")
            a.proc.send_signal(signal.SIGHUP)
            a.wait_for(lambda: "kept the old configuration" in a.stderr(), timeout=10, what="refusal")
            self.assertEqual(self.get(a.port, "/healthz", "bob", "pw-bob", cert=None)[0], 200)

    def test_sighup_swaps_the_certificate(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)

        def selfsigned(name):
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                    name + ".key", "-out", name + ".crt", cwd=d)

        def install(name):
            # Renamed into place, as cert-manager and certbot do.
            for ext in (".crt", ".key"):
                shutil.copy(os.path.join(d, name + ext), os.path.join(d, "live" + ext + ".new"))
                os.replace(os.path.join(d, "live" + ext + ".new"), os.path.join(d, "live" + ext))

        def fingerprint(der):
            return __import__("hashlib").sha256(der).hexdigest()

        def presented(port):
            c = ssl.create_default_context()
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with c.wrap_socket(raw) as tls:
                    return fingerprint(tls.getpeercert(binary_form=True))

        def expected(name):
            with open(os.path.join(d, name + ".crt")) as f:
                return fingerprint(ssl.PEM_cert_to_DER_cert(f.read()))

        selfsigned("cert-a")
        selfsigned("cert-b")
        install("cert-a")
        web = os.path.join(d, "web.yml")
        with open(web, "w") as f:
            f.write("tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n")
        with Agent("--no-history", "--web-config-file", web) as a:
            self.assertEqual(presented(a.port), expected("cert-a"))
            # A connection opened before the swap keeps working after it.
            c = ssl.create_default_context()
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
            held = c.wrap_socket(socket.create_connection(("127.0.0.1", a.port), timeout=10))
            self.addCleanup(held.close)
            install("cert-b")
            a.proc.send_signal(signal.SIGHUP)
            a.wait_for(lambda: "TLS certificate reloaded from" in a.stderr(), timeout=10,
                       what="reload")
            self.assertIn(os.path.join(d, "live.crt"), a.stderr())
            self.assertEqual(presented(a.port), expected("cert-b"))
            self.assertEqual(fingerprint(held.getpeercert(binary_form=True)), expected("cert-a"))
            held.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertIn(b"200 OK", held.recv(4096))
            # The same port, the same process: nothing was restarted.
            self.assertIsNone(a.proc.poll())

            # A broken certificate: the reason on stderr, B still presented.
            with open(os.path.join(d, "live.crt"), "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
            before = len(a.stderr())
            a.proc.send_signal(signal.SIGHUP)
            a.wait_for(lambda: "kept the old" in a.stderr()[before:], timeout=10, what="refusal")
            said = a.stderr()[before:]
            self.assertIn("live.crt", said)
            self.assertNotIn("TLS certificate reloaded", said)
            self.assertEqual(presented(a.port), expected("cert-b"))
            self.assertIsNone(a.proc.poll())

            # A key that is not the certificate's: refused the same way.
            shutil.copy(os.path.join(d, "cert-a.crt"), os.path.join(d, "live.crt"))
            before = len(a.stderr())
            a.proc.send_signal(signal.SIGHUP)
            a.wait_for(lambda: "kept the old" in a.stderr()[before:], timeout=10, what="refusal")
            self.assertIn("live.crt", a.stderr()[before:])
            self.assertEqual(presented(a.port), expected("cert-b"))

    def test_bad_files_are_exit_2_with_the_reason(self):
        cases = {
            "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n": "server.crt and",
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n": "missing.crt",
            "tls_server_config:\n  cert_file: server.crt\n": "cert_file and key_file",
            "basic_auth_users:\n  bob: plaintext\n": "not a bcrypt hash",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n": "give client_ca_file",
            "tls_server_confg:\n  cert_file: x\n": "unknown key 'tls_server_confg'",
            "basic_auth_users: [1, 2\n": "not YAML",
        }
        for text, say in cases.items():
            path = os.path.join(self.d, "bad.yml")
            with open(path, "w") as f:
                f.write(text)
            rc, _, err = run("serve", "--demo", "--no-history", "--web-config-file", path)
            self.assertEqual(rc, 2, (text, err))
            self.assertIn(say, err, text)
            self.assertIn(path, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
