"""Every page of the site and of the stand-ins, as a visitor meets them in Chromium:
signed out, as a guest, signed in (alice at Cognito; alice at Facebook), each
checked by :func:`tests.page_checks.inspect_page` (axe-core finds nothing at 1280
and 375 px, no sideways scroll at 320 px) and photographed as ``<page>-<state>``
for the README's tour. Then the same sign-in and sign-out with the keyboard alone.

A test walks all the pages of one state and reports every page's problems
together, so one run says everything that is left to fix.
"""

from __future__ import annotations

import re

import pytest

from . import test_browser
from .page_checks import inspect_page
from .test_browser import sign_in_by_clicking

#: test_browser's fixtures: Debian's Chromium, one per module, and a fresh page per test.
chromium, page = test_browser.chromium, test_browser.page

#: Where a signed-in tour ends up before it starts: the account page.
COGNITO = "Sign in with Amazon Cognito"
FACEBOOK = "Sign in with Facebook"


def tour(page, app_url: str, stops: list[tuple[str, str]]) -> list[str]:
    """Visit each ``(path, screenshot name)`` and inspect it; every problem found."""
    problems = []
    for path, name in stops:
        page.goto(f"{app_url}{path}")
        page.locator("header.site").wait_for()
        try:
            inspect_page(page, name)
        except AssertionError as failure:
            problems.append(str(failure))
    return problems


def test_every_page_signed_out(page, app_url, control, aws_control):
    problems = tour(page, app_url, [
        ("/", "home-signed-out"),
        ("/account", "account-signed-out"),
        ("/credentials", "credentials-signed-out"),
        ("/storage/public", "storage-public-signed-out"),
        ("/storage/protected", "storage-protected-signed-out"),
        ("/storage/private", "storage-private-signed-out"),
        ("/account/sign-in", "sign-in-picture-signed-out"),
        ("/diagnostics", "diagnostics-signed-out"),
        ("/diagnostics/errors", "errors-catalogue"),
        ("/no-such-page", "error-404"),
    ])
    assert not problems, "\n\n".join(problems)


def test_every_page_as_a_guest(page, app_url, control, aws_control):
    page.goto(f"{app_url}/credentials")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue as guest").click()
    assert page.locator(".who").get_attribute("data-standing") == "guest"
    problems = tour(page, app_url, [
        ("/credentials", "credentials-guest"),
        ("/", "home-guest"),
        ("/account", "account-guest"),
        ("/storage/public", "storage-public-guest"),
        ("/storage/protected", "storage-protected-guest"),
        ("/storage/private", "storage-private-guest"),
        ("/account/sign-in", "sign-in-picture-guest"),
        ("/diagnostics", "diagnostics-guest"),
    ])
    assert not problems, "\n\n".join(problems)


def test_every_page_signed_in_at_cognito(page, app_url, control, aws_control):
    sign_in_by_clicking(page, app_url, COGNITO)
    problems = tour(page, app_url, [
        ("/", "home-signed-in"),
        ("/account", "account-signed-in"),
        ("/credentials", "credentials-signed-in"),
        # After the credentials page: the picture has the sign-in and the credentials request.
        ("/account/sign-in", "sign-in-picture-signed-in"),
        ("/storage/public", "storage-public-signed-in"),
        ("/storage/private", "storage-private-signed-in"),
        ("/storage/protected", "storage-protected-signed-in"),
        ("/diagnostics", "diagnostics-signed-in"),
    ])
    assert not problems, "\n\n".join(problems)


def test_every_page_signed_in_at_facebook(page, app_url, control, aws_control):
    sign_in_by_clicking(page, app_url, FACEBOOK)
    problems = tour(page, app_url, [
        ("/", "home-signed-in-facebook"),
        ("/account", "account-signed-in-facebook"),
        ("/credentials", "credentials-signed-in-facebook"),
        ("/account/sign-in", "sign-in-picture-signed-in-facebook"),
        ("/storage/private", "storage-private-signed-in-facebook"),
    ])
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize(("provider", "name"), [
    ("cognito", "standin-cognito-signin"),
    ("google", "standin-google-signin"),
    ("auth0", "standin-auth0-signin"),
    ("facebook", "standin-facebook-signin"),
    ("amazon", "standin-amazon-signin"),
    ("apple", "standin-apple-signin"),
])
def test_the_standins_sign_in_pages(page, app_url, control, provider, name):
    page.goto(f"{app_url}/auth/{provider}/login")
    page.get_by_role("button", name="Sign in as alice").wait_for()
    inspect_page(page, name)


def test_the_standins_consent_confirm_logout_and_notice_pages(page, app_url, standins_url,
                                                             control):
    page.goto(f"{app_url}/auth/cognito/login")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in as bob").click()
    page.get_by_role("button", name="Allow").wait_for()
    inspect_page(page, "standin-consent")
    # The OpenID provider asks before it signs anyone out (RP-Initiated Logout).
    page.goto(f"{standins_url}/oidc/end_session?client_id=fedlab-oidc-client")
    page.get_by_role("button", name="Yes, sign me out").wait_for()
    inspect_page(page, "standin-confirm-logout")
    with page.expect_navigation():
        page.get_by_role("button", name="No, stay signed in").click()
    page.get_by_role("heading", name="Still signed in").wait_for()
    inspect_page(page, "standin-notice")


def test_the_standins_form_post_page(page, app_url, standins_url, control):
    """Apple answers by a page whose script posts the answer at once. To look at that
    page, its own CSP is told to run no script (the page itself is as served), as a
    browser with scripts off shows it."""
    def no_script(route):
        response = route.fetch()
        headers = dict(response.headers)
        if "script-src" in headers.get("content-security-policy", ""):
            headers["content-security-policy"] = re.sub(
                r"script-src [^;]*", "script-src 'none'", headers["content-security-policy"])
        route.fulfill(response=response, headers=headers)

    page.route(f"{standins_url}/apple/**", no_script)
    page.goto(f"{app_url}/auth/apple/login")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in as alice").click()
    # A first sign-in at Apple asks for consent first.
    allow, carry_on = (page.get_by_role("button", name=n) for n in ("Allow", "Continue"))
    allow.or_(carry_on).first.wait_for()
    if allow.count():
        with page.expect_navigation():
            allow.click()
    carry_on.wait_for()
    inspect_page(page, "standin-form-post")


# -- keyboard only -------------------------------------------------------------------

#: The most Tab presses to reach anything on one page.
MOST_TABS = 60


def focused(page) -> dict[str, str]:
    """The focused element: its role-ish tag, text, and whether its focus is drawn."""
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {tag: el.tagName.toLowerCase(), text: (el.innerText || el.value || '').trim(),
                outline: style.outlineStyle === 'none' ? '' : style.outlineWidth,
                shadow: style.boxShadow === 'none' ? '' : style.boxShadow};
    }""")


def tab_to(page, text: str | re.Pattern[str]) -> dict[str, str]:
    """Press Tab until the focused element reads ``text``; it must show its focus."""
    pattern = re.compile(re.escape(text)) if isinstance(text, str) else text
    seen = []
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        seen.append(now["text"])
        if pattern.fullmatch(now["text"]):
            assert now["outline"] not in ("", "0px") or now["shadow"], \
                f"{now['text']!r} has focus but shows none: {now}"
            return now
    raise AssertionError(f"Tab never reached {text!r} on {page.url}: {seen}")


def press(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_sign_in_and_out_with_the_keyboard_alone(page, app_url, control):
    page.goto(f"{app_url}/")
    # The first Tab reaches the skip link, shown while focused; it moves focus to <main>.
    skip = tab_to(page, "Skip to the page's content")
    assert skip["tag"] == "a"
    assert page.get_by_role("link", name="Skip to the page's content").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Past the Cognito button and back to it: Shift+Tab goes back too.
    tab_to(page, "Sign in with Google, through Cognito")
    page.keyboard.press("Shift+Tab")
    assert focused(page)["text"] == COGNITO
    press(page, "Enter")
    # The stand-in's sign-in page, then its consent page (a first sign-in).
    tab_to(page, "Sign in as alice")
    press(page, "Space")
    tab_to(page, "Allow")
    press(page, "Enter")
    assert page.url.startswith(f"{app_url}/account")
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_in"
    # Sign out: the header's button, pressed with Space.
    tab_to(page, "Sign out")
    press(page, "Space")
    page.wait_for_load_state()
    page.locator("header.site").wait_for()
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_out"
    assert page.locator(".who").get_attribute("data-standing") == "signed_out"
