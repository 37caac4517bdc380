"""Start, rotate, expire and end a visitor's server-side session.

flask-session keeps the data in a store (cachelib files by default, Redis one
setting away); the cookie holds only a random id, so it stays short however
large the tokens are, and tokens never reach the browser. flask-session never
changes that id by itself: :func:`start` calls ``regenerate`` at sign-in so an
id planted before sign-in (session fixation) is worthless afterwards.
Times are stored as epoch seconds: the msgspec serializer rejects datetimes.

The store never holds a usable token: each record is sealed with AES-GCM under
a key derived from ``session.encryption_key``, which the store never sees, and
bound to its own store id, so a dump of Redis (or of the session folder) gives
only ciphertext, and a record copied under another id does not open. A record
that does not open (other key, altered, from before sealing) is no session.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import msgspec
from cachelib import FileSystemCache
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SessionInterface, SessionMixin
from flask_session.base import ServerSideSession
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface
from redis.exceptions import RedisError

from .errors import FedlabError, render_error

log = logging.getLogger(__name__)
#: What a failing store raises: Redis errors, and OS errors of the file store.
STORE_ERRORS = (RedisError, OSError)
#: ``last_seen`` is rewritten at most this often, so browsing does not write
#: the session on every request.
TOUCH_INTERVAL = 60


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

        client = redis.Redis.from_url(
            settings["redis_url"], socket_timeout=2, socket_connect_timeout=2
        )
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


class Sealer:
    """AES-256-GCM with a key derived (HKDF-SHA256) from ``session.encryption_key``.

    A sealed record is a version byte, a random 96-bit nonce and the ciphertext
    with its tag; the associated data is the record's store id.
    """

    VERSION = b"\x01"

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"fedlab session store v1").derive(secret.encode())
        self.aead = AESGCM(key)

    def seal(self, data: dict[str, Any], store_id: str) -> bytes:
        nonce = os.urandom(12)
        plain = msgspec.msgpack.encode(data)
        return self.VERSION + nonce + self.aead.encrypt(nonce, plain, store_id.encode())

    def open(self, record: Any, store_id: str) -> dict[str, Any] | None:
        """The data, or None when the record is not ours to open."""
        if not isinstance(record, bytes) or record[:1] != self.VERSION or len(record) < 29:
            return None
        try:
            plain = self.aead.decrypt(record[1:13], record[13:], store_id.encode())
        except InvalidTag:
            return None
        data = msgspec.msgpack.decode(plain)
        return data if isinstance(data, dict) else None


class SealedStore:
    """flask-session's store calls, with every record sealed by :class:`Sealer`.

    flask-session's serializer never learns the store id (and its cachelib
    backend does not use it at all), so the seam is the pair of calls that
    read and write one record: both backends go through them.
    """

    sealer: Sealer

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        record = self._read_record(store_id)
        if record is None:
            return None
        data = self.sealer.open(record, store_id)
        if data is None:
            # Nothing of the record is logged: it is what a visitor's cookie named.
            log.warning("a stored session did not decrypt (another key, or altered); "
                        "treated as no session")
        return data

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession,
                        store_id: str) -> None:
        data = dict(session)
        keep_newer_tokens(data, self._retrieve_session_data(store_id))
        self._write_record(store_id, self.sealer.seal(data, store_id),
                           int(session_lifetime.total_seconds()))

    def read(self, sid: str) -> dict[str, Any] | None:
        """The stored session ``sid``, opened (tests and the refresh path read it)."""
        return self._retrieve_session_data(self._get_store_id(sid))  # type: ignore[attr-defined]

    def _read_record(self, store_id: str) -> Any:
        raise NotImplementedError

    def _write_record(self, store_id: str, record: bytes, ttl: int) -> None:
        raise NotImplementedError


class SealedRedis(SealedStore, RedisSessionInterface):
    def _read_record(self, store_id: str) -> Any:
        return self.client.get(store_id)

    def _write_record(self, store_id: str, record: bytes, ttl: int) -> None:
        self.client.set(store_id, record, ex=ttl)


class SealedCacheLib(SealedStore, CacheLibSessionInterface):
    def _read_record(self, store_id: str) -> Any:
        return self.cache.get(store_id)

    def _write_record(self, store_id: str, record: bytes, ttl: int) -> None:
        self.cache.set(store_id, record, timeout=ttl)


def keep_newer_tokens(data: dict[str, Any], stored: dict[str, Any] | None) -> None:
    """flask-session writes the whole session when a request ends: a request
    that read the session before a concurrent refresh must not put the old,
    perhaps rotated, tokens back. Each refresh bumps ``auth.generation``; the
    stored sign-in wins when it is the same visitor's and newer."""
    mine, theirs = data.get("auth"), (stored or {}).get("auth")
    if not (isinstance(mine, dict) and isinstance(theirs, dict)):
        return
    if ((mine.get("iss"), mine.get("sub"), mine.get("signed_in_at"))
            == (theirs.get("iss"), theirs.get("sub"), theirs.get("signed_in_at"))
            and theirs.get("generation", 0) > mine.get("generation", 0)):
        data["auth"] = theirs


class StoreGuard(SessionInterface):
    """Turn a session store that fails (Redis down, disk full) into a clear page.

    flask-session lets the store's exception escape from ``open_session``,
    before any view or error handler has a session to work with, which ends in
    a bare 500, and a failed save after the view would send a response whose
    promise (a pending sign-in) was not kept. Here either failure is logged
    and the visitor gets the catalogue's ``session_store_down`` page instead;
    the next request tries the store again, so the site recovers by itself
    when the store is back.
    """

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        try:
            return self.inner.open_session(app, request)
        except STORE_ERRORS as e:
            log.warning("session store unavailable on open: %s", type(e).__name__)
            g.session_store_down = type(e).__name__
            return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get("session_store_down"):
            return
        try:
            self.inner.save_session(app, session, response)
        except STORE_ERRORS as e:
            # What this response promised (a pending sign-in, a new session) was
            # not kept: replace it by the error page rather than let it mislead.
            log.warning("session store unavailable on save: %s", type(e).__name__)
            body, status = render_error(FedlabError("session_store_down",
                                                    detail=type(e).__name__))
            response.set_data(body)
            response.status_code = status
            response.mimetype = "text/html"
            for header in ("Location", "Set-Cookie"):
                response.headers.pop(header, None)


def refuse_without_store() -> None:
    if g.get("session_store_down") and request.endpoint != "static":
        raise FedlabError("session_store_down", detail=g.session_store_down)


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
    store()._upsert_session(current_app.permanent_session_lifetime,  # type: ignore[attr-defined]
                            session, store()._get_store_id(session.sid))  # type: ignore[attr-defined]


#: How long a refresh may hold its lock, and how long another request waits for it.
LOCK_SECONDS = 15
_local_locks: dict[str, list[Any]] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def refresh_lock() -> Iterator[bool]:
    """Hold this session's refresh lock; yields whether it was obtained in time.

    With Redis it is shared by every instance (``SET NX PX``, released only by
    its holder); with the file store, by the threads of this process.
    """
    name = f"{current_app.config['SESSION_KEY_PREFIX']}refresh-lock:{session.sid}"
    interface = store()
    deadline = time.monotonic() + LOCK_SECONDS
    if isinstance(interface, SealedRedis):
        client, token = interface.client, secrets.token_hex(16)
        acquired = False
        while not acquired and time.monotonic() < deadline:
            acquired = bool(client.set(name, token, nx=True, px=LOCK_SECONDS * 1000))
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
    acquired = entry[0].acquire(timeout=LOCK_SECONDS)
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
