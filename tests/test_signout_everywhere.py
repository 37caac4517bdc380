"""Sign out everywhere: every session of the person on this site, in every browser and
on every instance, and at Cognito every refresh token of the user (``GlobalSignOut``).

Observed from outside: each browser's next page, the flashed page, the stand-ins'
counts and events (control API), their token endpoint's answer to the revoked
refresh tokens, the store's keys and the event log line.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from webapp import sessions
from webapp.config import ConfigError, settings
from webapp.providers import build, registry

from . import test_browser
from .browser import Browser
from .conftest import ROOT, fail_deleting
from .flows import sign_in, wait_until
from .test_browser import sign_in_by_clicking
from .test_scale_out import instances  # noqa: F401 - the two-instance fixture
from .test_sessions import session_cookie

ADMIN_SCOPE = "aws.cognito.signin.user.admin"
#: Every Cognito app client of the demo (config/demo.toml's ``kind = "cognito"``
#: tables, read from the file so that a new one is covered too).
DEMO_COGNITO_CLIENTS = sorted(
    name for name, table in tomllib.loads(
        (ROOT / "config" / "demo.toml").read_text())["providers"].items()
    if table.get("kind") == "cognito")


def signed_in(app_url: str, provider: str, user: str = "alice") -> tuple[Browser, object]:
    browser = Browser()
    page = sign_in(browser, app_url, provider, user)
    assert page.url == f"{app_url}/account", page.text[:300]
    return browser, page


def sign_out_everywhere(browser: Browser, app_url: str, page) -> requests.Response:
    return browser.post(f"{app_url}/auth/signout-everywhere",
                        data={"csrf_token": browser.csrf(page)})


def cognito_calls(control, name: str) -> int:
    return control("GET", "calls").get("cognito", {}).get(name, 0)


def events(control, tenant: str, event: str) -> list[dict]:
    return [e for e in control("GET", "events") if e["tenant"] == tenant and e["event"] == event]


def refresh_at_standin(standins_url: str, app, provider: str, refresh_token: str):
    """A refresh at the Cognito stand-in's token endpoint, as any app client would."""
    client = registry.providers(app)[provider]
    return requests.post(f"{standins_url}/cognito/oauth2/token",
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(client.client_id, client.client_secret), timeout=10)


def cognito_refresh_tokens(servers, sub_of_user: str = "alice") -> list[str]:
    """The refresh tokens the Cognito stand-in has issued to the user (its store)."""
    store = servers[1].app.extensions["standins"]["cognito"].store
    return [r.refresh_token for r in store.by_refresh.values()
            if r.user_key == sub_of_user and r.refresh_token]


@pytest.fixture
def fresh_app(swap_app):
    """The demo's app on a session folder of its own: the sessions a test counts are
    its own, not those other tests left signed in as the same person."""
    return swap_app()


# -- two real browsers -------------------------------------------------------------------


#: test_browser's Chromium (Debian's), one per module.
chromium = test_browser.chromium


def test_two_browsers_one_signs_out_everywhere_and_cognito_hears_global_sign_out(
        chromium, fresh_app, app_url, control):
    """Must-show 4: two Chromium contexts as alice at Cognito; one ends all; the
    other's next page is signed out, and the stand-in served one GlobalSignOut."""
    contexts = [chromium.new_context(), chromium.new_context()]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(15000)
            sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
            assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_in"
        control("DELETE", "calls")
        first, second = pages
        first.get_by_role("button", name="Sign out everywhere").click()
        first.wait_for_load_state()
        text = first.content()
        assert first.locator("[data-state]").first.get_attribute("data-state") == "signed_out"
        assert "Signed out everywhere: 2 sessions of yours on this site ended" in text
        assert "GlobalSignOut" in text
        assert cognito_calls(control, "GlobalSignOut") == 1
        second.goto(f"{app_url}/account")
        assert second.locator("[data-guided]").first.get_attribute("data-guided") == "sign_in"
    finally:
        for context in contexts:
            context.close()


# -- what Cognito revoked ------------------------------------------------------------------


def test_global_sign_out_revokes_every_refresh_token_of_the_user(
        app, app_url, control, servers, standins_url):
    """The refresh tokens of both sessions, and of a session at another app client
    of the same user pool (a third party's, say), are refused afterwards at the
    token endpoint; bob's are not."""
    one, page = signed_in(app_url, "cognito")
    signed_in(app_url, "cognito")
    signed_in(app_url, "cognito", "bob")
    alice_tokens = cognito_refresh_tokens(servers, "alice")
    bob_tokens = cognito_refresh_tokens(servers, "bob")
    assert len(alice_tokens) == 2 and bob_tokens
    assert refresh_at_standin(standins_url, app, "cognito", alice_tokens[0]).status_code == 200

    done = sign_out_everywhere(one, app_url, page)
    assert done.status_code == 200 and 'data-state="signed_out"' in done.text
    assert "revoked every refresh token it issued to you" in done.text
    assert cognito_calls(control, "GlobalSignOut") == 1
    assert events(control, "cognito", "global_sign_out")

    for token in alice_tokens:
        refused = refresh_at_standin(standins_url, app, "cognito", token)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert refresh_at_standin(standins_url, app, "cognito", bob_tokens[0]).status_code == 200


def test_an_access_token_due_to_expire_is_renewed_before_global_sign_out(
        fresh_app, app_url, control, monkeypatch):
    """GlobalSignOut is authorized by the visitor's access token: one that is about to
    expire is renewed first (a refresh at the token endpoint), then sent."""
    from webapp import signin

    one, page = signed_in(app_url, "cognito")
    control("DELETE", "calls")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token is due
    done = sign_out_everywhere(one, app_url, page)
    assert "revoked every refresh token it issued to you" in done.text
    calls = control("GET", "calls")["cognito"]
    assert calls.get("token") == 1 and calls.get("GlobalSignOut") == 1, calls


@pytest.mark.parametrize("provider", DEMO_COGNITO_CLIENTS)
def test_every_demo_cognito_client_sends_global_sign_out(fresh_app, app_url, control,
                                                         provider):
    """Straight to the user pool or federated through it (Google, Amazon, Apple), the
    demo's Cognito sign-in is granted the admin scope and ends with GlobalSignOut."""
    one, page = signed_in(app_url, provider)
    control("DELETE", "calls")
    done = sign_out_everywhere(one, app_url, page)
    assert done.status_code == 200 and 'data-state="signed_out"' in done.text
    assert "revoked every refresh token it issued to you" in done.text, done.text[:2000]
    assert cognito_calls(control, "GlobalSignOut") == 1


# -- without the scope, and providers with no global sign-out ------------------------------


def test_without_the_admin_scope_global_sign_out_is_not_sent_and_sessions_still_end(
        swap_app, app_url, control):
    swap_app(providers={"cognito": {"scopes": ["openid", "email", "profile"]}})
    other, _ = signed_in(app_url, "cognito")
    one, page = signed_in(app_url, "cognito")
    control("DELETE", "calls")
    done = sign_out_everywhere(one, app_url, page)
    assert done.status_code == 200 and 'data-state="signed_out"' in done.text
    assert f"GlobalSignOut, which would end your sessions at Amazon Cognito in every app, " \
           f"needs the {ADMIN_SCOPE} scope" in done.text
    assert "it was not sent" in done.text
    assert "2 sessions of yours on this site ended" in done.text
    assert cognito_calls(control, "GlobalSignOut") == 0
    assert other.get(f"{app_url}/account").status_code == 401


def test_cognito_unreachable_is_said_and_the_sessions_still_end(fresh_app, app_url, control):
    other, _ = signed_in(app_url, "cognito")
    one, page = signed_in(app_url, "cognito")
    control("POST", "faults", tenant="cognito", fault="down", endpoint="api")
    done = sign_out_everywhere(one, app_url, page)
    assert "GlobalSignOut did not get through to Amazon Cognito (HTTP 503" in done.text
    assert "2 sessions of yours on this site ended" in done.text
    assert other.get(f"{app_url}/account").status_code == 401


@pytest.mark.parametrize(("provider", "name"), [("google", "Google"), ("auth0", "Auth0")])
def test_a_provider_without_global_sign_out_says_what_was_and_was_not_ended(
        fresh_app, app_url, control, provider, name, caplog):
    other, _ = signed_in(app_url, provider)
    one, page = signed_in(app_url, provider)
    bob, _ = signed_in(app_url, provider, "bob")
    with caplog.at_level(logging.INFO, logger="webapp.events"):
        done = sign_out_everywhere(one, app_url, page)
    assert done.status_code == 200
    assert "2 sessions of yours on this site ended" in done.text
    assert f"{name} offers no way for a site to end your sessions there" in done.text
    assert other.get(f"{app_url}/account").status_code == 401
    assert bob.get(f"{app_url}/account").status_code == 200
    # This browser's own refresh token is revoked, as a sign-out does.
    assert events(control, provider, "revoke")
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "webapp.events" and "signed-out-everywhere" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    assert line["provider"] == provider and line["sessions_ended"] == 2
    assert line["at_provider"] == "not_offered" and line["provider_sent"] is False
    assert "eyJ" not in json.dumps(line)


def test_googles_two_spellings_of_its_issuer_are_one_person(fresh_app, app_url, control):
    """Google names its issuer with and without "https://". alice signs in once with
    each: one person, so a refresh answered in the other spelling passes, and signing
    out everywhere ends both sessions."""
    one, page = signed_in(app_url, "google")
    control("POST", "faults", tenant="google", fault="iss_without_scheme")
    other, _ = signed_in(app_url, "google")
    refreshed = one.post(f"{app_url}/auth/refresh", data={"csrf_token": one.csrf(page)})
    assert "Tokens refreshed" in refreshed.text, refreshed.text[:500]
    control("DELETE", "faults")
    done = sign_out_everywhere(one, app_url, refreshed)
    assert "2 sessions of yours on this site ended" in done.text
    assert other.get(f"{app_url}/account").status_code == 401


def test_a_tab_left_open_past_its_timeout_still_ends_the_other_sessions(
        fresh_app, app_url, control, monkeypatch):
    """As "Sign out" does after a timeout: this session is gone, the others are not."""
    other, _ = signed_in(app_url, "google")
    one, page = signed_in(app_url, "google")
    real_now = sessions.now
    later = settings(fresh_app).session.idle_timeout + 10
    monkeypatch.setattr(sessions, "now", lambda: real_now() + later)
    done = sign_out_everywhere(one, app_url, page)
    monkeypatch.undo()
    assert "Signed out everywhere: 1 session of yours on this site ended" in done.text
    assert other.get(f"{app_url}/account").status_code == 401


def test_signed_out_visitors_and_forged_posts_are_refused(browser, app_url):
    form = browser.get(f"{app_url}/credentials")  # a page with a form, signed out
    assert browser.post(f"{app_url}/auth/signout-everywhere").status_code == 400
    answer = browser.post(f"{app_url}/auth/signout-everywhere",
                          data={"csrf_token": browser.csrf(form)})
    assert answer.status_code == 401 and 'data-error="signed_out"' in answer.text
    assert browser.get(f"{app_url}/auth/signout-everywhere").status_code == 405


# -- two instances on one Redis --------------------------------------------------------------


def test_sign_out_everywhere_on_one_instance_ends_the_session_on_the_other(
        instances, redis_url, control):  # noqa: F811
    origin = instances.origin
    store = redis.Redis.from_url(redis_url)
    instances.pinned = 0
    on_first, _ = signed_in(origin, "cognito")
    first_sid = session_cookie(on_first).value
    instances.pinned = 1
    on_second, page = signed_in(origin, "cognito")
    assert store.exists(f"fedlab:session:{first_sid}")
    done = sign_out_everywhere(on_second, origin, page)
    # Both, and any other test left signed in as alice in this Redis.
    ended = re.search(r"Signed out everywhere: (\d+) sessions", done.text)
    assert ended and int(ended.group(1)) >= 2, done.text[:500]
    assert cognito_calls(control, "GlobalSignOut") == 1
    assert not store.exists(f"fedlab:session:{first_sid}")
    instances.pinned = 0
    assert on_first.get(f"{origin}/account").status_code == 401


def test_a_request_in_flight_in_another_browser_does_not_bring_its_session_back(
        instances, redis_url, control):  # noqa: F811
    """Browser A's slow userinfo request read its session on the first instance;
    browser B signs out everywhere on the second; when A's request ends, A's
    session stays ended."""
    first, second = instances.backends
    store = redis.Redis.from_url(redis_url)
    instances.pinned = 0
    a, a_page = signed_in(instances.origin, "auth0")
    a_sid = session_cookie(a).value
    b, b_page = signed_in(instances.origin, "auth0")
    b_sid = session_cookie(b).value
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="userinfo", seconds=2)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{first}/account/userinfo",
                           data={"csrf_token": a.csrf(a_page)}, cookies={"fedlab": a_sid},
                           allow_redirects=False, timeout=30)
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("userinfo", 0) == 1)
        ended = requests.post(f"{second}/auth/signout-everywhere",
                              data={"csrf_token": b.csrf(b_page)}, cookies={"fedlab": b_sid},
                              allow_redirects=False, timeout=10)
        assert ended.status_code == 302 and not store.exists(f"fedlab:session:{a_sid}")
        assert slow.result().status_code == 302
    assert not store.exists(f"fedlab:session:{a_sid}")
    for backend in (first, second):
        replay = requests.get(f"{backend}/account", cookies={"fedlab": a_sid}, timeout=10)
        assert replay.status_code == 401 and 'data-guided="sign_in"' in replay.text
        assert 'data-state="signed_out"' in replay.text  # the session is gone, not a guest's


# -- configuration ---------------------------------------------------------------------------


POOL_TABLE = {"kind": "cognito", "client_id": "1example23456789", "client_secret": "s" * 32,
              "region": "eu-west-1", "user_pool_id": "eu-west-1_AbCdEf123",
              "domain": "myapp.auth.eu-west-1.amazoncognito.com"}


def test_the_user_pool_api_is_the_regions_unless_configured():
    assert build("pool", POOL_TABLE).settings["api_endpoint"] == \
        "https://cognito-idp.eu-west-1.amazonaws.com"
    custom = build("pool", {**POOL_TABLE, "api_endpoint": "https://idp.example.com/"})
    assert custom.settings["api_endpoint"] == "https://idp.example.com"
    with pytest.raises(ConfigError, match=r"providers\.pool\.api_endpoint"):
        build("pool", {**POOL_TABLE, "api_endpoint": "cognito-idp.eu-west-1.amazonaws.com"})


def test_a_store_failure_midway_leaves_this_browser_signed_in_to_ask_again(
        fresh_app, app_url, control, monkeypatch):
    """The store fails as the other browser's session is deleted: the page says so,
    and this browser is still signed in, so "Sign out everywhere" can be pressed
    again, and then ends both."""
    other, _ = signed_in(app_url, "auth0")
    this, page = signed_in(app_url, "auth0")
    heal = fail_deleting(monkeypatch, fresh_app,
                         fresh_app.session_interface.store_id(session_cookie(other).value))
    failed = sign_out_everywhere(this, app_url, page)
    assert failed.status_code == 503 and 'data-error="session_store_down"' in failed.text
    heal()
    again = this.get(f"{app_url}/account")
    assert again.status_code == 200
    done = sign_out_everywhere(this, app_url, again)
    assert "Signed out everywhere: 2 sessions of yours on this site ended" in done.text
    assert other.get(f"{app_url}/account").status_code == 401
    assert this.get(f"{app_url}/account").status_code == 401
