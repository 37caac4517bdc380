"""Runs of the live checks for the diagnostics page: rare, one at a time, off the
request threads.

One run makes some thirty provider calls (token requests carrying the client
secret among them) and a GetId per provider, and against a slow provider it
lasts many seconds. So: a run goes on a single-thread executor of its own, so
request threads never make the calls; at most one run at a time; no new run
within ``diagnostics.probe_interval`` seconds of the last one's start, whose
result is shown instead, with its time. The request that starts a run waits for
it a bounded time (it is the only one that waits); any other request meanwhile
is told a run is in progress and shown the last result.

With Redis sessions the last result and the "a run is under way" mark are kept
in Redis (:class:`RedisLedger`), under the sessions' ``session.key_prefix``, so
every process of every instance of one site shares the one limit and the one
result, and another site sharing the Redis database under another prefix does
not; with the file store, each process has its own (:class:`LocalLedger`).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flask import Flask

from . import sessions
from .config import settings
from .session_store import RedisStore

log = logging.getLogger(__name__)

#: Seconds the request that starts a run waits for its result before answering
#: "in progress"; the run itself goes on and its result is kept.
WAIT_SECONDS = 10.0
#: Seconds a run is taken to be under way at most (the Redis mark's life), should
#: the process running it die: far above a run's own bounded calls.
RUN_LIMIT = 120
#: Redis keys, after ``session.key_prefix``: the colon keeps any cookie from naming
#: them (a session id is 43 characters with no colon).
REDIS_KEYS = "probes:"
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


class Ledger(Protocol):
    """Where the last run and the mark of a run under way are kept."""

    def last(self) -> ProbeRun | None: ...

    def running_since(self) -> float | None: ...

    def begin(self, started: float) -> str | None:
        """Mark a run under way and return its token, unless one already is."""

    def end(self, token: str, run: ProbeRun | None) -> None:
        """Keep ``run`` (if it finished) and clear the mark ``token`` set."""


class LocalLedger:
    """This process's memory."""

    def __init__(self) -> None:
        self._last: ProbeRun | None = None
        self._since: float | None = None
        self._lock = threading.Lock()

    def last(self) -> ProbeRun | None:
        return self._last

    def running_since(self) -> float | None:
        return self._since

    def begin(self, started: float) -> str | None:
        with self._lock:
            if self._since is not None:
                return None
            self._since = started
            return "local"

    def end(self, token: str, run: ProbeRun | None) -> None:
        with self._lock:
            if run is not None:
                self._last = run
            self._since = None


class RedisLedger:
    """The sessions' Redis, shared by every process and instance. The mark of a
    run under way is the store's lock (:meth:`RedisStore.try_lock`), whose value
    says since when."""

    def __init__(self, store: RedisStore, key_prefix: str, keep_seconds: int) -> None:
        self.store = store
        self.client = store.client
        self.last_key = key_prefix + REDIS_KEYS + "last"
        self.running_key = key_prefix + REDIS_KEYS + "running"
        self.keep_seconds = keep_seconds

    def last(self) -> ProbeRun | None:
        raw = self.client.get(self.last_key)
        if raw is None:
            return None
        data = json.loads(raw)
        return ProbeRun(tuple(data["verdicts"]), data["started_at"], data["finished_at"],
                        data["operator"])

    def running_since(self) -> float | None:
        raw = self.client.get(self.running_key)
        return float(raw.split(b" ")[0]) if raw else None

    def begin(self, started: float) -> str | None:
        return self.store.try_lock(self.running_key, RUN_LIMIT,
                                   token=f"{started} {secrets.token_hex(8)}")

    def end(self, token: str, run: ProbeRun | None) -> None:
        if run is not None:
            self.client.set(self.last_key, json.dumps(asdict(run), default=str),
                            ex=self.keep_seconds)
        # Only if the mark is still this run's (it may have expired and been retaken).
        self.store.release(self.running_key, token)


class ProbeRunner:
    """One app's live-check runs: the executor, and the ledger of runs."""

    def __init__(self, interval: int, ledger: Ledger) -> None:
        self.interval = interval
        self.ledger = ledger
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fedlab-probes")
        self._lock = threading.Lock()
        self._running: Future[ProbeRun] | None = None

    def last(self) -> Outcome | None:
        """The state to show on a plain view of the page, without starting anything."""
        last, since = self.ledger.last(), self.ledger.running_since()
        if since is not None:
            return Outcome("running", last, started_at=since)
        if last is None:
            return None
        return Outcome("recent", last, next_run_at=last.started_at + self.interval)

    def request(self, app: Flask, job: Callable[[], list[dict[str, Any]]],
                operator: str) -> Outcome:
        """Start a run of ``job`` unless one is under way or the last is too recent."""
        with self._lock:
            last = self.ledger.last()
            if self._running is None and last is not None and \
                    time.time() < last.started_at + self.interval:
                return Outcome("recent", last, next_run_at=last.started_at + self.interval)
            started = time.time()
            token = self.ledger.begin(started) if self._running is None else None
            if token is None:
                return Outcome("running", last, started_at=self.ledger.running_since())
            future = self._executor.submit(self._run, app, job, operator, started, token)
            self._running = future
        try:
            return Outcome("ran", future.result(timeout=WAIT_SECONDS))
        except FutureTimeout:
            return Outcome("running", last, started_at=started)

    def _run(self, app: Flask, job: Callable[[], list[dict[str, Any]]], operator: str,
             started: float, token: str) -> ProbeRun:
        run = None
        try:
            with app.app_context():
                verdicts = job()
            run = ProbeRun(tuple(verdicts), started, time.time(), operator)
            log.info("live checks run by %s: %d verdicts in %.1f s", operator, len(verdicts),
                     run.finished_at - started)
            return run
        finally:
            with self._lock:
                self.ledger.end(token, run)
                self._running = None


def init_app(app: Flask) -> None:
    configured = settings(app)
    interval = configured.diagnostics.probe_interval
    ledger: Ledger = LocalLedger()
    client = sessions.shared_redis(app)
    if client is not None:
        # Kept a good while past the interval: the page shows it with its time.
        ledger = RedisLedger(RedisStore(client), configured.session.key_prefix,
                             keep_seconds=max(interval, 3600))
    app.extensions[EXTENSION] = ProbeRunner(interval, ledger)


def runner(app: Flask) -> ProbeRunner:
    return app.extensions[EXTENSION]
