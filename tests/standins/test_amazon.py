"""The Login with Amazon stand-in speaks Amazon's endpoints, answers and errors:
``/ap/oa``, ``/auth/o2/token``, ``/auth/o2/tokeninfo``, ``/user/profile``; and
Cognito's ``LoginWithAmazon`` provider goes through it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests


@pytest.fixture
def base(standins_server: str) -> str:
    return standins_server


@pytest.fixture
def amazon(browser: Any) -> Any:
    return browser


def authorize(h: Any, browser: Any, pkce: Any = None, **params: str) -> requests.Response:
    query = {"response_type": "code", "client_id": h.AMAZON_CLIENT,
             "redirect_uri": h.callback("amazon"),
             "scope": "profile", "state": "st-1"}
    if pkce:
        query.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    return browser.get("/amazon/ap/oa", **{**query, **params})


def code_for(h: Any, browser: Any, pkce: Any, user: str = "alice", **params: str) -> str:
    page = authorize(h, browser, pkce, **params)
    if f">Sign in as {user}</button>" in page.text:  # not yet signed in at Amazon
        page = browser.click(f"Sign in as {user}")
    if ">Allow</button>" in page.text:  # not yet consented to this client
        browser.click("Allow")
    location = browser.page.headers["Location"]
    assert location.startswith(h.callback("amazon")), location
    return h.query_of(location)["code"]


def redeem(h: Any, base: str, code: str, verifier: str, **changes: Any) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": h.callback("amazon"), "client_id": h.AMAZON_CLIENT,
            "client_secret": h.SECRET, "code_verifier": verifier}
    auth = changes.pop("auth", None)
    return requests.post(f"{base}/amazon-api/auth/o2/token", data={**form, **changes},
                         auth=auth, timeout=5)


def tokens_for(h: Any, base: str, browser: Any, **params: str) -> dict[str, Any]:
    pkce = h.Pkce.new()
    answer = redeem(h, base, code_for(h, browser, pkce, **params), pkce.verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_code_grant_answers_as_amazon_does(base, amazon, helpers):
    tokens = tokens_for(helpers, base, amazon)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["access_token"].startswith("Atza|")
    assert tokens["refresh_token"].startswith("Atzr|")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600


def test_client_credentials_may_come_by_http_basic(base, amazon, helpers):
    pkce = helpers.Pkce.new()
    code = code_for(helpers, amazon, pkce)
    answer = redeem(helpers, base, code, pkce.verifier, client_id=None, client_secret=None,
                    auth=(helpers.AMAZON_CLIENT, helpers.SECRET))
    assert answer.status_code == 200, answer.text


def test_token_info_says_whose_token_for_which_client_and_how_long(base, amazon, helpers):
    access = tokens_for(helpers, base, amazon)["access_token"]
    info = requests.get(f"{base}/amazon-api/auth/o2/tokeninfo",
                        params={"access_token": access}, timeout=5).json()
    assert info["iss"] == f"{base}/amazon"
    assert info["aud"] == helpers.AMAZON_CLIENT and info["app_id"] == helpers.AMAZON_APP_ID
    assert info["user_id"].startswith("amzn1.account.")
    assert 0 < info["exp"] <= 3600 and isinstance(info["iat"], int)


def test_token_info_refuses_a_token_it_never_issued(base, helpers):
    answer = requests.get(f"{base}/amazon-api/auth/o2/tokeninfo",
                          params={"access_token": "Atza|not-one"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_token"


def test_the_profile_is_the_same_account_and_follows_the_scope(base, amazon, helpers):
    access = tokens_for(helpers, base, amazon)["access_token"]
    info = requests.get(f"{base}/amazon-api/auth/o2/tokeninfo",
                        params={"access_token": access}, timeout=5).json()
    profile = requests.get(f"{base}/amazon-api/user/profile", timeout=5,
                           headers={"Authorization": f"Bearer {access}"}).json()
    assert profile == {"user_id": info["user_id"], "name": "Alice Example",
                       "email": "alice@example.com"}
    narrow = tokens_for(helpers, base, type(amazon)(base), scope="profile:user_id")["access_token"]
    assert requests.get(f"{base}/amazon-api/user/profile", timeout=5, headers={
        "Authorization": f"Bearer {narrow}"}).json() == {"user_id": info["user_id"]}
    assert requests.get(f"{base}/amazon-api/user/profile", timeout=5).status_code == 401


def test_refresh_answers_with_the_same_refresh_token_which_stays_valid(base, amazon, helpers):
    first = tokens_for(helpers, base, amazon)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
            "client_id": helpers.AMAZON_CLIENT, "client_secret": helpers.SECRET}
    for _ in range(2):
        again = requests.post(f"{base}/amazon-api/auth/o2/token", data=form, timeout=5)
        assert again.status_code == 200, again.text
        assert again.json()["refresh_token"] == first["refresh_token"]
        assert again.json()["access_token"] != first["access_token"]


def test_token_errors_are_amazons(base, amazon, helpers):
    pkce = helpers.Pkce.new()
    code = code_for(helpers, amazon, pkce)
    wrong = redeem(helpers, base, code, pkce.verifier, client_secret="not-it")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    code = code_for(helpers, amazon, pkce)
    assert redeem(helpers, base, code, pkce.verifier).status_code == 200
    reused = redeem(helpers, base, code, pkce.verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    code = code_for(helpers, amazon, pkce)
    other = redeem(helpers, base, code, helpers.Pkce.new().verifier)
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


def test_an_unlisted_return_url_gets_amazons_page_not_a_redirect(amazon, helpers):
    page = authorize(helpers, amazon, redirect_uri="https://elsewhere.example/callback")
    assert page.status_code == 400 and "Location" not in page.headers
    assert "has not been whitelisted" in page.text


def test_deny_sends_access_denied_back(amazon, helpers):
    authorize(helpers, amazon, helpers.Pkce.new())
    amazon.click("Sign in as alice")
    amazon.click("Deny")
    params = helpers.query_of(amazon.page.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == "st-1"
    assert params["error_description"] == "The user denied your request."


def test_cognito_federates_to_amazon_as_its_own_client(base, amazon, helpers):
    amazon.get("/cognito/oauth2/authorize", response_type="code", client_id="cognito-app",
               redirect_uri=helpers.callback("cognito"), scope="openid email",
               state="c-1", identity_provider="LoginWithAmazon")
    sent = amazon.page.headers["Location"]
    assert urlsplit(sent).path == "/amazon/ap/oa"
    asked = helpers.query_of(sent)
    assert asked["redirect_uri"] == f"{base}/cognito/oauth2/idpresponse"
    assert asked["scope"] == "profile postal_code"
    amazon.follow()
    amazon.click("Sign in as alice")
    amazon.click("Allow")
    amazon.follow()  # idpresponse: Cognito redeems the code and reads the profile
    amazon.follow()  # back to Cognito's authorize, now signed in
    assert helpers.query_of(amazon.page.headers["Location"])["state"] == "c-1"
    calls = requests.get(f"{base}/_control/calls", timeout=5).json()["amazon"]
    assert calls["token"] == 1 and calls["profile"] == 1
