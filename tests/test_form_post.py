"""A ``form_post`` callback (OAuth 2.0 Form Post Response Mode), seen over HTTP.

The provider here is config/oidc.toml's ``corp`` (kind ``oidc``) asking for
``response_mode=form_post``, against the stand-ins' OIDC tenant: its answer is
a page whose form posts the response to the callback. The callback bounces the
POST to itself as a GET (303), carrying the authorization-response parameters
and nothing else; the GET signs in. tests/test_browser.py walks the same flow
in Chromium, where the POST really comes without the session cookie.
"""

from __future__ import annotations

import pathlib
import re
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from webapp.auth import FORM_POST_PARAMS

from .browser import forms
from .flows import sign_in

FORM_POST = {"providers": {"corp": {"authorize_params": {"response_mode": "form_post"}}}}
#: The most a request line may hold (deploy/gunicorn.conf.py).
REQUEST_LINE_LIMIT = 4094
LONGEST_NAME = "a" * 40  # webapp.providers.base.NAME_PATTERN


@pytest.fixture
def corp(swap_app, control):
    """The app with ``corp`` on form_post; the stand-ins reset around the test."""
    return swap_app(config_file="oidc.toml", **FORM_POST)


def form_post_page(browser, app_url):
    """Sign in at the stand-in up to its form_post page; return it and its form."""
    page = sign_in(browser, app_url, "corp", post_form=False)
    assert page.status_code == 200 and not page.url.startswith(app_url), page.url
    [form] = forms(page.text)
    return page, form


def store_snapshot(tmp_path: pathlib.Path) -> dict[str, bytes]:
    """The session store as it is on disk (swap_app's app keeps it under tmp_path)."""
    folder = tmp_path / "sessions"
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_provider_posts_the_answer_and_the_callback_bounces_it_to_a_get(
        corp, browser, app_url, standins_url):
    page, form = form_post_page(browser, app_url)
    assert form.method == "post" and form.action == f"{app_url}/auth/corp/callback"
    assert set(form.fields) == {"code", "state", "iss"}
    assert "Continue" in browser.buttons(page)  # what a browser without scripts presses
    bounce = browser.click(page, "Continue", follow=False,
                           user='{"name":{"firstName":"Alice","lastName":"Example"}}',
                           id_token="not-for-the-url", extra="x" * 3000)
    assert bounce.status_code == 303
    location = urlsplit(bounce.headers["Location"])
    assert location.path == "/auth/corp/callback" and location.netloc in ("", urlsplit(
        app_url).netloc)
    assert parse_qsl(location.query, keep_blank_values=True, strict_parsing=True) == [
        (name, form.fields[name]) for name in FORM_POST_PARAMS if name in form.fields]
    for leaked in ("user", "firstName", "Alice", "id_token", "not-for-the-url", "extra"):
        assert leaked not in bounce.headers["Location"]
    assert "Set-Cookie" not in bounce.headers
    assert bounce.headers["Cache-Control"] == "no-store"
    account = browser.get(urljoin(bounce.url, bounce.headers["Location"]))
    assert account.url == f"{app_url}/account"
    assert 'data-state="signed_in"' in account.text


def test_a_provider_error_travels_on_as_well(corp, browser, app_url):
    page = browser.get(f"{app_url}/auth/corp/login")
    page = browser.click(page, "Sign in as alice")
    page = browser.click(page, "Deny")
    assert page.status_code == 400 and not page.url.startswith(app_url)
    [form] = forms(page.text)
    assert form.fields["error"] == "access_denied"
    answer = browser.click(page, "Continue")
    assert answer.url.startswith(f"{app_url}/auth/corp/callback?")
    assert answer.status_code == 400 and 'data-error="access_denied"' in answer.text


def test_a_post_reads_and_changes_no_session(corp, browser, app_url, tmp_path):
    """The browser here sends its cookie with the POST (requests knows no SameSite):
    the POST still leaves the session alone, and its state works once, on the GET."""
    page, _ = form_post_page(browser, app_url)
    before = store_snapshot(tmp_path)
    assert before  # the pending sign-in
    bounce = browser.click(page, "Continue", follow=False)
    assert bounce.status_code == 303 and "Set-Cookie" not in bounce.headers
    assert store_snapshot(tmp_path) == before
    again = browser.click(page, "Continue", follow=False)  # the same answer, posted twice
    assert again.headers["Location"] == bounce.headers["Location"]
    assert store_snapshot(tmp_path) == before
    account = browser.get(urljoin(bounce.url, bounce.headers["Location"]))
    assert 'data-state="signed_in"' in account.text
    replay = browser.get(urljoin(bounce.url, again.headers["Location"]))
    assert replay.status_code == 400 and 'data-error="state_mismatch"' in replay.text


@pytest.mark.parametrize("name", FORM_POST_PARAMS)
def test_a_parameter_over_its_length_is_refused(corp, browser, app_url, name):
    page, _ = form_post_page(browser, app_url)
    limit = FORM_POST_PARAMS[name]
    at_limit = browser.click(page, "Continue", follow=False, **{name: "a" * limit})
    assert at_limit.status_code == 303
    assert ("a" * limit) in at_limit.headers["Location"]
    over = browser.click(page, "Continue", follow=False, **{name: "a" * (limit + 1)})
    assert over.status_code == 400 and 'data-error="bad_request"' in over.text
    assert "Location" not in over.headers and "Set-Cookie" not in over.headers
    # Percent-encoding counts: one character that takes three in the URL.
    encoded = browser.click(page, "Continue", follow=False, **{name: "a" * (limit - 2) + "/"})
    assert encoded.status_code == 400 and 'data-error="bad_request"' in encoded.text


@pytest.mark.parametrize("name", FORM_POST_PARAMS)
def test_a_repeated_parameter_is_refused(corp, browser, app_url, name):
    page, form = form_post_page(browser, app_url)
    fields = [*form.fields.items(), (name, "one"), (name, "two")]
    if name in form.fields:
        fields = [*form.fields.items(), (name, form.fields[name])]
    response = browser.post(urljoin(page.url, form.action), data=fields,
                            allow_redirects=False)
    assert response.status_code == 400 and 'data-error="bad_request"' in response.text
    assert "Location" not in response.headers


def test_the_bounce_always_fits_a_request_line():
    """Every parameter at its longest, for the longest provider name, still fits the
    request line gunicorn takes (deploy/gunicorn.conf.py), so a bounced answer is
    never refused by the server before the app sees it."""
    config = (pathlib.Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py")
    [limit] = re.findall(r"^limit_request_line = (\d+)$", config.read_text(), flags=re.M)
    assert int(limit) == REQUEST_LINE_LIMIT
    query = "&".join(f"{name}={'a' * size}" for name, size in FORM_POST_PARAMS.items())
    line = f"GET /auth/{LONGEST_NAME}/callback?{query} HTTP/1.1"
    assert len(line) <= REQUEST_LINE_LIMIT
