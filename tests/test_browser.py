"""A visitor in a real browser: Debian's Chromium driven by Playwright for Python."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, require

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
# The machine has no network: keep Chromium from reaching for Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright for Python is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, app) -> Iterator[object]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.mark.parametrize(("provider", "label"), [
    ("cognito", "Sign in with Amazon Cognito"),
    ("cognito-google", "Sign in with Google, through Cognito"),
    ("auth0", "Sign in with Auth0"),
    ("google", "Sign in with Google"),
    ("facebook", "Sign in with Facebook"),
])
def test_sign_in_and_out_by_clicking(page, app_url, control, provider, label):
    page.goto(f"{app_url}/")
    page.get_by_role("link", name=label, exact=True).click()
    page.get_by_role("button", name="Sign in as alice").click()
    while not page.url.startswith(f"{app_url}/account"):
        if page.get_by_role("button", name="Sign in as alice").count():
            page.get_by_role("button", name="Sign in as alice").click()
        else:
            page.get_by_role("button", name="Allow").click()
        page.wait_for_load_state()
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_in"
    assert "alice@example.com" in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"account-{provider}.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_out"
