"""A visitor in a real browser: Debian's Chromium driven by Playwright for Python."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from .conftest import ROOT, require

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
# The machine has no network: keep Chromium from reaching for Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@contextmanager
def chromium_browser() -> Iterator[object]:
    """Debian's Chromium under Playwright (skipped locally, a failure under CI, if absent)."""
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright for Python is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(chromium, app) -> Iterator[object]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def click_through_provider(page, start, back_at: str, user: str = "alice") -> None:
    """Click ``start`` (the site's sign-in link or button), then sign in as ``user`` and
    allow on the provider stand-ins' pages until the site shows ``back_at``.

    Every step waits for a page to decide on: one with a stand-in's "Sign in as" or
    "Allow" button, or one of the site's own (its ``header.site``). Counting buttons
    does not wait, so on a chain of hops (app -> Cognito -> Amazon) it could read a page
    half-way and then wait for a button that never comes. Each click waits for the page
    it leads to, so no button is clicked twice. A form_post page ("Continue") is not a
    step: its own script posts the answer, and pressing its button as well would race
    that post with a second one."""
    choices = page.get_by_role(
        "button", name=re.compile(rf"^(Sign in as {re.escape(user)}|Allow)$"))
    site = page.locator("header.site")
    with page.expect_navigation():
        start.click()
    while True:
        choices.or_(site).first.wait_for()
        if site.count():
            assert page.url.startswith(back_at), f"ended at {page.url}, not {back_at}"
            return
        with page.expect_navigation():
            choices.first.click()


def sign_in_by_clicking(page, app_url: str, label: str, user: str = "alice") -> None:
    page.goto(f"{app_url}/")
    click_through_provider(page, page.get_by_role("link", name=label, exact=True),
                           f"{app_url}/account", user)


def upload_by_clicking(page, app_url: str, level: str, path: Path) -> None:
    """On the storage tab ``level``: pick ``path``, press Upload, and wait for the
    listing to name the file, with the upload shown as a success (the bar full and
    marked done, "Uploaded <level>/...")."""
    page.goto(f"{app_url}/storage/{level}")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload", exact=True).click()
    # The page reloads after a success, and says it again once reloaded: these hold
    # before the reload and after it, so waiting for them cannot miss the moment.
    page.wait_for_selector(f"a:has-text('{path.name}')")
    page.wait_for_selector("#upload-progress.done[value='100'][aria-valuetext='Uploaded']")
    page.get_by_role("status").filter(has_text=f"Uploaded {level}/").wait_for()


def delete_by_clicking(page, name: str) -> None:
    """Delete ``name`` from the listing shown: open its Delete step, confirm, and wait
    for the listing again with the notice naming it."""
    page.locator("summary", has_text=f"Delete {name}").click()
    with page.expect_navigation():
        page.get_by_role("button", name=f"Yes, delete {name}", exact=True).click()
    page.get_by_role("status").filter(has_text=f"Deleted {name}.").wait_for()


@pytest.mark.parametrize(("provider", "label"), [
    ("cognito", "Sign in with Amazon Cognito"),
    ("cognito-google", "Sign in with Google, through Cognito"),
    ("auth0", "Sign in with Auth0"),
    ("google", "Sign in with Google"),
    ("facebook", "Sign in with Facebook"),
    ("cognito-amazon", "Sign in with Amazon, through Cognito"),
    ("amazon", "Sign in with Amazon"),
    ("apple", "Sign in with Apple"),
    ("cognito-apple", "Sign in with Apple, through Cognito"),
])
def test_sign_in_and_out_by_clicking(page, app_url, control, provider, label):
    sign_in_by_clicking(page, app_url, label)
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_in"
    assert "alice@example.com" in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"account-{provider}.png"), full_page=True)
    # The header's Sign out (the account page may have its own too).
    header = page.locator("header.site")
    header.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_out"


def test_upload_download_delete_as_a_visitor(page, app_url, control, aws_control, tmp_path):
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    page.goto(f"{app_url}/storage/private")
    sample = tmp_path / "holiday-notes.txt"
    sample.write_bytes(b"Federation Lab upload test\n" * 20000)  # ~540 kB: progress is seen
    upload_by_clicking(page, app_url, "private", sample)
    with page.expect_download() as download:
        page.get_by_role("link", name="holiday-notes.txt").click()
    assert download.value.suggested_filename == "holiday-notes.txt"
    assert Path(download.value.path()).read_bytes() == sample.read_bytes()
    delete_by_clicking(page, "holiday-notes.txt")
    assert page.locator("a:has-text('holiday-notes.txt')").count() == 0
    page.screenshot(path=str(ARTIFACTS / "storage-after-delete.png"), full_page=True)


def test_diagnostics_at_127_warns_and_copies_the_callback_url(chromium, swap_app, app_url):
    """Opened at 127.0.0.1 with no origin registered (with one, the site sends the
    browser there: tests/test_guards.py): the warning, then a working Copy."""
    swap_app(standins={"app_origins": []})
    origin = app_url.replace("://localhost:", "://127.0.0.1:")
    context = chromium.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{origin}/diagnostics")
        warning = page.locator('[data-warning="loopback_host_mismatch"]')
        assert warning.is_visible()
        assert "127.0.0.1" in warning.inner_text() and "localhost" in warning.inner_text()
        callback = f"{origin}/auth/google/callback"
        button = page.locator("#provider-google tr[data-register=callback] button.copy")
        assert button.get_attribute("data-copy") == callback
        button.click()
        page.wait_for_function("el => el.textContent === 'Copied'", arg=button.element_handle())
        assert page.evaluate("navigator.clipboard.readText()") == callback
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "diagnostics.png"), full_page=True)
    finally:
        context.close()


def csp_violations(page) -> list[str]:
    """Collect what Chromium reports when the Content-Security-Policy blocks something."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text else None)
    return found


def test_no_csp_violation_on_the_account_storage_and_diagnostics_pages(page, app_url, control,
                                                                       aws_control, tmp_path):
    violations = csp_violations(page)
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    page.wait_for_selector("[data-state=signed_in]")
    # The storage page, with an upload: upload.js POSTs to S3 (connect-src).
    sample = tmp_path / "csp.txt"
    sample.write_bytes(b"CSP check\n")
    upload_by_clicking(page, app_url, "private", sample)
    # Leave the bucket as found (the stand-in's reset keeps objects): delete it.
    delete_by_clicking(page, "csp.txt")
    assert page.locator("a:has-text('csp.txt')").count() == 0
    page.goto(f"{app_url}/diagnostics")
    page.locator("button.copy").first.wait_for()
    page.goto(f"{app_url}/account")
    page.wait_for_selector("[data-state=signed_in]")
    assert violations == []
    # The listener does see a violation: an image from another origin is blocked.
    page.evaluate("""() => { const i = document.createElement('img');
                             i.src = 'http://127.0.0.2:9/x.png'; document.body.append(i); }""")
    page.wait_for_timeout(500)
    assert violations and "img-src" in violations[0]


def test_a_form_post_callback_signs_in_with_the_cookie_kept_lax(chromium, app_url,
                                                                 standins_url, control,
                                                                 swap_app):
    """config/oidc.toml's ``corp`` asking for ``response_mode=form_post``: the stand-in's
    page posts the answer from its own site, so Chromium sends the SameSite=Lax
    session cookie not with that POST but with the GET it is bounced to."""
    app = swap_app(config_file="oidc.toml",
                   providers={"corp": {"authorize_params": {"response_mode": "form_post"}}})
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    callback = f"{app_url}/auth/corp/callback"
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = csp_violations(page)
    seen: list[tuple[str, str, dict[str, str], str | None]] = []
    page.on("request", lambda r: seen.append((r.method, r.url, r.all_headers(), r.post_data))
            if r.url.startswith(callback) else None)
    try:
        sign_in_by_clicking(page, app_url, "Sign in with Corporate sign-in (OpenID Connect)")
        assert page.locator("[data-state]").first.get_attribute("data-state") == "signed_in"
        assert "alice@example.com" in page.content()
        [cookie] = [c for c in context.cookies(app_url) if c["name"] == cookie_name]
        assert cookie["sameSite"] == "Lax" and cookie["httpOnly"] is True
    finally:
        context.close()
    [(post, _, post_headers, body), (get, get_url, get_headers, _)] = seen
    # The POST came from the stand-in's page, with the answer in its body and no cookie.
    assert post == "POST" and post_headers["origin"] == standins_url
    assert {k for k, _ in parse_qsl(body or "")} == {"code", "state", "iss"}
    assert f"{cookie_name}=" not in post_headers.get("cookie", "")
    # The GET it was bounced to carried the same answer in its query, and the cookie.
    assert get == "GET" and parse_qsl(urlsplit(get_url).query) == parse_qsl(body or "")
    assert f"{cookie_name}=" in get_headers.get("cookie", "")
    assert violations == []


def test_choosing_a_role_in_the_browser(page, app_url, control, aws_control):
    """alice at Cognito, in both groups: the credentials page explains her role and its
    buttons (no script, no CSP violation) ask the pool for the other one."""
    violations = csp_violations(page)
    sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
    page.goto(f"{app_url}/credentials")
    assert page.get_by_role("heading", name="Why this role").is_visible()
    assert page.locator(".role-given").inner_text() == "fedlab-admins"
    page.get_by_role("button", name="Use fedlab-readers").click()
    page.wait_for_load_state()
    assert page.locator(".role-given").inner_text() == "fedlab-readers"
    assert page.get_by_role("button", name="Use fedlab-admins").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "credentials-role-choice.png"), full_page=True)
    assert violations == []
