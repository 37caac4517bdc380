"""Several tabs find the tokens expired at once: one refresh, nobody signed out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from webapp import auth

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
