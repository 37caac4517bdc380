"""A bounded load run on loopback: sign in N visitors, then have them browse for a while.

    .venv/bin/python bench/load.py [--visitors 20] [--seconds 20] [--workers 4] [--threads 4]

It starts everything itself on free loopback ports and stops it all at the end
(or on any failure): the provider stand-ins and the AWS stand-in (each its own
process), a Redis for the sessions (its own redis-server, else the machine's on
127.0.0.1:6379, database 14), and the app under gunicorn on the demo's
configuration. Each visitor signs in through a stand-in's real pages (the
providers in turn, alice and bob in turn) and fetches its AWS credentials once;
then all browse home, account, credentials and the public storage listing
concurrently for the fixed time. The report: requests, errors (any status but
200, or a failed request; the run exits 1 if there is one), requests per second
and latency percentiles, overall and per page, as a table on stdout and as
JSON in bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (
    PROVIDERS,
    REQUEST_TIMEOUT,
    ROOT,
    USERS,
    Stack,
    percentile,
    sign_in,
    start_stack,
)

PAGES = ("/", "/account", "/credentials", "/storage/public")
RESULTS = ROOT / "bench" / "results" / "load.json"


# -- the run -------------------------------------------------------------------------


def browse(app_url: str, visitors: list[requests.Session], seconds: float) -> dict:
    samples: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(visitors) + 1)

    def visitor(index: int, http: requests.Session) -> None:
        start.wait()
        deadline = time.monotonic() + seconds
        step = index  # visitors start on different pages
        while time.monotonic() < deadline:
            path = PAGES[step % len(PAGES)]
            step += 1
            began = time.perf_counter()
            try:
                response = http.get(f"{app_url}{path}", timeout=REQUEST_TIMEOUT,
                                    allow_redirects=False)
                problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except requests.RequestException as e:
                problem = type(e).__name__
            took = time.perf_counter() - began
            with lock:
                samples[path].append(took)
                if problem:
                    errors.append(f"{path}: {problem}")

    threads = [threading.Thread(target=visitor, args=(i, h), daemon=True)
               for i, h in enumerate(visitors)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT + 5)
    elapsed = time.monotonic() - began
    return {"samples": samples, "errors": errors, "elapsed": elapsed}


def summarize(samples: list[float], elapsed: float) -> dict:
    ordered = sorted(samples)
    return {"requests": len(ordered), "rps": round(len(ordered) / elapsed, 1),
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
            "p90_ms": round(percentile(ordered, 0.90) * 1000, 1),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
            "max_ms": round((ordered[-1] if ordered else 0) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fedlab-load-") as tmp:
        stack = Stack(Path(tmp))
        try:
            app_url = start_stack(stack, options.workers, options.threads)
            began = time.monotonic()
            visitors = [sign_in(app_url, PROVIDERS[i % len(PROVIDERS)], USERS[i % len(USERS)])
                        for i in range(options.visitors)]
            sign_in_seconds = time.monotonic() - began
            run = browse(app_url, visitors, options.seconds)
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                tail = log.read_text(errors="replace")[-2000:]
                print(f"--- {log.name} (last lines)\n{tail}", file=sys.stderr)
            raise
        finally:
            stack.stop()

    everything = [t for values in run["samples"].values() for t in values]
    report = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "system": platform.platform()},
        "settings": {"visitors": options.visitors, "seconds": options.seconds,
                     "gunicorn_workers": options.workers, "threads": options.threads,
                     "sessions": "redis", "pages": list(PAGES)},
        "sign_in": {"visitors": options.visitors, "seconds": round(sign_in_seconds, 2)},
        "total": {**summarize(everything, run["elapsed"]), "errors": len(run["errors"])},
        "pages": {path: summarize(run["samples"][path], run["elapsed"]) for path in PAGES},
        "error_samples": run["errors"][:20],
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nLoad run: {options.visitors} visitors, {options.seconds:g} s, gunicorn "
          f"{options.workers} workers x {options.threads} threads, Redis sessions, "
          f"{os.cpu_count()} cores (client on the same machine)")
    print(f"Sign-in of {options.visitors} visitors: {sign_in_seconds:.1f} s\n")
    print(f"| {'page':<16} | {'requests':>8} | {'req/s':>7} | {'p50 ms':>7} | {'p90 ms':>7} "
          f"| {'p99 ms':>7} |")
    print(f"|{'-' * 18}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|")
    for name, row in [*report["pages"].items(), ("all", report["total"])]:
        print(f"| {name:<16} | {row['requests']:>8} | {row['rps']:>7} | {row['p50_ms']:>7} "
              f"| {row['p90_ms']:>7} | {row['p99_ms']:>7} |")
    print(f"\nerrors: {len(run['errors'])}   (JSON: {options.output})")
    for sample in run["errors"][:5]:
        print(f"  {sample}")
    return 1 if run["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
