"""``fedlab serve``: gunicorn with deploy/gunicorn.conf.py, run for real and signed in through."""

from __future__ import annotations

import importlib.util
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from webapp import cli

from .browser import Browser
from .conftest import ROOT, free_port, require
from .flows import sign_in
from .test_probes import CLIENT_IDS

CONF = ROOT / "deploy" / "gunicorn.conf.py"


def load_conf(monkeypatch, **environ: str) -> dict:
    for name in ("FEDLAB_BIND", "FEDLAB_WORKERS", "FEDLAB_THREADS", "FEDLAB_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_the_config_file_reads_the_environment(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["bind"] == "0.0.0.0:8000"
    assert 3 <= conf["workers"] <= conf["MAX_WORKERS"]
    assert conf["threads"] >= 1 and conf["timeout"] > conf["graceful_timeout"] > 0
    conf = load_conf(monkeypatch, FEDLAB_BIND="127.0.0.1:9999", FEDLAB_WORKERS="3")
    assert conf["bind"] == "127.0.0.1:9999" and conf["workers"] == 3


def test_the_access_log_never_has_query_strings_referrers_or_headers(monkeypatch):
    conf = load_conf(monkeypatch)
    fmt = conf["access_log_format"]
    assert "%(U)s" in fmt
    # r: the request line, q: the query, f: the Referer, {...}i/o/e: headers and environ.
    for atom in ("%(r)s", "%(q)s", "%(f)s", "}i)s", "}o)s", "}e)s"):
        assert atom not in fmt
    # X-Forwarded-* are for the app's ProxyFix (trusted_proxies), not gunicorn.
    assert conf["forwarded_allow_ips"] == "" and conf["secure_scheme_headers"] == {}


def test_gunicorn_accepts_every_setting_of_the_config_file(monkeypatch):
    require(importlib.util.find_spec("gunicorn") is not None, "gunicorn is not installed")
    from gunicorn.config import Config

    cfg = Config()
    applied = []
    for name, value in load_conf(monkeypatch).items():
        if name in cfg.settings:
            cfg.set(name, value)  # gunicorn's own validators
            applied.append(name)
    assert {"bind", "workers", "threads", "timeout", "graceful_timeout", "keepalive",
            "access_log_format", "forwarded_allow_ips"} <= set(applied)
    assert cfg.worker_class_str == "gthread" and cfg.forwarded_allow_ips == []


def test_the_command_line_is_gunicorn_with_the_factory():
    command = cli.serve_command("127.0.0.1:8001", 2, None)
    assert command[:3] == [sys.executable, "-m", "gunicorn"]
    assert command[3:5] == ["-c", str(CONF)]
    assert command[-1] == "webapp:create_app()"
    assert command[5:9] == ["--bind", "127.0.0.1:8001", "--workers", "2"]
    assert cli.serve_command(None, None, "/etc/g.py") == [
        sys.executable, "-m", "gunicorn", "-c", "/etc/g.py", "webapp:create_app()"]


def test_a_missing_config_file_is_refused(capsys):
    assert cli.main(["serve", "--config", "/nonexistent/gunicorn.py"]) == 2
    assert "--config" in capsys.readouterr().err


def test_a_configuration_error_stops_serve_before_gunicorn(monkeypatch, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('secret_key = "short"\n')
    monkeypatch.setenv("FEDLAB_CONFIG", str(bad))
    monkeypatch.delenv("FEDLAB_SECRET_KEY", raising=False)
    assert cli.main(["serve"]) == 2
    assert "secret_key" in capsys.readouterr().err


@pytest.fixture
def served(config_dir, tmp_path: Path, app):
    """``fedlab serve`` on a free loopback port, with the suite's stand-ins."""
    require(importlib.util.find_spec("gunicorn") is not None, "gunicorn is not installed")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("FEDLAB_")}
    env.update(FEDLAB_CONFIG=str(config_dir / "demo.toml"),
               FEDLAB_SECRETS_FILE=str(config_dir / "secrets.toml"),
               FEDLAB_SESSION__DIR=str(tmp_path / "sessions"))
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"fedlab serve exited: {Path(log.name).read_text()}"
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or the workers still booting (a read timeout)
            assert time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)
        yield url, Path(log.name)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_fedlab_serve_serves_a_whole_sign_in(served, control):
    url, log = served
    # The stand-in Google knows the suite's origin; register this server's too.
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=[f"{url}/auth/google/callback"])
    health = requests.get(f"{url}/healthz", timeout=5)
    assert health.json() == {"status": "ok"} and "Set-Cookie" not in health.headers
    assert health.headers["Server"].startswith("gunicorn")
    ready = requests.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200 and "Set-Cookie" not in ready.headers
    browser = Browser()
    page = sign_in(browser, url, "google")
    assert page.url == f"{url}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text and "alice@example.com" in page.text
    assert "Content-Security-Policy" in page.headers
    assert page.headers["Cache-Control"] == "no-store"
    # Another worker, the same session (the store is shared): still signed in.
    for _ in range(4):
        assert 'data-state="signed_in"' in browser.get(f"{url}/account").text
    time.sleep(0.5)  # the access log is written after the response
    text = log.read_text()
    assert "GET /auth/google/callback HTTP/1.1" in text
    assert "code=" not in text and "state=" not in text
    # The stand-ins are never started by serve.
    assert "stand-in" not in text.lower()
