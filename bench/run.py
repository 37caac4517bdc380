"""The benchmark suite (issue 6): measurements as ratios, side by side in one run.

    .venv/bin/python bench/run.py [--quick] [--signins 5] [--timed-signins 200]

Bounded (about 2-4 minutes on 2 cores), on loopback. It starts the stand-ins,
a Redis and two gunicorns of ``bench.wsgi:app`` (the production app plus a bare
``/bench/hello`` route and timing headers), one with Redis sessions and one
with the cachelib default, then measures:

1. outbound calls per sign-in, counted at the stand-ins (``/_control/calls``);
2. requests/s of ``/account`` (signed in) against ``/bench/hello``, alternating
   rounds, with Redis and with cachelib sessions, and the session writes during
   the ``/account`` rounds (Redis ``INFO commandstats`` deltas, cachelib file
   modifications);
3. sign-in time spent in the app: the callback's time minus its outbound calls;
4. AWS calls per ``/credentials`` view, and the time of the first (federating) view;
6. session cookie bytes and stored session bytes per provider.

Writes ``bench/results/report.json`` and ``report.md`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import PROVIDERS, REQUEST_TIMEOUT, ROOT, Stack, sign_in, start_services

RESULTS = ROOT / "bench" / "results"
#: Endpoints of the stand-ins a browser visits (the rest are the app's calls).
BROWSER_ENDPOINTS = {"authorize", "login", "consent", "logout", "oauth_dialog", "dialog",
                     "idpresponse"}
#: The tenant the app talks to, per provider (cognito-google: Cognito calls Google itself).
APP_TENANT = {"cognito-google": "cognito"}
#: Redis commands that write a session.
WRITES = ("set", "setex", "psetex", "eval", "evalsha", "del", "expire", "pexpire", "getset")


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "system": platform.platform(), "load_client": "wrk" if shutil.which("wrk")
            else "threads + requests.Session"}


def spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3), "min": round(ordered[0], 3),
            "max": round(ordered[-1], 3), "n": len(ordered)}


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- 1. outbound calls per sign-in -------------------------------------------------


def standin_calls(url: str) -> dict:
    return requests.get(f"{url}/_control/calls", timeout=REQUEST_TIMEOUT).json()


def app_calls(counts: dict) -> dict:
    """The server-to-server calls in a /_control/calls answer, per tenant."""
    out = {}
    for tenant, endpoints in counts.items():
        mine = {e: n for e, n in endpoints.items() if e not in BROWSER_ENDPOINTS}
        if mine:
            out[tenant] = mine
    return out


def outbound_per_signin(app_url: str, standins_url: str, n: int) -> dict:
    result = {}
    for provider in PROVIDERS:
        sign_in(app_url, provider, "alice", federate=False)  # warm-up: discovery, keys
        requests.delete(f"{standins_url}/_control/calls", timeout=REQUEST_TIMEOUT)
        for i in range(n):
            sign_in(app_url, provider, ("alice", "bob")[i % 2], federate=False)
        counts = standin_calls(standins_url)
        calls = app_calls(counts)
        upstream = {t: e for t, e in calls.items() if t != APP_TENANT.get(provider, t)}
        calls = {t: e for t, e in calls.items() if t == APP_TENANT.get(provider, t)}
        total = sum(sum(e.values()) for e in calls.values())
        result[provider] = {"signins": n, "per_signin": round(total / n, 2),
                            "by_endpoint": {f"{t}/{e}": round(c / n, 2)
                                            for t, es in calls.items() for e, c in es.items()},
                            "upstream_calls_by_the_provider": {
                                f"{t}/{e}": round(c / n, 2)
                                for t, es in upstream.items() for e, c in es.items()},
                            "all_counted": counts}
    return result


# -- 2. page cost ------------------------------------------------------------------


def cookie_header(http: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def load(url: str, seconds: float, cookie: str | None, connections: int) -> dict:
    """Requests/s for ``url`` during ``seconds``, and the count of non-200 answers."""
    if shutil.which("wrk"):
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
        if cookie:
            command[1:1] = ["-H", f"Cookie: {cookie}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True,  # noqa: S603
                             timeout=seconds + 30).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = re.search(r"Socket errors:.*", out)
        return {"rps": rps, "non_2xx": int(bad.group(1)) if bad else 0,
                "socket_errors": errors.group(0) if errors else ""}
    count = [0, 0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        http = requests.Session()
        if cookie:
            http.headers["Cookie"] = cookie
        while time.monotonic() < deadline:
            ok = http.get(url, timeout=REQUEST_TIMEOUT, allow_redirects=False).status_code == 200
            with lock:
                count[0 if ok else 1] += 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": count[0] / seconds, "non_2xx": count[1], "socket_errors": ""}


def redis_writes(client: redis.Redis) -> dict:
    stats = client.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in (*WRITES, "get")}


def session_files(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.glob("**/*") if p.is_file()} \
        if folder.exists() else {}


def page_cost(services, folder: Path, rounds: int, seconds: float, connections: int) -> dict:
    result = {}
    client = redis.Redis.from_url(services.redis_url)
    for name, url in services.apps.items():
        visitor = sign_in(url, "cognito", "alice")
        cookie = cookie_header(visitor)
        check = requests.get(f"{url}/account", headers={"Cookie": cookie},
                             allow_redirects=False, timeout=REQUEST_TIMEOUT)
        if check.status_code != 200:
            raise RuntimeError(f"/account with the cookie: HTTP {check.status_code}")
        ratios, account, hello, writes, touched, problems = [], [], [], [], 0, 0
        for r in range(rounds):
            order = ("account", "hello") if r % 2 == 0 else ("hello", "account")
            got = {}
            for which in order:
                if which == "account":
                    before, files = redis_writes(client), session_files(
                        folder / f"sessions-{name}")
                    got[which] = load(f"{url}/account", seconds, cookie, connections)
                    after = redis_writes(client)
                    writes.append({k: after[k] - before[k] for k in after
                                   if after[k] - before[k]})
                    now = session_files(folder / f"sessions-{name}")
                    touched += sum(1 for p, m in now.items() if files.get(p) != m)
                else:
                    got[which] = load(f"{url}/bench/hello", seconds, None, connections)
                problems += got[which]["non_2xx"]
            account.append(got["account"]["rps"])
            hello.append(got["hello"]["rps"])
            ratios.append(got["account"]["rps"] / got["hello"]["rps"])
        result[name] = {"account_rps": spread(account), "hello_rps": spread(hello),
                        "ratio": spread(ratios), "non_2xx": problems,
                        "redis_commands_during_account": writes if name == "redis" else None,
                        "session_files_modified_during_account":
                            touched if name == "cachelib" else None}
    return result


# -- 3. sign-in time in the app -------------------------------------------------------


def signin_time(app_url: str, n: int) -> dict:
    """Per sign-in: the callback's time at the client, and minus its outbound calls."""
    total, app_only, server, outbound = [], [], [], []
    calls_seen: dict[str, int] = {}
    hooks = requests.Session

    for i in range(n):
        provider = ("cognito", "auth0", "google")[i % 3]
        http = hooks()
        timing: dict = {}

        def record(response, *args, timing=timing, **kwargs):
            if "/auth/" in response.url and "/callback" in response.url:
                timing["total"] = response.elapsed.total_seconds() * 1000
                timing["outbound"] = float(response.headers.get("X-Bench-Outbound-Ms", 0))
                timing["server"] = float(response.headers.get("X-Bench-App-Ms", 0))
                timing["calls"] = response.headers.get("X-Bench-Outbound", "")

        http.hooks["response"].append(record)
        _drive_sign_in(http, app_url, provider, ("alice", "bob")[i % 2])
        if "total" not in timing:
            raise RuntimeError("no callback response seen")
        total.append(timing["total"])
        outbound.append(timing["outbound"])
        app_only.append(timing["total"] - timing["outbound"])
        server.append(timing["server"] - timing["outbound"])
        for url in timing["calls"].split():
            key = re.sub(r"^https?://[^/]+", "", url)
            calls_seen[key] = calls_seen.get(key, 0) + 1
    return {"signins": n, "providers": ["cognito", "auth0", "google"],
            "callback_ms": {"median": round(statistics.median(total), 2),
                            "p95": round(pct(total, 0.95), 2)},
            "outbound_ms": {"median": round(statistics.median(outbound), 2),
                            "p95": round(pct(outbound, 0.95), 2)},
            "in_app_ms": {"median": round(statistics.median(app_only), 2),
                          "p95": round(pct(app_only, 0.95), 2)},
            "in_app_server_side_ms": {"median": round(statistics.median(server), 2),
                                      "p95": round(pct(server, 0.95), 2)},
            "outbound_calls_seen": {k: round(v / n, 2) for k, v in calls_seen.items()}}


def _drive_sign_in(http: requests.Session, app_url: str, provider: str, user: str) -> None:
    from stack import click

    page = http.get(f"{app_url}/auth/{provider}/login", timeout=REQUEST_TIMEOUT)
    for _ in range(8):
        if page.url.startswith(app_url) or page.status_code >= 400:
            break
        page = click(http, page, f"Sign in as {user}") or click(http, page, "Allow")
        if page is None:
            break
    if page is None or page.url != f"{app_url}/account":
        raise RuntimeError(f"sign-in with {provider} did not end on the account page")


# -- 4. credentials --------------------------------------------------------------------


def credentials(app_url: str, identity_url: str, views: int) -> dict:
    http = sign_in(app_url, "cognito", "bob", federate=False)
    requests.delete(f"{identity_url}/_control/calls", timeout=REQUEST_TIMEOUT)
    began = time.perf_counter()
    first = http.get(f"{app_url}/credentials", timeout=REQUEST_TIMEOUT)
    first_ms = (time.perf_counter() - began) * 1000
    after_first = standin_calls(identity_url)
    times = []
    for _ in range(views - 1):
        began = time.perf_counter()
        http.get(f"{app_url}/credentials", timeout=REQUEST_TIMEOUT).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    after_all = standin_calls(identity_url)
    later = {k: after_all.get(k, 0) - after_first.get(k, 0) for k in after_all}
    return {"views": views, "first_status": first.status_code,
            "first_view_ms": round(first_ms, 1), "calls_first_view": after_first,
            "calls_later_views": {k: v for k, v in later.items() if v},
            "later_view_ms_median": round(statistics.median(times), 2)}


# -- 6. sizes -----------------------------------------------------------------------------


def sizes(services) -> dict:
    client = redis.Redis.from_url(services.redis_url)
    out = {}
    for provider in PROVIDERS:
        http = sign_in(services.apps["redis"], provider, "alice", federate=False)
        cookie = next(iter(http.cookies))
        stored = _stored_bytes(client, cookie.value)
        http.get(f"{services.apps['redis']}/credentials", timeout=REQUEST_TIMEOUT)
        out[provider] = {"cookie_name": cookie.name, "cookie_value_bytes": len(cookie.value),
                         "set_cookie_header_bytes": len(f"{cookie.name}={cookie.value}"),
                         "stored_bytes_after_signin": stored,
                         "stored_bytes_after_credentials": _stored_bytes(client, cookie.value)}
    return out


def _stored_bytes(client: redis.Redis, cookie_value: str) -> int | None:
    sid = cookie_value.split(".")[0]
    for key in client.scan_iter(match=f"*{sid}*", count=1000):
        return client.strlen(key)
    return None


# -- the report ------------------------------------------------------------------------------


def verdicts(report: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    calls = report.get("outbound_calls")
    if calls:
        for provider, row in calls.items():
            limit = 2 if provider == "facebook" else 1
            met = row["per_signin"] <= limit
            why = ", ".join(f"{k} x{v:g}" for k, v in row["by_endpoint"].items())
            rows.append((f"outbound calls per sign-in, {provider}", f"<= {limit}",
                         f"{row['per_signin']:g}", ("met" if met else "not met") + f": {why}"))
    cost = report.get("page_cost")
    if cost:
        for name in ("redis", "cachelib"):
            ratio = cost[name]["ratio"]
            target = ">= 0.8" if name == "redis" else "(reference)"
            verdict = ("met" if ratio["median"] >= 0.8 else "not met") if name == "redis" else "-"
            rows.append((f"/account vs bare route, {name} sessions", target,
                         f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})", verdict))
        writes = cost["redis"]["redis_commands_during_account"]
        wrote = sum(v for w in writes for k, v in w.items() if k != "get")
        rows.append(("session writes on unchanged /account (Redis)", "0", str(wrote),
                     "met" if wrote == 0 else f"not met: {writes}"))
        files = cost["cachelib"]["session_files_modified_during_account"]
        rows.append(("session writes on unchanged /account (cachelib files)", "0", str(files),
                     "met" if files == 0 else "not met"))
    creds = report.get("credentials")
    if creds:
        later = sum(creds["calls_later_views"].values())
        rows.append((f"AWS calls per /credentials view after the first ({creds['views'] - 1})",
                     "0", str(later), "met" if later == 0 else "not met"))
    size = report.get("sizes")
    if size:
        for provider, row in size.items():
            rows.append((f"session cookie bytes, {provider}", "< 100",
                         str(row["set_cookie_header_bytes"]),
                         "met" if row["set_cookie_header_bytes"] < 100 else "not met"))
    return rows


def write_markdown(report: dict, path: Path) -> str:
    m = report["machine"]
    lines = ["# Benchmark report", "",
             f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['system']}; "
             f"load client: {m['load_client']} on the same machine. Run took "
             f"{report['seconds']:.0f} s.", "", "## Targets", "",
             "| measurement | target | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in verdicts(report)]
    cost = report.get("page_cost")
    if cost:
        lines += ["", "## Page cost (requests/s, median and min-max over "
                  f"{report['settings']['rounds']} alternating rounds of "
                  f"{report['settings']['seconds_per_load']:g} s)", "",
                  "| sessions | /account | /bench/hello | ratio |", "|---|---:|---:|---:|"]
        for name, row in cost.items():
            a, h, r = row["account_rps"], row["hello_rps"], row["ratio"]
            lines.append(f"| {name} | {a['median']:.0f} ({a['min']:.0f}-{a['max']:.0f}) | "
                         f"{h['median']:.0f} ({h['min']:.0f}-{h['max']:.0f}) | "
                         f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f}) |")
        lines.append(f"\nRedis commands during the /account rounds: "
                     f"{cost['redis']['redis_commands_during_account']}")
    timing = report.get("signin_time")
    if timing:
        lines += ["", f"## Sign-in time ({timing['signins']} sign-ins, "
                  f"{', '.join(timing['providers'])})", "",
                  "| | median ms | p95 ms |", "|---|---:|---:|"]
        for key in ("callback_ms", "outbound_ms", "in_app_ms", "in_app_server_side_ms"):
            lines.append(f"| {key} | {timing[key]['median']} | {timing[key]['p95']} |")
        lines.append(f"\nOutbound calls per callback (seen in the app): "
                     f"{timing['outbound_calls_seen']}")
    creds = report.get("credentials")
    if creds:
        lines += ["", "## Credentials", "",
                  f"First (federating) view: {creds['first_view_ms']} ms, AWS calls "
                  f"{creds['calls_first_view']}; later views: median "
                  f"{creds['later_view_ms_median']} ms, AWS calls {creds['calls_later_views']}"]
    size = report.get("sizes")
    if size:
        lines += ["", "## Sizes (Redis store)", "",
                  "| provider | cookie bytes | stored bytes after sign-in | after credentials |",
                  "|---|---:|---:|---:|"]
        for provider, row in size.items():
            lines.append(f"| {provider} | {row['set_cookie_header_bytes']} | "
                         f"{row['stored_bytes_after_signin']} | "
                         f"{row['stored_bytes_after_credentials']} |")
    calls = report.get("outbound_calls")
    if calls:
        lines += ["", "## Outbound calls per sign-in (at the stand-ins, after a warm-up)", ""]
        for provider, row in calls.items():
            lines.append(f"- {provider}: {row['per_signin']:g} — {row['by_endpoint']}")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=5, help="sign-ins per provider (1.)")
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds (2.)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per load (2.)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--timed-signins", type=int, default=200, help="(3.)")
    parser.add_argument("--views", type=int, default=100, help="credentials views (4.)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny counts, to check it runs")
    options = parser.parse_args(argv)
    if options.quick:
        options.signins, options.rounds, options.seconds = 1, 2, 1.0
        options.timed_signins, options.views = 6, 5

    began = time.monotonic()
    report: dict = {"machine": machine(), "settings": {
        "gunicorn_workers": options.workers, "threads": options.threads,
        "rounds": options.rounds, "seconds_per_load": options.seconds,
        "connections": options.connections, "app": "bench.wsgi:app"}}
    m = report["machine"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, load client "
          f"{m['load_client']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fedlab-bench-") as tmp:
        folder = Path(tmp)
        stack = Stack(folder)
        try:
            services = start_services(stack, options.workers, options.threads,
                                      apps={"redis": "redis", "cachelib": "cachelib"},
                                      app_spec="bench.wsgi:app")
            app = services.apps["redis"]
            steps = [
                ("outbound_calls", lambda: outbound_per_signin(app, services.standins_url,
                                                               options.signins)),
                ("page_cost", lambda: page_cost(services, folder, options.rounds,
                                                options.seconds, options.connections)),
                ("signin_time", lambda: signin_time(app, options.timed_signins)),
                ("credentials", lambda: credentials(app, services.identity_url,
                                                    options.views)),
                ("sizes", lambda: sizes(services)),
            ]
            for name, step in steps:
                t = time.monotonic()
                report[name] = step()
                print(f"{name}: {time.monotonic() - t:.0f} s", flush=True)
        except Exception:
            for log in sorted(folder.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}",
                      file=sys.stderr)
            raise
        finally:
            stack.stop()
    report["seconds"] = time.monotonic() - began
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(write_markdown(report, RESULTS / "report.md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
