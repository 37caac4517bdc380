"""The provider stand-ins, moto, and the AWS stand-in's two servers on loopback ports.

Self-contained: nothing is imported from another conftest. The tests use their
own bucket and role names so they never disturb the app's tests, which share
moto's per-process state.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from werkzeug.serving import make_server

from standins import StandinRequestHandler, create_standins_app
from standins.aws import bootstrap, create_identity_app, create_s3_app, create_sts_app, start_moto
from standins.aws.settings import SiteKey

APP = "http://localhost:8000"
POOL_ID = "us-east-1:0f3c0c2e-7d55-4d8e-9a57-1c2f3e4d5a6b"
BUCKET = "fedlab-standin-tests"
AUTH_ROLE, GUEST_ROLE = "fedlab-test-authenticated", "fedlab-test-guest"
MAPPED_ROLES = {"admins": "fedlab-test-admins", "readers": "fedlab-test-readers"}
SITE_USER = "fedlab-test-site"
DEVELOPER_PROVIDER = "login.fedlab.test"
ACCOUNT = "123456789012"
GRAPH_VERSION = "v21.0"
FACEBOOK_APP, FACEBOOK_SECRET = "100000000000001", "facebook-app-secret"
SECRET = "client-secret"
CLIENTS = {"cognito": "fedlab-cognito-client", "auth0": "fedlab-auth0-client",
           "google": "fedlab-google-client.apps.googleusercontent.com",
           "facebook": FACEBOOK_APP}
LOGINS_KEYS = {"cognito": "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab",
               "auth0": "fedlab-demo.us.auth0.com", "google": "accounts.google.com",
               "facebook": "graph.facebook.com"}
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
NO_RETRIES = Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"})


def provider_settings(base: str) -> dict[str, Any]:
    return {
        "base_url": base,
        "users": [{"key": "alice", "password": "alice-pass", "email": "alice@example.com"},
                  {"key": "bob", "password": "bob-pass", "email": "bob@example.com"}],
        "clients": [{"tenant": tenant, "client_id": client,
                     "client_secret": FACEBOOK_SECRET if tenant == "facebook" else SECRET,
                     "redirect_uris": [f"{APP}/auth/{tenant}/callback"]}
                    for tenant, client in CLIENTS.items()],
        "cognito": {"user_pool_id": "us-east-1_FedLab", "region": "us-east-1"},
        "facebook": {"graph_version": GRAPH_VERSION},
    }


def aws_settings(base: str, **changes: Any) -> dict[str, Any]:
    settings = {
        "region": "us-east-1", "account_id": "123456789012", "identity_pool_id": POOL_ID,
        "allow_unauthenticated": True, "bucket": BUCKET, "app_origins": [APP],
        "credentials_lifetime": 3600, "authenticated_role": AUTH_ROLE, "guest_role": GUEST_ROLE,
        "site_user": SITE_USER, "mapped_roles": MAPPED_ROLES,
        "developer_provider_name": DEVELOPER_PROVIDER, "allow_classic_flow": True,
        "providers": [
            {"logins_key": LOGINS_KEYS["cognito"], "type": "oidc",
             "issuer": f"{base}/cognito-idp/us-east-1_FedLab",
             "client_ids": [CLIENTS["cognito"], "fedlab-cognito-google-client"]},
            {"logins_key": LOGINS_KEYS["auth0"], "type": "oidc", "issuer": f"{base}/auth0/",
             "client_ids": [CLIENTS["auth0"]]},
            {"logins_key": LOGINS_KEYS["google"], "type": "oidc", "issuer": f"{base}/google",
             "client_ids": [CLIENTS["google"]]},
            {"logins_key": LOGINS_KEYS["facebook"], "type": "facebook",
             "graph_url": f"{base}/graph", "graph_version": GRAPH_VERSION,
             "app_id": FACEBOOK_APP, "app_secret": FACEBOOK_SECRET},
        ],
    }
    settings.update(changes)
    return settings


def serve(app: Any = None, handler: Any = None) -> tuple[Any, str]:
    kwargs = {"request_handler": handler} if handler else {}
    server = make_server("127.0.0.1", 0, app or (lambda environ, start: []), threaded=True,
                         **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@dataclass
class Stack:
    """Everything a test needs: URLs, clients, tokens (this folder is not a package, so
    tests reach the constants through the ``aws`` fixture too)."""

    POOL_ID: ClassVar[str] = POOL_ID
    BUCKET: ClassVar[str] = BUCKET
    APP: ClassVar[str] = APP
    AUTH_ROLE: ClassVar[str] = AUTH_ROLE
    GUEST_ROLE: ClassVar[str] = GUEST_ROLE
    LOGINS_KEYS: ClassVar[dict[str, str]] = LOGINS_KEYS

    base: str  # the provider stand-ins
    providers: Any  # their Flask app
    moto_url: str
    identity_url: str
    s3_url: str
    identity_app: Any
    s3_app: Any
    site_key: SiteKey
    sts_url: str

    # -- clients --------------------------------------------------------------

    def identity(self, url: str | None = None) -> Any:
        return boto3.client("cognito-identity", endpoint_url=url or self.identity_url,
                            region_name="us-east-1", config=NO_RETRIES)

    def signed(self, service: str = "cognito-identity", key: SiteKey | None = None,
               url: str | None = None) -> Any:
        """A client signed with an IAM user's key (the site's by default)."""
        key = key or self.site_key
        return boto3.client(service, endpoint_url=url or self.identity_url,
                            region_name="us-east-1", aws_access_key_id=key.access_key_id,
                            aws_secret_access_key=key.secret_access_key,
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def operator(self, url: str | None = None) -> Any:
        """A client signed with the admin key (an operator allowed everything)."""
        return boto3.client("cognito-identity", endpoint_url=url or self.identity_url,
                            region_name="us-east-1", **ADMIN,
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def admin(self, service: str) -> Any:
        """A client straight to moto with the bootstrap's dummy credentials."""
        return boto3.client(service, endpoint_url=self.moto_url, region_name="us-east-1",
                            **ADMIN)

    def settings(self, **changes: Any) -> dict[str, Any]:
        return aws_settings(self.base, **changes)

    def s3(self, credentials: dict[str, Any] | None = None) -> Any:
        if credentials is None:
            return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1", **ADMIN)
        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1",
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretKey"],
                            aws_session_token=credentials["SessionToken"],
                            config=Config(signature_version="s3v4",
                                          retries={"max_attempts": 1, "mode": "standard"}))

    def sts(self, credentials: dict[str, Any]) -> Any:
        return boto3.client("sts", endpoint_url=self.moto_url, region_name="us-east-1",
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretKey"],
                            aws_session_token=credentials["SessionToken"])

    def control(self, service: str, method: str, path: str, **body: Any) -> Any:
        base = self.identity_url if service == "identity" else self.s3_url
        answer = requests.request(method, f"{base}/_control/{path}", json=body or None,
                                  timeout=5)
        answer.raise_for_status()
        return answer.json()

    # -- tokens ---------------------------------------------------------------

    def id_token(self, tenant: str, sub: str = "user-1", **claims: Any) -> str:
        """An id token signed with ``tenant``'s own published key (the stand-in's key
        material), with ``claims`` overriding the usual ones."""
        signer = self.providers.extensions["standins"][tenant]
        now = int(time.time())
        body = {"iss": signer.issuer, "sub": sub, "aud": CLIENTS.get(tenant, "x"),
                "iat": now, "exp": now + 600, "token_use": "id"}
        body.update(claims)
        return signer.sign({k: v for k, v in body.items() if v is not None})

    def sign_in(self, tenant: str, user: str) -> str:
        """A real sign-in at the provider stand-in: its id token (Facebook: access token)."""
        http = requests.Session()
        paths = {"google": "/google/o/oauth2/v2/auth",
                 "facebook": f"/facebook/{GRAPH_VERSION}/dialog/oauth"}
        query = {"client_id": CLIENTS[tenant], "redirect_uri": f"{APP}/auth/{tenant}/callback",
                 "state": "s"}
        query.update({"scope": "email,public_profile"} if tenant == "facebook" else
                     {"scope": "openid email", "response_type": "code", "nonce": "n"})
        page = http.get(self.base + paths[tenant], params=query, timeout=10)
        for button in (f"Sign in as {user}", "Allow"):
            if f">{button}</button>" in page.text:
                action, fields = form_of(page.text, button)
                page = http.post(self.base + action, data=fields, allow_redirects=False,
                                 timeout=10)
        assert page.status_code == 302, page.text
        code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
        callback = f"{APP}/auth/{tenant}/callback"
        if tenant == "facebook":
            answer = requests.get(f"{self.base}/graph/{GRAPH_VERSION}/oauth/access_token",
                                  params={"client_id": FACEBOOK_APP, "code": code,
                                          "client_secret": FACEBOOK_SECRET,
                                          "redirect_uri": callback}, timeout=10)
            return answer.json()["access_token"]
        answer = requests.post(f"{self.base}/google/token", timeout=10, auth=(CLIENTS[tenant],
                               SECRET), data={"grant_type": "authorization_code",
                                              "code": code, "redirect_uri": callback})
        return answer.json()["id_token"]

    def credentials(self, logins: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
        """GetId then GetCredentialsForIdentity: (identity id, credentials)."""
        client = self.identity()
        params: dict[str, Any] = {"Logins": logins} if logins else {}
        identity_id = client.get_id(IdentityPoolId=POOL_ID, **params)["IdentityId"]
        answer = client.get_credentials_for_identity(IdentityId=identity_id, **params)
        return identity_id, answer["Credentials"]


def form_of(html: str, button: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the form holding ``button`` on a stand-in page."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        for match in re.finditer(r"<button([^>]*)>([^<]*)</button>", form):
            if match.group(2).strip() == button:
                action = unescape(re.search(r'action="([^"]*)"', form).group(1))
                fields = {m.group(1): unescape(m.group(2)) for m in re.finditer(
                    r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
                name = re.search(r'name="([^"]+)"', match.group(1))
                if name:
                    fields[name.group(1)] = unescape(
                        re.search(r'value="([^"]*)"', match.group(1)).group(1))
                return action, fields
    raise AssertionError(f"no button {button!r} on the page:\n{html}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    providers_server, base = serve(handler=StandinRequestHandler)
    providers = create_standins_app(provider_settings(base))
    providers_server.app = providers
    moto, moto_url = start_moto("127.0.0.1", 0)
    settings = aws_settings(base)
    site_key = bootstrap(settings, moto_url)
    identity_app = create_identity_app(settings, moto_url, [site_key])
    s3_app = create_s3_app(settings, moto_url, identity_app)
    identity_server, identity_url = serve(identity_app)
    s3_server, s3_url = serve(s3_app)
    sts_server, sts_url = serve(create_sts_app(settings, moto_url, identity_app))
    yield Stack(base, providers, moto_url, identity_url, s3_url, identity_app, s3_app,
                site_key, sts_url)
    for server in (providers_server, identity_server, s3_server, sts_server):
        server.shutdown()
        server.server_close()
    moto.stop()


@pytest.fixture
def aws(stack: Stack) -> Iterator[Stack]:
    """The stack, with every control API reset after the test."""
    yield stack
    for service in ("identity", "s3"):
        stack.control(service, "POST", "reset")
    requests.post(f"{stack.base}/_control/reset", timeout=5).raise_for_status()


@pytest.fixture
def other_pool(stack: Stack) -> Iterator[Callable[..., str]]:
    """Serve another identity service for one test (a pool configured differently)."""
    started = []

    def start(keys: tuple[SiteKey, ...] = (), **changes: Any) -> str:
        server, url = serve(create_identity_app(aws_settings(stack.base, **changes),
                                                stack.moto_url, (stack.site_key, *keys)))
        started.append(server)
        return url

    yield start
    for server in started:
        server.shutdown()
        server.server_close()
