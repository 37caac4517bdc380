"""The application factory: no side effects, per-app state, templates found."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from webapp import create_app
from webapp.config import ConfigError
from webapp.oauth import EXTENSION

ROOT = Path(__file__).resolve().parent.parent


def test_missing_secret_key_stops_the_app(tmp_path, monkeypatch):
    monkeypatch.delenv("FEDLAB_SECRET_KEY", raising=False)
    path = tmp_path / "c.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match="secret_key"):
        create_app({"config_file": str(path)})


def test_a_bad_provider_table_stops_the_app_naming_the_key(config_dir, tmp_path):
    from .conftest import make_app

    with pytest.raises(ConfigError, match=r"providers\.google\.domain: not a key of kind"):
        make_app(config_dir, tmp_path, providers={"google": {"domain": "x"}})


def test_the_production_factory_refuses_lab_settings(config_dir, tmp_path):
    """The refusals run in the factory itself (as the gunicorn workers build the
    app), on the settings and on the providers built from them."""
    demo = {"config_file": str(config_dir / "demo.toml"),
            "secrets_file": str(config_dir / "secrets.toml")}
    with pytest.raises(ConfigError, match=r"^standins: a \[standins\] table"):
        create_app(demo, production=True)
    with pytest.raises(ConfigError, match=r"^external_url: missing"):
        create_app({**demo, "allow_lab": True}, production=True)
    site = tmp_path / "site.toml"
    site.write_text('external_url = "https://fedlab.example.com"\n'
                    '[providers.corp]\nkind = "oidc"\nclient_id = "a"\n'
                    'issuer = "http://login.example.com"\n')
    secrets = {"secret_key": "k" * 20 + "ABCDEFGHIJKLMNOPQRST",
               "session": {"encryption_key": "e" * 20 + "abcdefghijklmnopqrst"},
               "providers": {"corp": {"client_secret": "s"}}}
    with pytest.raises(ConfigError, match=r"^providers\.corp\.issuer: http://login\.example"
                                          r"\.com is not https://"):
        create_app({"config_file": str(site), **secrets}, production=True)


def test_each_app_has_its_own_oauth_registry(live_app, config_dir, tmp_path):
    from .conftest import make_app

    other = make_app(config_dir, tmp_path, providers={"google": {"client_id": "other-id"}})
    mine, theirs = live_app.extensions[EXTENSION][0], other.extensions[EXTENSION][0]
    assert mine is not theirs
    with live_app.app_context():
        assert mine.create_client("google").client_id != "other-id"
    with other.app_context():
        assert theirs.create_client("google").client_id == "other-id"


def test_create_app_makes_no_network_calls(config_dir, tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network used at start-up")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    from .conftest import make_app

    make_app(config_dir, tmp_path)


def test_base_template_renders(live_app):
    response = live_app.test_client().get("/")
    assert response.status_code == 200
    assert b"<title>Home" in response.data
    assert b"/static/style.css" in response.data


@pytest.mark.slow
def test_an_installed_copy_finds_templates_and_static(tmp_path):
    """A plain ``pip install .`` (a wheel, not the checkout) still renders base.html."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=True, system_site_packages=False)
    python = target / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    # The installed package alone, with this environment's dependencies beside it.
    site = subprocess.run([sys.executable, "-c", "import flask, os; "
                           "print(os.path.dirname(os.path.dirname(flask.__file__)))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    script = (
        "import webapp, pathlib; from webapp import create_app;"
        "app = create_app({'config_file': '', 'secret_key': 'x'*40, 'providers': {},"
        "'session': {'encryption_key': 'e'*40}});"
        "assert 'site-packages' in webapp.__file__, webapp.__file__;"
        "body = app.test_client().get('/').data;"
        "assert b'<title>Home' in body, body[:200];"
        "assert app.test_client().get('/static/style.css').status_code == 200;"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": site}
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr
    # The package has no stand-ins: `fedlab demo` says where the demo lives, no traceback.
    demo = subprocess.run([str(python), "-c", "import sys; from webapp.cli import main; "
                           "sys.exit(main(['demo', '--port', '1']))"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=60)
    assert demo.returncode == 2, demo.stderr
    assert "make demo" in demo.stderr and "Traceback" not in demo.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_app_and_no_stand_in(tmp_path):
    """``pip wheel .`` builds the production package: the app, its templates and
    static files; the stand-ins are a development tool and stay out of it."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = tmp_path.glob("federation_lab-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "webapp/__init__.py" in names and "webapp/templates/base.html" in names
    stand_ins = [n for n in names if n.startswith("standins/") or "/standins/" in n
                 or n.startswith(("tests/", "bench/"))]
    assert stand_ins == [], stand_ins[:5]
