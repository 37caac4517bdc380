"""The basic (classic) flow beside the enhanced one, through the app."""

from __future__ import annotations

import re

from webapp.config import settings

from .flows import sign_in
from .test_credentials import field
from .test_linked_logins import admin_identity


def classic_calls(page) -> list[tuple[str, str]]:
    listed = re.search(r'<ol class="classic-calls">(.*?)</ol>', page.text, re.S)
    assert listed, page.text[:2000]
    return re.findall(r"<code>(\w+)</code>: ([\w-]+)", listed.group(1))


def test_the_basic_flow_beside_the_enhanced_one(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "facebook")
    page = browser.get(f"{app_url}/credentials")
    enhanced_id = field(page, "identity-id")
    aws_control("identity", "DELETE", "calls")
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
    assert "role mappings" in page.text and "scope-down policy" in page.text
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
