"""The pool's signed (developer) operations: SigV4 as AWS checks it, IAM authorization,
and reading and setting the pool, over real HTTP with boto3."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from standins.aws.settings import SiteKey

from .conftest import ACCOUNT, AUTH_ROLE, DEVELOPER_PROVIDER, GUEST_ROLE, LOGINS_KEYS, POOL_ID
from .test_identity_pool import refused

POOL_ARN = f"arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{POOL_ID}"
COGNITO_CLIENT_KEY = f"{LOGINS_KEYS['cognito']}:fedlab-cognito-client"
NO_MATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.fixture
def iam_user(aws):
    """An IAM user in moto with the given statements and an access key: ``SiteKey``."""
    iam = aws.admin("iam")
    made = []

    def make(name: str, statements: list[dict]) -> SiteKey:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="test", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        made.append((name, key["AccessKeyId"]))
        return SiteKey(name, key["AccessKeyId"], key["SecretAccessKey"])

    yield make
    for name, key_id in made:
        iam.delete_access_key(UserName=name, AccessKeyId=key_id)
        iam.delete_user_policy(UserName=name, PolicyName="test")
        iam.delete_user(UserName=name)


# -- SigV4 -------------------------------------------------------------------------------


def test_the_sites_key_signs_developer_calls(aws):
    pool = aws.signed().describe_identity_pool(IdentityPoolId=POOL_ID)
    assert pool["IdentityPoolId"] == POOL_ID


def test_a_wrong_secret_is_refused_as_aws_does(aws):
    wrong = SiteKey(aws.site_key.user_name, aws.site_key.access_key_id, "not-the-secret")
    assert refused(aws.signed(key=wrong).describe_identity_pool, IdentityPoolId=POOL_ID) == (
        "InvalidSignatureException", NO_MATCH)


def test_an_unknown_key_is_refused(aws):
    stranger = SiteKey("nobody", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert refused(aws.signed(key=stranger).describe_identity_pool,
                   IdentityPoolId=POOL_ID) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_a_session_token_beside_a_long_term_key_is_refused(aws):
    """The site's key is an IAM user's: AWS refuses it with any session token, as it
    would a shell's real token left beside a stand-in's key."""
    key = aws.site_key
    client = boto3.client("cognito-identity", endpoint_url=aws.identity_url,
                          region_name="us-east-1", aws_access_key_id=key.access_key_id,
                          aws_secret_access_key=key.secret_access_key,
                          aws_session_token="FwoGZXIvYXdzEXAMPLE-TOKEN",
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    assert refused(client.describe_identity_pool, IdentityPoolId=POOL_ID) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_an_unsigned_developer_call_is_refused(aws):
    unsigned = boto3.client("cognito-identity", endpoint_url=aws.identity_url,
                            region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED,
                                          retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as caught:
        unsigned.describe_identity_pool(IdentityPoolId=POOL_ID)
    error = caught.value.response
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "MissingAuthenticationTokenException", "Missing Authentication Token")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_stale_signature_date_is_refused(aws):
    """The service's clock an hour ahead: a request signed now is an hour old."""
    aws.control("identity", "POST", "clock", skew_seconds=3600)
    code, message = refused(aws.signed().describe_identity_pool, IdentityPoolId=POOL_ID)
    assert code == "InvalidSignatureException"
    now = datetime.now(UTC)
    assert message.startswith(f"Signature expired: {now:%Y%m%d}T")
    assert message.endswith(" - 15 min.)") and "is now earlier than" in message


def test_a_signature_for_another_region_is_refused(aws):
    client = boto3.client("cognito-identity", endpoint_url=aws.identity_url,
                          region_name="eu-west-1",
                          aws_access_key_id=aws.site_key.access_key_id,
                          aws_secret_access_key=aws.site_key.secret_access_key)
    assert refused(client.describe_identity_pool, IdentityPoolId=POOL_ID) == (
        "InvalidSignatureException", "Credential should be scoped to a valid region. ")


def describe_pool(pool_id: str = POOL_ID) -> tuple[dict[str, str], bytes]:
    """A DescribeIdentityPool call as it goes on the wire, unsigned: headers and body."""
    return ({"X-Amz-Target": "AWSCognitoIdentityService.DescribeIdentityPool",
             "Content-Type": "application/x-amz-json-1.1"},
            json.dumps({"IdentityPoolId": pool_id}).encode())


def wire_error(response: requests.Response) -> tuple[str, str]:
    answer = response.json()
    return answer["__type"].rsplit("#", 1)[-1], answer["message"]


def test_a_signed_content_hash_must_be_the_bodys(aws):
    """botocore's signer, given an X-Amz-Content-SHA256 header, signs its value instead
    of hashing the body (S3's signed payload): the signature holds for that header
    with any body. The service hashes the body itself, so a captured request sent
    again with another body (another pool's id, here) is refused."""
    headers, body = describe_pool()
    request = AWSRequest("POST", aws.identity_url + "/", data=body, headers={
        **headers, "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    key = aws.site_key
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "cognito-identity",
              "us-east-1").add_auth(request)
    captured = dict(request.headers.items())
    assert "x-amz-content-sha256" in captured["Authorization"]  # signed
    sent = requests.post(request.url, data=body, headers=captured, timeout=5)
    assert sent.status_code == 200 and sent.json()["IdentityPoolId"] == POOL_ID
    _, other = describe_pool("us-east-1:00000000-0000-0000-0000-000000000000")
    replayed = requests.post(request.url, data=other, headers=captured, timeout=5)
    assert replayed.status_code == 400
    assert wire_error(replayed) == ("InvalidSignatureException", NO_MATCH)


def test_the_host_header_must_be_signed(aws):
    """A signature whose SignedHeaders leave out host (signed by hand: every SDK signs
    it) would hold for any host the request is sent to; AWS refuses it."""
    wire, body = describe_pool()
    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {name.lower(): value for name, value in {**wire, "X-Amz-Date": amz_date}.items()}
    names = sorted(headers)  # host is sent (requests adds it), but not among these
    canonical = "\n".join(["POST", "/", "", *(f"{name}:{headers[name]}" for name in names),
                           "", ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{day}/us-east-1/cognito-identity/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    signing = f"AWS4{aws.site_key.secret_access_key}".encode()
    for part in (day, "us-east-1", "cognito-identity", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={aws.site_key.access_key_id}/"
                                f"{scope}, SignedHeaders={';'.join(names)}, "
                                f"Signature={signature}")
    refused_call = requests.post(aws.identity_url + "/", data=body, headers=headers, timeout=5)
    assert wire_error(refused_call) == (
        "InvalidSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")


# -- IAM authorization -------------------------------------------------------------------


def test_an_action_the_users_policy_lacks_is_refused(aws, other_pool, iam_user):
    reader = iam_user("fedlab-test-reader", [
        {"Effect": "Allow", "Action": "cognito-identity:DescribeIdentityPool",
         "Resource": POOL_ARN},
        {"Effect": "Deny", "Action": "cognito-identity:DescribeIdentity", "Resource": "*"},
        {"Effect": "Allow", "Action": "cognito-identity:Describe*", "Resource": "*"}])
    client = aws.signed(key=reader, url=other_pool(keys=(reader,)))
    assert client.describe_identity_pool(IdentityPoolId=POOL_ID)["IdentityPoolId"] == POOL_ID
    principal = f"arn:aws:iam::{ACCOUNT}:user/fedlab-test-reader"
    assert refused(client.get_identity_pool_roles, IdentityPoolId=POOL_ID) == (
        "AccessDeniedException",
        f"User: {principal} is not authorized to perform: "
        f"cognito-identity:GetIdentityPoolRoles on resource: {POOL_ARN} because no "
        f"identity-based policy allows the cognito-identity:GetIdentityPoolRoles action")
    assert refused(client.describe_identity, IdentityId="us-east-1:x") == (
        "AccessDeniedException",
        f"User: {principal} is not authorized to perform: cognito-identity:DescribeIdentity "
        f"on resource: {POOL_ARN} with an explicit deny in an identity-based policy")


def test_the_site_may_not_change_the_pool(aws):
    """webapp.policies.site_statements: reading the pool, never changing it."""
    code, message = refused(aws.signed().set_identity_pool_roles, IdentityPoolId=POOL_ID,
                            Roles={"authenticated": role(AUTH_ROLE)})
    assert code == "AccessDeniedException"
    assert "cognito-identity:SetIdentityPoolRoles" in message
    assert "user/fedlab-test-site" in message
    # Nor unlink a developer identity: an operator's call, which the site never makes.
    code, message = refused(aws.signed().unlink_developer_identity, IdentityPoolId=POOL_ID,
                            IdentityId="us-east-1:00000000-0000-0000-0000-000000000000",
                            DeveloperProviderName=DEVELOPER_PROVIDER,
                            DeveloperUserIdentifier="someone")
    assert code == "AccessDeniedException"
    assert "cognito-identity:UnlinkDeveloperIdentity" in message


def test_a_changed_policy_counts_at_once(aws, other_pool, iam_user):
    user = iam_user("fedlab-test-changing", [
        {"Effect": "Allow", "Action": "cognito-identity:DescribeIdentityPool",
         "Resource": POOL_ARN}])
    client = aws.signed(key=user, url=other_pool(keys=(user,)))
    client.describe_identity_pool(IdentityPoolId=POOL_ID)
    aws.admin("iam").put_user_policy(
        UserName="fedlab-test-changing", PolicyName="test", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "cognito-identity:DescribeIdentityPool",
                 "Resource": f"{POOL_ARN}-other"}]}))
    assert refused(client.describe_identity_pool, IdentityPoolId=POOL_ID)[0] == \
        "AccessDeniedException"


# -- DescribeIdentityPool / UpdateIdentityPool -----------------------------------------


def test_describe_identity_pool_lists_providers_as_aws_groups_them(aws):
    pool = aws.signed().describe_identity_pool(IdentityPoolId=POOL_ID)
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert pool["AllowClassicFlow"] is True
    assert pool["DeveloperProviderName"] == DEVELOPER_PROVIDER
    assert pool["SupportedLoginProviders"] == {
        "accounts.google.com": "fedlab-google-client.apps.googleusercontent.com",
        "graph.facebook.com": "100000000000001"}
    assert pool["OpenIdConnectProviderARNs"] == [
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/fedlab-demo.us.auth0.com"]
    assert pool["CognitoIdentityProviders"] == [
        {"ProviderName": LOGINS_KEYS["cognito"], "ClientId": client,
         "ServerSideTokenCheck": False}
        for client in ("fedlab-cognito-client", "fedlab-cognito-google-client")]


def test_describe_an_unknown_pool(aws):
    other = "us-east-1:00000000-0000-0000-0000-000000000000"
    assert refused(aws.operator().describe_identity_pool, IdentityPoolId=other) == (
        "ResourceNotFoundException", f"IdentityPool '{other}' not found.")


def test_update_identity_pool_replaces_the_configuration(aws, other_pool):
    url = other_pool()
    operator = aws.operator(url)
    pool = operator.describe_identity_pool(IdentityPoolId=POOL_ID)
    pool.pop("ResponseMetadata")
    pool.pop("IdentityPoolTags")
    pool.pop("SamlProviderARNs")
    changed = operator.update_identity_pool(**{**pool, "AllowClassicFlow": True,
                                               "AllowUnauthenticatedIdentities": False})
    assert changed["AllowClassicFlow"] is True
    assert changed["AllowUnauthenticatedIdentities"] is False
    assert refused(aws.identity(url).get_id, IdentityPoolId=POOL_ID) == (
        "NotAuthorizedException", "Unauthenticated access is not supported for this identity "
                                  "pool.")
    # Provider lists left out are emptied, as AWS does: Google's tokens are refused next.
    operator.update_identity_pool(IdentityPoolId=POOL_ID, IdentityPoolName="fedlab",
                                  AllowUnauthenticatedIdentities=True)
    described = operator.describe_identity_pool(IdentityPoolId=POOL_ID)
    assert described["SupportedLoginProviders"] == {}
    assert described["DeveloperProviderName"] == DEVELOPER_PROVIDER  # a set name stays
    assert refused(aws.identity(url).get_id, IdentityPoolId=POOL_ID,
                   Logins={LOGINS_KEYS["google"]: aws.id_token("google")}) == (
        "NotAuthorizedException", "Token is not from a supported provider of this identity "
                                  "pool.")


def test_a_developer_provider_name_cannot_change_once_set(aws, other_pool):
    operator = aws.operator(other_pool())
    code, message = refused(operator.update_identity_pool, IdentityPoolId=POOL_ID,
                            IdentityPoolName="fedlab", AllowUnauthenticatedIdentities=True,
                            DeveloperProviderName="login.other.test")
    assert code == "InvalidParameterException"
    assert "DeveloperProviderName" in message


def test_a_pool_without_a_developer_provider_may_get_one(aws, other_pool):
    operator = aws.operator(other_pool(developer_provider_name=""))
    assert "DeveloperProviderName" not in operator.describe_identity_pool(
        IdentityPoolId=POOL_ID)
    operator.update_identity_pool(IdentityPoolId=POOL_ID, IdentityPoolName="fedlab",
                                  AllowUnauthenticatedIdentities=True,
                                  DeveloperProviderName="login.new.test")
    assert operator.describe_identity_pool(IdentityPoolId=POOL_ID)[
        "DeveloperProviderName"] == "login.new.test"


# -- GetIdentityPoolRoles / SetIdentityPoolRoles ---------------------------------------


RULES = {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
    {"Claim": "email", "MatchType": "Contains", "Value": "@example.com",
     "RoleARN": role("fedlab-test-admins")}]}}


def test_set_and_get_identity_pool_roles(aws, other_pool):
    operator = aws.operator(other_pool())
    assert operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)["Roles"] == {
        "authenticated": role(AUTH_ROLE), "unauthenticated": role(GUEST_ROLE)}
    mappings = {COGNITO_CLIENT_KEY: {"Type": "Token",
                                     "AmbiguousRoleResolution": "AuthenticatedRole"},
                LOGINS_KEYS["google"]: RULES}
    operator.set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles={
        "authenticated": role(AUTH_ROLE)}, RoleMappings=mappings)
    answer = operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)
    assert answer["Roles"] == {"authenticated": role(AUTH_ROLE)}
    assert answer["RoleMappings"] == mappings


def test_a_pool_without_a_guest_role_gives_guests_nothing(aws, other_pool):
    url = other_pool()
    aws.operator(url).set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles={
        "authenticated": role(AUTH_ROLE)})
    client = aws.identity(url)
    identity_id = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    assert refused(client.get_credentials_for_identity, IdentityId=identity_id) == (
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def rules(n: int) -> dict:
    return {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
            "RulesConfiguration": {"Rules": [
                {"Claim": "email", "MatchType": "Equals", "Value": f"{i}@example.com",
                 "RoleARN": role(AUTH_ROLE)} for i in range(n)]}}


@pytest.mark.parametrize(("roles", "mappings", "code", "message"), [
    ({"authenticated": "fedlab-test-authenticated"}, None, "NotAuthorizedException",
     "Access to Role 'fedlab-test-authenticated' is forbidden."),
    ({"admin": role(AUTH_ROLE)}, None, "InvalidParameterException", "Value 'admin' at 'roles'"),
    ({}, {"accounts.google.com": {"Type": "Claims", "AmbiguousRoleResolution": "Deny"}},
     "InvalidParameterException", "Value 'Claims' at 'roleMappings.accounts.google.com.member"
                                  ".type' failed to satisfy constraint: Member must satisfy "
                                  "enum value set: [Token, Rules]"),
    ({}, {"accounts.google.com": {"Type": "Token"}}, "InvalidParameterException",
     "AmbiguousRoleResolution must be specified"),
    ({}, {"accounts.google.com": {**RULES, "AmbiguousRoleResolution": None}},
     "InvalidParameterException", "AmbiguousRoleResolution must be specified"),
    ({}, {"accounts.google.com": {"Type": "Rules", "AmbiguousRoleResolution": "Deny"}},
     "InvalidParameterException", "RulesConfiguration with at least one rule"),
    ({}, {"accounts.google.com": rules(26)}, "InvalidParameterException",
     "Member must have length less than or equal to 25"),
    ({}, {"accounts.google.com": {**RULES, "RulesConfiguration": {"Rules": [
        {**RULES["RulesConfiguration"]["Rules"][0], "MatchType": "EndsWith"}]}}},
     "InvalidParameterException", "Value 'EndsWith' at 'roleMappings.accounts.google.com."
                                  "member.rulesConfiguration.rules.1.member.matchType'"),
    ({}, {"accounts.google.com": {**RULES, "RulesConfiguration": {"Rules": [
        {**RULES["RulesConfiguration"]["Rules"][0], "RoleARN": "arn:aws:iam::12:role/x"}]}}},
     "NotAuthorizedException", "Access to Role 'arn:aws:iam::12:role/x' is forbidden."),
    ({}, {"login.example.org": RULES}, "InvalidParameterException",
     "(login.example.org) is not a valid RoleMapping ProviderName or is not a configured "
     "provider."),
    ({}, {LOGINS_KEYS["cognito"]: RULES}, "InvalidParameterException",
     f"({LOGINS_KEYS['cognito']}) is not a valid RoleMapping ProviderName"),
])
def test_set_identity_pool_roles_validates_as_aws_does(aws, other_pool, roles, mappings,
                                                       code, message):
    operator = aws.operator(other_pool())
    params = {"IdentityPoolId": POOL_ID, "Roles": roles}
    if mappings is not None:
        for mapping in mappings.values():  # None stands for "left out"
            for key in [k for k, v in mapping.items() if v is None]:
                del mapping[key]
        params["RoleMappings"] = mappings
    got_code, got_message = refused(operator.set_identity_pool_roles, **params)
    assert got_code == code
    assert message in got_message
    assert operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)["Roles"] == {
        "authenticated": role(AUTH_ROLE), "unauthenticated": role(GUEST_ROLE)}


# -- DescribeIdentity --------------------------------------------------------------------


def test_describe_identity(aws):
    token = aws.id_token("google", sub="describe-me")
    identity_id = aws.identity().get_id(IdentityPoolId=POOL_ID, Logins={
        LOGINS_KEYS["google"]: token})["IdentityId"]
    described = aws.signed().describe_identity(IdentityId=identity_id)
    assert described["IdentityId"] == identity_id
    assert described["Logins"] == [LOGINS_KEYS["google"]]
    assert described["CreationDate"] <= described["LastModifiedDate"]
    assert abs(described["CreationDate"].timestamp() - datetime.now(UTC).timestamp()) < 60
    missing = "us-east-1:00000000-0000-0000-0000-000000000000"
    assert refused(aws.signed().describe_identity, IdentityId=missing) == (
        "ResourceNotFoundException", f"Identity '{missing}' not found.")
