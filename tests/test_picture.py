"""The picture of a sign-in (``/account/sign-in``): read from the SVG in Chromium, and
cross-checked against what the stand-ins received."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import msgspec

from webapp.providers import registry

from . import test_browser
from .browser import Browser
from .flows import sign_in, stop_at_callback
from .page_checks import inspect_page
from .test_browser import sign_in_by_clicking
from .test_sessions import session_cookie

#: Chromium and a fresh page per test, as the browser tests have them.
chromium, page = test_browser.chromium, test_browser.page

LANES = ["browser", "site", "provider", "pool", "sts"]
def steps_of(page) -> list[dict[str, str]]:
    """Each step group of the SVG, as its data attributes say it."""
    return page.eval_on_selector_all(
        "svg.sequence g.step",
        "nodes => nodes.map(n => Object.fromEntries("
        "Array.from(n.attributes).filter(a => a.name.startsWith('data-'))"
        ".map(a => [a.name.slice(5), a.value])))")


def params(step: dict[str, str]) -> list[str]:
    return [p for p in step["params"].split(",") if p]


def only(steps: list[dict[str, str]], what: str) -> dict[str, str]:
    found = [s for s in steps if s["what"] == what]
    assert len(found) == 1, (what, [s["what"] for s in steps])
    return found[0]


def authorize_requests(page) -> list[str]:
    """The URLs of the provider's authorize endpoint the browser asked, as Chromium saw them."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.is_navigation_request() else None)
    return seen


def check_the_page(page, name: str) -> None:
    """tests/page_checks.py's checks (axe-core, 320 px, screenshots), and the diagram
    never widens the page at 320 px: its figure scrolls itself."""
    inspect_page(page, name)
    page.set_viewport_size({"width": 320, "height": 900})
    assert page.evaluate("() => { const m = document.querySelector('main');"
                         " return m.scrollWidth - m.clientWidth; }") == 0
    assert page.evaluate("() => document.querySelector('.picture-scroll').scrollWidth"
                         " > document.querySelector('.picture-scroll').clientWidth")
    # Where it scrolls, a sighted visitor is told so (the arrows' words are off screen).
    hint = page.locator(".picture-narrow-hint")
    assert hint.is_visible() and "scrolls sideways" in hint.inner_text()
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not hint.is_visible()


def open_picture(page, app_url: str) -> list[dict[str, str]]:
    assert page.goto(f"{app_url}/credentials").ok
    page.goto(f"{app_url}/account/sign-in")
    svg = page.locator("svg.sequence")
    assert svg.get_attribute("role") == "img"
    assert svg.locator("title").count() == 1 and svg.locator("desc").count() == 1
    lanes = page.eval_on_selector_all("svg.sequence g.lane", "ns => ns.map(n => n.dataset.lane)")
    assert lanes == LANES
    made = steps_of(page)
    # The text alternative: the same steps, in the same order, as an ordered list.
    assert page.locator("ol.picture-steps li").count() == len(made)
    assert [int(s["step"]) for s in made] == list(range(1, len(made) + 1))
    return made


def test_the_picture_of_a_cognito_sign_in(page, app_url, control, aws_control):
    navigations = authorize_requests(page)
    violations = test_browser.csp_violations(page)
    sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
    aws_control("identity", "DELETE", "calls")
    made = open_picture(page, app_url)
    order = [s["what"] for s in made]
    # The control fixture emptied the site's caches: discovery is read as the sign-in starts.
    assert order[:5] == ["sign in", "discovery", "authorize", "the provider's pages",
                         "callback"]
    login = made[0]
    assert (login["from"], login["to"], login["method"], login["path"]) == (
        "browser", "site", "GET", "/auth/cognito/login")
    authorize = only(made, "authorize")
    assert (authorize["from"], authorize["to"]) == ("browser", "provider")
    assert set(params(authorize)) >= {"response_type", "client_id", "redirect_uri", "scope",
                                      "state", "nonce", "code_challenge",
                                      "code_challenge_method"}
    # Cross-check: the names are those of the authorize request Chromium really sent.
    sent = [u for u in navigations if urlsplit(u).path == authorize["path"]]
    assert sent, navigations
    assert params(authorize) == [n for n, _ in parse_qsl(urlsplit(sent[0]).query)]
    token = only(made, "token")
    assert (token["from"], token["to"], token["method"], token["outcome"]) == (
        "site", "provider", "POST", "200")
    assert {"grant_type", "code", "redirect_uri", "code_verifier"} <= set(params(token))
    assert "Authorization: Basic" in params(token)
    keys = only(made, "keys")
    assert keys["outcome"] in ("200", "cached")
    checks = only(made, "id token checks")
    passed = checks["checks"]
    for check in ("alg: RS256", "kid:", "signature", "iss", "aud", "exp", "iat", "nonce",
                  "token_use: id"):
        assert check in passed, (check, passed)
    assert order.index("token") < order.index("id token checks")
    aws = [s for s in made if s["to"] in ("pool", "sts")]
    assert [(s["what"], s["to"]) for s in aws] == [
        ("GetId", "pool"), ("GetCredentialsForIdentity", "pool"), ("GetCallerIdentity", "sts")]
    get_id = aws[0]
    assert "IdentityPoolId" in params(get_id)
    assert any(p.startswith("Logins[cognito-idp.") for p in params(get_id))
    assert "IdentityId" in params(aws[1])
    assert all(s["ms"].isdigit() for s in aws)
    # Cross-check: the identity pool stand-in served those very calls.
    served = aws_control("identity", "GET", "calls")
    assert served.get("GetId") == 1 and served.get("GetCredentialsForIdentity") == 1
    check_the_page(page, "sign-in-picture-cognito")
    assert violations == []  # no inline script or style: the SVG is styled from style.css


def test_the_picture_of_a_facebook_sign_in(page, app_url, control, aws_control):
    sign_in_by_clicking(page, app_url, "Sign in with Facebook")
    made = open_picture(page, app_url)
    order = [s["what"] for s in made]
    authorize = only(made, "authorize")
    assert authorize["path"].endswith("/dialog/oauth")
    token = only(made, "token")
    assert token["path"].endswith("/oauth/access_token") and token["method"] == "GET"
    assert {"code", "redirect_uri", "client_id", "client_secret"} <= set(params(token))
    debug = only(made, "batch: debug_token")
    me = only(made, "batch: me")
    assert debug["path"].endswith("/debug_token") and me["path"].endswith("/me")
    assert set(params(debug)) == {"input_token", "access_token"}
    assert order.index("token") < order.index("batch: debug_token") < order.index("batch: me")
    assert "id token checks" not in order and "keys" not in order
    assert "/me id" in only(made, "access token checks")["checks"]
    get_id = only(made, "GetId")
    assert "Logins[graph.facebook.com]" in params(get_id)
    assert [s["what"] for s in made if s["to"] in ("pool", "sts")] == [
        "GetId", "GetCredentialsForIdentity", "GetCallerIdentity"]
    # Cross-check: what Graph's stand-in counted.
    calls = control("GET", "calls")["facebook"]
    assert calls.get("batch/debug_token") == 1 and calls.get("batch/me") == 1
    check_the_page(page, "sign-in-picture-facebook")


def test_the_record_and_the_page_hold_names_never_values(app, app_url, control, aws_control):
    browser = Browser()
    callback = stop_at_callback(browser, app_url, "cognito")
    answer = dict(parse_qsl(urlsplit(callback).query))
    # The sign-in under way, as the store holds it before the callback: its verifier.
    pending = app.session_interface.read(session_cookie(browser).value)["pending"]
    verifier = pending[answer["state"]]["code_verifier"]
    page = browser.get(callback)
    assert page.url == f"{app_url}/account"
    browser.get(f"{app_url}/credentials")
    shown = browser.get(f"{app_url}/account/sign-in").text
    stored = app.session_interface.read(session_cookie(browser).value)
    kept = json.dumps(msgspec.msgpack.decode(stored["sign_in_picture"]))
    auth, aws = stored["auth"], stored["aws"]
    secrets = [answer["code"], answer["state"], auth["nonce"], verifier,
               registry.providers(app)["cognito"].client_secret,
               *[v for v in auth["tokens"].values() if isinstance(v, str) and len(v) > 8],
               *[v for v in aws["credentials"].values() if isinstance(v, str)]]
    assert len(secrets) >= 10
    for value in map(str, secrets):
        assert value not in kept and value not in shown
    assert '"code_verifier"' in kept  # the names are there: the token request carried it


def test_signed_out_the_page_offers_a_sign_in(app, app_url, browser):
    page = browser.get(f"{app_url}/account/sign-in")
    # As the account page: it needs a sign-in (401), and offers it in place.
    assert page.status_code == 401 and 'data-guided="sign_in"' in page.text
    assert "/auth/cognito/login?next=/account/sign-in" in page.text
    assert 'class="sequence"' not in page.text  # no diagram (the header has lock icons)


STEP = re.compile(r'<g class="step"([^>]*)>')
ATTRIBUTE = re.compile(r'data-([a-z]+)="([^"]*)"')


def steps_in(html: str) -> list[dict[str, str]]:
    """The steps of the SVG in the page's HTML, as their data attributes say them."""
    return [{name: unescape(value) for name, value in ATTRIBUTE.findall(group)}
            for group in STEP.findall(html)]


def test_a_second_sign_in_takes_the_keys_from_the_cache(app, app_url, control, browser):
    sign_in(browser, app_url, "auth0")
    first = steps_in(browser.get(f"{app_url}/account/sign-in").text)
    assert only(first, "keys")["outcome"] == "200"
    sign_in(browser, app_url, "auth0", user="bob")
    again = steps_in(browser.get(f"{app_url}/account/sign-in").text)
    keys = only(again, "keys")
    assert (keys["from"], keys["to"], keys["outcome"]) == ("site", "site", "cached")
    assert [s["what"] for s in again].index("token") < [s["what"] for s in again].index("keys")


def test_apple_s_form_post_answer_is_pictured_as_a_post_then_the_get(app, app_url, control,
                                                                      browser):
    assert sign_in(browser, app_url, "apple").url == f"{app_url}/account"
    made = steps_in(browser.get(f"{app_url}/account/sign-in").text)
    order = [s["what"] for s in made]
    posted = only(made, "callback (form_post)")
    assert (posted["method"], posted["outcome"]) == ("POST", "303")
    assert order.index("callback (form_post)") + 1 == order.index("callback")
    # Apple's client secret is a JWT the site signs, sent as the client_secret field.
    assert "client_secret" in params(only(made, "token"))
    assert "nonce: the one this sign-in sent" in only(made, "id token checks")["checks"]


def test_a_kept_picture_opens_packed_or_as_an_older_release_kept_it():
    """The session keeps the picture packed (only its page unpacks the steps); a
    record written before, with the picture as plain values, still shows it."""
    from webapp.steps import Picture, Step

    picture = Picture(provider="auth0", provider_name="Auth0", signed_in_at=1,
                      sign_in=(Step(source="browser", target="site", what="sign in"),))
    assert isinstance(picture.packed(), bytes)
    assert Picture.load(picture.packed()) == picture == Picture.load(picture.dump())
    assert Picture.load(b"\xc1 not msgpack") is None
    assert Picture.load(msgspec.msgpack.encode({"provider": 3})) is None
