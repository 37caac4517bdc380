"""The site's shell as a visitor's browser receives it: the header says who is signed
in (name, picture, provider) or offers a sign-in, the tabs mark what needs a sign-in
first and which one is open, home gives way to a summary once signed in, and the
icon answers at /favicon.ico."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from .flows import sign_in


class Shell(HTMLParser):
    """The header's tabs (text, attributes), the header's images, and every
    sign-in button's mark, read from a page's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tabs: list[tuple[str, dict[str, str | None]]] = []
        self.header_images: list[str] = []
        self.who: dict[str, str | None] = {}
        self.who_text: list[str] = []
        self.marks: list[str] = []
        self._in_header = self._in_who = False
        self._tab: tuple[list[str], dict[str, str | None]] | None = None
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "header" and "site" in classes:
            self._in_header = True
        elif tag == "nav" and self._in_header:
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self._tab = ([], a)
        elif tag == "div" and "who" in classes:
            self._in_who, self.who = True, a
        elif tag == "img" and self._in_header:
            self.header_images.append(a.get("src") or "")
        elif tag == "svg" and "mark" in classes:
            self.marks.append(next(c for c in classes if c.startswith("mark-")))

    def handle_data(self, data: str) -> None:
        if self._tab is not None:
            self._tab[0].append(data)
        if self._in_who:
            self.who_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._tab is not None:
            self.tabs.append((" ".join("".join(self._tab[0]).split()), self._tab[1]))
            self._tab = None
        elif tag == "nav":
            self._in_nav = False
        elif tag == "div" and self._in_who:  # the who block holds no other div
            self._in_who = False
        elif tag == "header":
            self._in_header = self._in_who = False

    @property
    def who_says(self) -> str:
        return " ".join(" ".join(self.who_text).split())


def shell(html: str) -> Shell:
    parsed = Shell()
    parsed.feed(html)
    return parsed


def test_signed_out_the_header_offers_a_sign_in_and_locks_the_tabs(browser, app_url):
    page = shell(browser.get(f"{app_url}/diagnostics").text)
    assert page.who["data-standing"] == "signed_out" and page.who_says == "Sign in"
    tabs = dict(page.tabs)
    assert set(tabs) == {"Home", "Account (sign in first)",
                         "AWS credentials (sign in or continue as guest first)",
                         "Storage (sign in or continue as guest first)", "Diagnostics"}
    assert tabs["Account (sign in first)"]["class"] == "locked"
    assert tabs["Account (sign in first)"]["href"] == "/account"
    # The open tab is the current page's, and only it.
    assert [t for t, a in page.tabs if a.get("aria-current") == "page"] == ["Diagnostics"]


def test_the_picture_of_the_sign_in_is_under_the_account_tab(browser, app_url):
    page = shell(browser.get(f"{app_url}/account/sign-in").text)
    assert [t for t, a in page.tabs if a.get("aria-current") == "page"] == [
        "Account (sign in first)"]


def test_a_guest_is_said_to_be_one_and_only_the_account_tab_stays_locked(browser, app_url,
                                                                         aws_control):
    browser.post(f"{app_url}/credentials/guest",
                 data={"csrf_token": browser.csrf(browser.get(f"{app_url}/credentials"))})
    page = shell(browser.get(f"{app_url}/credentials").text)
    assert page.who["data-standing"] == "guest" and page.who_says.startswith("Guest")
    assert [t for t, a in page.tabs if a.get("class") == "locked"] == ["Account (sign in first)"]
    assert [t for t, a in page.tabs if a.get("aria-current") == "page"] == ["AWS credentials"]


@pytest.mark.parametrize(("provider", "says", "mark", "picture"), [
    ("google", "Alice Example Google", "mark-google", "/_avatar/google/alice.svg"),
    ("facebook", "Alice Example Facebook", "mark-facebook",
     "/_avatar/facebook/alice.svg"),
    ("cognito-google", "Alice Example Google, through Cognito", "mark-google", None),
    ("cognito", "Alice Example Amazon Cognito", "mark-cognito", None),
])
def test_signed_in_the_header_names_the_person_the_provider_and_shows_the_picture(
        browser, app_url, standins_url, control, provider, says, mark, picture):
    sign_in(browser, app_url, provider)
    response = browser.get(f"{app_url}/")
    page = shell(response.text)
    assert page.who["data-standing"] == "signed_in"
    assert page.who_says == f"Signed in as {says.replace('Example ', 'Example through ', 1)}" \
        " Sign out"
    assert [t for t, a in page.tabs if a.get("class") == "locked"] == []
    # The home page: a summary, no sign-in buttons; the provider's mark in the header.
    assert "Sign in with" not in response.text and 'data-state="signed_in"' in response.text
    assert mark in page.marks
    avatars = [src for src in page.header_images if "favicon" not in src]
    if picture is None:
        assert avatars == []
    else:
        assert avatars == [f"{standins_url}{picture}"]
        # The CSP lets that picture load: its origin is in img-src, and nothing else new.
        csp = dict(d.strip().split(" ", 1) for d in
                   response.headers["Content-Security-Policy"].split(";"))
        img_src = csp["img-src"].split()
        assert f"{urlsplit(standins_url).scheme}://{urlsplit(standins_url).netloc}" in img_src
        assert "*" not in csp["img-src"] and "http:" not in img_src


def test_the_sign_in_buttons_carry_their_providers_marks(browser, app_url):
    page = shell(browser.get(f"{app_url}/").text)
    assert page.marks == ["mark-cognito", "mark-google", "mark-amazon", "mark-apple",
                          "mark-auth0", "mark-google", "mark-facebook", "mark-amazon",
                          "mark-apple"]


def test_favicon_ico_answers_with_the_sites_icon(browser, app_url):
    response = browser.get(f"{app_url}/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert response.content.lstrip().startswith(b"<svg")
