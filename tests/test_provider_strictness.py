"""The app against stand-ins as strict as the real providers (issue 9, items 17 to 21).

The plain OIDC tenant behaves like oidc-provider: it drops scopes it does not
offer, grants offline_access only with prompt=consent, rotates refresh tokens
(a spent one revokes the grant), keeps e-mail and name for userinfo, and asks
the visitor to confirm a sign-out. Auth0 rotates refresh tokens when its tenant
is set to. Each behaviour is switched through the stand-ins' control API.
"""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from standins import BROWSER_ENDPOINTS

from .flows import sign_in
from .misconfigurations import OIDC_PROVIDER

#: config/oidc.toml's scopes and one the oidc tenant does not offer.
MORE_THAN_OFFERED = ["openid", "email", "profile", "phone", "offline_access"]


def provider_calls(control, tenant: str) -> dict[str, int]:
    """The calls the app itself made to ``tenant`` (not the browser's pages)."""
    return {e: n for e, n in control("GET", "calls")[tenant].items()
            if e not in BROWSER_ENDPOINTS}


def post(browser, page, url: str):
    return browser.post(url, data={"csrf_token": browser.csrf(page)})


def id_token_payload(page) -> dict:
    section = page.text.split('id="id_token"', 1)[1]
    payload = re.search(r'data-part="payload">.*?<pre>(.*?)</pre>', section, re.S)
    assert payload, "the account page shows no id token payload"
    return json.loads(unescape(payload.group(1)))


def test_offline_access_sends_prompt_consent_and_gets_a_refresh_token(browser, app_url,
                                                                      control, swap_app):
    swap_app(config_file="oidc.toml")
    login = browser.get(f"{app_url}/auth/{OIDC_PROVIDER}/login", allow_redirects=False)
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert "offline_access" in query["scope"][0].split() and query["prompt"] == ["consent"]
    page = sign_in(browser, app_url, OIDC_PROVIDER)
    assert page.url == f"{app_url}/account"
    assert "Refresh tokens now" in page.text and "gave no refresh token" not in page.text


def test_a_refresh_asks_no_scope_so_a_narrower_grant_still_refreshes(browser, app_url,
                                                                     control, swap_app):
    """RFC 6749 section 6. Twice in a row: the tenant rotates refresh tokens and revokes
    the grant when a spent one comes back, so the second works only if the app kept
    the new refresh token."""
    swap_app(config_file="oidc.toml", providers={OIDC_PROVIDER: {"scopes": MORE_THAN_OFFERED}})
    page = sign_in(browser, app_url, OIDC_PROVIDER)
    assert page.url == f"{app_url}/account"
    for _ in range(2):
        page = post(browser, page, f"{app_url}/auth/refresh")
        assert page.url == f"{app_url}/account", page.text[:300]
        assert "Tokens refreshed" in page.text and 'data-state="refreshed"' in page.text
    assert provider_calls(control, "oidc")["token"] == 3
    assert not [e for e in control("GET", "events") if e["event"] == "refresh_token_reused"]


def test_auth0_with_rotation_on_refreshes_twice_in_a_row(browser, app_url, control):
    control("POST", "behaviour", tenant="auth0", rotate_refresh_tokens=True)
    page = sign_in(browser, app_url, "auth0")
    for _ in range(2):
        page = post(browser, page, f"{app_url}/auth/refresh")
        assert "Tokens refreshed" in page.text, page.text[:300]
    assert not [e for e in control("GET", "events") if e["event"] == "refresh_token_reused"]


def test_the_account_page_is_complete_when_the_profile_is_in_userinfo_only(browser, app_url,
                                                                           control,
                                                                           swap_app):
    """OpenID Connect Core 5.4: the id token has no e-mail or name; the sign-in asks
    userinfo once, so a warm sign-in makes two calls (one when the id token has them)."""
    swap_app(config_file="oidc.toml")
    sign_in(browser, app_url, OIDC_PROVIDER)  # discovery and keys are fetched here
    control("DELETE", "calls")
    page = sign_in(browser, app_url, OIDC_PROVIDER, user="alice")
    assert page.url == f"{app_url}/account"
    assert not {"email", "name"} & set(id_token_payload(page))
    assert "alice@example.com" in page.text and "Alice Example" in page.text
    assert 'class="userinfo"' in page.text
    assert provider_calls(control, "oidc") == {"token": 1, "userinfo": 1}

    control("POST", "behaviour", tenant="oidc", profile_in_id_token=True)
    control("DELETE", "calls")
    page = sign_in(browser, app_url, OIDC_PROVIDER)
    assert id_token_payload(page)["email"] == "alice@example.com"
    assert provider_calls(control, "oidc") == {"token": 1}


@pytest.mark.parametrize("fault", ["down", "userinfo_other_sub"])
def test_userinfo_at_sign_in_an_outage_keeps_it_another_subject_refuses_it(
        browser, app_url, control, swap_app, fault):
    swap_app(config_file="oidc.toml")
    sign_in(browser, app_url, OIDC_PROVIDER)  # discovery and keys cached before the fault
    if fault == "down":
        control("POST", "faults", tenant="oidc", fault="down", endpoint="userinfo")
        page = sign_in(browser, app_url, OIDC_PROVIDER)
        assert page.url == f"{app_url}/account" and 'data-state="signed_in"' in page.text
        assert "not in the id token: ask the userinfo endpoint below" in page.text
    else:
        control("POST", "faults", tenant="oidc", fault=fault)
        page = sign_in(browser, app_url, OIDC_PROVIDER)
        assert 'data-error="userinfo_sub_mismatch"' in page.text


def test_sign_out_goes_through_the_providers_confirmation_page(browser, app_url, control,
                                                              swap_app):
    swap_app(config_file="oidc.toml")
    page = sign_in(browser, app_url, OIDC_PROVIDER)
    leaving = post(browser, page, f"{app_url}/auth/signout")
    assert leaving.status_code == 200 and "Yes, sign me out" in browser.buttons(leaving)
    assert 'data-state="signed_in"' not in browser.get(f"{app_url}/account").text
    home = browser.click(leaving, "Yes, sign me out")
    assert home.url == f"{app_url}/"
    assert [e for e in control("GET", "events") if e["event"] == "logout"]
    assert 'data-state="signed_out"' in home.text
