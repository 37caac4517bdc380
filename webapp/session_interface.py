"""The app's session interface: what Flask calls to open and save a session.

:class:`ServerSessions` holds the store itself (a
:class:`~webapp.session_store.SessionStore`), so whatever reaches the
interface reaches the very store the session came from. It writes less than
flask-session would, because a session written whole when a request ends can
undo what happened meanwhile:

- a record is created only when there is something to keep, and always under
  a new id: an anonymous visitor who only reads pages (even a page with a
  form: the CSRF secret is derived from the id, see
  :meth:`ServerSessions.csrf_value`) stores nothing, and an id the browser
  chose is never given a record;
- a record is rewritten only while it still exists, so a request that began
  before sign-out cannot bring the session back;
- a session that holds only a sign-in under way (or a notice to show once)
  lives :data:`BRIEF_LIFETIME`, anything else the idle timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, Response, g
from flask.sessions import SessionInterface
from flask_session.base import ServerSideSession
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from .session_store import (
    STORE_ERRORS,
    Sealer,
    SessionStore,
    keep_newer_tokens,
    open_record,
    store_down_page,
    store_unavailable,
)

log = logging.getLogger(__name__)
#: How long a session lives that holds only :data:`BRIEF_KEYS`: a sign-in must
#: come back within this (``signin.PENDING_LIFETIME``), a notice is shown at once,
#: and the picture's steps of a sign-in under way (:mod:`webapp.picture`) wait for
#: that same callback.
BRIEF_LIFETIME = 600
PICTURE_UNDER_WAY = "sign_in_picture_under_way"
BRIEF_KEYS = frozenset({"pending", "_flashes", PICTURE_UNDER_WAY})
#: Every session's clock (:func:`webapp.sessions.enforce_timeouts` reads it), set
#: when its record is first made: no reason by itself to keep a session longer.
CLOCK_KEYS = frozenset({"started_at", "last_seen"})
#: Flask-WTF's CSRF secret, derived from the id (:meth:`ServerSessions.csrf_value`).
CSRF_KEY = "csrf_token"
#: Not a reason to store a session: Flask's flag, and the CSRF secret.
NOT_STORED = frozenset({"_permanent", CSRF_KEY})
#: What :func:`secrets.token_urlsafe` (32 bytes) gives; any other cookie is ignored.
SID = re.compile(r"[A-Za-z0-9_-]{43}")


def kept_keys(data: Iterable[str]) -> set[str]:
    """What of ``data`` is a reason to store a session: not Flask's flag, the CSRF
    secret derived from the id, nor the session's clock."""
    return set(data) - NOT_STORED - CLOCK_KEYS


def lasting(data: Iterable[str]) -> bool:
    """Whether ``data`` holds more than what lives briefly anyway (:data:`BRIEF_KEYS`):
    such a session lives the idle timeout, and the timeouts are for it."""
    return bool(kept_keys(data) - BRIEF_KEYS)


#: The mark :func:`no_session` puts on a view.
NO_SESSION = "fedlab_no_session"


def no_session(view: Any) -> Any:
    """Mark ``view`` as one that never opens a session: it reads no cookie and
    sets none, whatever the request carries (a provider's server-to-server POST,
    such as a back-channel logout, which the token alone authenticates)."""
    setattr(view, NO_SESSION, True)
    return view


#: Where the app keeps the fixed start of each :func:`no_session` view's URL rule.
NO_SESSION_PREFIXES = "fedlab_no_session_prefixes"


def opens_no_session(app: Flask, request: Request) -> bool:
    """Whether ``request`` goes to a view marked with :func:`no_session`. Flask
    opens the session before it matches the URL, so the match is made here, but
    only for a path that starts as such a view's rule does (the text before its
    first variable): every other request would pay for a second match."""
    prefixes = app.extensions.get(NO_SESSION_PREFIXES)
    if prefixes is None:  # the routes are all registered by the first request
        prefixes = app.extensions[NO_SESSION_PREFIXES] = tuple(
            rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
            if getattr(app.view_functions.get(rule.endpoint), NO_SESSION, False))
    if not request.path.startswith(prefixes):
        return False
    try:
        endpoint, _ = app.create_url_adapter(request).match()  # type: ignore[union-attr]
    except (HTTPException, RoutingException):
        return False
    return bool(getattr(app.view_functions.get(endpoint), NO_SESSION, False))


def new_sid() -> str:
    return secrets.token_urlsafe(32)


class StoredSession(ServerSideSession):
    """A visitor's session. ``stored`` says whether a record exists under
    ``sid``; ``cookie`` is the id the browser sent, if any; ``ended`` that its
    record was deleted by another request while this one ran."""

    def __init__(self, initial: dict[str, Any] | None = None, sid: str | None = None,
                 stored: bool = False, cookie: str | None = None,
                 base: bytes | None = None) -> None:
        super().__init__(initial, sid=sid)
        self.stored = stored
        self.cookie = cookie
        self.ended = False
        self.csrf_used = False
        #: The sealed record this request read (or last wrote): what its own
        #: changes are measured against when it writes.
        self.base = base

    def __getitem__(self, key: str) -> Any:
        if key == CSRF_KEY:  # a form's token is on the page: the id must reach the browser
            self.csrf_used = True
        return super().__getitem__(key)


class ServerSessions(SessionInterface):
    """Sessions sealed (:class:`Sealer`) in a :class:`SessionStore`.

    Also the store guard and the health bypass: a store that fails on open or
    save becomes the catalogue's ``session_store_down`` page (logged, and
    tried again on the next request) instead of a bare 500 or a response
    whose promise was not kept, and ``null_session_paths`` (``/healthz`` and
    ``/readyz``, which a load balancer calls every few seconds) and the static
    files get a null session, so they neither read nor write the store (nor
    decrypt a record) nor set or remove a cookie.
    """

    session_class = StoredSession

    def __init__(self, store: SessionStore, sealer: Sealer, key_prefix: str,
                 idle_timeout: int, csrf_secret: str,
                 null_session_paths: Iterable[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.null_session_paths = frozenset(null_session_paths)
        self.sealer = sealer
        self.key_prefix = key_prefix
        self.idle_timeout = idle_timeout
        self._csrf_key = hashlib.sha256(b"fedlab csrf\0" + csrf_secret.encode()).digest()
        self._static_prefix: tuple[str, ...] | None = None

    # -- records -------------------------------------------------------------

    def store_id(self, sid: str) -> str:
        return self.key_prefix + sid

    def read(self, sid: str) -> dict[str, Any] | None:
        """The stored session ``sid``, opened; None when absent or not ours."""
        store_id = self.store_id(sid)
        return open_record(self.sealer, self.store.read(store_id), store_id)

    def lifetime(self, data: dict[str, Any]) -> int:
        return self.idle_timeout if lasting(data) else BRIEF_LIFETIME

    def write(self, session: StoredSession) -> bool:
        """Store what ``session`` holds now: rewrite its record if it has one (and
        it still exists), else create one under a new id. False when there was
        nothing to write to: the session ended meanwhile (and then it never
        comes back, not even under a new id)."""
        if session.ended:
            return False
        if session.stored:
            store_id = self.store_id(session.sid)
            stored = self.read(session.sid)
            if stored is not None:
                base = open_record(self.sealer, session.base, store_id) or {}
                data = own_changes_on(stored, base, self.record_of(session))
                if "auth" in data:  # only a sign-in has tokens a refresh may have renewed
                    keep_newer_tokens(data, stored)
                record = self.sealer.seal(data, store_id)
                if self.store.update(store_id, record, self.lifetime(data)):
                    session.base = record
                    return True
            session.stored, session.ended = False, True
            return False
        if session.sid == session.cookie:
            # The browser's id never gets a record (it may be planted, or ended);
            # the forms it already has keep working: their CSRF secret moves along
            # (a page opened before, then its button pressed again). Whoever
            # planted the id knows those forms' tokens too, until sign-in gives
            # a new id and secret: the actions of an anonymous visitor only.
            self.move(session, new_sid(), keep_csrf=True)
        if "started_at" not in session:
            # Every session's timeouts start with its record, a guest's too: a sign-in
            # sets its own clock (webapp.sessions.start); any other session would
            # otherwise live as long as requests kept rewriting it.
            started = int(self.clock())
            dict.update(session, started_at=started, last_seen=started)
        while True:
            data, store_id = self.record_of(session), self.store_id(session.sid)
            record = self.sealer.seal(data, store_id)
            if self.store.create(store_id, record, self.lifetime(data)):
                session.stored, session.base = True, record
                return True
            # Taken: with 256 random bits, never in practice.
            self.move(session, new_sid(), keep_csrf=True)

    def record_of(self, session: StoredSession) -> dict[str, Any]:
        """What is stored of ``session``: not Flask's flag, nor a CSRF secret that
        is derived from the id anyway."""
        data = {k: v for k, v in session.items() if k != "_permanent"}
        if data.get(CSRF_KEY) == self.csrf_value(session.sid):
            del data[CSRF_KEY]
        return data

    def rotate(self, session: StoredSession) -> None:
        """Delete this session's record now, and go on empty under a new id
        (with a new CSRF secret: no form from before works)."""
        if session.stored:
            self.store.delete(self.store_id(session.sid))
        session.stored = session.ended = False
        session.clear()
        self.move(session, new_sid())
        session.modified = True

    def move(self, session: StoredSession, sid: str, keep_csrf: bool = False) -> None:
        """Give ``session`` another id and, unless told to keep it, the CSRF
        secret that goes with that id."""
        session.sid = sid
        if not keep_csrf:
            dict.__setitem__(session, CSRF_KEY, self.csrf_value(sid))
            g.pop(CSRF_KEY, None)  # Flask-WTF's signed token of this request, for the old id

    def csrf_value(self, sid: str) -> str:
        """The session's CSRF secret, derived from its id: never stored, so a form
        for an anonymous visitor costs no record. Flask-WTF signs it into each
        form's token and compares it on POST, as it would a stored one."""
        return hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).hexdigest()

    def static_prefix(self, app: Flask) -> tuple[str, ...]:
        """Where the app's static files are (a page's stylesheet and scripts), which
        use no session: one store read and decryption each. Worked out once: Flask
        derives it from the folder on every call."""
        prefix = self._static_prefix
        if prefix is None:
            path = app.static_url_path if app.has_static_folder else None
            prefix = self._static_prefix = (f"{path}/",) if path else ()
        return prefix

    # -- Flask's SessionInterface ----------------------------------------------

    def open_session(self, app: Flask, request: Request) -> StoredSession | None:
        if (request.path in self.null_session_paths or request.path.startswith(
                self.static_prefix(app)) or opens_no_session(app, request)):
            return self.make_null_session(app)  # type: ignore[return-value]
        cookie = request.cookies.get(self.get_cookie_name(app))
        sid = cookie if cookie and SID.fullmatch(cookie) else None
        data = record = None
        if sid is not None:
            store_id = self.store_id(sid)
            try:
                record = self.store.read_to_open(store_id)
            except STORE_ERRORS as e:
                store_unavailable("on open", e)
                return self.make_null_session(app)  # type: ignore[return-value]
            data = open_record(self.sealer, record, store_id)
        # An id without a record stays this browser's while nothing is stored;
        # the first record gets a new id.
        session = StoredSession(data, sid=sid or new_sid(), stored=data is not None,
                                cookie=cookie, base=record if data is not None else None)
        if CSRF_KEY not in session:
            dict.__setitem__(session, CSRF_KEY, self.csrf_value(session.sid))
        return session

    def save_session(self, app: Flask, session: StoredSession,  # type: ignore[override]
                     response: Response) -> None:
        if g.get("session_store_down"):
            return
        try:
            self._save(app, session, response)
        except STORE_ERRORS as e:
            # What this response promised (a pending sign-in, a new session) was
            # not kept: replace it by the error page rather than let it mislead.
            store_unavailable("on save", e)
            body, status = store_down_page(e)
            response.set_data(body)
            response.status_code = status
            response.mimetype = "text/html"
            for header in ("Location", "Set-Cookie"):
                response.headers.pop(header, None)

    def _save(self, app: Flask, session: StoredSession, response: Response) -> None:
        if session.accessed:
            if "Vary" in response.headers:
                response.vary.add("Cookie")
            else:  # the usual case, without parsing and writing back a header
                response.headers["Vary"] = "Cookie"
        dropped = session.sid != session.cookie  # the browser's id is no longer this session's
        if session.modified:
            # A session's clock alone is no reason to keep it (nothing else left in it).
            if kept_keys(session):
                if not self.write(session):
                    # Ended by another request (a sign-out in another tab). Its
                    # cookie is left alone: the browser may hold a newer session
                    # under it by now (a sign-in in that tab), and a dead id is
                    # harmless.
                    log.info("the session ended while this request ran; not written back")
            elif session.stored:
                self.store.delete(self.store_id(session.sid))  # emptied: nothing to keep
                session.stored, dropped = False, True
        name, domain, path = (self.get_cookie_name(app), self.get_cookie_domain(app),
                              self.get_cookie_path(app))
        if session.stored or session.csrf_used:
            if session.sid != session.cookie:
                response.set_cookie(name, session.sid, httponly=self.get_cookie_httponly(app),
                                    domain=domain, path=path,
                                    secure=self.get_cookie_secure(app),
                                    samesite=self.get_cookie_samesite(app))
                response.vary.add("Cookie")
        elif session.cookie and dropped:
            response.delete_cookie(name, domain=domain, path=path,
                                   secure=self.get_cookie_secure(app),
                                   samesite=self.get_cookie_samesite(app))
            response.vary.add("Cookie")


def own_changes_on(stored: dict[str, Any], base: dict[str, Any],
                   mine: dict[str, Any]) -> dict[str, Any]:
    """The record to write: the store's as it is now, with this request's own
    changes (each top-level key it set, changed or removed since ``base``, what
    it read) on top. A request writes when it ends, and others may have written
    meanwhile: the keys it did not touch keep their newer values (a guest offer
    answered in another tab stays answered), where writing the whole session
    back would undo them."""
    merged = dict(stored)
    for key, value in mine.items():
        if key not in base or base[key] != value:
            merged[key] = value
    for key in base.keys() - mine.keys():
        merged.pop(key, None)
    return merged
