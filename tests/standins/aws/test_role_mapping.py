"""Role mappings as GetCredentialsForIdentity applies them: from the token, by rules,
ambiguous outcomes, CustomRoleArn; the chosen role's trust policy and S3 policy."""

from __future__ import annotations

import json
import uuid

import pytest

from .conftest import ACCOUNT, AUTH_ROLE, GUEST_ROLE, LOGINS_KEYS, MAPPED_ROLES, POOL_ID
from .test_identity_pool import refused

COGNITO_KEY = f"{LOGINS_KEYS['cognito']}:fedlab-cognito-client"
ADMINS, READERS = MAPPED_ROLES["admins"], MAPPED_ROLES["readers"]


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def token_mapping(resolution: str = "AuthenticatedRole") -> dict:
    return {COGNITO_KEY: {"Type": "Token", "AmbiguousRoleResolution": resolution}}


def rules_mapping(resolution: str = "AuthenticatedRole", *rules: tuple) -> dict:
    rules = rules or (("email_verified", "NotEqual", "true", AUTH_ROLE),
                      ("email", "Contains", "@example.com", ADMINS))
    return {LOGINS_KEYS["google"]: {
        "Type": "Rules", "AmbiguousRoleResolution": resolution,
        "RulesConfiguration": {"Rules": [
            {"Claim": c, "MatchType": m, "Value": v, "RoleARN": arn(r)} for c, m, v, r in rules]}}}


def cognito(aws, *roles: str, preferred: str | None = None) -> dict:
    claims = {"cognito:roles": [arn(r) for r in roles] or None,
              "cognito:preferred_role": arn(preferred) if preferred else None}
    return {LOGINS_KEYS["cognito"]: aws.id_token("cognito", sub=str(uuid.uuid4()), **claims)}


def google(aws, email: str = "alice@example.com", verified: bool = True) -> dict:
    return {LOGINS_KEYS["google"]: aws.id_token("google", sub=str(uuid.uuid4()), email=email,
                                                email_verified=verified)}


def role_given(aws, url: str, logins: dict, **extra) -> str:
    """The role of the credentials GetCredentialsForIdentity gives (STS says whose)."""
    client = aws.identity(url)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    answer = client.get_credentials_for_identity(IdentityId=identity_id, Logins=logins, **extra)
    return aws.sts(answer["Credentials"]).get_caller_identity()["Arn"].split("/")[1]


def refusal(aws, url: str, logins: dict, **extra) -> tuple[str, str]:
    client = aws.identity(url)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    return refused(client.get_credentials_for_identity, IdentityId=identity_id, Logins=logins,
                   **extra)


# -- Token ---------------------------------------------------------------------------------


def test_token_mapping_takes_the_preferred_role(aws, other_pool):
    url = other_pool(role_mappings=token_mapping())
    assert role_given(aws, url, cognito(aws, ADMINS, READERS, preferred=ADMINS)) == ADMINS


def test_token_mapping_takes_the_only_role(aws, other_pool):
    url = other_pool(role_mappings=token_mapping())
    assert role_given(aws, url, cognito(aws, READERS)) == READERS


@pytest.mark.parametrize("roles", [(ADMINS, READERS), ()])
def test_ambiguous_token_falls_back_to_the_authenticated_role(aws, other_pool, roles):
    url = other_pool(role_mappings=token_mapping())
    assert role_given(aws, url, cognito(aws, *roles)) == AUTH_ROLE


def test_ambiguous_token_under_deny_is_refused(aws, other_pool):
    url = other_pool(role_mappings=token_mapping("Deny"))
    assert refusal(aws, url, cognito(aws, ADMINS, READERS)) == (
        "NotAuthorizedException",
        f"The ambiguous role mapping rules for: {COGNITO_KEY} denied this request.")


def test_custom_role_arn_chooses_among_the_tokens_roles(aws, other_pool):
    url = other_pool(role_mappings=token_mapping("Deny"))
    logins = cognito(aws, ADMINS, READERS)
    assert role_given(aws, url, logins, CustomRoleArn=arn(READERS)) == READERS


def test_custom_role_arn_not_in_the_token_is_refused(aws, other_pool):
    url = other_pool(role_mappings=token_mapping())
    code, message = refusal(aws, url, cognito(aws, READERS), CustomRoleArn=arn(ADMINS))
    assert code == "NotAuthorizedException"
    assert "CustomRoleArn" in message and "cognito:roles" in message


def test_custom_role_arn_needs_a_token_mapping(aws, other_pool):
    url = other_pool(role_mappings=rules_mapping())
    code, message = refusal(aws, url, google(aws), CustomRoleArn=arn(ADMINS))
    assert code == "InvalidParameterException" and "CustomRoleArn" in message


# -- Rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "verified", "role"), [
    ("alice@example.com", True, ADMINS),        # rule 2
    ("mallory@example.com", False, AUTH_ROLE),  # rule 1 first: unverified never gets further
    ("carol@elsewhere.test", True, AUTH_ROLE),  # no rule: ambiguous, the authenticated role
])
def test_rules_are_tried_in_order(aws, other_pool, email, verified, role):
    url = other_pool(role_mappings=rules_mapping())
    assert role_given(aws, url, google(aws, email, verified)) == role


def test_no_rule_matching_under_deny_is_refused(aws, other_pool):
    url = other_pool(role_mappings=rules_mapping("Deny"))
    assert refusal(aws, url, google(aws, "carol@elsewhere.test")) == (
        "NotAuthorizedException", f"The ambiguous role mapping rules for: "
                                  f"{LOGINS_KEYS['google']} denied this request.")


@pytest.mark.parametrize(("match_type", "value", "matches"), [
    ("Equals", "alice@example.com", True), ("Equals", "alice@example", False),
    ("Contains", "ce@exa", True), ("Contains", "bob", False),
    ("StartsWith", "alice@", True), ("StartsWith", "example", False),
    ("NotEqual", "bob@example.com", True), ("NotEqual", "alice@example.com", False),
])
def test_each_match_type(aws, other_pool, match_type, value, matches):
    url = other_pool(role_mappings=rules_mapping(
        "AuthenticatedRole", ("email", match_type, value, READERS)))
    assert role_given(aws, url, google(aws)) == (READERS if matches else AUTH_ROLE)


def test_a_provider_without_a_mapping_gets_the_authenticated_role(aws, other_pool):
    url = other_pool(role_mappings=rules_mapping())
    assert role_given(aws, url, cognito(aws, ADMINS)) == AUTH_ROLE


def test_guests_are_not_mapped(aws, other_pool):
    url = other_pool(role_mappings=rules_mapping())
    client = aws.identity(url)
    identity_id = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    credentials = client.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    assert f"/{GUEST_ROLE}/" in aws.sts(credentials).get_caller_identity()["Arn"]


def test_a_mapped_role_must_trust_the_pool(aws, other_pool):
    iam = aws.admin("iam")
    iam.create_role(RoleName="fedlab-test-untrusting", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:other"}}}]}))
    try:
        url = other_pool(role_mappings=rules_mapping(
            "AuthenticatedRole", ("email", "Contains", "@", "fedlab-test-untrusting")))
        assert refusal(aws, url, google(aws)) == (
            "InvalidIdentityPoolConfigurationException",
            "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    finally:
        iam.delete_role(RoleName="fedlab-test-untrusting")


# -- what S3 enforces ----------------------------------------------------------------------


@pytest.fixture
def mapped_stack(aws):
    """The stack's own pool (the one its S3 front serves) with the rules mapping set."""
    operator = aws.operator()
    before = operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)
    operator.set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles=before["Roles"],
                                     RoleMappings=rules_mapping())
    yield aws
    operator.set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles=before["Roles"])


def test_s3_enforces_the_mapped_roles_policy(mapped_stack):
    aws = mapped_stack
    client = aws.identity()

    def person(email: str, verified: bool = True):
        logins = google(aws, email, verified)
        identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
        credentials = client.get_credentials_for_identity(
            IdentityId=identity_id, Logins=logins)["Credentials"]
        return identity_id, aws.s3(credentials)

    owner_id, owner = person("owner@elsewhere.test")
    key = f"protected/{owner_id}/shared.txt"
    owner.put_object(Bucket=aws.BUCKET, Key=key, Body=b"shared")
    _, stranger = person("stranger@elsewhere.test")
    code, _ = refused(stranger.delete_object, Bucket=aws.BUCKET, Key=key)
    assert code == "AccessDenied"
    _, moderator = person("moderator@example.com")  # fedlab-test-admins: ModerateProtected
    moderator.delete_object(Bucket=aws.BUCKET, Key=key)
    assert refused(aws.s3().head_object, Bucket=aws.BUCKET, Key=key)[0] == "404"


BAD_ROLES = ("InvalidIdentityPoolConfigurationException",
             "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
#: Roles named by ARN the way the account's own are not: the role of the same name in
#: another account, and at a path the role has not.
NOT_THE_ROLE = ["arn:aws:iam::999999999999:role/{}", f"arn:aws:iam::{ACCOUNT}:role/made/up/{{}}"]


@pytest.mark.parametrize("form", NOT_THE_ROLE)
def test_the_pools_roles_are_the_accounts_by_their_whole_arn(aws, other_pool, form):
    url = other_pool()
    aws.operator(url).set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles={
        "authenticated": form.format(AUTH_ROLE), "unauthenticated": arn(GUEST_ROLE)})
    assert refusal(aws, url, google(aws)) == BAD_ROLES


@pytest.mark.parametrize("form", NOT_THE_ROLE)
def test_a_rules_role_is_the_accounts_by_its_whole_arn(aws, other_pool, form):
    url = other_pool()
    mapping = rules_mapping("AuthenticatedRole", ("email", "Contains", "@", ADMINS))
    mapping[LOGINS_KEYS["google"]]["RulesConfiguration"]["Rules"][0]["RoleARN"] = \
        form.format(ADMINS)
    aws.operator(url).set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles={
        "authenticated": arn(AUTH_ROLE)}, RoleMappings=mapping)
    assert refusal(aws, url, google(aws)) == BAD_ROLES


@pytest.mark.parametrize("form", NOT_THE_ROLE)
def test_a_tokens_role_is_the_accounts_by_its_whole_arn(aws, other_pool, form):
    """The token may name any ARN (a group's RoleArn is the user pool's business); the
    pool gives it only if it is the account's role, whether preferred or chosen."""
    url = other_pool(role_mappings=token_mapping())
    elsewhere = form.format(ADMINS)
    preferred = {LOGINS_KEYS["cognito"]: aws.id_token(
        "cognito", sub=str(uuid.uuid4()), **{"cognito:roles": [elsewhere],
                                             "cognito:preferred_role": elsewhere})}
    assert refusal(aws, url, preferred) == BAD_ROLES
    chosen = {LOGINS_KEYS["cognito"]: aws.id_token(
        "cognito", sub=str(uuid.uuid4()), **{"cognito:roles": [elsewhere, arn(READERS)]})}
    assert refusal(aws, url, chosen, CustomRoleArn=elsewhere) == BAD_ROLES
