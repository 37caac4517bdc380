"""/healthz and /readyz: no session opened or saved, no cookie, the store's state in JSON."""

from __future__ import annotations

import logging
import os

import pytest

from webapp.config import settings

from .conftest import make_app

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_is_ok_without_a_cookie(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_neither_read_nor_write_the_session_store(config_dir, tmp_path, caplog, path):
    app = make_app(config_dir, tmp_path)
    folder = tmp_path / "sessions"
    client = app.test_client()
    client.get("/auth/google/login")  # a real session in the store, and its cookie
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is not None
    [record] = [p for p in folder.rglob("*") if p.is_file()]
    # Spoil the record, keeping its times: any read of it now logs a WARNING.
    times = record.stat()
    record.write_bytes(b"spoilt")
    os.utime(record, ns=(times.st_atime_ns, times.st_mtime_ns))
    before = files_and_times(folder)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            response = client.get(path)
            assert response.status_code == 200
            assert "Set-Cookie" not in response.headers
    assert files_and_times(folder) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # The trap works: a page that opens the session reads the spoilt record.
    with caplog.at_level(logging.WARNING):
        client.get("/")
    assert "did not decrypt" in caplog.text


def files_and_times(folder) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes())
            for p in folder.rglob("*") if p.is_file()}


def test_readyz_is_ok_when_the_session_folder_is_writable(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "session_store": "files"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_503_when_the_session_folder_is_gone(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, session={"dir": str(tmp_path / "sessions")})
    (tmp_path / "sessions").rename(tmp_path / "moved")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and 'session.type = "files"' in body["reason"]
    assert "Set-Cookie" not in response.headers
    # Liveness is not readiness: the process still answers.
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_pings_redis(config_dir, tmp_path, redis_url):
    import redis

    app = make_app(config_dir, tmp_path, session={"type": "redis", "redis_url": redis_url})
    store = redis.Redis.from_url(redis_url)
    prefix = settings(app).session.key_prefix
    before = set(store.scan_iter(f"{prefix}*"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "session_store": "redis"}
    assert "Set-Cookie" not in response.headers
    assert set(store.scan_iter(f"{prefix}*")) == before


def test_readyz_is_503_and_healthz_200_when_redis_is_down(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path,
                   session={"type": "redis", "redis_url": UNREACHABLE_REDIS})
    client = app.test_client()
    cookie = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}=some-session-id"}
    ready = client.get("/readyz", headers=cookie)
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "unavailable"
    assert "redis" in ready.get_json()["reason"]
    assert "Set-Cookie" not in ready.headers
    # A cookie on /healthz does not make the app open the (dead) session store.
    alive = client.get("/healthz", headers=cookie)
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}


def test_healthz_makes_no_outbound_connection(config_dir, tmp_path, redis_url, monkeypatch):
    """Not to Redis, a provider or AWS, even with a session cookie: every
    connection attempt in the process fails, and /healthz still answers."""
    import socket

    app = make_app(config_dir, tmp_path, session={"type": "redis", "redis_url": redis_url})
    client = app.test_client()
    cookie = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}=some-session-id"}
    attempts: list[object] = []

    def refuse(sock, address):
        attempts.append(address)
        raise ConnectionRefusedError("no outbound connection from /healthz")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    for _ in range(3):
        alive = client.get("/healthz", headers=cookie)
        assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    assert attempts == []
    # The trap works: /readyz, which does ping Redis, is caught by it.
    assert client.get("/readyz").status_code == 503
    assert attempts
