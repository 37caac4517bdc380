"""Time the account page in process against the bare route and the quickstart's page.

    .venv/bin/python bench/profile_account.py [--rounds 15] [--batch 40]

Starts the stand-ins, a Redis, ours and the Auth0 quickstart (bench/peers/) as
``bench/run.py`` does, signs a visitor in to each through the stand-ins' real
pages, then drives three targets through their WSGI apps in this process:
``/account``, ``/bench/hello`` (ours, the visitor's cookie) and the quickstart's
``/`` (its cookie session). The targets take turns in small batches (A, B, C,
then B, C, A ...) over several rounds, so start-up warmth and the machine's
other work fall on all three alike; it prints min/median/max ms per view for
each, the ratios within each round, then /account under cProfile: where a
view's time goes (session read, template, CSRF token, save) and the top
functions. The in-process client leaves out gunicorn's HTTP work, which every
target shares.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from signins import ours, quickstart
from stack import App, Stack, app_environment, print_profile, start_services

#: Where a view's time goes: label -> (file name part, function name).
AREAS = {
    "session open (near cache or store, unseal)": ("webapp/session_interface.py",
                                                   "open_session"),
    "  of which Redis commands": ("redis/client.py", "execute_command"),
    "  of which AES-GCM open + msgpack": ("session_store.py", "open"),
    "template render": ("flask/templating.py", "_render"),
    "CSRF token": ("flask_wtf/csrf.py", "generate_csrf"),
    "session save (skipped when unchanged)": ("webapp/session_interface.py", "save_session"),
}
APPS = {"ours": App(),
        "quickstart": App(spec="bench.peers.quickstart:app", sessions="cookie",
                          client_id="bench-quickstart-cookie")}


def batch_ms(client, path: str, views: int) -> float:
    """Milliseconds per view over ``views`` views in a row."""
    began = time.perf_counter()
    for _ in range(views):
        if client.get(path).status_code != 200:
            raise RuntimeError(f"{path} in process: not 200")
    return (time.perf_counter() - began) / views * 1000


def interleaved(targets: dict, rounds: int, batch: int) -> list[dict[str, float]]:
    """Per round, each target's ms per view, the targets in a rotated order."""
    names = list(targets)
    for name in names:  # one batch each to warm up (imports, caches, first renders)
        batch_ms(*targets[name], batch)
    out = []
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        out.append({name: batch_ms(*targets[name], batch) for name in order})
    return out


def summary(values: list[float]) -> str:
    return (f"{statistics.median(values):6.3f} (min {min(values):.3f}, "
            f"max {max(values):.3f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=40, help="views per target per turn")
    parser.add_argument("--views", type=int, default=500, help="/account views profiled")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fedlab-profile-") as tmp:
        stack = Stack(Path(tmp))
        try:
            services = start_services(stack, 1, 2, apps=APPS)
            ours_visitor = ours(services.apps["ours"]).sign_in()
            peer_visitor = quickstart(services.apps["quickstart"]).sign_in()
            # The in-process apps read the same settings and store as the gunicorns.
            for name, app in APPS.items():
                os.environ.update(app_environment(name, app, services.config_file,
                                                  services.redis_url, services.standins_url))
            clients = {}
            for name, module, http in (("ours", "bench.wsgi", ours_visitor),
                                       ("quickstart", "bench.peers.quickstart", peer_visitor)):
                client = importlib.import_module(module).app.test_client()
                for cookie in http.cookies:
                    if cookie.domain.startswith("localhost"):
                        client.set_cookie(cookie.name, cookie.value)
                clients[name] = client
            targets = {"/account": (clients["ours"], "/account"),
                       "/bench/hello": (clients["ours"], "/bench/hello"),
                       "quickstart /": (clients["quickstart"], "/")}
            rows = interleaved(targets, options.rounds, options.batch)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(options.views):
                clients["ours"].get("/account")
            profiler.disable()
        finally:
            stack.stop()
    print(f"ms per view in process, {options.rounds} rounds of {options.batch} views per "
          f"target, interleaved and rotated: median (min, max)")
    for name in targets:
        print(f"  {name:<14} {summary([row[name] for row in rows])}")
    print("time per view ÷ time per view, within each round: median (min, max)")
    for label, a, b in (("/account ÷ quickstart /", "/account", "quickstart /"),
                        ("/account ÷ /bench/hello", "/account", "/bench/hello")):
        print(f"  {label:<24} {summary([row[a] / row[b] for row in rows])}")
    print(f"\n/account under cProfile ({options.views} views; the profiler slows every call):")
    print_profile(profiler, AREAS, options.views, "view", options.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
