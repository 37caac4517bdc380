"""Fixtures: the stand-ins and the app, each on a real loopback port, started once.

The app under test reads ``config/demo.toml`` itself, with only the stand-ins'
address, the app's origin, the secrets and the session folder changed, so the
suite exercises the demo's real configuration.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from webapp import create_app
from webapp.demo import standin_settings, write_secrets
from webapp.oauth import EXTENSION

from .browser import Browser

ROOT = Path(__file__).resolve().parent.parent
DEMO_STANDINS = "http://127.0.0.1:9000"
IN_CI = os.environ.get("CI") == "true"
PROVIDERS = ("cognito", "cognito-google", "auth0", "google", "facebook")


def require(condition: bool, reason: str) -> None:
    """Skip locally when a component is missing; under CI that is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason)


class LiveServer:
    """A threaded werkzeug server whose WSGI app can be swapped by a test."""

    def __init__(self, host: str) -> None:
        self.app: Callable[..., Any] | None = None
        self.server = make_server(host, 0, self._dispatch, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[LiveServer, LiveServer]]:
    app_server, standin_server = LiveServer("127.0.0.1"), LiveServer("127.0.0.1")
    yield app_server, standin_server
    app_server.stop()
    standin_server.stop()


@pytest.fixture(scope="session")
def app_url(servers: tuple[LiveServer, LiveServer]) -> str:
    return f"http://localhost:{servers[0].port}"


@pytest.fixture(scope="session")
def standins_url(servers: tuple[LiveServer, LiveServer]) -> str:
    return f"http://127.0.0.1:{servers[1].port}"


@pytest.fixture(scope="session")
def config_dir(tmp_path_factory: pytest.TempPathFactory, standins_url: str, app_url: str) -> Path:
    """demo.toml pointed at this run's ports, and a secrets file for it."""
    folder = tmp_path_factory.mktemp("config")
    for name in ("demo.toml", "oidc.toml"):
        text = (ROOT / "config" / name).read_text()
        text = text.replace(DEMO_STANDINS, standins_url).replace("http://localhost:8000", app_url)
        (folder / name).write_text(text)
    write_secrets(folder / "secrets.toml", (*PROVIDERS, "corp"))
    return folder


def make_app(config_dir: Path, tmp: Path, config_file: str = "demo.toml", **overrides: Any):
    """An app on the demo configuration; ``overrides`` as create_app takes them."""
    settings = {
        "config_file": str(config_dir / config_file),
        "secrets_file": str(config_dir / "secrets.toml"),
        "session": {"dir": str(tmp / "sessions")},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return create_app(settings)


@pytest.fixture(scope="session")
def app(servers, config_dir: Path, tmp_path_factory: pytest.TempPathFactory, standins_url: str,
        app_url: str):
    from webapp.standins import create_standins_app

    app = make_app(config_dir, tmp_path_factory.mktemp("app"))
    settings = standin_settings(app.config["FEDLAB"], [app_url], standins_url)
    # The plain OIDC tenant's client, for config/oidc.toml ("any issuer").
    oidc_app = make_app(config_dir, tmp_path_factory.mktemp("oidc"), "oidc.toml")
    settings["clients"] += standin_settings(oidc_app.config["FEDLAB"], [app_url],
                                            standins_url)["clients"]
    servers[0].app = app
    servers[1].app = create_standins_app(settings)
    return app


@pytest.fixture
def live_app(servers, app):
    """The live server's app; a test may swap in another with ``swap_app``."""
    yield app
    servers[0].app = app


@pytest.fixture
def swap_app(servers, app, config_dir: Path, tmp_path: Path):
    """Serve an app built with other overrides for one test."""
    def swap(**overrides: Any):
        other = make_app(config_dir, tmp_path, **overrides)
        servers[0].app = other
        return other

    yield swap
    servers[0].app = app


@pytest.fixture
def control(app, standins_url: str) -> Iterator[Callable[..., Any]]:
    """Talk to the stand-ins' control API; everything is reset after the test."""
    def call(method: str, path: str, **body: Any) -> Any:
        response = requests.request(method, f"{standins_url}/_control/{path}",
                                    json=body or None, timeout=5)
        response.raise_for_status()
        return response.json() if response.content else None

    caches = app.extensions[EXTENSION][1]
    call("POST", "reset")
    caches.clear()
    yield call
    call("POST", "reset")
    caches.clear()


@pytest.fixture
def browser(app) -> Browser:
    return Browser()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server on loopback: the machine's, else one started for this run."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if redis_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    require(binary is not None, f"no Redis server at {url} and no redis-server to start "
                                f"(apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(50):
            if redis_answers(url):
                break
            time.sleep(0.1)
        require(redis_answers(url), f"redis-server did not start on port {port}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
