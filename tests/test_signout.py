"""Sign-out: the session here goes first, then the provider's own sign-out."""

from __future__ import annotations

from .flows import sign_in


def sign_out(browser, app_url, page):
    return browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)})


def events(control, tenant: str, event: str) -> list[dict]:
    return [e for e in control("GET", "events") if e["tenant"] == tenant and e["event"] == event]


def test_cognito_signs_out_at_the_hosted_ui_and_revokes(browser, app_url, control):
    page = sign_in(browser, app_url, "cognito")
    home = sign_out(browser, app_url, page)
    assert home.url == f"{app_url}/" and 'data-state="signed_out"' in home.text
    logout = events(control, "cognito", "logout")
    assert logout and logout[-1]["logout_uri"] == f"{app_url}/"
    assert events(control, "cognito", "revoke")


def test_auth0_signs_out_at_v2_logout(browser, app_url, control):
    page = sign_in(browser, app_url, "auth0")
    home = sign_out(browser, app_url, page)
    assert home.url == f"{app_url}/" and 'data-state="signed_out"' in home.text
    assert events(control, "auth0", "logout")[-1]["logout_uri"] == f"{app_url}/"


def test_google_revokes_and_says_google_session_remains(browser, app_url, control):
    page = sign_in(browser, app_url, "google")
    done = sign_out(browser, app_url, page)
    assert 'data-state="signed_out"' in done.text
    assert "still signed in to Google" in done.text
    assert events(control, "google", "revoke")


def test_facebook_sign_out_is_app_only(browser, app_url, control):
    page = sign_in(browser, app_url, "facebook")
    done = sign_out(browser, app_url, page)
    assert "signed out of this site only" in done.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_sign_out_when_the_provider_is_down_still_signs_out_here(browser, app_url, control):
    page = sign_in(browser, app_url, "google")
    control("POST", "faults", tenant="google", fault="down")
    done = sign_out(browser, app_url, page)
    assert done.status_code == 200
    assert browser.get(f"{app_url}/account").status_code == 401
