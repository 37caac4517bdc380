"""Sign-in as a visitor does it: the app's button, the provider's pages, back."""

from __future__ import annotations

import time
from urllib.parse import urljoin

import requests

from .browser import Browser

MAX_PAGES = 8


def through_provider(browser: Browser, page: requests.Response, app_url: str,
                     user: str = "alice", consent: str = "Allow",
                     post_form: bool = True) -> requests.Response:
    """Click through the provider's sign-in and consent pages until back at the app;
    a ``form_post`` answer's page is sent on with its "Continue" (what a browser
    without scripts presses), unless ``post_form`` is False."""
    for _ in range(MAX_PAGES):
        if page.url.startswith(app_url) or page.status_code >= 400:
            return page
        buttons = browser.buttons(page)
        if f"Sign in as {user}" in buttons:
            page = browser.click(page, f"Sign in as {user}")
        elif consent in buttons:
            page = browser.click(page, consent)
        elif post_form and "Continue" in buttons:
            page = browser.click(page, "Continue")
        else:
            return page
    raise AssertionError(f"still at the provider after {MAX_PAGES} pages: {page.url}")


def sign_in(browser: Browser, app_url: str, provider: str, user: str = "alice",
            consent: str = "Allow", next_path: str | None = None,
            post_form: bool = True) -> requests.Response:
    params = {"next": next_path} if next_path else None
    page = browser.get(f"{app_url}/auth/{provider}/login", params=params)
    return through_provider(browser, page, app_url, user, consent, post_form)


def stop_at_callback(browser: Browser, app_url: str, provider: str,
                     user: str = "alice") -> str:
    """Walk a sign-in up to the provider's redirect and return the callback URL unfollowed."""
    page = browser.get(f"{app_url}/auth/{provider}/login")
    return to_callback(browser, page, f"{app_url}/auth/{provider}/callback", user)


def to_callback(browser: Browser, page: requests.Response, callback: str,
                user: str = "alice") -> str:
    """From the provider's first page, sign in as ``user`` and allow, up to the
    provider's redirect to ``callback``; that URL, unfollowed."""
    for _ in range(MAX_PAGES):
        buttons = browser.buttons(page)
        label = f"Sign in as {user}" if f"Sign in as {user}" in buttons else "Allow"
        page = browser.click(page, label, follow=False)
        while page.is_redirect:
            location = page.headers["Location"]
            if location.startswith(callback):
                return location
            page = browser.get(urljoin(page.url, location), allow_redirects=False)
    raise AssertionError("never reached the callback")


def wait_until(condition, tries: int = 200) -> None:
    """Poll ``condition`` (a stand-in's counters, a Redis key) until it holds."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the condition never held")
