"""Two real gunicorn instances, one Redis, behind one origin: any instance serves any visitor.

A small round-robin reverse proxy plays the load balancer, so the browser sees
one site (one origin, registered at the stand-ins like any deployment's); it
can also pin every request to one instance, which lets the test choose where
each step happens. Both instances run with deploy/gunicorn.conf.py and get the
secret key and the session encryption key from the environment (the client
secrets from the suite's secrets file), as a deployment's instances would.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import requests

from webapp.demo import tenant_for
from webapp.providers import registry
from webapp.session_store import Sealer

from .conftest import ROOT, free_port, require
from .flows import sign_in, wait_until
from .test_sessions import session_cookie

GUNICORN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "gunicorn"
#: The keys both instances get from the environment (not those of the secrets file).
ENV_SECRET_KEY = secrets.token_urlsafe(48)
ENV_ENCRYPTION_KEY = secrets.token_urlsafe(48)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length",
              "content-encoding"}


class Balancer(ThreadingHTTPServer):
    """Forward each request to the next backend (or the pinned one), as it came."""

    daemon_threads = True

    def __init__(self, backends: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), BalancerHandler)
        self.backends = backends
        self.pinned: int | None = None
        self.served: list[tuple[str, int]] = []
        self._next = itertools.cycle(range(len(backends)))
        self._lock = threading.Lock()

    def choose(self, path: str) -> str:
        with self._lock:
            index = next(self._next) if self.pinned is None else self.pinned
            self.served.append((path, index))
        return self.backends[index]


class BalancerHandler(BaseHTTPRequestHandler):
    server: Balancer

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = requests.request(self.command, self.server.choose(self.path) + self.path,
                                    headers=headers, data=body, allow_redirects=False,
                                    timeout=30)
        content = upstream.content
        self.send_response(upstream.status_code)
        for name, value in upstream.raw.headers.items():  # each Set-Cookie on its own
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_HEAD = forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def instances(request, config_dir, redis_url, app, control, tmp_path) -> Iterator[Balancer]:
    """Two gunicorn instances of the app behind one balancer origin; sessions in
    Redis, or (``indirect`` param ``"files"``) in one folder both processes share,
    as the workers of one ``fedlab serve`` do."""
    files = getattr(request, "param", "redis") == "files"
    require(GUNICORN.exists(), f"gunicorn is not installed at {GUNICORN}")
    ports = [free_port(), free_port()]
    balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports])
    origin = f"http://localhost:{balancer.server_address[1]}"
    # The balancer's origin is the site's: register its callbacks as an operator would.
    for provider in registry.providers(app).values():
        control("POST", "clients", tenant=tenant_for(provider), client_id=provider.client_id,
                redirect_uris=[f"{origin}/auth/{provider.name}/callback"],
                logout_uris=[f"{origin}/"])
    env = {name: value for name, value in os.environ.items() if not name.startswith("FEDLAB_")}
    env.update({
        "FEDLAB_CONFIG": str(config_dir / "demo.toml"),
        # The client secrets stay in the file; the keys every instance must share
        # come from the environment, and win over the file's.
        "FEDLAB_SECRETS_FILE": str(config_dir / "secrets.toml"),
        "FEDLAB_SECRET_KEY": ENV_SECRET_KEY,
        "FEDLAB_SESSION__ENCRYPTION_KEY": ENV_ENCRYPTION_KEY,
        "FEDLAB_SESSION__TYPE": "redis",
        "FEDLAB_SESSION__REDIS_URL": redis_url,
        "FEDLAB_EXTERNAL_URL": origin,
        # As deployed: deploy/gunicorn.conf.py, one worker each to spare the machine.
        "FEDLAB_WORKERS": "1",
        "FEDLAB_THREADS": "2",
    })
    processes = []
    for index, port in enumerate(ports):
        # A folder of its own: were the sessions not in Redis, nothing would be shared.
        own = {**env, "FEDLAB_SESSION__DIR": str(tmp_path / f"sessions-{index}"),
               "FEDLAB_BIND": f"127.0.0.1:{port}"}
        if files:
            own.update(FEDLAB_SESSION__TYPE="cachelib",
                       FEDLAB_SESSION__DIR=str(tmp_path / "sessions"))
        with (tmp_path / f"gunicorn-{index}.log").open("w") as log:
            processes.append(subprocess.Popen(
                [str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                 "webapp:create_app()"],
                cwd=ROOT, env=own, stdout=log, stderr=subprocess.STDOUT))
    thread = threading.Thread(target=balancer.serve_forever, daemon=True)
    thread.start()
    try:
        for index, backend in enumerate(balancer.backends):
            wait_for(backend, processes[index], tmp_path / f"gunicorn-{index}.log")
        balancer.origin = origin  # type: ignore[attr-defined]
        yield balancer
    finally:
        balancer.shutdown()
        balancer.server_close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


def wait_for(backend: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if requests.get(backend + "/", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or the first answer is slow
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer at {backend}: {log.read_text()[-2000:]}")


def instances_used(balancer: Balancer, since: int) -> set[int]:
    return {index for _, index in balancer.served[since:]}


def test_a_session_started_on_one_instance_works_and_ends_on_the_other(instances, browser,
                                                                      redis_url, config_dir):
    secrets_file = config_dir / "secrets.toml"
    origin = instances.origin
    store = redis.Redis.from_url(redis_url)
    instances.pinned = 0
    page = sign_in(browser, origin, "auth0")
    assert page.url == f"{origin}/account" and page.status_code == 200, page.text[:500]
    assert instances_used(instances, 0) == {0}
    sid = session_cookie(browser).value
    assert store.exists(f"fedlab:session:{sid}")
    # Sealed with the environment's key, which the secrets file does not hold.
    record = store.get(f"fedlab:session:{sid}")
    assert Sealer(ENV_ENCRYPTION_KEY).open(record, f"fedlab:session:{sid}")["auth"]
    file_key = tomllib.loads(secrets_file.read_text())["session"]["encryption_key"]
    assert Sealer(file_key).open(record, f"fedlab:session:{sid}") is None

    instances.pinned = 1
    mark = len(instances.served)
    account = browser.get(f"{origin}/account")
    assert account.status_code == 200 and "Signed in via Auth0" in account.text
    assert instances_used(instances, mark) == {1}

    instances.pinned = None  # round robin: every request a different instance
    mark = len(instances.served)
    assert [browser.get(f"{origin}/account").status_code for _ in range(4)] == [200] * 4
    assert instances_used(instances, mark) == {0, 1}

    instances.pinned = 1
    browser.post(f"{origin}/auth/signout", data={"csrf_token": browser.csrf(account)})
    instances.pinned = 0
    mark = len(instances.served)
    replay = requests.get(f"{origin}/account", cookies={"fedlab": sid}, timeout=10)
    assert replay.status_code == 401
    assert browser.get(f"{origin}/account").status_code == 401
    assert instances_used(instances, mark) == {0}
    assert not store.exists(f"fedlab:session:{sid}")


def test_a_sign_in_may_start_and_finish_on_different_instances(instances, browser):
    """The pending state (PKCE verifier, nonce) is in Redis, not in one process."""
    origin = instances.origin
    instances.pinned = None
    page = sign_in(browser, origin, "cognito")
    assert page.url == f"{origin}/account" and page.status_code == 200, page.text[:500]
    served = dict((path.split("?")[0], index) for path, index in instances.served)
    assert served["/auth/cognito/login"] != served["/auth/cognito/callback"]


def provider_calls(control, endpoint: str) -> int:
    return control("GET", "calls").get("auth0", {}).get(endpoint, 0)


def signed_in_on_the_first(instances, browser, redis_url: str) -> tuple[str, dict, redis.Redis]:
    """Sign in at Auth0 through the first instance: the session id, a form's CSRF
    field, and a client of the Redis both instances use."""
    instances.pinned = 0
    page = sign_in(browser, instances.origin, "auth0")
    return (session_cookie(browser).value, {"csrf_token": browser.csrf(page)},
            redis.Redis.from_url(redis_url))


def refresh_on_both_at_once(instances, sid: str, form: dict, control,
                            lock_is_held) -> None:
    """Both instances find the tokens to renew at once: the first is at the (slow)
    provider, holding the lock (``lock_is_held()`` looks where it is kept), when
    the second asks; the provider sees one refresh, and both answer."""
    first, second = instances.backends
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="token", seconds=3)
    with ThreadPoolExecutor(2) as pool:
        refreshes = [pool.submit(requests.post, f"{first}/auth/refresh", data=form,
                                 cookies={"fedlab": sid}, allow_redirects=False, timeout=30)]
        wait_until(lambda: provider_calls(control, "token") == 1)  # at the slow provider
        assert lock_is_held(), "no lock seen while the refresh runs"
        refreshes.append(pool.submit(requests.post, f"{second}/auth/refresh", data=form,
                                     cookies={"fedlab": sid}, allow_redirects=False,
                                     timeout=30))
        answers = [r.result() for r in refreshes]
    assert [a.status_code for a in answers] == [302, 302]
    assert provider_calls(control, "token") == 1
    for backend in (first, second):
        account = requests.get(f"{backend}/account", cookies={"fedlab": sid}, timeout=10)
        assert account.status_code == 200 and 'data-state="refreshed"' in account.text


def test_a_refresh_holds_a_lock_in_redis_that_the_other_instance_waits_for(
        instances, browser, redis_url, control):
    """The lock is a Redis key every instance sees, released by its holder."""
    sid, form, store = signed_in_on_the_first(instances, browser, redis_url)
    lock = f"fedlab:session:refresh-lock:{sid}"
    refresh_on_both_at_once(instances, sid, form, control, lambda: store.exists(lock))
    assert not store.exists(lock)
    key = f"fedlab:session:{sid}"
    stored = Sealer(ENV_ENCRYPTION_KEY).open(store.get(key), key)["auth"]
    assert stored["generation"] == 1 and stored["state"] == "refreshed"


@pytest.mark.parametrize("instances", ["files"], indirect=True)
def test_the_file_stores_refresh_lock_is_shared_by_every_process(instances, browser, tmp_path,
                                                                 control):
    """Two processes on one session folder (the workers of one fedlab serve): the
    lock is a file beside the records, which both see."""
    instances.pinned = 0
    page = sign_in(browser, instances.origin, "auth0")
    sid, form = session_cookie(browser).value, {"csrf_token": browser.csrf(page)}
    folder = tmp_path / "sessions"
    refresh_on_both_at_once(instances, sid, form, control,
                            lambda: bool(list(folder.glob("*/.lock-*"))))


def test_a_request_in_flight_at_sign_out_does_not_bring_the_session_back(
        instances, browser, redis_url, control):
    """A slow userinfo request on one instance read the session before the
    visitor signed out on the other; when it ends, the session stays ended."""
    first, second = instances.backends
    sid, form, store = signed_in_on_the_first(instances, browser, redis_url)
    key = f"fedlab:session:{sid}"
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="userinfo", seconds=2)
    # Sign-out's revocation does not get through, so the slow request's access token
    # stays good and its answer changes the session (a JWT access token would anyway).
    control("POST", "faults", tenant="auth0", fault="down", endpoint="revoke")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{first}/account/userinfo", data=form,
                           cookies={"fedlab": sid}, allow_redirects=False, timeout=30)
        wait_until(lambda: provider_calls(control, "userinfo") == 1)  # read, now at the provider
        signed_out = requests.post(f"{second}/auth/signout", data=form, cookies={"fedlab": sid},
                                   allow_redirects=False, timeout=10)
        assert signed_out.status_code == 302 and not store.exists(key)
        assert slow.result().status_code == 302
    assert not store.exists(key)
    for backend in (first, second):
        replay = requests.get(f"{backend}/account", cookies={"fedlab": sid}, timeout=10)
        assert replay.status_code == 401 and 'data-guided="sign_in"' in replay.text
        assert 'data-state="signed_out"' in replay.text  # the session is gone, not a guest's
        assert "alice" not in replay.text
    assert not store.exists(key)


def test_a_logout_token_sent_to_one_instance_ends_a_session_opened_on_the_other(
        instances, browser, redis_url, control):
    """OpenID Connect Back-Channel Logout behind the balancer: the session began on
    the first instance, Auth0's logout token reaches the second, and the session
    ends for both; the token's jti, kept in Redis, is refused on the first."""
    from webapp.backchannel import JTI_LIFETIME

    from .browser import Browser

    origin, store = instances.origin, redis.Redis.from_url(redis_url)
    instances.pinned = 0
    assert sign_in(browser, origin, "auth0").url == f"{origin}/account"
    alice = session_cookie(browser).value
    bob_browser = Browser()
    assert sign_in(bob_browser, origin, "auth0", "bob").url == f"{origin}/account"
    bob = session_cookie(bob_browser).value
    control("POST", "clients", tenant="auth0", client_id="fedlab-auth0-client",
            backchannel_logout_uri=f"{origin}/auth/auth0/backchannel-logout")

    instances.pinned = 1
    mark = len(instances.served)
    made = control("POST", "backchannel-logout", tenant="auth0",
                   client_id="fedlab-auth0-client", user="alice")
    assert made["delivery"]["status"] == 200, made["delivery"]
    assert instances_used(instances, mark) == {1}
    assert not store.exists(f"fedlab:session:{alice}")
    assert store.exists(f"fedlab:session:{bob}")
    claims = made["claims"]  # the jti is kept under a hash of the issuer and itself
    seen = "fedlab:session:logout-jti:" + hashlib.sha256(
        f"{claims['iss']}\0{claims['jti']}".encode()).hexdigest()
    assert 0 < store.ttl(seen) <= JTI_LIFETIME

    instances.pinned = 0
    assert browser.get(f"{origin}/account").status_code == 401
    assert bob_browser.get(f"{origin}/account").status_code == 200
    replay = requests.post(f"{origin}/auth/auth0/backchannel-logout",
                           data={"logout_token": made["logout_token"]}, timeout=10)
    assert replay.status_code == 400 and "already used" in replay.json()["error_description"]
