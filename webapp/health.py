"""``/healthz`` (the process answers) and ``/readyz`` (the session store answers).

For load balancers and orchestrators, which call them every few seconds: no
session is opened for them (a probe that sends a cookie does not make the
store read it: the session interface gives :data:`PATHS` a null session),
none is saved, no cookie is set, and ``/healthz`` makes no outbound call at all.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from . import config

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
PATHS = ("/healthz", "/readyz")
#: Seconds a readiness check may wait for Redis.
REDIS_TIMEOUT = 1.0


@bp.get("/healthz")
def healthz() -> Response:
    return _answer(200, status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    settings = config.settings().session
    reason = redis_unready(current_app) if settings.type == "redis" else \
        folder_unready(settings.dir)
    if reason:
        log.warning("not ready: %s", reason)
        return _answer(503, status="unavailable", reason=reason)
    return _answer(200, status="ok", session_store=settings.type)


def _answer(code: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


def redis_unready(app: Flask) -> str | None:
    from redis.exceptions import RedisError

    client = app.extensions["fedlab_readyz_redis"]
    try:
        client.ping()
    except RedisError as e:
        return f"session store (redis) unreachable: {type(e).__name__}"
    return None


def folder_unready(folder: str) -> str | None:
    """Can a session file be written? A real write, which catches a full or
    read-only disk too; the file store (:mod:`webapp.session_files`) never looks
    at the folder's top level, where this one is made and removed."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
            pass
    except OSError as e:
        return (f"session store (the file store, session.type = \"files\") folder "
                f"not writable: {type(e).__name__}")
    return None


@bp.record_once
def _setup(state: Any) -> None:
    app = state.app
    settings = config.settings(app).session
    if settings.type == "redis":
        import redis

        app.extensions["fedlab_readyz_redis"] = redis.Redis.from_url(
            settings.redis_url, socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT)
