"""Write deploy/identity-pool.json: the AWS side of Federation Lab as CloudFormation.

The policies come from webapp/policies.py, the same statements the storage
pages show and the local stand-in enforces, so the three cannot drift (a test
compares this output with the committed template). How each provider is
registered on the pool, how the pool chooses its identities' roles (from a user
pool's groups, or by rules on the token's claims) and the parameters that takes,
comes from its kind's ``POOL_TEMPLATES`` (webapp/providers/): this file names no
provider, so a new kind is deployable without a change here. The roles those
mappings choose are :data:`webapp.policies.MAPPED_ROLES`.

The site's own AWS identity (developer-authenticated identities, the probes'
look at the pool and its roles) gets ``SitePolicy``, a managed policy of
:func:`webapp.policies.site_statements`, attached to the role or user named by
``SiteRoleName`` or ``SiteUserName``. Every role of the stack lives under the
IAM path ``/<stack name>/``, so that policy can name exactly this stack's roles.

    python deploy/template.py > deploy/identity-pool.json
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from webapp import policies
from webapp.providers import KINDS
from webapp.providers.base import (
    AUTHENTICATED_ROLE,
    PoolRegistration,
    PoolTemplate,
    TemplateParameter,
)

BUCKET = "BUCKETNAME"
#: CloudFormation spells two of S3's CORS keys its own way.
CFN_CORS_KEYS = {"ExposeHeaders": "ExposedHeaders", "MaxAgeSeconds": "MaxAge"}
#: The stack's roles' IAM path, and so the pattern of their ARNs.
ROLE_PATH = "/${AWS::StackName}/"
ROLES_ARN = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role" + ROLE_PATH + "*"
POOL_ARN = ("arn:${AWS::Partition}:cognito-identity:${AWS::Region}:${AWS::AccountId}:"
            "identitypool/${IdentityPool}")
#: An identity pool takes at most this many role mappings (SetIdentityPoolRoles).
MAX_ROLE_MAPPINGS = 10


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


def role(name: str, description: str, amr: str,
         statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A role identities of this pool only, of this ``amr`` only, may assume.

    Named ``name`` (one of :data:`webapp.policies.SITE_ROLE_NAMES`), not a generated
    name: the storage pages know the visitor's role by the name in STS's
    assumed-role ARN, and offer Upload and Delete only for a role they know. Hence
    ``--capabilities CAPABILITY_NAMED_IAM``, and one stack per account."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Description": description,
            "Path": {"Fn::Sub": ROLE_PATH},
            "AssumeRolePolicyDocument": policies.trust_policy({"Ref": "IdentityPool"}, amr),
            "Policies": [{"PolicyName": "amplify-style-storage",
                          "PolicyDocument": sub(policies.policy(statements))}],
        },
    }


def mapped_roles() -> dict[str, dict[str, Any]]:
    """A role for each of :data:`webapp.policies.MAPPED_ROLES`: signed-in identities'
    (``amr`` ``authenticated``), with that role's statements."""
    return {role_id(mapped.key): role(mapped.name, f"Federation Lab: {mapped.description}",
                                      "authenticated", mapped.statements(BUCKET))
            for mapped in policies.MAPPED_ROLES}


def role_id(key: str) -> str:
    """The logical id of the role a rule or group names by key."""
    if key == AUTHENTICATED_ROLE:
        return "AuthenticatedRole"
    if key not in {mapped.key for mapped in policies.MAPPED_ROLES}:
        known = [AUTHENTICATED_ROLE, *(mapped.key for mapped in policies.MAPPED_ROLES)]
        raise ValueError(f"role {key!r} is none of the template's: {', '.join(known)}")
    return f"{key.capitalize()}Role"


def role_arn(key: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [role_id(key), "Arn"]}


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
    """What only one registration may have: its name (so its conditions and its role
    mapping's key), its resource ids, its Logins domain."""
    names = [f"name {pool.name}"]
    if pool.resource:
        names.append(f"resource {pool.resource}")
    names += [f"resource {group.resource}" for group in pool.groups]
    if pool.registration is PoolRegistration.LOGIN_PROVIDER:
        names.append(f"Logins domain {pool.provider}")
    return names


#: The template's own parameters, which no registration may declare.
SITE_PARAMETERS = ("BucketName", "AppOrigin", "AllowGuests", "AllowClassicFlow",
                   "DeveloperProviderName", "SiteRoleName", "SiteUserName")


def pool_parameters(pools: list[PoolTemplate]) -> dict[str, dict[str, Any]]:
    """The parameters the registrations read, each once, in their order, then their
    role mappings'; a name two registrations declare differently, or one of the
    site's, is refused."""
    declared: dict[str, TemplateParameter] = {}
    parameters = [p for pool in pools for p in pool.all_parameters]
    parameters += [p for pool in pools for p in pool.mapping_parameters]
    for parameter in parameters:
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
    """``Has<name>`` for each registration with optional parameters: all of them given;
    ``Has<name>RoleMapping`` for a role mapping with optional parameters: the
    registration's condition, and those given too."""
    out: dict[str, dict[str, Any]] = {}
    for pool in pools:
        if pool.condition is not None:
            out[pool.condition] = every([given(p.name) for p in pool.all_parameters
                                         if p.optional])
        if pool.mapping_condition not in (None, pool.condition):
            checks = [given(p.name) for p in pool.mapping_parameters if p.optional]
            if pool.condition is not None:
                checks.insert(0, {"Condition": pool.condition})
            out[pool.mapping_condition] = every(checks)
    return out


def every(checks: list[dict[str, Any]]) -> dict[str, Any]:
    return checks[0] if len(checks) == 1 else {"Fn::And": checks}


def expression(text: str) -> Any:
    """A record's ``Fn::Sub`` text as the plainest value CloudFormation takes: a literal,
    a ``Ref`` of one parameter, or ``Fn::Sub`` (which without a variable is a lint
    warning, W1020)."""
    if "${" not in text:
        return text
    whole = re.fullmatch(r"\$\{([A-Za-z0-9]+)\}", text)
    return {"Ref": whole.group(1)} if whole else {"Fn::Sub": text}


def when(condition: str | None, value: Any) -> Any:
    """``value`` if ``condition`` holds (a registration's parameters are given), else
    nothing."""
    if condition is None:
        return value
    return {"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]}


def identity_provider(pool: PoolTemplate) -> Any:
    """AWS's identity provider string for a registration (``RoleMapping.IdentityProvider``),
    as the template spells it: an issuer that is one parameter whole, scheme and all,
    has its scheme cut off by ``Fn::Split``."""
    text = pool.identity_provider
    if pool.registration is PoolRegistration.OIDC_PROVIDER and "://" not in pool.provider:
        return {"Fn::Select": [1, {"Fn::Split": ["://", expression(text)]}]}
    return expression(text)


def role_mappings(pools: list[PoolTemplate]) -> dict[str, Any]:
    """The role attachment's ``RoleMappings``: each registration's mapping under its
    name, for AWS's identity provider string of it."""
    out: dict[str, Any] = {}
    for pool in pools:
        mapping = pool.role_mapping
        if mapping is None:
            continue
        value: dict[str, Any] = {"Type": mapping.type.value,
                                 "IdentityProvider": identity_provider(pool),
                                 "AmbiguousRoleResolution":
                                     mapping.ambiguous_role_resolution.value}
        if mapping.rules:
            value["RulesConfiguration"] = {"Rules": [
                {"Claim": rule.claim, "MatchType": rule.match_type.value,
                 "Value": expression(rule.value), "RoleARN": role_arn(rule.role)}
                for rule in mapping.rules]}
        out[pool.name] = when(pool.mapping_condition, value)
    if len(out) > MAX_ROLE_MAPPINGS:
        raise ValueError(f"{len(out)} role mappings: an identity pool takes at most "
                         f"{MAX_ROLE_MAPPINGS}")
    return out


def user_pool_groups(pools: list[PoolTemplate]) -> dict[str, dict[str, Any]]:
    """The groups each user pool registration declares, in the user pool it names
    and only when it exists: a member's id token then carries the group's role."""
    out: dict[str, dict[str, Any]] = {}
    for pool in pools:
        for group in pool.groups:
            properties: dict[str, Any] = {
                "GroupName": group.name, "UserPoolId": expression(pool.user_pool_id),
                "RoleArn": role_arn(group.role), "Precedence": group.precedence}
            if group.description:
                properties["Description"] = group.description
            out[group.resource] = {"Type": "AWS::Cognito::UserPoolGroup",
                                   **({"Condition": pool.condition} if pool.condition else {}),
                                   "Properties": properties}
    return out


def site_policy() -> dict[str, Any]:
    """What the site's own AWS identity may do, on this pool and this stack's roles only."""
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": "Federation Lab: the site's own AWS identity (developer-"
                           "authenticated identities, reading the identity pool, the "
                           "roles' trust policies). The site takes its keys from the "
                           "environment, a container or the instance role, never from a "
                           "file: attach this to that role or user.",
            "PolicyDocument": policies.policy(policies.site_statements(
                {"Fn::Sub": POOL_ARN}, {"Fn::Sub": ROLES_ARN})),
            "Roles": when("HasSiteRole", [{"Ref": "SiteRoleName"}]),
            "Users": when("HasSiteUser", [{"Ref": "SiteUserName"}]),
        },
    }


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
            when(pool.condition, {"ProviderName": expression(pool.provider),
                                  "ServerSideTokenCheck": True,
                                  "ClientId": {"Ref": pool.client_id.name}})
            for pool in of[PoolRegistration.COGNITO_USER_POOL]]
    if of[PoolRegistration.LOGIN_PROVIDER]:
        properties["SupportedLoginProviders"] = {
            pool.provider: when(pool.condition, {"Ref": pool.client_id.name})
            for pool in of[PoolRegistration.LOGIN_PROVIDER]}
    if of[PoolRegistration.OIDC_PROVIDER]:
        properties["OpenIdConnectProviderARNs"] = [
            when(pool.condition, {"Ref": pool.resource})
            for pool in of[PoolRegistration.OIDC_PROVIDER]]
    return properties


def listing(names: list[str]) -> str:
    """``a, b and c``."""
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


def template() -> dict[str, Any]:
    found = registrations()
    pools = [pool for _, pool in found]
    names = list(dict.fromkeys(name for name, _ in found))
    mappings = role_mappings(pools)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Federation Lab: a Cognito Identity Pool federating {listing(names)} "
                       "sign-ins, its roles (trust policies require aud and amr) and the "
                       "roles user pool groups and rules choose, the site's own policy, and "
                       "an S3 bucket laid out as AWS Amplify Storage.",
        "Parameters": distinct("parameter", {
            "BucketName": {"Type": "String", "Description": "A globally unique bucket name"},
            "AppOrigin": {"Type": "String", "Description": "The site's origin, for S3 CORS "
                          "(e.g. https://fedlab.example.com)"},
        }, pool_parameters(pools), {
            "AllowGuests": {"Type": "String", "AllowedValues": ["true", "false"],
                            "Default": "true"},
            "AllowClassicFlow": {"Type": "String", "AllowedValues": ["true", "false"],
                                 "Default": "false",
                                 "Description": "The basic (classic) flow: GetOpenIdToken, "
                                 "then STS AssumeRoleWithWebIdentity ([aws] classic_flow)"},
            "DeveloperProviderName": {
                "Type": "String", "Default": "", "AllowedPattern": r"^[\w._-]{0,128}$",
                "Description": "Optional: the site as a developer provider of the pool "
                               "([aws] developer_provider_name), e.g. login.fedlab.example; "
                               "once set on a pool it cannot be changed"},
            "SiteRoleName": {"Type": "String", "Default": "",
                             "Description": "Optional: the IAM role the site runs as (its "
                             "instance or task role), given SitePolicy"},
            "SiteUserName": {"Type": "String", "Default": "",
                             "Description": "Optional: the IAM user whose keys the site has "
                             "in its environment, given SitePolicy"},
        }),
        "Conditions": distinct("condition", pool_conditions(pools), {
            # A condition function is no property value (cfn-lint E3012): the boolean
            # comes from a condition through Fn::If.
            "GuestsAllowed": {"Fn::Equals": [{"Ref": "AllowGuests"}, "true"]},
            "ClassicFlowAllowed": {"Fn::Equals": [{"Ref": "AllowClassicFlow"}, "true"]},
            "HasDeveloperProvider": given("DeveloperProviderName"),
            "HasSiteRole": given("SiteRoleName"),
            "HasSiteUser": given("SiteUserName"),
        }),
        "Resources": distinct("resource", {
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
        }, oidc_providers(pools), {
            "IdentityPool": {
                "Type": "AWS::Cognito::IdentityPool",
                "Properties": {
                    "IdentityPoolName": "federation_lab",
                    "AllowUnauthenticatedIdentities": {"Fn::If": ["GuestsAllowed", True,
                                                                  False]},
                    "AllowClassicFlow": {"Fn::If": ["ClassicFlowAllowed", True, False]},
                    "DeveloperProviderName": when("HasDeveloperProvider",
                                                  {"Ref": "DeveloperProviderName"}),
                    **pool_providers(pools),
                },
            },
            "AuthenticatedRole": role(policies.AUTHENTICATED_ROLE_NAME,
                                      "Federation Lab signed-in identities of the identity "
                                      "pool", "authenticated",
                                      policies.authenticated_statements(BUCKET)),
            "GuestRole": role(policies.GUEST_ROLE_NAME,
                              "Federation Lab guest identities of the identity pool",
                              "unauthenticated", policies.guest_statements(BUCKET)),
        }, mapped_roles(), user_pool_groups(pools), {
            "RoleAttachment": {
                "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
                "Properties": {
                    "IdentityPoolId": {"Ref": "IdentityPool"},
                    "Roles": {"authenticated": role_arn(AUTHENTICATED_ROLE),
                              "unauthenticated": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
                    **({"RoleMappings": mappings} if mappings else {}),
                },
            },
            "SitePolicy": site_policy(),
        }),
        "Outputs": {
            "IdentityPoolId": {"Value": {"Ref": "IdentityPool"},
                               "Description": "aws.identity_pool_id"},
            "Bucket": {"Value": {"Ref": "StorageBucket"}, "Description": "aws.bucket"},
            "AuthenticatedRoleArn": {"Value": role_arn(AUTHENTICATED_ROLE)},
            "GuestRoleArn": {"Value": {"Fn::GetAtt": ["GuestRole", "Arn"]}},
            **{f"{role_id(mapped.key)}Arn": {"Value": role_arn(mapped.key),
                                             "Description": mapped.description}
               for mapped in policies.MAPPED_ROLES},
            "SitePolicyArn": {"Value": {"Ref": "SitePolicy"},
                              "Description": "Attach to the site's own role or user, unless "
                                             "named in SiteRoleName or SiteUserName"},
        },
    }


def distinct(what: str, *sections: dict[str, Any]) -> dict[str, Any]:
    """The sections as one, in order; a name two of them use is refused (a kind's
    registration named as one of the template's own)."""
    merged: dict[str, Any] = {}
    for section in sections:
        for name, value in section.items():
            if name in merged:
                raise ValueError(f"the {what} {name} is declared twice")
            merged[name] = value
    return merged


def render() -> str:
    return json.dumps(template(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
