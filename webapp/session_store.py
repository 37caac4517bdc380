"""How a session is kept: sealed records in the store, and a store that fails.

Each record is sealed with AES-GCM under a key derived from
``session.encryption_key``, which the store never sees, and bound to its own
store id: a dump of Redis (or of the session folder) gives only ciphertext,
and a record copied under another id does not open. A store that does not
answer ends on the catalogue's ``session_store_down`` page instead of a 500.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, Request, Response, g, request
from flask.sessions import SessionInterface, SessionMixin
from flask_session.base import ServerSideSession
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface
from redis.exceptions import RedisError

from .errors import FedlabError, render_error

log = logging.getLogger(__name__)
#: What a failing store raises: Redis errors, and OS errors of the file store.
STORE_ERRORS = (RedisError, OSError)


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

    def write(self, session: ServerSideSession, lifetime: timedelta) -> None:
        """Store ``session`` now, before the response ends (the refresh path)."""
        self._upsert_session(lifetime, session,
                             self._get_store_id(session.sid))  # type: ignore[attr-defined]

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
    if (same_sign_in(mine, theirs)
            and theirs.get("generation", 0) > mine.get("generation", 0)):
        data["auth"] = theirs


def same_sign_in(a: Any, b: Any) -> bool:
    """Whether two stored sign-ins are one: the same person (issuer and subject,
    never e-mail or subject alone) signed in at the same moment."""
    return (isinstance(a, dict) and isinstance(b, dict)
            and (a.get("iss"), a.get("sub"), a.get("signed_in_at"))
            == (b.get("iss"), b.get("sub"), b.get("signed_in_at")))


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


def store_failed(error: RedisError) -> tuple[str, int]:
    """A view's own call to the store failed (Redis died mid-request: the
    refresh lock, re-reading the session, the new id at sign-in or sign-out).

    The same page as a store down on open, and nothing is saved afterwards:
    what the view did half is not written over a store that just failed.
    Only Redis errors: an OSError in a view is as likely a provider's
    connection as the file store, and those have their own pages.
    """
    log.warning("session store unavailable in %s %s: %s", request.method, request.path,
                type(error).__name__)
    g.session_store_down = type(error).__name__
    return render_error(FedlabError("session_store_down", detail=type(error).__name__))


def refuse_without_store() -> None:
    if g.get("session_store_down") and request.endpoint != "static":
        raise FedlabError("session_store_down", detail=g.session_store_down)
