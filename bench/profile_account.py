"""Profile the account page, the benchmark's worst figure against its target.

    .venv/bin/python bench/profile_account.py [--views 500]

Starts the stand-ins and a Redis as ``bench/run.py`` does, signs a visitor in
through the stand-ins' real pages, then renders ``/account`` (and the bare
``/bench/hello``) ``--views`` times through the same WSGI app in this process
under cProfile, and prints the time per view, where it goes (session store
read, decryption, template, CSRF token, session save) and the top functions.
The in-process client leaves out gunicorn's HTTP work, which both routes share.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import Stack, sign_in, start_services

#: Where a view's time goes: label -> (file name part, function name).
AREAS = {
    "session read (store + decrypt + decode)": ("webapp/session_interface.py", "read"),
    "  of which the Redis GET": ("redis/client.py", "execute_command"),
    "  of which AES-GCM open + msgpack": ("session_store.py", "open"),
    "template render": ("flask/templating.py", "_render"),
    "CSRF token": ("flask_wtf/csrf.py", "generate_csrf"),
    "session save (skipped when unchanged)": ("webapp/session_interface.py", "save_session"),
}


def per_view_ms(client, path: str, views: int) -> float:
    for _ in range(min(50, views)):
        client.get(path)
    began = time.perf_counter()
    for _ in range(views):
        client.get(path)
    return (time.perf_counter() - began) / views * 1000


def areas(stats: pstats.Stats, views: int) -> dict[str, float]:
    out = {}
    for label, (filename, function) in AREAS.items():
        total = sum(ct for (file, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                    if name == function and file.endswith(filename))
        out[label] = total / views * 1000
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fedlab-profile-") as tmp:
        stack = Stack(Path(tmp))
        try:
            services = start_services(stack, 1, 2, app_spec="bench.wsgi:app")
            visitor = sign_in(services.app_url, "cognito", "alice", federate=False)
            cookie = next(iter(visitor.cookies))
            # The in-process app reads the same configuration and store as gunicorn's.
            os.environ.update({"FEDLAB_CONFIG": str(services.config_file),
                               "FEDLAB_SESSION__TYPE": "redis",
                               "FEDLAB_SESSION__REDIS_URL": services.redis_url,
                               "FEDLAB_SESSION__KEY_PREFIX": f"fedlab-load-{os.getpid()}-app:"})
            app = importlib.import_module("bench.wsgi").app
            client = app.test_client()
            client.set_cookie(cookie.name, cookie.value)
            page = client.get("/account")
            if page.status_code != 200:
                raise RuntimeError(f"/account in process: HTTP {page.status_code}")
            account = per_view_ms(client, "/account", options.views)
            hello = per_view_ms(client, "/bench/hello", options.views)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(options.views):
                client.get("/account")
            profiler.disable()
        finally:
            stack.stop()
    print(f"/account: {account:.2f} ms per view ({len(page.data):,} bytes); /bench/hello: "
          f"{hello:.2f} ms; in-process ratio {hello / account:.2f}")
    stats = pstats.Stats(profiler)
    print(f"\nUnder cProfile ({options.views} views; the profiler slows every call):")
    for label, ms in areas(stats, options.views).items():
        print(f"  {label:<42} {ms:6.2f} ms per view")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(options.top)
    print(text.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
