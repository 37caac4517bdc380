"""The diagnostics pages as a visitor reads them (issue 13, item 6): warnings by
severity, live checks in collapsible groups, URLs that wrap at separators and
copy exactly, each console value in its console's form, and no ``{placeholder}``
in any explanation."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from webapp import probes
from webapp.cli import main
from webapp.errors import CATALOGUE
from webapp.probes import Verdict
from webapp.providers import registry

from . import test_browser
from .conftest import PROVIDERS, make_app
from .flows import sign_in
from .page_checks import inspect_page
from .test_browser import sign_in_by_clicking

PLACEHOLDER = re.compile(r"[{}]")


#: test_browser's Chromium (Debian's), one per module.
chromium = test_browser.chromium


@pytest.fixture
def operator_app(swap_app, app_url):
    """An app of its own whose live checks may run again at once; alice (at the
    Cognito stand-in) is its operator, as the demo configuration names her."""
    return swap_app(diagnostics={"probe_interval": 0})


def attributes(part: str, name: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'{name}="([^"]*)"', part)]


def section(page_html: str, anchor: str) -> str:
    start = page_html.index(f'id="{anchor}"')
    return page_html[start:page_html.index("</section>", start)]


def register_row(part: str, register: str) -> str:
    found = re.search(rf'<tr data-register="{register}"(.*?)</tr>', part, re.S)
    assert found, part
    return found.group(1)


# -- 1. warnings by severity

def test_warnings_are_ordered_by_severity_and_say_it_in_words(config_dir, tmp_path):
    """A Strict cookie (blocking) is checked after file sessions (a note) but shown
    before it, each with its severity in words."""
    app = make_app(config_dir, tmp_path)
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    page = app.test_client().get("/diagnostics", base_url="http://localhost:8000")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert attributes(text, "data-warning") == ["cookie_samesite_strict",
                                                 "sessions_on_one_machine"]
    assert attributes(text, "data-severity") == ["blocking", "info"]
    warnings = re.findall(r'<div class="warning[^"]*"(.*?)</div>', text, re.S)
    assert "Blocking: sign-in will fail" in warnings[0]
    assert re.search(r'<p class="severity">Note</p>', warnings[1])


def test_fedlab_check_says_each_warnings_severity(monkeypatch, config_dir, tmp_path, capsys,
                                                  app, app_url, control, aws_control):
    for name, value in {"FEDLAB_CONFIG": str(config_dir / "demo.toml"),
                        "FEDLAB_SECRETS_FILE": str(config_dir / "secrets.toml"),
                        "FEDLAB_SESSION__DIR": str(tmp_path / "sessions")}.items():
        monkeypatch.setenv(name, value)
    main(["check", "--base-url", app_url])
    out = capsys.readouterr().out
    # The word the page shows ("Note", above), not the enum's value ("info").
    assert "Note: Sessions are files on this machine" in out.splitlines()
    assert "info:" not in out and "Warning: Sessions" not in out


# -- 2. live checks grouped and collapsible, in Chromium, as the operator

def test_live_checks_grouped_collapsible_and_open_on_failure(chromium, operator_app, app_url,
                                                              control, aws_control):
    # Google's client has no redirect URI registered: its callback check fails.
    control("POST", "clients", tenant="google",
            client_id="fedlab-google-client.apps.googleusercontent.com", redirect_uris=[])
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
        page.goto(f"{app_url}/diagnostics")
        with page.expect_navigation():
            page.get_by_role("button", name="Run live checks").click()
        groups = page.locator("details.verdict-group")
        names = [groups.nth(i).get_attribute("data-group") for i in range(groups.count())]
        assert names == [*PROVIDERS, "identity-pool"]
        for i in range(groups.count()):
            group = groups.nth(i)
            statuses = [group.locator("tr.verdict").nth(j).get_attribute("data-status")
                        for j in range(group.locator("tr.verdict").count())]
            assert statuses, names[i]
            # Open exactly when it holds a failure.
            assert (group.get_attribute("open") is not None) == ("fail" in statuses), names[i]
            # The summary line counts each status.
            counts = group.locator("[data-group-counts]").inner_text()
            for status in set(statuses):
                assert f"{statuses.count(status)} {status}" in counts, (names[i], counts)
        google = page.locator('details[data-group="google"]')
        assert google.locator('tr[data-probe="callback"]').get_attribute("data-status") == "fail"
        assert google.locator('tr[data-probe="callback"]').is_visible()
        # A closed group shows its summary only, and opens with a click.
        auth0 = page.locator('details[data-group="auth0"]')
        assert auth0.get_attribute("open") is None
        assert not auth0.locator("tr.verdict").first.is_visible()
        auth0.locator("summary").click()
        assert auth0.locator("tr.verdict").first.is_visible()
        auth0.locator("summary").click()
        # Every explanation reads as words.
        causes = page.locator(".explained .cause").all_inner_texts()
        assert causes and not [c for c in causes if PLACEHOLDER.search(c)], causes
        inspect_page(page, "diagnostics-operator")
        # Folded, a run with one failure is short: far from the 7,600 px of one table.
        height = page.evaluate("document.querySelector('#live-checks').offsetHeight")
        assert height < 2500, height
    finally:
        context.close()


# -- 3. long URLs wrap at separators and copy exactly

def test_urls_wrap_only_at_separators_and_copy_exactly(chromium, app, app_url):
    context = chromium.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.set_viewport_size({"width": 320, "height": 900})
        page.goto(f"{app_url}/diagnostics")
        values = page.locator("table.matrix code.value")
        assert values.count() > len(PROVIDERS)
        wrapped = 0
        for i in range(values.count()):
            code = values.nth(i)
            exact = code.locator("xpath=following-sibling::button[1]").get_attribute(
                "data-copy")
            # What is shown is the exact value, with no zero-width character in it.
            assert code.inner_text() == exact
            assert "\u200b" not in code.inner_text()
            lines = code.evaluate("""code => {
                // Each piece between two <wbr> is a text node: one line box each
                // means no piece (no word) is broken; several for the whole
                // value means it did wrap, at a separator.
                const pieces = [...code.childNodes].filter(n => n.nodeType === 3);
                const range = document.createRange();
                const broken = pieces.filter(n => {
                    range.selectNodeContents(n);
                    const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                    return tops.size > 1;
                }).map(n => n.textContent);
                range.selectNodeContents(code);
                const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                return {broken, lines: tops.size};
            }""")
            assert lines["broken"] == [], (exact, lines)
            wrapped += lines["lines"] > 1
        assert wrapped, "no value was long enough to wrap at 320 px"
        # Copied by selection: the value, byte for byte.
        callback = page.locator("#provider-cognito-google tr[data-register=callback] code.value")
        selected = callback.evaluate("""code => {
            const range = document.createRange();
            range.selectNodeContents(code);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return selection.toString();
        }""")
        assert selected == f"{app_url}/auth/cognito-google/callback"
        assert callback.evaluate("code => code.innerHTML").count("<wbr>") >= 5
        # Copied by the button: the same value.
        button = page.locator("#provider-cognito-google tr[data-register=callback] button.copy")
        button.click()
        page.wait_for_function("el => el.textContent === 'Copied'", arg=button.element_handle())
        assert page.evaluate("navigator.clipboard.readText()") == selected
    finally:
        context.close()


def test_a_url_is_escaped_before_it_is_wrapped(swap_app, browser, app_url, monkeypatch):
    url = 'http://x.example/<script>alert("1")</script>?a=b&c=d'
    fake = Verdict("google", "discovery", "fail", "Failed.", {"url": url})
    page = run_fake_checks(swap_app, browser, app_url, monkeypatch, [fake])
    assert "<script>" not in page
    shown = re.search(r'<dt>url</dt>\s*<dd class="url">(.*?)</dd>', page, re.S).group(1)
    assert "<wbr>" in shown
    assert html.unescape(shown.replace("<wbr>", "")) == url


# -- 4. each console value in the form that console wants

def test_each_console_value_in_its_consoles_form(app, app_url, browser):
    page = browser.get(f"{app_url}/diagnostics").text
    host = urlsplit(app_url).hostname
    # Facebook's App Domains and Apple's Domains and Subdomains: the host name alone.
    for name in ("facebook", "apple"):
        row = register_row(section(page, f"provider-{name}"), "origin")
        assert attributes(row, "data-copy") == [host], name
        assert 'data-form="host"' in row
    # Google's JavaScript origins, Amazon's Allowed Origins, Auth0's Web Origins: an origin.
    for name in ("google", "amazon", "auth0"):
        row = register_row(section(page, f"provider-{name}"), "origin")
        assert attributes(row, "data-copy") == [app_url], name
        assert 'data-form="origin"' in row
    # Apple's Return URLs: the whole callback URL.
    row = register_row(section(page, "provider-apple"), "callback")
    assert attributes(row, "data-copy") == [f"{app_url}/auth/apple/callback"]
    # Through Cognito, Facebook's and Apple's own consoles get the Hosted UI's host name.
    providers = registry.providers(app)
    for name, field in (("cognito-facebook", "App Domains"),
                        ("cognito-apple", "Domains and Subdomains")):
        if name not in providers:
            continue
        hosted = providers[name].settings["hosted_ui_url"]
        part = section(page, f"provider-{name}")
        rows = re.findall(r'<tr data-register="upstream">(.*?)</tr>', part, re.S)
        domain = next(r for r in rows if field in r)
        assert attributes(domain, "data-copy") == [urlsplit(hosted).hostname]


# -- 5. no {placeholder} shown

def every_cause(page_html: str) -> list[str]:
    return [html.unescape(c) for c in
            re.findall(r'class="cause">(.*?)</(?:p|dd)>', page_html, re.S)]


def test_the_catalogue_shows_every_cause_in_words_with_a_heading_and_anchor(browser, app_url):
    page = browser.get(f"{app_url}/diagnostics/errors").text
    causes = every_cause(page)
    assert len(causes) == len(CATALOGUE)
    assert not [c for c in causes if PLACEHOLDER.search(c)]
    for code, entry in CATALOGUE.items():
        article = re.search(rf'<article class="catalogue-entry" id="error-{code}"(.*?)</article>',
                            page, re.S)
        assert article, code
        assert f'<h3><a href="#error-{code}">{escape(entry.title)}</a></h3>' in article.group(1)
        assert f'<li><a href="#error-{code}">' in page


#: What the probes put beside a failure: the shapes of their evidence.
PROBE_EVIDENCE = [
    {},
    {"url": "http://x/.well-known/openid-configuration", "status": 502,
     "provider_says": "Bad gateway"},
    {"logins_key": "accounts.google.com", "identity_pool_id": "us-east-1:0",
     "aws_says": "Invalid login token."},
    {"role": "r", "role_arn": None, "given_as": "authenticated", "expected_aud": "p",
     "expected_amr": "authenticated"},
]


def run_fake_checks(swap_app, browser, app_url, monkeypatch, verdicts) -> str:
    """The page after the operator runs the live checks, whose verdicts are these."""
    swap_app(diagnostics={"probe_interval": 0})
    assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
    monkeypatch.setattr(probes, "run_probes", lambda *a, **k: verdicts)
    return browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks").text


def test_no_live_check_explanation_shows_a_placeholder(swap_app, browser, app_url,
                                                        monkeypatch):
    fakes = [Verdict("google", f"check-{i}", "fail", "Failed.", dict(evidence), code)
             for code in CATALOGUE for i, evidence in enumerate(PROBE_EVIDENCE)]
    page = run_fake_checks(swap_app, browser, app_url, monkeypatch, fakes)
    causes = every_cause(page)
    assert len(causes) == len(fakes)
    assert not [c for c in causes if PLACEHOLDER.search(c)], causes


@pytest.mark.parametrize(("path", "name"), [("/diagnostics", "diagnostics-page-signed-out"),
                                            ("/diagnostics/errors", "diagnostics-page-catalogue")])
def test_the_pages_pass_axe_and_fit_a_phone_signed_out(chromium, app, app_url, path, name):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{app_url}{path}")
        inspect_page(page, name)
        if path.endswith("/errors"):
            # Headings a screen reader can jump by: one per entry, under the page's h1.
            assert page.locator("h1").count() == 1
            assert page.locator("article.catalogue-entry h3").count() == len(CATALOGUE)
            page.goto(f"{app_url}{path}#error-redirect_mismatch")
            assert page.locator("#error-redirect_mismatch h3").is_visible()
    finally:
        context.close()
