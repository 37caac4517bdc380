"""Runs of the live checks for the diagnostics page: rare, one at a time, off the
request threads.

One run makes some thirty provider calls (token requests carrying the client
secret among them) and a GetId per provider, and against a slow provider it
lasts many seconds. So, per app (per process): at most one run at a time, on a
single-thread executor of its own, so request threads never do the calls; no
new run within ``diagnostics.probe_interval`` seconds of the last one's start,
whose result is shown instead, with its time. The request that starts a run
waits for it a bounded time (it is the only one that waits); any other request
meanwhile is told a run is in progress and shown the last result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

#: Seconds the request that starts a run waits for its result before answering
#: "in progress"; the run itself goes on and its result is kept.
WAIT_SECONDS = 10.0
EXTENSION = "fedlab.probe_runs"


@dataclass(frozen=True)
class ProbeRun:
    """A finished run: the verdicts as the page shows them, when, and who asked."""

    verdicts: tuple[dict[str, Any], ...]
    started_at: float
    finished_at: float
    operator: str


@dataclass(frozen=True)
class Outcome:
    """What a request gets: ``ran`` (its own run), ``recent`` (the last run is younger
    than the interval, so no new one) or ``running`` (a run is under way; not done
    yet). ``run`` is the result to show, if there is one."""

    state: str
    run: ProbeRun | None
    started_at: float | None = None
    next_run_at: float | None = None


class ProbeRunner:
    """One app's live-check runs: the executor, the run under way, the last result."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fedlab-probes")
        self._lock = threading.Lock()
        self._running: Future[ProbeRun] | None = None
        self._running_since: float | None = None
        self._last: ProbeRun | None = None

    def last(self) -> Outcome | None:
        """The state to show on a plain view of the page, without starting anything."""
        with self._lock:
            if self._running is not None:
                return Outcome("running", self._last, started_at=self._running_since)
            if self._last is None:
                return None
            return Outcome("recent", self._last, next_run_at=self._next_run_at())

    def request(self, app: Flask, job: Callable[[], list[dict[str, Any]]],
                operator: str) -> Outcome:
        """Start a run of ``job`` unless one is under way or the last is too recent."""
        with self._lock:
            if self._running is not None:
                return Outcome("running", self._last, started_at=self._running_since)
            if self._last is not None and time.time() < self._next_run_at():
                return Outcome("recent", self._last, next_run_at=self._next_run_at())
            started = time.time()
            future = self._executor.submit(self._run, app, job, operator, started)
            self._running, self._running_since = future, started
        try:
            return Outcome("ran", future.result(timeout=WAIT_SECONDS))
        except FutureTimeout:
            return Outcome("running", self._last, started_at=started)

    def _next_run_at(self) -> float:
        assert self._last is not None
        return self._last.started_at + self.interval

    def _run(self, app: Flask, job: Callable[[], list[dict[str, Any]]], operator: str,
             started: float) -> ProbeRun:
        try:
            with app.app_context():
                verdicts = job()
            run = ProbeRun(tuple(verdicts), started, time.time(), operator)
            log.info("live checks run by %s: %d verdicts in %.1f s", operator, len(verdicts),
                     run.finished_at - started)
            with self._lock:
                self._last = run
            return run
        finally:
            with self._lock:
                self._running = self._running_since = None


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = ProbeRunner(app.config["FEDLAB"]["diagnostics"]["probe_interval"])


def runner(app: Flask) -> ProbeRunner:
    return app.extensions[EXTENSION]
