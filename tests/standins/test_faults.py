"""Each fault has the effect it promises, and the control API does what it says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from email.utils import parsedate_to_datetime

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError

pytestmark = pytest.mark.usefixtures("standins_server")


def _id_token(browser, helpers, tenant, fault, **params):
    helpers.set_fault(browser.base, tenant, fault, **params)
    return helpers.signed_in_tokens(browser, tenant)["id_token"]


@pytest.mark.parametrize(("fault", "check"), [
    ("wrong_issuer", lambda c, cid: c["iss"] != "ISS"),
    ("wrong_audience", lambda c, cid: c["aud"] == "another-client"),
    ("wrong_audience_right_azp", lambda c, cid: c["aud"] == ["another-client"]
     and c["azp"] == cid),
    ("multiple_audiences_no_azp", lambda c, cid: c["aud"] == [cid, "another-client"]
     and "azp" not in c),
    ("wrong_azp", lambda c, cid: c["azp"] == "another-client"),
    ("bad_nonce", lambda c, cid: c["nonce"] != "nonce-456"),
    ("missing_nonce", lambda c, cid: "nonce" not in c),
    ("expired", lambda c, cid: c["exp"] < time.time() - 3000),
    ("iat_future", lambda c, cid: c["iat"] > time.time() + 3000),
    ("bad_at_hash", lambda c, cid: c["at_hash"] == "AAAAAAAAAAAAAAAAAAAAAA"),
    ("no_at_hash", lambda c, cid: "at_hash" not in c),
])
def test_claim_faults(browser, helpers, fault, check):
    token = _id_token(browser, helpers, "google", fault)
    claims = helpers.verify(browser.base, "google", token)  # still properly signed
    assert check(claims, "google-app")
    if fault == "wrong_issuer":
        assert claims["iss"] != f"{browser.base}/google"


def test_token_use_access(browser, helpers):
    claims = helpers.verify(browser.base, "cognito",
                            _id_token(browser, helpers, "cognito", "token_use_access"))
    assert claims["token_use"] == "access"


def test_bad_signature(browser, helpers):
    token = _id_token(browser, helpers, "auth0", "bad_signature")
    with pytest.raises(BadSignatureError):
        helpers.verify(browser.base, "auth0", token)


def test_alg_none(browser, helpers):
    token = _id_token(browser, helpers, "oidc", "alg_none")
    header, claims = helpers.unverified_claims(token)
    assert header["alg"] == "none" and token.endswith(".") and claims["sub"]
    doc = requests.get(browser.base + helpers.DISCOVERY["oidc"], timeout=5).json()
    assert "none" in doc["id_token_signing_alg_values_supported"]


def test_hs256_public_key(browser, helpers):
    token = _id_token(browser, helpers, "google", "hs256_public_key")
    header, _ = helpers.unverified_claims(token)
    assert header["alg"] == "HS256"
    jwk = helpers.jwks_of(browser.base, "google").keys[0]
    pem = jwk.as_pem(private=False)
    signing_input, signature = token.rsplit(".", 1)
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature


def test_unknown_kid(browser, helpers):
    token = _id_token(browser, helpers, "cognito", "unknown_kid")
    header, _ = helpers.unverified_claims(token)
    kids = {k.kid for k in helpers.jwks_of(browser.base, "cognito").keys}
    assert header["kid"] not in kids


def test_userinfo_other_sub(browser, helpers):
    tokens = helpers.signed_in_tokens(browser, "oidc")
    helpers.set_fault(browser.base, "oidc", "userinfo_other_sub")
    info = requests.get(f"{browser.base}/oidc/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] != helpers.verify(browser.base, "oidc", tokens["id_token"])["sub"]


def test_discovery_other_issuer(browser, helpers):
    helpers.set_fault(browser.base, "auth0", "discovery_other_issuer")
    doc = requests.get(browser.base + helpers.DISCOVERY["auth0"], timeout=5).json()
    assert doc["issuer"] != f"{browser.base}/auth0/"


def test_iss_parameter_faults(browser, helpers):
    helpers.set_fault(browser.base, "oidc", "wrong_iss_param")
    assert browser.sign_in_and_allow("oidc")["iss"] != f"{browser.base}/oidc"
    assert "iss" not in browser.sign_in_and_allow("google")
    helpers.set_fault(browser.base, "google", "iss_param")
    assert browser.sign_in_and_allow("google")["iss"] == f"{browser.base}/google"


def test_debug_token_faults(browser, helpers):
    base = browser.base
    code = browser.sign_in_and_allow("facebook")["code"]
    access = requests.get(f"{base}/graph/v19.0/oauth/access_token", timeout=5, params={
        "client_id": "facebook-app", "client_secret": helpers.SECRET, "code": code,
        "redirect_uri": helpers.callback("facebook")}).json()["access_token"]
    query = {"input_token": access, "access_token": f"facebook-app|{helpers.SECRET}"}
    helpers.set_fault(base, "facebook", "debug_token_other_app")
    data = requests.get(f"{base}/graph/debug_token", params=query, timeout=5).json()["data"]
    assert data["app_id"] != "facebook-app"
    helpers.set_fault(base, "facebook", "debug_token_invalid")
    data = requests.get(f"{base}/graph/debug_token", params=query, timeout=5).json()["data"]
    assert data["is_valid"] is False


def test_refresh_fails(browser, helpers):
    tokens = helpers.signed_in_tokens(browser, "cognito")
    helpers.set_fault(browser.base, "cognito", "refresh_fails")
    response = helpers.refresh(browser.base, "cognito", tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_outages(standins_server, helpers):
    base = standins_server
    google_doc = base + helpers.DISCOVERY["google"]
    helpers.set_fault(base, "google", "down")
    assert requests.get(google_doc, timeout=5).status_code == 503
    assert requests.get(f"{base}/google/o/oauth2/v2/auth", timeout=5).status_code == 503
    requests.delete(f"{base}/_control/faults", timeout=5)
    helpers.set_fault(base, "google", "down", endpoint="jwks")  # only the keys are down
    assert requests.get(f"{base}/google/oauth2/v3/certs", timeout=5).status_code == 503
    assert requests.get(google_doc, timeout=5).status_code == 200
    requests.delete(f"{base}/_control/faults", timeout=5)
    helpers.set_fault(base, "google", "error_500", endpoint="discovery")
    assert requests.get(google_doc, timeout=5).status_code == 500
    assert requests.get(f"{base}/google/oauth2/v3/certs", timeout=5).status_code == 200
    requests.delete(f"{base}/_control/faults", timeout=5)
    helpers.set_fault(base, "auth0", "garbage", endpoint="jwks")
    garbage = requests.get(f"{base}/auth0/.well-known/jwks.json", timeout=5)
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    helpers.set_fault(base, "oidc", "slow", seconds=2, endpoint="jwks")
    with pytest.raises(requests.exceptions.ReadTimeout):  # slow: no answer within 0.5 s
        requests.get(f"{base}/oidc/jwks", timeout=0.5)
    requests.delete(f"{base}/_control/faults", timeout=5)
    assert requests.get(f"{base}/oidc/jwks", timeout=5).status_code == 200


def test_fault_listing_and_unknown_fault(standins_server, helpers):
    helpers.set_fault(standins_server, "google", "slow", seconds=1, endpoint="token")
    listing = requests.get(f"{standins_server}/_control/faults", timeout=5).json()
    assert listing["google"] == {"slow": {"seconds": 1, "endpoint": "token"}}
    bad = requests.post(f"{standins_server}/_control/faults", timeout=5,
                        json={"tenant": "google", "fault": "nonsense"})
    assert bad.status_code == 400
    requests.delete(f"{standins_server}/_control/faults", timeout=5)
    assert requests.get(f"{standins_server}/_control/faults", timeout=5).json()["google"] == {}


def test_key_rotation(browser, helpers):
    base = browser.base
    old_kid = helpers.jwks_of(base, "auth0").keys[0].kid
    rotated = requests.post(f"{base}/_control/rotate-keys", json={"tenant": "auth0"},
                            timeout=5).json()
    kids = [k.kid for k in helpers.jwks_of(base, "auth0").keys]
    assert rotated["kid"] != old_kid and set(kids) == {old_kid, rotated["kid"]}
    token = helpers.signed_in_tokens(browser, "auth0")["id_token"]
    assert helpers.unverified_claims(token)[0]["kid"] == rotated["kid"]
    helpers.verify(base, "auth0", token)
    requests.post(f"{base}/_control/rotate-keys", json={"tenant": "auth0", "drop_old": True},
                  timeout=5)
    assert len(helpers.jwks_of(base, "auth0").keys) == 1
    requests.post(f"{base}/_control/reset", timeout=5)
    assert [k.kid for k in helpers.jwks_of(base, "auth0").keys] == [old_kid]


def test_client_misconfiguration(browser, helpers):
    base = browser.base
    response = requests.post(f"{base}/_control/clients", timeout=5, json={
        "tenant": "google", "client_id": "google-app", "redirect_uris": [f"{helpers.APP}/x"]})
    assert response.status_code == 200
    assert browser.authorize("google").status_code == 400
    requests.post(f"{base}/_control/reset", timeout=5)
    assert browser.authorize("google").status_code == 200


def test_merged_client_entries(browser, helpers):
    page = browser.authorize("google", redirect_uri=f"{helpers.APP}/auth/google/other")
    assert page.status_code == 200


def test_calls_and_events(browser, helpers):
    base = browser.base
    requests.delete(f"{base}/_control/calls", timeout=5)
    helpers.signed_in_tokens(browser, "oidc")
    helpers.jwks_of(base, "oidc")
    calls = requests.get(f"{base}/_control/calls", timeout=5).json()["oidc"]
    assert calls["token"] == 1 and calls["jwks"] == 1 and calls["discovery"] == 1
    assert calls["authorize"] == 3
    requests.delete(f"{base}/_control/calls", timeout=5)
    assert requests.get(f"{base}/_control/calls", timeout=5).json()["oidc"] == {}
    browser.get("/oidc/end_session", client_id="oidc-app",
                post_logout_redirect_uri=f"{helpers.APP}/")
    browser.click("Yes, sign me out")
    events = requests.get(f"{base}/_control/events", timeout=5).json()
    assert events[-1]["event"] == "logout" and events[-1]["tenant"] == "oidc"
    requests.delete(f"{base}/_control/events", timeout=5)
    assert requests.get(f"{base}/_control/events", timeout=5).json() == []


def test_clock_skew(browser, helpers):
    base = browser.base
    requests.post(f"{base}/_control/clock", json={"tenant": "google", "skew_seconds": -7200},
                  timeout=5)
    token = helpers.signed_in_tokens(browser, "google")["id_token"]
    claims = helpers.unverified_claims(token)[1]
    assert claims["iat"] < time.time() - 7000
    response = requests.get(f"{base}/google/oauth2/v3/certs", timeout=5)
    assert parsedate_to_datetime(response.headers["Date"]).timestamp() < time.time() - 7000
    with pytest.raises(ExpiredTokenError):
        jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)


def test_refresh_other_sub(browser, helpers):
    before = helpers.signed_in_tokens(browser, "oidc")
    helpers.set_fault(browser.base, "oidc", "refresh_other_sub")
    tokens = helpers.signed_in_tokens(browser, "oidc", **helpers.OFFLINE)
    signed_in = helpers.verify(browser.base, "oidc", tokens["id_token"])
    assert signed_in["sub"] == helpers.verify(browser.base, "oidc", before["id_token"])["sub"]
    response = helpers.refresh(browser.base, "oidc", tokens["refresh_token"])
    refreshed = helpers.verify(browser.base, "oidc", response.json()["id_token"])
    assert refreshed["sub"] != signed_in["sub"]
    assert refreshed["iss"] == signed_in["iss"] and refreshed["aud"] == signed_in["aud"]


def test_refresh_keeps_nonce(browser, helpers):
    tokens = helpers.signed_in_tokens(browser, "oidc", **helpers.OFFLINE)
    response = helpers.refresh(browser.base, "oidc", tokens["refresh_token"])
    assert "nonce" not in helpers.verify(browser.base, "oidc", response.json()["id_token"])
    helpers.set_fault(browser.base, "oidc", "refresh_keeps_nonce")
    # The tenant rotates refresh tokens: the next refresh uses the one just returned.
    response = helpers.refresh(browser.base, "oidc", response.json()["refresh_token"])
    refreshed = helpers.verify(browser.base, "oidc", response.json()["id_token"])
    assert refreshed["nonce"] == helpers.verify(browser.base, "oidc", tokens["id_token"])["nonce"]
