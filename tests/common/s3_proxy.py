"""An HTTP proxy between vpcflow and a local S3 server (moto), for tests/s3_input.rs.

Forwards every request to the server and logs one line per request to LOG:
`METHOD PATH?QUERY ACCESS-KEY-ID STATUS`. With `--slowdown`, the first GET of each object
is answered 503 SlowDown instead (as S3 throttles); with `--deny BUCKET`, every request
for that bucket is answered 403 AccessDenied. Prints its port on stdout once listening.

Usage: s3_proxy.py UPSTREAM_PORT LOG [--slowdown] [--deny BUCKET]
"""
import http.client
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
LOG = sys.argv[2]
SLOWDOWN = "--slowdown" in sys.argv
DENY = sys.argv[sys.argv.index("--deny") + 1] if "--deny" in sys.argv else None
lock = threading.Lock()
slowed = set()

ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message></Error>"
)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, key, status):
        # Logged before the answer is sent: a client that has its answer has its line
        # in the log (a test that empties the log next never sees a late line).
        with lock, open(LOG, "a") as f:
            f.write(f"{self.command} {self.path} {key} {status}\n")

    def answer(self, key, status, code, message):
        body = ERROR.format(code=code, message=message).encode()
        self.record(key, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        key = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
        key = key.group(1) if key else "-"
        path = self.path.split("?")[0]
        bucket = path.lstrip("/").split("/")[0]
        is_object = "/" in path.lstrip("/") and not path.endswith("/")
        with lock:
            first = self.command == "GET" and is_object and path not in slowed
            if first:
                slowed.add(path)
        if DENY and bucket == DENY:
            self.answer(key, 403, "AccessDenied", "Access Denied")
        elif SLOWDOWN and first:
            self.answer(key, 503, "SlowDown", "Please reduce your request rate.")
        else:
            up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            up.request(self.command, self.path, body=body, headers=headers)
            r = up.getresponse()
            data = r.read()
            self.record(key, r.status)
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            if self.command == "HEAD":
                self.send_header("Content-Length", r.getheader("Content-Length") or "0")
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            up.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward


server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
