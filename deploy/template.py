"""Write deploy/identity-pool.json: the AWS side of Federation Lab as CloudFormation.

The policies come from webapp/policies.py, the same statements the storage
pages show and the local stand-in enforces, so the three cannot drift (a test
compares this output with the committed template). How each provider is
registered on the pool, and the parameters that takes, comes from its kind's
``POOL_TEMPLATES`` (webapp/providers/): this file names no provider, so a new
kind is deployable without a change here.

    python deploy/template.py > deploy/identity-pool.json
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from webapp import policies
from webapp.providers import KINDS
from webapp.providers.base import PoolRegistration, PoolTemplate, TemplateParameter

BUCKET = "BUCKETNAME"
#: CloudFormation spells two of S3's CORS keys its own way.
CFN_CORS_KEYS = {"ExposeHeaders": "ExposedHeaders", "MaxAgeSeconds": "MaxAge"}


def sub(value: Any) -> Any:
    """Turn the policies' literal ARNs into Fn::Sub strings over the template's bucket.

    A string without the bucket stays plain: outside Fn::Sub, CloudFormation leaves
    an IAM policy variable such as ``${cognito-identity.amazonaws.com:sub}`` alone,
    and a Fn::Sub with nothing to substitute is a lint warning (W1020)."""
    if isinstance(value, str) and BUCKET in value:
        escaped = value.replace("${", "${!").replace(BUCKET, "${StorageBucket}")
        # The partition too, so the template also deploys in aws-cn and aws-us-gov.
        escaped = escaped.replace("arn:aws:", "arn:${AWS::Partition}:")
        return {"Fn::Sub": escaped}
    if isinstance(value, list):
        return [sub(v) for v in value]
    if isinstance(value, dict):
        return {k: sub(v) for k, v in value.items()}
    return value


def role(name: str, amr: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Federation Lab {name} identities of the identity pool",
            "AssumeRolePolicyDocument": policies.trust_policy({"Ref": "IdentityPool"}, amr),
            "Policies": [{"PolicyName": "amplify-style-storage",
                          "PolicyDocument": sub(policies.policy(statements))}],
        },
    }


def registrations() -> list[tuple[str, PoolTemplate]]:
    """Each kind's registrations with the kind's display name, in the order of
    :data:`KINDS` (its modules' names), so the template is the same on every run.

    A kind must declare its own ``POOL_TEMPLATES``: one inherited from the kind
    it is built on would register that kind's names a second time, which is
    refused, as is any name, resource id or Logins domain registered twice."""
    found: list[tuple[str, PoolTemplate]] = []
    owners: dict[str, str] = {}
    for kind in KINDS.values():
        if "POOL_TEMPLATES" not in vars(kind):
            raise TypeError(f"provider kind {kind.KIND!r} ({kind.__qualname__}) declares no "
                            f"POOL_TEMPLATES; () if it is not registered on the pool")
        for pool in kind.POOL_TEMPLATES:
            for what in unique_names(pool):
                if what in owners:
                    raise ValueError(f"the {what} is registered twice on the pool, by kinds "
                                     f"{owners[what]!r} and {kind.KIND!r}")
                owners[what] = kind.KIND
            found.append((kind.DISPLAY_NAME, pool))
    return found


def unique_names(pool: PoolTemplate) -> list[str]:
    """What only one registration may have: its name (so its condition), its
    resource id, its Logins domain."""
    names = [f"name {pool.name}"]
    if pool.resource:
        names.append(f"resource {pool.resource}")
    if pool.registration is PoolRegistration.LOGIN_PROVIDER:
        names.append(f"Logins domain {pool.provider}")
    return names


#: The template's own parameters, which no registration may declare.
SITE_PARAMETERS = ("BucketName", "AppOrigin", "AllowGuests")


def pool_parameters(pools: list[PoolTemplate]) -> dict[str, dict[str, Any]]:
    """The parameters the registrations read, each once, in their order; a name
    two registrations declare differently, or one of the site's, is refused."""
    declared: dict[str, TemplateParameter] = {}
    for parameter in (p for pool in pools for p in pool.all_parameters):
        if parameter.name in SITE_PARAMETERS:
            raise ValueError(f"parameter {parameter.name} is the template's own")
        if declared.setdefault(parameter.name, parameter) != parameter:
            raise ValueError(f"parameter {parameter.name} is declared twice, differently: "
                             f"{declared[parameter.name]} and {parameter}")
    out: dict[str, dict[str, Any]] = {}
    for parameter in declared.values():
        out[parameter.name] = {"Type": "String"}
        if parameter.optional:
            out[parameter.name]["Default"] = ""
        if parameter.description:
            out[parameter.name]["Description"] = parameter.description
    return out


def given(parameter: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


def pool_conditions(pools: list[PoolTemplate]) -> dict[str, dict[str, Any]]:
    """``Has<name>`` for each registration with optional parameters: all of them given."""
    out: dict[str, dict[str, Any]] = {}
    for pool in pools:
        if pool.condition is None:
            continue
        checks = [given(p.name) for p in pool.all_parameters if p.optional]
        out[pool.condition] = checks[0] if len(checks) == 1 else {"Fn::And": checks}
    return out


def expression(text: str) -> Any:
    """A record's ``Fn::Sub`` text as the plainest value CloudFormation takes: a literal,
    a ``Ref`` of one parameter, or ``Fn::Sub`` (which without a variable is a lint
    warning, W1020)."""
    if "${" not in text:
        return text
    whole = re.fullmatch(r"\$\{([A-Za-z0-9]+)\}", text)
    return {"Ref": whole.group(1)} if whole else {"Fn::Sub": text}


def when(pool: PoolTemplate, value: Any) -> Any:
    """``value`` if the registration's parameters are given, else nothing."""
    if pool.condition is None:
        return value
    return {"Fn::If": [pool.condition, value, {"Ref": "AWS::NoValue"}]}


def oidc_providers(pools: list[PoolTemplate]) -> dict[str, dict[str, Any]]:
    """An ``AWS::IAM::OIDCProvider`` for each registration of that kind."""
    out: dict[str, dict[str, Any]] = {}
    for pool in pools:
        if pool.registration is not PoolRegistration.OIDC_PROVIDER:
            continue
        assert pool.resource is not None  # PoolTemplate refuses an OIDC one without
        out[pool.resource] = {
            "Type": "AWS::IAM::OIDCProvider",
            **({"Condition": pool.condition} if pool.condition else {}),
            "Properties": {"Url": expression(pool.provider),
                           "ClientIdList": [{"Ref": pool.client_id.name}]},
        }
    return out


def pool_providers(pools: list[PoolTemplate]) -> dict[str, Any]:
    """The identity pool's provider properties, each registration in its own place."""
    of = {registration: [p for p in pools if p.registration is registration]
          for registration in PoolRegistration}
    properties: dict[str, Any] = {}
    if of[PoolRegistration.COGNITO_USER_POOL]:
        properties["CognitoIdentityProviders"] = [
            when(pool, {"ProviderName": expression(pool.provider), "ServerSideTokenCheck": True,
                        "ClientId": {"Ref": pool.client_id.name}})
            for pool in of[PoolRegistration.COGNITO_USER_POOL]]
    if of[PoolRegistration.LOGIN_PROVIDER]:
        properties["SupportedLoginProviders"] = {
            pool.provider: when(pool, {"Ref": pool.client_id.name})
            for pool in of[PoolRegistration.LOGIN_PROVIDER]}
    if of[PoolRegistration.OIDC_PROVIDER]:
        properties["OpenIdConnectProviderARNs"] = [
            when(pool, {"Ref": pool.resource}) for pool in of[PoolRegistration.OIDC_PROVIDER]]
    return properties


def listing(names: list[str]) -> str:
    """``a, b and c``."""
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


def template() -> dict[str, Any]:
    found = registrations()
    pools = [pool for _, pool in found]
    names = list(dict.fromkeys(name for name, _ in found))
    conditions = pool_conditions(pools)
    # A condition function is no property value (cfn-lint E3012): the boolean
    # comes from a condition through Fn::If.
    conditions["GuestsAllowed"] = {"Fn::Equals": [{"Ref": "AllowGuests"}, "true"]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Federation Lab: a Cognito Identity Pool federating {listing(names)} "
                       "sign-ins, its roles (trust policies require aud and amr), and an S3 "
                       "bucket laid out as AWS Amplify Storage.",
        "Parameters": {
            "BucketName": {"Type": "String", "Description": "A globally unique bucket name"},
            "AppOrigin": {"Type": "String", "Description": "The site's origin, for S3 CORS "
                          "(e.g. https://fedlab.example.com)"},
            **pool_parameters(pools),
            "AllowGuests": {"Type": "String", "AllowedValues": ["true", "false"],
                            "Default": "true"},
        },
        "Conditions": conditions,
        "Resources": {
            "StorageBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Ref": "BucketName"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True, "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                    "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                    "CorsConfiguration": {"CorsRules": [
                        {CFN_CORS_KEYS.get(k, k): v for k, v in rule.items()}
                        for rule in policies.bucket_cors([{"Ref": "AppOrigin"}])["CORSRules"]]},
                },
            },
            **oidc_providers(pools),
            "IdentityPool": {
                "Type": "AWS::Cognito::IdentityPool",
                "Properties": {
                    "IdentityPoolName": "federation_lab",
                    "AllowUnauthenticatedIdentities": {"Fn::If": ["GuestsAllowed", True,
                                                                  False]},
                    **pool_providers(pools),
                },
            },
            "AuthenticatedRole": role("signed-in", "authenticated",
                                      policies.authenticated_statements(BUCKET)),
            "GuestRole": role("guest", "unauthenticated", policies.guest_statements(BUCKET)),
            "RoleAttachment": {
                "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
                "Properties": {
                    "IdentityPoolId": {"Ref": "IdentityPool"},
                    "Roles": {"authenticated": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]},
                              "unauthenticated": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
                },
            },
        },
        "Outputs": {
            "IdentityPoolId": {"Value": {"Ref": "IdentityPool"},
                               "Description": "aws.identity_pool_id"},
            "Bucket": {"Value": {"Ref": "StorageBucket"}, "Description": "aws.bucket"},
            "AuthenticatedRoleArn": {"Value": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]}},
            "GuestRoleArn": {"Value": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
        },
    }


def render() -> str:
    return json.dumps(template(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
