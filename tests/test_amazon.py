"""Login with Amazon (issue 12): its own kind, and through the Cognito Hosted UI.

Plain OAuth 2: the access token is checked at token-info before the profile is
trusted; the identity pool takes the access token under ``www.amazon.com`` and
checks it at token-info too. Observed from outside: the pages, the session
store, the calls the Amazon stand-in received, and the identity pool's answers.
"""

from __future__ import annotations

import html

import pytest

from standins import BROWSER_ENDPOINTS
from webapp import matrix, signin
from webapp.providers import registry

from .flows import sign_in
from .test_account import ask_userinfo
from .test_sessions import session_cookie, stored_session
from .test_signin_checks import assert_refused
from .test_signout import sign_out


def app_calls(control, tenant: str = "amazon") -> dict[str, int]:
    """What the site itself asked the stand-in (not the browser's pages)."""
    return {e: n for e, n in control("GET", "calls").get(tenant, {}).items()
            if e not in BROWSER_ENDPOINTS}


def test_a_sign_in_checks_token_info_then_reads_the_profile(browser, app_url, control,
                                                           live_app):
    page = sign_in(browser, app_url, "amazon")
    assert page.url == f"{app_url}/account", page.text[:500]
    assert 'data-state="signed_in"' in page.text and "alice@example.com" in page.text
    assert app_calls(control) == {"token": 1, "tokeninfo": 1, "profile": 1}
    # The person is token-info's user_id, at Amazon's issuer (its authorization site).
    provider = registry.providers(live_app)["amazon"]
    auth = stored_session(live_app, session_cookie(browser).value)["auth"]
    assert auth["iss"] == provider.settings["www_url"]
    assert auth["sub"].startswith("amzn1.account.")
    assert auth["claims"]["aud"] == provider.client_id
    assert auth["claims"]["app_id"] == provider.settings["app_id"]
    assert auth["tokens"]["access_token"].startswith("Atza|")
    assert auth["tokens"]["refresh_token"].startswith("Atzr|")
    assert "id_token" not in {k for k, v in auth["tokens"].items() if v}


def test_a_token_issued_to_another_client_signs_nobody_in_and_its_profile_is_not_read(
        browser, app_url, control):
    control("POST", "faults", tenant="amazon", fault="tokeninfo_other_app")
    page = sign_in(browser, app_url, "amazon")
    assert_refused(page, "token_not_for_this_app", browser, app_url)
    assert "amzn1.application-oa2-client.0therapp" in page.text
    assert "profile" not in app_calls(control)


@pytest.mark.parametrize(("fault", "detail"), [
    ("tokeninfo_other_app_id", "app_id 'amzn1.application.0therapp"),
    ("tokeninfo_other_issuer", "iss 'https://www.amazon.invalid'"),
    ("tokeninfo_expired", "the token has expired"),
])
def test_each_token_info_check_refuses_on_its_own(browser, app_url, control, fault, detail):
    """The right client in every case: the security profile, the issuer and the time
    left are each checked, and the profile is never read."""
    control("POST", "faults", tenant="amazon", fault=fault)
    page = sign_in(browser, app_url, "amazon")
    assert_refused(page, "token_not_for_this_app", browser, app_url)
    assert html.unescape(detail) in html.unescape(page.text), page.text[-1500:]
    assert "profile" not in app_calls(control)


def test_a_profile_about_another_account_is_refused(browser, app_url, control):
    control("POST", "faults", tenant="amazon", fault="userinfo_other_sub")
    page = sign_in(browser, app_url, "amazon")
    assert_refused(page, "userinfo_sub_mismatch", browser, app_url)


@pytest.mark.parametrize(("fault", "endpoint"), [("error_500", "tokeninfo"),
                                                 ("garbage", "profile"),
                                                 ("down", "tokeninfo")])
def test_a_failing_amazon_api_ends_the_sign_in_clearly(browser, app_url, control, fault,
                                                      endpoint):
    control("POST", "faults", tenant="amazon", fault=fault, endpoint=endpoint)
    page = sign_in(browser, app_url, "amazon")
    assert page.status_code == 502 and 'data-error="provider_bad_response"' in page.text
    assert endpoint in page.text and "Traceback" not in page.text
    assert browser.get(f"{app_url}/account").status_code == 401


def test_the_profile_can_be_asked_again(browser, app_url, control):
    page = sign_in(browser, app_url, "amazon")
    control("DELETE", "calls")
    asked = ask_userinfo(browser, app_url, page)
    assert 'class="userinfo"' in asked.text and app_calls(control) == {"profile": 1}


def test_refresh_keeps_the_refresh_token_and_checks_the_new_access_token(
        browser, app_url, control, live_app):
    page = sign_in(browser, app_url, "amazon")
    before = stored_session(live_app, session_cookie(browser).value)["auth"]["tokens"]
    for _ in range(2):  # not rotated: the same refresh token works again
        control("DELETE", "calls")
        page = browser.post(f"{app_url}/auth/refresh", data={"csrf_token": browser.csrf(page)})
        assert 'data-state="refreshed"' in page.text, page.text[:800]
        assert app_calls(control) == {"token": 1, "tokeninfo": 1}
    after = stored_session(live_app, session_cookie(browser).value)["auth"]["tokens"]
    assert after["refresh_token"] == before["refresh_token"]
    assert after["access_token"] != before["access_token"]


def test_a_refreshed_token_for_another_client_is_refused(browser, app_url, control,
                                                         monkeypatch):
    sign_in(browser, app_url, "amazon")
    control("POST", "faults", tenant="amazon", fault="tokeninfo_other_app")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    page = browser.get(f"{app_url}/account")
    assert 'data-state="refresh_failed"' in page.text


def test_signing_out_is_app_only_and_says_so(browser, app_url, control):
    page = sign_in(browser, app_url, "amazon")
    done = sign_out(browser, app_url, page)
    assert "still signed in to Amazon" in done.text
    assert all("/amazon" not in r.url for r in done.history)
    assert browser.get(f"{app_url}/account").status_code == 401


def test_the_identity_pool_checks_the_amazon_token_at_token_info(browser, app_url, control,
                                                                 aws_control):
    sign_in(browser, app_url, "amazon")
    control("DELETE", "calls")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200 and 'class="identity-id"' in page.text, page.text[:800]
    # The pool asked token-info at GetId and again at GetCredentialsForIdentity.
    assert app_calls(control) == {"tokeninfo": 2}

    # A token the pool's security profile did not issue: AWS refuses it.
    other = browser.__class__()
    sign_in(other, app_url, "amazon", user="bob")
    control("POST", "faults", tenant="amazon", fault="tokeninfo_other_app")
    refused = other.get(f"{app_url}/credentials")
    assert "Incorrect token audience" in refused.text, refused.text[:1500]


def test_through_cognito_the_visitor_signs_in_at_amazon(browser, app_url, control, live_app):
    page = sign_in(browser, app_url, "cognito-amazon")
    assert page.url == f"{app_url}/account", page.text[:500]
    # Cognito redeemed the code at Amazon and read the profile, as its federation does.
    assert app_calls(control) == {"token": 1, "profile": 1}
    auth = stored_session(live_app, session_cookie(browser).value)["auth"]
    assert auth["iss"] == registry.providers(live_app)["cognito-amazon"].issuer
    assert auth["claims"]["cognito:username"].startswith("LoginWithAmazon_amzn1.account.")
    [identity] = auth["claims"]["identities"]
    assert identity["providerName"] == identity["providerType"] == "LoginWithAmazon"


def test_the_matrix_says_where_amazon_and_cognito_register_each_url(live_app, app_url):
    with live_app.test_request_context(base_url=app_url):
        rows = {r.name: r for r in matrix.rows(registry.providers(live_app))}
    amazon = rows["amazon"]
    assert "Allowed Return URLs" in amazon.console["callback"]
    assert "Allowed Origins" in amazon.console["origin"]
    assert amazon.sign_out_url is None and amazon.upstream == ()
    through = rows["cognito-amazon"]
    hosted = registry.providers(live_app)["cognito-amazon"].settings["hosted_ui_url"]
    assert through.upstream_provider == "LoginWithAmazon"
    assert through.upstream[0].value == f"{hosted}/oauth2/idpresponse"
    assert "Allowed Return URLs" in through.upstream[0].where


def test_the_demo_pool_lists_amazon_by_its_security_profile_id(live_app, servers):
    """SupportedLoginProviders' www.amazon.com is the App ID (the security profile),
    not the OAuth client id: what token-info's app_id is compared with."""
    import boto3

    from webapp.config import settings

    operator = boto3.client("cognito-identity", region_name="us-east-1",
                            endpoint_url=f"http://127.0.0.1:{servers[2].port}",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = operator.describe_identity_pool(
        IdentityPoolId=settings(live_app).aws.identity_pool_id)
    app_id = registry.providers(live_app)["amazon"].settings["app_id"]
    assert pool["SupportedLoginProviders"]["www.amazon.com"] == app_id
