"""The scrape path under abuse, on loopback and bounded in time and count: 1,000 held
connections, slow headers, a slow body, a burst of 1,000 scrapes, clients over the
per-address limit, long query strings.  Throughout, a normal client's /metrics must
take under 1 s (5 s in the ASan build); over-limit clients get 503 with Retry-After,
slow ones are cut by the total time per request (10 s) and long queries are answered.

Abusers connect from other loopback addresses (127.0.0.2 and up, all routed to lo), so
the normal client on 127.0.0.1 is a different client address, as it would be."""
import multiprocessing
import os
import resource
import selectors
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, write_scenario  # noqa: E402

ONE_GPU = {"name": "abuse", "gpus": [{"metrics": {"power_w": 300, "util_gpu_pct": 50}}]}
PER_ADDRESS = 64  # http/guard.c's defaults
GLOBAL = 2048
REQUEST_S = 10
# The 1 s promise is for the agent as shipped.  The ASan/UBSan build (-O0, every access
# checked) runs the same paths for memory errors and is several times slower, by how much
# depends on the machine's load: there only a stall (5 s) fails the test.
LATENCY_S = 5.0 if os.environ.get("GPUSCOPE_SANITIZED") == "1" else 1.0


def connect_from(port, source, timeout=5):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def get(sock, path="/metrics"):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())


def read_all(sock, limit=1 << 22):
    data = b""
    try:
        while len(data) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.scenario = write_scenario(ONE_GPU)
        cls.agent = Agent(scenario=cls.scenario).__enter__()
        cls.port = cls.agent.port
        cls.latencies = []

    @classmethod
    def tearDownClass(cls):
        cls.agent.__exit__(None, None, None)
        os.unlink(cls.scenario)

    def normal_scrape(self):
        """The normal client: a fresh connection from 127.0.0.1, the whole body."""
        t = time.monotonic()
        s = connect_from(self.port, "127.0.0.1", timeout=5)
        get(s)
        data = read_all(s)
        s.close()
        took = time.monotonic() - t
        self.latencies.append(took)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:80])
        self.assertIn(b"gpuscope_gpu_up", data)
        self.assertLess(took, LATENCY_S, "a normal scrape took %.2f s under abuse" % took)
        return took

    def test_1_held_connections_and_slow_clients(self):
        # 1,000 connections held open, 50 from each of 20 addresses (under the
        # per-address limit), half of them sending a partial request line.
        held = []
        for i in range(1000):
            s = connect_from(self.port, "127.0.0.%d" % (2 + i % 20))
            if i % 2:
                s.sendall(b"GET /metr")
            held.append(s)
        # Slow headers: one byte every half second; slow body: a GET with a body.
        results = {}

        def trickle(name, head, body):
            t = time.monotonic()
            s = connect_from(self.port, "127.0.0.200", timeout=REQUEST_S + 5)
            try:
                s.sendall(head)
                for b in body:
                    s.sendall(bytes([b]))
                    time.sleep(0.5)
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = read_all(s)
            results[name] = (time.monotonic() - t, answer)
            s.close()

        slow_head = (b"", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60)
        slow_body = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n", b"b" * 60)
        threads = [threading.Thread(target=trickle, args=("head",) + slow_head),
                   threading.Thread(target=trickle, args=("body",) + slow_body)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + REQUEST_S + 3
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            self.normal_scrape()
            time.sleep(0.3)
        for t in threads:
            t.join(REQUEST_S + 10)
        for s in held:
            s.close()
        took, answer = results["head"]
        self.assertLess(took, REQUEST_S + 2, "slow headers were not cut")
        self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer[:80])
        took, _ = results["body"]
        self.assertLess(took, REQUEST_S + 2, "a slow body was not cut")

    def test_2_over_the_per_address_limit_gets_503(self):
        held = [connect_from(self.port, "127.0.0.50") for _ in range(PER_ADDRESS)]
        time.sleep(0.2)  # the agent has accepted them all
        over = connect_from(self.port, "127.0.0.50")
        get(over)
        answer = read_all(over)
        self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:80])
        self.assertIn(b"Retry-After: 1", answer)
        # One over the limit that sends nothing gets the 503 too, not a silent close.
        idle = connect_from(self.port, "127.0.0.50", timeout=5)
        answer = read_all(idle)
        self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:80])
        self.assertIn(b"Retry-After: 1", answer)
        self.normal_scrape()
        for s in held + [over, idle]:
            s.close()
        _, health = self.agent.json("/healthz")
        self.assertGreaterEqual(health["http"]["refused"], 1)

    def test_3_burst_of_1000_scrapes(self):
        # The normal client scrapes all through the burst from a process of its own, so
        # the burst's Python loop (holding the GIL) cannot delay it: what is measured is
        # the agent.  A worker accepts at most 32 connections per wake, so a client
        # arriving behind 1,000 waits for about the whole burst (0.3-0.8 s on 2 idle
        # cores): this bound is the cost of the burst, and a machine loaded far past its
        # cores can exceed it.
        stop = multiprocessing.Event()
        results = multiprocessing.Queue()

        def probe():
            worst, n, bad = 0.0, 0, []
            while not stop.is_set():
                t = time.monotonic()
                s = connect_from(self.port, "127.0.0.1")
                get(s)
                data = read_all(s)
                s.close()
                worst = max(worst, time.monotonic() - t)
                n += 1
                if not data.startswith(b"HTTP/1.1 200"):
                    bad.append(data[:40])
                time.sleep(0.1)
            results.put((worst, n, bad))

        prober = multiprocessing.Process(target=probe)
        prober.start()
        sel = selectors.DefaultSelector()
        for i in range(1000):
            s = connect_from(self.port, "127.0.1.%d" % (1 + i % 40))
            get(s)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, [b""])
        pending = 1000
        statuses = {}
        deadline = time.monotonic() + 20
        sink = bytearray(1 << 18)  # bodies are drained, not kept: the agent is measured
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                try:
                    got = key.fileobj.recv_into(sink)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    got = 0
                if got:
                    if len(key.data[0]) < 12:
                        key.data[0] += bytes(sink[:12])
                    continue
                status = key.data[0][9:12].decode() or "closed"
                statuses[status] = statuses.get(status, 0) + 1
                sel.unregister(key.fileobj)
                key.fileobj.close()
                pending -= 1
        time.sleep(0.3)
        stop.set()
        worst, n, bad = results.get(timeout=10)
        prober.join()
        self.assertEqual(pending, 0, "scrapes left unanswered: %s" % statuses)
        self.assertEqual(statuses.get("200", 0), 1000, statuses)  # 25 per address: none over
        self.assertEqual(bad, [])
        self.assertGreaterEqual(n, 2)
        self.assertLess(worst, LATENCY_S, "a normal scrape took %.2f s in the burst" % worst)

    def test_4_long_query_strings_are_answered(self):
        for params, want in ((500, b"200"), (2000, b"414"), (20000, b"414")):
            q = "&".join("a%d=%d" % (i, i) for i in range(params))
            t = time.monotonic()
            s = connect_from(self.port, "127.0.0.60")
            get(s, "/metrics?" + q)
            answer = read_all(s)
            s.close()
            self.assertEqual(answer[9:12], want, (params, answer[:80]))
            self.assertLess(time.monotonic() - t, LATENCY_S)
        self.normal_scrape()

    def test_5_over_the_global_limit_gets_503(self):
        # 2,048 connections from 64 addresses, 32 each (under the per-address limit):
        # the next one, from yet another address, is over the global limit.
        held = []
        try:
            for i in range(GLOBAL):
                held.append(connect_from(self.port, "127.0.2.%d" % (1 + i % 64)))
            time.sleep(0.5)  # the agent has accepted them all
            over = connect_from(self.port, "127.0.3.1")
            get(over)
            answer = read_all(over)
            over.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:80])
            self.assertIn(b"Retry-After: 1", answer)
        finally:
            for s in held:
                s.close()
        time.sleep(0.5)
        self.normal_scrape()

    def test_6_long_heads_leave_no_memory_behind(self):
        """Connections holding 30 KB of an unfinished head cost memory while they are open;
        once they are closed the agent's RSS comes back (it stayed 50 MB up before heads
        over 2 KiB got mappings of their own)."""
        if os.environ.get("GPUSCOPE_SANITIZED") == "1":
            self.skipTest("ASan's allocator keeps freed memory in quarantine")

        def rss_kib():
            with open("/proc/%d/status" % self.agent.proc.pid) as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

        self.normal_scrape()
        before = rss_kib()
        held = []
        for i in range(1000):
            s = connect_from(self.port, "127.0.1.%d" % (2 + i % 20))
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 30000)
            held.append(s)
        time.sleep(1)
        during = rss_kib()
        for s in held:
            s.close()
        time.sleep(1)
        self.normal_scrape()
        after = rss_kib()
        self.assertGreater(during - before, 20 * 1024, "the heads were not read: no test")
        self.assertLess(after - before, 8 * 1024,
                        "RSS %d KiB before, %d holding, %d after" % (before, during, after))


if __name__ == "__main__":
    unittest.main()
