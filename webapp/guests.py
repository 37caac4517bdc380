"""Guest identities: how many may be made, and the one a guest carries into a sign-in.

Each "Continue as guest" in a new browser session makes an identity in the
pool for good, so new ones are bounded: :data:`GUESTS_PER_SESSION` per
browser, and ``aws.guest_identities_per_minute`` for the site. The
per-browser count is kept beside the sessions, not in them: parallel
requests with one cookie each read their own copy of the session, so a count
in the session lets every one of them make an identity. With Redis sessions
it is an ``INCR`` shared by every instance; with the file store, a locked
count in this process. Its keys, like the site's per-minute rate, are under
``session.key_prefix``, so two sites sharing one Redis database each keep
their own.

A guest who signs in is asked whether to keep the guest identity
(:class:`FormerGuest` says why it is never moved unasked). The sign-in views
(:mod:`webapp.signin`) note it, the credentials views offer it; both read it here.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, session

from . import sessions
from .config import settings
from .errors import FedlabError

#: Session key: the key this browser's guest identities are counted under (a hash of
#: the session's id when it first had one made: the id moves when a record is made).
GUEST_BUDGET = "guest_budget"
#: New guest identities one browser session may have made: its first, and a couple
#: more should the pool lose one (a reset pool, a guest signed in elsewhere).
GUESTS_PER_SESSION = 3
LIMITER = "fedlab.guest_identities"
BUDGET = "fedlab.guest_budget"
#: Redis keys after ``session.key_prefix`` (a colon: no session id can name them).
RATE_KEY = "guests:per-minute"
BUDGET_KEYS = "guests:browser:"


class RateLimit:
    """At most ``per_minute`` events in any 60 seconds, in this process (the file
    store's case: one machine)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 60:
                self._times.popleft()
            if len(self._times) >= self.per_minute:
                return False
            self._times.append(now)
            return True


class RedisRateLimit:
    """At most ``per_minute`` events in any 60 seconds across every process and
    instance that shares the sessions' Redis: a sorted set of the last minute's."""

    SCRIPT = """
    redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - 60)
    if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
    redis.call('zadd', KEYS[1], ARGV[1], ARGV[3])
    redis.call('expire', KEYS[1], 61)
    return 1
    """

    def __init__(self, client: Any, key: str, per_minute: int) -> None:
        self.per_minute = per_minute
        self.client = client
        self.key = key

    def take(self) -> bool:
        return bool(self.client.eval(self.SCRIPT, 1, self.key, time.time(), self.per_minute,
                                     secrets.token_hex(8)))


class BrowserBudget:
    """At most ``limit`` takes per browser key within ``lifetime`` seconds of its
    first, in this process (the file store's case), whatever the concurrency."""

    #: Past this many keys, expired ones are dropped, then the oldest.
    MAX_KEYS = 10_000

    def __init__(self, limit: int, lifetime: int) -> None:
        self.limit = limit
        self.lifetime = lifetime
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            count, until = self._counts.get(key, (0, now + self.lifetime))
            if until <= now:
                count, until = 0, now + self.lifetime
            if count >= self.limit:
                return False
            self._counts.pop(key, None)  # re-inserted last: the dict stays oldest first
            self._counts[key] = (count + 1, until)
            if len(self._counts) > self.MAX_KEYS:
                self._prune(now)
            return True

    def give_back(self, key: str) -> None:
        with self._lock:
            count, until = self._counts.get(key, (0, 0.0))
            if count <= 1:
                self._counts.pop(key, None)
            else:
                self._counts[key] = (count - 1, until)

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, until) in self._counts.items() if until <= now]:
            del self._counts[key]
        while len(self._counts) > self.MAX_KEYS:
            del self._counts[next(iter(self._counts))]


class RedisBrowserBudget:
    """The same per-browser count in the sessions' Redis: one ``INCR`` per take, so
    parallel requests on every instance see each other's."""

    TAKE = """
    local n = redis.call('incr', KEYS[1])
    if n == 1 then redis.call('expire', KEYS[1], tonumber(ARGV[2])) end
    if n > tonumber(ARGV[1]) then redis.call('decr', KEYS[1]) return 0 end
    return 1
    """
    GIVE_BACK = """
    if redis.call('decr', KEYS[1]) <= 0 then redis.call('del', KEYS[1]) end
    return 1
    """

    def __init__(self, client: Any, key_prefix: str, limit: int, lifetime: int) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.limit = limit
        self.lifetime = lifetime

    def take(self, key: str) -> bool:
        return bool(self.client.eval(self.TAKE, 1, self.key_prefix + key, self.limit,
                                     self.lifetime))

    def give_back(self, key: str) -> None:
        self.client.eval(self.GIVE_BACK, 1, self.key_prefix + key)


def init_app(app: Flask) -> None:
    """Make this app's two counts: in the sessions' Redis when there is one
    (shared by every instance), else in this process. Call after
    :func:`webapp.sessions.init_app`."""
    configured = settings(app)
    per_minute = configured.aws.guest_identities_per_minute
    prefix = configured.session.key_prefix
    # A browser's count lasts as long as its session can.
    lifetime = configured.session.absolute_timeout
    client = sessions.shared_redis(app)
    if client is not None:
        app.extensions[LIMITER] = RedisRateLimit(client, prefix + RATE_KEY, per_minute)
        app.extensions[BUDGET] = RedisBrowserBudget(
            client, prefix + BUDGET_KEYS, GUESTS_PER_SESSION, lifetime)
    else:
        app.extensions[LIMITER] = RateLimit(per_minute)
        app.extensions[BUDGET] = BrowserBudget(GUESTS_PER_SESSION, lifetime)


def limiter(app: Flask) -> RateLimit | RedisRateLimit:
    return app.extensions[LIMITER]


def budget(app: Flask) -> BrowserBudget | RedisBrowserBudget:
    return app.extensions[BUDGET]


def budget_key() -> str:
    """Whom a new guest identity is counted against: the session's id when this
    browser first had one made, else its id now (the cookie it sent, or the new
    id it is given). Hashed: the key names no session."""
    key = session.get(GUEST_BUDGET)
    if key is None:
        key = hashlib.sha256(session.sid.encode()).hexdigest()[:32]  # type: ignore[attr-defined]
    return key


def admit_new() -> str:
    """Count one new guest identity against this browser and the site, or refuse it
    (the ``guest_limit`` page, 429). Returns the browser's key, for
    :func:`counted_under` once the identity is made."""
    app = current_app._get_current_object()
    key = budget_key()
    if not budget(app).take(key):
        raise FedlabError("guest_limit", detail=f"This browser session has already had "
                          f"{GUESTS_PER_SESSION} guest identities made; it may not have more.")
    if not limiter(app).take():
        budget(app).give_back(key)  # none was made for this browser
        per_minute = settings().aws.guest_identities_per_minute
        raise FedlabError("guest_limit", detail=f"This site makes at most {per_minute} new "
                          f"guest identities a minute, and has made them.")
    return key


def counted_under(key: str) -> None:
    """Keep the browser's key with the session, whose id moves now that it has a
    record: this browser's next new guest still counts against the same key."""
    session[GUEST_BUDGET] = key


def guest_identity_id() -> str | None:
    """The identity id of this session's guest credentials, if it has them."""
    state = sessions.current_aws()
    return state.identity_id if state is not None and state.guest else None


#: Session key: the guest identity this browser was as it signed in (a
#: :class:`FormerGuest`), until the visitor says whether to keep it.
FORMER_GUEST = "former_guest"


@dataclass(frozen=True)
class FormerGuest:
    """The guest identity this browser was before signing in, and since when.

    The sign-in never takes it by itself: the credentials page offers it, and
    only the visitor's "keep" (a POST with the CSRF token of the signed-in
    session, whose id and so whose CSRF secret are new) moves it. No check on
    the server can tell a session cookie planted in the browser from the
    visitor's own, so a guest identity found in the session may be a
    stranger's; taken silently, it would tie the visitor's sign-in to an
    identity the stranger made and knows.
    """

    identity_id: str
    since: int

    @classmethod
    def of_session(cls) -> FormerGuest | None:
        data = session.get(FORMER_GUEST)
        if not isinstance(data, dict):
            return None
        return cls(str(data["identity_id"]), int(data["since"]))

    def offer(self) -> None:
        """Keep it in the (signed-in) session until the visitor answers."""
        session[FORMER_GUEST] = asdict(self)

    @staticmethod
    def answered() -> None:
        """The visitor answered the offer: it is not made again."""
        session.pop(FORMER_GUEST, None)

    @property
    def since_utc(self) -> str:
        return datetime.fromtimestamp(self.since, UTC).strftime("%H:%M UTC")


def former_guest(started_with: str | None) -> FormerGuest | None:
    """The guest identity to offer after this sign-in: only the one the sign-in
    started with (its pending record names it), and only if the session still
    holds it. One that reached the session otherwise, after the sign-in began
    (a planted session cookie, shared with whoever planted it), is not even
    offered."""
    state = sessions.current_aws()
    if state is None or not started_with or guest_identity_id() != started_with:
        return None
    return FormerGuest(started_with, state.since)
