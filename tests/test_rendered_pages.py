"""The account page kept as rendered for a session record: served again only to a
request that opened that very record, with its times' words as of the view.

Whether a view rendered the page is what Flask's ``template_rendered`` signal
says (a subscriber's view, as an operator's tool would see it); what the page
says is read from the responses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import template_rendered

from webapp import config, signin
from webapp.rendered_pages import RenderedPages

from .conftest import make_app
from .flows import sign_in

ACCOUNT = "account/account.html"
#: The words of a moment, as the page writes them beside each time.
WORDS = re.compile(r'data-relative="(-?\d+)">\(([^)<]*)\)')


@contextmanager
def renders(app) -> Iterator[list[str]]:
    """The templates ``app`` renders meanwhile, by name."""
    seen: list[str] = []

    def record(sender, template, context, **extra):
        seen.append(template.name)

    with template_rendered.connected_to(record, sender=app):
        yield seen


def without_words(html: str) -> str:
    return WORDS.sub(r'data-relative="\1">()', html)


def seconds_of(words: str) -> int:
    """ "12 s ago" -> -12, "in 3 s" -> 3, "now" -> 0 (seconds only: what these tests see)."""
    if words == "now":
        return 0
    number = int(re.search(r"\d+", words).group())
    assert words.endswith(" s ago") or (words.startswith("in ") and words.endswith(" s")), words
    return -number if words.endswith("ago") else number


def test_a_second_view_of_the_same_record_is_the_page_as_rendered(browser, app_url, live_app,
                                                                   control):
    first = sign_in(browser, app_url, "auth0")
    assert first.url == f"{app_url}/account"
    with renders(live_app) as seen:
        again = browser.get(f"{app_url}/account")
    assert again.status_code == 200 and seen == []
    assert without_words(again.text) == without_words(first.text)
    assert again.headers["Cache-Control"] == "no-store"
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    # Its forms work: the CSRF token of the kept page is this session's.
    asked = browser.post(f"{app_url}/account/userinfo", data={"csrf_token": browser.csrf(again)})
    assert asked.status_code == 200 and 'class="userinfo"' in asked.text
    assert "answered for the same subject as the id token" in asked.text


def test_a_notice_shown_once_is_not_shown_again_from_a_kept_page(browser, app_url, live_app,
                                                                 control):
    page = sign_in(browser, app_url, "auth0")
    notice = "answered for the same subject as the id token"
    asked = browser.post(f"{app_url}/account/userinfo", data={"csrf_token": browser.csrf(page)})
    assert notice in asked.text
    with renders(live_app) as seen:
        after = [browser.get(f"{app_url}/account") for _ in range(3)]
    assert all(notice not in p.text and 'class="userinfo"' in p.text for p in after)
    # Showing the notice changed the record: the next view rendered, the others did not.
    assert seen == [ACCOUNT]


def test_the_words_of_a_kept_page_are_as_of_the_view(browser, app_url, live_app, control):
    sign_in(browser, app_url, "auth0")
    browser.get(f"{app_url}/account")  # rendered and kept: "now" beside the sign-in
    time.sleep(5.5)  # past "now" (under 5 s) for the moment of the sign-in
    with renders(live_app) as seen:
        began = time.time()
        page = browser.get(f"{app_url}/account")
        ended = time.time()
    assert seen == []
    signed_in = re.search(r'summary-signed-in">.*?data-relative="(\d+)">\(([^)<]*)\)',
                          page.text, re.S)
    epoch, words = int(signed_in.group(1)), signed_in.group(2)
    assert words != "now"
    assert round(began) - epoch - 1 <= -seconds_of(words) <= round(ended) - epoch + 1


def test_a_change_on_another_instance_is_seen_on_the_next_view(browser, app_url, live_app,
                                                               control, config_dir):
    """Another instance on the same store writes the record (asks userinfo), then
    ends the session (signs out): this one shows each on its very next view."""
    page = sign_in(browser, app_url, "auth0")
    browser.get(f"{app_url}/account")
    store_dir = Path(config.settings(live_app).session.dir)
    other = make_app(config_dir, store_dir.parent)
    assert config.settings(other).session.dir == str(store_dir)
    client = other.test_client()
    for cookie in browser.http.cookies:
        client.set_cookie(cookie.name, cookie.value)
    token = browser.csrf(page)
    # Followed to the account page there, which shows its notice: the record
    # holds the answer, and no notice that would make this instance render anyway.
    asked = client.post("/account/userinfo", data={"csrf_token": token}, follow_redirects=True)
    assert asked.status_code == 200 and 'class="userinfo"' in asked.text
    with renders(live_app) as seen:
        shown = browser.get(f"{app_url}/account")
    assert seen == [ACCOUNT] and 'class="userinfo"' in shown.text
    assert client.post("/auth/signout", data={"csrf_token": token}).status_code in (302, 303)
    assert browser.get(f"{app_url}/account").status_code == 401


def test_each_visitor_gets_only_their_own_page(app_url, live_app, control):
    from .browser import Browser

    alice, bob = Browser(), Browser()
    sign_in(alice, app_url, "auth0", user="alice")
    sign_in(bob, app_url, "auth0", user="bob")
    for _ in range(2):
        for who, name in ((alice, "Alice"), (bob, "Bob")):
            page = who.get(f"{app_url}/account")
            assert f'class="summary-who">{name}' in page.text
    stranger = Browser()
    stranger.http.cookies.set(next(iter(alice.http.cookies)).name, "x" * 43)
    assert stranger.get(f"{app_url}/account").status_code == 401


def test_a_failed_refresh_is_explained_on_its_own_view_only(browser, app_url, live_app,
                                                            control, monkeypatch):
    sign_in(browser, app_url, "cognito")
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    failed = browser.get(f"{app_url}/account")
    assert "The tokens could not be renewed" in failed.text
    with renders(live_app) as seen:
        later = [browser.get(f"{app_url}/account") for _ in range(2)]
    assert all('data-state="refresh_failed"' in p.text for p in later)
    assert all("The tokens could not be renewed" not in p.text for p in later)
    assert seen == [ACCOUNT]


def test_an_outage_during_a_refresh_is_explained_on_its_own_view_only(
        browser, app_url, live_app, control, monkeypatch):
    """A provider that is down leaves the record as it was (the tokens stay, the
    next page tries again): its explanation must not stay on the record's page."""
    sign_in(browser, app_url, "cognito")
    browser.get(f"{app_url}/account")  # kept
    control("POST", "faults", tenant="cognito", fault="down", endpoint="token")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    failed = browser.get(f"{app_url}/account")
    assert "The tokens could not be renewed" in failed.text
    monkeypatch.undo()  # the tokens no longer count as expired: no refresh is tried
    later = browser.get(f"{app_url}/account")
    assert 'data-state="signed_in"' in later.text
    assert "The tokens could not be renewed" not in later.text


def test_the_links_follow_the_script_root(browser, app_url, live_app, control):
    """A proxy may mount the site under a prefix: the kept page of one root is not
    served under another."""
    sign_in(browser, app_url, "auth0")
    client = live_app.test_client()
    for cookie in browser.http.cookies:
        client.set_cookie(cookie.name, cookie.value)
    plain = client.get("/account")
    mounted = client.get("/account", environ_overrides={"SCRIPT_NAME": "/lab"})
    assert 'href="/static/style.css' in plain.text
    assert 'href="/lab/static/style.css' in mounted.text
    assert 'href="/static/style.css' in client.get("/account").text


def test_with_no_page_cache_every_view_renders(browser, app_url, swap_app, control):
    app = swap_app(session={"page_cache": 0})
    sign_in(browser, app_url, "auth0")
    with renders(app) as seen:
        for _ in range(3):
            assert browser.get(f"{app_url}/account").status_code == 200
    assert seen == [ACCOUNT] * 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_page_is_kept_for_max_age_at_most():
    clock = Clock()
    pages = RenderedPages(4, max_age=60, clock=clock)
    pages.keep("a", b"record", "<p>page</p>")
    clock.now += 59.9
    assert pages.get("a", b"record") == "<p>page</p>"
    clock.now += 0.1
    assert pages.get("a", b"record") is None and len(pages) == 0


def test_a_page_is_served_only_with_its_record_and_the_least_recent_goes_first():
    pages = RenderedPages(2, clock=Clock())
    pages.keep("a", b"one", "A")
    pages.keep("b", b"one", "B")
    assert pages.get("a", b"two") is None  # another record under the same key: dropped
    assert pages.get("a", b"one") is None
    pages.keep("a", b"two", "A2")
    pages.get("b", b"one")
    pages.keep("c", b"one", "C")  # over the bound: "a" was shown least recently
    assert pages.get("a", b"two") is None
    assert pages.get("b", b"one") == "B" and pages.get("c", b"one") == "C"


@pytest.mark.parametrize("size", [-1, "many"])
def test_the_setting_is_checked(config_dir, tmp_path, size):
    with pytest.raises(config.ConfigError, match=r"session\.page_cache"):
        make_app(config_dir, tmp_path, session={"page_cache": size})
