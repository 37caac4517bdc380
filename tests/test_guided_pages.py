"""Guided paths and the account page in Chromium: a page a visitor cannot use yet
offers the way on in place (sign in, continue as guest), and pressing it works;
the account page puts its summary first, folds the tokens and says times in words.
Each page is also checked by ``inspect_page`` (axe-core, 320 px, screenshots)."""

from __future__ import annotations

import re

from webapp import sessions
from webapp.config import settings

from . import test_browser
from .page_checks import inspect_page
from .test_browser import click_through_provider, sign_in_by_clicking

#: How tall the account page may be at 1280 px with every detail folded (about half: the page
#: of raw JSON it replaces was 2,800 to 3,250 px).
ACCOUNT_HEIGHT_LIMIT = 1700


#: test_browser's fixtures: Debian's Chromium, one per module, and a fresh page per test.
chromium, page = test_browser.chromium, test_browser.page


def offer_link(page, label: str):
    """A sign-in button of the page's own offer (not of the header or a notice)."""
    return page.locator("[data-offer]").get_by_role("link", name=label, exact=True)


def state(page) -> str | None:
    return page.locator("main [data-state]").first.get_attribute("data-state")


def test_account_signed_out_offers_the_sign_in_and_comes_back(page, app_url, control):
    page.goto(f"{app_url}/account")
    assert page.locator("[data-guided]").get_attribute("data-guided") == "sign_in"
    assert page.locator("[data-error]").count() == 0
    assert state(page) == "signed_out"
    inspect_page(page, "guided-account-signed-out")
    click_through_provider(page, offer_link(page, "Sign in with Amazon Cognito"),
                           f"{app_url}/account")
    assert state(page) == "signed_in"
    assert page.locator("[data-summary]").count() == 1


def test_credentials_signed_out_offers_guest_and_sign_in(page, app_url, control):
    page.goto(f"{app_url}/credentials")
    assert page.locator("[data-guided]").get_attribute("data-guided") == "credentials"
    inspect_page(page, "guided-credentials-signed-out")
    page.get_by_role("button", name="Continue as guest").click()
    page.wait_for_load_state()
    assert page.url == f"{app_url}/credentials"
    assert page.locator("[data-aws-state]").get_attribute("data-aws-state") == "guest"
    # A guest is offered the sign-in, for the authenticated role, in place.
    assert page.locator("[data-guided]").get_attribute("data-guided") == "guest"
    assert page.get_by_role("button", name="Continue as guest").count() == 0
    inspect_page(page, "guided-credentials-guest")
    click_through_provider(page, offer_link(page, "Sign in with Google"),
                           f"{app_url}/credentials")
    assert page.locator("[data-guest-offer]").count() == 1  # keep the guest identity?


def test_account_as_a_guest_says_so_and_offers_the_sign_in(page, app_url, control):
    page.goto(f"{app_url}/credentials")
    page.get_by_role("button", name="Continue as guest").click()
    page.wait_for_load_state()
    identity = page.locator("td.identity-id").inner_text()
    page.goto(f"{app_url}/account")
    assert page.locator("[data-guided]").get_attribute("data-guided") == "sign_in"
    assert state(page) == "guest"
    assert page.locator(".guest-identity").inner_text() == identity
    inspect_page(page, "guided-account-guest")
    click_through_provider(page, offer_link(page, "Sign in with Auth0"), f"{app_url}/account")
    assert state(page) == "signed_in"


def test_a_generic_signed_out_page_guides_and_comes_back(page, app_url, control):
    """Any GET that needs a sign-in (here a storage listing) answers with the offer,
    as the account page does (401), coming back to the page asked for."""
    response = page.goto(f"{app_url}/storage/private")
    assert response.status == 401
    assert page.locator("[data-guided]").get_attribute("data-guided") == "storage"
    inspect_page(page, "guided-signed-out-offer")
    click_through_provider(page, offer_link(page, "Sign in with Google"),
                           f"{app_url}/storage/private")


def test_an_error_page_is_calm_and_offers_the_next_step(page, app_url, control):
    response = page.goto(f"{app_url}/no-such-page")
    assert response.status == 404
    error = page.locator("[data-error]")
    assert error.get_attribute("data-error") == "not_found"
    color = error.locator("h1").evaluate("h => getComputedStyle(h).color")
    assert color == page.locator("body").evaluate("b => getComputedStyle(b).color")
    inspect_page(page, "guided-error-not-found")
    page.locator("[data-error]").get_by_role("link", name="Start again").click()
    page.wait_for_load_state()
    assert page.url == f"{app_url}/"


def test_the_session_ended_notice_offers_signing_in_again(page, app_url, control, live_app,
                                                          monkeypatch):
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    real_now = sessions.now
    later = settings(live_app).session.idle_timeout + 10
    monkeypatch.setattr(sessions, "now", lambda: real_now() + later)
    page.goto(f"{app_url}/account")
    notice = page.locator("[data-session-ended]")
    assert notice.get_attribute("data-session-ended") == "idle"
    inspect_page(page, "guided-session-ended")
    again = notice.get_by_role("link", name="Sign in again with Google", exact=True)
    click_through_provider(page, again, f"{app_url}/account")
    assert state(page) == "signed_in"


def test_the_account_page_summary_first_details_folded_and_short(page, app_url, control):
    sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
    summary = page.locator("[data-summary]")
    first_token = page.locator("section.token").first
    assert summary.bounding_box()["y"] < first_token.bounding_box()["y"]
    for label in ("Name", "E-mail", "Provider", "Signed in", "Tokens expire", "Refresh"):
        assert summary.locator("dt", has_text=label).count() == 1, label
    assert summary.locator(".summary-email").inner_text().startswith("alice@example.com")
    assert summary.locator(".summary-provider").inner_text() == "Amazon Cognito"
    for name, kind in (("Refresh tokens now", ""), ("Sign out everywhere", "danger")):
        button = summary.get_by_role("button", name=name, exact=True)
        assert (button.get_attribute("class") or "") == kind, name
    # Sign out is the header's (one on the page), the picture of the sign-in a link.
    assert page.get_by_role("button", name="Sign out", exact=True).count() == 1
    assert summary.get_by_role("link", name="See your sign-in, step by step").count() == 1
    # Times in words, and the visitor's local time (the script replaced the UTC text).
    expires = summary.locator(".summary-expires")
    assert re.fullmatch(r"\(in (\d+ min|1 h)\)", expires.locator(".relative").inner_text())
    assert "UTC" not in expires.locator("time").inner_text()
    signed_in = summary.locator(".summary-signed-in .relative").inner_text()
    assert re.fullmatch(r"\((now|\d+ s ago)\)", signed_in), signed_in
    # Every token part folded, and the page far shorter than the raw JSON was.
    parts = page.locator("details")
    assert parts.count() >= 4
    assert page.locator("details[open]").count() == 0
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < ACCOUNT_HEIGHT_LIMIT, height
    inspect_page(page, "guided-account-signed-in")
    # Opened, the payload is a table whose moments are times, not epoch numbers.
    payload = page.locator("#id_token details[data-part=payload]")
    payload.locator("summary").first.click()
    assert payload.get_attribute("open") is not None
    for claim in ("exp", "iat", "auth_time"):
        cell = payload.locator(f"tr[data-claim={claim}] td")
        assert cell.locator("time").count() == 1, claim
        assert not re.search(r"\d{10}", cell.inner_text()), cell.inner_text()
    issued = payload.locator("tr[data-claim=iat] td").inner_text()
    assert re.search(r"\((now|\d+ s ago)\)$", issued), issued
    expires = payload.locator("tr[data-claim=exp] td").inner_text()
    assert re.search(r"\(in (\d+ min|1 h)\)$", expires), expires


def test_relative_words_follow_the_clock(page, app_url, control):
    """times.js keeps the words in step with the clock on a page left open
    (the page's clock is driven by Playwright, not waited for)."""
    page.clock.install()
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    words = page.locator(".summary-signed-in .relative")
    assert re.fullmatch(r"\((now|\d+ s ago)\)", words.inner_text())
    page.clock.fast_forward("10:00")
    assert re.fullmatch(r"\(1\d min ago\)", words.inner_text()), words.inner_text()


def test_the_credentials_page_summary_first_with_expiry_in_words(page, app_url, control):
    page.goto(f"{app_url}/credentials")
    click_through_provider(page, offer_link(page, "Sign in with Google"), f"{app_url}/credentials")
    assert page.locator("[data-aws-state]").get_attribute("data-aws-state") == "authenticated"
    summary = page.locator(".credentials-summary")
    table = page.locator("table.credentials")
    assert summary.bounding_box()["y"] < table.bounding_box()["y"]
    role = summary.locator(".summary-role").inner_text()  # the role's name, of the ARN below
    assert f"/{role}/" in page.locator("td.role").inner_text(), role
    expires = summary.locator(".summary-expires .relative").inner_text()
    assert re.fullmatch(r"\(in (\d+ min|1 h)\)", expires), expires
    assert page.locator("[data-guided]").count() == 0  # nothing to offer a signed-in visitor
    inspect_page(page, "guided-credentials-signed-in")
