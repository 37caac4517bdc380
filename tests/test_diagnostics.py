"""The diagnostics page over real HTTP: the matrix, warnings, live checks, the catalogue."""

from __future__ import annotations

import html
import re
import secrets
import time
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from standins import BROWSER_ENDPOINTS
from webapp import matrix, probes
from webapp.config import settings
from webapp.errors import CATALOGUE, FedlabError
from webapp.probes import Verdict
from webapp.providers import registry
from webapp.session_interface import StoredSession

from .conftest import PROVIDERS, make_app
from .flows import sign_in
from .misconfigurations import CELL_IDS, CELLS, OIDC_PROVIDER, app_overrides, misconfigure
from .test_sessions import session_cookie


def esc(text: str) -> str:
    """As Jinja escapes it."""
    return str(escape(text))


def attribute_values(page_html: str, name: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'{name}="([^"]*)"', page_html)]


def section(page_html: str, anchor: str) -> str:
    start = page_html.index(f'id="{anchor}"')
    end = page_html.find("</section>", start)
    return page_html[start:end]


def test_page_has_a_section_per_provider_with_exact_values(browser, app, app_url):
    page = browser.get(f"{app_url}/diagnostics")
    assert page.status_code == 200
    with app.test_request_context(base_url=app_url):
        rows = matrix.rows(registry.providers(app))
    for row in rows:
        part = section(page.text, f"provider-{row.name}")
        copies = attribute_values(part, "data-copy")
        assert copies[0] == row.callback_url == f"{app_url}/auth/{row.name}/callback"
        assert esc(row.console["callback"]) in part
        if row.sign_out_url:
            assert row.sign_out_url in copies
            assert esc(row.console["sign_out"]) in part
        else:
            assert "has no sign-out" in part
        for registration in row.registrations:
            assert registration.value in copies
    assert [r.name for r in rows] == list(PROVIDERS)
    assert '<button type="button" class="copy" data-copy="' in page.text
    assert 'src="/static/copy.js"' in page.text
    assert "<script>" not in page.text  # no inline script: a CSP without it is coming


def test_cognito_google_section_lists_the_idpresponse_url(browser, app, app_url):
    page = browser.get(f"{app_url}/diagnostics")
    hosted = registry.providers(app)["cognito-google"].settings["hosted_ui_url"]
    part = section(page.text, "provider-cognito-google")
    assert f"{hosted}/oauth2/idpresponse" in attribute_values(part, "data-copy")
    assert "Authorized redirect URIs" in part
    assert "At Google</th>" in part
    assert "idpresponse" not in section(page.text, "provider-google")


def test_warnings_come_first(browser, app_url, swap_app):
    page = browser.get(f"{app_url}/diagnostics")
    assert attribute_values(page.text, "data-warning") == ["sessions_on_one_machine"]
    port = urlsplit(app_url).port
    # With localhost registered, 127.0.0.1 is sent there (webapp.guards): no warning needed.
    moved = browser.get(f"http://127.0.0.1:{port}/diagnostics")
    assert moved.url == f"{app_url}/diagnostics"
    assert "loopback_host_mismatch" not in attribute_values(moved.text, "data-warning")
    # With no origin registered, nothing says which name is right: the warning explains.
    swap_app(standins={"app_origins": []})
    other = browser.get(f"http://127.0.0.1:{port}/diagnostics")
    codes = attribute_values(other.text, "data-warning")
    assert codes[0] == "loopback_host_mismatch"
    assert other.text.index('class="warning ') < other.text.index('id="provider-cognito"')
    assert "per host name" in other.text
    # The callback URLs follow where the page was opened, as sign-in's would.
    assert f"http://127.0.0.1:{port}/auth/google/callback" in attribute_values(
        other.text, "data-copy")


def test_every_value_is_escaped(browser, swap_app, app_url):
    swap_app(providers={"google": {"display_name": '<img src=x onerror="alert(1)">'}})
    page = browser.get(f"{app_url}/diagnostics")
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text


def test_nav_links_to_diagnostics(browser, app_url):
    assert 'href="/diagnostics"' in browser.get(f"{app_url}/").text


@pytest.fixture
def checks_app(swap_app, browser, app_url):
    """Serve an app of its own (no earlier run's result) whose live checks may run
    again at once, and sign the browser in as its operator: alice at the Cognito
    stand-in (at the plain OIDC tenant with config/oidc.toml), as the demo names her."""
    def serve(config_file: str = "demo.toml", **overrides):
        served = swap_app(config_file=config_file, diagnostics={"probe_interval": 0},
                          **overrides)
        provider = OIDC_PROVIDER if config_file == "oidc.toml" else "cognito"
        assert sign_in(browser, app_url, provider).url == f"{app_url}/account"
        return served

    return serve


def app_calls(control, aws_control) -> dict[str, int]:
    """The calls the app made at the provider stand-ins (not a browser's visits to
    their pages) and at the AWS stand-in's Cognito Identity, by endpoint."""
    calls = {f"{tenant}/{endpoint}": n for tenant, counts in control("GET", "calls").items()
             for endpoint, n in counts.items() if endpoint not in BROWSER_ENDPOINTS and n}
    calls.update({f"cognito-identity/{operation}": n
                  for operation, n in aws_control("identity", "GET", "calls").items() if n})
    return calls


def forget_calls(control, aws_control) -> None:
    control("DELETE", "calls")
    aws_control("identity", "DELETE", "calls")


def test_live_checks_need_the_csrf_token(browser, app_url, monkeypatch):
    monkeypatch.setattr(probes, "run_probes", lambda *a, **k: pytest.fail("probes ran"))
    refused = browser.post(f"{app_url}/diagnostics/probes", data={})
    assert refused.status_code == 400
    assert 'data-error="csrf_failed"' in refused.text
    forged = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": "forged"})
    assert forged.status_code == 400


FAKE_VERDICTS = [
    Verdict("google", "discovery", "pass", "Discovery is reachable.",
            {"url": "http://x/.well-known/openid-configuration", "status": 200}),
    Verdict("google", "callback", "fail", "The provider refuses this callback URL.",
            {"status": 400, "provider_says": '<script>alert("redirect_uri_mismatch")</script>',
             "algorithms": ["RS256"]}, "redirect_mismatch"),
    Verdict("facebook", "sign_out", "skip", "Facebook has no sign-out redirect.", {}),
    Verdict("google", "clock", "warn", "Clocks differ by +12 s.", {"difference_seconds": 12}),
    Verdict("identity-pool", "identity_pool", "fail", "The pool does not know the provider.",
            {"operation": "GetId", "aws_message": "Invalid login token.", "code": 400},
            "identity_provider_not_configured"),
]


def test_verdicts_are_rendered_and_explained(browser, app_url, monkeypatch, checks_app):
    checks_app()
    calls, backchannel = [], []

    def fake_run_probes(settings, providers, callback_urls, sign_out_url, timeout=3.0,
                        logins=None, backchannel_urls=None):
        calls.append((callback_urls, sign_out_url, timeout))
        backchannel.append(backchannel_urls)
        return FAKE_VERDICTS

    monkeypatch.setattr(probes, "run_probes", fake_run_probes)
    page = browser.get(f"{app_url}/diagnostics")
    result = browser.click(page, "Run live checks")
    assert result.status_code == 200
    assert calls == [({name: f"{app_url}/auth/{name}/callback" for name in PROVIDERS},
                      f"{app_url}/", 3.0)]
    # The back-channel logout URL of the kinds whose providers send logout tokens.
    assert backchannel == [{name: f"{app_url}/auth/auth0/backchannel-logout"
                            if name == "auth0" else None for name in PROVIDERS}]
    rows = re.findall(r'data-probe="([^"]*)"\s+data-provider="([^"]*)" data-status="([^"]*)"',
                      result.text)
    # Grouped by provider, in the matrix's order, then the identity pool's own group.
    order = [*PROVIDERS, "identity-pool"]
    assert rows == [(v.probe, v.provider, v.status) for v in
                    sorted(FAKE_VERDICTS, key=lambda v: order.index(v.provider))]
    assert "5 checks" in result.text and "2 fail" in result.text and "1 pass" in result.text
    # The provider's own words, escaped; evidence as a definition list.
    assert "<script>alert" not in result.text
    assert "&lt;script&gt;alert(&#34;redirect_uri_mismatch&#34;)&lt;/script&gt;" in result.text
    assert '<dl class="evidence">' in result.text and "<dt>provider_says</dt>" in result.text
    # A failure is explained by its catalogue entry, with a link to it.
    for code in ("redirect_mismatch", "identity_provider_not_configured"):
        entry = CATALOGUE[code]
        assert esc(entry.title) in result.text
        assert esc(entry.fix) in result.text
        assert f'href="/diagnostics/errors#error-{code}"' in result.text
    assert "GetId: Invalid login token." in result.text  # cause filled from the evidence
    # The matrix is still there, and the form to run the checks again.
    assert 'id="provider-google"' in result.text
    assert "Run live checks" in browser.buttons(result)


def test_catalogue_page_anchors_every_entry(browser, app_url):
    page = browser.get(f"{app_url}/diagnostics/errors")
    assert page.status_code == 200
    for code in CATALOGUE:
        assert f'id="error-{code}"' in page.text


def test_live_checks_against_the_standins(browser, app_url, control, aws_control, checks_app):
    checks_app()
    page = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
    assert page.status_code == 200
    statuses = re.findall(r'data-provider="([^"]*)" data-status="([^"]*)"', page.text)
    assert {p for p, _ in statuses} >= set(PROVIDERS)
    assert "fail" not in {s for _, s in statuses}, page.text
    assert re.search(r'data-probe="callback"\s+data-provider="google" data-status="pass"',
                     page.text)

    control("POST", "clients", tenant="google",
            client_id="fedlab-google-client.apps.googleusercontent.com",
            redirect_uris=[])
    page = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
    assert re.search(r'data-probe="callback"\s+data-provider="google" data-status="fail"',
                     page.text)
    assert 'data-error="redirect_mismatch"' in page.text
    assert esc(CATALOGUE["redirect_mismatch"].fix) in page.text


def verdict_row(page_html: str, probe: str, provider: str) -> str:
    """The verdicts table's row for one probe of one provider."""
    rows = re.findall(r'<tr class="verdict[^"]*" data-probe="([^"]*)"\s+data-provider="([^"]*)"'
                      r'(.*?)</tr>', page_html, re.S)
    found = [rest for p, n, rest in rows if (p, n) == (probe, provider)]
    assert len(found) == 1, rows
    return found[0]


@pytest.mark.parametrize(("what", "provider"), CELLS, ids=CELL_IDS)
def test_each_misconfiguration_shows_its_verdict_on_the_page(browser, app_url, control,
                                                             aws_control, checks_app, what,
                                                             provider):
    # The operator signs in before the provider is misconfigured.
    checks_app("oidc.toml" if provider == OIDC_PROVIDER else "demo.toml",
               **app_overrides(what, provider))
    expected = misconfigure(control, what, provider)
    page = browser.get(f"{app_url}/diagnostics")
    result = browser.click(page, "Run live checks")  # the form's CSRF token, as a browser
    assert result.status_code == 200
    row = verdict_row(result.text, expected.probe, provider)
    assert row.startswith(' data-status="fail">'), row[:200]
    assert f'<div class="explained" data-error="{expected.error}">' in row
    entry = CATALOGUE[expected.error]
    assert esc(entry.title) in row and esc(entry.fix) in row
    evidence = re.search(r'<dl class="evidence">(.*?)</dl>', row, re.S)
    assert evidence, row
    value = re.search(rf"<dt>{expected.evidence}</dt>\s*<dd[^>]*>(.*?)</dd>", evidence.group(1),
                      re.S)
    assert value and value.group(1).strip(), evidence.group(1)
    assert "{" not in re.search(r'<p class="cause">(.*?)</p>', row, re.S).group(1)


# -- the error pages: every catalogue entry, and the link to the provider's registration

@pytest.fixture(scope="module")
def raising_app(config_dir, tmp_path_factory):
    app = make_app(config_dir, tmp_path_factory.mktemp("raising"))

    @app.get("/_raise/<code>")
    def raise_it(code: str):
        raise FedlabError(code)

    @app.get("/_raise/<code>/<provider>")
    def raise_for(code: str, provider: str):
        raise FedlabError(code, provider=provider)

    return app


@pytest.mark.parametrize("code", list(CATALOGUE))
def test_every_catalogue_entry_renders_a_cause_and_a_fix(raising_app, code):
    entry = CATALOGUE[code]
    response = raising_app.test_client().get(f"/_raise/{code}")
    text = response.get_data(as_text=True)
    assert response.status_code == entry.status
    assert f'data-error="{code}"' in text
    assert esc(entry.title) in text
    cause = re.search(r'<dd class="cause">(.*?)</dd>', text, re.S)
    fix = re.search(r'<dd class="fix">(.*?)</dd>', text, re.S)
    assert cause and cause.group(1).strip()
    assert fix and html.unescape(fix.group(1)) == entry.fix
    assert "Traceback" not in text and 'File "' not in text


def test_error_page_links_to_the_providers_registration(raising_app):
    text = raising_app.test_client().get("/_raise/redirect_mismatch/google").get_data(
        as_text=True)
    assert 'href="/diagnostics#provider-google"' in text
    assert "Check this provider's registration" in text
    unknown = raising_app.test_client().get("/_raise/unknown_provider/nobody").get_data(
        as_text=True)
    assert "/diagnostics#provider-" not in unknown
    plain = raising_app.test_client().get("/_raise/state_expired").get_data(as_text=True)
    assert "/diagnostics#provider-" not in plain


def test_a_real_callback_error_links_to_diagnostics(browser, app_url):
    page = browser.get(f"{app_url}/auth/auth0/callback?state=nope&code=x")
    assert 'data-error="state_mismatch"' in page.text
    assert 'href="/diagnostics#provider-auth0"' in page.text


def test_signed_in_live_checks_test_the_pool_with_the_real_token(browser, app, app_url, control,
                                                                 aws_control, pool_with,
                                                                 swap_app):
    pool_with("google_other_client")
    sign_in(browser, app_url, "google")
    # Made an operator as the page says: the issuer and subject it shows, in the
    # configuration of an app that reads the same session store.
    shown = browser.get(f"{app_url}/diagnostics").text
    issuer, subject = (html.unescape(re.search(rf'data-visitor="{part}">([^<]*)<', shown)[1])
                       for part in ("issuer", "subject"))
    swap_app(session={"dir": settings(app).session.dir},
             diagnostics={"operators": [{"issuer": issuer, "subject": subject}]})
    page = browser.get(f"{app_url}/diagnostics")
    checked = browser.post(f"{app_url}/diagnostics/probes",
                           data={"csrf_token": browser.csrf(page)})
    row = re.search(r'<tr[^>]*data-probe="identity_pool"[^>]*data-provider="google"[^>]*>',
                    checked.text)
    assert row and 'data-status="fail"' in row.group(0)
    assert "Incorrect token audience" in checked.text
    # Its explanation quotes AWS's call and words, not general ones.
    cause = re.search(r'<p class="cause">(.*?)</p>',
                      verdict_row(checked.text, "identity_pool", "google"), re.S).group(1)
    assert cause.startswith("GetId: ") and "Incorrect token audience" in cause, cause


# -- live checks are for operators ------------------------------------------------


def test_an_anonymous_visitor_cannot_run_live_checks(browser, app_url, control, aws_control,
                                                     swap_app):
    swap_app()
    page = browser.get(f"{app_url}/diagnostics")
    assert "Run live checks" not in browser.buttons(page)
    assert 'data-live-checks="operators-only"' in page.text
    assert "Sign in first" in page.text and "[[diagnostics.operators]]" in page.text
    token = browser.csrf(browser.get(f"{app_url}/credentials"))  # any form's token
    forget_calls(control, aws_control)
    refused = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": token})
    assert refused.status_code == 403
    assert 'data-error="operators_only"' in refused.text
    assert "data-probe=" not in refused.text
    assert app_calls(control, aws_control) == {}


def test_a_signed_in_visitor_who_is_no_operator_cannot_run_them(browser, app_url, control,
                                                                aws_control, swap_app):
    swap_app()
    assert sign_in(browser, app_url, "cognito", user="bob").url == f"{app_url}/account"
    page = browser.get(f"{app_url}/diagnostics")
    assert "Run live checks" not in browser.buttons(page)
    # The page says how to become one: bob's own issuer and subject, ready to paste.
    part = section(page.text, "live-checks")
    issuer = html.unescape(re.search(r'data-visitor="issuer">([^<]*)<', part)[1])
    subject = html.unescape(re.search(r'data-visitor="subject">([^<]*)<', part)[1])
    assert issuer.endswith("/cognito-idp/us-east-1_FedLab") and subject
    snippet = html.unescape(re.search(r'<pre class="config">(.*?)</pre>', part, re.S)[1])
    assert snippet == f'[[diagnostics.operators]]\nissuer = "{issuer}"\nsubject = "{subject}"'
    token = browser.csrf(browser.get(f"{app_url}/account"))  # any form's token
    forget_calls(control, aws_control)
    refused = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": token})
    assert refused.status_code == 403
    assert 'data-error="operators_only"' in refused.text
    assert app_calls(control, aws_control) == {}


def test_an_operator_whose_refresh_was_refused_cannot_run_them(browser, app_url, control,
                                                               aws_control, swap_app):
    """The provider refused to renew the sign-in: the operator is signed out in
    all but the session's issuer and subject, which name nobody any more."""
    swap_app(diagnostics={"probe_interval": 0})
    page = sign_in(browser, app_url, "cognito")  # alice, the demo's operator
    assert "Run live checks" in browser.buttons(browser.get(f"{app_url}/diagnostics"))
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    token = browser.csrf(page)
    assert browser.post(f"{app_url}/auth/refresh", data={"csrf_token": token}).status_code == 401
    assert 'data-state="refresh_failed"' in browser.get(f"{app_url}/account").text
    control("DELETE", "faults")
    forget_calls(control, aws_control)
    refused = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": token})
    assert refused.status_code == 403, refused.text[:500]
    assert 'data-error="operators_only"' in refused.text
    assert "data-probe=" not in refused.text
    assert app_calls(control, aws_control) == {}
    diagnostics = browser.get(f"{app_url}/diagnostics")
    assert "Run live checks" not in browser.buttons(diagnostics)
    assert 'data-live-checks="operators-only"' in diagnostics.text


def operator_with_expired_tokens(swap_app, browser, app_url: str, keep_refresh: bool) -> str:
    """alice (the demo's operator) signed in, her tokens then an hour past their
    expiry in the store (no stand-in issues tokens that short), with or without
    her refresh token; a CSRF token of her session."""
    served = swap_app(diagnostics={"probe_interval": 0})
    page = sign_in(browser, app_url, "cognito")
    sid = session_cookie(browser).value
    record = served.session_interface.read(sid)
    record["auth"]["tokens"]["expires_at"] = int(time.time()) - 3600
    if not keep_refresh:
        del record["auth"]["tokens"]["refresh_token"]
    assert served.session_interface.write(StoredSession(record, sid=sid, stored=True))
    return browser.csrf(page)


def test_an_operator_whose_tokens_expired_for_good_cannot_run_them(browser, app_url, control,
                                                                   aws_control, swap_app):
    """Tokens past their expiry and no refresh token to renew them (as a provider
    without refresh leaves a sign-in after an hour): signed in no more."""
    token = operator_with_expired_tokens(swap_app, browser, app_url, keep_refresh=False)
    forget_calls(control, aws_control)
    refused = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": token})
    assert refused.status_code == 403, refused.text[:500]
    assert 'data-error="operators_only"' in refused.text
    assert app_calls(control, aws_control) == {}


@pytest.mark.parametrize("fault", ["refresh_fails", "down"])
def test_an_operator_whose_expired_tokens_cannot_be_renewed_cannot_run_them(
        browser, app_url, control, aws_control, swap_app, fault):
    """Tokens past their expiry, and the provider refuses (or cannot be reached
    for) the refresh: the session still lasts, but it names nobody until renewed."""
    token = operator_with_expired_tokens(swap_app, browser, app_url, keep_refresh=True)
    control("POST", "faults", tenant="cognito", fault=fault,
            **({"endpoint": "token"} if fault == "down" else {}))
    forget_calls(control, aws_control)
    refused = browser.post(f"{app_url}/diagnostics/probes", data={"csrf_token": token})
    assert refused.status_code == 403, refused.text[:500]
    assert 'data-error="operators_only"' in refused.text
    made = app_calls(control, aws_control)
    assert set(made) <= {"cognito/token"}, made  # the refresh it tried, and no probe


def test_an_operators_run_is_kept_and_not_repeated_within_the_interval(browser, app_url,
                                                                       control, aws_control,
                                                                       swap_app):
    swap_app()  # the demo's interval: 60 s
    assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
    forget_calls(control, aws_control)
    first = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
    assert first.status_code == 200
    rows = re.findall(r'data-probe="([^"]*)"\s+data-provider="([^"]*)" data-status="([^"]*)"',
                      first.text)
    assert {p for _, p, _ in rows} >= set(PROVIDERS)
    assert "fail" not in {s for _, _, s in rows}, first.text
    made = app_calls(control, aws_control)
    assert made.get("google/token", 0) >= 1 and made.get("cognito-identity/GetId", 0) >= 1

    forget_calls(control, aws_control)
    again = browser.click(first, "Run live checks")
    assert again.status_code == 200
    assert app_calls(control, aws_control) == {}
    checked_at = re.search(r'data-probe-run-at="(\d+)"', first.text)[1]
    assert 'data-probe-run="recent"' in again.text
    assert re.search(r"at most every\s+60 s", again.text)
    assert re.search(r'data-probe-run-at="(\d+)"', again.text)[1] == checked_at
    assert re.findall(r'data-probe="([^"]*)"\s+data-provider="([^"]*)" data-status="([^"]*)"',
                      again.text) == rows
    # A plain view of the page shows the operator the same result, with its time.
    view = browser.get(f"{app_url}/diagnostics")
    assert re.search(r'data-probe-run-at="(\d+)"', view.text)[1] == checked_at
    assert "Checked at" in view.text and "run by" in view.text
    assert app_calls(control, aws_control) == {}
    # Another visitor sees none of it.
    stranger = browser.__class__()
    assert "data-probe=" not in stranger.get(f"{app_url}/diagnostics").text


def test_with_redis_every_instance_shares_the_last_run(browser, app_url, control, aws_control,
                                                       swap_app, redis_url):
    """Two instances on one Redis: a run on one is the other's last result; the other
    makes no provider call of its own within the interval."""
    import redis

    store = redis.Redis.from_url(redis_url)
    prefix = f"fedlab-test-{secrets.token_hex(4)}:"
    last, running = f"{prefix}probes:last", f"{prefix}probes:running"
    try:
        shared = {"session": {"type": "redis", "redis_url": redis_url, "key_prefix": prefix}}
        swap_app(**shared)  # instance one
        assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
        first = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
        checked_at = re.search(r'data-probe-run-at="(\d+)"', first.text)[1]
        assert store.ttl(last) > 0 and not store.exists(running)

        swap_app(**shared)  # instance two: its own process state, the same Redis
        forget_calls(control, aws_control)
        page = browser.get(f"{app_url}/diagnostics")  # the same session, from Redis
        assert re.search(r'data-probe-run-at="(\d+)"', page.text)[1] == checked_at
        again = browser.click(page, "Run live checks")
        assert 'data-probe-run="recent"' in again.text
        assert re.search(r'data-probe-run-at="(\d+)"', again.text)[1] == checked_at
        assert app_calls(control, aws_control) == {}
    finally:
        store.delete(last, running)


def test_sites_under_other_key_prefixes_keep_their_own_last_run(browser, app_url, control,
                                                                 aws_control, swap_app,
                                                                 redis_url):
    """Two sites on one Redis database, each under its own ``session.key_prefix``: one's
    live-check result is not the other's, and the other runs its own checks."""
    import redis

    from .browser import Browser

    store = redis.Redis.from_url(redis_url)
    prefixes = [f"fedlab-test-{secrets.token_hex(4)}:" for _ in range(2)]
    try:
        sites = [{"session": {"type": "redis", "redis_url": redis_url, "key_prefix": prefix}}
                 for prefix in prefixes]
        swap_app(**sites[0])
        assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
        first = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
        assert "data-probe-run-at=" in first.text and "data-probe-run=" not in first.text

        swap_app(**sites[1])  # the other site: its operator signs in there
        operator = Browser()
        assert sign_in(operator, app_url, "cognito").url == f"{app_url}/account"
        page = operator.get(f"{app_url}/diagnostics")
        assert "data-probe-run-at=" not in page.text  # no result of the first site's
        forget_calls(control, aws_control)
        own = operator.click(page, "Run live checks")
        # Neither "recent" nor "running": it ran its own, and shows that result.
        assert "data-probe-run-at=" in own.text and "data-probe-run=" not in own.text
        assert app_calls(control, aws_control) != {}
        assert all(store.exists(f"{prefix}probes:last") for prefix in prefixes)
    finally:
        store.delete(*(f"{prefix}probes:{name}" for prefix in prefixes
                       for name in ("last", "running")))
