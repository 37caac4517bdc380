"""JWS header rules that python-jose leaves out, each through the real sign-in.

The provider stand-in signs an id token with a protected header of the test's
making (fault ``jws_header``), with its own key or with one it never published;
the callback must end on ``id_token_rejected`` naming the check, nobody signed in.
Last, another kind of token by the same keys that says so only in its claims.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .flows import sign_in
from .test_signin_checks import assert_refused

#: A private extension nobody implements, present and made critical.
PRIVATE_EXTENSION = "https://fedlab.invalid/jws-ext"

HEADERS_REFUSED = [
    pytest.param({"set": {"crit": [PRIVATE_EXTENSION], PRIVATE_EXTENSION: True}}, "crit",
                 id="crit-unknown-extension"),
    # RFC 7797's unencoded payload: a real extension, but not one this site implements.
    pytest.param({"set": {"crit": ["b64"], "b64": True}}, "crit", id="crit-b64"),
    pytest.param({"set": {"crit": []}}, "crit", id="crit-empty"),
    pytest.param({"set": {"crit": PRIVATE_EXTENSION, PRIVATE_EXTENSION: 1}}, "crit",
                 id="crit-not-a-list"),
    pytest.param({"set": {"crit": ["alg"]}}, "crit", id="crit-registered-name"),
    pytest.param({"set": {"crit": [PRIVATE_EXTENSION]}}, "crit", id="crit-absent-parameter"),
    # RFC 8725 3.11: same issuer, same keys, another kind of token.
    pytest.param({"set": {"typ": "at+jwt"}}, "typ", id="typ-access-token"),
    pytest.param({"set": {"typ": "logout+jwt"}}, "typ", id="typ-logout-token"),
    pytest.param({"set": {"typ": 1}}, "typ", id="typ-not-a-string"),
    # The token offers its own key; the site must use the provider's jwks_uri only.
    pytest.param({"signer": "stray", "embed": "jwk", "set": {"kid": None}}, "signature",
                 id="jwk-embedded"),
    pytest.param({"signer": "stray", "embed": "x5c", "set": {"kid": None}}, "signature",
                 id="x5c-embedded"),
]


@pytest.mark.parametrize(("crafted", "check"), HEADERS_REFUSED)
def test_an_id_token_header_breaking_a_rule_is_refused(browser, app_url, control, crafted,
                                                       check):
    control("POST", "faults", tenant="auth0", fault="jws_header", **crafted)
    page = sign_in(browser, app_url, "auth0")
    assert_refused(page, "id_token_rejected", browser, app_url)
    assert f"Check &#39;{check}&#39; failed" in page.text


@pytest.mark.parametrize("crafted", [
    pytest.param({"set": {"typ": None}}, id="no-typ"),
    pytest.param({"set": {"typ": "JWT"}}, id="typ-JWT"),
    pytest.param({"set": {"typ": "application/jwt"}}, id="typ-media-type"),
    # Key hints the site does not read do no harm when the key is the provider's own.
    pytest.param({"embed": "x5c", "set": {"x5t": "not-read"}}, id="x5c-of-the-real-key"),
])
def test_an_id_token_header_within_the_rules_signs_in(browser, app_url, control, crafted):
    control("POST", "faults", tenant="auth0", fault="jws_header", **crafted)
    page = sign_in(browser, app_url, "auth0")
    assert page.url == f"{app_url}/account", page.text[:800]


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def x5u_server():
    """An attacker's certificate URL that records whether anyone came for it."""
    handler = type("Recorder", (_Recorder,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/attacker.pem", handler.hits
    server.shutdown()
    server.server_close()


def test_an_x5u_is_never_fetched(browser, app_url, control, x5u_server):
    url, hits = x5u_server
    control("POST", "faults", tenant="auth0", fault="jws_header", signer="stray",
            set={"kid": None, "x5u": url})
    page = sign_in(browser, app_url, "auth0")
    assert_refused(page, "id_token_rejected", browser, app_url)
    assert "Check &#39;signature&#39; failed" in page.text
    assert hits == []


def test_a_logout_token_is_not_an_id_token_at_sign_in(browser, app_url, control):
    control("POST", "faults", tenant="auth0", fault="logout_token")
    page = sign_in(browser, app_url, "auth0")
    assert_refused(page, "id_token_rejected", browser, app_url)
    assert "Check &#39;events&#39; failed" in page.text


def test_a_logout_token_is_not_a_refreshed_id_token(browser, app_url, control):
    # No nonce is required of a refreshed id token: only its events claim tells.
    page = sign_in(browser, app_url, "google")
    control("POST", "faults", tenant="google", fault="logout_token")
    failed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-error="id_token_rejected"' in failed.text
    assert "Check &#39;events&#39; failed" in failed.text
    assert 'data-state="refresh_failed"' in browser.get(f"{app_url}/account").text
