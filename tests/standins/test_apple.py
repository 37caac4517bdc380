"""The Sign in with Apple stand-in, over its HTTP endpoints: the client secret it
takes (an ES256 JWT checked with the registered key), the ``form_post`` it
requires for the name and e-mail, the ``user`` field of a first authorization,
Apple's id-token claims and its cancel error."""

from __future__ import annotations

import json
import time
from html import unescape
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import KeySet

from standins import create_standins_app

BASE = "http://standins.test"
APP = "http://localhost:8000"
CLIENT_ID = "com.example.web"
TEAM_ID, KEY_ID = "TEAMID1234", "KEYID12345"
CALLBACK = f"{APP}/auth/apple/callback"
USERS = [{"key": "alice", "username": "alice", "password": "alice-pass",
          "email": "alice@example.com", "name": "Alice Example"},
         {"key": "carol", "username": "carol", "password": "carol-pass",
          "email": "carol@example.com", "name": "Carol Example"}]


def pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


SITE_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def standins_app() -> Any:
    public = SITE_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    app = create_standins_app({
        "base_url": BASE, "users": USERS,
        "clients": [{"tenant": "apple", "client_id": CLIENT_ID, "client_secret": "",
                     "redirect_uris": [CALLBACK]}],
        "apple": {"team_id": TEAM_ID, "key_id": KEY_ID, "public_key": public}})
    return app


@pytest.fixture
def standins(standins_app: Any) -> Any:
    """The module's stand-ins, reset (clients, consents, events) for each test."""
    http = standins_app.test_client()
    http.post("/_control/reset")
    http.delete("/_control/events")
    return standins_app


def client_secret(key: Any = SITE_KEY, *, lifetime: int = 3600, kid: str = KEY_ID,
                  alg: str = "ES256", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": TEAM_ID, "iat": now, "exp": now + lifetime,
              "aud": "https://appleid.apple.com", "sub": CLIENT_ID, **changes}
    return jose_jwt.encode(claims, pem(key), algorithm=alg, headers={"kid": kid})


def token_request(standins: Any, secret: str, code: str = "no-such-code") -> Any:
    return standins.test_client().post("/apple/auth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "client_id": CLIENT_ID, "client_secret": secret})


def events(standins: Any) -> list[dict[str, Any]]:
    return [e for e in standins.test_client().get("/_control/events").get_json()
            if e.get("event") == "client_secret"]


def test_a_good_client_secret_is_accepted(standins):
    secret = client_secret()
    answer = token_request(standins, secret)
    # The client authenticated; only the made-up code is refused.
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    # The event says it passed, and which secret it was (for tests that look for it).
    assert [(e["accepted"], e["secret"]) for e in events(standins)] == [(True, secret)]


@pytest.mark.parametrize("secret, problem", [
    (lambda: client_secret(ec.generate_private_key(ec.SECP256R1())), "signature"),
    (lambda: client_secret(kid="OTHERKEY01"), "kid"),
    (lambda: client_secret(iss="OTHERTEAM1"), "iss"),
    (lambda: client_secret(sub="com.example.other"), "sub"),
    (lambda: client_secret(aud="https://example.com"), "aud"),
    (lambda: client_secret(lifetime=15777001), "six months"),
    (lambda: client_secret(exp=int(time.time()) - 10), "expired"),
    (lambda: client_secret(rsa.generate_private_key(65537, 2048), alg="RS256"), "signature"),
    (lambda: "a-plain-secret", "signature"),
])
def test_a_bad_client_secret_is_invalid_client(standins, secret, problem):
    answer = token_request(standins, secret())
    # Apple answers 400 (the secret is in the form, not an Authorization header).
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_client"
    [event] = events(standins)
    assert event["accepted"] is False and problem in event["problem"]


def test_six_months_exactly_is_accepted(standins):
    answer = token_request(standins, client_secret(lifetime=15777000))
    assert answer.get_json()["error"] == "invalid_grant"


def authorize(standins: Any, scope: str = "name email", mode: str = "form_post",
              user: str = "alice") -> Any:
    http = standins.test_client()
    query = {"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "response_type": "code",
             "scope": scope, "state": "st", "nonce": "n-1", "response_mode": mode}
    page = http.get("/apple/auth/authorize", query_string=query)
    if page.status_code != 200 or "Sign in as" not in page.text:
        return http, page
    csrf = unescape(page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0])
    page = http.post("/apple/auth/authorize", query_string=query,
                     data={"step": "login", "csrf": csrf, "user": user})
    return http, page


def consent(http: Any, page: Any, decision: str = "allow") -> dict[str, str]:
    csrf = unescape(page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0])
    action = unescape(page.text.split('action="', 1)[1].split('"', 1)[0])
    answer = http.post(action, data={"step": "consent", "csrf": csrf, "decision": decision})
    return posted_fields(answer.text)


def posted_fields(text: str) -> dict[str, str]:
    fields = {}
    for chunk in text.split('<input type="hidden" name="')[1:]:
        name, rest = chunk.split('"', 1)
        fields[name] = unescape(rest.split('value="', 1)[1].split('"', 1)[0])
    return fields


def test_the_name_or_email_scope_needs_form_post(standins):
    _, page = authorize(standins, mode="query")
    assert page.status_code == 400 and "response_mode" in page.text
    _, page = authorize(standins, scope="", mode="query")  # signed in: the consent page
    assert page.status_code == 200 and 'value="allow"' in page.text


def test_the_first_authorization_posts_the_name_and_later_ones_do_not(standins):
    http, page = authorize(standins)
    first = consent(http, page)
    assert set(first) == {"code", "state", "user"}
    assert json.loads(first["user"]) == {"name": {"firstName": "Alice", "lastName": "Example"},
                                        "email": "alice@example.com"}
    again = http.get("/apple/auth/authorize", query_string={
        "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "name email", "state": "st2", "response_mode": "form_post"})
    assert set(posted_fields(again.text)) == {"code", "state"}


def test_cancel_is_user_cancelled_authorize(standins):
    http, page = authorize(standins)
    fields = consent(http, page, decision="deny")
    assert fields["error"] == "user_cancelled_authorize" and "code" not in fields


def test_the_id_token_has_apples_claims_and_a_private_relay_for_hide_my_email(standins):
    http, page = authorize(standins, user="carol")
    code = consent(http, page)["code"]
    answer = token_request(standins, client_secret(), code)
    assert answer.status_code == 200, answer.text
    body = answer.get_json()
    assert "scope" not in body  # Apple's token response has none
    keys = KeySet.import_key_set(http.get("/apple/auth/keys").get_json())
    claims = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == f"{BASE}/apple" and claims["aud"] == CLIENT_ID
    assert claims["nonce"] == "n-1" and claims["nonce_supported"] is True
    assert claims["email"].endswith("@privaterelay.appleid.com")
    assert claims["email_verified"] == "true" and claims["is_private_email"] == "true"
    assert claims["real_user_status"] == 2 and "name" not in claims
    discovery = http.get("/apple/.well-known/openid-configuration").get_json()
    assert "userinfo_endpoint" not in discovery
    assert discovery["revocation_endpoint"] == f"{BASE}/apple/auth/revoke"
