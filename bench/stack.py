"""Start-up machinery shared by the bench scripts (load.py, run.py, profile_account.py).

The stand-ins, a Redis, and each app under gunicorn (ours, and the peers of
bench/peers/ registered as clients of the stand-ins' Auth0 tenant), each its
own process on a free loopback port, all stopped by ``Stack.stop``; and a
minimal browser that signs a visitor in through the stand-ins' real pages.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pstats
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from distance import FarProvider, far_provider  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.demo import aws_standin_settings, standin_settings, write_secrets  # noqa: E402

PROVIDERS = ("cognito", "auth0", "google", "facebook", "cognito-google")
USERS = ("alice", "bob")
#: Seconds any one request may take before it counts as an error.
REQUEST_TIMEOUT = 30
#: Seconds a started server has to answer.
START_TIMEOUT = 60


# -- a minimal browser: forms by button text, as a visitor clicks them ------------


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._button: list[str] | None = None
        self._attrs: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "",
                               "method": (a.get("method") or "get").lower(),
                               "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind == "submit":
                self.forms[-1]["buttons"].append((a.get("value") or "", a["name"],
                                                  a.get("value")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "button" and self.forms:
            self._button, self._attrs = [], a

    def handle_data(self, data):
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None:
            text = " ".join("".join(self._button).split())
            self.forms[-1]["buttons"].append((text, self._attrs.get("name"),
                                              self._attrs.get("value")))
            self._button = None


class Click(NamedTuple):
    """The request a click on a form's button makes."""

    method: str
    url: str
    data: dict


def clicked(page: requests.Response, text: str) -> Click | None:
    """The request a click on the button ``text`` makes, if the page has it."""
    parser = _Forms()
    parser.feed(page.text)
    for form in parser.forms:
        for label, name, value in form["buttons"]:
            if label == text:
                data = dict(form["fields"])
                if name:
                    data[name] = value or ""
                return Click(form["method"].upper(),
                             urljoin(page.url, form["action"] or page.url), data)
    return None


def click(http: requests.Session, page: requests.Response, text: str) -> requests.Response | None:
    """Press the button ``text`` on ``page`` as a browser does (redirects followed);
    None when the page has no such button."""
    request = clicked(page, text)
    if request is None:
        return None
    if request.method == "POST":
        return http.post(request.url, data=request.data, timeout=REQUEST_TIMEOUT)
    return http.get(request.url, params=request.data, timeout=REQUEST_TIMEOUT)


def browse_sign_in(http: requests.Session, start: str, landing: str, user: str,
                   ) -> requests.Response:
    """Follow a sign-in from ``start`` through the stand-in's sign-in and consent
    pages, as a browser does, to ``landing`` (the page the app lands on)."""
    page = http.get(start, timeout=REQUEST_TIMEOUT)
    for _ in range(8):
        if page.url == landing or page.status_code >= 400:
            break
        page = click(http, page, f"Sign in as {user}") or click(http, page, "Allow")
        if page is None:
            break
    if page is None or page.url != landing or page.status_code != 200:
        raise RuntimeError(f"sign-in at {start} as {user} did not end on {landing}")
    return page


def sign_in(app_url: str, provider: str, user: str, *, federate: bool = True,
            ) -> requests.Session:
    """A visitor's session, signed in through the stand-in's sign-in and consent pages."""
    http = requests.Session()
    browse_sign_in(http, f"{app_url}/auth/{provider}/login", f"{app_url}/account", user)
    if not federate:
        return http
    warm = http.get(f"{app_url}/credentials", timeout=REQUEST_TIMEOUT)  # federate once
    if warm.status_code != 200:
        raise RuntimeError(f"credentials for {provider}/{user}: HTTP {warm.status_code}")
    return http


def cookie_header(http: requests.Session, url: str) -> str:
    """The Cookie header ``http`` sends with a request to ``url`` (its host's only)."""
    prepared = requests.Request("GET", url).prepare()
    return requests.cookies.get_cookie_header(http.cookies, prepared) or ""


# -- the servers -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen | None, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=2)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {START_TIMEOUT} s")


def redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Stack:
    """Every process of the run; all stopped on exit, whatever happens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[tuple[str, subprocess.Popen]] = []
        #: What else to close at the end (a far provider's threads), last first.
        self.closers: list[Callable[[], None]] = []

    def start(self, what: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.folder / f"{what}.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,  # noqa: S603 (ours)
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((what, process))
        return process

    def stop(self) -> None:
        try:
            for _, process in reversed(self.processes):
                if process.poll() is None:
                    process.terminate()
            for what, process in reversed(self.processes):
                try:
                    process.wait(timeout=25)
                except subprocess.TimeoutExpired:
                    print(f"{what} did not stop: killing it", file=sys.stderr)
                    process.kill()
                    process.wait(timeout=5)
        finally:
            while self.closers:
                self.closers.pop()()


def start_redis(stack: Stack) -> str:
    binary = shutil.which("redis-server")
    if binary:
        port = free_port()
        stack.start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(stack.folder)])
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + START_TIMEOUT
        while not redis_ping(url):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        return url
    url = "redis://127.0.0.1:6379/14"
    if not redis_ping(url):
        raise RuntimeError("no redis-server to start and none on 127.0.0.1:6379")
    return url


def configure(folder: Path, ports: dict[str, int], redis_url: str,
              standins_url: str) -> tuple[Path, str]:
    """demo.toml on this run's ports, Redis sessions, and a secrets file for it; the
    stand-ins at ``standins_url`` (their own port, or a far provider before them)."""
    app_url = f"http://localhost:{ports['app']}"
    text = (ROOT / "config" / "demo.toml").read_text()
    for old, new in (("http://127.0.0.1:9000", standins_url),
                     ("http://127.0.0.1:9100", f"http://127.0.0.1:{ports['identity']}"),
                     ("http://127.0.0.1:9101", f"http://127.0.0.1:{ports['s3']}"),
                     ("http://127.0.0.1:9102", f"http://127.0.0.1:{ports['moto']}"),
                     ("http://127.0.0.1:9103", f"http://127.0.0.1:{ports['sts']}"),
                     ("http://localhost:8000", app_url)):
        text = text.replace(old, new)
    secrets = folder / "secrets.toml"
    text = text.replace('secrets_file = "instance/secrets.toml"', f'secrets_file = "{secrets}"')
    config = folder / "load.toml"
    config.write_text(text)
    write_secrets(secrets, tomllib.loads(text)["providers"])
    return config, app_url


@dataclass(frozen=True)
class App:
    """One gunicorn to start: what it serves, and for ours its session settings."""

    #: gunicorn's APP_MODULE.
    spec: str = "bench.wsgi:app"
    #: Ours: ``session.type``; a peer (bench/peers/): ``QUICKSTART_SESSIONS``.
    sessions: str = "redis"
    #: More environment for this gunicorn (e.g. ``FEDLAB_SESSION__CLIENT_CACHE``).
    env: dict = field(default_factory=dict)
    #: Ours: the store it shares with every app of the same name here (the key
    #: prefix), so two of ours act as two instances of one site.
    store: str = ""
    #: A peer registered with the stand-ins' Auth0 tenant under this client id;
    #: empty for ours (registered as the demo configuration says).
    client_id: str = ""
    #: A peer that signs nobody in (the bare route): not registered at all.
    bare: bool = False

    @property
    def ours(self) -> bool:
        return not (self.client_id or self.bare)


@dataclass
class Services:
    """Where everything of one start-up answers."""

    app_url: str
    standins_url: str
    identity_url: str
    s3_url: str
    moto_url: str
    redis_url: str
    config_file: Path
    #: Every app started, by name: its URL (the first one is ``app_url``).
    apps: dict = field(default_factory=dict)
    #: Every app's gunicorn master process id, by name.
    masters: dict = field(default_factory=dict)
    #: The stand-ins as a provider at a distance (None: on loopback, plain HTTP).
    far: FarProvider | None = None


def start_stack(stack: Stack, workers: int, threads: int) -> str:
    return start_services(stack, workers, threads).app_url


def peer_client(app: App, url: str) -> dict:
    """A peer's client at the stand-ins' Auth0 tenant: its redirect URI and its
    sign-out return, as the Auth0 dashboard would hold them."""
    return {"tenant": "auth0", "client_id": app.client_id,
            "client_secret": f"{app.client_id}-secret",
            "redirect_uris": [f"{url}/callback"], "logout_uris": [f"{url}/"]}


def app_environment(name: str, app: App, config_file: Path, redis_url: str,
                    standins_url: str) -> dict[str, str]:
    """What the app named ``name`` reads from its environment: for ours, the
    demo configuration on this run's store; for a peer, its quickstart settings."""
    if app.ours:
        folder = config_file.parent
        return {"FEDLAB_CONFIG": str(config_file), "FEDLAB_SESSION__TYPE": app.sessions,
                "FEDLAB_SESSION__REDIS_URL": redis_url,
                "FEDLAB_SESSION__DIR": str(folder / f"sessions-{app.store or name}"),
                "FEDLAB_SESSION__KEY_PREFIX": f"fedlab-load-{os.getpid()}-{app.store or name}:",
                **app.env}
    return {"QUICKSTART_SESSIONS": app.sessions, "QUICKSTART_REDIS_URL": redis_url,
            "QUICKSTART_SECRET_KEY": f"{name}-{os.getpid()}-not-a-real-secret",
            "QUICKSTART_CLIENT_ID": app.client_id,
            "QUICKSTART_CLIENT_SECRET": f"{app.client_id}-secret",
            "QUICKSTART_AUTH0_URL": f"{standins_url}/auth0", **app.env}


def start_services(stack: Stack, workers: int, threads: int, *,
                   apps: dict[str, str | App] | None = None,
                   app_spec: str = "webapp:create_app()",
                   one_way: float | None = None) -> Services:
    """The stand-ins, a Redis and one gunicorn per entry of ``apps`` (name: an
    :class:`App`, or for ours just its session type, "redis" or "files"; by default
    one app with Redis sessions serving ``app_spec``) on the demo configuration.

    With ``one_way`` (seconds), the stand-ins are a provider that far away each
    way, over HTTPS with kept-alive connections (:mod:`distance`): every app and
    the client reach them only so, and trust its authority (``REQUESTS_CA_BUNDLE``;
    :attr:`Services.far` for the client)."""
    wanted = {name: App(spec=app_spec, sessions=a) if isinstance(a, str) else a
              for name, a in (apps or {"app": "redis"}).items()}
    folder = stack.folder
    ports = {name: free_port() for name in ("standins", "identity", "s3", "moto", "sts")}
    app_ports = {name: free_port() for name in wanted}
    ports["app"] = next(iter(app_ports.values()))
    redis_url = start_redis(stack)
    direct = f"http://127.0.0.1:{ports['standins']}"
    standins_url, trust, far = direct, {}, None
    if one_way is not None:
        far = far_provider(direct, folder / "certificates", one_way)
        stack.closers.append(far.close)
        standins_url = far.url
        trust = {"REQUESTS_CA_BUNDLE": str(far.certificate.authority)}
    config_file, app_url = configure(folder, ports, redis_url, standins_url)
    urls = {name: f"http://localhost:{port}" for name, port in app_ports.items()}
    ours = [urls[name] for name, a in wanted.items() if a.ours]
    # The stand-ins register the app exactly as the app is configured, and each
    # peer as its own client of the Auth0 tenant.
    app = create_app({"config_file": str(config_file)})
    settings = standin_settings(app, ours, standins_url)
    settings["clients"] += [peer_client(a, urls[name]) for name, a in wanted.items()
                            if a.client_id]
    (folder / "standins.json").write_text(json.dumps(settings))
    (folder / "aws.json").write_text(json.dumps(aws_standin_settings(app, ours)))
    python = sys.executable
    standins = stack.start("standins", [python, "-m", "standins", "--settings",
                                        str(folder / "standins.json"), "--port",
                                        str(ports["standins"])])
    aws = stack.start("aws", [python, "-m", "standins.aws", "--settings",
                              str(folder / "aws.json"), "--identity-port", str(ports["identity"]),
                              "--s3-port", str(ports["s3"]), "--moto-port", str(ports["moto"]),
                              "--sts-port", str(ports["sts"])])
    servers = {}
    for name, a in wanted.items():
        env = {**os.environ, **app_environment(name, a, config_file, redis_url, standins_url),
               **trust}
        servers[name] = stack.start(f"gunicorn-{name}", [
            python, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--bind", f"127.0.0.1:{app_ports[name]}",
            "--log-level", "warning", a.spec], env=env)
    wait_for(f"{direct}/google/.well-known/openid-configuration", standins, "stand-ins")
    wait_for(f"http://127.0.0.1:{ports['identity']}/_control/calls", aws, "AWS stand-in")
    for name, server in servers.items():
        wait_for(f"{urls[name]}/", server, f"gunicorn ({name})")
    return Services(app_url, standins_url, f"http://127.0.0.1:{ports['identity']}",
                    f"http://127.0.0.1:{ports['s3']}", f"http://127.0.0.1:{ports['moto']}",
                    redis_url, config_file, urls,
                    {name: server.pid for name, server in servers.items()}, far)


def command_calls(client: Any, names: tuple[str, ...]) -> dict[str, int]:
    """How many times Redis has run each command of ``names`` (``INFO commandstats``)."""
    stats = client.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names}


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# -- where in-process time goes (bench/profile_*.py) ----------------------------------


def print_profile(profiler: Any, areas: dict[str, tuple[str, str]], count: int, unit: str,
                  top: int) -> None:
    """Each area's cumulative time per ``unit`` (``areas``: label -> (file name
    part, function name)), then the ``top`` functions by their own time."""
    stats = pstats.Stats(profiler)
    for label, (filename, function) in areas.items():
        total = sum(ct for (file, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                    if name == function and file.endswith(filename))
        print(f"  {label:<42} {total / max(count, 1) * 1000:6.2f} ms per {unit}")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    print(text.getvalue())
