"""The account page: claims, decoded tokens, refresh and the session's state in words."""

from __future__ import annotations

from webapp import auth

from .flows import sign_in


def test_the_account_page_shows_claims_tokens_and_userinfo(browser, app_url, control):
    page = sign_in(browser, app_url, "cognito")
    text = page.text
    assert "Signed in via Amazon Cognito" in text
    assert "cognito:groups" in text and "admins, readers" in text
    assert 'id="id_token"' in text and 'id="access_token"' in text
    assert '"token_use": "id"' in text and '"token_use": "access"' in text
    assert 'class="countdown"' in text and 'class="userinfo"' in text


def test_refresh_renews_and_revalidates(browser, app_url, control):
    page = sign_in(browser, app_url, "auth0")
    control("DELETE", "calls")
    refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-state="refreshed"' in refreshed.text
    assert "the tokens expired and were refreshed" in refreshed.text
    assert control("GET", "calls")["auth0"]["token"] == 1


def test_a_refreshed_id_token_passes_the_same_checks(browser, app_url, control):
    page = sign_in(browser, app_url, "google")
    control("POST", "faults", tenant="google", fault="wrong_audience")
    failed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert 'data-error="id_token_rejected"' in failed.text
    account = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in account.text
    assert "Refresh failed: sign in again" in account.text


def test_expired_tokens_are_refreshed_on_the_next_page(browser, app_url, control, monkeypatch):
    sign_in(browser, app_url, "cognito")
    monkeypatch.setattr(auth, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
    page = browser.get(f"{app_url}/account")
    assert 'data-state="refreshed"' in page.text


def test_a_refused_refresh_asks_to_sign_in_again(browser, app_url, control, monkeypatch):
    sign_in(browser, app_url, "cognito")
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    monkeypatch.setattr(auth, "REFRESH_MARGIN", 10**7)
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


def test_the_account_page_needs_a_session(browser, app_url):
    page = browser.get(f"{app_url}/account")
    assert page.status_code == 401 and 'data-error="signed_out"' in page.text
