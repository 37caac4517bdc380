"""Several tabs find the tokens expired at once: one refresh, nobody signed out."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from webapp import sessions, signin
from webapp.config import settings

from .flows import sign_in, wait_until
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
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired

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

    monkeypatch.setattr(signin, "REFRESH_MARGIN", 30)
    page = browser.get(f"{app_url}/account")
    assert page.status_code == 200 and 'data-state="refreshed"' in page.text
    assert app.session_interface.read(sid)["auth"]["tokens"] == after["tokens"]


def test_a_request_that_read_the_session_earlier_does_not_put_old_tokens_back(
        browser, app_url, control, live_app):
    """A slow userinfo request reads the session, a refresh completes meanwhile,
    then the slow one ends and writes the session: the refreshed tokens stay,
    and what the slow request added beside them (its notice) is kept too."""
    page = sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    csrf = browser.csrf(page)
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="userinfo", seconds=1.5)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{app_url}/account/userinfo",
                           cookies={"fedlab": sid}, data={"csrf_token": csrf},
                           allow_redirects=False, timeout=30)
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("userinfo") == 1)
        refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": csrf})
        assert refreshed.status_code == 200 and 'data-state="refreshed"' in refreshed.text
        fresh = live_app.session_interface.read(sid)["auth"]
        assert fresh["generation"] == 1
        assert slow.result().status_code == 302
    kept = live_app.session_interface.read(sid)
    assert kept["auth"]["tokens"] == fresh["tokens"] and kept["auth"]["generation"] == 1
    account = browser.get(f"{app_url}/account")
    assert "The userinfo endpoint answered" in account.text


def test_a_refresh_that_cannot_get_the_lock_keeps_the_visitor_signed_in(
        browser, app_url, control, swap_app, redis_url, monkeypatch):
    """Another instance holds the lock in Redis past the wait (a slow provider, an
    instance that died): this one neither refreshes beside it nor signs the
    visitor out."""
    app = swap_app(session={"type": "redis", "redis_url": redis_url})
    monkeypatch.setattr(sessions, "lock_seconds", lambda: 0.3)  # wait briefly for the lock
    page = sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    before = app.session_interface.read(sid)["auth"]
    lock = f"{settings(app).session.key_prefix}refresh-lock:{sid}"
    store = redis.Redis.from_url(redis_url)
    control("DELETE", "calls")
    store.set(lock, "another-instance", px=60_000)  # as another instance's refresh would
    try:
        refreshed = browser.post(f"{app_url}/auth/refresh",
                                 data={"csrf_token": browser.csrf(page)})
        monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
        account = browser.get(f"{app_url}/account")
    finally:
        store.delete(lock)
    assert refreshed.status_code == 200 and "Another page is renewing" in refreshed.text
    assert account.status_code == 200 and 'data-state="signed_in"' in account.text
    assert control("GET", "calls").get("auth0", {}).get("token", 0) == 0
    assert app.session_interface.read(sid)["auth"]["tokens"] == before["tokens"]
    # With the lock free again, the next page refreshes as usual.
    assert 'data-state="refreshed"' in browser.get(f"{app_url}/account").text
    assert control("GET", "calls")["auth0"]["token"] == 1


def test_a_refresh_waiting_on_a_slower_one_in_this_process_keeps_the_visitor_signed_in(
        browser, app_url, control, swap_app, monkeypatch):
    """With the file store the lock is this process's: a second refresh that
    cannot get it in time while the first is at the provider does not refresh."""
    app = swap_app()
    monkeypatch.setattr(sessions, "lock_seconds", lambda: 0.3)  # wait briefly for the lock
    page = sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    csrf = browser.csrf(page)
    before = app.session_interface.read(sid)["auth"]
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="token", seconds=3)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(requests.post, f"{app_url}/auth/refresh", cookies={"fedlab": sid},
                            data={"csrf_token": csrf}, allow_redirects=False, timeout=30)
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("token") == 1)
        refreshed = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": csrf})
        monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
        account = browser.get(f"{app_url}/account")
        assert refreshed.status_code == 200 and "Another page is renewing" in refreshed.text
        assert account.status_code == 200 and 'data-state="signed_in"' in account.text
        assert first.result().status_code == 302
    assert control("GET", "calls")["auth0"]["token"] == 1
    after = app.session_interface.read(sid)["auth"]
    assert after["generation"] == 1 and after["tokens"] != before["tokens"]


def test_the_lock_outlives_the_longest_refresh(live_app, swap_app):
    """Three provider calls at most, each bounded by http_timeout, and a margin."""
    for timeout in (settings(live_app).http_timeout, 60):
        app = swap_app(http_timeout=timeout)
        with app.test_request_context():
            assert sessions.lock_seconds() == 3 * timeout + sessions.LOCK_MARGIN


def test_a_refresh_that_waited_through_a_sign_out_spends_no_refresh_token(
        browser, app_url, control, swap_app, redis_url, monkeypatch):
    """A page found the tokens expired and waits for the refresh lock (another
    instance holds it) while the visitor signs out in another tab: when the lock
    is free, the session no longer exists, and its refresh token is not used."""
    from concurrent.futures import ThreadPoolExecutor

    from .browser import Browser

    app = swap_app(session={"type": "redis", "redis_url": redis_url})
    page = sign_in(browser, app_url, "auth0")
    sid = session_cookie(browser).value
    lock = f"{settings(app).session.key_prefix}refresh-lock:{sid}"
    store = redis.Redis.from_url(redis_url)
    control("DELETE", "calls")
    store.set(lock, "another-instance", px=60_000)
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)  # every token now counts as expired
    waiting = Browser()
    waiting.http.cookies.set_cookie(session_cookie(browser))
    try:
        with ThreadPoolExecutor(1) as pool:
            account = pool.submit(waiting.get, f"{app_url}/account")
            time.sleep(0.5)  # it opens the session and waits for the lock (20 s at most)
            assert not account.done()
            out = browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)},
                               allow_redirects=False)
            assert out.status_code in (302, 303)
            store.delete(lock)  # the other instance is done
            answer = account.result()
    finally:
        store.delete(lock)
    assert control("GET", "calls").get("auth0", {}).get("token", 0) == 0
    assert 'data-state="refreshed"' not in answer.text
    assert app.session_interface.read(sid) is None
    assert browser.get(f"{app_url}/account").status_code == 401
