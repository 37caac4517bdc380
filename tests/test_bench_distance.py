"""The bench's provider at a distance (bench/distance.py): what a client meets through it.

The sign-ins at a distance are only as honest as the front and the delay: real
TLS (refused by a client that does not trust the run's authority), connections
kept for the next request, each request and answer passed on whole (every
``Set-Cookie`` on its own), and no answer sooner than the round trips it needs.
Each is checked here from the client's side, against a small upstream on
loopback that closes every connection, as the stand-ins' werkzeug server does.
"""

import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from distance import far_provider


class Upstream(BaseHTTPRequestHandler):
    """Answers every request with what it got, two cookies, and a closed connection."""

    def do_GET(self) -> None:
        self.answer(b"")

    def do_POST(self) -> None:
        self.answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def answer(self, body: bytes) -> None:
        text = f"{self.command} {self.path} {body.decode()}".encode()
        self.send_response(201)
        self.send_header("Set-Cookie", "first=1; Path=/")
        self.send_header("Set-Cookie", "second=2; Path=/")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def far(upstream, tmp_path):
    provider = far_provider(upstream, tmp_path, one_way=0.0)
    yield provider
    provider.close()


@pytest.fixture
def client(far):
    """Sessions that trust the run's authority (only), each closed at the end."""
    made = []

    def make() -> requests.Session:
        http = requests.Session()
        http.trust_env, http.verify = False, str(far.certificate.authority)
        made.append(http)
        return http

    yield make
    for http in made:
        http.close()


def test_requests_and_answers_pass_whole_over_verified_tls(far, client):
    http = client()
    answer = http.post(f"{far.url}/auth0/oauth/token?x=1", data=b"code=abc", timeout=10)
    assert answer.status_code == 201
    assert answer.text == "POST /auth0/oauth/token?x=1 code=abc"
    assert http.cookies.get("first") == "1" and http.cookies.get("second") == "2"
    assert far.url.startswith("https://")
    with requests.Session() as untrusting, pytest.raises(requests.exceptions.SSLError):
        untrusting.get(f"{far.url}/", timeout=10, verify=True)


def test_a_connection_is_kept_for_the_next_request(far, client):
    http = client()
    for _ in range(3):
        assert http.get(f"{far.url}/again", timeout=10).status_code == 201
    assert (far.front.connections, far.front.requests) == (1, 3)
    client().get(f"{far.url}/", timeout=10)
    assert (far.front.connections, far.front.requests) == (2, 4)


def test_no_answer_comes_sooner_than_its_round_trips(far, client):
    """A new connection pays the TLS handshake's round trip and the request's; a
    kept one the request's only. Lower bounds only: the delay can make an answer
    late, never early."""
    far.delay.one_way = 0.05
    http = client()
    began = time.perf_counter()
    http.get(f"{far.url}/first", timeout=10)
    first = time.perf_counter() - began
    began = time.perf_counter()
    http.get(f"{far.url}/second", timeout=10)
    second = time.perf_counter() - began
    assert first >= 4 * 0.05, first
    assert second >= 2 * 0.05, second
    assert far.front.connections == 1


def test_a_failure_on_the_way_is_answered_and_noted(tmp_path):
    """A run reads :meth:`FarProvider.failures` before it believes its figures."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the probe is gone
    provider = far_provider(f"http://127.0.0.1:{closed}", tmp_path, one_way=0.0)
    try:
        with requests.Session() as http:
            http.trust_env, http.verify = False, str(provider.certificate.authority)
            assert http.get(f"{provider.url}/auth0/oauth/token", timeout=10).status_code == 502
        assert len(provider.failures()) == 1 and "/auth0/oauth/token" in provider.failures()[0]
    finally:
        provider.close()


def test_an_idle_timeout_ends_idle_connections_and_those_open_when_set(far, client):
    http = client()
    http.get(f"{far.url}/before", timeout=10)
    far.front.close_idle_after(0.2)
    time.sleep(0.1)  # the end of the stream on its way back through the relay
    http.get(f"{far.url}/after", timeout=10)
    http.get(f"{far.url}/at-once", timeout=10)
    assert far.front.connections == 2, "the connection open when it was set was not ended"
    time.sleep(0.5)
    http.get(f"{far.url}/after-a-wait", timeout=10)
    assert far.front.connections == 3, "an idle connection was not ended"
    assert far.failures() == []
