"""Start, rotate, expire and end a visitor's server-side session.

flask-session keeps the data in a store (cachelib files by default, Redis one
setting away); the cookie holds only a random id, so it stays short however
large the tokens are, and tokens never reach the browser. flask-session never
changes that id by itself: :func:`start` calls ``regenerate`` at sign-in so an
id planted before sign-in (session fixation) is worthless afterwards.
Times are stored as epoch seconds: the msgspec serializer rejects datetimes.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from cachelib import FileSystemCache
from flask import Flask, current_app, g, session

from .extensions import server_session

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
    app.before_request(enforce_timeouts)


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
    """Forget the session; flask-session deletes it from the store on the way out."""
    session.clear()
    session.modified = True


def current_auth() -> dict[str, Any] | None:
    return session.get("auth")
