"""The app as production serves it, plus one bare route for the benchmarks only.

    gunicorn 'bench.wsgi:app'

``/bench/hello`` answers "hello" through the same app, hooks and gunicorn
settings as every page, so ``bench/run.py`` can compare a page's cost with the
least a request can cost here. The production app (``webapp:create_app()``)
has no such route.

A request that sends ``X-Bench-Timing`` (the sign-in timing of bench/run.py)
gets the app's time and its outbound HTTP calls (requests) back as response
headers. The timing wraps the WSGI app rather than adding Flask hooks, so every
other request (the page rates, the paired sign-ins) pays nothing for it: a hook
costs each request its dispatch, whether it times or not.
"""

import threading
import time

import requests

from webapp import create_app

app = create_app()


@app.get("/bench/hello")
def bench_hello() -> str:
    return "hello"


#: The header a request sends to be timed, as WSGI names it.
TIMING = "HTTP_X_BENCH_TIMING"
_local = threading.local()
_send = requests.Session.send


def _timed_send(self, request, **kwargs):
    began = time.perf_counter()
    try:
        return _send(self, request, **kwargs)
    finally:
        if getattr(_local, "outbound", None) is not None:
            _local.outbound.append((request.url, time.perf_counter() - began))


requests.Session.send = _timed_send


class Timed:
    """Time the requests that ask: the app's own time (from before the session is
    opened to the response's start) and its outbound calls, as headers."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if TIMING not in environ:
            return self.wsgi_app(environ, start_response)
        began, calls = time.perf_counter(), []
        _local.outbound = calls

        def stamped(status, headers, exc_info=None):
            headers = [*headers,
                       ("X-Bench-App-Ms", f"{(time.perf_counter() - began) * 1000:.3f}"),
                       ("X-Bench-Outbound-Ms", f"{sum(t for _, t in calls) * 1000:.3f}"),
                       ("X-Bench-Outbound", " ".join(url.split("?")[0] for url, _ in calls))]
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, stamped)
        finally:
            _local.outbound = None


app.wsgi_app = Timed(app.wsgi_app)
