"""The page-rate loads of bench/rates.py, seen from the server they load.

The many-visitors page of ``make bench`` is only what it says if wrk really
sends each visitor's cookie in turn: a small server here counts what arrives.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections import Counter
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .conftest import require

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import rates


class Counting:
    """A WSGI app that answers 200 and counts the Cookie headers it is sent."""

    def __init__(self) -> None:
        self.cookies: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.cookies[Request(environ).headers.get("Cookie", "")] += 1
        return Response("ok")(environ, start_response)


def serve(app) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/", server


def test_each_visitor_s_cookie_is_sent_in_turn():
    require(shutil.which("wrk") is not None, "wrk is not installed (make system-deps)")
    counting = Counting()
    url, server = serve(counting)
    try:
        visitors = tuple(f"fedlab=visitor{i}" for i in range(10))
        got = rates.load(rates.Target(url, visitors=visitors), seconds=1, connections=2)
    finally:
        server.shutdown()
    assert got["non_2xx"] == 0 and got["rps"] > 0
    assert set(counting.cookies) == set(visitors)
    # In turn: each visitor about as often as the others.
    assert max(counting.cookies.values()) <= 2 * min(counting.cookies.values()) + 2


def test_one_visitor_s_cookie_is_sent_on_every_request():
    require(shutil.which("wrk") is not None, "wrk is not installed (make system-deps)")
    counting = Counting()
    url, server = serve(counting)
    try:
        rates.load(rates.Target(url, cookie="fedlab=one"), seconds=1, connections=2)
    finally:
        server.shutdown()
    assert set(counting.cookies) == {"fedlab=one"}
