"""A minimum interval between one session's presses of a button that spends the
site's own AWS quota.

Most of a visitor's AWS calls are public operations of their own (``GetId``,
``GetCredentialsForIdentity``), throttled per caller. A few buttons make calls
signed with the site's own identity (:mod:`webapp.site_aws`): federating as a
developer identity, asking the pool for the identity's logins, the basic flow's
``GetIdentityPoolRoles``. Those count against the account's Cognito quota, which
every visitor shares: a signed-in visitor looping one of them could throttle the
site's signed calls for everyone. So each session may press each of them once
every :data:`MIN_INTERVAL` seconds; a press inside the interval makes no AWS call,
and the page shows the last press's result with a notice saying why.

Like :mod:`webapp.guests`' counts, the marks live beside the sessions, not in
them: parallel requests with one cookie each read their own copy of the session,
so a mark in the session would let every one of them through. With Redis
sessions a mark is one ``SET NX`` with an expiry, shared by every instance; with
the file store, a locked table in this process. Keys are a hash of the session's
id (they name no session) under ``session.key_prefix``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from flask import Flask, current_app, flash, session

from . import sessions
from .config import settings

#: Seconds between two presses of one button in one session: long enough that a
#: loop cannot dent the account's quota, short enough that nobody waits for it.
MIN_INTERVAL = 5
EXTENSION = "fedlab.pacing"
#: Redis keys after ``session.key_prefix`` (a colon: no session id can name them).
KEYS = "paced:"


class LocalMarks:
    """When each (session, button) may go again, in this process (the file store's
    case: one machine), whatever the concurrency."""

    #: Past this many marks, expired ones are dropped.
    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._until.get(key, 0.0) > now:
                return False
            self._until[key] = now + seconds
            if len(self._until) > self.MAX_KEYS:
                self._until = {k: t for k, t in self._until.items() if t > now}
            return True


class RedisMarks:
    """The same marks in the sessions' Redis: the first ``SET NX`` wins, on every
    instance, and the key expires with the interval."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix

    def take(self, key: str, seconds: int) -> bool:
        return bool(self.client.set(self.key_prefix + key, 1, nx=True, ex=seconds))


def init_app(app: Flask) -> None:
    """Keep the marks in the sessions' Redis when there is one, else in this process.
    Call after :func:`webapp.sessions.init_app`."""
    client = sessions.shared_redis(app)
    prefix = settings(app).session.key_prefix + KEYS
    app.extensions[EXTENSION] = RedisMarks(client, prefix) if client is not None \
        else LocalMarks()


def admit(button: str) -> bool:
    """Whether this session may press ``button`` now (and mark it pressed); if not,
    flash a notice naming it, and the caller shows the last result unchanged."""
    sid = session.sid  # type: ignore[attr-defined]
    key = hashlib.sha256(f"{sid}\n{button}".encode()).hexdigest()[:32]
    if current_app.extensions[EXTENSION].take(key, MIN_INTERVAL):
        return True
    flash(f"“{button}” was pressed less than {MIN_INTERVAL} seconds ago in this session, "
          f"so nothing was asked of AWS this time: what follows is the last press's "
          f"result. Each press spends the site's own AWS quota, which every visitor "
          f"shares, so a session may press it once every {MIN_INTERVAL} seconds.")
    return False
