"""The demo's identity pool as the AWS stand-in serves it: config/demo.toml's [aws] and
[standins.identity_pool] tables, read back with AWS's own operations."""

from __future__ import annotations

import boto3
import pytest

from webapp.config import ConfigError, settings
from webapp.demo import aws_standin_settings

from .conftest import make_app

ACCOUNT = "123456789012"


@pytest.fixture
def operator(app, servers):
    """The stand-in's pool, read with the operator's (admin) key."""
    return boto3.client("cognito-identity", region_name="us-east-1",
                        endpoint_url=f"http://127.0.0.1:{servers[2].port}",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_demo_pool_has_the_sites_developer_provider_and_the_basic_flow(app, operator):
    pool = operator.describe_identity_pool(IdentityPoolId=settings(app).aws.identity_pool_id)
    assert pool["DeveloperProviderName"] == "login.fedlab.demo"
    assert pool["AllowClassicFlow"] is True


def test_the_demo_role_mappings_are_keyed_and_shaped_as_aws_holds_them(app, operator):
    roles = operator.get_identity_pool_roles(IdentityPoolId=settings(app).aws.identity_pool_id)
    admins = f"arn:aws:iam::{ACCOUNT}:role/fedlab-admins"
    workspace = [{"Claim": "hd", "MatchType": "Equals", "Value": "example.com",
                  "RoleARN": admins}]
    e_mail = [
        {"Claim": "email_verified", "MatchType": "NotEqual", "Value": "true",
         "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/fedlab-authenticated"},
        {"Claim": "email", "MatchType": "Contains", "Value": "@example.com",
         "RoleARN": admins}]
    assert roles["RoleMappings"] == {
        # A user pool's mapping is per app client; the second client has none.
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-client": {
            "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "accounts.google.com": {"Type": "Rules", "AmbiguousRoleResolution":
                                "AuthenticatedRole", "RulesConfiguration": {"Rules": workspace}},
        "fedlab-demo.us.auth0.com": {"Type": "Rules", "AmbiguousRoleResolution":
                                     "AuthenticatedRole", "RulesConfiguration": {"Rules": e_mail}},
    }


def test_a_mapping_for_a_provider_not_configured_names_its_key(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, standins={"identity_pool": {"role_mappings": {
        "nobody": {"type": "Token", "ambiguous_role_resolution": "Deny"}}}})
    with pytest.raises(ConfigError, match=r"standins\.identity_pool\.role_mappings\.nobody"):
        aws_standin_settings(app)


def test_a_mapping_without_its_type_names_the_missing_key(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, standins={"identity_pool": {"role_mappings": {
        "facebook": {"ambiguous_role_resolution": "Deny"}}}})
    with pytest.raises(ConfigError, match=r"role_mappings\.facebook: type is missing"):
        aws_standin_settings(app)
