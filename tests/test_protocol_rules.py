"""Protocol rules that a simpler test would let slip, each through the real flow.

Every test here fails when its rule is removed: a state spent by an error
response, a stale state, Facebook's ``/me`` about someone else, a replayed code,
the bound on forced key fetches, a small clock skew, and who counts as the same
visitor when sessions are merged.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from webapp import discovery, signin

from .browser import Browser
from .flows import sign_in, stop_at_callback


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_state_is_spent_by_an_error_response_too(browser, app_url, control):
    callback = stop_at_callback(browser, app_url, "google")
    state = query_of(callback)["state"]
    denied = browser.get(f"{app_url}/auth/google/callback",
                         params={"state": state, "error": "access_denied"})
    assert 'data-error="access_denied"' in denied.text
    again = browser.get(callback)
    assert again.status_code == 400 and 'data-error="state_mismatch"' in again.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_a_state_older_than_its_lifetime_is_refused(browser, app_url, control, monkeypatch):
    callback = stop_at_callback(browser, app_url, "google")
    later = signin.time.time() + signin.PENDING_LIFETIME + 5
    monkeypatch.setattr(signin, "time", SimpleNamespace(time=lambda: later))
    page = browser.get(callback)
    assert page.status_code == 400 and 'data-error="state_expired"' in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_a_replayed_code_is_refused_under_a_fresh_state(browser, app_url, control):
    callback = stop_at_callback(browser, app_url, "google")
    assert browser.get(callback).url == f"{app_url}/account"
    login = browser.get(f"{app_url}/auth/google/login", allow_redirects=False)
    fresh = query_of(login.headers["Location"])["state"]
    page = browser.get(f"{app_url}/auth/google/callback",
                       params={"code": query_of(callback)["code"], "state": fresh})
    assert page.status_code == 400 and 'data-error="token_request_failed"' in page.text
    assert "invalid_grant" in page.text


def test_facebook_me_about_another_user_is_refused(browser, app_url, control):
    control("POST", "faults", tenant="facebook", fault="userinfo_other_sub")
    page = sign_in(browser, app_url, "facebook")
    assert page.status_code == 400 and 'data-error="userinfo_sub_mismatch"' in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(browser, app_url, control,
                                                                 monkeypatch):
    # Both refused sign-ins fall within the interval, however slow the machine.
    monkeypatch.setattr(discovery, "MIN_KEY_REFETCH_INTERVAL", 3600.0)
    assert sign_in(browser, app_url, "auth0").url == f"{app_url}/account"
    control("POST", "faults", tenant="auth0", fault="unknown_kid")
    control("DELETE", "calls")
    for _ in range(2):
        page = sign_in(browser, app_url, "auth0")
        assert 'data-error="id_token_rejected"' in page.text
        assert "Check &#39;kid&#39; failed" in page.text
    assert control("GET", "calls")["auth0"].get("jwks") == 1
    # Once the interval is over, an unknown kid may fetch the keys again.
    monkeypatch.setattr(discovery, "MIN_KEY_REFETCH_INTERVAL", 0.0)
    assert 'data-error="id_token_rejected"' in sign_in(browser, app_url, "auth0").text
    assert control("GET", "calls")["auth0"].get("jwks") == 2


def test_a_provider_clock_half_a_minute_ahead_is_tolerated(browser, app_url, control):
    control("POST", "clock", tenant="google", skew_seconds=30)
    page = sign_in(browser, app_url, "google")
    assert page.url == f"{app_url}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text


# -- the provider's error on the callback (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) --------

#: Words an attacker would like the site to say in its own voice.
PLANTED = "Your account is locked. Call +1 555 0100 to unlock it."
STANDARD_ERRORS = ("invalid_request", "unauthorized_client", "access_denied",
                   "unsupported_response_type", "invalid_scope", "server_error",
                   "temporarily_unavailable", "interaction_required", "login_required",
                   "account_selection_required", "consent_required", "invalid_request_uri",
                   "invalid_request_object", "request_not_supported",
                   "request_uri_not_supported", "registration_not_supported")


def callback_error(browser, app_url, provider, error, description=PLANTED, state=None):
    params = {"error": error, "error_description": description}
    if state is not None:
        params["state"] = state
    return browser.get(f"{app_url}/auth/{provider}/callback", params=params)


def test_a_catalogue_code_that_is_no_provider_error_is_not_shown_as_itself(browser, app_url):
    page = callback_error(browser, app_url, "google", "session_store_down")
    assert page.status_code == 400 and 'data-error="provider_error"' in page.text
    assert "session store" not in page.text.lower()  # not that entry's words...
    assert "session_store_down" not in page.text      # ...nor its code
    assert PLANTED not in page.text                   # nor words nobody vouches for


def test_a_spoofed_code_under_this_browsers_state_is_still_a_provider_error(
        browser, app_url, control):
    state = query_of(stop_at_callback(browser, app_url, "google"))["state"]
    page = callback_error(browser, app_url, "google", "identity_pool_roles_invalid",
                          state=state)
    assert page.status_code == 400 and 'data-error="provider_error"' in page.text
    assert "trust policy" not in page.text


def test_an_unknown_error_code_is_a_generic_provider_error(browser, app_url):
    page = callback_error(browser, app_url, "auth0", "call_helpdesk_now")
    assert page.status_code == 400 and 'data-error="provider_error"' in page.text
    assert "call_helpdesk_now" not in page.text and PLANTED not in page.text


@pytest.mark.parametrize("error", STANDARD_ERRORS)
def test_each_standard_error_code_has_its_own_page(browser, app_url, error):
    page = callback_error(browser, app_url, "google", error)
    assert f'data-error="{error}"' in page.text
    assert page.status_code in (400, 502, 503)
    assert PLANTED not in page.text


def test_the_description_is_shown_only_under_this_browsers_state(browser, app_url, control):
    callback = stop_at_callback(browser, app_url, "google")
    state = query_of(callback)["state"]
    stranger = Browser()  # same state value, another browser: not its sign-in
    page = callback_error(stranger, app_url, "google", "access_denied", state=state)
    assert 'data-error="access_denied"' in page.text and PLANTED not in page.text
    # The state is spent by that answer only in the session that holds it.
    words = "<b>Denied</b> " + "x" * 1000
    page = callback_error(browser, app_url, "google", "access_denied", words, state=state)
    assert 'data-error="access_denied"' in page.text
    assert "&lt;b&gt;Denied&lt;/b&gt; xxx" in page.text and "<b>Denied" not in page.text
    assert "x" * 400 not in page.text  # bounded
    # Spent: the same state again is no longer a sign-in of this browser.
    again = callback_error(browser, app_url, "google", "access_denied", "again", state=state)
    assert 'data-error="access_denied"' in again.text and "again</dd>" not in again.text


def test_a_state_of_another_providers_sign_in_does_not_vouch_for_words(browser, app_url,
                                                                       control):
    state = query_of(stop_at_callback(browser, app_url, "auth0"))["state"]
    page = callback_error(browser, app_url, "google", "access_denied", state=state)
    assert 'data-error="access_denied"' in page.text and PLANTED not in page.text


def test_an_error_answer_from_another_issuer_is_a_mix_up(browser, app_url, control, swap_app):
    # RFC 9207 2.4: error responses carry iss too, and it is checked the same way.
    swap_app(config_file="oidc.toml")
    state = query_of(stop_at_callback(browser, app_url, "corp"))["state"]
    page = browser.get(f"{app_url}/auth/corp/callback", params={
        "error": "access_denied", "error_description": PLANTED, "state": state,
        "iss": "https://issuer.invalid/not-this-provider"})
    assert page.status_code == 400 and 'data-error="iss_mismatch"' in page.text
    assert PLANTED not in page.text


# -- a refused refresh is not a failed sign-in ----------------------------------------


def test_a_refused_refresh_says_so_in_its_own_words(browser, app_url, control):
    page = sign_in(browser, app_url, "cognito")
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    refused = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    assert refused.status_code == 401 and 'data-error="refresh_failed"' in refused.text
    assert "could not be renewed" in refused.text
    assert "revoked" in refused.text and "Sign in again" in refused.text
    assert "Refresh token has been revoked" in refused.text  # the provider's words
    assert "exchange the code" not in refused.text and "callback URL" not in refused.text
    account = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in account.text


def test_a_refresh_refused_on_the_way_to_a_page_says_so_there(browser, app_url, control,
                                                              monkeypatch):
    sign_in(browser, app_url, "auth0")
    control("POST", "faults", tenant="auth0", fault="refresh_fails")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
    page = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in page.text
    assert "refused the refresh token" in page.text
    assert "exchange the code" not in page.text
