"""Start, rotate, expire and end a visitor's server-side session.

The cookie holds only a random id; the session itself is a sealed record in a
store (:mod:`webapp.session_store`: Redis, or files), so the cookie stays
short however large the tokens are, and tokens never reach the browser.

The app has one session interface (:class:`~webapp.session_interface.ServerSessions`,
also at ``app.extensions["fedlab_sessions"]``), which holds the store itself:
the refresh lock, the re-read of the store and the early write below reach
the very store the session came from, with nothing to unwrap.

:func:`start` moves to a new id at sign-in, so an id planted before sign-in
(session fixation) is worthless afterwards. Times are epoch seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, session
from redis.exceptions import RedisError

from . import config
from .errors import FedlabError
from .records import AwsState, SignIn
from .session_cache import TrackedRecords
from .session_files import FileStore
from .session_index import SessionIndex
from .session_interface import CSRF_KEY, ServerSessions, StoredSession, lasting
from .session_store import RedisStore, Sealer, SessionStore, refuse_without_store, store_failed

log = logging.getLogger(__name__)
EXTENSION = "fedlab_sessions"
INDEX_EXTENSION = "fedlab_session_index"
#: ``last_seen`` is rewritten at most this often, so browsing does not write
#: the session on every request.
TOUCH_INTERVAL = 60
#: Seconds the Redis client waits to connect or for an answer: a store that
#: stops answering ends on a clear page this soon, not when a proxy gives up.
STORE_TIMEOUT = 2


def init_app(app: Flask, null_session_paths: Iterable[str] = ()) -> None:
    """Bind the session interface; ``null_session_paths`` (the health checks)
    never open a session."""
    configured = config.settings(app)
    settings = configured.session
    https = configured.external_url.startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="__Host-fedlab" if https else "fedlab",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        WTF_CSRF_FIELD_NAME=CSRF_KEY,
    )
    store: SessionStore
    if settings.type == "redis":
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=STORE_TIMEOUT,
                                      socket_connect_timeout=STORE_TIMEOUT)
        tracked = None
        if settings.client_cache:
            # A copy is used for a touch interval at most: the idle timeout's
            # renewal rewrites the record about that often anyway.
            tracked = TrackedRecords(client, settings.key_prefix, settings.client_cache,
                                     max_age=TOUCH_INTERVAL)
        store = RedisStore(client, tracked)
    else:
        store = FileStore(settings.dir)
    interface = ServerSessions(store, Sealer(settings.encryption_key),
                               key_prefix=settings.key_prefix,
                               idle_timeout=settings.idle_timeout,
                               csrf_secret=app.config["SECRET_KEY"],
                               null_session_paths=null_session_paths,
                               # Looked up on each call: tests move this module's clock.
                               clock=lambda: now())
    app.session_interface = interface
    app.extensions[EXTENSION] = interface
    app.extensions[INDEX_EXTENSION] = SessionIndex(interface, settings.absolute_timeout)
    app.before_request(refuse_without_store)
    app.register_error_handler(RedisError, store_failed)


def sessions() -> ServerSessions:
    """This app's session interface, which holds its store."""
    return current_app.extensions[EXTENSION]


def index() -> SessionIndex:
    """The index of this app's sessions by person and by provider session."""
    return current_app.extensions[INDEX_EXTENSION]


def shared_redis(app: Flask) -> Any | None:
    """The session store's Redis client when sessions live in Redis, else None.

    What every process of every instance must share beside the sessions (the
    live checks' last run, the guest-identity rate) is kept there too, through
    this one client: its timeouts are the store's.
    """
    store = app.extensions[EXTENSION].store
    return store.client if isinstance(store, RedisStore) else None


def _current() -> StoredSession:
    return session._get_current_object()  # type: ignore[attr-defined,no-any-return]


def now() -> float:
    """The clock the timeouts read; tests move it forward instead of sleeping."""
    return time.time()


def init_timeouts(app: Flask) -> None:
    """Enforce the idle and absolute timeouts before every view.

    Register it after the CSRF check: a form posted to a session that has just
    timed out is then judged by the session it was made for, so "Sign out"
    still works (and still reaches the provider, see :func:`timed_out_auth`)
    instead of ending on a CSRF refusal.
    """
    app.before_request(enforce_timeouts)


def enforce_timeouts() -> None:
    """End a session idle or alive for too long; note why for the page.

    A session that holds only what lives briefly anyway (a sign-in under way, a
    notice: :data:`~webapp.session_interface.BRIEF_KEYS`) is left to its record's
    own short lifetime and its sign-in's: an idle timeout set below that must not
    end a sign-in the visitor is in the middle of. A record made before sessions
    had a clock gets one now, so its timeouts count from today."""
    if not lasting(session):
        return
    started = session.get("started_at")
    if started is None:
        if getattr(session, "stored", False):
            session["started_at"] = session["last_seen"] = int(now())
        return
    settings = config.settings().session
    current = now()
    if current - started > settings.absolute_timeout:
        why = "absolute"
    elif current - session.get("last_seen", started) > settings.idle_timeout:
        why = "idle"
    else:
        if current - session.get("last_seen", started) > TOUCH_INTERVAL:
            session["last_seen"] = int(current)
        return
    g.timed_out_auth = SignIn.load(session.get("auth"))
    end()
    g.session_ended = why


def timed_out_auth() -> SignIn | None:
    """The sign-in a timeout ended at the start of this request, if any: this
    site forgot it, but the provider's own session may still be alive, and a
    visitor who asked to sign out wants that one ended too."""
    return g.get("timed_out_auth")


def start(auth: SignIn, also: Mapping[str, Any] | None = None) -> None:
    """Begin a signed-in session under a new id, holding ``auth`` and ``also``;
    nothing from before survives.

    The session is stored at once and listed in the index under its person
    (and its provider session), so that signing out everywhere, or a
    back-channel logout, finds it from the moment it exists; one of those that
    ran while it was being listed, and so may have missed it, ends it here.
    That first write is the request's last unless something changes after it.
    """
    current = _current()
    sessions().rotate(current)
    begun = now()
    started = int(begun)
    session.update(also or {}, auth=auth.dump(), started_at=started, last_seen=started)
    sessions().write(current)
    try:
        ended_meanwhile = index().add(auth, current.sid, begun)
    except BaseException:
        # A session that no sign-out everywhere would find is not kept.
        sessions().rotate(current)
        raise
    if ended_meanwhile:
        sessions().rotate(current)
        raise FedlabError("signed_out")
    # Stored whole just now: the end of the request has nothing to write again
    # (a read of the record and its rewrite) unless something changes meanwhile.
    current.modified = False


def end_sessions_of(iss: str, sub: str | None = None, provider_sid: str | None = None) -> int:
    """End, on every instance, every session of the person ``iss``/``sub``, of the
    provider session ``provider_sid``, or of that person in that provider session;
    how many were still alive.

    This request's own session, if it is one of them, ends last (and goes on
    empty under a new id, as :func:`end`): should the store fail before, the
    visitor is still signed in here and can ask again. A sign-in being listed
    meanwhile sees the mark left first, and gives its session up (:func:`start`).
    """
    entries = index()
    if provider_sid is not None:
        entries.mark_ended(entries.provider_session(iss, provider_sid), now())
    elif sub is not None:
        entries.mark_ended(entries.person(iss, sub), now())
    found = entries.sessions_of(iss, sub, provider_sid)
    current = _current()
    # A request with no session of its own (a back-channel logout) ends others only.
    own = isinstance(current, StoredSession) and current.sid in found and current.stored
    if own:
        found.discard(current.sid)
    ended = entries.end(found)
    if own:
        end()
        ended += 1
    return ended


def end() -> None:
    """Delete the session from the store now, and go on under a new, empty id.

    The new id matters when something is stored right after (a flashed
    notice): it must not revive the old id, which may have leaked.
    """
    sessions().rotate(_current())


def current_auth() -> SignIn | None:
    """The visitor's sign-in; None when signed out, and when the stored one is
    malformed (an older release's shape, a damaged record): that is signed out too."""
    return SignIn.load(session.get("auth"))


def record_as_read() -> tuple[str, bytes] | None:
    """The store id and the sealed record this request opened, while the session
    is still as read: None when nothing is stored, and when this request changed
    the session (or wrote it: a refresh). What a page kept as rendered
    (:mod:`webapp.rendered_pages`) is matched against: any write anywhere seals
    a new record."""
    current = _current()
    if not getattr(current, "stored", False) or current.modified or current.base is None:
        return None
    return sessions().store_id(current.sid), current.base


def require_auth() -> SignIn:
    """The visitor's sign-in, for what only a signed-in visitor may do; signed out,
    the ``signed_out`` page."""
    auth = current_auth()
    if auth is None:
        raise FedlabError("signed_out")
    return auth


def current_aws() -> AwsState | None:
    """The visitor's AWS state (identity, role, credentials), if any: a malformed
    stored one counts as none, so the next page federates afresh."""
    return AwsState.load(session.get("aws"))


def keep_aws(state: AwsState) -> None:
    """Make ``state`` the session's AWS state."""
    session["aws"] = state.dump()


#: Session key of the logins linked to the session's identity, as last known
#: (:mod:`webapp.linked_logins`); they belong to the AWS state and go with it.
IDENTITY_LOGINS_KEY = "identity_logins"


def forget_aws() -> None:
    """Drop the session's AWS state and what it knew of the identity's logins (an
    identity the pool no longer gives this session: a gone guest, an unlinked login)."""
    session.pop("aws", None)
    session.pop(IDENTITY_LOGINS_KEY, None)


def live_auth() -> SignIn | None:
    """The visitor's sign-in if it holds now, else None: not ended by a refused
    refresh, and with tokens not expired (a caller renews them first, as the
    pages do, and one the provider will not renew stays expired). What acts on
    the sign-in's authority reads it here (an operator's live checks, the Logins
    those checks send), so an ended sign-in counts for nothing.
    """
    auth = current_auth()
    if auth is None or auth.state == "refresh_failed":
        return None
    return None if auth.tokens_expired(time.time()) else auth


def stored_auth() -> SignIn | None:
    """This session's sign-in as the store has it now (another request may have
    changed it since this one began)."""
    data = sessions().read(_current().sid)
    return SignIn.load((data or {}).get("auth"))


def save_now() -> None:
    """Write this session to the store before the response ends, so requests
    waiting on :func:`refresh_lock` read what this one did."""
    sessions().write(_current())


#: Seconds added to a refresh's longest provider calls for the lock's lifetime:
#: writing the store, and the work between the calls.
LOCK_MARGIN = 5


def lock_seconds() -> float:
    """How long a refresh may hold its lock, and how long another request waits.

    A refresh makes up to three provider calls (discovery when its time is up,
    the token request, keys after a rotation), each bounded by ``http_timeout``:
    the lock must outlive them, or it expires under a refresh still running and
    a second one starts.
    """
    return 3 * config.settings().http_timeout + LOCK_MARGIN


@contextmanager
def refresh_lock() -> Iterator[bool]:
    """Hold this session's refresh lock; yields whether it was obtained in time.

    With Redis it is shared by every instance (``SET NX PX``, released only by
    its holder); with the file store, by the threads of this process. When it
    was not obtained, the caller must not refresh: another request is doing so.
    """
    interface = sessions()
    name = f"{interface.key_prefix}refresh-lock:{_current().sid}"
    with interface.store.lock(name, lock_seconds()) as acquired:
        yield acquired
