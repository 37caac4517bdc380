"""The basic (classic) flow beside the enhanced one, through the app.

The demo's pool has role mappings, where AWS refuses the basic flow: the tests of
a successful basic flow take them off first (the ``no_role_mappings`` fixture:
``SetIdentityPoolRoles`` with the admin key, as an operator would) and put them back
after.
"""

from __future__ import annotations

import html
import re

from webapp.config import settings

from .flows import sign_in
from .test_credentials import field
from .test_linked_logins import admin_identity

CLASSIC_FLOW_MAPPED = ("Basic (classic) flow is not supported with RoleMappings, please use "
                       "enhanced flow.")


def classic_calls(page) -> list[tuple[str, str]]:
    listed = re.search(r'<ol class="classic-calls">(.*?)</ol>', page.text, re.S)
    assert listed, page.text[:2000]
    return re.findall(r"<code>(\w+)</code>: ([\w-]+)", listed.group(1))


def test_the_basic_flow_beside_the_enhanced_one(browser, app_url, control, aws_control,
                                                no_role_mappings, moto_requests):
    sign_in(browser, app_url, "facebook")
    page = browser.get(f"{app_url}/credentials")
    assert 'class="classic-mapped"' not in page.text
    enhanced_id = field(page, "identity-id")
    aws_control("identity", "DELETE", "calls")
    moto_requests.start()
    page = browser.click(page, "Compare with the basic flow")
    assert page.status_code == 200, page.text[:1500]
    assert classic_calls(page) == [("GetId", "ok"), ("GetOpenIdToken", "ok"),
                                   ("GetIdentityPoolRoles", "ok"),
                                   ("AssumeRoleWithWebIdentity", "ok")]
    # The same identity; the role the client chose, assumed by STS directly.
    assert field(page, "classic-identity-id") == enhanced_id
    assert ":assumed-role/fedlab-authenticated/fedlab-classic-flow" in field(page, "classic-role")
    seen = aws_control("identity", "GET", "calls")
    assert seen.get("GetOpenIdToken") == 1 and "GetCredentialsForIdentity" not in seen
    assert moto_requests.sts() == ["AssumeRoleWithWebIdentity"]
    assert "role mappings" in page.text and "scope-down policy" in page.text
    assert "classic-refused" not in page.text
    # Both expiries in the page's one style of time (time_at): UTC, and "in 59 min".
    section = re.search(r'<section id="classic".*?</section>', page.text, re.S).group(0)
    assert 'class="countdown"' not in section
    assert len(re.findall(r'<time datetime="[^"]+Z" data-epoch="\d+">[^<]+ UTC</time> '
                          r'<span class="relative" data-relative="\d+">\(in [^)]+\)',
                          section)) == 2
    # The storage pages keep the enhanced flow's credentials.
    assert field(page, "identity-id") == enhanced_id
    assert "classic-flow" not in field(page, "role")


def test_the_basic_flow_is_not_offered_when_off(browser, app_url, control, aws_control,
                                                swap_app):
    swap_app(aws={"classic_flow": False})
    sign_in(browser, app_url, "facebook")
    page = browser.get(f"{app_url}/credentials")
    assert 'id="classic"' not in page.text
    assert "Compare with the basic flow" not in browser.buttons(page)
    refused = browser.post(f"{app_url}/credentials/classic",
                           data={"csrf_token": browser.csrf(page)})
    assert refused.status_code == 404
    assert "GetOpenIdToken" not in aws_control("identity", "GET", "calls")


def test_a_pool_that_refuses_the_basic_flow_is_explained(browser, app, servers, app_url,
                                                         control, aws_control, pool_with):
    pool_with("fresh")  # this test's own pool, which its operator then changes
    operator = admin_identity(app, servers)
    pool = operator.describe_identity_pool(IdentityPoolId=settings(app).aws.identity_pool_id)
    pool.pop("ResponseMetadata")
    operator.update_identity_pool(**{**pool, "AllowClassicFlow": False})
    sign_in(browser, app_url, "facebook")
    page = browser.click(browser.get(f"{app_url}/credentials"), "Compare with the basic flow")
    assert page.status_code == 403, page.text[:1500]
    assert 'data-error="classic_flow_refused"' in page.text
    assert "Basic (classic) flow is not enabled" in page.text


def test_in_a_pool_with_role_mappings_the_page_says_so_and_shows_aws_refusing(
        browser, app_url, control, aws_control, moto_requests):
    """The demo's pool maps roles for Cognito, Google and Auth0; a Facebook visitor's
    basic flow is refused all the same (it is the pool that has mappings that decides),
    and the refusal is shown in the comparison, not as an error page."""
    sign_in(browser, app_url, "facebook")
    page = browser.get(f"{app_url}/credentials")
    mapped = re.search(r'<p class="classic-mapped">(.*?)</p>', page.text, re.S)
    assert mapped, page.text[:2000]
    said = " ".join(mapped.group(1).split())
    assert "<code>accounts.google.com</code>" in said
    assert "AWS refuses the basic flow in any pool with role mappings" in said
    assert "cannot be bypassed by a client that names its own role" in said
    enhanced_id = field(page, "identity-id")

    aws_control("identity", "DELETE", "calls")
    moto_requests.start()
    page = browser.click(page, "Compare with the basic flow")
    assert page.status_code == 200, page.text[:1500]
    assert "data-error" not in page.text
    assert classic_calls(page) == [("GetId", "ok"),
                                   ("GetOpenIdToken", "classic_flow_role_mappings")]
    assert field(page, "classic-identity-id") == enhanced_id
    refusal = re.search(r'<td colspan="2" class="classic-refusal">(.*?)</td>', page.text, re.S)
    assert refusal, page.text[:2000]
    assert '<code class="aws-code">InvalidParameterException</code>' in refusal.group(1)
    assert f'<q class="aws-message">{html.escape(CLASSIC_FLOW_MAPPED)}</q>' in refusal.group(1)
    seen = aws_control("identity", "GET", "calls")
    assert seen.get("GetOpenIdToken") == 1
    assert "GetCredentialsForIdentity" not in seen
    assert moto_requests.sts() == []  # no AssumeRoleWithWebIdentity: no token to give STS
    # The storage pages keep the enhanced flow's credentials.
    assert field(page, "identity-id") == enhanced_id


def test_a_basic_flow_comparison_keeps_no_secret_of_its_credentials(browser, app, app_url,
                                                                    control, aws_control,
                                                                    no_role_mappings):
    from .test_developer_identities import secrets_kept
    from .test_sessions import session_cookie, stored_session

    sign_in(browser, app_url, "facebook")
    page = browser.click(browser.get(f"{app_url}/credentials"), "Compare with the basic flow")
    assert page.status_code == 200 and 'class="classic-role"' in page.text
    stored = stored_session(app, session_cookie(browser).value)
    assert set(stored["classic_flow"]["credentials"]) == {"access_key_id", "expiration"}
    assert secrets_kept(stored) == []
