"""``response_mode``: the authorization response as a query redirect, or as a page
that posts it (OAuth 2.0 Form Post Response Mode); any other mode refused."""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape

import pytest
import requests

pytestmark = pytest.mark.usefixtures("standins_server")


def posted(page: requests.Response, tenant: str, helpers) -> dict[str, str]:
    """What the form_post page ``page`` sends, once it is checked to be one: a
    form posting hidden fields to the client's callback, sent by the one script
    its CSP allows (by hash), or by its button; posting nowhere else."""
    assert "Location" not in page.headers
    assert page.headers["Content-Type"].startswith("text/html")
    [form] = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    assert re.search(r'<form method="post" action="([^"]*)">', form).group(1) == \
        helpers.callback(tenant)
    assert re.search(r'<button type="submit">Continue</button>', form)
    [script] = re.findall(r"<script>(.*?)</script>", page.text, flags=re.S)
    assert script == "document.forms[0].submit();"
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = dict(part.strip().split(" ", 1)
               for part in page.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == f"'sha256-{digest}'"
    assert csp["form-action"] == helpers.APP
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    return {name: unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)}


@pytest.mark.parametrize("tenant", ["cognito", "auth0", "google", "facebook", "oidc"])
def test_form_post_answers_with_a_page_that_posts_the_code(browser, helpers, tenant,
                                                           standins_server):
    pkce = helpers.Pkce.new()
    browser.authorize(tenant, pkce, response_mode="form_post")
    browser.click("Sign in as alice")
    page = browser.click("Allow")
    assert page.status_code == 200
    fields = posted(page, tenant, helpers)
    sends_iss = tenant == "oidc"  # RFC 9207, on every authorization response
    assert set(fields) == {"code", "state"} | ({"iss"} if sends_iss else set())
    assert fields["state"] == "state-123"
    if tenant != "facebook":
        response = helpers.exchange(standins_server, tenant, fields["code"], pkce)
        assert response.status_code == 200 and "id_token" in response.json()


def test_form_post_carries_a_denial_too(browser, helpers):
    browser.authorize("auth0", response_mode="form_post")
    browser.click("Sign in as alice")
    page = browser.click("Deny")
    assert page.status_code == 400
    assert posted(page, "auth0", helpers) == {
        "error": "access_denied", "error_description": "User did not authorize the request",
        "state": "state-123"}


def test_form_post_through_cognitos_federation(browser, helpers, standins_server):
    """Cognito's answer after a round trip to Google comes back as asked; so does
    Google's refusal, which Cognito hands on."""
    browser.authorize("cognito", identity_provider="Google", response_mode="form_post")
    browser.follow()
    browser.click("Sign in as alice")
    browser.click("Allow")
    browser.follow()  # idpresponse
    page = browser.follow()  # Cognito's authorize again, which answers
    assert set(posted(page, "cognito", helpers)) == {"code", "state"}

    requests.post(f"{standins_server}/_control/reset", timeout=5).raise_for_status()
    browser.http.cookies.clear()
    browser.authorize("cognito", identity_provider="Google", response_mode="form_post")
    browser.follow()
    browser.click("Sign in as alice")
    browser.click("Deny")
    page = browser.follow()  # idpresponse, with Google's error
    assert posted(page, "cognito", helpers)["error"] == "access_denied"


@pytest.mark.parametrize("tenant", ["cognito", "auth0", "google", "facebook", "oidc"])
@pytest.mark.parametrize("mode", ["fragment", "form_post.jwt", "nonsense", ""])
def test_another_response_mode_is_refused_on_the_providers_own_page(browser, tenant, mode):
    """No redirect with an error: the client asked for its answer in a way the
    provider cannot give, so there is no right way to send even an error. Asking
    for ``query``, the default, is fine."""
    assert browser.authorize(tenant, response_mode="query").status_code in (200, 302)
    page = browser.authorize(tenant, response_mode=mode)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "unsupported_response_mode" in page.text


def test_discovery_lists_the_response_modes(standins_server, helpers):
    for tenant in helpers.OIDC_TENANTS:
        document = requests.get(standins_server + helpers.DISCOVERY[tenant], timeout=5).json()
        assert document["response_modes_supported"] == ["query", "form_post"]
