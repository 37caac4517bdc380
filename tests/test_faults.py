"""Faults outside the app: providers, the session store and AWS misbehaving.

Each fault must end on a clear page (the catalogue entry's ``data-error``, what
happened and what to do, no traceback) within a bounded time, and lose nothing:
nobody is half signed in, a signed-in visitor stays signed in, and the site
works again once the fault is gone, without restarting the app. The bound is
checked without a clock: the test's request gives up before the slow
dependency would answer (CLIENT_TIMEOUT < SLOW), so a page that waited raises.

tests/test_signin_checks.py already covers a provider down at discovery, a slow
token endpoint and garbage from token and jwks, tests/test_account.py a failing
userinfo endpoint (asked from the account page, not at sign-in); the table here
covers the other combinations. The stand-ins' ``down`` fault without an endpoint
takes the whole tenant down (every endpoint answers 503, its sign-in pages too):
met at discovery (elsewhere), the token endpoint on the callback and on a
refresh; with an endpoint, only that one (keys here) is down. A provider whose
address refuses connections is covered here too.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from .browser import Browser
from .conftest import redis_answers, require
from .flows import sign_in, stop_at_callback

#: The app's timeout to a provider in the slow cases.
TIMEOUT = 1
#: How long a slow stand-in endpoint sleeps: well past TIMEOUT.
SLOW = 6
#: The test's own timeout for each request to the app where something is slow or
#: down: below SLOW, so an app that waited for the stand-in instead of giving up
#: makes the request raise; no test measures how long a page took.
CLIENT_TIMEOUT = 4

#: (fault, endpoint, tenant, catalogue entry, HTTP status) not covered elsewhere.
PROVIDER_FAULTS = [
    ("slow", "discovery", "auth0", "provider_timeout", 504),
    ("slow", "jwks", "google", "provider_timeout", 504),
    ("error_500", "discovery", "google", "provider_bad_response", 502),
    ("error_500", "jwks", "auth0", "provider_bad_response", 502),
    ("error_500", "token", "cognito", "provider_bad_response", 502),
    ("garbage", "discovery", "cognito", "provider_bad_response", 502),
    ("down", "jwks", "auth0", "provider_bad_response", 502),
]

#: What the app's error pages call the stand-ins' endpoints.
APP_ENDPOINT_NAMES = {"jwks": "keys"}


def assert_clear_page(page: requests.Response, code: str, status: int | None = None) -> None:
    """The catalogue's page for ``code``: what happened, what to do, no stack trace."""
    assert f'data-error="{code}"' in page.text, (page.status_code, page.url, page.text[:800])
    if status is not None:
        assert page.status_code == status
    assert re.search(r'<dd class="cause">[^<]+</dd>', page.text)
    assert re.search(r'<dd class="fix">[^<]+</dd>', page.text)
    assert "Traceback" not in page.text and 'File "' not in page.text


def signed_in(browser: Browser, app_url: str) -> bool:
    return browser.get(f"{app_url}/account").status_code == 200


# -- providers ---------------------------------------------------------------


@pytest.mark.parametrize(("fault", "endpoint", "tenant", "code", "status"), PROVIDER_FAULTS)
def test_a_provider_fault_on_one_endpoint_ends_on_a_clear_page(browser, app_url, control,
                                                               swap_app, fault, endpoint,
                                                               tenant, code, status):
    if fault == "slow":
        swap_app(http_timeout=TIMEOUT)
        control("POST", "faults", tenant=tenant, fault=fault, endpoint=endpoint, seconds=SLOW)
    else:
        control("POST", "faults", tenant=tenant, fault=fault, endpoint=endpoint)
    browser.timeout = CLIENT_TIMEOUT
    page = sign_in(browser, app_url, tenant)
    assert_clear_page(page, code, status)
    # The page names the endpoint that failed (the app calls the JWKS "keys").
    assert f"{APP_ENDPOINT_NAMES.get(endpoint, endpoint)} endpoint" in page.text
    assert not signed_in(browser, app_url)
    # Nothing is left behind: with the fault gone, the same browser signs in.
    control("DELETE", "faults")
    assert sign_in(browser, app_url, tenant).url == f"{app_url}/account"


def test_a_provider_down_at_the_token_endpoint_ends_on_a_clear_page(browser, app_url,
                                                                    control):
    callback = stop_at_callback(browser, app_url, "auth0")
    control("POST", "faults", tenant="auth0", fault="down")
    page = browser.get(callback)
    assert_clear_page(page, "provider_bad_response", 502)
    assert "HTTP 503" in page.text or "503" in page.text
    assert not signed_in(browser, app_url)


def test_a_provider_that_refuses_connections_is_explained(browser, app_url, control,
                                                          swap_app):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    swap_app(providers={"google": {"issuer": f"http://127.0.0.1:{port}/google"}})
    page = browser.get(f"{app_url}/auth/google/login", timeout=CLIENT_TIMEOUT)
    assert_clear_page(page, "provider_unreachable", 502)


@pytest.mark.parametrize(("fault", "code"), [("down", "provider_bad_response"),
                                             ("error_500", "provider_bad_response"),
                                             ("garbage", "provider_bad_response"),
                                             ("slow", "provider_timeout")])
def test_a_refresh_against_a_failing_provider_keeps_the_visitor_signed_in(
        browser, app_url, control, swap_app, fault, code):
    if fault == "slow":
        swap_app(http_timeout=TIMEOUT)
    page = sign_in(browser, app_url, "auth0")
    assert page.url == f"{app_url}/account"
    params = {"seconds": SLOW} if fault == "slow" else {}
    if fault != "down":
        params["endpoint"] = "token"
    control("POST", "faults", tenant="auth0", fault=fault, **params)
    failed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)},
                          timeout=CLIENT_TIMEOUT)
    assert_clear_page(failed, code)
    control("DELETE", "faults")
    account = browser.get(f"{app_url}/account")
    assert account.status_code == 200
    if code != "token_request_failed":  # an outage is not a refusal: the tokens are kept
        assert 'data-state="signed_in"' in account.text


def test_keys_rotated_while_signed_in_validate_after_one_refetch(browser, app_url, control,
                                                                 standins_url):
    page = sign_in(browser, app_url, "auth0")
    assert page.url == f"{app_url}/account"
    control("POST", "rotate-keys", tenant="auth0", drop_old=True)
    keys = requests.get(f"{standins_url}/auth0/.well-known/jwks.json", timeout=5).json()
    [new_kid] = [key["kid"] for key in keys["keys"]]
    assert f'"kid": "{new_kid}"' not in page.text
    control("DELETE", "calls")
    refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert refreshed.status_code == 200, refreshed.text[:800]
    assert 'data-state="refreshed"' in refreshed.text
    assert f'"kid": "{new_kid}"' in refreshed.text  # the new id token, by the new key
    assert control("GET", "calls")["auth0"].get("jwks") == 1
    assert signed_in(browser, app_url)


# -- the session store ---------------------------------------------------------


class RedisProcess:
    """A redis-server of this test's own on a fixed port, to stop and start again."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "no redis-server (apt-get install redis-server)")
        self.binary = str(binary)
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Append-only with fsync on every write: a crash loses no session.
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if redis_answers(self.url):
                return
            time.sleep(0.1)
        require(False, f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path):
    server = RedisProcess(tmp_path)
    yield server
    server.kill()


def redis_app(swap_app, url: str):
    return swap_app(session={"type": "redis", "redis_url": url, "key_prefix": "fedlab-faults:"})


def assert_store_timeouts(app) -> None:
    """The app's Redis client gives up on a silent store instead of hanging: what
    bounds a page when Redis stops answering without refusing connections."""
    from webapp.sessions import STORE_TIMEOUT

    options = app.extensions["fedlab_sessions"].store.client.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == STORE_TIMEOUT
    assert STORE_TIMEOUT < CLIENT_TIMEOUT


def test_redis_down_at_start_up_then_back_needs_no_restart(browser, app_url, control,
                                                           swap_app, own_redis):
    app = redis_app(swap_app, own_redis.url)  # nothing listens there yet
    # A page that needs no session still works (no cookie: the store is not read).
    assert browser.get(f"{app_url}/").status_code == 200
    assert_store_timeouts(app)
    # Must store a pending sign-in; the store refuses connections (nothing listens).
    page = browser.get(f"{app_url}/auth/google/login", timeout=CLIENT_TIMEOUT)
    assert_clear_page(page, "session_store_down", 503)
    assert "Location" not in page.headers and "fedlab" not in browser.http.cookies
    own_redis.start()
    assert browser.get(f"{app_url}/").status_code == 200
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"


def test_redis_down_mid_session_then_back(browser, app_url, control, swap_app, own_redis):
    own_redis.start()
    app = redis_app(swap_app, own_redis.url)
    assert_store_timeouts(app)
    page = sign_in(browser, app_url, "cognito")
    assert page.url == f"{app_url}/account"
    own_redis.kill()
    for path in ("/account", "/credentials", "/"):
        down = browser.get(f"{app_url}{path}", timeout=CLIENT_TIMEOUT)
        assert_clear_page(down, "session_store_down", 503)
    # A form posted while the store is down is refused the same way, not half done.
    refused = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert_clear_page(refused, "session_store_down", 503)
    own_redis.start()  # same port, same append-only file: the session survived the crash
    assert signed_in(browser, app_url)
    newcomer = Browser()
    assert sign_in(newcomer, app_url, "google").url == f"{app_url}/account"


@pytest.mark.parametrize(("form", "call"), [("refresh", "set"), ("refresh", "get"),
                                            ("signout", "delete")])
def test_redis_failing_inside_a_view_gives_the_store_page(browser, app_url, control, swap_app,
                                                          redis_url, monkeypatch, form, call):
    """Redis dies after the session was read: the refresh lock's SET, the refresh
    re-reading the store, or the new id at sign-out fail inside the view."""
    import redis

    app = redis_app(swap_app, redis_url)
    page = sign_in(browser, app_url, "auth0")
    assert page.url == f"{app_url}/account"
    client = app.extensions["fedlab_sessions"].store.client
    real = getattr(client, call)
    calls = []

    def failing(*args, **kwargs):
        """Fail once, inside the view (open_session's GET goes through), then recover."""
        calls.append(args)
        if len(calls) == (2 if call == "get" else 1):
            raise redis.ConnectionError("Connection reset by peer")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, call, failing)
    failed = browser.post(f"{app_url}/auth/{form}", data={"csrf_token": browser.csrf(page)})
    assert_clear_page(failed, "session_store_down", 503)
    assert "Location" not in failed.headers and "Set-Cookie" not in failed.headers
    monkeypatch.undo()
    assert signed_in(browser, app_url)  # nothing was lost with the failed request


# -- AWS ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["down", "throttle"])
@pytest.mark.parametrize("path", ["/credentials", "/storage/public", "/storage/private"])
def test_the_identity_pool_failing_is_explained_on_aws_pages(browser, app_url, control,
                                                             aws_control, fault, path):
    sign_in(browser, app_url, "google")
    aws_control("identity", "POST", "faults", fault=fault)
    page = browser.get(f"{app_url}{path}")
    expected = "aws_throttled" if fault == "throttle" else "aws_error"
    assert_clear_page(page, expected)
    assert page.status_code >= 400
    aws_control("identity", "DELETE", "faults")
    assert signed_in(browser, app_url)
    assert browser.get(f"{app_url}{path}").status_code == 200


@pytest.mark.parametrize("path", ["/credentials", "/storage/public"])
def test_an_identity_pool_that_refuses_connections_is_explained(browser, app_url, control,
                                                                aws_control, swap_app, path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    swap_app(aws={"cognito_identity_endpoint": f"http://127.0.0.1:{port}"})
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}{path}")
    assert_clear_page(page, "aws_unreachable", 502)
    assert signed_in(browser, app_url)


@pytest.mark.parametrize(("fault", "code", "status"), [("throttle", "aws_throttled", 429),
                                                      ("down", "aws_error", 502)])
def test_s3_throttling_or_down_is_explained_and_credentials_are_kept(
        browser, app_url, control, aws_control, fault, code, status):
    sign_in(browser, app_url, "google")
    assert browser.get(f"{app_url}/credentials").status_code == 200
    aws_control("s3", "POST", "faults", fault=fault)
    aws_control("identity", "DELETE", "calls")
    for path in ("/storage/public", "/storage/private"):
        page = browser.get(f"{app_url}{path}", timeout=CLIENT_TIMEOUT)
        assert_clear_page(page, code, status)
        assert "ListObjectsV2" in page.text
    aws_control("s3", "DELETE", "faults")
    assert browser.get(f"{app_url}/storage/private").status_code == 200
    assert sum(aws_control("identity", "GET", "calls").values()) == 0  # credentials kept


def test_s3_refusing_connections_is_explained_and_credentials_are_kept(browser, app_url,
                                                                       control, aws_control,
                                                                       swap_app):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    swap_app(aws={"s3_endpoint": f"http://127.0.0.1:{port}"})
    sign_in(browser, app_url, "auth0")
    assert browser.get(f"{app_url}/credentials").status_code == 200
    aws_control("identity", "DELETE", "calls")
    page = browser.get(f"{app_url}/storage/public")
    assert_clear_page(page, "aws_unreachable", 502)
    # The credentials in the session were not thrown away with the failed listing.
    assert browser.get(f"{app_url}/credentials").status_code == 200
    assert sum(aws_control("identity", "GET", "calls").values()) == 0
