"""Each tenant's whole happy path over real HTTP, as the app will walk it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests

from standins import create_standins_app
from standins.settings import SettingsError

pytestmark = pytest.mark.usefixtures("standins_server")


def test_discovery_documents(standins_server, helpers):
    for tenant in helpers.OIDC_TENANTS:
        doc = requests.get(standins_server + helpers.DISCOVERY[tenant], timeout=5).json()
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert "openid" in doc["scopes_supported"]
        assert doc["token_endpoint_auth_methods_supported"]
        assert doc["authorization_endpoint"].endswith(helpers.AUTHORIZE[tenant])
    base = standins_server
    google = requests.get(base + helpers.DISCOVERY["google"], timeout=5).json()
    assert google["issuer"] == f"{base}/google"
    assert "end_session_endpoint" not in google
    assert google["jwks_uri"] == f"{base}/google/oauth2/v3/certs"
    assert requests.get(base + helpers.DISCOVERY["auth0"], timeout=5).json()["issuer"] == \
        f"{base}/auth0/"
    cognito = requests.get(base + helpers.DISCOVERY["cognito"], timeout=5).json()
    assert cognito["issuer"] == f"{base}/cognito-idp/us-east-1_FedLab"
    assert cognito["token_endpoint"] == f"{base}/cognito/oauth2/token"
    assert cognito["userinfo_endpoint"] == f"{base}/cognito/oauth2/userInfo"
    oidc = requests.get(base + helpers.DISCOVERY["oidc"], timeout=5).json()
    assert oidc["authorization_response_iss_parameter_supported"] is True
    assert oidc["end_session_endpoint"] == f"{base}/oidc/end_session"


def test_sign_in_page_is_plain_and_labelled(browser):
    page = browser.authorize("google")
    assert page.status_code == 200
    assert "<title>Sign in with Google (local stand-in)</title>" in page.text
    assert ">Sign in as alice</button>" in page.text
    assert '<label for="username">' in page.text and 'name="password"' in page.text
    assert 'name="csrf"' in page.text


def test_password_form_signs_in_and_wrong_password_does_not(browser):
    browser.authorize("oidc")
    page = browser.click("Continue with password", username="alice", password="nope")
    assert page.status_code == 401 and "Incorrect username or password" in page.text
    page = browser.click("Continue with password", username="alice", password="alice-pass")
    assert page.status_code == 200 and ">Allow</button>" in page.text


def test_cognito_full_flow(standins_server, browser, helpers):
    base = standins_server
    tokens = helpers.signed_in_tokens(browser, "cognito")
    assert {"id_token", "access_token", "refresh_token", "expires_in"} <= set(tokens)
    claims = helpers.verify(base, "cognito", tokens["id_token"])
    assert claims["iss"] == f"{base}/cognito-idp/us-east-1_FedLab"
    assert claims["aud"] == "cognito-app"
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == "alice"
    assert claims["cognito:groups"] == ["admins"]
    assert claims["nonce"] == "nonce-456"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    for name in ("at_hash", "auth_time", "origin_jti", "jti", "exp", "iat"):
        assert name in claims
    access = helpers.verify(base, "cognito", tokens["access_token"])
    assert access["token_use"] == "access" and access["client_id"] == "cognito-app"
    assert "aud" not in access and access["username"] == "alice"
    assert access["sub"] == claims["sub"] and "openid" in access["scope"]

    info = requests.get(f"{base}/cognito/oauth2/userInfo", timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] == claims["sub"] and info["username"] == "alice"

    refreshed = helpers.refresh(base, "cognito", tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()
    new_claims = helpers.verify(base, "cognito", refreshed.json()["id_token"])
    assert new_claims["sub"] == claims["sub"]
    assert new_claims["origin_jti"] == claims["origin_jti"]

    revoked = requests.post(f"{base}/cognito/oauth2/revoke", data={
        "token": tokens["refresh_token"]}, auth=("cognito-app", helpers.SECRET), timeout=5)
    assert revoked.status_code == 200
    assert helpers.refresh(base, "cognito", tokens["refresh_token"]).json()["error"] == \
        "invalid_grant"
    events = requests.get(f"{base}/_control/events", timeout=5).json()
    assert {"tenant": "cognito", "event": "revoke", "client_id": "cognito-app",
            "token_type": "refresh_token"}.items() <= events[-1].items()

    out = browser.get("/cognito/logout", client_id="cognito-app", logout_uri=f"{helpers.APP}/")
    assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/"
    assert "standin_cognito=;" in out.headers["Set-Cookie"]
    event = requests.get(f"{base}/_control/events", timeout=5).json()[-1]
    assert event["event"] == "logout" and event["logout_uri"] == f"{helpers.APP}/"
    # Signed out: the next sign-in asks for the password again.
    assert ">Sign in as alice</button>" in browser.authorize("cognito").text


def test_second_sign_in_skips_password_and_consent(browser, helpers):
    browser.sign_in_and_allow("auth0")
    page = browser.authorize("auth0")
    assert page.status_code == 302
    assert "code" in helpers.query_of(page.headers["Location"])


def test_auth0_full_flow(standins_server, browser, helpers):
    base = standins_server
    tokens = helpers.signed_in_tokens(browser, "auth0")
    assert "refresh_token" not in tokens  # no offline_access
    claims = helpers.verify(base, "auth0", tokens["id_token"])
    assert claims["iss"] == f"{base}/auth0/"
    assert claims["sub"].startswith("auth0|")
    assert claims["aud"] == "auth0-app"
    for name in ("nickname", "picture", "sid", "name", "email", "email_verified", "at_hash",
                 "nonce"):
        assert name in claims
    browser2 = type(browser)(base)
    tokens = helpers.signed_in_tokens(browser2, "auth0",
                                      scope="openid email profile offline_access")
    refreshed = helpers.refresh(base, "auth0", tokens["refresh_token"]).json()
    assert helpers.verify(base, "auth0", refreshed["id_token"])["sub"] == claims["sub"]
    info = requests.get(f"{base}/auth0/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert info.json()["sub"] == claims["sub"]
    assert requests.post(f"{base}/auth0/oauth/revoke", timeout=5, data={
        "token": tokens["refresh_token"], "client_id": "auth0-app",
        "client_secret": helpers.SECRET}).status_code == 200
    out = browser2.get("/auth0/v2/logout", client_id="auth0-app", returnTo=f"{helpers.APP}/")
    assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/"
    out = browser2.get("/auth0/oidc/logout", id_token_hint=tokens["id_token"],
                       post_logout_redirect_uri=f"{helpers.APP}/", state="s1")
    assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/?state=s1"


def test_google_full_flow_and_refresh_token_rules(standins_server, browser, helpers):
    base = standins_server
    first = helpers.signed_in_tokens(browser, "google", access_type="offline")
    assert "refresh_token" in first
    claims = helpers.verify(base, "google", first["id_token"])
    assert claims["iss"] == f"{base}/google"
    assert claims["azp"] == claims["aud"] == "google-app"
    assert len(claims["sub"]) == 21 and claims["sub"].isdigit()
    for name in ("email", "email_verified", "at_hash", "nonce", "name", "picture",
                 "given_name", "family_name", "iat", "exp"):
        assert name in claims
    # Consented before: offline again gives no new refresh token...
    assert "refresh_token" not in helpers.signed_in_tokens(browser, "google",
                                                           access_type="offline")
    # ...unless the app forces the consent screen.
    assert "refresh_token" in helpers.signed_in_tokens(browser, "google",
                                                       access_type="offline", prompt="consent")
    refreshed = helpers.refresh(base, "google", first["refresh_token"]).json()
    assert "id_token" in refreshed and "refresh_token" not in refreshed
    info = requests.get(f"{base}/google/v1/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {refreshed['access_token']}"}).json()
    assert info["sub"] == claims["sub"] and info["email"] == "alice@example.com"
    # Google's revoke takes the token alone.
    assert requests.post(f"{base}/google/revoke", data={"token": first["access_token"]},
                         timeout=5).status_code == 200
    assert helpers.refresh(base, "google", first["refresh_token"]).status_code == 400


def test_oidc_full_flow(standins_server, browser, helpers):
    """The plain OIDC tenant is as strict as oidc-provider (OpenID Certified)."""
    base = standins_server
    pkce = helpers.Pkce.new()
    params = browser.sign_in_and_allow("oidc", pkce=pkce, **helpers.OFFLINE)
    assert params["iss"] == f"{base}/oidc" and params["state"] == "state-123"
    tokens = helpers.exchange(base, "oidc", params["code"], pkce).json()
    assert "refresh_token" in tokens
    assert tokens["scope"] == helpers.OFFLINE["scope"]
    claims = helpers.verify(base, "oidc", tokens["id_token"])
    assert claims["iss"] == f"{base}/oidc" and claims["groups"] == ["admins"]
    # OpenID Connect Core 5.4: with an access token issued, the profile is in userinfo.
    assert not {"email", "email_verified", "name", "preferred_username"} & set(claims)
    again = helpers.refresh(base, "oidc", tokens["refresh_token"]).json()
    assert "id_token" in again
    assert again["refresh_token"] != tokens["refresh_token"]  # rotated
    info = requests.get(f"{base}/oidc/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {again['access_token']}"})
    assert info.json()["preferred_username"] == "alice"
    assert info.json()["email"] == "alice@example.com"
    assert requests.post(f"{base}/oidc/revoke", data={"token": again["access_token"]},
                         auth=("oidc-app", helpers.SECRET), timeout=5).status_code == 200
    assert requests.get(f"{base}/oidc/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {again['access_token']}"}).status_code == 401
    # RP-Initiated Logout asks first; "Yes" signs out and goes back.
    out = browser.get("/oidc/end_session", id_token_hint=tokens["id_token"],
                      post_logout_redirect_uri=f"{helpers.APP}/")
    assert out.status_code == 200 and "Yes, sign me out" in out.text
    out = browser.click("Yes, sign me out")
    assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/"


def test_oidc_sign_out_asked_by_a_post_form_is_confirmed_then_returns(standins_server,
                                                                      browser, helpers):
    """RP-Initiated Logout may come as a POST form: the confirmation keeps its fields."""
    browser.sign_in_and_allow("oidc")
    browser.page = browser.http.post(f"{standins_server}/oidc/end_session", timeout=10,
                                     allow_redirects=False, data={
                                         "client_id": "oidc-app", "state": "s-1",
                                         "post_logout_redirect_uri": f"{helpers.APP}/"})
    assert browser.page.status_code == 200
    out = browser.click("Yes, sign me out")
    assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/?state=s-1"
    # "No" keeps the provider's session and says so.
    browser.get("/oidc/end_session", client_id="oidc-app",
                post_logout_redirect_uri=f"{helpers.APP}/")
    assert "still signed in" in browser.click("No, stay signed in").text


def test_oidc_rotation_refuses_a_spent_refresh_token_and_ends_the_grant(standins_server,
                                                                        browser, helpers):
    base = standins_server
    tokens = helpers.signed_in_tokens(browser, "oidc", **helpers.OFFLINE)
    rotated = helpers.refresh(base, "oidc", tokens["refresh_token"]).json()["refresh_token"]
    reused = helpers.refresh(base, "oidc", tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # A reuse may be a thief's: the whole grant is revoked, the newest token too.
    assert helpers.refresh(base, "oidc", rotated).status_code == 400
    events = requests.get(f"{base}/_control/events", timeout=5).json()
    assert events[-1]["event"] == "refresh_token_reused"


def test_oidc_grants_less_than_asked(standins_server, browser, helpers):
    """A scope it does not offer is dropped, and offline_access without
    prompt=consent (OpenID Connect Core 11): then no refresh token."""
    tokens = helpers.signed_in_tokens(browser, "oidc",
                                      scope="openid email phone offline_access")
    assert tokens["scope"] == "openid email" and "refresh_token" not in tokens
    tokens = helpers.signed_in_tokens(browser, "oidc", scope="openid phone offline_access",
                                      prompt="consent")
    assert tokens["scope"] == "openid offline_access" and "refresh_token" in tokens
    # RFC 6749 section 6: a refresh may not ask for what was not granted.
    refused = requests.post(standins_server + helpers.TOKEN["oidc"], data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "scope": "openid phone offline_access", "client_id": "oidc-app",
        "client_secret": helpers.SECRET}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_behaviour_switches_from_settings_and_the_control_api(helpers):
    def lenient(base_url):
        return {**helpers.settings_for(base_url), "behaviour": {"oidc": {
            "rotate_refresh_tokens": False, "confirm_sign_out": False,
            "profile_in_id_token": True, "drops_unknown_scopes": False,
            "offline_access_needs_consent": False}}}

    base, _, server = helpers.serve(lenient)
    try:
        browser = helpers.Browser(base)
        tokens = helpers.signed_in_tokens(browser, "oidc", scope="openid email phone")
        assert tokens["scope"] == "openid email phone" and "refresh_token" in tokens
        assert helpers.verify(base, "oidc", tokens["id_token"])["email"] == "alice@example.com"
        for _ in range(2):
            again = helpers.refresh(base, "oidc", tokens["refresh_token"])
            assert again.status_code == 200 and "refresh_token" not in again.json()
        out = browser.get("/oidc/end_session", client_id="oidc-app",
                          post_logout_redirect_uri=f"{helpers.APP}/")
        assert out.status_code == 302
        # The control API switches one back on; a reset returns to the settings'.
        switched = requests.post(f"{base}/_control/behaviour", timeout=5, json={
            "tenant": "oidc", "confirm_sign_out": True}).json()
        assert switched["oidc"]["confirm_sign_out"] is True
        assert browser.get("/oidc/end_session", client_id="oidc-app",
                           post_logout_redirect_uri=f"{helpers.APP}/").status_code == 200
        requests.post(f"{base}/_control/reset", timeout=5).raise_for_status()
        behaviour = requests.get(f"{base}/_control/behaviour", timeout=5).json()
        assert behaviour["oidc"]["confirm_sign_out"] is False
        assert behaviour["auth0"]["rotate_refresh_tokens"] is False  # Auth0's default
        bad = requests.post(f"{base}/_control/behaviour", timeout=5,
                            json={"tenant": "oidc", "rotate": True})
        assert bad.status_code == 400 and "behaviour.rotate" in bad.json()["error"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("behaviour", "named"), [
    ({"okta": {}}, "behaviour.okta: not a tenant"),
    ({"oidc": {"rotate": True}}, "behaviour.oidc.rotate: not a behaviour"),
    ({"oidc": {"confirm_sign_out": "yes"}}, "behaviour.oidc.confirm_sign_out: must be true"),
])
def test_a_bad_behaviour_setting_stops_the_stand_ins_naming_the_key(helpers, behaviour, named):
    settings = {**helpers.settings_for("http://127.0.0.1:9"), "behaviour": behaviour}
    with pytest.raises(SettingsError, match=named):
        create_standins_app(settings)


def test_rp_initiated_logout_takes_client_id_instead_of_the_id_token(standins_server, browser,
                                                                     helpers):
    """RP-Initiated Logout 1.0, 2: client_id names the client when no hint is sent, as
    Auth0's /oidc/logout documents too; a return address then needs no token at all."""
    for tenant, path in (("oidc", "/oidc/end_session"), ("auth0", "/auth0/oidc/logout")):
        browser.sign_in_and_allow(tenant)
        out = browser.get(path, client_id=helpers.client_id(tenant),
                          post_logout_redirect_uri=f"{helpers.APP}/")
        if tenant == "oidc":  # it asks first, as oidc-provider does
            assert out.status_code == 200 and "Yes, sign me out" in out.text
            out = browser.click("Yes, sign me out")
        assert out.status_code == 302 and out.headers["Location"] == f"{helpers.APP}/"
        # Nobody says which client asks: the return address cannot be checked.
        anonymous = browser.get(path, post_logout_redirect_uri=f"{helpers.APP}/")
        assert anonymous.status_code >= 400 and "Location" not in anonymous.headers
        unregistered = browser.get(path, client_id=helpers.client_id(tenant),
                                   post_logout_redirect_uri="https://elsewhere.example/")
        assert unregistered.status_code >= 400 and "Location" not in unregistered.headers


def test_subs_are_stable_and_per_tenant(standins_server, helpers):
    _, app_a, server_a = helpers.serve(helpers.settings_for)
    _, app_b, server_b = helpers.serve(helpers.settings_for)
    try:
        a = app_a.extensions["standins"]
        b = app_b.extensions["standins"]
        for tenant in helpers.TENANTS:
            assert a[tenant].store.users["alice"].sub == b[tenant].store.users["alice"].sub
        subs = {a[t].store.users["alice"].sub for t in helpers.TENANTS}
        assert len(subs) == len(helpers.TENANTS)
        assert a["facebook"].store.users["alice"].sub.isdigit()
        # Independent apps: a fault on one is not on the other.
        a["google"].faults.set("down", {})
        assert "down" not in b["google"].faults
        assert a["google"].keys.current.kid != b["google"].keys.current.kid
    finally:
        for server in (server_a, server_b):
            server.shutdown()
            server.server_close()



def test_facebook_full_flow(standins_server, browser, helpers):
    base = standins_server
    params = browser.sign_in_and_allow("facebook")
    assert params["state"] == "state-123"
    token = requests.get(f"{base}/graph/v19.0/oauth/access_token", timeout=5, params={
        "client_id": "facebook-app", "client_secret": helpers.SECRET,
        "redirect_uri": helpers.callback("facebook"), "code": params["code"]})
    assert token.status_code == 200, token.text
    body = token.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    access = body["access_token"]
    proof = hmac.new(helpers.SECRET.encode(), access.encode(), hashlib.sha256).hexdigest()
    me = requests.get(f"{base}/graph/v19.0/me", timeout=5, params={
        "fields": "id,name,email,picture", "access_token": access, "appsecret_proof": proof})
    assert me.status_code == 200, me.text
    profile = me.json()
    assert profile["name"] == "Alice Example" and profile["email"] == "alice@example.com"
    assert profile["id"].isdigit() and "url" in profile["picture"]["data"]
    for path in ("/graph/debug_token", "/graph/v19.0/debug_token"):
        debug = requests.get(base + path, timeout=5, params={
            "input_token": access, "access_token": f"facebook-app|{helpers.SECRET}"}).json()
        data = debug["data"]
        assert data["app_id"] == "facebook-app" and data["is_valid"] is True
        assert data["type"] == "USER" and data["user_id"] == profile["id"]
        assert set(data["scopes"]) == {"email", "public_profile"}
    long_lived = requests.get(f"{base}/graph/v19.0/oauth/access_token", timeout=5, params={
        "grant_type": "fb_exchange_token", "client_id": "facebook-app",
        "client_secret": helpers.SECRET, "fb_exchange_token": access}).json()
    assert long_lived["expires_in"] > 3600 and long_lived["access_token"] != access


def test_facebook_batch_answers_each_operation_as_its_endpoint(standins_server, browser,
                                                               helpers):
    """Graph's batch request: GETs in one POST, answered in order, the request's token
    and proof shared by operations that name none of their own."""
    base = standins_server
    params = browser.sign_in_and_allow("facebook")
    access = requests.get(f"{base}/graph/v19.0/oauth/access_token", timeout=5, params={
        "client_id": "facebook-app", "client_secret": helpers.SECRET,
        "redirect_uri": helpers.callback("facebook"), "code": params["code"]}).json()[
        "access_token"]
    proof = hmac.new(helpers.SECRET.encode(), access.encode(), hashlib.sha256).hexdigest()
    operations = [
        {"method": "GET", "relative_url": f"debug_token?input_token={access}"
                                          f"&access_token=facebook-app|{helpers.SECRET}"},
        {"method": "GET", "relative_url": "me?fields=id,name"},
        {"method": "GET", "relative_url": "v19.0/me?fields=id&appsecret_proof=wrong"},
        {"method": "GET", "relative_url": "friends"},
    ]
    requests.delete(f"{base}/_control/calls", timeout=5)
    answer = requests.post(f"{base}/graph/v19.0/", timeout=5, data={
        "access_token": access, "appsecret_proof": proof, "include_headers": "false",
        "batch": json.dumps(operations)})
    assert answer.status_code == 200, answer.text
    debug, me, bad_proof, unknown = answer.json()
    assert debug["code"] == 200 and json.loads(debug["body"])["data"]["app_id"] == "facebook-app"
    assert me["code"] == 200 and json.loads(me["body"])["name"] == "Alice Example"
    assert json.loads(me["body"])["id"] == json.loads(debug["body"])["data"]["user_id"]
    assert bad_proof["code"] == 400 and "appsecret_proof" in bad_proof["body"]
    assert unknown["code"] == 400 and "Unknown path" in unknown["body"]
    calls = requests.get(f"{base}/_control/calls", timeout=5).json()["facebook"]
    assert calls == {"batch": 1, "batch/debug_token": 1, "batch/me": 2}
    for batch in ("", "{}", "[]", json.dumps([{"relative_url": "me"}] * 51)):
        refused = requests.post(f"{base}/graph/", timeout=5, data={"batch": batch})
        assert refused.status_code == 400 and "OAuthException" in refused.text


def test_cognito_federates_to_google(standins_server, browser, helpers):
    base = standins_server
    pkce = helpers.Pkce.new()
    page = browser.authorize("cognito", pkce, identity_provider="Google")
    assert page.status_code == 302
    assert page.headers["Location"].startswith(f"{base}/google/o/oauth2/v2/auth?")
    assert helpers.query_of(page.headers["Location"])["redirect_uri"] == \
        f"{base}/cognito/oauth2/idpresponse"
    page = browser.follow()
    assert "Sign in with Google (local stand-in)" in page.text
    browser.click("Sign in as bob")
    page = browser.click("Allow")
    assert page.headers["Location"].startswith(f"{base}/cognito/oauth2/idpresponse?")
    browser.follow()   # idpresponse: exchanges Google's code, signs bob in at Cognito
    browser.follow()   # back to Cognito's authorize, which issues its own code
    params = browser.callback_params("cognito")
    assert params["state"] == "state-123"
    tokens = helpers.exchange(base, "cognito", params["code"], pkce).json()
    claims = helpers.verify(base, "cognito", tokens["id_token"])
    assert claims["cognito:username"].startswith("Google_")
    identity = claims["identities"][0]
    assert identity["providerName"] == "Google" and identity["providerType"] == "Google"
    assert identity["userId"] == claims["cognito:username"].removeprefix("Google_")
    assert identity["primary"] == "true" and identity["issuer"] is None
    assert claims["cognito:groups"] == ["us-east-1_FedLab_Google"]
    assert claims["email"] == "bob@example.com"
    calls = requests.get(f"{base}/_control/calls", timeout=5).json()
    assert calls["google"]["token"] == 1 and calls["google"]["jwks"] == 1
    assert calls["cognito"]["idpresponse"] == 1


def test_cognito_federates_to_facebook(standins_server, browser, helpers):
    base = standins_server
    browser.authorize("cognito", identity_provider="Facebook")
    assert browser.page.headers["Location"].startswith(f"{base}/facebook/v19.0/dialog/oauth?")
    browser.follow()
    browser.click("Sign in as alice")
    browser.click("Allow")
    browser.follow()
    browser.follow()
    params = browser.callback_params("cognito")
    tokens = helpers.exchange(base, "cognito", params["code"]).json()
    claims = helpers.verify(base, "cognito", tokens["id_token"])
    assert claims["cognito:username"].startswith("Facebook_")
    assert json.dumps(claims["identities"][0]["providerType"]) == '"Facebook"'
