"""The sign-in flow end to end, over real HTTP, for every provider of the demo."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from webapp.providers import registry

from .browser import Browser
from .conftest import PROVIDERS
from .flows import sign_in, stop_at_callback

#: Where a plain OAuth 2 provider's sign-ins say they come from (its settings key).
NON_OIDC_ISSUER = {"facebook": "graph_url", "amazon": "www_url"}


def authorize_params(browser: Browser, app_url: str, provider: str) -> dict[str, str]:
    response = browser.get(f"{app_url}/auth/{provider}/login", allow_redirects=False)
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sign_in_lands_on_the_account_page_with_validated_claims(browser, app_url, control,
                                                                 live_app, provider):
    page = sign_in(browser, app_url, provider)
    assert page.url == f"{app_url}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text
    assert "alice@example.com" in page.text
    assert 'class="sub"' in page.text
    # Known by issuer and subject: Facebook, with no issuer, by its Graph API; Amazon
    # by token-info's iss, its authorization site.
    entry = registry.providers(live_app)[provider]
    issuer = entry.issuer or entry.settings[NON_OIDC_ISSUER[provider]]
    assert f'<td class="iss">{issuer}</td>' in page.text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_sign_in_sends_pkce_s256_and_fresh_state_and_nonce(browser, app_url, control,
                                                                provider):
    first = authorize_params(browser, app_url, provider)
    second = authorize_params(browser, app_url, provider)
    assert first["response_type"] == "code"
    assert first["code_challenge_method"] == "S256"
    assert len(first["code_challenge"]) == 43
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]
    if provider not in NON_OIDC_ISSUER:  # no OpenID Connect, no nonce
        assert first["nonce"] != second["nonce"]
    assert first["redirect_uri"] == f"{app_url}/auth/{provider}/callback"


def test_provider_specific_authorize_parameters(browser, app_url, control):
    assert authorize_params(browser, app_url, "cognito-google")["identity_provider"] == "Google"
    google = authorize_params(browser, app_url, "google")
    assert google["access_type"] == "offline" and google["prompt"] == "consent"
    assert authorize_params(browser, app_url, "facebook")["scope"] == "email,public_profile"
    assert authorize_params(browser, app_url, "amazon")["scope"] == "profile"
    assert authorize_params(browser, app_url, "cognito-amazon")["identity_provider"] == (
        "LoginWithAmazon")
    assert "offline_access" in authorize_params(browser, app_url, "auth0")["scope"]


def test_cognito_straight_to_google_signs_in_on_the_google_page(browser, app_url, control):
    page = sign_in(browser, app_url, "cognito-google")
    assert page.url == f"{app_url}/account"
    assert "Google_" in page.text  # cognito:username of a federated user
    calls = control("GET", "calls")
    assert calls["google"]["authorize"] >= 1


def test_a_replayed_callback_is_refused(browser, app_url, control):
    callback = stop_at_callback(browser, app_url, "google")
    assert browser.get(callback).url == f"{app_url}/account"
    again = browser.get(callback)
    assert again.status_code == 400
    assert 'data-error="state_mismatch"' in again.text


def test_a_callback_from_another_browser_is_refused(app_url, control):
    mine, theirs = Browser(), Browser()
    callback = stop_at_callback(mine, app_url, "auth0")
    stolen = theirs.get(callback)
    assert stolen.status_code == 400
    assert 'data-error="state_mismatch"' in stolen.text
    assert "localhost" in stolen.text and "127.0.0.1" in stolen.text  # the likely cause
    assert theirs.get(f"{app_url}/account").status_code == 401
    assert mine.get(callback).url == f"{app_url}/account"


def test_a_state_for_another_provider_is_refused(browser, app_url, control):
    callback = stop_at_callback(browser, app_url, "google")
    forged = callback.replace("/auth/google/", "/auth/auth0/")
    assert 'data-error="state_mismatch"' in browser.get(forged).text


def test_deny_at_the_provider_explains_access_denied(browser, app_url, control):
    page = sign_in(browser, app_url, "google", consent="Deny")
    assert page.status_code == 400
    assert 'data-error="access_denied"' in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_facebook_cancel_explains_access_denied(browser, app_url, control):
    page = sign_in(browser, app_url, "facebook", consent="Deny")
    assert 'data-error="access_denied"' in page.text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "/%2F%2Fevil.example",
    "javascript:alert(1)", "/auth/google/login", "/no-such-page", " /account",
])
def test_next_never_leaves_the_site(browser, app_url, control, target):
    page = sign_in(browser, app_url, "google", next_path=target)
    assert page.url == f"{app_url}/account"


def test_next_to_a_local_page_is_kept(browser, app_url, control):
    page = sign_in(browser, app_url, "google", next_path="/")
    assert page.url == f"{app_url}/"
    assert 'data-state="signed_in"' in page.text


def test_an_unknown_provider_is_a_clear_404(browser, app_url):
    page = browser.get(f"{app_url}/auth/nobody/login")
    assert page.status_code == 404 and 'data-error="unknown_provider"' in page.text


def test_a_callback_without_code_or_state(browser, app_url, control):
    page = browser.get(f"{app_url}/auth/google/callback")
    assert page.status_code == 400 and 'data-error="state_mismatch"' in page.text


def test_a_provider_error_description_is_escaped(browser, app_url, control):
    # Shown at all only on the way back from this browser's sign-in (its state).
    state = parse_qs(urlsplit(stop_at_callback(browser, app_url, "google")).query)["state"][0]
    page = browser.get(f"{app_url}/auth/google/callback",
                       params={"error": "invalid_scope", "error_description": "<b>x</b>",
                               "state": state})
    assert "<b>x</b>" not in page.text and "&lt;b&gt;x&lt;/b&gt;" in page.text


def test_any_oidc_issuer_signs_in_with_no_code_change(browser, app_url, control, swap_app):
    swap_app(config_file="oidc.toml")
    page = sign_in(browser, app_url, "corp")
    assert page.url == f"{app_url}/account"
    assert 'data-state="signed_in"' in page.text


def test_rfc9207_iss_parameter_from_another_issuer_is_refused(browser, app_url, control,
                                                              swap_app):
    swap_app(config_file="oidc.toml")
    control("POST", "faults", tenant="oidc", fault="wrong_iss_param")
    page = sign_in(browser, app_url, "corp")
    assert page.status_code == 400 and 'data-error="iss_mismatch"' in page.text


class FakeClient:
    """Just what check_iss_parameter reads: the provider and its metadata."""

    def __init__(self, provider, supported: bool) -> None:
        self.provider = provider
        self.metadata = {"authorization_response_iss_parameter_supported": supported}


@pytest.mark.parametrize(("iss", "supported", "error"), [
    (None, False, None),
    (None, True, "iss_missing"),
    ("ISSUER", False, None),
    ("ISSUER", True, None),
    ("https://attacker.example", False, "iss_mismatch"),
    ("https://attacker.example", True, "iss_mismatch"),
])
def test_rfc9207_iss_parameter_rules(live_app, iss, supported, error):
    from webapp.errors import FedlabError
    from webapp.signin import check_iss_parameter

    provider = registry.providers(live_app)["google"]
    iss = provider.issuer if iss == "ISSUER" else iss
    client = FakeClient(provider, supported)
    if error is None:
        check_iss_parameter(client, iss)
    else:
        with pytest.raises(FedlabError) as caught:
            check_iss_parameter(client, iss)
        assert caught.value.code == error
