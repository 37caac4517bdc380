"""``fedlab serve``: gunicorn with deploy/gunicorn.conf.py, run for real and signed in through."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import runpy
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from webapp import cli

from .browser import Browser
from .conftest import ROOT, free_port, make_app, require
from .flows import sign_in
from .test_guards import oversize_upload_request, read_answer
from .test_probes import CLIENT_IDS
from .test_sessions import secrets_of, session_cookie

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
    assert command[-1] == "webapp:create_production_app()"
    assert command[5:9] == ["--bind", "127.0.0.1:8001", "--workers", "2"]
    assert cli.serve_command(None, None, "/etc/g.py") == [
        sys.executable, "-m", "gunicorn", "-c", "/etc/g.py", "webapp:create_production_app()"]


def test_the_documented_command_lines_are_what_serve_runs():
    """README's "the same, by hand" and the gunicorn config's docstring name the
    app factory serve runs: create_app() there would skip the production checks."""
    factory = cli.serve_command(None, None, None)[-1]
    readme = (ROOT / "README.md").read_text()
    (by_hand,) = [line for line in readme.splitlines() if "the same, by hand" in line]
    documented = [(by_hand.split("#")[0], "README.md")]
    documented += [(line, "deploy/gunicorn.conf.py") for line in CONF.read_text().splitlines()
                   if line.strip().startswith("gunicorn ")]
    assert len(documented) == 2
    for line, where in documented:
        assert shlex.split(line) == ["gunicorn", "-c", "deploy/gunicorn.conf.py", factory], where
    for path in (ROOT / "README.md", CONF, ROOT / "Dockerfile"):
        assert '"webapp:create_app()"' not in path.read_text(), path


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


#: What the lab opt-in lets ``fedlab serve`` run with: the demo's stand-ins on
#: loopback, over plain http, and its secrets file; the site opened at 127.0.0.1.
#: Production serves the site itself over https only (external_url), so this
#: gunicorn ends TLS, with a certificate made for the test (:func:`tls`).
LAB = {"FEDLAB_ALLOW_LAB": "1", "FEDLAB_TRUSTED_HOSTS": "127.0.0.1"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[Path, Path]:
    """(certificate, gunicorn config file): a self-signed certificate for
    127.0.0.1, and deploy/gunicorn.conf.py plus that certificate and its key,
    so ``fedlab serve --config`` is the production gunicorn ending TLS itself."""
    from datetime import UTC, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    conf = folder / "gunicorn-tls.conf.py"
    conf.write_text(f"exec(compile(open({str(CONF)!r}).read(), {str(CONF)!r}, 'exec'))\n"
                    f"certfile = {str(cert_file)!r}\nkeyfile = {str(key_file)!r}\n")
    return cert_file, conf


def tls_browser() -> Browser:
    """A browser that trusts the test's certificate (:func:`tls`)."""
    browser = Browser()
    # Not the environment's CA bundle (REQUESTS_CA_BUNDLE wins over verify otherwise).
    browser.http.trust_env = False
    browser.http.verify = CA["file"]
    return browser


@contextmanager
def connect(url: str, timeout: float = 20) -> Iterator[socket.socket]:
    """A socket to ``url``'s server, in TLS for https:// (trusting the test's
    certificate, :func:`tls`)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        if parts.scheme != "https":
            yield sock
            return
        context = ssl.create_default_context(cafile=CA.get("file"))
        with context.wrap_socket(sock, server_hostname=parts.hostname) as wrapped:
            yield wrapped


#: The test certificate, for :func:`connect` (set by the ``serve`` fixture).
CA: dict[str, str] = {}


def raw_request(url: str, head: str, body: bytes = b"") -> tuple[int, str]:
    """test_guards.raw_request, over TLS for an https:// site."""
    with connect(url) as sock:
        sock.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
        answer = read_answer(sock)
    return int(answer.split(" ", 2)[1]), answer


@pytest.fixture
def serve(config_dir, tmp_path: Path, app, tls):
    """Start ``fedlab serve`` on a free loopback port: ``serve(**environ)`` gives
    (url, log of its stdout and stderr). The environment holds no other FEDLAB_*
    variable; by default it is the demo's configuration with the suite's stand-ins,
    served over https at 127.0.0.1 (its external_url)."""
    require(importlib.util.find_spec("gunicorn") is not None, "gunicorn is not installed")
    started: list[tuple[subprocess.Popen, object]] = []
    ca, tls_conf = tls
    CA["file"] = str(ca)

    def start(**environ: str) -> tuple[str, Path]:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDLAB_")}
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "webapp.cli", "serve", "--bind", f"127.0.0.1:{port}",
                   "--workers", "2"]
        if not environ:
            url = f"https://127.0.0.1:{port}"
            command += ["--config", str(tls_conf)]
            environ = {**LAB, "FEDLAB_CONFIG": str(config_dir / "demo.toml"),
                       "FEDLAB_SECRETS_FILE": str(config_dir / "secrets.toml"),
                       "FEDLAB_EXTERNAL_URL": url}
        env.update(environ)
        env.setdefault("FEDLAB_SESSION__DIR", str(tmp_path / "sessions"))
        log = (tmp_path / f"gunicorn-{port}.log").open("w+")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        started.append((process, log))
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"fedlab serve exited: {Path(log.name).read_text()}"
            try:
                if requests.get(f"{url}/healthz", timeout=2,
                                verify=str(ca)).status_code == 200:
                    return url, Path(log.name)
            except requests.RequestException:
                pass  # not listening yet, or the workers still booting (a read timeout)
            assert time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)

    yield start
    for process, log in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()  # type: ignore[attr-defined]


@pytest.fixture
def served(serve) -> tuple[str, Path]:
    """``fedlab serve`` on the demo's configuration, with the lab opt-in."""
    return serve()


def test_fedlab_serve_serves_a_whole_sign_in(served, control):
    url, log = served
    # The stand-in Google knows the suite's origin; register this server's too.
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=[f"{url}/auth/google/callback"])
    health = requests.get(f"{url}/healthz", timeout=5, verify=CA["file"])
    assert health.json() == {"status": "ok"} and "Set-Cookie" not in health.headers
    assert health.headers["Server"].startswith("gunicorn")
    ready = requests.get(f"{url}/readyz", timeout=5, verify=CA["file"])
    assert ready.status_code == 200 and "Set-Cookie" not in ready.headers
    browser = tls_browser()
    page = sign_in(browser, url, "google")
    assert page.url == f"{url}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text and "alice@example.com" in page.text
    # external_url is https: the cookie is __Host- and Secure, and HSTS is on.
    assert session_cookie(browser).name == "__Host-fedlab" and session_cookie(browser).secure
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    # URLs come from external_url, never from the Host a client sends.
    port = urlsplit(url).port
    status, answer = raw_request(url, "GET /auth/google/login HTTP/1.1\r\nHost: 127.0.0.1:6666")
    assert status == 302 and "6666" not in answer, answer[:500]
    assert f"redirect_uri=https%3A%2F%2F127.0.0.1%3A{port}%2Fauth%2Fgoogle%2Fcallback" in answer
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


def test_a_large_body_is_refused_before_it_is_sent(served, control, aws_control):
    """8 MiB announced, 64 KiB sent: the 413 arrives while the rest is still
    unsent, so gunicorn's worker never read (or spooled) the body."""
    url, _ = served
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=[f"{url}/auth/google/callback"])
    browser = tls_browser()
    assert sign_in(browser, url, "google").url == f"{url}/account"
    listing = browser.get(f"{url}/storage/public")
    upload_csrf = re.search(r'data-csrf="([^"]+)"', listing.text).group(1)
    form_csrf = browser.csrf(browser.get(f"{url}/account"))
    host = urlsplit(url).netloc
    cookie = f"{session_cookie(browser).name}={session_cookie(browser).value}"
    announced, sent = 8 * 1024 * 1024, 64 * 1024

    json_head = (f"POST /storage/public/upload HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                 f"X-CSRFToken: {upload_csrf}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {announced}")
    status, answer = partial_request(url, json_head, b"[" + b"1," * (sent // 2))
    assert status == 413 and "The request was too large" in answer, answer[:500]

    boundary = "fedlab-boundary"
    first = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
             f"{form_csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; "
             f"filename=\"big\"\r\n\r\n").encode() + b"x" * sent
    form_head = (f"POST /auth/signout HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                 f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                 f"Content-Length: {announced}")
    status, answer = partial_request(url, form_head, first)
    assert status == 413 and "The request was too large" in answer, answer[:500]
    assert "Traceback" not in answer
    # Nothing was signed out: the refused request never reached the view.
    assert 'data-state="signed_in"' in browser.get(f"{url}/account").text


def test_a_chunked_body_is_refused_under_gunicorn(served, control, aws_control):
    """gunicorn decodes the chunks and gives the app no length: it gets the 411
    page, not an upload granted on the first 32 KiB."""
    url, _ = served
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=[f"{url}/auth/google/callback"])
    browser = tls_browser()
    assert sign_in(browser, url, "google").url == f"{url}/account"
    head, body = oversize_upload_request(url, browser)
    status, answer = raw_request(url, head, body)
    assert status == 411 and "The request did not say how large it was" in answer, answer[:500]
    assert '"fields"' not in answer and "Traceback" not in answer


def partial_request(url: str, head: str, first: bytes) -> tuple[int, str]:
    """Send the headers and only the first bytes of the announced body, then
    wait for an answer; an app that reads the whole body never answers."""
    with connect(url) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + first)
        try:
            answer = read_answer(sock)
        except TimeoutError:
            pytest.fail("no answer while most of the body was unsent: the app waits to read it")
    assert answer, "the connection closed without an answer"
    return int(answer.split(" ", 2)[1]), answer


def test_gunicorn_bounds_the_request_headers(served):
    url, _ = served
    host = urlsplit(url).netloc
    extra = "\r\n".join(f"X-Extra-{i}: {i}" for i in range(60))
    status, _ = raw_request(url, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n{extra}")
    assert status == 431  # Request Header Fields Too Large
    status, _ = raw_request(url, f"GET /healthz HTTP/1.1\r\nHost: {host}")
    assert status == 200


def test_each_auth_event_is_one_json_line_on_stderr(served, config_dir, tmp_path, control,
                                                    aws_control):
    """Under ``fedlab serve``: sign-in failure, sign-in, refresh, refresh failure,
    credentials, an upload and sign-out each write one JSON line with the time,
    the provider, issuer and subject, the client address and the request id
    the response carried; nothing the site keeps secret reaches stderr."""
    url, log = served
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=[f"{url}/auth/google/callback"])
    browser = tls_browser()
    request_ids: set[str] = set()
    browser.http.hooks["response"].append(
        lambda response, **_: request_ids.add(response.headers.get("X-Request-ID", "")))
    reader = make_app(config_dir, tmp_path)  # the same secrets and session folder
    seen: set[str] = set()

    control("POST", "faults", tenant="google", fault="down")
    assert browser.get(f"{url}/auth/google/login").status_code == 502
    control("DELETE", "faults")
    page = sign_in(browser, url, "google")
    assert page.url == f"{url}/account"
    sid = session_cookie(browser).value
    seen |= secrets_of(reader, sid)
    csrf = {"csrf_token": browser.csrf(page)}
    # Over https the CSRF check wants the same-origin Referer a browser sends.
    from_account = {"Referer": f"{url}/account"}
    assert browser.post(f"{url}/auth/refresh", data=csrf,
                        headers=from_account).status_code == 200
    seen |= secrets_of(reader, sid)
    control("POST", "faults", tenant="google", fault="error_500", endpoint="token")
    assert browser.post(f"{url}/auth/refresh", data=csrf,
                        headers=from_account).status_code == 502
    control("DELETE", "faults")
    assert browser.get(f"{url}/credentials").status_code == 200
    seen |= secrets_of(reader, sid)
    listing = browser.get(f"{url}/storage/private")
    upload_csrf = re.search(r'data-csrf="([^"]+)"', listing.text).group(1)
    granted = browser.post(f"{url}/storage/private/upload",
                           json={"name": "notes.txt", "type": "text/plain"},
                           headers={"X-CSRFToken": upload_csrf,
                                    "Referer": f"{url}/storage/private"})
    assert granted.status_code == 200, granted.text
    assert browser.post(f"{url}/auth/signout", data=csrf,
                        headers=from_account).status_code == 200

    time.sleep(0.5)  # the workers' lines reach the file after the responses
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert [line["event"] for line in lines] == [
        "sign-in-failed", "signed-in", "refreshed", "refresh-failed", "credentials-issued",
        "storage-changed", "signed-out"], text
    who = {k: lines[1][k] for k in ("iss", "sub")}
    assert who["iss"] and who["sub"]
    for line in lines:
        assert line["provider"] == "google"
        assert line["client"] == "127.0.0.1"
        assert line["request_id"] in request_ids
        assert datetime.fromisoformat(line["time"]).tzinfo is not None
        if line["event"] != "sign-in-failed":  # nobody is signed in yet then
            assert {k: line[k] for k in who} == who, line
    assert len({line["request_id"] for line in lines}) == len(lines)

    secrets_file = tomllib.loads((config_dir / "secrets.toml").read_text())
    seen |= {secrets_file["secret_key"], secrets_file["session"]["encryption_key"]}
    # Each provider's secret: a client secret, or Apple's private key.
    seen |= {value for entry in secrets_file["providers"].values() for value in entry.values()}
    assert len(seen) >= 10  # tokens, AWS credentials, keys and client secrets
    leaked = [f"{secret[:6]}..." for secret in seen if secret in text]
    assert not leaked, "stderr carries a secret"


def test_a_production_site_answers_at_its_own_host_only(serve, tmp_path):
    """No lab opt-in: real-looking providers, https external_url behind one proxy.
    The health check answers at the instance's address; pages only at the site's."""
    from .test_production import production_env

    url, _ = serve(**production_env(tmp_path, FEDLAB_SESSION__TYPE="cachelib"))
    port = urlsplit(url).port
    proxied = "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9"
    status, answer = raw_request(url, f"GET / HTTP/1.1\r\nHost: fedlab.example.com\r\n{proxied}")
    assert status == 200, answer[:500]
    assert "Strict-Transport-Security: max-age=31536000; includeSubDomains" in answer
    status, answer = raw_request(url, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{proxied}")
    assert status == 400 and "This site does not answer to that address" in answer
    status, _ = raw_request(url, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}")
    assert status == 200
