"""Bad and hostile HTTP input gets a 4xx (or a closed connection), never a
crash; the agent answers normally afterwards."""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent  # noqa: E402


def raw(port, data, timeout=5):
    """Sends raw bytes, returns what came back before close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(reply):
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.") else None


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Agent().__enter__()

    @classmethod
    def tearDownClass(cls):
        assert cls.a.stop() == 0

    def tearDown(self):
        # After every abuse the agent still answers.
        self.assertEqual(self.a.get("/healthz")[0], 200)
        self.assertIsNone(self.a.proc.poll())

    def test_routes(self):
        self.assertEqual(self.a.get("/")[0], 200)
        self.assertEqual(self.a.get("/metrics?foo=bar&x")[0], 200)
        self.assertEqual(self.a.get("/nope")[0], 404)
        self.assertEqual(self.a.get("/metrics/")[0], 404)
        self.assertEqual(self.a.get("/../../etc/passwd")[0], 404)
        status, doc = self.a.json("/api/v1/gpus")
        self.assertEqual((status, len(doc["gpus"])), (200, 8))

    def test_methods(self):
        for method in (b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"):
            reply = raw(self.a.port, method + b" /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            self.assertEqual(status_of(reply), 405, reply[:200])
            self.assertIn(b"Allow: GET, HEAD", reply)
        reply = raw(self.a.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(reply), 200)
        self.assertTrue(reply.endswith(b"\r\n\r\n"), "HEAD must not carry a body")

    def test_malformed_requests(self):
        for junk in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /metrics HTTP/9.9\r\n\r\n",
                     b"\x00\x01\x02\x03\r\n\r\n", b"GET /metrics HTTP/1.1\r\nNoColonHeader\r\n\r\n",
                     b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"):
            reply = raw(self.a.port, junk)
            code = status_of(reply)
            self.assertTrue(code is None or 400 <= code < 500 or code == 505, (junk, reply[:100]))

    def test_oversized_headers(self):
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
        reply = raw(self.a.port, big)
        code = status_of(reply)
        self.assertTrue(code is None or code in (413, 414, 431), reply[:100])
        long_url = b"GET /" + b"m" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        code = status_of(raw(self.a.port, long_url))
        self.assertTrue(code is None or code in (404, 413, 414, 431), code)

    def test_http10_keep_alive_is_acknowledged(self):
        """An HTTP/1.0 client keeps its connection only when the response says keep-alive;
        one that is not told so reads to the end of the connection."""
        with socket.create_connection(("127.0.0.1", self.a.port), timeout=5) as s:
            for _ in range(2):
                s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                head = b""
                while b"\r\n\r\n" not in head:
                    head += s.recv(4096)
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:80])
                self.assertIn(b"\r\nConnection: keep-alive\r\n", head)
        reply = raw(self.a.port, b"GET /health HTTP/1.0\r\n\r\n")
        self.assertIn(b"\r\nConnection: close\r\n", reply)

    def test_long_target_after_empty_lines_is_414(self):
        reply = raw(self.a.port, b"\r\n\r\nGET /" + b"m" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(reply), 414, reply[:100])

    def test_idle_keep_alive_is_closed_without_a_word(self):
        # Prometheus keeps its connection between scrapes: once idle past the 10 s, it is
        # closed quietly (no unsolicited 408) and not counted as a cut request.
        cut = self.a.json("/healthz")[1]["http"]["cut"]
        with socket.create_connection(("127.0.0.1", self.a.port), timeout=15) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 OK"))
            t0 = time.time()
            self.assertEqual(s.recv(4096), b"")
            self.assertGreater(time.time() - t0, 9)
        self.assertEqual(self.a.json("/healthz")[1]["http"]["cut"], cut)

    def test_slow_client_does_not_block_others(self):
        s = socket.create_connection(("127.0.0.1", self.a.port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes
        t0 = time.time()
        self.assertEqual(self.a.get("/metrics")[0], 200)
        self.assertLess(time.time() - t0, 1.0)
        s.close()

    def test_keep_alive_pipelining_and_bodies(self):
        # 100 requests pipelined on one connection: 100 answers, in order, then the close
        # the last one asked for.
        pipelined = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 99 + \
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        reply = raw(self.a.port, pipelined)
        self.assertEqual(reply.count(b"HTTP/1.1 200 OK\r\n"), 100)
        self.assertIn(b'"gpus"', reply[-20000:])
        # A body with Content-Length is skipped, and the connection serves the next request.
        reply = raw(self.a.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
                    b"hello worldGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(reply.count(b"HTTP/1.1 "), 2, reply[:300])
        self.assertTrue(reply.endswith(b"OK"), reply[-100:])
        # ... also when the body comes after the answer to its head.
        with socket.create_connection(("127.0.0.1", self.a.port), timeout=5) as s:
            s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
            self.assertEqual(status_of(s.recv(4096)), 405)
            s.sendall(b"hello world")
            time.sleep(0.2)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = s.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"OK"), reply)
        # A chunked body's end is not looked for: answered, then the connection is closed.
        reply = raw(self.a.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
        self.assertEqual(status_of(reply), 405)
        self.assertIn(b"Connection: close", reply)
        self.assertEqual(reply.count(b"HTTP/1.1 "), 1)
        # HTTP/1.0 closes unless asked to keep the connection.
        reply = raw(self.a.port, b"GET /health HTTP/1.0\r\n\r\nGET /health HTTP/1.0\r\n\r\n")
        self.assertEqual(reply.count(b"HTTP/1.1 200"), 1)
        reply = raw(self.a.port, b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    b"GET /health HTTP/1.0\r\n\r\n")
        self.assertEqual(reply.count(b"HTTP/1.1 200"), 2)
        # A head sent one byte at a time is still one request.
        with socket.create_connection(("127.0.0.1", self.a.port), timeout=5) as s:
            for c in b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n":
                s.sendall(bytes([c]))
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 OK"))

    def test_many_concurrent_scrapes(self):
        errors = []

        def scrape():
            try:
                for _ in range(5):
                    if self.a.get("/metrics", {"Accept-Encoding": "gzip"})[0] != 200:
                        errors.append("status")
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(e))
        threads = [threading.Thread(target=scrape) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
