"""The basic (classic) flow's second step at the STS front: AssumeRoleWithWebIdentity
with a Cognito Identity token, checked as STS checks it; other calls pass to moto."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from .conftest import ACCOUNT, ADMIN, AUTH_ROLE, GUEST_ROLE, LOGINS_KEYS, POOL_ID
from .test_identity_pool import refused

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.fixture
def sts(aws):
    """An unsigned STS client for the front, as the basic flow calls it."""
    return boto3.client("sts", endpoint_url=aws.sts_url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED,
                                      retries={"max_attempts": 1, "mode": "standard"}))


def open_id_token(aws, url: str | None = None, signed_in: bool = True) -> tuple[str, str]:
    """GetId then GetOpenIdToken: (identity id, token)."""
    client = aws.identity(url)
    params = ({"Logins": {LOGINS_KEYS["google"]: aws.id_token("google",
                                                              sub=str(uuid.uuid4()))}}
              if signed_in else {})
    identity_id = client.get_id(IdentityPoolId=POOL_ID, **params)["IdentityId"]
    return identity_id, client.get_open_id_token(IdentityId=identity_id, **params)["Token"]


def assume(sts, role_name: str, token: str) -> dict:
    return sts.assume_role_with_web_identity(RoleArn=role(role_name), RoleSessionName="basic",
                                             WebIdentityToken=token)


def test_the_basic_flow_gives_credentials_the_s3_front_knows(aws, sts):
    identity_id, token = open_id_token(aws)
    answer = assume(sts, AUTH_ROLE, token)
    assert answer["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{AUTH_ROLE}/basic")
    credentials = answer["Credentials"]
    s3 = aws.s3({"AccessKeyId": credentials["AccessKeyId"],
                 "SecretKey": credentials["SecretAccessKey"],
                 "SessionToken": credentials["SessionToken"]})
    key = f"private/{identity_id}/basic.txt"
    s3.put_object(Bucket=aws.BUCKET, Key=key, Body=b"basic flow")
    assert s3.get_object(Bucket=aws.BUCKET, Key=key)["Body"].read() == b"basic flow"


def test_a_guest_token_assumes_the_guest_role_only(aws, sts):
    _, token = open_id_token(aws, signed_in=False)
    assert assume(sts, GUEST_ROLE, token)["Credentials"]["AccessKeyId"]
    assert refused(assume, sts, AUTH_ROLE, token) == ("AccessDenied", NOT_AUTHORIZED)


def test_a_token_another_service_signed_is_refused(aws, sts, other_pool):
    _, token = open_id_token(aws, other_pool())  # same pool id, another signing key
    code, _ = refused(assume, sts, AUTH_ROLE, token)
    assert code == "InvalidIdentityToken"


def test_an_expired_token_is_refused(aws, sts):
    _, token = open_id_token(aws)
    aws.control("identity", "POST", "clock", skew_seconds=601)
    code, message = refused(assume, sts, AUTH_ROLE, token)
    assert code == "ExpiredTokenException"
    assert message.startswith("Token expired: current date/time ")


def test_a_token_of_another_issuer_is_refused(aws, sts):
    code, message = refused(assume, sts, AUTH_ROLE, aws.id_token("google"))
    assert code == "InvalidIdentityToken"
    assert message.startswith("No OpenIDConnect provider found in your account for ")


def test_other_calls_pass_to_moto(aws):
    client = boto3.client("sts", endpoint_url=aws.sts_url, region_name="us-east-1", **ADMIN)
    assert client.get_caller_identity()["Account"] == ACCOUNT


@pytest.mark.parametrize("role_arn", [
    f"arn:aws:iam::999999999999:role/{AUTH_ROLE}",      # another account's
    f"arn:aws:iam::{ACCOUNT}:role/made/up/{AUTH_ROLE}",  # a path the role has not
])
def test_a_role_is_assumed_by_its_whole_arn_only(aws, sts, role_arn):
    """IAM finds a role by name; STS by its ARN, account and path included."""
    _, token = open_id_token(aws)
    assert refused(sts.assume_role_with_web_identity, RoleArn=role_arn,
                   RoleSessionName="basic", WebIdentityToken=token) == (
        "AccessDenied", NOT_AUTHORIZED)
