"""Start, rotate, expire and end a visitor's server-side session.

flask-session keeps the data in a store (cachelib files by default, Redis one
setting away); the cookie holds only a random id, so it stays short however
large the tokens are, and tokens never reach the browser. flask-session never
changes that id by itself: :func:`start` calls ``regenerate`` at sign-in so an
id planted before sign-in (session fixation) is worthless afterwards.
Times are stored as epoch seconds: the msgspec serializer rejects datetimes.

The store never holds a usable token: :mod:`webapp.session_store` seals each
record and turns a failing store into a clear page.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cachelib import FileSystemCache
from flask import Flask, current_app, g, session
from redis.exceptions import RedisError

from .session_store import (
    SealedCacheLib,
    SealedRedis,
    SealedStore,
    Sealer,
    StoreGuard,
    refuse_without_store,
    store_failed,
)

log = logging.getLogger(__name__)
#: ``last_seen`` is rewritten at most this often, so browsing does not write
#: the session on every request.
TOUCH_INTERVAL = 60
#: Seconds the Redis client waits to connect or for an answer: a store that
#: stops answering ends on a clear page this soon, not when a proxy gives up.
STORE_TIMEOUT = 2


def init_app(app: Flask) -> None:
    settings = app.config["FEDLAB"]["session"]
    https = app.config["FEDLAB"]["external_url"].startswith("https://")
    app.config.update(
        SESSION_TYPE=settings["type"],
        SESSION_KEY_PREFIX=settings["key_prefix"],
        # The store forgets a session idle for longer than this, even if nobody
        # comes back to trigger the check in enforce_timeouts.
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings["idle_timeout"]),
        SESSION_PERMANENT=False,
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_NAME="__Host-fedlab" if https else "fedlab",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
    )
    common = {"key_prefix": settings["key_prefix"], "permanent": False}
    interface: SealedStore
    if settings["type"] == "redis":
        import redis

        client = redis.Redis.from_url(settings["redis_url"], socket_timeout=STORE_TIMEOUT,
                                      socket_connect_timeout=STORE_TIMEOUT)
        interface = SealedRedis(app, client=client, **common)
    else:
        cache = FileSystemCache(
            settings["dir"], threshold=0, default_timeout=settings["idle_timeout"]
        )
        interface = SealedCacheLib(app, client=cache, **common)
    interface.sealer = Sealer(settings["encryption_key"])
    app.session_interface = StoreGuard(interface)
    app.before_request(refuse_without_store)
    app.before_request(enforce_timeouts)
    app.register_error_handler(RedisError, store_failed)


def now() -> float:
    """The clock the timeouts read; tests move it forward instead of sleeping."""
    return time.time()


def enforce_timeouts() -> None:
    """End a session idle or alive for too long; note why for the page."""
    started = session.get("started_at")
    if started is None:
        return
    settings = current_app.config["FEDLAB"]["session"]
    current = now()
    if current - started > settings["absolute_timeout"]:
        end()
        g.session_ended = "absolute"
    elif current - session.get("last_seen", started) > settings["idle_timeout"]:
        end()
        g.session_ended = "idle"
    elif current - session.get("last_seen", started) > TOUCH_INTERVAL:
        session["last_seen"] = int(current)


def start(auth: dict[str, Any]) -> None:
    """Begin a signed-in session under a new id; nothing from before survives."""
    # regenerate() deletes the old record, but only for a non-empty session,
    # so it must come before clear(). An empty one already gets a fresh id.
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    session.clear()
    started = int(now())
    session.update(auth=auth, started_at=started, last_seen=started)


def end() -> None:
    """Delete the session from the store now, and go on under a new, empty id.

    The new id matters when something is stored right after (a flashed
    notice): it must not revive the old id, which may have leaked.
    """
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    session.clear()
    session.modified = True


def current_auth() -> dict[str, Any] | None:
    return session.get("auth")


def store() -> SealedStore:
    interface = current_app.session_interface
    return getattr(interface, "inner", interface)  # type: ignore[return-value]


def stored_auth() -> dict[str, Any] | None:
    """This session's sign-in as the store has it now (another request may have
    changed it since this one began)."""
    data = store().read(session.sid)  # type: ignore[attr-defined]
    return (data or {}).get("auth")


def save_now() -> None:
    """Write this session to the store before the response ends, so requests
    waiting on :func:`refresh_lock` read what this one did."""
    store().write(session, current_app.permanent_session_lifetime)  # type: ignore[arg-type]


#: Seconds added to a refresh's longest provider calls for the lock's lifetime:
#: writing the store, and the work between the calls.
LOCK_MARGIN = 5
_local_locks: dict[str, list[Any]] = {}
_local_locks_guard = threading.Lock()


def lock_seconds() -> float:
    """How long a refresh may hold its lock, and how long another request waits.

    A refresh makes up to three provider calls (discovery when its time is up,
    the token request, keys after a rotation), each bounded by ``http_timeout``:
    the lock must outlive them, or it expires under a refresh still running and
    a second one starts.
    """
    return 3 * current_app.config["FEDLAB"]["http_timeout"] + LOCK_MARGIN


@contextmanager
def refresh_lock() -> Iterator[bool]:
    """Hold this session's refresh lock; yields whether it was obtained in time.

    With Redis it is shared by every instance (``SET NX PX``, released only by
    its holder); with the file store, by the threads of this process. When it
    was not obtained, the caller must not refresh: another request is doing so.
    """
    name = f"{current_app.config['SESSION_KEY_PREFIX']}refresh-lock:{session.sid}"
    interface = store()
    lifetime = lock_seconds()
    deadline = time.monotonic() + lifetime
    if isinstance(interface, SealedRedis):
        client, token = interface.client, secrets.token_hex(16)
        acquired = False
        while not acquired and time.monotonic() < deadline:
            acquired = bool(client.set(name, token, nx=True, px=int(lifetime * 1000)))
            if not acquired:
                time.sleep(0.05)
        try:
            yield acquired
        finally:
            if acquired:
                client.eval(RELEASE_SCRIPT, 1, name, token)
        return
    with _local_locks_guard:
        entry = _local_locks.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
    acquired = entry[0].acquire(timeout=lifetime)
    try:
        yield acquired
    finally:
        if acquired:
            entry[0].release()
        with _local_locks_guard:
            entry[1] -= 1
            if not entry[1]:
                _local_locks.pop(name, None)


#: Delete the lock only if it is still ours (it may have expired and been taken).
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
