"""The OAuth client's connections to a provider, as the provider sees them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from .browser import Browser
from .flows import sign_in

#: Headers of one hop only (RFC 9110 section 7.6.1), not passed on by the front.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class KeepAliveFront(ThreadingHTTPServer):
    """An HTTP/1.1 front with keep-alive, as real providers have (the stand-ins'
    werkzeug server closes every connection), passing each request on to
    ``upstream`` and noting which client connection (its port) it came on."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[tuple[str, int]] = []
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
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = requests.request(self.command, self.server.upstream + self.path,
                                  headers=headers, data=body, timeout=5, allow_redirects=False)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP | {"server", "date", "content-encoding"}:
                self.send_header(name, value)
        # As a provider's load balancer or edge might: a cookie on every answer.
        self.send_header("Set-Cookie", f"edge={self.client_address[1]}; Path=/")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads :attr:`KeepAliveFront.seen`."""


@pytest.fixture
def graph_front(standins_url: str) -> Iterator[KeepAliveFront]:
    front = KeepAliveFront(standins_url)
    thread = threading.Thread(target=front.serve_forever, daemon=True)
    thread.start()
    yield front
    front.shutdown()
    front.server_close()


def test_code_exchanges_reuse_one_kept_alive_connection(app_url, control, swap_app,
                                                         graph_front):
    """authlib makes and closes a session for every token request; they share the
    app's connection pool, so every sign-in after the first sends its code over
    the connection already open (in production: no new TCP and TLS handshake
    before each sign-in's exchange). Three visitors sign in with Facebook, whose
    Graph API sits behind a keep-alive front here: its token endpoint was asked
    three times, on one connection."""
    swap_app(providers={"facebook": {"graph_url": f"{graph_front.url}/graph"}})
    for user in ("alice", "bob", "alice"):
        page = sign_in(Browser(), app_url, "facebook", user)
        assert page.url == f"{app_url}/account", page.text[:300]
    token = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")]
    assert len(token) == 3
    assert len(set(token)) == 1
    # The profile calls after each exchange use the same pool.
    assert len({port for _, port in graph_front.seen}) == 1


def test_no_cookie_passes_from_one_visitors_provider_call_to_anothers(app_url, control,
                                                                       swap_app, graph_front):
    """The app's calls to a provider share connections, never cookies: a cookie a
    provider sets while answering for one visitor is not sent with the calls made
    for the next (the front here sets one on every answer)."""
    swap_app(providers={"facebook": {"graph_url": f"{graph_front.url}/graph"}})
    for user in ("alice", "bob"):
        page = sign_in(Browser(), app_url, "facebook", user)
        assert page.url == f"{app_url}/account", page.text[:300]
    assert len(graph_front.seen) >= 4
    assert graph_front.cookies == []
