"""A keep-alive front before a stand-in, for tests of the app's connections.

The stand-ins' werkzeug server closes every connection after its answer; real
providers keep them open. A test that needs to see connections reused (or not)
puts this front before the stand-in and reads what it noted.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

#: Headers the front does not pass on: those of one hop only (RFC 9110 section
#: 7.6.1), and those it writes itself (the length of the body it sends, its host).
NOT_PASSED_ON = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class KeepAliveFront(ThreadingHTTPServer):
    """An HTTP/1.1 front with keep-alive, as real providers have (the stand-ins'
    werkzeug server closes every connection), passing each request on to
    ``upstream`` and noting which client connection (its port) it came on."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[tuple[str, int]] = []
        #: Set to close the next request's connection without an answer after
        #: that many seconds: at once (0), as a load balancer whose idle timeout
        #: ends just as the request goes out; later, as a provider that gives up.
        self.drop_next: float | None = None
        #: The ``Cookie`` header of each request that sent one.
        self.cookies: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), FrontHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KeepAliveFront

    def do_GET(self) -> None:
        self.pass_on()

    def do_POST(self) -> None:
        self.pass_on()

    def pass_on(self) -> None:
        with self.server.lock:
            self.server.seen.append((urlsplit(self.path).path, self.client_address[1]))
            if "Cookie" in self.headers:
                self.server.cookies.append(self.headers["Cookie"])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            drop, self.server.drop_next = self.server.drop_next, None
        if drop is not None:
            time.sleep(drop)
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_PASSED_ON}
        answer = requests.request(self.command, self.server.upstream + self.path,
                                  headers=headers, data=body, timeout=5, allow_redirects=False)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in NOT_PASSED_ON | {"server", "date", "content-encoding"}:
                self.send_header(name, value)
        # As a provider's load balancer or edge might: a cookie on every answer.
        self.send_header("Set-Cookie", f"edge={self.client_address[1]}; Path=/")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads :attr:`KeepAliveFront.seen`."""


def start_front(upstream: str) -> KeepAliveFront:
    front = KeepAliveFront(upstream)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    return front
