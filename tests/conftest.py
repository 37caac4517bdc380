"""Fixtures: the stand-ins and the app, each on a real loopback port, started once.

The app under test reads ``config/demo.toml`` itself, with only the stand-ins'
address, the app's origin, the secrets and the session folder changed, so the
suite exercises the demo's real configuration.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from webapp import create_app
from webapp.cli import AWS_KEY_VARIABLES, close_when_sent
from webapp.demo import aws_standin_settings, standin_settings, write_secrets
from webapp.oauth import EXTENSION

from .browser import Browser
from .fronts import KeepAliveFront, start_front

ROOT = Path(__file__).resolve().parent.parent
DEMO_STANDINS = "http://127.0.0.1:9000"
IN_CI = os.environ.get("CI") == "true"
#: The demo's providers, each signed in by every flow parametrised by this. Written
#: out, not read from config/demo.toml, so that what the app offers is compared with
#: what is expected (tests/test_providers.py holds the two to each other).
PROVIDERS = ("cognito", "cognito-google", "cognito-amazon", "cognito-apple", "auth0",
             "google", "facebook", "amazon", "apple")


#: Where moto's request recorder (see MotoRequests) writes, for this run.
_MOTO_RECORDING = Path(tempfile.mkdtemp(prefix="fedlab-moto-")) / "recording.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    # moto reads this when it is first imported (any test's moto, not only this
    # file's); unset, it writes "moto_recording" into the working folder.
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(_MOTO_RECORDING))


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_MOTO_RECORDING.parent, ignore_errors=True)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts itself."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require(condition: bool, reason: str) -> None:
    """Skip locally when a component is missing; under CI that is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason)


class LiveServer:
    """A threaded werkzeug server whose WSGI app can be swapped by a test."""

    def __init__(self, host: str, request_handler: Any = None) -> None:
        self.app: Callable[..., Any] | None = None
        self.server = make_server(host, 0, close_when_sent(self._dispatch), threaded=True,
                                  request_handler=request_handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[LiveServer, ...]]:
    """The app, the provider stand-ins, and the AWS stand-in's Cognito Identity, S3 and
    STS fronts."""
    from standins import StandinRequestHandler
    from standins.requestlog import RequestHandler

    # The provider stand-ins' handler lets each tenant's (skewable) clock set Date;
    # the stand-ins' handlers log query strings without their values, as in the demo.
    started = (LiveServer("127.0.0.1"), LiveServer("127.0.0.1", StandinRequestHandler),
               LiveServer("127.0.0.1", RequestHandler), LiveServer("127.0.0.1", RequestHandler),
               LiveServer("127.0.0.1", RequestHandler))
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from standins.aws import start_moto

    server, url = start_moto("127.0.0.1", 0)
    yield url
    server.stop()


class MotoRequests:
    """The requests moto (STS, IAM, S3) serves, recorded at the wire by moto's own
    recorder: what the app and the Cognito Identity stand-in really sent."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, action: str) -> requests.Response:
        response = requests.request("GET" if action == "download" else "POST",
                                    f"{self.url}/moto-api/recorder/{action}-recording",
                                    timeout=5)
        response.raise_for_status()
        return response

    def start(self) -> None:
        self._call("reset")
        self._call("start")

    def stop(self) -> None:
        self._call("stop")
        self._call("reset")

    def sts(self) -> list[str]:
        """The STS actions served since :meth:`start` (STS's API version is 2011-06-15)."""
        actions = []
        for line in self._call("download").text.splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode(errors="replace")
            fields = dict(p.partition("=")[::2] for p in body.split("&"))
            if fields.get("Version") == "2011-06-15":
                actions.append(fields.get("Action", "?"))
        return actions


@pytest.fixture
def moto_requests(moto_url: str) -> Iterator[MotoRequests]:
    recorder = MotoRequests(moto_url)
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="session")
def aws_urls(servers, moto_url: str) -> dict[str, str]:
    return {"http://127.0.0.1:9100": f"http://127.0.0.1:{servers[2].port}",
            "http://127.0.0.1:9101": f"http://127.0.0.1:{servers[3].port}",
            "http://127.0.0.1:9102": moto_url,
            "http://127.0.0.1:9103": f"http://127.0.0.1:{servers[4].port}"}


@pytest.fixture(scope="session")
def app_url(servers: tuple[LiveServer, LiveServer]) -> str:
    return f"http://localhost:{servers[0].port}"


@pytest.fixture(scope="session")
def standins_url(servers: tuple[LiveServer, LiveServer]) -> str:
    return f"http://127.0.0.1:{servers[1].port}"


@pytest.fixture(scope="session")
def config_dir(tmp_path_factory: pytest.TempPathFactory, standins_url: str, app_url: str,
               aws_urls: dict[str, str]) -> Path:
    """demo.toml pointed at this run's ports, and a secrets file for it."""
    folder = tmp_path_factory.mktemp("config")
    for name in ("demo.toml", "oidc.toml"):
        text = (ROOT / "config" / name).read_text()
        text = text.replace(DEMO_STANDINS, standins_url).replace("http://localhost:8000", app_url)
        for demo_url, url in aws_urls.items():
            text = text.replace(demo_url, url)
        (folder / name).write_text(text)
    tables = tomllib.loads((folder / "demo.toml").read_text())["providers"]
    write_secrets(folder / "secrets.toml", {**tables, "corp": {}})
    return folder


def make_app(config_dir: Path, tmp: Path, config_file: str = "demo.toml", *,
             testing: bool = True, **overrides: Any):
    """An app on the demo configuration; ``overrides`` as create_app takes them.

    In testing mode (flaskr's way) an unexpected exception escapes to the test
    instead of becoming the visitor's error page: a bug fails loudly. A test of
    that page itself asks for ``testing=False``.
    """
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
    app = create_app(settings)
    app.testing = testing
    return app


@pytest.fixture(scope="session")
def app(servers, config_dir: Path, tmp_path_factory: pytest.TempPathFactory, standins_url: str,
        app_url: str, moto_url: str):
    from standins import create_standins_app
    from standins.aws import bootstrap, create_identity_app, create_s3_app, create_sts_app

    # The suite makes many guests in a minute (fuzzing "Continue as guest" among
    # them); tests of the limit itself use an app of their own.
    app = make_app(config_dir, tmp_path_factory.mktemp("app"),
                   aws={"guest_identities_per_minute": 1000})
    standins = standin_settings(app, [app_url], standins_url)
    # The plain OIDC tenant's client, for config/oidc.toml ("any issuer").
    oidc_app = make_app(config_dir, tmp_path_factory.mktemp("oidc"), "oidc.toml")
    standins["clients"] += standin_settings(oidc_app, [app_url], standins_url)["clients"]
    servers[0].app = app
    servers[1].app = create_standins_app(standins)
    aws = aws_standin_settings(app, [app_url])
    site_key = bootstrap(aws, moto_url)
    servers[2].app = identity = create_identity_app(aws, moto_url, [site_key])
    servers[3].app = create_s3_app(aws, moto_url, identity)
    servers[4].app = create_sts_app(aws, moto_url, identity)
    # The site's own AWS identity comes from the environment, as `fedlab demo` gives
    # it (the stand-in's key for the site's IAM user; the machine's keys never).
    saved = {name: os.environ.pop(name, None) for name in AWS_KEY_VARIABLES}
    os.environ["AWS_ACCESS_KEY_ID"] = site_key.access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = site_key.secret_access_key
    yield app
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


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
def graph_front(swap_app, standins_url: str) -> Iterator[KeepAliveFront]:
    """The app with Facebook's Graph API (its token endpoint among it) behind a
    keep-alive front (:mod:`tests.fronts`), which notes each call's connection."""
    front = start_front(standins_url)
    swap_app(providers={"facebook": {"graph_url": f"{front.url}/graph"}})
    yield front
    front.shutdown()
    front.server_close()


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
def aws_control(app, servers) -> Iterator[Callable[..., Any]]:
    """The AWS stand-in's control API: ``aws_control("identity"|"s3", method, path)``."""
    bases = {"identity": f"http://127.0.0.1:{servers[2].port}",
             "s3": f"http://127.0.0.1:{servers[3].port}"}

    def call(service: str, method: str, path: str, **body: Any) -> Any:
        response = requests.request(method, f"{bases[service]}/_control/{path}",
                                    json=body or None, timeout=5)
        response.raise_for_status()
        return response.json() if response.content else None

    for service in bases:
        call(service, "POST", "reset")
    yield call
    for service in bases:
        call(service, "POST", "reset")


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


@pytest.fixture
def pool_with(app, servers, moto_url: str, app_url: str) -> Iterator[Callable[..., None]]:
    """Serve an identity pool configured differently for one test (console mistakes);
    ``"fresh"`` serves the pool with no identity yet. The pool has the providers of
    ``of`` (an app; the demo's by default)."""
    from standins.aws import create_identity_app, create_s3_app, create_sts_app
    from standins.aws.settings import SITE_USER, SiteKey

    original = (servers[2].app, servers[3].app, servers[4].app)
    # The site's key, as the app fixture put it in this process's environment.
    site_key = SiteKey(SITE_USER, os.environ["AWS_ACCESS_KEY_ID"],
                       os.environ["AWS_SECRET_ACCESS_KEY"])

    def change(what: str, of: Any = None) -> None:
        of = of or app
        settings = aws_standin_settings(of, [app_url])
        if what == "drop_auth0":
            settings["providers"] = [p for p in settings["providers"]
                                     if p["logins_key"] != "fedlab-demo.us.auth0.com"]
            settings["role_mappings"].pop("fedlab-demo.us.auth0.com", None)
        elif what == "no_guests":  # unauthenticated identities turned off on the pool
            settings["allow_unauthenticated"] = False
        elif what == "google_other_client":
            for p in settings["providers"]:
                if p["logins_key"] == "accounts.google.com":
                    p["client_ids"] = ["another-client.apps.googleusercontent.com"]
        servers[2].app = identity = create_identity_app(settings, moto_url, [site_key])
        servers[3].app = create_s3_app(settings, moto_url, identity)
        servers[4].app = create_sts_app(settings, moto_url, identity)

    yield change
    servers[2].app, servers[3].app, servers[4].app = original


# -- the AWS side as its operator changes it (AWS's own operations, the admin key) -------

@pytest.fixture
def pool_admin(app, servers) -> Iterator[Any]:
    """The AWS stand-in's Cognito Identity as its operator changes the pool: boto3 with
    the admin key and AWS's own operations. The pool's settings are put back after."""
    import boto3

    from standins.aws.settings import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    from webapp.config import settings as config_settings

    identity = boto3.client(
        "cognito-identity", region_name=config_settings(app).aws.region,
        endpoint_url=f"http://127.0.0.1:{servers[2].port}",
        aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
    pool_id = config_settings(app).aws.identity_pool_id
    before = identity.describe_identity_pool(IdentityPoolId=pool_id)
    before.pop("ResponseMetadata")
    yield identity
    identity.update_identity_pool(**before)


@pytest.fixture
def no_role_mappings(app, pool_admin) -> Iterator[Any]:
    """The demo's pool without its role mappings for one test (``SetIdentityPoolRoles``,
    where AWS refuses the basic flow while any is set); they are put back after. The
    app reads the pool again at once, as it would a few minutes later."""
    from webapp import roles
    from webapp.config import settings as config_settings

    pool_id = config_settings(app).aws.identity_pool_id
    before = pool_admin.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert before.get("RoleMappings"), "the demo's pool has role mappings"
    pool_admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=before["Roles"])
    app.extensions[roles.EXTENSION].forget()
    yield pool_admin
    pool_admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=before["Roles"],
                                       RoleMappings=before["RoleMappings"])
    app.extensions[roles.EXTENSION].forget()


@pytest.fixture
def role_trust(app, moto_url) -> Iterator[Callable[[str, dict], None]]:
    """``role_trust(role, document)``: a role's trust policy changed in moto's IAM, as an
    operator would; each is put back after the test."""
    import boto3

    from standins.aws.settings import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    from webapp.config import settings as config_settings

    iam = boto3.client("iam", region_name=config_settings(app).aws.region, endpoint_url=moto_url,
                       aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                       aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
    saved: dict[str, dict] = {}

    def change(role: str, document: dict) -> None:
        saved.setdefault(role, iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(document))

    yield change
    for role, document in saved.items():
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(document))


def fail_deleting(monkeypatch: pytest.MonkeyPatch, app, store_id: str) -> Callable[[], None]:
    """Make ``app``'s session store fail (a Redis error) when the record ``store_id``
    is deleted, as a store that goes away mid-request; the function returned heals it."""
    import redis

    store = app.session_interface.store
    delete = store.delete

    def failing(name: str) -> None:
        if name == store_id:
            raise redis.ConnectionError("the store went away")
        delete(name)

    monkeypatch.setattr(store, "delete", failing)
    return lambda: monkeypatch.setattr(store, "delete", delete)
