"""receivers.py - local stand-ins for the endpoints alerts are delivered to.

One python stdlib HTTP server records every POST (path, parsed JSON body,
time) and answers each with the next status scripted for its path (200 when
the script is empty); it can be started late, on a port chosen beforehand,
to play a receiver that was down.  The checks on bodies live in the tests:
this only records.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receivers:
    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.posts = []          # (path, body, status answered, time)
        self.script = {}         # path -> [status, ...] answered in order
        self.server = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_unparsed": raw.decode(errors="replace")}
                with owner.lock:
                    todo = owner.script.get(self.path) or []
                    status = todo.pop(0) if todo else 200
                    owner.posts.append((self.path, body, status, time.time(),
                                        self.headers.get("Content-Type")))
                out = b'{"status": "success"}' if status < 300 else b'{"error": "scripted"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self, path, ok_only=True):
        """Bodies POSTed to path (only those answered 2xx by default)."""
        with self.lock:
            return [b for p, b, s, _, _ in self.posts if p == path and (s < 300 or not ok_only)]

    def all_posts(self):
        with self.lock:
            return list(self.posts)
