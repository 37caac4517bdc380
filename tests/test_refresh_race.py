"""Several tabs find the tokens expired at once: one refresh, nobody signed out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from webapp import auth, sessions
from webapp.session_store import SealedRedis

from .flows import sign_in
from .test_sessions import session_cookie

TABS = 6


@pytest.mark.parametrize("store", ["cachelib", "redis"])
def test_concurrent_pages_refresh_once(browser, app_url, control, swap_app, request,
                                       monkeypatch, store):
    session = {"type": "redis", "redis_url": request.getfixturevalue("redis_url")} \
        if store == "redis" else {}
    app = swap_app(session=session)
    sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    before = app.session_interface.read(sid)["auth"]["tokens"]
    control("DELETE", "calls")
    # The token call takes long enough that every tab finds the tokens expired
    # while the first refresh is still under way.
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="token", seconds=0.5)
    monkeypatch.setattr(auth, "REFRESH_MARGIN", 10**7)  # every token now counts as expired

    cookies = {"fedlab": sid}
    with ThreadPoolExecutor(TABS) as pool:
        pages = list(pool.map(
            lambda _: browser.http.get(f"{app_url}/account", cookies=cookies, timeout=30),
            range(TABS)))

    assert [p.status_code for p in pages] == [200] * TABS
    assert all('data-state="refreshed"' in p.text for p in pages)
    assert control("GET", "calls")["auth0"]["token"] == 1
    after = app.session_interface.read(sid)["auth"]
    assert after["generation"] == 1 and after["state"] == "refreshed"
    assert after["tokens"]["access_token"] != before["access_token"]
    assert after["tokens"]["refresh_token"]

    monkeypatch.setattr(auth, "REFRESH_MARGIN", 30)
    page = browser.get(f"{app_url}/account")
    assert page.status_code == 200 and 'data-state="refreshed"' in page.text
    assert app.session_interface.read(sid)["auth"]["tokens"] == after["tokens"]


def test_a_request_that_read_the_session_earlier_does_not_put_old_tokens_back(
        browser, app_url, control, live_app, monkeypatch):
    """flask-session writes the whole session at the end of a request: the
    write keeps the newer refresh generation already in the store."""
    sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    interface = live_app.session_interface
    stale = interface.read(sid)
    browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(
        browser.get(f"{app_url}/account"))})
    fresh = interface.read(sid)["auth"]
    assert fresh["generation"] == 1
    stale["last_seen"] = stale["last_seen"] + 1  # what a slower request changed
    stored = interface.session_class(stale, sid=sid)
    interface._upsert_session(live_app.permanent_session_lifetime, stored,
                              interface._get_store_id(sid))
    kept = interface.read(sid)
    assert kept["auth"]["tokens"] == fresh["tokens"]
    assert kept["last_seen"] == stale["last_seen"]


@pytest.mark.parametrize("store", ["cachelib", "redis"])
def test_a_refresh_that_cannot_get_the_lock_keeps_the_visitor_signed_in(
        browser, app_url, control, swap_app, request, monkeypatch, store):
    """Another request holds the lock past the wait (a slow provider, an instance
    that died): this one neither refreshes beside it nor signs the visitor out."""
    session = {"type": "redis", "redis_url": request.getfixturevalue("redis_url")} \
        if store == "redis" else {}
    app = swap_app(session=session)
    monkeypatch.setattr(sessions, "lock_seconds", lambda: 0.3)  # wait briefly for the lock
    page = sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    before = app.session_interface.read(sid)["auth"]
    name = f"{app.config['SESSION_KEY_PREFIX']}refresh-lock:{sid}"
    control("DELETE", "calls")
    with held_lock(app, name):
        refreshed = browser.post(f"{app_url}/auth/refresh",
                                 data={"csrf_token": browser.csrf(page)})
        monkeypatch.setattr(auth, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
        account = browser.get(f"{app_url}/account")
    assert refreshed.status_code == 200 and "Another page is renewing" in refreshed.text
    assert account.status_code == 200 and 'data-state="signed_in"' in account.text
    assert control("GET", "calls").get("auth0", {}).get("token", 0) == 0
    assert app.session_interface.read(sid)["auth"]["tokens"] == before["tokens"]
    # With the lock free again, the next page refreshes as usual.
    assert 'data-state="refreshed"' in browser.get(f"{app_url}/account").text
    assert control("GET", "calls")["auth0"]["token"] == 1


def test_the_lock_outlives_the_longest_refresh(live_app, swap_app):
    """Three provider calls at most, each bounded by http_timeout, and a margin."""
    for timeout in (live_app.config["FEDLAB"]["http_timeout"], 60):
        app = swap_app(http_timeout=timeout)
        with app.test_request_context():
            assert sessions.lock_seconds() == 3 * timeout + sessions.LOCK_MARGIN


@contextmanager
def held_lock(app, name: str) -> Iterator[None]:
    """Hold the refresh lock ``name`` as another request (or instance) would."""
    interface = app.session_interface.inner
    if isinstance(interface, SealedRedis):
        interface.client.set(name, "another-instance", px=60_000)
        try:
            yield
        finally:
            interface.client.delete(name)
        return
    with sessions._local_locks_guard:
        entry = sessions._local_locks.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
    entry[0].acquire()
    try:
        yield
    finally:
        entry[0].release()
        with sessions._local_locks_guard:
            entry[1] -= 1
            if not entry[1]:
                sessions._local_locks.pop(name, None)
