"""Start, rotate, expire and end a visitor's server-side session.

flask-session keeps the data in a store (cachelib files by default, Redis one
setting away); the cookie holds only a random id, so it stays short however
large the tokens are, and tokens never reach the browser. flask-session never
changes that id by itself: :func:`start` calls ``regenerate`` at sign-in so an
id planted before sign-in (session fixation) is worthless afterwards.
Times are stored as epoch seconds: the msgspec serializer rejects datetimes.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from cachelib import FileSystemCache
from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SessionInterface, SessionMixin
from redis.exceptions import RedisError

from .errors import FedlabError, render_error
from .extensions import server_session

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
    if settings["type"] == "redis":
        import redis

        app.config["SESSION_REDIS"] = redis.Redis.from_url(
            settings["redis_url"], socket_timeout=2, socket_connect_timeout=2
        )
    else:
        app.config["SESSION_CACHELIB"] = FileSystemCache(
            settings["dir"], threshold=0, default_timeout=settings["idle_timeout"]
        )
    server_session.init_app(app)
    app.session_interface = StoreGuard(app.session_interface)
    app.before_request(refuse_without_store)
    app.before_request(enforce_timeouts)


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
