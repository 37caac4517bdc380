"""Each protocol rule against a deliberately misbehaving stand-in, through the real flow.

Every case must end on an error page naming the failed check, with nobody signed in.
"""

from __future__ import annotations

import pytest

from .browser import Browser
from .flows import sign_in

ID_TOKEN_FAULTS = [
    ("google", "bad_signature", "signature"),
    ("auth0", "wrong_issuer", "iss"),
    ("google", "wrong_audience", "aud"),
    ("google", "wrong_audience_right_azp", "aud"),
    ("auth0", "multiple_audiences_no_azp", "azp"),
    ("google", "wrong_azp", "azp"),
    ("cognito", "bad_nonce", "nonce"),
    ("cognito", "missing_nonce", "nonce"),
    ("auth0", "alg_none", "alg"),
    ("google", "hs256_public_key", "alg"),
    ("cognito", "unknown_kid", "kid"),
    ("auth0", "expired", "exp"),
    ("google", "iat_future", "iat"),
    ("cognito", "bad_at_hash", "at_hash"),
    ("cognito", "token_use_access", "token_use"),
]


def assert_refused(page, code: str, browser, app_url: str) -> None:
    assert page.status_code >= 400, page.url
    assert f'data-error="{code}"' in page.text, page.text[:800]
    assert "Traceback" not in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


@pytest.mark.parametrize(("provider", "fault", "check"), ID_TOKEN_FAULTS)
def test_a_bad_id_token_is_refused_naming_the_check(browser, app_url, control, provider,
                                                    fault, check):
    control("POST", "faults", tenant=provider, fault=fault)
    page = sign_in(browser, app_url, provider)
    assert_refused(page, "id_token_rejected", browser, app_url)
    assert f"Check &#39;{check}&#39; failed" in page.text


def test_discovery_for_another_issuer_is_refused(browser, app_url, control):
    control("POST", "faults", tenant="google", fault="discovery_other_issuer")
    page = browser.get(f"{app_url}/auth/google/login")
    assert_refused(page, "discovery_issuer_mismatch", browser, app_url)


@pytest.mark.parametrize("fault", ["debug_token_other_app", "debug_token_invalid"])
def test_a_facebook_token_not_for_this_app_is_refused(browser, app_url, control, fault):
    control("POST", "faults", tenant="facebook", fault=fault)
    assert_refused(sign_in(browser, app_url, "facebook"), "token_not_for_this_app", browser,
                   app_url)


def test_rotated_keys_are_fetched_once_on_an_unknown_kid(browser, app_url, control):
    assert sign_in(browser, app_url, "auth0").url == f"{app_url}/account"
    control("POST", "rotate-keys", tenant="auth0", drop_old=True)
    control("DELETE", "calls")
    assert sign_in(browser, app_url, "auth0").url == f"{app_url}/account"
    assert control("GET", "calls")["auth0"].get("jwks") == 1


def test_keys_and_discovery_are_not_fetched_again_while_fresh(browser, app_url, control):
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    control("DELETE", "calls")
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    calls = control("GET", "calls")["google"]
    assert calls.get("discovery", 0) == 0 and calls.get("jwks", 0) == 0
    assert calls.get("token") == 1


def test_a_wrong_client_secret_is_explained(browser, app_url, control, swap_app):
    swap_app(providers={"google": {"client_secret": "wrong-secret"}})
    page = sign_in(browser, app_url, "google")
    assert_refused(page, "token_request_failed", browser, app_url)
    assert "invalid_client" in page.text


def test_a_provider_that_is_down_is_explained(browser, app_url, control):
    control("POST", "faults", tenant="cognito", fault="down")
    page = browser.get(f"{app_url}/auth/cognito/login")
    assert page.status_code == 502
    assert 'data-error="provider_bad_response"' in page.text


def test_a_slow_token_endpoint_times_out_within_the_bound(browser, app_url, control,
                                                          swap_app):
    swap_app(http_timeout=1)
    control("POST", "faults", tenant="google", fault="slow", endpoint="token", seconds=6)
    # Each request of the visit gives up after 4 s: an app that waited the stand-in's
    # 6 s out instead of its own 1 s makes this raise, without timing anything.
    browser.timeout = 4
    page = sign_in(browser, app_url, "google")
    assert page.status_code == 504 and 'data-error="provider_timeout"' in page.text


def test_discovery_and_keys_are_read_again_when_their_time_is_up(browser, app_url, control,
                                                                 monkeypatch):
    from webapp import discovery

    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    monkeypatch.setattr(discovery, "METADATA_TTL", 0)
    monkeypatch.setattr(discovery, "KEYS_TTL", 0)
    control("DELETE", "calls")
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    calls = control("GET", "calls")["google"]
    assert calls["discovery"] >= 1 and calls["jwks"] >= 1


@pytest.mark.parametrize(("endpoint", "code"), [("token", "provider_bad_response"),
                                                ("jwks", "provider_bad_response")])
def test_garbage_from_an_endpoint_is_explained(browser, app_url, control, endpoint, code):
    control("POST", "faults", tenant="auth0", fault="garbage", endpoint=endpoint)
    page = sign_in(browser, app_url, "auth0")
    assert_refused(page, code, browser, app_url)


def test_a_google_site_for_one_workspace_takes_only_its_accounts(browser, app_url, control,
                                                                  swap_app):
    """``hosted_domain`` only narrows Google's account chooser (the visitor can edit
    the request): the id token's ``hd`` decides. carol is a personal Google account
    with an address at example.com (no ``hd``); alice is example.com's Workspace."""
    swap_app(providers={"google": {"hosted_domain": "example.com"}})
    page = sign_in(browser, app_url, "google", user="carol")
    assert_refused(page, "id_token_rejected", browser, app_url)
    assert "Check &#39;hd&#39; failed" in page.text
    alices = Browser()  # carol stays signed in at Google in the first browser
    signed_in = sign_in(alices, app_url, "google", user="alice")
    assert signed_in.status_code == 200, signed_in.text[:800]
    assert alices.get(f"{app_url}/account").status_code == 200
