"""A real stand-ins server on a loopback port, and a scripted browser for it.

Self-contained on purpose: the fixtures here need nothing from tests/conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from standins import StandinRequestHandler, create_standins_app

APP = "http://localhost:8000"
TENANTS = ("cognito", "auth0", "google", "facebook", "oidc")
OIDC_TENANTS = ("cognito", "auth0", "google", "oidc")
SECRET = "s3cret-value"
AMAZON_CLIENT = "amzn1.application-oa2-client.standin0test000000000000000000"
AMAZON_APP_ID = "amzn1.application.standin0test0000000000000000000"
#: What the oidc tenant needs before it issues a refresh token (OpenID Connect Core 11).
OFFLINE = {"scope": "openid email profile offline_access", "prompt": "consent"}
USERS = [
    {"key": "alice", "username": "alice", "password": "alice-pass",
     "email": "alice@example.com", "name": "Alice Example", "groups": ["admins"]},
    {"key": "bob", "username": "bob", "password": "bob-pass",
     "email": "bob@example.com", "name": "Bob Builder", "groups": []},
]
AUTHORIZE = {
    "cognito": "/cognito/oauth2/authorize",
    "auth0": "/auth0/authorize",
    "google": "/google/o/oauth2/v2/auth",
    "facebook": "/facebook/v19.0/dialog/oauth",
    "oidc": "/oidc/authorize",
}
DISCOVERY = {
    "cognito": "/cognito-idp/us-east-1_FedLab/.well-known/openid-configuration",
    "auth0": "/auth0/.well-known/openid-configuration",
    "google": "/google/.well-known/openid-configuration",
    "oidc": "/oidc/.well-known/openid-configuration",
}


def client_id(tenant: str) -> str:
    return f"{tenant}-app"


def callback(tenant: str) -> str:
    return f"{APP}/auth/{tenant}/callback"


def settings_for(base_url: str) -> dict[str, Any]:
    clients = [
        {"tenant": t, "client_id": client_id(t), "client_secret": SECRET,
         "redirect_uris": [callback(t)], "logout_uris": [f"{APP}/"]}
        for t in TENANTS
    ]
    # A second entry for the same client: its URIs are merged into the first.
    clients.append({"tenant": "google", "client_id": client_id("google"),
                    "client_secret": SECRET, "redirect_uris": [f"{APP}/auth/google/other"]})
    # Login with Amazon's client ids and security profile ids have shapes of their own.
    clients.append({"tenant": "amazon", "client_id": AMAZON_CLIENT, "client_secret": SECRET,
                    "redirect_uris": [callback("amazon")]})
    return {"base_url": base_url, "users": USERS, "clients": clients,
            "cognito": {"user_pool_id": "us-east-1_FedLab", "region": "us-east-1"},
            "facebook": {"graph_version": "v19.0"}, "amazon": {"app_id": AMAZON_APP_ID}}


def serve(settings_factory: Any) -> tuple[str, Any, Any]:
    """Start a stand-ins app on a free loopback port; return (base URL, app, server)."""
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True,
                         request_handler=StandinRequestHandler)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app = create_standins_app(settings_factory(base_url))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return base_url, app, server


@pytest.fixture(scope="session")
def standins_server() -> Iterator[str]:
    """The base URL of a stand-ins server running for the whole session."""
    base_url, _, server = serve(settings_for)
    yield base_url
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_standins(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "standins_server" in request.fixturenames:
        base = request.getfixturevalue("standins_server")
        requests.post(f"{base}/_control/reset", timeout=5).raise_for_status()


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def form_of(html: str, button: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the form holding the button labelled ``button``."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        for match in re.finditer(r"<button([^>]*)>([^<]*)</button>", form):
            if match.group(2).strip() == button:
                action = unescape(re.search(r'action="([^"]*)"', form).group(1))
                fields = {m.group(1): unescape(m.group(2)) for m in re.finditer(
                    r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
                attrs = match.group(1)
                name = re.search(r'name="([^"]+)"', attrs)
                if name:
                    fields[name.group(1)] = unescape(re.search(r'value="([^"]*)"',
                                                               attrs).group(1))
                return action, fields
    raise AssertionError(f"no button {button!r} on the page:\n{html}")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Browser:
    """A requests.Session that clicks buttons on the stand-ins' pages."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()
        self.page: requests.Response | None = None

    def get(self, path_or_url: str, **params: Any) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        self.page = self.http.get(url, params=params or None, allow_redirects=False, timeout=10)
        return self.page

    def click(self, button: str, **extra: str) -> requests.Response:
        assert self.page is not None
        action, fields = form_of(self.page.text, button)
        fields.update(extra)
        self.page = self.http.post(self.base + action, data=fields, allow_redirects=False,
                                   timeout=10)
        return self.page

    def follow(self) -> requests.Response:
        """Follow one redirect that stays on the stand-ins."""
        assert self.page is not None and self.page.is_redirect
        return self.get(self.page.headers["Location"])

    def authorize(self, tenant: str, pkce: Pkce | None = None, **params: str,
                  ) -> requests.Response:
        query = {"client_id": client_id(tenant), "redirect_uri": callback(tenant),
                 "state": "state-123"}
        if tenant != "facebook":
            query.update(response_type="code", scope="openid email profile",
                         nonce="nonce-456")
        else:
            query.update(scope="email,public_profile")
        if pkce:
            query.update(code_challenge=pkce.challenge, code_challenge_method="S256")
        query.update(params)
        return self.get(AUTHORIZE[tenant], **query)

    def sign_in_and_allow(self, tenant: str, user: str = "alice", pkce: Pkce | None = None,
                          **params: str) -> dict[str, str]:
        """Walk authorize -> sign in -> Allow; return the callback's query parameters."""
        page = self.authorize(tenant, pkce, **params)
        if f">Sign in as {user}</button>" in page.text:
            page = self.click(f"Sign in as {user}")
        if ">Allow</button>" in page.text:
            page = self.click("Allow")
        return self.callback_params(tenant)

    def callback_params(self, tenant: str) -> dict[str, str]:
        assert self.page is not None
        assert self.page.status_code == 302, self.page.text
        location = self.page.headers["Location"]
        assert location.startswith(callback(tenant)), location
        return query_of(location)


@pytest.fixture
def browser(standins_server: str) -> Browser:
    return Browser(standins_server)


TOKEN = {
    "cognito": "/cognito/oauth2/token",
    "auth0": "/auth0/oauth/token",
    "google": "/google/token",
    "oidc": "/oidc/token",
}


def exchange(base: str, tenant: str, code: str, pkce: Pkce | None = None,
             secret: str = SECRET, **extra: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": callback(tenant)}
    if pkce:
        data["code_verifier"] = pkce.verifier
    data.update(extra)
    return requests.post(base + TOKEN[tenant], data=data, auth=(client_id(tenant), secret),
                         timeout=10)


def refresh(base: str, tenant: str, refresh_token: str) -> requests.Response:
    return requests.post(base + TOKEN[tenant], data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": client_id(tenant), "client_secret": SECRET}, timeout=10)


def jwks_of(base: str, tenant: str) -> KeySet:
    document = requests.get(base + DISCOVERY[tenant], timeout=10).json()
    return KeySet.import_key_set(requests.get(document["jwks_uri"], timeout=10).json())


def verify(base: str, tenant: str, token: str) -> dict[str, Any]:
    """Verify ``token``'s RS256 signature against the tenant's published JWKS."""
    return jwt.decode(token, jwks_of(base, tenant), algorithms=["RS256"]).claims


def unverified_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import json

    def part(raw: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))

    head, body, _ = token.split(".")
    return part(head), part(body)


def signed_in_tokens(browser: Browser, tenant: str, **params: str) -> dict[str, Any]:
    """A full sign-in ending with the token response's JSON."""
    pkce = Pkce.new()
    result = browser.sign_in_and_allow(tenant, pkce=pkce, **params)
    response = exchange(browser.base, tenant, result["code"], pkce)
    assert response.status_code == 200, response.text
    return response.json()


def set_fault(base: str, tenant: str, fault: str, **params: Any) -> None:
    response = requests.post(f"{base}/_control/faults",
                             json={"tenant": tenant, "fault": fault, **params}, timeout=5)
    assert response.status_code == 200, response.text


@pytest.fixture
def helpers() -> Any:
    """The module's helpers, for tests (this folder has no package to import from)."""
    import sys

    return sys.modules[__name__]
