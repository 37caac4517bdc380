"""Developer-authenticated identities through the app: the site vouches for the person."""

from __future__ import annotations

import hashlib
import json
import re

from webapp.config import settings

from .flows import sign_in
from .test_credentials import field
from .test_linked_logins import admin_identity
from .test_sessions import session_cookie, stored_session


def developer_identifier(iss: str, sub: str) -> str:
    """What the README promises the site sends: SHA-256 of the JSON pair [iss, sub]."""
    return hashlib.sha256(json.dumps([iss, sub], separators=(",", ":")).encode()).hexdigest()


def federate_as_developer(browser, app_url: str):
    page = browser.get(f"{app_url}/credentials")
    return browser.click(page, "Federate as a developer identity")


def test_developer_federation_end_to_end(browser, app, servers, app_url, control, aws_control,
                                         pool_with):
    pool_with("fresh")
    sign_in(browser, app_url, "google")
    enhanced = field(browser.get(f"{app_url}/credentials"), "identity-id")
    aws_control("identity", "DELETE", "calls")
    page = federate_as_developer(browser, app_url)
    assert page.status_code == 200, page.text[:1500]
    auth = stored_session(app, session_cookie(browser).value)["auth"]
    expected = developer_identifier(auth["iss"], auth["sub"])
    identity_id = field(page, "developer-identity-id")
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", identity_id)
    # Another identity than the enhanced flow's: the pool knows the person by the site's
    # identifier; the storage pages keep the enhanced one.
    assert identity_id != enhanced and field(page, "identity-id") == enhanced
    identifiers = re.findall(r"<li><code>([0-9a-f]{64})</code></li>",
                             re.search(r'<ul class="developer-identifiers">(.*?)</ul>',
                                       page.text, re.S).group(1))
    assert identifiers == [expected]
    # No role mapping names the developer provider: the pool's authenticated role.
    assert "assumed-role/fedlab-authenticated/" in field(page, "developer-role")
    assert "cognito-identity:GetOpenIdTokenForDeveloperIdentity" in page.text
    assert field(page, "developer-token-duration").startswith("120")
    assert re.findall(r"<li><code>(\w+)</code>: (\w+)",
                      re.search(r'<ol class="developer-calls">(.*?)</ol>', page.text,
                                re.S).group(1)) == [
        ("GetOpenIdTokenForDeveloperIdentity", "ok"), ("GetCredentialsForIdentity", "ok"),
        ("GetCallerIdentity", "ok"), ("LookupDeveloperIdentity", "ok")]
    # The pool agrees: that identifier is that identity, under the pool's provider name.
    pool = settings(app).aws
    looked_up = admin_identity(app, servers).lookup_developer_identity(
        IdentityPoolId=pool.identity_pool_id, DeveloperUserIdentifier=expected, MaxResults=1)
    assert looked_up["IdentityId"] == identity_id
    # The stand-in saw the developer call signed, with the site's own key.
    seen = aws_control("identity", "GET", "calls")
    assert seen.get("GetOpenIdTokenForDeveloperIdentity") == 1
    # Their expiry in the page's one style of time (time_at): UTC, and "in 59 min".
    section = re.search(r'<section id="developer".*?</section>', page.text, re.S).group(0)
    assert 'class="countdown"' not in section
    assert re.search(r'<time datetime="[^"]+Z" data-epoch="\d+">[^<]+ UTC</time> '
                     r'<span class="relative" data-relative="\d+">\(in [^)]+\)', section)
    # The credentials worked: the role above is GetCallerIdentity's, signed with them.
    # Only their key id and expiry are kept (see the test below).


def test_the_same_person_gets_the_same_developer_identity(app_url, control, aws_control,
                                                          pool_with):
    from .browser import Browser

    pool_with("fresh")
    ids = []
    for user in ("alice", "alice", "bob"):
        visitor = Browser()
        sign_in(visitor, app_url, "auth0", user=user)
        ids.append(field(federate_as_developer(visitor, app_url), "developer-identity-id"))
    assert ids[0] == ids[1] != ids[2]


def test_without_site_keys_the_section_explains(browser, app_url, control, aws_control,
                                                swap_app, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here either
    swap_app()
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200
    assert 'data-error="site_credentials_missing"' in page.text
    assert "Federate as a developer identity" not in browser.buttons(page)
    refused = browser.post(f"{app_url}/credentials/developer",
                           data={"csrf_token": browser.csrf(page)})
    assert refused.status_code == 503
    assert 'data-error="site_credentials_missing"' in refused.text
    calls = aws_control("identity", "GET", "calls")
    assert "GetOpenIdTokenForDeveloperIdentity" not in calls


def test_off_without_a_developer_provider_name(browser, app_url, control, aws_control,
                                               swap_app):
    swap_app(aws={"developer_provider_name": ""})
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert 'id="developer"' not in page.text
    refused = browser.post(f"{app_url}/credentials/developer",
                           data={"csrf_token": browser.csrf(page)})
    assert refused.status_code == 404


def test_developer_federation_needs_a_sign_in_and_csrf(browser, app_url, control, aws_control):
    assert browser.post(f"{app_url}/credentials/developer").status_code == 400  # no CSRF
    page = browser.get(f"{app_url}/credentials")
    signed_out = browser.post(f"{app_url}/credentials/developer",
                              data={"csrf_token": browser.csrf(page)})
    assert signed_out.status_code == 401 and 'data-error="signed_out"' in signed_out.text


def test_the_call_is_signed_with_the_site_key_from_the_environment(browser, app_url, control,
                                                                   aws_control, swap_app,
                                                                   monkeypatch):
    """The same key id with another secret: the stand-in recomputes the signature, as AWS
    does, and refuses it; the page says so in AWS's words."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-site-secret-0000000000000000000000")
    swap_app()
    sign_in(browser, app_url, "google")
    page = federate_as_developer(browser, app_url)
    assert page.status_code == 502 and 'data-error="aws_error"' in page.text
    assert "InvalidSignatureException" in page.text
    assert aws_control("identity", "GET", "calls").get(
        "GetOpenIdTokenForDeveloperIdentity") == 1


def test_a_site_identity_without_the_permission_is_explained(app, browser, app_url, control,
                                                             aws_control, moto_url):
    """An explicit Deny on the site's IAM user: the stand-in refuses as IAM would,
    and the page names the permission the site lacks."""
    import boto3

    from standins.aws.settings import (
        ADMIN_ACCESS_KEY_ID,
        ADMIN_SECRET_ACCESS_KEY,
        SITE_USER,
    )

    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                       aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
    iam.put_user_policy(UserName=SITE_USER, PolicyName="DenyDeveloperIdentities",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Deny", "Resource": "*",
                            "Action": "cognito-identity:GetOpenIdTokenForDeveloperIdentity"}]}))
    try:
        sign_in(browser, app_url, "google")
        page = federate_as_developer(browser, app_url)
    finally:
        iam.delete_user_policy(UserName=SITE_USER, PolicyName="DenyDeveloperIdentities")
    assert page.status_code == 403 and 'data-error="site_not_permitted"' in page.text
    assert "AccessDeniedException" in page.text
    assert "cognito-identity:GetOpenIdTokenForDeveloperIdentity" in page.text


def secrets_kept(stored: dict) -> list[str]:
    """Where the stored session holds a secret key or a session token, other than the
    session's own AWS state (the storage pages' credentials)."""
    found = []

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("secret_key", "session_token", "SecretAccessKey", "SessionToken"):
                    found.append(f"{path}.{key}")
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk({k: v for k, v in stored.items() if k != "aws"}, "session")
    return found


def test_a_developer_comparison_keeps_no_secret_of_its_identity(browser, app, app_url,
                                                                control, aws_control):
    sign_in(browser, app_url, "google")
    page = federate_as_developer(browser, app_url)
    stored = stored_session(app, session_cookie(browser).value)
    kept = stored["developer_federation"]["credentials"]
    # What the page shows, and only that.
    assert set(kept) == {"access_key_id", "expiration"}
    assert field(page, "developer-access-key") == kept["access_key_id"]
    assert secrets_kept(stored) == []
