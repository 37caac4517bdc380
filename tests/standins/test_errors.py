"""Error pages and RFC 6749 errors, worded as each provider words them."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.usefixtures("standins_server")
BAD_URI = "http://evil.example/callback"


def test_redirect_mismatch_pages_never_redirect_back(browser, standins_server):
    page = browser.authorize("google", redirect_uri=BAD_URI)
    assert page.status_code == 400 and "Error 400: redirect_uri_mismatch" in page.text
    page = browser.authorize("auth0", redirect_uri=BAD_URI)
    assert page.status_code == 400
    assert "Callback URL mismatch. The provided redirect_uri is not in the list of allowed " \
           "callback URLs." in page.text
    page = browser.authorize("facebook", redirect_uri=BAD_URI)
    assert page.status_code == 400 and "URL Blocked: This redirect failed because the " \
        "redirect URI is not whitelisted in the app&#39;s Client OAuth Settings" in page.text
    page = browser.authorize("oidc", redirect_uri=BAD_URI)
    assert page.status_code == 400 and "Location" not in page.headers
    page = browser.authorize("cognito", redirect_uri=BAD_URI)
    assert page.status_code == 302
    assert page.headers["Location"] == (f"{standins_server}/cognito/error"
                                        "?error=redirect_mismatch&client_id=cognito-app")
    assert browser.follow().status_code == 400


def test_echoed_values_are_escaped(browser):
    page = browser.authorize("oidc", redirect_uri="<script>alert(1)</script>")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_unknown_client(browser):
    page = browser.authorize("google", client_id="nobody")
    assert page.status_code == 400 and "invalid_client" in page.text


@pytest.mark.parametrize(("tenant", "extra"), [
    ("google", {}),
    ("auth0", {"error_description": "User did not authorize the request"}),
    ("facebook", {"error_reason": "user_denied", "error_description": "Permissions error"}),
    ("cognito", {}),
    ("oidc", {}),
])
def test_deny_goes_back_with_access_denied(browser, helpers, tenant, extra):
    browser.authorize(tenant)
    browser.click("Sign in as alice")
    browser.click("Deny")
    params = browser.callback_params(tenant)
    assert params["error"] == "access_denied" and params["state"] == "state-123"
    assert extra.items() <= params.items()
    assert "code" not in params


def test_forged_form_is_refused(browser):
    browser.authorize("google")
    page = browser.click("Sign in as alice", csrf="forged")
    assert page.status_code == 400


def test_code_is_single_use(browser, helpers, standins_server):
    pkce = helpers.Pkce.new()
    code = browser.sign_in_and_allow("oidc", pkce=pkce)["code"]
    assert helpers.exchange(standins_server, "oidc", code, pkce).status_code == 200
    again = helpers.exchange(standins_server, "oidc", code, pkce)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_wrong_code_verifier(browser, helpers, standins_server):
    code = browser.sign_in_and_allow("google", pkce=helpers.Pkce.new())["code"]
    response = helpers.exchange(standins_server, "google", code, helpers.Pkce.new())
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_plain_pkce_is_refused(browser, helpers):
    page = browser.authorize("auth0", code_challenge="a" * 43, code_challenge_method="plain")
    params = helpers.query_of(page.headers["Location"])
    assert params["error"] == "invalid_request" and params["state"] == "state-123"


def test_wrong_secret_and_wrong_redirect_uri(browser, helpers, standins_server):
    code = browser.sign_in_and_allow("cognito")["code"]
    response = helpers.exchange(standins_server, "cognito", code, secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    code = browser.sign_in_and_allow("cognito")["code"]
    response = helpers.exchange(standins_server, "cognito", code,
                                redirect_uri=f"{helpers.APP}/other")
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(standins_server):
    response = requests.post(f"{standins_server}/oidc/token", timeout=5,
                             data={"grant_type": "password"}, auth=("oidc-app", "s3cret-value"))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_expired_code(browser, helpers, standins_server):
    code = browser.sign_in_and_allow("google")["code"]
    requests.post(f"{standins_server}/_control/clock", timeout=5,
                  json={"tenant": "google", "skew_seconds": 600})
    assert helpers.exchange(standins_server, "google", code).json()["error"] == "invalid_grant"


def test_prompt_none_without_session(browser, helpers):
    page = browser.authorize("oidc", prompt="none")
    params = helpers.query_of(page.headers["Location"])
    assert params["error"] == "login_required" and "iss" in params


def test_logout_uri_not_registered(browser):
    page = browser.get("/cognito/logout", client_id="cognito-app", logout_uri=BAD_URI)
    assert page.status_code == 400 and "Location" not in page.headers
    page = browser.get("/auth0/v2/logout", client_id="auth0-app", returnTo=BAD_URI)
    assert page.status_code == 400 and "Allowed Logout URLs" in page.text
    page = browser.get("/oidc/end_session", client_id="oidc-app",
                       post_logout_redirect_uri=BAD_URI)
    assert page.status_code == 400


def test_graph_errors(browser, helpers, standins_server):
    base = standins_server
    code = browser.sign_in_and_allow("facebook")["code"]
    query = {"client_id": "facebook-app", "client_secret": "wrong",
             "redirect_uri": helpers.callback("facebook"), "code": code}
    bad = requests.get(f"{base}/graph/v19.0/oauth/access_token", params=query, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "OAuthException"
    query["client_secret"] = helpers.SECRET
    token = requests.get(f"{base}/graph/v19.0/oauth/access_token", timeout=5,
                         params=query).json()["access_token"]
    used = requests.get(f"{base}/graph/v19.0/oauth/access_token", params=query, timeout=5)
    assert used.status_code == 400 and used.json()["error"]["code"] == 100
    for proof in ({}, {"appsecret_proof": "0" * 64}):
        me = requests.get(f"{base}/graph/v19.0/me", timeout=5,
                          params={"access_token": token, **proof})
        assert me.status_code == 400
        assert me.json()["error"]["message"] == \
            "Invalid appsecret_proof provided in the API argument"
    me = requests.get(f"{base}/graph/v19.0/me", params={"access_token": "nope"}, timeout=5)
    assert me.json()["error"]["code"] == 190


def test_userinfo_without_valid_token(standins_server):
    response = requests.get(f"{standins_server}/google/v1/userinfo", timeout=5,
                            headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "invalid_token" in response.headers[
        "WWW-Authenticate"]
