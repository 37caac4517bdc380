"""The site's own AWS identity comes from the environment (or a role), never a file.

README: "taken from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or
the instance/task role, never from a file". Each test puts the site's working
stand-in key somewhere else an AWS SDK would look and watches the page and the
stand-in's call log.
"""

from __future__ import annotations

import os

from .flows import sign_in
from .test_developer_identities import federate_as_developer

KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def profile_files(folder, key_id: str, secret: str):
    """A shared credentials file and a config file holding the site's real key, as
    a developer's ~/.aws would."""
    aws = folder / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        f"[work]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    (aws / "config").write_text("[default]\nregion = us-east-1\n[profile work]\n"
                                "region = eu-west-1\n")
    return aws


def test_a_key_in_the_shared_files_is_never_used(browser, app_url, control, aws_control,
                                                 swap_app, monkeypatch, tmp_path):
    key_id, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    aws = profile_files(tmp_path, key_id, secret)
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    swap_app()
    sign_in(browser, app_url, "google")
    aws_control("identity", "DELETE", "calls")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:800]
    assert 'data-error="site_credentials_missing"' in page.text
    refused = browser.post(f"{app_url}/credentials/developer",
                           data={"csrf_token": browser.csrf(page)})
    assert refused.status_code == 503
    calls = aws_control("identity", "GET", "calls")
    # The working key sat in two files and a profile: no signed call was made with it.
    assert not {"GetOpenIdTokenForDeveloperIdentity", "GetIdentityPoolRoles",
                "DescribeIdentity"} & set(calls), calls


def test_a_profile_named_in_the_environment_does_not_break_the_pages(
        browser, app_url, control, aws_control, swap_app, monkeypatch, tmp_path):
    """An operator's shell with AWS_PROFILE set (SSO and aws-vault users have one):
    the site still takes its key from the environment, and every page works."""
    aws = profile_files(tmp_path, "AKIAFROMTHEFILE00000", "not-the-site-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "work")
    swap_app()
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:800]
    assert "data-error=" not in page.text
    federated = federate_as_developer(browser, app_url)
    assert federated.status_code == 200, federated.text[:800]
    assert 'class="developer-identity-id"' in federated.text


def test_every_action_granted_to_the_site_is_one_it_calls():
    """Least privilege: the site's policy (the template's SitePolicy and the stand-in's
    site user both come from policies.site_statements) grants no action the app never
    makes. The app calls each either as a boto3 method or by AWS's name through
    site_aws.call."""
    import re
    from pathlib import Path

    from botocore import xform_name

    import webapp
    from webapp import policies

    package = Path(webapp.__file__).parent
    source = "\n".join(path.read_text() for path in package.rglob("*.py")
                       if path.name != "policies.py")
    unused = []
    for action in policies.SITE_IDENTITY_ACTIONS:
        service, operation = action.split(":")
        called = (re.search(rf"\.{xform_name(operation)}\(", source)
                  or re.search(rf'"{service}",\s*"{operation}"', source))
        if not called:
            unused.append(action)
    assert unused == []
