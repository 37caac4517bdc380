"""The benchmark suite (issue 14): ours against the quickstart people copy, in one run.

    .venv/bin/python bench/run.py [--quick] [--rounds 11] [--seconds 5] [--pairs 30]

Bounded (about 10 minutes on 2 cores; ``--quick`` about 2), on loopback. It
starts the stand-ins, a Redis and, each under gunicorn ``-w 2 --threads 4 -k
gthread``: ours twice (``bench.wsgi:app``, the production app plus a bare
``/bench/hello`` route and timing headers; one instance with the near cache of
session records on, one with ``FEDLAB_SESSION__CLIENT_CACHE=0``, both on one
store), the Auth0 Flask quickstart with cookie sessions and on flask-session +
Redis, and a bare Flask route (the last three in bench/peers/). Then:

1. page rates: every page loaded with wrk in turn, rotated over the rounds, with
   the load average beside each round and ratios taken within a round;
2. the near cache: a sign-out on one instance seen by the other, and /account
   while another client keeps signing in and out;
3. a sign-in, ours against the quickstart's, paired, timed at the client: with
   the stand-ins on loopback over plain HTTP, and again with them as a
   provider at a distance, over HTTPS that keeps connections (bench/distance.py);
4. worker memory after a warm-up and over 2,000 sign-ins, ours and both peers;
5. what earlier rounds measured: outbound calls per sign-in, the sign-in's time
   in the app, AWS calls per credentials view, S3 listing and object bytes,
   cookie and stored session sizes.

Writes ``bench/results/report.json`` and ``report.md`` (committed: the README
quotes them), then rewrites the README's quoted figures (bench/quote.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quote
import report as reporting
import signins
from rates import Target, load_client, per_target, ratios, rounds, spread
from stack import (
    PROVIDERS,
    REQUEST_TIMEOUT,
    ROOT,
    App,
    Stack,
    browse_sign_in,
    command_calls,
    cookie_header,
    sign_in,
    start_services,
)

from standins import BROWSER_ENDPOINTS

RESULTS = ROOT / "bench" / "results"
#: The tenant the app talks to, per provider (cognito-google: Cognito calls Google itself).
APP_TENANT = {"cognito-google": "cognito"}
#: Fetched once per worker process and cached (webapp/discovery.py), not per sign-in.
METADATA_ENDPOINTS = {"discovery", "jwks"}
#: Redis commands that write a session.
WRITES = ("set", "setex", "psetex", "eval", "evalsha", "del", "unlink", "expire", "pexpire",
          "getset")
#: Every app of the run. Ours twice on one store (two instances of one site), the
#: near cache on in the first and off in the second; the peers of bench/peers/.
APPS = {
    "account": App(store="site"),
    "account_nocache": App(store="site", env={"FEDLAB_SESSION__CLIENT_CACHE": "0"}),
    # The near cache on, and every view rendered: what the page cache saves.
    "account_rendering": App(store="site", env={"FEDLAB_SESSION__PAGE_CACHE": "0"}),
    "quickstart_cookie": App(spec="bench.peers.quickstart:app", sessions="cookie",
                             client_id="bench-quickstart-cookie"),
    "quickstart_redis": App(spec="bench.peers.quickstart:app", sessions="redis",
                            client_id="bench-quickstart-redis"),
    "bare": App(spec="bench.peers.bare:app", bare=True),
}

#: The apps of the sign-ins at a distance (their own stand-ins, store and Redis).
FAR_APPS = {
    "ours": App(store="far"),
    "quickstart": App(spec="bench.peers.quickstart:app", sessions="cookie",
                      client_id="bench-quickstart-cookie"),
}
#: How far away the provider is, each way (ms): TLS and kept connections alone;
#: a provider in the same cloud region; one a region or two away.
ONE_WAY_MS = (0.0, 1.0, 10.0)
#: Seconds the far provider keeps an idle connection in the last pairing: less
#: than one sign-in takes there, more than a browser waits between its requests.
IDLE_TIMEOUT = 0.05


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
            "system": platform.platform(), "load_client": load_client()}


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def redis_writes(client: redis.Redis) -> dict:
    return command_calls(client, (*WRITES, "get"))


# -- page rates and the near cache ---------------------------------------------------


def visitors(services) -> dict[str, requests.Session]:
    """One signed-in visitor per app that signs in (ours, through the Auth0 tenant
    like the peers); ours' visitor serves all of our instances (one store)."""
    urls = services.apps
    return {"account": signins.ours(urls["account"]).sign_in(),
            "quickstart_cookie": signins.quickstart(urls["quickstart_cookie"]).sign_in(),
            "quickstart_redis": signins.quickstart(urls["quickstart_redis"]).sign_in()}


def many_visitors(url: str, count: int) -> tuple[str, ...]:
    """The Cookie headers of ``count`` visitors signed in to ours, four at a time."""
    site = signins.ours(url)

    def one(i: int) -> str:
        return cookie_header(site.sign_in(("alice", "bob")[i % 2]), url)

    with ThreadPoolExecutor(4) as pool:
        return tuple(pool.map(one, range(count)))


def page_targets(services, who: dict[str, requests.Session], crowd: int) -> dict[str, Target]:
    urls = services.apps
    ours = cookie_header(who["account"], urls["account"])
    targets = {
        "account": Target(f"{urls['account']}/account", ours),
        "account_nocache": Target(f"{urls['account_nocache']}/account", ours),
        "account_rendering": Target(f"{urls['account_rendering']}/account", ours),
        # More visitors than session.page_cache keeps pages for (64), fewer than
        # session.client_cache keeps records (256): each view renders its page.
        "account_visitors": Target(f"{urls['account']}/account",
                                   visitors=many_visitors(urls["account"], crowd)),
        "quickstart_cookie": Target(f"{urls['quickstart_cookie']}/", cookie_header(
            who["quickstart_cookie"], urls["quickstart_cookie"])),
        "quickstart_redis": Target(f"{urls['quickstart_redis']}/", cookie_header(
            who["quickstart_redis"], urls["quickstart_redis"])),
        "bare": Target(f"{urls['bare']}/"),
        "hello": Target(f"{urls['account']}/bench/hello"),
        "hello_signed_in": Target(f"{urls['account']}/bench/hello", ours),
    }
    for name, target in targets.items():  # each signed in, or the figures mean nothing
        for cookie in (target.visitors or (target.cookie,)):
            page = requests.get(target.url, headers={"Cookie": cookie} if cookie else {},
                                allow_redirects=False, timeout=REQUEST_TIMEOUT)
            if page.status_code != 200 or (cookie and name.startswith("quick")
                                           and "Welcome Alice" not in page.text):
                raise RuntimeError(f"{name}: {target.url} answered {page.status_code} "
                                   "signed in")
    return targets


def page_rates(services, targets: dict[str, Target], options) -> dict:
    client = redis.Redis.from_url(services.redis_url)
    commands: list[dict] = []

    def around(name: str):
        if name != "account":
            return None
        before = redis_writes(client)

        def after() -> None:
            now = redis_writes(client)
            commands.append({k: now[k] - before[k] for k in now if now[k] - before[k]})
        return after

    rows = rounds(targets, options.rounds, options.seconds, options.connections,
                  around=around, label="page rates")
    non_2xx = {}
    for row in rows:
        for name, n in row["non_2xx"].items():
            if n:
                non_2xx[name] = non_2xx.get(name, 0) + n
    return {"rounds": rows, "rps": per_target(rows), "ratios": ratios(rows, reporting.RATIOS),
            "cookie_bytes": {name: len(t.cookie or next(iter(t.visitors), ""))
                             for name, t in targets.items()},
            "redis_commands_during_account": commands, "non_2xx": non_2xx}


def near_cache(services, targets: dict[str, Target], options) -> dict:
    urls = services.apps
    seen = signins.sign_out_seen(urls["account_nocache"], urls["account"],
                                 redis.Redis.from_url(services.redis_url), options.trials)
    print(f"  sign-out seen: {seen['first_request_signed_out']}/{seen['trials']} at once",
          flush=True)
    pair = {k: targets[k] for k in ("account", "account_nocache")}
    with signins.Churn(urls["account_nocache"]) as churn:
        began = time.monotonic()
        rows = rounds(pair, options.churn_rounds, options.seconds, options.connections,
                      label="under sign-in/sign-out churn")
        cycles = churn.cycles / (time.monotonic() - began)
    return {"sign_out_seen": seen,
            "under_churn": {"rounds": rows, "rounds_count": len(rows), "rps": per_target(rows),
                            "ratio": ratios(rows, {"r": ("account", "account_nocache")})["r"],
                            "cycles_per_s": round(cycles, 2), "paced_per_s": churn.per_second}}


def memory(services, options) -> dict:
    urls, out = services.apps, {}
    steps = (options.memory_signins // 2, options.memory_signins)
    for name, site in (("account", signins.ours(urls["account"])),
                       ("quickstart_cookie", signins.quickstart(urls["quickstart_cookie"])),
                       ("quickstart_redis", signins.quickstart(urls["quickstart_redis"]))):
        t = time.monotonic()
        out[name] = signins.memory(site, services.masters[name], steps, options.warm_signins)
        print(f"  memory {name}: {out[name]['workers_mib']} ({time.monotonic() - t:.0f} s)",
              flush=True)
    return out


# -- outbound calls per sign-in -------------------------------------------------


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
        # Discovery and keys are cached per worker process: a worker that the
        # warm-up did not reach fetches them once during the run. Counted apart.
        metadata = {f"{t}/{e}": c for t, es in calls.items() for e, c in es.items()
                    if e in METADATA_ENDPOINTS}
        # Operations inside one batch request (Graph's) are counted as
        # "batch/<endpoint>" beside it: one HTTP request, several answers.
        batched = {f"{t}/{e}": round(c / n, 2) for t, es in calls.items()
                   for e, c in es.items() if "/" in e}
        calls = {t: {e: c for e, c in es.items()
                     if e not in METADATA_ENDPOINTS and "/" not in e}
                 for t, es in calls.items()}
        total = sum(sum(e.values()) for e in calls.values())
        result[provider] = {"signins": n, "per_signin": round(total / n, 2),
                            "metadata_fetches_in_run": metadata,
                            "operations_in_batches": batched,
                            "by_endpoint": {f"{t}/{e}": round(c / n, 2)
                                            for t, es in calls.items() for e, c in es.items()},
                            "upstream_calls_by_the_provider": {
                                f"{t}/{e}": round(c / n, 2)
                                for t, es in upstream.items() for e, c in es.items()},
                            "all_counted": counts}
    return result


# -- sign-in time in the app -------------------------------------------------------


def signin_time(app_url: str, n: int) -> dict:
    """Per sign-in: the callback's time at the client, and minus its outbound calls."""
    total, app_only, server, outbound = [], [], [], []
    calls_seen: dict[str, int] = {}
    hooks = requests.Session

    for i in range(n):
        provider = ("cognito", "auth0", "google")[i % 3]
        http = hooks()
        http.headers["X-Bench-Timing"] = "1"  # bench/wsgi.py times only the requests that ask
        timing: dict = {}

        def record(response, *args, timing=timing, **kwargs):
            if "/auth/" in response.url and "/callback" in response.url:
                timing["total"] = response.elapsed.total_seconds() * 1000
                timing["outbound"] = float(response.headers.get("X-Bench-Outbound-Ms", 0))
                timing["server"] = float(response.headers.get("X-Bench-App-Ms", 0))
                timing["calls"] = response.headers.get("X-Bench-Outbound", "")

        http.hooks["response"].append(record)
        browse_sign_in(http, f"{app_url}/auth/{provider}/login", f"{app_url}/account",
                       ("alice", "bob")[i % 2])
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
                          "p95": round(pct(app_only, 0.95), 2),
                          "min": round(min(app_only), 2), "max": round(max(app_only), 2)},
            "in_app_server_side_ms": {"median": round(statistics.median(server), 2),
                                      "p95": round(pct(server, 0.95), 2)},
            "outbound_calls_seen": {k: round(v / n, 2) for k, v in calls_seen.items()}}


def signin_far(folder: Path, options) -> dict:
    """Sign-ins paired as :func:`signins.paired` takes them, with the stand-ins as a
    provider :data:`ONE_WAY_MS` away over HTTPS (:mod:`distance`), then the
    farthest once more with the provider ending connections idle for
    :data:`IDLE_TIMEOUT`; and how many connections one sign-in of each opened
    to the provider, both ways (the browser's included: a TLS handshake each)."""
    stack = Stack(folder)
    folder.mkdir()
    try:
        services = start_services(stack, options.workers, options.threads, apps=FAR_APPS,
                                  one_way=0.0)
        far = services.far
        trusted = str(far.certificate.authority)
        sites = {"ours": signins.ours(services.apps["ours"], verify=trusted),
                 "quickstart": signins.quickstart(services.apps["quickstart"], verify=trusted)}
        runs = []
        for one_way in ONE_WAY_MS:
            far.delay.one_way = one_way / 1000
            runs.append({"one_way_ms": one_way,
                         **signins.paired(sites["ours"], sites["quickstart"], options.pairs)})
        connections = {"kept": opened(far, sites)}
        # The farthest again, with a provider whose idle timeout ends each
        # connection before its worker's next sign-in (a browser's within one
        # sign-in follow each other sooner, and stay).
        far.front.close_idle_after(IDLE_TIMEOUT)
        runs.append({"one_way_ms": ONE_WAY_MS[-1], "idle_timeout_s": IDLE_TIMEOUT,
                     **signins.paired(sites["ours"], sites["quickstart"], options.pairs)})
        connections["idle_timeout"] = opened(far, sites)
        if far.failures():
            raise RuntimeError(f"the far provider failed: {far.failures()}")
        return {"runs": runs, "connections_per_sign_in": connections}
    finally:
        stack.stop()


def opened(far, sites: dict[str, signins.Site]) -> dict[str, int]:
    """The connections one sign-in of each site opens to the far provider."""
    counts = {}
    for name, site in sites.items():
        before = far.front.connections
        site.sign_in().close()
        counts[name] = far.front.connections - before
    return counts


# -- credentials --------------------------------------------------------------------


def credentials(app_url: str, identity_url: str, views: int, federations: int) -> dict:
    """AWS calls over ``views`` credentials views, and the time to federate (the
    first view after a sign-in), over ``federations`` fresh sign-ins."""
    federate_ms = []
    for i in range(federations):
        http = sign_in(app_url, ("cognito", "google", "auth0")[i % 3], ("alice", "bob")[i % 2],
                       federate=False)
        requests.delete(f"{identity_url}/_control/calls", timeout=REQUEST_TIMEOUT)
        began = time.perf_counter()
        first = http.get(f"{app_url}/credentials", timeout=REQUEST_TIMEOUT)
        federate_ms.append((time.perf_counter() - began) * 1000)
        first.raise_for_status()
    first_ms = federate_ms[-1]
    after_first = standin_calls(identity_url)
    times = []
    for _ in range(views - 1):
        began = time.perf_counter()
        http.get(f"{app_url}/credentials", timeout=REQUEST_TIMEOUT).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    after_all = standin_calls(identity_url)
    later = {k: after_all.get(k, 0) - after_first.get(k, 0) for k in after_all}
    return {"views": views, "first_status": first.status_code,
            "first_view_ms": round(first_ms, 1), "federate_ms": spread(federate_ms),
            "calls_first_view": after_first,
            "calls_later_views": {k: v for k, v in later.items() if v},
            "later_view_ms": spread(times)}


# -- S3 ------------------------------------------------------------------------------

#: Two made-up identities whose protected/ folders the listing measurement reads.
BIG_OWNER = "us-east-1:00000000-0000-4000-8000-00000000b16b"
SMALL_OWNER = "us-east-1:00000000-0000-4000-8000-0000000005a1"


def storage(services, objects: int, views: int, upload_bytes: int) -> dict:
    """The first listing page at ``objects`` objects against one at a single object,
    alternating, and the object bytes the app's responses carry on an upload and a
    download (the browser talks to S3 itself: the target is 0)."""
    for owner, count in ((BIG_OWNER, objects), (SMALL_OWNER, 1)):
        requests.post(f"{services.s3_url}/_control/objects", timeout=REQUEST_TIMEOUT,
                      json={"prefix": f"protected/{owner}/", "count": count}).raise_for_status()
    app = services.apps["account"]
    http = sign_in(app, "google", "alice")
    # The same ListObjectsV2 the page makes, straight to the S3 stand-in: what the
    # listing costs at S3 (here moto, which scans every key), apart from the app.
    s3 = boto3.client("s3", endpoint_url=services.s3_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = json.loads((services.config_file.parent / "aws.json").read_text())["bucket"]
    times: dict[str, list[float]] = {"big": [], "small": [], "s3_big": []}
    for i in range(views):
        for which in (("big", "small") if i % 2 == 0 else ("small", "big")):
            owner = BIG_OWNER if which == "big" else SMALL_OWNER
            began = time.perf_counter()
            page = http.get(f"{app}/storage/protected", params={"owner": owner},
                            timeout=REQUEST_TIMEOUT)
            times[which].append((time.perf_counter() - began) * 1000)
            shown = 100 if which == "big" else 1
            if page.status_code != 200 or f'data-count="{shown}"' not in page.text:
                raise RuntimeError(f"listing of {which}: HTTP {page.status_code}")
        began = time.perf_counter()
        s3.list_objects_v2(Bucket=bucket, Prefix=f"protected/{BIG_OWNER}/", MaxKeys=100)
        times["s3_big"].append((time.perf_counter() - began) * 1000)
    requests.delete(f"{services.s3_url}/_control/calls", timeout=REQUEST_TIMEOUT)
    http.get(f"{app}/storage/protected", params={"owner": BIG_OWNER}, timeout=REQUEST_TIMEOUT)
    # Medians, not paired differences: two noisy timings differ by more noise.
    app_part = statistics.median(times["big"]) - statistics.median(times["s3_big"])
    return {"objects": objects, "views": views,
            "first_page_ms": spread(times["big"]), "one_object_page_ms": spread(times["small"]),
            "s3_list_call_ms": spread(times["s3_big"]), "app_part_ms": round(app_part, 2),
            "ratio": spread([b / s for b, s in zip(times["big"], times["small"], strict=True)]),
            "s3_calls_per_view": standin_calls(services.s3_url),
            "bytes": object_bytes_through_app(services, http, upload_bytes)}


def object_bytes_through_app(services, http: requests.Session, size: int) -> dict:
    """Upload and download ``size`` random bytes as the storage page's script does."""
    app = services.apps["account"]
    body = os.urandom(size)
    page = http.get(f"{app}/storage/private", timeout=REQUEST_TIMEOUT)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    before = requests.get(f"{services.s3_url}/_control/bytes", timeout=REQUEST_TIMEOUT).json()
    grant = http.post(f"{app}/storage/private/upload", headers={"X-CSRFToken": csrf},
                      json={"name": "bench.bin", "type": "application/pdf"},
                      timeout=REQUEST_TIMEOUT)
    grant.raise_for_status()
    post = grant.json()
    stored = requests.post(post["url"], data=post["fields"], timeout=REQUEST_TIMEOUT,
                           files={"file": ("bench.bin", body, "application/pdf")})
    stored.raise_for_status()
    download = http.get(f"{app}/storage/private/download", params={"key": post["key"]},
                        allow_redirects=False, timeout=REQUEST_TIMEOUT)
    fetched = requests.get(download.headers["Location"], timeout=REQUEST_TIMEOUT)
    after = requests.get(f"{services.s3_url}/_control/bytes", timeout=REQUEST_TIMEOUT).json()
    if fetched.content != body:
        raise RuntimeError("the downloaded object is not the uploaded one")
    answers = (grant.content, download.content)
    # Any 64-byte run of the object in an app response would be object data.
    carried = sum(1 for a in answers for i in range(0, size - 63, 64) if body[i:i + 64] in a)
    return {"object_bytes": size, "app_response_bytes": sum(len(a) for a in answers),
            "object_chunks_in_app_responses": carried,
            "s3_received": after["received"] - before["received"],
            "s3_served": after["served"] - before["served"]}


# -- sizes -----------------------------------------------------------------------------


def sizes(services) -> dict:
    client = redis.Redis.from_url(services.redis_url)
    out = {}
    for provider in PROVIDERS:
        http = sign_in(services.apps["account"], provider, "alice", federate=False)
        cookie = next(iter(http.cookies))
        stored = _stored_bytes(client, cookie.value)
        http.get(f"{services.apps['account']}/credentials", timeout=REQUEST_TIMEOUT)
        out[provider] = {"cookie_name": cookie.name, "cookie_value_bytes": len(cookie.value),
                         "set_cookie_header_bytes": len(f"{cookie.name}={cookie.value}"),
                         "stored_bytes_after_signin": stored,
                         "stored_bytes_after_credentials": _stored_bytes(client, cookie.value)}
    return out


def _stored_key(client: redis.Redis, cookie_value: str) -> bytes | None:
    sid = cookie_value.split(".")[0]
    for key in client.scan_iter(match=f"*{sid}*", count=1000):
        return key
    return None


def _stored_bytes(client: redis.Redis, cookie_value: str) -> int | None:
    key = _stored_key(client, cookie_value)
    return None if key is None else client.strlen(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="page-rate rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--churn-rounds", type=int, default=3,
                        help="/account rounds under sign-in/sign-out churn")
    parser.add_argument("--trials", type=int, default=20, help="sign-outs seen elsewhere")
    parser.add_argument("--pairs", type=int, default=30, help="paired sign-ins")
    parser.add_argument("--visitors", type=int, default=200,
                        help="visitors taking turns on /account (account_visitors)")
    parser.add_argument("--memory-signins", type=int, default=2000)
    parser.add_argument("--warm-signins", type=int, default=100)
    parser.add_argument("--signins", type=int, default=5, help="sign-ins per provider, calls")
    parser.add_argument("--timed-signins", type=int, default=30, help="in-app sign-in time")
    parser.add_argument("--views", type=int, default=100, help="credentials views")
    parser.add_argument("--federations", type=int, default=6)
    parser.add_argument("--objects", type=int, default=10_000, help="listed objects")
    parser.add_argument("--listing-views", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny counts, to check it runs")
    parser.add_argument("--no-readme", action="store_true",
                        help="leave the README's quoted figures alone")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where report.json and report.md go")
    options = parser.parse_args(argv)
    if options.quick:
        options.rounds, options.seconds, options.churn_rounds = 2, 1.0, 1
        options.trials, options.pairs, options.memory_signins = 3, 4, 40
        options.visitors = 80  # still more than the page cache keeps
        options.warm_signins, options.signins, options.timed_signins = 10, 1, 6
        options.views, options.federations, options.objects = 5, 2, 500
        options.listing_views = 3

    began = time.monotonic()
    report: dict = {"machine": machine(), "settings": {
        "workers": options.workers, "threads": options.threads, "rounds": options.rounds,
        "seconds": options.seconds, "connections": options.connections,
        "visitors": options.visitors,
        "quick": options.quick, "apps": {n: a.spec for n, a in APPS.items()}}}
    print(f"machine: {reporting.machine_line(report)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fedlab-bench-") as tmp:
        folder = Path(tmp)
        stack = Stack(folder)
        try:
            services = start_services(stack, options.workers, options.threads, apps=APPS)
            app = services.apps["account"]
            targets = page_targets(services, visitors(services), options.visitors)
            steps = [
                ("page_rates", lambda: page_rates(services, targets, options)),
                ("near_cache", lambda: near_cache(services, targets, options)),
                ("signin_paired", lambda: signins.paired(
                    signins.ours(app), signins.quickstart(services.apps["quickstart_cookie"]),
                    options.pairs)),
                ("signin_far", lambda: signin_far(folder / "far", options)),
                ("memory", lambda: memory(services, options)),
                ("outbound_calls", lambda: outbound_per_signin(app, services.standins_url,
                                                               options.signins)),
                ("signin_time", lambda: signin_time(app, options.timed_signins)),
                ("credentials", lambda: credentials(app, services.identity_url,
                                                    options.views, options.federations)),
                ("storage", lambda: storage(services, options.objects, options.listing_views,
                                            256 * 1024)),
                ("sizes", lambda: sizes(services)),
            ]
            for number, (name, step) in enumerate(steps, 1):
                print(f"[{number}/{len(steps)}] {name} ...", flush=True)
                t = time.monotonic()
                report[name] = step()
                print(f"[{number}/{len(steps)}] {name}: {time.monotonic() - t:.0f} s",
                      flush=True)
        except Exception:
            for log in sorted(folder.rglob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}",
                      file=sys.stderr)
            raise
        finally:
            stack.stop()
    report["seconds"] = round(time.monotonic() - began, 1)
    report["generated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report["targets"] = reporting.targets(report)
    options.results.mkdir(parents=True, exist_ok=True)
    (options.results / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = reporting.markdown(report)
    (options.results / "report.md").write_text(text)
    print()
    print(text)
    if not options.no_readme:
        quote.rewrite(quote.README, report)
        print(f"README: the Benchmarks figures now quote this run ({quote.README.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
