"""Server-side sessions: a short opaque cookie, rotation, timeouts, deletion, Redis."""

from __future__ import annotations

import html
import json
import re
import secrets

import pytest
import requests

from webapp import sessions
from webapp.config import settings
from webapp.providers import registry

from .browser import Browser
from .conftest import PROVIDERS
from .flows import sign_in


def session_cookie(browser) -> requests.cookies.Cookie:
    cookies = [c for c in browser.http.cookies if c.name in ("fedlab", "__Host-fedlab")]
    assert len(cookies) == 1, browser.http.cookies
    return cookies[0]


def stored_session(app, sid: str) -> dict:
    """The stored record, opened with the app's key (the store holds ciphertext)."""
    return app.session_interface.read(sid)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_cookie_is_short_opaque_and_holds_no_token(browser, app_url, control, live_app,
                                                      provider):
    page = sign_in(browser, app_url, provider)
    assert page.url == f"{app_url}/account"
    cookie = session_cookie(browser)
    assert len(f"{cookie.name}={cookie.value}") < 100
    data = stored_session(live_app, cookie.value)
    for name, value in data["auth"]["tokens"].items():
        if name.endswith("_token") and value:
            assert value not in cookie.value
            assert value not in page.text  # the viewer shows decoded parts, not the token


def test_cookie_flags_over_http(browser, app_url, control):
    response = browser.get(f"{app_url}/auth/google/login", allow_redirects=False)
    header = response.headers["Set-Cookie"]
    assert header.startswith("fedlab=")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header and "Domain" not in header


def test_cookie_flags_under_https(live_app, config_dir, tmp_path):
    from .conftest import make_app

    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example")
    response = app.test_client().get("/auth/google/login", base_url="https://fedlab.example")
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-fedlab=")
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/" in header and "Domain" not in header


def test_sign_in_gives_a_new_session_id(browser, app_url, control, live_app):
    browser.get(f"{app_url}/auth/google/login", allow_redirects=False)
    before = session_cookie(browser).value
    sign_in(browser, app_url, "google")
    after = session_cookie(browser).value
    assert before != after
    assert stored_session(live_app, before) is None
    fixated = requests.get(f"{app_url}/account", cookies={"fedlab": before}, timeout=5)
    assert fixated.status_code == 401


def test_sign_out_deletes_the_session_on_the_server(browser, app_url, control, live_app):
    page = sign_in(browser, app_url, "google")
    sid = session_cookie(browser).value
    browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)})
    assert stored_session(live_app, sid) is None
    replay = requests.get(f"{app_url}/account", cookies={"fedlab": sid}, timeout=5)
    assert replay.status_code == 401


def test_sign_out_without_csrf_token_is_refused(browser, app_url, control):
    sign_in(browser, app_url, "google")
    refused = browser.post(f"{app_url}/auth/signout")
    assert refused.status_code == 400 and 'data-error="csrf_failed"' in refused.text
    assert browser.get(f"{app_url}/account").status_code == 200


def test_sign_out_is_post_only(browser, app_url, control):
    sign_in(browser, app_url, "google")
    assert browser.get(f"{app_url}/auth/signout").status_code == 405
    assert browser.get(f"{app_url}/account").status_code == 200


@pytest.mark.parametrize(("key", "offset"), [("idle_timeout", 10), ("absolute_timeout", 10)])
def test_timeouts_end_the_session(browser, app_url, control, live_app, monkeypatch, key,
                                  offset):
    sign_in(browser, app_url, "google")
    limit = getattr(settings(live_app).session, key)
    real_now = sessions.now
    if key == "absolute_timeout":
        # Stay active (never idle) yet outlive the absolute limit.
        step = settings(live_app).session.idle_timeout - 60
        for moved in range(step, limit, step):
            monkeypatch.setattr(sessions, "now", lambda m=moved: real_now() + m)
            assert browser.get(f"{app_url}/account").status_code == 200
    monkeypatch.setattr(sessions, "now", lambda: real_now() + limit + offset)
    page = browser.get(f"{app_url}/account")
    assert page.status_code == 401
    assert "Your session ended" in page.text


def guest_identity(page) -> str | None:
    found = re.search(r'class="identity-id">([^<]+)<', page.text)
    return found.group(1) if found else None


def test_a_guest_session_ends_at_the_absolute_timeout_however_active(
        browser, app_url, control, aws_control, live_app, monkeypatch):
    """A guest's session has the timeouts a signed-in one has: used every 28 minutes
    (never idle), it still ends at absolute_timeout and says so."""
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    first = guest_identity(page)
    assert first
    limit = settings(live_app).session
    real_now = sessions.now
    step = limit.idle_timeout - 120
    for moved in range(step, limit.absolute_timeout, step):
        monkeypatch.setattr(sessions, "now", lambda m=moved: real_now() + m)
        assert browser.get(f"{app_url}/storage/public").status_code == 200
    monkeypatch.setattr(sessions, "now", lambda: real_now() + limit.absolute_timeout + 10)
    page = browser.get(f"{app_url}/credentials")
    words = " ".join(html.unescape(page.text).split())
    assert "Your session ended after its maximum lifetime" in words
    assert "a guest's AWS credentials" in words
    assert guest_identity(page) is None  # no guest any more: the offer again


def test_a_guest_session_in_use_is_renewed(browser, app_url, control, aws_control, live_app,
                                           monkeypatch):
    """A guest reading pages every 25 minutes keeps its session (and its identity) for
    two hours: each use renews it, as a signed-in session's does, where only a
    write did (the store's own clock moves too, so a record not renewed expires)."""
    from webapp import session_files

    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    first = guest_identity(page)
    real_now, real_files = sessions.now, session_files.now
    for moved in range(1500, 2 * 3600, 1500):
        monkeypatch.setattr(sessions, "now", lambda m=moved: real_now() + m)
        monkeypatch.setattr(session_files, "now", lambda m=moved: real_files() + m)
        assert browser.get(f"{app_url}/storage/public").status_code == 200
    assert guest_identity(browser.get(f"{app_url}/credentials")) == first


def test_an_idle_timeout_shorter_than_a_sign_in_leaves_the_sign_in_under_way_alone(
        browser, app_url, control, swap_app, monkeypatch):
    """A sign-in under way lives its own 600 s, whatever the idle timeout: set to 300 s,
    a visitor who takes 400 s at the provider still lands signed in."""
    from .flows import stop_at_callback

    swap_app(session={"idle_timeout": 300})
    callback = stop_at_callback(browser, app_url, "google")
    real_now = sessions.now
    monkeypatch.setattr(sessions, "now", lambda: real_now() + 400)
    landed = browser.get(callback)
    assert landed.url == f"{app_url}/account" and landed.status_code == 200, landed.text[:300]
    assert "Your session ended" not in landed.text


def test_a_record_made_before_sessions_had_a_clock_gets_one_and_then_times_out(
        browser, app_url, control, aws_control, live_app, monkeypatch):
    """A guest's record from before this release (no clock): its first use gives it
    one, from which its timeouts count, instead of living as long as it is written."""
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    assert guest_identity(page)
    interface = live_app.session_interface
    sid = session_cookie(browser).value
    store_id = interface.store_id(sid)
    old = {k: v for k, v in interface.read(sid).items() if k not in ("started_at", "last_seen")}
    assert interface.store.update(store_id, interface.sealer.seal(old, store_id), 1800)
    assert browser.get(f"{app_url}/credentials").status_code == 200  # the clock starts
    assert "started_at" in interface.read(sid)
    limit = settings(live_app).session.absolute_timeout
    real_now = sessions.now
    monkeypatch.setattr(sessions, "now", lambda: real_now() + limit + 10)
    assert "Your session ended" in browser.get(f"{app_url}/credentials").text


@pytest.mark.parametrize("key", ["idle_timeout", "absolute_timeout"])
def test_sign_out_after_a_timeout_still_signs_out_at_the_provider(browser, app_url, control,
                                                                  live_app, monkeypatch, key):
    """The visitor comes back to a tab left open past a timeout and presses Sign out:
    not a CSRF refusal, but the provider's sign-out, whose own session may be alive."""
    page = sign_in(browser, app_url, "cognito")
    limit = getattr(settings(live_app).session, key)
    real_now = sessions.now
    monkeypatch.setattr(sessions, "now", lambda: real_now() + limit + 10)
    out = browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)},
                       allow_redirects=False)
    assert out.status_code == 302, out.text[:300]
    assert "/cognito/logout?" in out.headers["Location"]
    assert browser.get(f"{app_url}/account").status_code == 401


def test_a_quiet_page_view_does_not_write_the_session(browser, app_url, control):
    sign_in(browser, app_url, "google")
    response = browser.get(f"{app_url}/account")
    assert "Set-Cookie" not in response.headers


def test_redis_sessions(browser, app_url, control, swap_app, redis_url):
    import redis

    app = swap_app(session={"type": "redis", "redis_url": redis_url,
                            "key_prefix": "fedlab-test:"})
    client = redis.Redis.from_url(redis_url)
    page = sign_in(browser, app_url, "cognito")
    assert page.url == f"{app_url}/account"
    sid = session_cookie(browser).value
    key = f"fedlab-test:{sid}"
    assert client.exists(key)
    ttl = client.ttl(key)
    assert 0 < ttl <= settings(app).session.idle_timeout
    assert browser.get(f"{app_url}/account").status_code == 200
    browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)})
    assert not client.exists(key)


def secrets_of(app, sid: str) -> set[str]:
    """Every token and AWS secret the stored session holds now."""
    data = stored_session(app, sid) or {}
    tokens = (data.get("auth") or {}).get("tokens") or {}
    found = {v for k, v in tokens.items() if k.endswith("_token") and v}
    if data.get("aws"):  # all three are always there: a renamed field must fail here
        credentials = data["aws"]["credentials"]
        found |= {credentials[k] for k in ("access_key_id", "secret_key", "session_token")}
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_token_reaches_the_logs(browser, app_url, control, aws_control, swap_app, caplog,
                                   provider):
    """With the app at DEBUG and the root logger too (as an operator debugging
    would set them), a whole visit logs no token, AWS secret or client secret."""
    app = swap_app(log_level="DEBUG")
    caplog.set_level("DEBUG")
    page = sign_in(browser, app_url, provider)
    assert page.url == f"{app_url}/account"
    sid = session_cookie(browser).value
    seen = secrets_of(app, sid)
    assert browser.get(f"{app_url}/credentials").status_code == 200
    seen |= secrets_of(app, sid)
    credentials = stored_session(app, sid)["aws"]["credentials"]
    assert {credentials[k] for k in ("access_key_id", "secret_key", "session_token")} <= seen
    browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
    seen |= secrets_of(app, session_cookie(browser).value)
    listing = browser.get(f"{app_url}/storage/private")
    assert listing.status_code == 200, listing.text[:800]
    seen |= secrets_of(app, session_cookie(browser).value)
    account = browser.get(f"{app_url}/account")
    browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(account)})
    # The client secret: the configured one, and any a stand-in recorded receiving (Apple
    # has none configured: the site signs one, and only Apple's stand-in sees it).
    seen |= {registry.providers(app)[provider].client_secret} - {""}
    seen |= {e["secret"] for e in control("GET", "events") if e.get("event") == "client_secret"}
    assert "" not in seen and len(seen) >= 5  # a token, three AWS values, the client secret
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "webapp.events"]
    assert {"event": "signed-in", "provider": provider}.items() <= events[0].items()
    assert any(e["event"] == "signed-out" for e in events)
    # Every record: the app's, the libraries', and the request logs of the app's
    # server and of the stand-ins (which hide query values).
    ours = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    leaked = [f"{secret[:6]}..." for secret in seen if secret in ours]
    assert not leaked, "secrets reached the log"


def test_a_session_store_that_is_down_gives_a_clear_page(browser, app_url, swap_app):
    app = swap_app(session={"type": "redis", "redis_url": "redis://127.0.0.1:1/0"})
    options = app.extensions["fedlab_sessions"].store.client.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == sessions.STORE_TIMEOUT
    page = browser.get(f"{app_url}/auth/google/login", timeout=5)  # a hang raises
    assert page.status_code == 503
    assert 'data-error="session_store_down"' in page.text
    assert "Traceback" not in page.text


def test_one_sign_in_is_the_same_issuer_subject_and_moment():
    """Visitors are told apart by issuer and subject: a stored sign-in with the same
    subject at another issuer is someone else, and its tokens are never taken."""
    from msgspec.structs import replace

    from webapp.records import SignIn, Tokens
    from webapp.session_store import keep_newer_tokens

    mine = SignIn(provider="a", iss="https://a.example", sub="42", signed_in_at=1,
                  generation=0, claims={}, tokens=Tokens(access_token="mine"))
    newer = replace(mine, generation=1, tokens=Tokens(access_token="newer"))
    elsewhere = replace(newer, iss="https://b.example")
    assert mine.same_as(newer) and not mine.same_as(elsewhere)
    assert not mine.same_as(replace(newer, signed_in_at=2))
    assert not mine.same_as(None)
    data = {"auth": mine.dump()}
    kept, theirs = data["auth"], {"auth": elsewhere.dump()}
    keep_newer_tokens(data, theirs)
    assert data["auth"] is kept
    theirs = {"auth": newer.dump()}
    keep_newer_tokens(data, theirs)
    assert data["auth"] is theirs["auth"]


def test_a_malformed_stored_sign_in_is_signed_out(browser, app_url, control, live_app):
    """A stored sign-in of the wrong shape (an older release's, a damaged record)
    is nobody: the pages say signed out instead of failing on a missing field."""
    from webapp.session_interface import StoredSession

    sign_in(browser, app_url, "google")
    sid = session_cookie(browser).value
    record = stored_session(live_app, sid)
    del record["auth"]["iss"]
    assert live_app.session_interface.write(StoredSession(record, sid=sid, stored=True))
    account = browser.get(f"{app_url}/account")
    assert account.status_code == 401 and 'data-guided="sign_in"' in account.text
    assert 'data-state="signed_out"' in account.text  # the session is gone, not a guest's
    home = browser.get(f"{app_url}/")
    assert home.status_code == 200 and 'data-state="signed_out"' in home.text
    assert "Sign in with" in home.text


def test_redis_holds_nothing_for_anonymous_pages_and_a_pending_sign_in_briefly(
        browser, app_url, control, aws_control, swap_app, redis_url):
    """The home page and diagnostics store nothing, and a form on an anonymous page
    works without a record; a sign-in under way lives as long as it may take
    (600 s), a signed-in session the idle timeout."""
    import redis

    prefix = f"fedlab-test-{secrets.token_hex(4)}:"
    app = swap_app(session={"type": "redis", "redis_url": redis_url, "key_prefix": prefix})
    client = redis.Redis.from_url(redis_url)
    for path in ("/", "/diagnostics", "/credentials"):
        assert browser.get(f"{app_url}{path}").status_code == 200
    assert list(client.scan_iter(f"{prefix}*")) == []
    # The guest form on the anonymous page is accepted: its token needs no record.
    guest = browser.post(f"{app_url}/credentials/guest",
                         data={"csrf_token": browser.csrf(browser.get(f"{app_url}/credentials"))})
    assert guest.status_code == 200 and 'data-aws-state="guest"' in guest.text
    guest_key = prefix + session_cookie(browser).value
    assert client.ttl(guest_key) > 600

    visitor = Browser()
    visitor.get(f"{app_url}/auth/google/login", allow_redirects=False)
    pending = prefix + session_cookie(visitor).value
    assert 0 < client.ttl(pending) <= 600
    assert sign_in(visitor, app_url, "google").url == f"{app_url}/account"
    signed_in = prefix + session_cookie(visitor).value
    idle = settings(app).session.idle_timeout
    assert 600 < client.ttl(signed_in) <= idle
    keys = {key.decode() for key in client.scan_iter(f"{prefix}*")}
    # Beside the two sessions, only the guest identities' counts and the sign-in's
    # entry in the index of sessions by person (no session id names them: a colon
    # after the prefix).
    records = {key for key in keys if ":" not in key[len(prefix):]}
    assert records == {guest_key, signed_in}
    counts = sorted(keys - records)
    assert len(counts) == 3 and counts[1] == f"{prefix}guests:per-minute"
    assert re.fullmatch(rf"{re.escape(prefix)}guests:browser:[0-9a-f]{{32}}", counts[0])
    assert re.fullmatch(rf"{re.escape(prefix)}index:person:[0-9a-f]{{64}}", counts[2])
