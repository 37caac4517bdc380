"""The account page: claims, decoded tokens, refresh and the session's state in words."""

from __future__ import annotations

import pytest

from standins import BROWSER_ENDPOINTS
from webapp import signin

from .flows import sign_in


def test_the_account_page_shows_claims_tokens_and_userinfo(browser, app_url, control):
    page = sign_in(browser, app_url, "cognito")
    text = page.text
    assert "Signed in via Amazon Cognito" in text
    assert "cognito:groups" in text and "admins, readers" in text
    assert 'id="id_token"' in text and 'id="access_token"' in text
    assert '"token_use": "id"' in text and '"token_use": "access"' in text
    assert 'class="relative"' in text and 'class="userinfo"' not in text
    asked = ask_userinfo(browser, app_url, page)
    assert asked.url == f"{app_url}/account#userinfo" and 'class="userinfo"' in asked.text
    assert "answered for the same subject as the id token" in asked.text


def ask_userinfo(browser, app_url, page):
    return browser.post(f"{app_url}/account/userinfo", data={"csrf_token": browser.csrf(page)})


@pytest.mark.parametrize("provider", ["cognito", "cognito-google", "auth0", "google"])
def test_a_warm_sign_in_makes_one_call_the_token_request(browser, app_url, control,
                                                         provider):
    """Who signed in comes from the verified id token; userinfo waits to be asked."""
    tenant = "cognito" if provider == "cognito-google" else provider
    sign_in(browser, app_url, provider)  # discovery and keys are fetched here
    control("DELETE", "calls")
    page = sign_in(browser, app_url, provider, user="bob")
    assert page.url == f"{app_url}/account"
    calls = {e: n for e, n in control("GET", "calls")[tenant].items()
             if e not in BROWSER_ENDPOINTS}
    assert calls == {"token": 1}
    ask_userinfo(browser, app_url, page)
    assert control("GET", "calls")[tenant]["userinfo"] == 1


def test_a_warm_facebook_sign_in_makes_two_calls(browser, app_url, control):
    """No id token: the token request, then debug_token and /me in one batch request."""
    sign_in(browser, app_url, "facebook")
    control("DELETE", "calls")
    assert sign_in(browser, app_url, "facebook", user="bob").url == f"{app_url}/account"
    calls = {e: n for e, n in control("GET", "calls")["facebook"].items()
             if e not in BROWSER_ENDPOINTS}
    assert calls == {"token": 1, "batch": 1, "batch/debug_token": 1, "batch/me": 1}


@pytest.mark.parametrize(("fault", "endpoint", "named"), [("error_500", "me", "me"),
                                                          ("garbage", "debug_token",
                                                           "debug_token"),
                                                          ("down", "batch", "batch")])
def test_a_failing_graph_operation_ends_the_facebook_sign_in_clearly(
        browser, app_url, control, fault, endpoint, named):
    control("POST", "faults", tenant="facebook", fault=fault, endpoint=endpoint)
    page = sign_in(browser, app_url, "facebook")
    assert page.status_code == 502 and 'data-error="provider_bad_response"' in page.text
    assert named in page.text and "Traceback" not in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_userinfo_about_another_subject_is_refused_and_not_kept(browser, app_url, control):
    page = sign_in(browser, app_url, "auth0")
    control("POST", "faults", tenant="auth0", fault="userinfo_other_sub")
    refused = ask_userinfo(browser, app_url, page)
    assert refused.status_code == 400 and 'data-error="userinfo_sub_mismatch"' in refused.text
    account = browser.get(f"{app_url}/account")
    assert account.status_code == 200 and 'class="userinfo"' not in account.text


def test_facebook_profile_comes_from_me_and_can_be_asked_again(browser, app_url, control):
    page = sign_in(browser, app_url, "facebook")
    assert 'class="userinfo"' in page.text
    control("DELETE", "calls")
    asked = ask_userinfo(browser, app_url, page)
    assert 'class="userinfo"' in asked.text and control("GET", "calls")["facebook"] == {"me": 1}


@pytest.mark.parametrize(("fault", "tenant", "code", "status"), [
    ("slow", "cognito", "provider_timeout", 504),
    ("error_500", "google", "provider_bad_response", 502),
    ("garbage", "auth0", "provider_bad_response", 502),
    ("down", "google", "provider_bad_response", 502),
])
def test_a_failing_userinfo_endpoint_is_explained_and_the_visitor_stays(
        browser, app_url, control, swap_app, fault, tenant, code, status):
    if fault == "slow":
        swap_app(http_timeout=1)
    page = sign_in(browser, app_url, tenant)
    params = {"seconds": 5} if fault == "slow" else {}
    control("POST", "faults", tenant=tenant, fault=fault, endpoint="userinfo", **params)
    failed = ask_userinfo(browser, app_url, page)
    assert failed.status_code == status and f'data-error="{code}"' in failed.text
    assert "userinfo" in failed.text  # the page names the endpoint that failed
    assert "Traceback" not in failed.text
    control("DELETE", "faults")
    assert browser.get(f"{app_url}/account").status_code == 200


def test_asking_userinfo_needs_a_session_and_the_csrf_token(browser, app_url, control):
    assert browser.post(f"{app_url}/account/userinfo").status_code == 400
    page = browser.get(f"{app_url}/credentials")  # its guest form has a token
    signed_out = browser.post(f"{app_url}/account/userinfo",
                              data={"csrf_token": browser.csrf(page)})
    assert signed_out.status_code == 401 and 'data-error="signed_out"' in signed_out.text
    # Refused, and the way on offered: each provider's sign-in, in place.
    assert 'data-offer' in signed_out.text and 'href="/auth/google/login"' in signed_out.text
    sign_in(browser, app_url, "google")
    refused = browser.post(f"{app_url}/account/userinfo")
    assert refused.status_code == 400 and 'data-error="csrf_failed"' in refused.text


def test_refresh_renews_and_revalidates(browser, app_url, control):
    page = sign_in(browser, app_url, "auth0")
    control("DELETE", "calls")
    refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-state="refreshed"' in refreshed.text
    assert "the tokens expired and were refreshed" in refreshed.text
    assert control("GET", "calls")["auth0"]["token"] == 1


#: Faults the stand-in applies to the id token of a refresh, with the check that
#: catches each. ``wrong_audience`` fails both the sign-in checks and the
#: comparison with the sign-in's token; the next ones only the sign-in checks;
#: ``refresh_other_sub`` (a good token about someone else) only the comparison.
REFRESH_FAULTS = [
    ("wrong_audience", "aud"),
    ("bad_signature", "signature"),
    ("alg_none", "alg"),
    ("unknown_kid", "kid"),
    ("expired", "exp"),
    ("iat_future", "iat"),
    ("bad_at_hash", "at_hash"),
    ("bad_nonce", "nonce"),
    ("refresh_other_sub", "sub"),
]


@pytest.mark.parametrize(("fault", "check"), REFRESH_FAULTS)
def test_a_refreshed_id_token_passes_the_same_checks(browser, app_url, control, fault, check):
    page = sign_in(browser, app_url, "google")
    control("POST", "faults", tenant="google", fault=fault)
    failed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-error="id_token_rejected"' in failed.text
    assert f"Check &#39;{check}&#39; failed" in failed.text
    account = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in account.text
    assert "Refresh failed: sign in again" in account.text


def test_a_refreshed_id_token_may_repeat_the_sign_in_nonce(browser, app_url, control):
    page = sign_in(browser, app_url, "google")
    control("POST", "faults", tenant="google", fault="refresh_keeps_nonce")
    refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-state="refreshed"' in refreshed.text


def test_expired_tokens_are_refreshed_on_the_next_page(browser, app_url, control, monkeypatch):
    sign_in(browser, app_url, "cognito")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
    page = browser.get(f"{app_url}/account")
    assert 'data-state="refreshed"' in page.text


def test_a_refused_refresh_asks_to_sign_in_again(browser, app_url, control, monkeypatch):
    sign_in(browser, app_url, "cognito")
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    page = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in page.text
    assert "Sign in again with Amazon Cognito" in page.text


def test_facebook_has_no_refresh(browser, app_url, control):
    page = sign_in(browser, app_url, "facebook")
    assert "gave no refresh token" in page.text
    assert "Refresh tokens now" not in page.text


def test_refresh_needs_the_csrf_token(browser, app_url, control):
    sign_in(browser, app_url, "auth0")
    refused = browser.post(f"{app_url}/auth/refresh")
    assert refused.status_code == 400 and 'data-error="csrf_failed"' in refused.text


def test_google_without_prompt_consent_gives_no_new_refresh_token(browser, app_url, control,
                                                                   swap_app):
    swap_app(providers={"google": {"prompt": ""}})
    sign_in(browser, app_url, "google")  # consent given (again) here
    page = sign_in(browser, app_url, "google")
    assert 'data-state="signed_in"' in page.text
    assert "Google gave no refresh token" in page.text


def test_the_account_page_signed_out_offers_each_providers_sign_in(browser, app_url):
    """Signed out, /account is the offer to sign in (still a 401, not an error
    page), each provider's button coming back to /account."""
    page = browser.get(f"{app_url}/account")
    assert page.status_code == 401 and 'data-guided="sign_in"' in page.text
    assert "data-error=" not in page.text and 'data-state="signed_out"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    for name in ("cognito", "google", "auth0", "facebook"):
        assert f'href="/auth/{name}/login?next=/account"' in page.text
