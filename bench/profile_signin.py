"""Time a sign-in hop by hop, ours against the Auth0 quickstart's, and profile ours.

    .venv/bin/python bench/profile_signin.py [--rounds 10] [--batch 4] [--profiled 60]

Starts the stand-ins, a Redis, ours and the Auth0 quickstart (bench/peers/)
under gunicorn as ``bench/run.py`` does, then signs visitors in to each as a
browser does, through the stand-in's real sign-in and consent pages, following
every redirect by hand so that each HTTP hop is timed at the client: the
site's login start, the provider's authorize, sign-in and consent pages, the
site's callback, and the landing page. The two take turns in small batches (A,
B, then B, A ...) over several rounds, so the machine's other work falls on
both alike; it prints each hop's median, ours ÷ the quickstart's per hop and
for the whole sign-in (within each round), and the Redis commands and round
trips of our login and callback (``INFO commandstats``; the run's own Redis).

Then the hops each site serves (login, callback, landing) in process, driven
through each WSGI app (the stand-in's pages and the code exchange still over
HTTP), interleaved alike: the in-process client leaves out gunicorn's HTTP
work, which both sites share, so what is left is each site's own work. Last,
ours in process under cProfile: where its time goes (Redis, the code exchange,
the id-token checks, sealing, the picture) and the top functions.
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
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (
    REQUEST_TIMEOUT,
    App,
    Stack,
    app_environment,
    clicked,
    print_profile,
    start_services,
)

APPS = {"ours": App(),
        "quickstart": App(spec="bench.peers.quickstart:app", sessions="cookie",
                          client_id="bench-quickstart-cookie")}
#: Where each site's sign-in starts and lands, and its callback's path.
SITES = {"ours": ("/auth/auth0/login", "/auth/auth0/callback", "/account"),
         "quickstart": ("/login", "/callback", "/")}
HOPS = ("login", "authorize", "sign-in page POST", "consent POST", "callback", "landing")
#: The hops each site serves itself.
IN_PROCESS_HOPS = ("login", "callback", "landing")
#: Where a profiled sign-in's time goes: label -> (file name part, function name).
AREAS = {
    "login view": ("webapp/auth.py", "login"),
    "  authorization request (authlib)": ("webapp/oauth.py", "authorization_url"),
    "callback view": ("webapp/auth.py", "callback"),
    "  code exchange (HTTP)": ("webapp/oauth.py", "exchange_code"),
    "  id-token checks": ("webapp/tokens.py", "validate_id_token"),
    "    python-jose jwt.decode": ("jose/jwt.py", "decode"),
    "    key construction (jwk.construct)": ("jose/jwk.py", "construct"),
    "  session start (rotate, write, index)": ("webapp/sessions.py", "start"),
    "    session index add": ("webapp/session_index.py", "add"),
    "  the picture (of_sign_in)": ("webapp/picture.py", "of_sign_in"),
    "landing view (/account)": ("webapp/account.py", "account"),
    "every Redis command": ("redis/client.py", "execute_command"),
    "every Redis pipeline": ("redis/client.py", "execute"),
    "session open": ("webapp/session_interface.py", "open_session"),
    "session save": ("webapp/session_interface.py", "save_session"),
    "sealing (AES-GCM + msgpack)": ("webapp/session_store.py", "seal"),
    "opening (AES-GCM + msgpack)": ("webapp/session_store.py", "open"),
    "signals (log lines)": ("blinker/base.py", "send"),
}


class Hops:
    """A browser that follows a sign-in by hand, timing each request."""

    def __init__(self, url: str, site: str, user: str) -> None:
        self.url, self.user = url, user
        self.start, self.callback, self.landing = SITES[site]
        self.http = requests.Session()
        self.http.headers["X-Bench-Timing"] = "1"  # our app's time, as bench/wsgi.py stamps it
        self.ms: dict[str, float] = defaultdict(float)
        self.app_ms: dict[str, float] = defaultdict(float)

    def hop_of(self, method: str, url: str) -> str:
        path = urlsplit(url).path
        if url.startswith(self.url):
            for hop, own in (("login", self.start), ("callback", self.callback),
                             ("landing", self.landing)):
                if path == own:
                    return hop
            return "other site page"
        if method == "GET":
            return "authorize"
        return "sign-in page POST" if "sign-in page POST" not in self.ms else "consent POST"

    def send(self, method: str, url: str, data: dict | None = None) -> requests.Response:
        hop = self.hop_of(method, url)
        began = time.perf_counter()
        response = self.http.request(method, url, data=data, allow_redirects=False,
                                     timeout=REQUEST_TIMEOUT)
        self.ms[hop] += (time.perf_counter() - began) * 1000
        if "X-Bench-App-Ms" in response.headers:
            self.app_ms[hop] += float(response.headers["X-Bench-App-Ms"])
        return response

    def follow(self, method: str, url: str, data: dict | None = None) -> requests.Response:
        response = self.send(method, url, data)
        while response.is_redirect:
            # A 302 or 303 after a POST is followed as a GET, as a browser does.
            url = urljoin(url, response.headers["Location"])
            response = self.send("GET", url)
        response.url = url
        return response

    def sign_in(self) -> float:
        began = time.perf_counter()
        page = self.follow("GET", self.url + self.start)
        for _ in range(4):
            if page.url == self.url + self.landing:
                break
            form = clicked(page, f"Sign in as {self.user}") or clicked(page, "Allow")
            if form is None:
                break
            page = self.follow(*form)
        if page.url != self.url + self.landing or page.status_code != 200:
            raise RuntimeError(f"the sign-in at {self.url} did not land on {self.landing}")
        return (time.perf_counter() - began) * 1000


def commands(client: redis.Redis) -> int:
    """Every command Redis has run so far (``INFO commandstats``), this one's INFO left out."""
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_")) + 1


def per_command(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}


def interleaved(urls: dict[str, str], rounds: int, batch: int) -> list[dict]:
    """Per round, per site, each hop's median ms over ``batch`` sign-ins, the whole
    sign-in's, and the server's own (ours only)."""
    names = list(urls)
    users = ("alice", "bob")
    for name in names:  # each worker's first sign-ins fetch discovery and keys
        for i in range(4):
            Hops(urls[name], name, users[i % 2]).sign_in()
    out = []
    for r in range(rounds):
        order = names[r % 2:] + names[:r % 2]
        row: dict = {}
        for name in order:
            runs = []
            for i in range(batch):
                hops = Hops(urls[name], name, users[i % 2])
                total = hops.sign_in()
                runs.append((total, hops))
            row[name] = {
                "total": statistics.median(t for t, _ in runs),
                "hops": {h: statistics.median(x.ms.get(h, 0.0) for _, x in runs) for h in HOPS},
                "app": {h: statistics.median(x.app_ms.get(h, 0.0) for _, x in runs)
                        for h in HOPS},
            }
        out.append(row)
    return out


def redis_trips(url: str, store: redis.Redis, user: str = "alice") -> dict[str, dict]:
    """Our login's and callback's Redis commands, by name, and their round trips:
    the gunicorn's commands counted around each hop (the run's own Redis, idle
    otherwise but for the near cache's own channel)."""
    hops = Hops(url, "ours", user)
    seen: dict[str, dict] = {}
    send = hops.send

    def counted(method: str, target: str, data: dict | None = None) -> requests.Response:
        hop = hops.hop_of(method, target)
        if hop not in ("login", "callback", "landing"):
            return send(method, target, data)
        before = per_command(store)
        response = send(method, target, data)
        after = per_command(store)
        diff = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        diff["info"] -= 1
        seen[hop] = {k: v for k, v in diff.items() if v}
        return response

    hops.send = counted  # type: ignore[method-assign]
    hops.sign_in()
    return seen


def sign_in_in_process(app: Any, url: str, site: str, user: str,
                       profiler: cProfile.Profile | None = None) -> dict[str, float]:
    """One sign-in to ``site`` with its three hops (login, callback, landing) driven
    through its WSGI ``app`` in this process, the stand-in's pages over HTTP; each
    hop's wall time (ms), and under ``profiler`` when one is given."""
    start, _, landing = SITES[site]
    client, http = app.test_client(), requests.Session()
    origin = urlsplit(url).netloc
    ms: dict[str, float] = {}

    def hop(name: str, path: str) -> Any:
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            return client.get(path, base_url=url)
        finally:
            if profiler is not None:
                profiler.disable()
            ms[name] = (time.perf_counter() - began) * 1000

    target = urljoin(url, hop("login", start).headers["Location"])
    page = http.get(target, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    for _ in range(8):
        if page.is_redirect:
            target = urljoin(page.url, page.headers["Location"])
            if urlsplit(target).netloc == origin:
                break
            page = http.get(target, allow_redirects=False, timeout=REQUEST_TIMEOUT)
            continue
        form = clicked(page, f"Sign in as {user}") or clicked(page, "Allow")
        if form is None:
            raise RuntimeError(f"no button to press at {page.url} ({page.status_code})")
        page = http.request(form.method, form.url, data=form.data, allow_redirects=False,
                            timeout=REQUEST_TIMEOUT)
    back = urlsplit(target)
    called = hop("callback", f"{back.path}?{back.query}")
    landed = hop("landing", landing)
    if called.status_code != 302 or landed.status_code != 200:
        raise RuntimeError(f"a sign-in to {site} in process did not land on {landing}")
    return ms


def in_process(apps: dict[str, Any], urls: dict[str, str], rounds: int,
               batch: int) -> list[dict]:
    """Per round, per site, each in-process hop's median ms over ``batch`` sign-ins
    and the median of their sums ("total"), the sites taking turns as in
    :func:`interleaved`."""
    names = list(apps)
    users = ("alice", "bob")
    for name in names:  # discovery, keys, first renders
        for i in range(4):
            sign_in_in_process(apps[name], urls[name], name, users[i % 2])
    out = []
    for r in range(rounds):
        row: dict = {}
        for name in names[r % 2:] + names[:r % 2]:
            runs = [sign_in_in_process(apps[name], urls[name], name, users[i % 2])
                    for i in range(batch)]
            row[name] = {"total": statistics.median(sum(run.values()) for run in runs),
                         "hops": {h: statistics.median(run[h] for run in runs)
                                  for h in IN_PROCESS_HOPS}}
        out.append(row)
    return out


def profile_in_process(app: Any, url: str, count: int) -> cProfile.Profile:
    """``count`` sign-ins of ours in process under cProfile (their three hops only)."""
    profiler = cProfile.Profile()
    for i in range(count):
        sign_in_in_process(app, url, "ours", ("alice", "bob")[i % 2], profiler)
    return profiler


def hop_ms(row: dict, site: str, hop: str) -> float:
    """A round's median ms of ``site``'s ``hop`` ("total": the whole sign-in)."""
    return row[site]["total"] if hop == "total" else row[site]["hops"][hop]


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values):7.2f} (min {min(values):.2f}, "
            f"max {max(values):.2f})")


def print_hops(rows: list[dict], hops: tuple[str, ...], app_column: bool) -> None:
    print(f"  {'hop':<20} {'ours':>30} {'quickstart':>30} {'ours ÷ quickstart':>30}"
          + ("  ours in app" if app_column else ""))
    for hop in (*hops, "total"):
        ours = [hop_ms(row, "ours", hop) for row in rows]
        peer = [hop_ms(row, "quickstart", hop) for row in rows]
        ratio = [a / b for a, b in zip(ours, peer, strict=True) if b]
        app_ms = ("" if hop == "total" or not app_column else
                  f"  {statistics.median(row['ours']['app'][hop] for row in rows):.2f}")
        print(f"  {hop:<20} {spread(ours):>30} {spread(peer):>30} "
              f"{spread(ratio) if ratio else '-':>30}{app_ms}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4, help="sign-ins per site per turn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--profiled", type=int, default=60, help="sign-ins profiled")
    parser.add_argument("--top", type=int, default=30)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fedlab-profile-") as tmp:
        stack = Stack(Path(tmp))
        try:
            services = start_services(stack, options.workers, options.threads, apps=APPS)
            store = redis.Redis.from_url(services.redis_url)
            rows = interleaved(services.apps, options.rounds, options.batch)
            trips = redis_trips(services.apps["ours"], store)
            before = commands(store)
            Hops(services.apps["ours"], "ours", "bob").sign_in()
            per_sign_in = commands(store) - before - 1
            # The in-process apps read the same settings and store as the gunicorns.
            for name, app in APPS.items():
                os.environ.update(app_environment(name, app, services.config_file,
                                                  services.redis_url, services.standins_url))
            apps = {"ours": importlib.import_module("bench.wsgi").app,
                    "quickstart": importlib.import_module("bench.peers.quickstart").app}
            process_rows = in_process(apps, services.apps, options.rounds, options.batch)
            profiler = profile_in_process(apps["ours"], services.apps["ours"], options.profiled)
        finally:
            stack.stop()
    print(f"ms per sign-in hop, timed at the client; {options.rounds} rounds of "
          f"{options.batch} sign-ins per site, interleaved: median of the rounds' medians "
          f"(min, max)")
    print_hops(rows, HOPS, app_column=True)
    print("\nms per hop each site serves, in process (no HTTP to the site; the stand-in's "
          "pages and the code exchange still over HTTP), interleaved alike:")
    print_hops(process_rows, IN_PROCESS_HOPS, app_column=False)
    print("\nRedis commands of our sign-in, by hop (a pipeline or MGET is one round trip):")
    for hop, counts in trips.items():
        print(f"  {hop:<10} {sum(counts.values()):3d} commands: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"  a whole sign-in: {per_sign_in} commands")
    print(f"\nours in process under cProfile ({options.profiled} sign-ins: login, callback, "
          f"landing; the profiler slows every call):")
    print_profile(profiler, AREAS, options.profiled, "sign-in", options.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
