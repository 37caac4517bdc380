"""Where a session is kept: sealed records in a store, and a store that fails.

A store is a small object with explicit operations on whole records (read,
create only if absent, update only if present, delete, and a lock), in Redis
(:class:`RedisStore`) or in plain files (:class:`webapp.session_files.FileStore`).
It only ever holds sealed bytes: each record is sealed with AES-GCM under a key
derived from ``session.encryption_key``, which the store never sees, and bound
to its own store id, so a dump of Redis (or of the session folder) gives only
ciphertext, a record copied under another id does not open, and nothing read
from the store is decoded before its seal is checked. A store that does not
answer ends on the catalogue's ``session_store_down`` page instead of a 500.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import g, request
from redis import Redis
from redis.exceptions import RedisError

from .errors import FedlabError, render_error
from .records import SignIn
from .session_cache import TrackedRecords

log = logging.getLogger(__name__)
#: Seconds between two tries at a lock another holds.
LOCK_RETRY = 0.05
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


def open_record(sealer: Sealer, record: bytes | None, store_id: str) -> dict[str, Any] | None:
    """The stored data, or None: no record, or one that does not open (another
    key, altered, planted), which is logged without any of its content."""
    if record is None:
        return None
    data = sealer.open(record, store_id)
    if data is None:
        # Nothing of the record is logged: it is what a visitor's cookie named.
        log.warning("a stored session did not decrypt (another key, or altered); "
                    "treated as no session")
    return data


def store_unavailable(where: str, error: Exception) -> None:
    """Note for this request that the store failed: nothing more is read or written.

    Only the error's type is logged and kept, not its message (which may name
    the store's address or a file's path).
    """
    log.warning("session store unavailable %s: %s", where, type(error).__name__)
    g.session_store_down = type(error).__name__


def store_down_page(error: Exception) -> tuple[str, int]:
    """The catalogue's ``session_store_down`` page (503), naming the error's type only."""
    return render_error(FedlabError("session_store_down", detail=type(error).__name__))


class SessionStore(ABC):
    """Sealed records by store id, each with its own lifetime in seconds.

    There is no plain "set": a record is created only where none exists, and
    rewritten only while it still exists, so a request that ends after the
    session was deleted (signed out in another tab or on another instance)
    cannot write it back.
    """

    @abstractmethod
    def read(self, store_id: str) -> bytes | None:
        """The record as stored, or None when there is none (or it expired)."""

    def read_to_open(self, store_id: str) -> bytes | None:
        """The record, for opening a session as a request starts: what :meth:`read`
        gives, possibly from a copy the store keeps true (:class:`RedisStore`'s
        :class:`~webapp.session_cache.TrackedRecords`). A read that a write
        depends on uses :meth:`read`."""
        return self.read(store_id)

    @abstractmethod
    def create(self, store_id: str, record: bytes, ttl: int) -> bool:
        """Store a new record; False, and nothing written, when one exists."""

    @abstractmethod
    def update(self, store_id: str, record: bytes, ttl: int) -> bool:
        """Replace an existing record; False, and nothing written, when there is none."""

    @abstractmethod
    def delete(self, store_id: str) -> None:
        """Remove the record now; nothing happens when there is none."""

    def read_many(self, store_ids: list[str]) -> list[bytes | None]:
        """The records under ``store_ids``, in their order (None where there is none)."""
        return [self.read(store_id) for store_id in store_ids]

    def rewrite_locked(self, store_id: str, seconds: float,
                       rewrite: Callable[[bytes | None], tuple[bytes | None, int]]) -> bool:
        """Replace the record under ``store_id`` by what ``rewrite`` makes of it (a
        record and its lifetime; None deletes it), holding the lock
        ``<store_id>:lock`` (waiting at most ``seconds``) from the read to the
        write. False, and nothing written, when the lock could not be had."""
        with self.lock(f"{store_id}:lock", seconds) as acquired:
            if not acquired:
                return False
            record, ttl = rewrite(self.read(store_id))
            if record is None:
                self.delete(store_id)
            elif not self.update(store_id, record, ttl):
                self.create(store_id, record, ttl)
            return True

    def rewrite_all_locked(self, store_ids: Sequence[str], seconds: float,
                           rewrite: Callable[[str, bytes | None], tuple[bytes | None, int]],
                           then_read: Sequence[str] = ()) -> list[bytes | None] | None:
        """:meth:`rewrite_locked` for each of ``store_ids`` (``rewrite`` is given the
        store id too), then the records under ``then_read``, read after every
        rewrite is written. None, and nothing more written, when a lock could not
        be had."""
        for store_id in store_ids:
            if not self.rewrite_locked(store_id, seconds,
                                       lambda stored, at=store_id: rewrite(at, stored)):
                return None
        return self.read_many(list(then_read))

    @abstractmethod
    def lock(self, name: str, seconds: float) -> AbstractContextManager[bool]:
        """Hold the lock ``name``, waiting at most ``seconds``; yields whether it
        was obtained. Every process that shares the store shares the lock:
        :class:`RedisStore` every instance, the file store every process of
        the machine."""


class RedisStore(SessionStore):
    """One Redis key per record (``SET NX`` to create, ``SET XX`` to update, with
    ``EX`` its lifetime), and a lock every instance sees: ``SET NX PX``,
    released only by its holder. With ``tracked``, sessions are opened from
    the copies it keeps true (:mod:`webapp.session_cache`)."""

    def __init__(self, client: Redis, tracked: TrackedRecords | None = None) -> None:
        self.client = client
        self.tracked = tracked

    def read(self, store_id: str) -> bytes | None:
        return self.client.get(store_id)  # type: ignore[return-value]

    def read_to_open(self, store_id: str) -> bytes | None:
        if self.tracked is None:
            return self.read(store_id)
        return self.tracked.read(store_id, self.read)

    def create(self, store_id: str, record: bytes, ttl: int) -> bool:
        created = bool(self.client.set(store_id, record, ex=ttl, nx=True))
        self.forget(store_id)
        return created

    def update(self, store_id: str, record: bytes, ttl: int) -> bool:
        updated = bool(self.client.set(store_id, record, ex=ttl, xx=True))
        self.forget(store_id)
        return updated

    def delete(self, store_id: str) -> None:
        self.client.delete(store_id)
        self.forget(store_id)

    def forget(self, store_id: str) -> None:
        """Drop this process's copy of a record it just wrote or deleted."""
        if self.tracked is not None:
            self.tracked.forget(store_id)

    def try_lock(self, name: str, seconds: float, token: str | None = None) -> str | None:
        """Take the lock ``name`` for ``seconds`` unless someone holds it; the token
        that releases it, or None. ``token`` (random by default) is the key's value,
        so a caller may put in it what others should read (a start time)."""
        token = token or secrets.token_hex(16)
        taken = self.client.set(name, token, nx=True, px=int(seconds * 1000))
        return token if taken else None

    def release(self, name: str, token: str) -> None:
        """Release the lock ``name`` if ``token`` still holds it."""
        self.client.eval(RELEASE_SCRIPT, 1, name, token)

    @contextmanager
    def lock(self, name: str, seconds: float) -> Iterator[bool]:
        deadline = time.monotonic() + seconds
        token = None
        while token is None and time.monotonic() < deadline:
            token = self.try_lock(name, seconds)
            if token is None:
                time.sleep(LOCK_RETRY)
        try:
            yield token is not None
        finally:
            if token is not None:
                self.release(name, token)

    # -- several commands in one round trip (the session index) -----------------------

    def read_many(self, store_ids: list[str]) -> list[bytes | None]:
        """One round trip (``MGET``)."""
        return self.client.mget(store_ids) if store_ids else []  # type: ignore[return-value]

    def rewrite_locked(self, store_id: str, seconds: float,
                       rewrite: Callable[[bytes | None], tuple[bytes | None, int]]) -> bool:
        """Two round trips (:meth:`rewrite_all_locked`), where lock, read, write and
        release would take four or five."""
        return self.rewrite_all_locked([store_id], seconds,
                                       lambda _, stored: rewrite(stored)) is not None

    def rewrite_all_locked(self, store_ids: Sequence[str], seconds: float,
                           rewrite: Callable[[str, bytes | None], tuple[bytes | None, int]],
                           then_read: Sequence[str] = ()) -> list[bytes | None] | None:
        """Two round trips however many records, where each would take two and the
        reads one more: every lock taken with its record's read (one pipeline: a
        read runs after its lock is taken, so under it), then every record written
        with its lock's release, by a script that writes only while the lock is
        still ours (a holder whose lock expired writes nothing), and ``then_read``
        read after them (the next pipeline). While another holds one of the locks,
        none is kept and all are tried again, as :meth:`lock` waits."""
        names = [f"{store_id}:lock" for store_id in store_ids]
        deadline = time.monotonic() + seconds
        while True:
            tokens = [secrets.token_hex(16) for _ in store_ids]
            pipe = self.client.pipeline(transaction=False)
            for name, store_id, token in zip(names, store_ids, tokens, strict=True):
                pipe.set(name, token, nx=True, px=int(seconds * 1000))
                pipe.get(store_id)
            answers = pipe.execute()
            taken, stored = answers[0::2], answers[1::2]
            held = [(name, token) for name, token, ok in zip(names, tokens, taken, strict=True)
                    if ok]
            if len(held) == len(store_ids):
                break
            # All or none: holding some while waiting for another could deadlock with
            # a writer that holds that one and waits for ours.
            self._release_all(held)
            if time.monotonic() >= deadline:
                return None
            time.sleep(LOCK_RETRY)
        try:
            records = [rewrite(store_id, record)
                       for store_id, record in zip(store_ids, stored, strict=True)]
        except BaseException:
            self._release_all(held)
            raise
        pipe = self.client.pipeline(transaction=False)
        for name, store_id, token, (record, ttl) in zip(names, store_ids, tokens, records,
                                                        strict=True):
            pipe.eval(WRITE_AND_RELEASE_SCRIPT, 2, name, store_id, token, record or b"", ttl)
        if then_read:
            pipe.mget(list(then_read))
        answers = pipe.execute()
        if not all(answers[:len(store_ids)]):
            return None
        return answers[len(store_ids)] if then_read else []

    def _release_all(self, held: list[tuple[str, str]]) -> None:
        for name, token in held:
            self.release(name, token)


#: Delete the lock only if it is still ours (it may have expired and been taken).
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

#: Rewrite (an empty record: delete) a record and release the lock guarding it, only
#: while the lock is still ours: a holder whose lock expired writes nothing.
WRITE_AND_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('del', KEYS[2])
else
  redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
redis.call('del', KEYS[1])
return 1
"""


def keep_newer_tokens(data: dict[str, Any], stored: dict[str, Any] | None) -> None:
    """A session is written whole when a request ends: a request that read the
    session before a concurrent refresh must not put the old, perhaps rotated,
    tokens back. Each refresh bumps ``auth.generation``; the stored sign-in
    wins when it is the same visitor's and newer."""
    theirs = (stored or {}).get("auth")
    mine, newer = SignIn.load(data.get("auth")), SignIn.load(theirs)
    if mine is not None and newer is not None and mine.same_as(newer) \
            and newer.generation > mine.generation:
        data["auth"] = theirs


def store_failed(error: RedisError) -> tuple[str, int]:
    """A view's own call to the store failed (Redis died mid-request: the
    refresh lock, re-reading the session, the new id at sign-in or sign-out).

    The same page as a store down on open, and nothing is saved afterwards:
    what the view did half is not written over a store that just failed.
    Only Redis errors: an OSError in a view is as likely a provider's
    connection as the file store, and those have their own pages.
    """
    store_unavailable(f"in {request.method} {request.path}", error)
    return store_down_page(error)


def refuse_without_store() -> None:
    # Static files never get here with the store down: they open no session.
    if g.get("session_store_down"):
        raise FedlabError("session_store_down", detail=g.session_store_down)
