"""The demo's identity pool as the AWS stand-in serves it: config/demo.toml's [aws] and
[standins.identity_pool] tables, read back with AWS's own operations."""

from __future__ import annotations

from string import Template
from typing import Any

import boto3
import pytest

from webapp import policies
from webapp.config import ConfigError, settings
from webapp.demo import aws_standin_settings
from webapp.providers import registry
from webapp.providers.base import AUTHENTICATED_ROLE, RoleMapping
from webapp.providers.cognito import GROUPS

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
        # A user pool's mapping is per app client.
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-client": {
            "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-google-client": {
            "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-amazon-client": {
            "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-apple-client": {
            "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "accounts.google.com": {"Type": "Rules", "AmbiguousRoleResolution":
                                "AuthenticatedRole", "RulesConfiguration": {"Rules": workspace}},
        "fedlab-demo.us.auth0.com": {"Type": "Rules", "AmbiguousRoleResolution":
                                     "AuthenticatedRole", "RulesConfiguration": {"Rules": e_mail}},
    }


#: Where the demo's pool differs from deploy/'s template on purpose, and how (config/
#: demo.toml says why, above the mapping).
ON_PURPOSE = {"auth0": "the template maps no Auth0 identity; the demo's Rules illustrate "
                       "rule order and Contains"}


def template_mapping(mapping: RoleMapping, parameters: dict[str, str],
                     roles: dict[str, str]) -> dict[str, Any]:
    """A kind's declared mapping as AWS holds it once deployed with ``parameters``,
    its roles in the pool's account (``roles``: the pool's own Roles)."""
    account = roles["authenticated"].split(":")[4]
    names = {AUTHENTICATED_ROLE: roles["authenticated"].rsplit("/", 1)[-1],
             **{mapped.key: mapped.name for mapped in policies.MAPPED_ROLES}}
    shaped: dict[str, Any] = {"Type": mapping.type.value,
                              "AmbiguousRoleResolution": mapping.ambiguous_role_resolution.value}
    if mapping.rules:
        shaped["RulesConfiguration"] = {"Rules": [
            {"Claim": rule.claim, "MatchType": rule.match_type.value,
             "Value": Template(rule.value).substitute(parameters),
             "RoleARN": f"arn:aws:iam::{account}:role/{names[rule.role]}"}
            for rule in mapping.rules]}
    return shaped


def test_the_demo_pool_maps_roles_as_the_template_does(app, operator):
    """The demo's mappings, as the stand-in serves them, are what deploy/'s template
    makes of each provider's kind (its POOL_TEMPLATES), deployed with the demo's
    Google Workspace domain as StaffEmailDomain; but for ON_PURPOSE."""
    answer = operator.get_identity_pool_roles(IdentityPoolId=settings(app).aws.identity_pool_id)
    domains = {user.get("hosted_domain") for user in settings(app).standins["users"]} - {None}
    assert len(domains) == 1  # the demo's one Workspace
    parameters = {"StaffEmailDomain": domains.pop()}
    compared = set()
    for name, provider in registry.providers(app).items():
        declared = [template_mapping(t.role_mapping, parameters, answer["Roles"])
                    for t in type(provider).POOL_TEMPLATES if t.role_mapping]
        served = answer["RoleMappings"].get(provider.role_mapping_key)
        if name in ON_PURPOSE:
            assert not declared and served["Type"] == "Rules", ON_PURPOSE[name]
            continue
        assert (served in declared) if served else not declared, name
        compared.add(name)
    assert compared == {"cognito", "cognito-google", "cognito-amazon", "cognito-apple", "google",
                        "facebook", "amazon", "apple"}


def test_the_demo_user_pool_groups_are_the_templates(app):
    """[[standins.groups]]: the groups Cognito's registration makes, each with its
    mapped role's IAM name and its precedence (which decides the preferred role)."""
    names = {mapped.key: mapped.name for mapped in policies.MAPPED_ROLES}
    demo = {(group["name"], group.get("role"), group.get("precedence"))
            for group in settings(app).standins["groups"]}
    assert demo == {(group.name, names[group.role], group.precedence) for group in GROUPS}


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
