"""Role mapping through the app: which role the pool gives, why, and the visitor's choice.

Each test changes the AWS stand-in's pool as an operator would (``SetIdentityPoolRoles``
with the admin key) and puts the demo's mappings back afterwards; the role given is
what STS reports and S3 enforces, the page's reasons are the pool's settings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from webapp import roles
from webapp.config import settings

from .flows import sign_in
from .test_credentials import credentials_left, field, page_calls
from .test_sessions import session_cookie, stored_session
from .test_storage import upload

ROLE = "arn:aws:iam::123456789012:role/{}"
GOOGLE = "accounts.google.com"
COGNITO = "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-client"


def rules(*rules: tuple[str, str, str, str], resolution: str = "AuthenticatedRole") -> dict:
    """A Rules mapping in AWS's shape: (claim, match type, value, role name) each."""
    return {"Type": "Rules", "AmbiguousRoleResolution": resolution,
            "RulesConfiguration": {"Rules": [
                {"Claim": claim, "MatchType": match, "Value": value,
                 "RoleARN": ROLE.format(role)} for claim, match, value, role in rules]}}


@pytest.fixture
def identity_admin(app, servers) -> Any:
    """A Cognito Identity client signed with the stand-in's admin key (an operator's)."""
    from standins.aws.settings import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

    return boto3.client("cognito-identity", region_name=settings(app).aws.region,
                        endpoint_url=f"http://127.0.0.1:{servers[2].port}",
                        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)


@pytest.fixture
def pool_roles(app, identity_admin) -> Iterator[Callable[..., None]]:
    """Set the pool's role mappings for one test (``SetIdentityPoolRoles``); the demo's
    are put back after it. ``seen`` (the default) has the app read them again at once,
    as it would a few minutes later; ``seen=False`` leaves its earlier reading."""
    pool_id = settings(app).aws.identity_pool_id
    before = identity_admin.get_identity_pool_roles(IdentityPoolId=pool_id)

    def put(mappings: dict[str, Any], seen: bool = True) -> None:
        identity_admin.set_identity_pool_roles(
            IdentityPoolId=pool_id, Roles=before["Roles"],
            RoleMappings={**before.get("RoleMappings", {}), **mappings})
        if seen:
            app.extensions[roles.EXTENSION].forget()

    yield put
    identity_admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=before["Roles"],
                                           RoleMappings=before.get("RoleMappings", {}))
    app.extensions[roles.EXTENSION].forget()


def how(page) -> str:
    match = re.search(r'data-role-how="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def reason(page) -> str:
    match = re.search(r'class="role-reason">([^<]*)<', page.text)
    assert match, page.text[:2000]
    return " ".join(match.group(1).split())


def role_of(page) -> str:
    """The role STS reports, by name (the page's Role row is STS's assumed-role ARN)."""
    return field(page, "role").split("/")[1]


def test_a_cognito_group_gives_its_role_and_s3_enforces_it(browser, app_url, control,
                                                           aws_control):
    """bob is in the readers group only: the token's preferred role is fedlab-readers,
    and the role's read-only policy is what S3 applies to his upload."""
    sign_in(browser, app_url, "cognito", user="bob")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-readers"
    assert how(page) == "preferred_role"
    assert "cognito:preferred_role is fedlab-readers" in reason(page)
    assert f'<code class="mapping-key">{COGNITO}</code>' in page.text
    assert "role-disagrees" not in page.text and "data-role-choice" not in page.text
    listing = browser.get(f"{app_url}/storage/public")
    assert listing.status_code == 200 and '<code class="role-name">fedlab-readers' in \
        listing.text
    assert '"s3:PutObject"' not in listing.text  # the readers' statements, not everyone's
    assert 'id="upload-form"' not in listing.text  # so no upload is offered; S3 still decides:
    token = browser.csrf(browser.get(f"{app_url}/account"))
    _, _, stored = upload(browser, app_url, "public", csrf=token)
    assert stored.status_code == 403 and "<Code>AccessDenied</Code>" in stored.text


def test_a_rule_gives_its_role_and_the_page_names_the_rule(browser, app_url, control,
                                                           aws_control):
    """The demo's Google rule: alice's Google account is one of example.com's Google
    Workspace, so her id token's hd is example.com, which the rule compares exactly."""
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-admins"
    assert how(page) == "rule"
    assert reason(page) == ("Rule 1 matched: your hd (&#34;example.com&#34;) equals "
                            "&#34;example.com&#34;, so the role is fedlab-admins.")
    rows = re.findall(r'<tr class="rule" data-rule="(\d)"( data-matched="true")?>', page.text)
    assert rows == [("1", ' data-matched="true"')]
    assert "<code>example.com</code></td>" in page.text  # her claim, beside the rule
    assert "role-caveat" not in page.text  # Equals matches that domain and no other


def test_a_personal_google_account_at_the_staff_address_is_no_admin(browser, app_url,
                                                                    control, aws_control):
    """carol's Google account is a personal one, made for carol@example.com: its address
    is verified and at the demo's domain, but no Workspace manages it, so it has no hd,
    the rule does not match and the pool gives the authenticated role (as STS says)."""
    sign_in(browser, app_url, "google", user="carol")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-authenticated"
    assert how(page) == "ambiguous"
    assert reason(page).startswith("None of the mapping&#39;s 1 rules matched")
    assert re.search(r'<tr class="rule" data-rule="1">.*?<td>absent</td>\s*<td>no match</td>',
                     page.text, flags=re.S)


def test_a_contains_rule_on_the_e_mail_is_said_to_match_longer_domains(browser, app_url,
                                                                       control, aws_control):
    """The demo's Auth0 rules decide by e-mail Contains "@example.com": the page says,
    beside the reason, that this also matches an address at a longer domain."""
    sign_in(browser, app_url, "auth0")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-admins"
    assert reason(page) == ("Rule 2 matched: your email (&#34;alice@example.com&#34;) contains "
                            "&#34;@example.com&#34;, so the role is fedlab-admins.")
    caveat = re.search(r'<p class="role-caveat warning">([^<]*)</p>', page.text)
    assert caveat, page.text[:2000]
    assert "Contains is not &#34;ends with&#34;" in caveat.group(1)
    assert "someone@example.com.evil.test" in caveat.group(1)


def test_no_rule_matching_falls_back_to_the_authenticated_role(browser, app_url, control,
                                                               aws_control, pool_roles):
    pool_roles({GOOGLE: rules(("email", "Equals", "nobody@example.org", "fedlab-admins"),
                              ("hd", "Equals", "example.org", "fedlab-readers"))})
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-authenticated"
    assert how(page) == "ambiguous"
    assert reason(page) == ("None of the mapping&#39;s 2 rules matched your token&#39;s claims. "
                            "The mapping resolves that with AuthenticatedRole: the pool&#39;s "
                            "authenticated role.")
    assert "matched: decides" not in page.text and page.text.count("no match") == 2


def test_no_rule_matching_under_deny_ends_on_an_explained_page(browser, app, app_url, control,
                                                              aws_control, pool_roles):
    pool_roles({GOOGLE: rules(("email", "Equals", "nobody@example.org", "fedlab-admins"),
                              resolution="Deny")})
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 403 and 'data-error="role_mapping_denied"' in page.text
    assert "denied this request" in page.text  # AWS's own words, kept
    assert re.search(r'class="role-reason">None of the mapping&#39;s 1 rules matched[^<]*'
                     r'resolves that with Deny', page.text)
    assert 'class="check-provider"' in page.text and "#provider-google" in page.text
    assert "aws" not in stored_session(app, session_cookie(browser).value)


TIED = ("The mapping takes the role from the token, which names none: no "
        "cognito:preferred_role, and 2 cognito:roles to choose from.")


def tie_the_groups(control) -> None:
    """Cognito's UpdateGroup: readers at admins' precedence. alice, in both, is then
    in two groups of equal precedence with different roles, and her id token has
    both roles and no preferred one (as Cognito leaves it out)."""
    control("POST", "groups", tenant="cognito", name="readers", precedence=1)


def test_two_roles_and_none_preferred_give_the_authenticated_role(browser, app_url, control,
                                                                  aws_control):
    """The demo's Cognito mapping resolves ambiguity with AuthenticatedRole."""
    tie_the_groups(control)
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-authenticated"
    assert how(page) == "ambiguous"
    assert reason(page) == (f"{TIED} The mapping resolves that with AuthenticatedRole: the "
                            f"pool&#39;s authenticated role.")
    assert "role-disagrees" not in page.text  # STS gave the role this reading names
    # Both roles offered, neither in use.
    offered = re.findall(r'<li data-role-choice="([^"]+)"( aria-current="true")?>', page.text)
    assert offered == [(ROLE.format("fedlab-admins"), ""), (ROLE.format("fedlab-readers"), "")]


def test_two_roles_and_none_preferred_under_deny_end_on_an_explained_page(
        browser, app, app_url, control, aws_control, pool_roles):
    tie_the_groups(control)
    pool_roles({COGNITO: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}})
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 403 and 'data-error="role_mapping_denied"' in page.text
    assert f"The ambiguous role mapping rules for: {COGNITO} denied this request" in page.text
    assert re.search(f'class="role-reason">{re.escape(TIED)} The mapping resolves that with '
                     f"Deny: no credentials.<", page.text)
    assert "aws" not in stored_session(app, session_cookie(browser).value)


def test_a_provider_without_a_mapping_gets_the_authenticated_role(browser, app_url, control,
                                                                  aws_control):
    """The demo's pool maps no role for Facebook: the pool's authenticated role, and
    the page says why (and agrees with STS)."""
    sign_in(browser, app_url, "facebook")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-authenticated"
    assert how(page) == "no_mapping"
    assert reason(page) == ("The pool has no role mapping for this provider "
                            "(graph.facebook.com), so it gives its authenticated role.")
    assert "role-disagrees" not in page.text and "data-role-choice" not in page.text


def test_a_token_with_one_role_and_none_preferred_gets_that_role(browser, app_url, control,
                                                                 aws_control):
    """A pre token generation trigger that names one role and no preferred one: the
    pool's Token mapping takes the token's only role."""
    control("POST", "pre-token-generation", tenant="cognito", groupOverrideDetails={
        "groupsToOverride": ["readers"], "iamRolesToOverride": [ROLE.format("fedlab-readers")]})
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-readers"
    assert how(page) == "only_role"
    assert reason(page) == ("The mapping takes the role from the token: it has no "
                            "cognito:preferred_role, and its cognito:roles lists one role, "
                            "fedlab-readers.")
    assert "role-disagrees" not in page.text and "data-role-choice" not in page.text


def stand_in_choices(caplog) -> list[str]:
    """The reasons the AWS stand-in logged for the roles it gave (its log lines)."""
    return [r.getMessage().rsplit(" (", 1)[-1].rstrip(")") for r in caplog.records
            if r.name == "standins.aws.identity" and r.getMessage().startswith("role for ")]


def test_several_roles_the_visitor_chooses_one_and_keeps_it_on_renewal(
        browser, app, app_url, control, aws_control, caplog):
    """alice is in both groups: the page offers both roles, the preferred one in use;
    choosing readers asks the pool for it (CustomRoleArn), on renewals too."""
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-admins" and how(page) == "preferred_role"
    offered = re.findall(r'<li data-role-choice="([^"]+)"( aria-current="true")?>', page.text)
    assert offered == [(ROLE.format("fedlab-admins"), ' aria-current="true"'),
                       (ROLE.format("fedlab-readers"), "")]
    assert "Use fedlab-readers" in browser.buttons(page)
    assert "Use fedlab-admins" not in browser.buttons(page)  # the one in use

    aws_control("identity", "DELETE", "calls")
    caplog.set_level(logging.INFO, logger="standins.aws.identity")
    caplog.clear()
    page = browser.click(page, "Use fedlab-readers")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-readers" and how(page) == "choice"
    assert "AWS calls when you chose the role fedlab-readers" in page.text
    assert page_calls(page) == [("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]
    # The stand-in was asked for it: CustomRoleArn, checked against the token's roles.
    assert stand_in_choices(caplog) == ["CustomRoleArn, one of the token's cognito:roles"]
    state = stored_session(app, session_cookie(browser).value)["aws"]
    assert state["custom_role_arn"] == ROLE.format("fedlab-readers")
    offered = re.findall(r'<li data-role-choice="([^"]+)"( aria-current="true")?>', page.text)
    assert offered[1] == (ROLE.format("fedlab-readers"), ' aria-current="true"')

    # Keys for the chosen role that need renewing at once: the renewal asks the pool
    # for the chosen role again, not for the token's preferred one.
    credentials_left(aws_control, 4)
    caplog.clear()
    browser.post(f"{app_url}/credentials/role", data={
        "role_arn": ROLE.format("fedlab-readers"), "csrf_token": browser.csrf(page)},
        allow_redirects=False)
    aws_control("identity", "DELETE", "faults")
    renewed = browser.get(f"{app_url}/credentials")
    assert "Renewed</th><td>1 time<" in renewed.text
    assert page_calls(renewed) == [("GetCredentialsForIdentity", "ok"),
                                   ("GetCallerIdentity", "ok")]
    assert role_of(renewed) == "fedlab-readers"
    assert stand_in_choices(caplog) == ["CustomRoleArn, one of the token's cognito:roles"] * 2

    # Back to the pool's own choice.
    page = browser.click(renewed, "Let the pool's mapping decide")
    assert role_of(page) == "fedlab-admins" and how(page) == "preferred_role"


def test_a_role_the_token_does_not_offer_is_refused_with_an_explained_page(
        browser, app, app_url, control, aws_control):
    """bob's token lists fedlab-readers only; the pool refuses fedlab-admins, and the
    credentials he had stay his."""
    sign_in(browser, app_url, "cognito", user="bob")
    page = browser.get(f"{app_url}/credentials")
    assert "data-role-choice" not in page.text  # one role: nothing to choose
    before = stored_session(app, session_cookie(browser).value)["aws"]
    # A form of the visitor's own session (its CSRF token), sent with another role.
    refused = browser.post(f"{app_url}/credentials/role",
                           data={"role_arn": ROLE.format("fedlab-admins"),
                                 "csrf_token": browser.csrf(browser.get(f"{app_url}/account"))})
    assert refused.status_code == 403 and 'data-error="role_choice_refused"' in refused.text
    assert '<dd class="offered-roles">fedlab-readers</dd>' in refused.text
    assert f'<dd class="chosen-role"><code>{ROLE.format("fedlab-admins")}</code>' in \
        refused.text
    assert stored_session(app, session_cookie(browser).value)["aws"] == before
    assert role_of(browser.get(f"{app_url}/credentials")) == "fedlab-readers"


def test_a_choice_the_pool_no_longer_allows_is_left_from_its_refusal_page(
        browser, app_url, control, aws_control, pool_roles):
    """A renewal asks for the chosen role again; once the pool refuses it (its Cognito
    mapping became Rules, which take no CustomRoleArn), the refusal page lets the
    visitor go back to the mapping's own choice, without renewing the refused one."""
    sign_in(browser, app_url, "cognito")
    credentials_left(aws_control, 4)  # every page renews
    page = browser.click(browser.get(f"{app_url}/credentials"), "Use fedlab-readers")
    assert role_of(page) == "fedlab-readers"
    pool_roles({COGNITO: rules(("email", "Contains", "@example.com", "fedlab-authenticated"))})
    refused = browser.get(f"{app_url}/credentials")
    assert refused.status_code == 403 and 'data-error="role_choice_refused"' in refused.text
    assert "<code>InvalidParameterException</code>: CustomRoleArn can only be used" in \
        refused.text
    page = browser.click(refused, "Let the pool's mapping decide")
    assert page.status_code == 200, page.text[:1500]
    assert role_of(page) == "fedlab-authenticated" and how(page) == "rule"


def test_a_malformed_role_is_refused_before_any_aws_call(browser, app_url, control,
                                                         aws_control):
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    aws_control("identity", "DELETE", "calls")
    refused = browser.post(f"{app_url}/credentials/role",
                           data={"role_arn": "fedlab-readers", "csrf_token": browser.csrf(page)})
    assert refused.status_code == 400 and 'data-error="role_arn_malformed"' in refused.text
    assert aws_control("identity", "GET", "calls") == {}


def test_the_page_says_when_the_pool_changed_since_it_was_read(browser, app_url, control,
                                                               aws_control, pool_roles):
    """The role given is STS's: when the pool's mapping changed after the site read it,
    the page names both rather than trusting its reading."""
    credentials_left(aws_control, 4)
    sign_in(browser, app_url, "google")
    assert role_of(browser.get(f"{app_url}/credentials")) == "fedlab-admins"
    pool_roles({GOOGLE: rules(("email", "Equals", "nobody@example.org", "fedlab-admins"))},
               seen=False)
    page = browser.get(f"{app_url}/credentials")  # renewed: the new mapping applies
    assert role_of(page) == "fedlab-authenticated"
    assert re.search(r"class=\"role-disagrees warning\">By the pool's settings as this site "
                     r"read them, the role\s+would be <strong>fedlab-admins</strong>, not "
                     r"fedlab-authenticated", page.text)


def test_without_site_credentials_the_page_says_what_it_cannot_know(
        browser, app_url, control, aws_control, swap_app, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    swap_app()
    sign_in(browser, app_url, "cognito", user="bob")
    page = browser.get(f"{app_url}/credentials")
    assert role_of(page) == "fedlab-readers"  # STS's word needs no site credentials
    assert how(page) == "unknown"
    assert "This site has no AWS credentials of its own" in reason(page)


def test_a_role_the_site_does_not_know_offers_nothing_and_says_s3_decides(
        browser, app, app_url, control, aws_control, pool_roles, moto_url):
    """A stack whose roles got generated names (``fedlab-ReadersRole-1A2B3C``) is no
    role of the site's: its statements cannot be vouched for, so the storage page
    offers no upload or delete and says S3 decides, whatever the role allows."""
    from standins.aws.settings import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    from webapp import policies

    aws = settings(app).aws
    iam = boto3.client("iam", region_name=aws.region, endpoint_url=moto_url,
                       aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                       aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
    name = "fedlab-AdminsRole-1A2B3C"
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
            policies.trust_policy(aws.identity_pool_id, "authenticated")))
    iam.put_role_policy(RoleName=name, PolicyName="storage", PolicyDocument=json.dumps(
        policies.policy(policies.admin_statements(aws.bucket))))
    pool_roles({GOOGLE: rules(("hd", "Equals", "example.com", name))})
    sign_in(browser, app_url, "google")
    assert role_of(browser.get(f"{app_url}/credentials")) == name
    for level in ("public", "private"):
        listing = browser.get(f"{app_url}/storage/{level}")
        assert listing.status_code == 200 and f'<code class="role-name">{name}' in listing.text
        assert 'id="upload-form"' not in listing.text and "data-unknown-role" in listing.text
        assert "S3 decides each request" in listing.text
        assert '"s3:PutObject"' not in listing.text  # no other role's statements shown
