"""Page rates, side by side: every target loaded in turn, in a rotated order, round by round.

One round loads each target for the same few seconds (wrk ``-t2 -c8``), one after
the other; the next round starts one target later (A,B,C then B,C,A ...), so no
target always runs on a warmer or cooler machine. Ratios are taken within a
round, where the machine's other work weighs on both sides alike, and only then
summarised (min, median, max): a ratio of medians would pair figures minutes apart.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from stack import REQUEST_TIMEOUT


@dataclass(frozen=True)
class Target:
    """One URL to load, with the Cookie header a signed-in visitor sends (or none);
    or, with ``visitors``, each request with the next visitor's Cookie header in
    turn (many people at once, where ``cookie`` is one person reloading)."""

    url: str
    cookie: str = ""
    visitors: tuple[str, ...] = ()


#: wrk's request function for a :class:`Target` with visitors: their Cookie headers,
#: one a line in the file named by BENCH_VISITORS, taken in turn by each thread
#: (the second thread starts half way through, so the two are not in step).
VISITORS_SCRIPT = """
local visitors = {}
for line in io.lines(os.getenv("BENCH_VISITORS")) do visitors[#visitors + 1] = line end
local next_one, threads = 0, 0
function setup(thread)
  thread:set("first", threads * math.floor(#visitors / 2))
  threads = threads + 1
end
function init(args)
  next_one = first or 0
end
function request()
  next_one = next_one % #visitors + 1
  return wrk.format("GET", nil, {["Cookie"] = visitors[next_one]})
end
"""


def spread(values: list[float], digits: int = 3) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), digits),
            "min": round(ordered[0], digits), "max": round(ordered[-1], digits),
            "n": len(ordered)}


def load_client() -> str:
    return "wrk" if shutil.which("wrk") else "Python threads + requests.Session (wrk missing)"


def load(target: Target, seconds: float, connections: int) -> dict:
    """Requests/s for ``target`` during ``seconds``, and the count of non-2xx answers."""
    if shutil.which("wrk"):
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", target.url]
        if target.cookie:
            command[1:1] = ["-H", f"Cookie: {target.cookie}"]
        with tempfile.TemporaryDirectory(prefix="fedlab-wrk-") as folder:
            env = None
            if target.visitors:
                script, cookies = Path(folder) / "visitors.lua", Path(folder) / "visitors"
                script.write_text(VISITORS_SCRIPT)
                cookies.write_text("\n".join(target.visitors) + "\n")
                command[1:1] = ["-s", str(script)]
                env = {**os.environ, "BENCH_VISITORS": str(cookies)}
            out = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                                 check=True, timeout=seconds + 30, env=env).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = re.search(r"Socket errors:.*", out)
        return {"rps": rps, "non_2xx": int(bad.group(1)) if bad else 0,
                "socket_errors": errors.group(0) if errors else ""}
    # The fallback: far slower than wrk, so its figures compare only with each other.
    count = [0, 0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    turn = itertools.cycle(target.visitors or (target.cookie,))

    def client() -> None:
        http = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                cookie = next(turn)
            ok = http.get(target.url, timeout=REQUEST_TIMEOUT, allow_redirects=False,
                          headers={"Cookie": cookie} if cookie else {}).status_code == 200
            with lock:
                count[0 if ok else 1] += 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": count[0] / seconds, "non_2xx": count[1], "socket_errors": ""}


def rounds(targets: dict[str, Target], count: int, seconds: float, connections: int, *,
           around: Callable[[str], Callable[[], None]] | None = None,
           label: str = "rates") -> list[dict]:
    """``count`` rounds over ``targets``, rotated; each round: its order, the load
    average when it began, and requests/s (and non-2xx answers) per target.
    ``around(name)``, if given, is called before a target's load and returns what
    to call after it (e.g. Redis counters before and after)."""
    names = list(targets)
    out = []
    for r in range(count):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        row = {"round": r + 1, "order": order,
               "loadavg": [round(x, 2) for x in os.getloadavg()], "rps": {}, "non_2xx": {}}
        for name in order:
            after = around(name) if around else None
            got = load(targets[name], seconds, connections)
            if after:
                after()
            row["rps"][name] = round(got["rps"], 1)
            row["non_2xx"][name] = got["non_2xx"]
        out.append(row)
        print(f"  {label} round {r + 1}/{count} (load {row['loadavg'][0]:.2f}): "
              + ", ".join(f"{n} {row['rps'][n]:.0f}" for n in names), flush=True)
    return out


def ratios(rows: list[dict], pairs: dict[str, tuple[str, str]]) -> dict:
    """Per pair (a, b): a's requests/s over b's within each round, summarised."""
    return {key: spread([row["rps"][a] / row["rps"][b] for row in rows if row["rps"][b]])
            for key, (a, b) in pairs.items()}


def per_target(rows: list[dict]) -> dict:
    return {name: spread([row["rps"][name] for row in rows], 1) for name in rows[0]["rps"]}
