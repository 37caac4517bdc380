"""The app as production serves it, plus one bare route for the benchmarks only.

    gunicorn 'bench.wsgi:app'

``/bench/hello`` answers "hello" through the same app, hooks and gunicorn
settings as every page, so ``bench/run.py`` can compare a page's cost with the
least a request can cost here. The production app (``webapp:create_app()``)
has no such route.
"""

from webapp import create_app

app = create_app()


@app.get("/bench/hello")
def bench_hello() -> str:
    return "hello"


# -- timing, for the sign-in measurement: the app's outbound HTTP (requests) per
# request, and the time from the first hook to the last, as response headers.

import threading  # noqa: E402
import time  # noqa: E402

import flask  # noqa: E402
import requests  # noqa: E402

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


@app.before_request
def _bench_start() -> None:
    _local.outbound = []
    flask.g.bench_began = time.perf_counter()


app.before_request_funcs[None].insert(0, app.before_request_funcs[None].pop())


@app.after_request
def _bench_stamp(response: flask.Response) -> flask.Response:
    calls = getattr(_local, "outbound", None) or []
    began = flask.g.get("bench_began")
    if began is not None:
        response.headers["X-Bench-App-Ms"] = f"{(time.perf_counter() - began) * 1000:.3f}"
    response.headers["X-Bench-Outbound-Ms"] = f"{sum(t for _, t in calls) * 1000:.3f}"
    response.headers["X-Bench-Outbound"] = " ".join(url.split("?")[0] for url, _ in calls)
    _local.outbound = None
    return response
