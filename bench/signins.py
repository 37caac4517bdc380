"""Sign-ins as a browser makes them: paired timings, worker memory, and sign-outs seen elsewhere.

Every sign-in here goes through the stand-ins' real sign-in and consent pages
(``stack.browse_sign_in``), for ours and for the quickstart peers alike, and is
timed at the client: what a visitor waits for, the provider's part included.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from rates import spread
from stack import REQUEST_TIMEOUT, browse_sign_in, command_calls


@dataclass(frozen=True)
class Site:
    """Where a sign-in starts and the page it lands on, relative to the app's URL;
    ``verify``: what the browser trusts of the provider's certificate (requests')."""

    url: str
    start: str
    landing: str
    verify: bool | str = True

    def sign_in(self, user: str = "alice") -> requests.Session:
        http = requests.Session()
        if self.verify is not True:
            # requests prefers REQUESTS_CA_BUNDLE, where the machine sets one, to this.
            http.trust_env, http.verify = False, self.verify
        browse_sign_in(http, self.url + self.start, self.url + self.landing, user)
        return http


def ours(url: str, provider: str = "auth0", verify: bool | str = True) -> Site:
    return Site(url, f"/auth/{provider}/login", "/account", verify)


def quickstart(url: str, verify: bool | str = True) -> Site:
    return Site(url, "/login", "/", verify)


# -- a sign-in, ours against the quickstart's, paired ------------------------------


def timed(site: Site, user: str) -> float:
    began = time.perf_counter()
    http = site.sign_in(user)
    elapsed = (time.perf_counter() - began) * 1000
    http.close()  # the browser leaves: its connections end now, not when collected
    return elapsed


def paired(a: Site, b: Site, pairs: int, warm: int = 4) -> dict:
    """``pairs`` sign-ins on each, back to back, alternating which goes first; the
    ratio a/b and the difference a - b (ms) per pair, so both halves of a figure
    met the same moment's machine."""
    for i in range(warm):  # each worker's first sign-in fetches discovery and keys
        timed(a, ("alice", "bob")[i % 2])
        timed(b, ("alice", "bob")[i % 2])
    ms_a, ms_b = [], []
    for i in range(pairs):
        user = ("alice", "bob")[i % 2]
        if i % 2 == 0:
            ms_a.append(timed(a, user))
            ms_b.append(timed(b, user))
        else:
            ms_b.append(timed(b, user))
            ms_a.append(timed(a, user))
    return {"pairs": pairs, "ours_ms": spread(ms_a, 1), "quickstart_ms": spread(ms_b, 1),
            "ratio": spread([x / y for x, y in zip(ms_a, ms_b, strict=True)]),
            "difference_ms": spread([x - y for x, y in zip(ms_a, ms_b, strict=True)], 1)}


# -- worker memory over sign-ins -----------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers_rss_mib(master: int) -> list[float]:
    """Each gunicorn worker's resident size (VmRSS), MiB, in worker pid order."""
    children = sorted(int(p) for p in
                      Path(f"/proc/{master}/task/{master}/children").read_text().split())
    return [round(rss_kib(pid) / 1024, 1) for pid in children]


def sign_ins(site: Site, count: int, threads: int = 4) -> int:
    """``count`` sign-ins, ``threads`` at a time, each followed by one view of the
    landing page as a visitor's reload; returns how many failed."""
    failed = [0]
    lock = threading.Lock()

    def one(i: int) -> None:
        try:
            http = site.sign_in(("alice", "bob")[i % 2])
            if http.get(site.url + site.landing, timeout=REQUEST_TIMEOUT).status_code != 200:
                raise RuntimeError("the signed-in page did not answer 200")
        except (RuntimeError, requests.RequestException):
            with lock:
                failed[0] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    return failed[0]


def memory(site: Site, master: int, steps: tuple[int, ...], warm: int) -> dict:
    """Each worker's RSS after ``warm`` sign-ins, then after each further step."""
    failed = sign_ins(site, warm)
    sizes = {"warm-up": workers_rss_mib(master)}
    done = 0
    for step in steps:
        failed += sign_ins(site, step - done)
        done = step
        sizes[f"+{step:,}"] = workers_rss_mib(master)
    first, last = sizes["warm-up"], sizes[f"+{steps[-1]:,}"]
    return {"warm_signins": warm, "steps": list(steps), "failed": failed,
            "workers_mib": sizes,
            "growth_mib": [round(b - a, 1) for a, b in zip(first, last, strict=True)]}


# -- a sign-out on one instance, seen by another -------------------------------------


class _SignOutForm(HTMLParser):
    """The action and fields of the form whose button reads "Sign out"."""

    def __init__(self) -> None:
        super().__init__()
        self.current: dict | None = None
        self.found: dict | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.current = {"action": a.get("action") or "", "fields": {}}
        elif tag == "input" and self.current is not None and a.get("name"):
            self.current["fields"][a["name"]] = a.get("value") or ""
        elif tag == "button":
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "button" and self._text is not None:
            if "".join(self._text).strip() == "Sign out" and self.found is None:
                self.found = self.current
            self._text = None


def sign_out_post(http: requests.Session, page: requests.Response) -> requests.Response:
    """Press the page's "Sign out", without following where it sends the browser."""
    parser = _SignOutForm()
    parser.feed(page.text)
    if parser.found is None:
        raise RuntimeError(f"no Sign out form on {page.url}")
    return http.post(urljoin(page.url, parser.found["action"]), data=parser.found["fields"],
                     allow_redirects=False, timeout=REQUEST_TIMEOUT)


def sign_out_seen(a_url: str, b_url: str, store: Any, trials: int, views: int = 6,
                  wait_s: float = 2.0) -> dict:
    """A visitor signed in, their /account viewed ``views`` times on instance B (so
    B holds a copy of the session); then Sign out on instance A, and B asked at
    once, and again until it answers signed out, with the session id the browser
    had: after the sign-out the browser's own cookie names no session, so only
    the old id asks whether B still serves it. ``store`` is the Redis both
    instances use: the last view before the sign-out must have sent it no
    ``GET`` (B answered from its copy), else the trial says nothing of the
    copies and is counted apart. Counted: trials whose first request to B was
    already signed out, and the time from sending the sign-out to B's first
    signed-out answer."""
    first_signed_out, ms, never, without_copy = 0, [], 0, 0
    for i in range(trials):
        http = ours(a_url).sign_in(("alice", "bob")[i % 2])
        for view in range(views):
            if view == views - 1:
                gets = command_calls(store, ("get",))
            if http.get(f"{b_url}/account", timeout=REQUEST_TIMEOUT).status_code != 200:
                raise RuntimeError("instance B did not show the signed-in account")
        from_copy = command_calls(store, ("get",)) == gets
        without_copy += not from_copy
        old = "; ".join(f"{c.name}={c.value}" for c in http.cookies if c.name == "fedlab")
        page = http.get(f"{a_url}/account", timeout=REQUEST_TIMEOUT)
        began = time.perf_counter()
        if sign_out_post(http, page).status_code >= 400:
            raise RuntimeError("the sign-out on instance A failed")
        tries = 0
        while True:
            tries += 1
            # The same connection to B as the views (one worker holds the copy).
            status = http.get(f"{b_url}/account", allow_redirects=False,
                              headers={"Cookie": old}, timeout=REQUEST_TIMEOUT).status_code
            elapsed = (time.perf_counter() - began) * 1000
            if status != 200:
                first_signed_out += tries == 1 and from_copy
                ms.append(elapsed)
                break
            if elapsed > wait_s * 1000:
                never += 1
                break
    return {"trials": trials, "first_request_signed_out": first_signed_out,
            "trials_without_a_copy": without_copy,
            "still_signed_in_after_wait": never, "wait_s": wait_s,
            "sign_out_to_signed_out_ms": spread(ms, 2) if ms else None}


class Churn:
    """Sign-ins and sign-outs in a loop on one instance, in a thread, while
    something else is measured: every one writes and deletes a session record.

    Paced at ``per_second`` cycles: unpaced, the loop runs fastest while the
    instance it uses is idle, that is while the other instance is measured, and
    its own CPU (this process, that instance, the stand-ins) then weighs on one
    side of the comparison only."""

    def __init__(self, url: str, per_second: float = 4.0) -> None:
        self.url = url
        self.per_second = per_second
        self.cycles = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        while not self._stop.is_set():
            http = ours(self.url).sign_in("bob")
            sign_out_post(http, http.get(f"{self.url}/account", timeout=REQUEST_TIMEOUT))
            self.cycles += 1
            self._stop.wait(max(0.0, began + self.cycles / self.per_second - time.monotonic()))

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
