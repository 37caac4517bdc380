"""The app against oidc-provider, an OpenID Provider nobody here wrote.

One visitor's whole stay, in order (each step needs the one before): sign-in
through the provider's own login and consent pages, the userinfo button, two
refreshes in a row with rotated refresh tokens, a signing-key rotation while
signed in, and RP-initiated sign-out through the provider's confirmation page.
Then ``fedlab check`` against the same configuration passes every probe.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from ..browser import Browser, forms
from .conftest import CLIENT_ID, PROVIDER, USER, Site

pytestmark = pytest.mark.slow

MAX_PAGES = 8


def through_provider(browser: Browser, page: requests.Response, app_url: str) -> requests.Response:
    """oidc-provider's built-in pages: "Sign-in" (any password), then "Continue" (consent)."""
    for _ in range(MAX_PAGES):
        if page.url.startswith(app_url) or page.status_code >= 400:
            return page
        buttons = browser.buttons(page)
        if "Sign-in" in buttons:
            page = browser.click(page, "Sign-in", login=USER, password="any-password")
        elif "Continue" in buttons:
            page = browser.click(page, "Continue")
        else:
            return page
    raise AssertionError(f"still at the provider after {MAX_PAGES} pages: {page.url}")


def post(browser: Browser, page: requests.Response, path: str) -> requests.Response:
    """A button of the app: a POST with the page's CSRF token."""
    return browser.post(urljoin(page.url, path), data={"csrf_token": browser.csrf(page)})


def id_token_header(page: requests.Response) -> dict:
    """The id token's decoded header, as the account page shows it."""
    section = page.text.split('id="id_token"', 1)[1]
    header = re.search(r'data-part="header">.*?<pre>(.*?)</pre>', section, re.S)
    assert header, "the account page shows no id token header"
    return json.loads(unescape(header.group(1)))


def refreshes(site: Site) -> list[dict]:
    return [r for r in site.provider.token_requests() if r["grant_type"] == "refresh_token"]


def test_a_visitors_whole_stay(site: Site) -> None:
    browser = Browser()
    app = site.url

    # Sign-in: the authorization request asks prompt=consent, since offline_access is
    # asked for (OpenID Connect Core 11); without it this provider grants no refresh token.
    login = browser.get(f"{app}/auth/{PROVIDER}/login", allow_redirects=False)
    authorize = parse_qs(urlsplit(login.headers["Location"]).query)
    assert authorize["prompt"] == ["consent"]
    assert "offline_access" in authorize["scope"][0].split()
    page = through_provider(browser, browser.get(login.headers["Location"]), app)
    assert page.url == f"{app}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text
    assert f'<td class="iss">{site.provider.issuer}</td>' in page.text
    # The id token holds no e-mail or name (OIDC Core 5.4: they come from userinfo
    # when an access token is issued); the account page shows them all the same.
    assert "alice@example.com" in page.text and "Alice Example" in page.text
    assert "Refresh tokens now" in page.text, "no refresh token was granted"

    # Userinfo, on the visitor's request.
    page = post(browser, page, "/account/userinfo")
    assert page.url == f"{app}/account#userinfo", page.text[:500]
    assert "answered for the same subject" in page.text
    userinfo = re.search(r'<pre class="userinfo">(.*?)</pre>', page.text, re.S)
    assert userinfo and json.loads(unescape(userinfo.group(1)))["email"] == "alice@example.com"

    # Two refreshes in a row: the provider rotates the refresh token on each, so the
    # second succeeds only if the app kept the one the first returned.
    first_kid = id_token_header(page)["kid"]
    for _ in range(2):
        page = post(browser, page, "/auth/refresh")
        assert page.url == f"{app}/account", page.text[:500]
        assert "Tokens refreshed" in page.text, page.text[:2000]
        assert 'data-state="refreshed"' in page.text
    done = refreshes(site)
    assert [r["outcome"] for r in done] == ["success", "success"], done
    # RFC 6749 section 6: no scope beyond the granted one; the app sends none at all.
    assert not any(r["scope_sent"] for r in done), done
    assert done[0]["refresh_token_id"] != done[1]["refresh_token_id"]

    # A signing-key rotation while signed in: the next refreshed id token is signed
    # with a key the app has not seen, and is accepted (the keys are read again).
    rotated = site.provider.rotate_keys()
    assert rotated["kid"] != first_kid
    page = post(browser, page, "/auth/refresh")
    assert "Tokens refreshed" in page.text, json.dumps(refreshes(site)[-1])
    assert id_token_header(page)["kid"] == rotated["kid"]
    done = refreshes(site)
    assert [r["outcome"] for r in done] == ["success"] * 3, done
    # Each refresh presented the refresh token the one before it returned.
    assert len({r["refresh_token_id"] for r in done}) == 3, done

    # RP-initiated sign-out through the provider's confirmation page, back to the site.
    leaving = post(browser, page, "/auth/signout")
    assert leaving.url.startswith(site.provider.issuer), leaving.url
    assert leaving.status_code == 200
    # Its page asks "Do you want to sign-out?"; the buttons sit outside the form.
    assert "Yes, sign me out" in leaving.text
    (confirm,) = forms(leaving.text)
    back = browser.post(urljoin(leaving.url, confirm.action),
                        data={**confirm.fields, "logout": "yes"})
    assert back.url == f"{app}/", back.url
    assert 'data-state="signed_in"' not in browser.get(f"{app}/account").text
    # The provider's own session ended too: a new sign-in asks for the login again.
    again = browser.get(f"{app}/auth/{PROVIDER}/login")
    assert "Sign-in" in browser.buttons(again), again.text[:500]


def test_fedlab_check_passes_every_probe(site: Site, check_env: dict[str, str]) -> None:
    fedlab = Path(sys.executable).with_name("fedlab")
    result = subprocess.run([str(fedlab), "check", "--json"], env=check_env,
                            capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout)
    verdicts = {v["probe"]: v for v in report["verdicts"]}
    assert set(verdicts) == {"discovery", "clock", "keys", "callback", "sign_out",
                             "client_secret", "backchannel_logout"}
    assert {p: v["status"] for p, v in verdicts.items()} == dict.fromkeys(verdicts, "pass"), (
        json.dumps(verdicts, indent=1))
    assert result.returncode == 0 and report["ok"], result.stderr
    # Its confirmation page for ours, and 400 invalid_request for an unregistered one.
    assert verdicts["sign_out"]["evidence"]["status"] == 200
    assert verdicts["sign_out"]["evidence"]["unregistered_status"] == 400


def test_signing_out_at_the_provider_ends_the_session_here(site: Site) -> None:
    """oidc-provider's own logout token (Back-Channel Logout 1.0, its typ, claims
    and signature as it makes them) is accepted, and ends the sign-in here."""
    browser = Browser()
    app = site.url
    login = browser.get(f"{app}/auth/{PROVIDER}/login", allow_redirects=False)
    page = through_provider(browser, browser.get(login.headers["Location"]), app)
    assert page.url == f"{app}/account", page.text[:500]
    # The visitor signs out at the provider, not here.
    leaving = browser.get(f"{site.provider.issuer}/session/end",
                          params={"client_id": CLIENT_ID})
    assert "Yes, sign me out" in leaving.text, leaving.text[:500]
    (confirm,) = forms(leaving.text)
    browser.post(urljoin(leaving.url, confirm.action), data={**confirm.fields, "logout": "yes"})
    assert browser.get(f"{app}/account").status_code == 401
