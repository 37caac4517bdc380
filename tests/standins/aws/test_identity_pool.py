"""The local Cognito Identity over real HTTP, driven by boto3 as the app drives it."""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
import requests
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import AUTH_ROLE, GUEST_ROLE, LOGINS_KEYS, POOL_ID

ID_PATTERN = r"us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def refused(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_get_id_is_stable_per_person_and_differs_between_people(aws):
    client = aws.identity()
    ids = [client.get_id(IdentityPoolId=POOL_ID, Logins={
        LOGINS_KEYS["google"]: aws.sign_in("google", user)})["IdentityId"]
        for user in ("alice", "alice", "bob")]
    assert re.fullmatch(ID_PATTERN, ids[0])
    assert ids[0] == ids[1] != ids[2]


def test_every_provider_gets_credentials_for_its_role(aws):
    for tenant in ("cognito", "auth0", "google"):
        _, credentials = aws.credentials({LOGINS_KEYS[tenant]: aws.id_token(tenant)})
        assert set(credentials) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
        assert abs(credentials["Expiration"].timestamp() - (time.time() + 3600)) < 60
        arn = aws.sts(credentials).get_caller_identity()["Arn"]
        assert arn == f"arn:aws:sts::123456789012:assumed-role/{AUTH_ROLE}/" \
                      "CognitoIdentityCredentials"


def test_facebook_access_tokens_are_checked_with_debug_token(aws):
    first = aws.sign_in("facebook", "alice")
    identity_id, credentials = aws.credentials({LOGINS_KEYS["facebook"]: first})
    again, _ = aws.credentials({LOGINS_KEYS["facebook"]: aws.sign_in("facebook", "alice")})
    assert again == identity_id
    assert AUTH_ROLE in aws.sts(credentials).get_caller_identity()["Arn"]
    code, message = refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                            Logins={LOGINS_KEYS["facebook"]: "not-a-token"})
    assert code == "NotAuthorizedException" and message.startswith("Invalid login token.")
    requests.post(f"{aws.base}/_control/faults", json={
        "tenant": "facebook", "fault": "debug_token_other_app"}, timeout=5).raise_for_status()
    code, message = refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                            Logins={LOGINS_KEYS["facebook"]: first})
    assert (code, message) == ("NotAuthorizedException",
                               "Invalid login token. Incorrect token audience.")


def test_guests_get_the_guest_role(aws):
    identity_id, credentials = aws.credentials()
    assert re.fullmatch(ID_PATTERN, identity_id)
    assert aws.credentials()[0] != identity_id  # every guest GetId is a new identity
    assert f"assumed-role/{GUEST_ROLE}/" in aws.sts(credentials).get_caller_identity()["Arn"]


def test_guests_refused_when_the_pool_does_not_allow_them(aws, other_pool):
    client = aws.identity(other_pool(allow_unauthenticated=False))
    assert refused(client.get_id, IdentityPoolId=POOL_ID) == (
        "NotAuthorizedException", "Unauthenticated access is not supported for this identity "
                                  "pool.")


@pytest.mark.parametrize(("case", "message"), [
    ("other_key", "Invalid login token. Couldn't verify signed token."),
    ("garbage", "Invalid login token. Couldn't verify signed token."),
    ("issuer", "Invalid login token. Issuer doesn't match providerName"),
    ("audience", "Invalid login token. Incorrect token audience."),
    ("access_token", "Invalid login token. Missing a required claim: aud"),
])
def test_login_tokens_are_validated_as_aws_does(aws, case, message):
    token = {
        # Signed by Auth0's key but claiming to be Google's.
        "other_key": lambda: aws.providers.extensions["standins"]["auth0"].sign({
            "iss": f"{aws.base}/google", "sub": "x", "aud": "fedlab-google-client"
                   ".apps.googleusercontent.com", "exp": int(time.time()) + 600}),
        "garbage": lambda: "not.a.jwt",
        "issuer": lambda: aws.id_token("google", iss="https://accounts.example.com"),
        "audience": lambda: aws.id_token("google", aud="someone-else"),
        "access_token": lambda: aws.id_token("google", aud=None, token_use="access"),
    }[case]()
    code, got = refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                        Logins={LOGINS_KEYS["google"]: token})
    assert (code, got) == ("NotAuthorizedException", message)


def test_expired_tokens_name_both_times(aws):
    exp = int(time.time()) - 5
    code, message = refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                            Logins={LOGINS_KEYS["auth0"]: aws.id_token("auth0", exp=exp)})
    assert code == "NotAuthorizedException"
    now, said_exp = re.fullmatch(r"Invalid login token\. Token expired: (\d+) >= (\d+)",
                                 message).groups()
    assert int(said_exp) == exp and int(now) >= exp
    # The service's clock, moved by the control API, decides too.
    token = aws.id_token("auth0")
    aws.control("identity", "POST", "clock", skew_seconds=7200)
    code, message = refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                            Logins={LOGINS_KEYS["auth0"]: token})
    assert "Token expired" in message


def test_unknown_pool_identity_and_provider(aws):
    client = aws.identity()
    assert refused(client.get_id, IdentityPoolId="us-east-1:nope") == (
        "ResourceNotFoundException", "IdentityPool 'us-east-1:nope' not found.")
    assert refused(client.get_credentials_for_identity, IdentityId="us-east-1:nobody") == (
        "ResourceNotFoundException", "Identity 'us-east-1:nobody' not found.")
    assert refused(client.get_id, IdentityPoolId=POOL_ID,
                   Logins={"www.amazon.com": "token"}) == (
        "NotAuthorizedException", "Token is not from a supported provider of this identity "
                                  "pool.")


def test_a_pool_without_the_provider_refuses_its_tokens(aws, other_pool):
    providers = [p for p in aws.settings()["providers"]
                 if p["logins_key"] != LOGINS_KEYS["auth0"]]
    client = aws.identity(other_pool(providers=providers))
    code, message = refused(client.get_id, IdentityPoolId=POOL_ID,
                            Logins={LOGINS_KEYS["auth0"]: aws.id_token("auth0")})
    assert code == "NotAuthorizedException" and "not from a supported provider" in message


def test_credentials_need_logins_of_that_same_identity(aws):
    client = aws.identity()
    alice = {LOGINS_KEYS["cognito"]: aws.id_token("cognito", sub="alice-sub")}
    bob = {LOGINS_KEYS["cognito"]: aws.id_token("cognito", sub="bob-sub")}
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=alice)["IdentityId"]
    mismatch = ("NotAuthorizedException", "Logins don't match. Please include at least one "
                "valid login for this identity or identity pool.")
    assert refused(client.get_credentials_for_identity, IdentityId=identity_id,
                   Logins=bob) == mismatch
    assert refused(client.get_credentials_for_identity, IdentityId=identity_id) == mismatch
    answer = client.get_credentials_for_identity(IdentityId=identity_id, Logins=alice)
    assert answer["IdentityId"] == identity_id


def test_a_guest_signing_in_is_linked_or_merged_as_aws_does(aws):
    client = aws.identity()
    new_person = {LOGINS_KEYS["cognito"]: aws.id_token("cognito", sub="first-time-sub")}
    guest = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    # A login linked to no identity yet is linked to the guest's: same id, authenticated.
    answer = client.get_credentials_for_identity(IdentityId=guest, Logins=new_person)
    assert answer["IdentityId"] == guest
    assert AUTH_ROLE in aws.sts(answer["Credentials"]).get_caller_identity()["Arn"]
    assert client.get_id(IdentityPoolId=POOL_ID, Logins=new_person)["IdentityId"] == guest
    # A login already linked elsewhere takes the guest into that identity.
    other_guest = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    merged = client.get_credentials_for_identity(IdentityId=other_guest, Logins=new_person)
    assert merged["IdentityId"] == guest != other_guest
    code, _ = refused(client.get_credentials_for_identity, IdentityId=other_guest)
    assert code == "ResourceNotFoundException"


def test_role_trust_policies_are_checked(aws, other_pool):
    iam = aws.admin("iam")
    loose = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL_ID}}}]}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="fedlab-test-no-amr", AssumeRolePolicyDocument=json.dumps(loose))
    client = aws.identity(other_pool(guest_role="fedlab-test-no-amr"))
    guest = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    bad_roles = ("InvalidIdentityPoolConfigurationException",
                 "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    assert refused(client.get_credentials_for_identity, IdentityId=guest) == bad_roles

    logins = {LOGINS_KEYS["google"]: aws.id_token("google")}
    identity_id = aws.identity().get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    aws.control("identity", "POST", "faults", fault="bad_trust_policy")
    assert refused(aws.identity().get_credentials_for_identity, IdentityId=identity_id,
                   Logins=logins) == bad_roles


def test_faults_throttle_down_and_lifetime(aws):
    client = aws.identity()
    aws.control("identity", "POST", "faults", fault="throttle")
    assert refused(client.get_id, IdentityPoolId=POOL_ID) == ("TooManyRequestsException",
                                                              "Rate exceeded")
    aws.control("identity", "POST", "faults", fault="down")
    answer = requests.post(aws.identity_url, timeout=5, data="{}", headers={
        "X-Amz-Target": "AWSCognitoIdentityService.GetId",
        "Content-Type": "application/x-amz-json-1.1"})
    assert answer.status_code == 503
    aws.control("identity", "DELETE", "faults")
    aws.control("identity", "POST", "faults", fault="credentials_lifetime", seconds=120)
    _, credentials = aws.credentials()
    assert abs(credentials["Expiration"].timestamp() - (time.time() + 120)) < 30
    bad = requests.post(f"{aws.identity_url}/_control/faults", json={"fault": "nope"}, timeout=5)
    assert bad.status_code == 400


def test_errors_on_the_wire_are_aws_json_1_1(aws):
    answer = requests.post(aws.identity_url, timeout=5, data=json.dumps(
        {"IdentityPoolId": "us-east-1:nope"}), headers={
        "X-Amz-Target": "AWSCognitoIdentityService.GetId",
        "Content-Type": "application/x-amz-json-1.1"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer.headers["x-amzn-ErrorType"].startswith("ResourceNotFoundException")
    assert answer.json() == {"__type": "ResourceNotFoundException",
                             "message": "IdentityPool 'us-east-1:nope' not found."}


def test_counters_and_reset_keep_identities(aws):
    aws.control("identity", "DELETE", "calls")
    guest, _ = aws.credentials()
    logins = {LOGINS_KEYS["google"]: aws.id_token("google", sub="counted")}
    person, _ = aws.credentials(logins)
    assert aws.control("identity", "GET", "calls") == {"GetId": 2,
                                                       "GetCredentialsForIdentity": 2}
    aws.control("identity", "POST", "reset")
    assert aws.control("identity", "GET", "calls") == {}
    assert aws.credentials(logins)[0] == person
    assert aws.identity().get_credentials_for_identity(IdentityId=guest)["IdentityId"] == guest


def test_get_open_id_token_basic_flow(aws):
    logins = {LOGINS_KEYS["google"]: aws.id_token("google")}
    identity_id = aws.identity().get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    answer = aws.identity().get_open_id_token(IdentityId=identity_id, Logins=logins)
    keys = KeySet.import_key_set(requests.get(f"{aws.identity_url}/.well-known/jwks_uri",
                                              timeout=5).json())
    claims = jwt.decode(answer["Token"], keys, algorithms=["RS256"]).claims
    assert claims["sub"] == identity_id and claims["aud"] == POOL_ID
    assert claims["iss"] == "https://cognito-identity.amazonaws.com"
    assert "authenticated" in claims["amr"] and LOGINS_KEYS["google"] in claims["amr"]
