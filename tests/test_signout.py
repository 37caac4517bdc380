"""Sign-out: the session here goes first, then the provider's own sign-out."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from .flows import sign_in

#: A JWT (an id token) anywhere in a string: header and payload are base64url JSON.
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*")
#: A provider's own "are you sure?" page, should it ask (RP-Initiated Logout 1.0, 2).
CONFIRM = re.compile(r"sign.?out|log.?out|yes", re.I)


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


def follow_sign_out(browser, app_url, page, limit: int = 8) -> list[str]:
    """POST sign-out and follow the browser through to the end; every URL it visits."""
    answer = browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)},
                          allow_redirects=False)
    visited = []
    for _ in range(limit):
        if answer.is_redirect:
            url = urljoin(answer.url, answer.headers["Location"])
            visited.append(url)
            answer = browser.get(url, allow_redirects=False)
            continue
        buttons = [b for b in browser.buttons(answer) if CONFIRM.search(b)]
        if answer.url.startswith(app_url) or answer.status_code != 200 or not buttons:
            return visited
        answer = browser.click(answer, buttons[0], follow=False)
        visited.append(answer.url)
    raise AssertionError(f"sign-out still going after {limit} steps: {visited}")


@pytest.mark.parametrize(("provider", "tenant", "endpoint"), [
    ("corp", "oidc", "/oidc/end_session"),      # config/oidc.toml: any OpenID Connect issuer
    ("cognito", "cognito", "/cognito/logout"),
    ("auth0", "auth0", "/auth0/v2/logout"),
])
def test_sign_out_sends_no_token_and_ends_the_providers_session(
        browser, app_url, control, swap_app, servers, provider, tenant, endpoint):
    if provider == "corp":
        swap_app(config_file="oidc.toml")
    page = sign_in(browser, app_url, provider)
    assert page.url == f"{app_url}/account"
    store = servers[1].app.extensions["standins"][tenant].store
    issued = [*store.by_access, *(r.refresh_token for r in store.by_access.values()
                                  if r.refresh_token)]
    assert issued
    visited = follow_sign_out(browser, app_url, page)
    assert visited and visited[-1] == f"{app_url}/"
    assert any(endpoint in url for url in visited)  # the provider's sign-out, reached
    for url in visited:
        names = [name for name, _ in parse_qsl(urlsplit(url).query)]
        assert "id_token_hint" not in names, url
        assert not JWT.search(url), url
        assert not any(token in url for token in issued), url
    assert events(control, tenant, "logout")
    # The provider's own session ended: signing in again asks for the password.
    again = browser.get(f"{app_url}/auth/{provider}/login")
    assert "Sign in as alice" in browser.buttons(again), again.url


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
