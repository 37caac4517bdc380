"""Developer-authenticated identities, linked logins and the basic flow's gate, over
real HTTP with boto3 (the site's key for the signed calls)."""

from __future__ import annotations

import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import AUTH_ROLE, DEVELOPER_PROVIDER, LOGINS_KEYS, POOL_ID
from .test_identity_pool import refused

COGNITO = "cognito-identity.amazonaws.com"
CLASSIC_FLOW_OFF = "Basic (classic) flow is not enabled, please use enhanced flow."
CLASSIC_FLOW_MAPPED = ("Basic (classic) flow is not supported with RoleMappings, please use "
                       "enhanced flow.")
#: A role mapping for Cognito's logins only: a pool with it refuses the basic flow to
#: everyone, a Google login and a guest too (it is the pool that decides).
COGNITO_MAPPING = {f"{LOGINS_KEYS['cognito']}:fedlab-cognito-client": {
    "Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}}
LOGINS_DONT_MATCH = ("Logins don't match. Please include at least one valid login for this "
                     "identity or identity pool.")


def user() -> str:
    return f"user-{uuid.uuid4()}"


def developer_token(aws, identifier: str, **params) -> dict:
    return aws.signed().get_open_id_token_for_developer_identity(
        IdentityPoolId=POOL_ID, Logins={DEVELOPER_PROVIDER: identifier, **params.pop(
            "logins", {})}, **params)


def claims_of(aws, token: str, url: str | None = None) -> dict:
    keys = KeySet.import_key_set(requests.get(f"{url or aws.identity_url}/.well-known/jwks_uri",
                                              timeout=5).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def google(aws, sub: str | None = None) -> dict:
    return {LOGINS_KEYS["google"]: aws.id_token("google", sub=sub or str(uuid.uuid4()))}


def auth0(aws, sub: str | None = None) -> dict:
    return {LOGINS_KEYS["auth0"]: aws.id_token("auth0", sub=sub or str(uuid.uuid4()))}


# -- GetOpenIdTokenForDeveloperIdentity --------------------------------------------------


def test_a_developer_token_names_the_identity_and_the_provider(aws):
    answer = developer_token(aws, user())
    claims = claims_of(aws, answer["Token"])
    assert claims["iss"] == "https://cognito-identity.amazonaws.com"
    assert claims["aud"] == POOL_ID and claims["sub"] == answer["IdentityId"]
    assert "authenticated" in claims["amr"] and DEVELOPER_PROVIDER in claims["amr"]
    assert claims["exp"] - claims["iat"] == 900  # TokenDuration's default
    longer = claims_of(aws, developer_token(aws, user(), TokenDuration=3600)["Token"])
    assert longer["exp"] - longer["iat"] == 3600


def test_the_same_user_identifier_is_the_same_identity(aws):
    identifier = user()
    first = developer_token(aws, identifier)["IdentityId"]
    assert developer_token(aws, identifier)["IdentityId"] == first
    assert developer_token(aws, user())["IdentityId"] != first


def test_credentials_for_a_developer_token(aws):
    answer = developer_token(aws, user())
    credentials = aws.identity().get_credentials_for_identity(
        IdentityId=answer["IdentityId"], Logins={COGNITO: answer["Token"]})["Credentials"]
    assert f"assumed-role/{AUTH_ROLE}/" in aws.sts(credentials).get_caller_identity()["Arn"]


def test_a_developer_token_of_another_identity_does_not_match(aws):
    mine, theirs = developer_token(aws, user()), developer_token(aws, user())
    assert refused(aws.identity().get_credentials_for_identity, IdentityId=mine["IdentityId"],
                   Logins={COGNITO: theirs["Token"]}) == (
        "NotAuthorizedException", LOGINS_DONT_MATCH)


def test_an_expired_developer_token_is_refused(aws):
    answer = developer_token(aws, user())
    aws.control("identity", "POST", "clock", skew_seconds=901)
    code, message = refused(aws.identity().get_credentials_for_identity,
                            IdentityId=answer["IdentityId"], Logins={COGNITO: answer["Token"]})
    assert code == "NotAuthorizedException"
    assert message.startswith("Invalid login token. Token expired: ")


def test_get_id_refuses_a_cognito_token(aws):
    answer = developer_token(aws, user())
    assert refused(aws.identity().get_id, IdentityPoolId=POOL_ID,
                   Logins={COGNITO: answer["Token"]}) == (
        "NotAuthorizedException", "Invalid login token. Can't pass in a Cognito token.")


def test_token_duration_bounds(aws):
    code, message = refused(developer_token, aws, user(), TokenDuration=86401)
    assert code == "InvalidParameterException"
    assert "'tokenDuration' failed to satisfy constraint: Member must have value less than " \
           "or equal to 86400" in message


def test_a_developer_provider_the_pool_does_not_have(aws, other_pool):
    code, message = refused(aws.signed().get_open_id_token_for_developer_identity,
                            IdentityPoolId=POOL_ID, Logins={"login.other.test": user()})
    assert code == "InvalidParameterException" and DEVELOPER_PROVIDER in message
    client = aws.signed(url=other_pool(developer_provider_name=""))
    code, message = refused(client.get_open_id_token_for_developer_identity,
                            IdentityPoolId=POOL_ID, Logins={DEVELOPER_PROVIDER: user()})
    assert code == "InvalidParameterException" and "no developer provider name" in message


def test_an_identifier_linked_to_another_identity_is_already_registered(aws):
    taken = user()
    developer_token(aws, taken)
    logins = google(aws)
    mine = aws.identity().get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    assert refused(developer_token, aws, taken, IdentityId=mine, logins=logins) == (
        "DeveloperUserAlreadyRegisteredException",
        "The provided developer user identifier is already registered with Cognito under a "
        "different identity ID.")
    # Nothing moved: the identifier is still its first identity's.
    assert aws.signed().describe_identity(IdentityId=mine)["Logins"] == [LOGINS_KEYS["google"]]


def test_a_developer_login_joins_an_identity_with_its_public_login(aws):
    logins = google(aws)
    identity_id = aws.identity().get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    # Without one of the identity's own logins, the identity is not the site's to extend.
    assert refused(developer_token, aws, user(), IdentityId=identity_id) == (
        "NotAuthorizedException", LOGINS_DONT_MATCH)
    answer = developer_token(aws, user(), IdentityId=identity_id, logins=logins)
    assert answer["IdentityId"] == identity_id
    assert aws.signed().describe_identity(IdentityId=identity_id)["Logins"] == sorted(
        [LOGINS_KEYS["google"], DEVELOPER_PROVIDER])


def test_developer_calls_need_the_sites_signature(aws):
    code, _ = refused(aws.identity().get_open_id_token_for_developer_identity,
                      IdentityPoolId=POOL_ID, Logins={DEVELOPER_PROVIDER: user()})
    assert code == "MissingAuthenticationTokenException"


# -- LookupDeveloperIdentity / UnlinkDeveloperIdentity -----------------------------------


def test_lookup_developer_identity(aws):
    identifier = user()
    identity_id = developer_token(aws, identifier)["IdentityId"]
    site = aws.signed()
    by_user = site.lookup_developer_identity(IdentityPoolId=POOL_ID,
                                             DeveloperUserIdentifier=identifier, MaxResults=10)
    assert by_user["IdentityId"] == identity_id
    assert by_user["DeveloperUserIdentifierList"] == [identifier]
    by_id = site.lookup_developer_identity(IdentityPoolId=POOL_ID, IdentityId=identity_id)
    assert by_id["DeveloperUserIdentifierList"] == [identifier]
    other = developer_token(aws, user())["IdentityId"]
    assert refused(site.lookup_developer_identity, IdentityPoolId=POOL_ID, IdentityId=other,
                   DeveloperUserIdentifier=identifier)[0] == "ResourceConflictException"
    assert refused(site.lookup_developer_identity, IdentityPoolId=POOL_ID,
                   DeveloperUserIdentifier="nobody")[0] == "ResourceNotFoundException"
    assert refused(site.lookup_developer_identity,
                   IdentityPoolId=POOL_ID)[0] == "InvalidParameterException"


def test_unlink_developer_identity(aws):
    identifier = user()
    identity_id = developer_token(aws, identifier)["IdentityId"]
    # An operator's call: the site's own policy does not grant it (it never unlinks).
    operator = aws.operator()
    operator.unlink_developer_identity(IdentityId=identity_id, IdentityPoolId=POOL_ID,
                                       DeveloperProviderName=DEVELOPER_PROVIDER,
                                       DeveloperUserIdentifier=identifier)
    assert refused(operator.lookup_developer_identity, IdentityPoolId=POOL_ID,
                   DeveloperUserIdentifier=identifier)[0] == "ResourceNotFoundException"
    # Unlinked, the identifier is a new identity the next time it is seen.
    assert developer_token(aws, identifier)["IdentityId"] != identity_id
    assert refused(operator.unlink_developer_identity, IdentityId=identity_id,
                   IdentityPoolId=POOL_ID, DeveloperProviderName=DEVELOPER_PROVIDER,
                   DeveloperUserIdentifier=identifier)[0] == "ResourceNotFoundException"


# -- linked logins -----------------------------------------------------------------------


def test_several_logins_in_one_call_are_one_identity(aws):
    client = aws.identity()
    first, second = google(aws), auth0(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins={**first, **second})[
        "IdentityId"]
    assert client.get_id(IdentityPoolId=POOL_ID, Logins=second)["IdentityId"] == identity_id
    assert aws.signed().describe_identity(IdentityId=identity_id)["Logins"] == sorted(
        [LOGINS_KEYS["google"], LOGINS_KEYS["auth0"]])


def test_a_second_login_is_linked_by_get_credentials(aws):
    client = aws.identity()
    first, second = google(aws), auth0(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=first)["IdentityId"]
    client.get_credentials_for_identity(IdentityId=identity_id, Logins={**first, **second})
    assert client.get_id(IdentityPoolId=POOL_ID, Logins=second)["IdentityId"] == identity_id


@pytest.mark.parametrize("operation", ["get_id", "get_credentials_for_identity"])
def test_a_login_of_another_identity_is_a_conflict(aws, operation):
    client = aws.identity()
    first, second = google(aws), auth0(aws)
    mine = client.get_id(IdentityPoolId=POOL_ID, Logins=first)["IdentityId"]
    theirs = client.get_id(IdentityPoolId=POOL_ID, Logins=second)["IdentityId"]
    params = ({"IdentityPoolId": POOL_ID} if operation == "get_id" else {"IdentityId": mine})
    assert refused(getattr(client, operation), Logins={**first, **second}, **params) == (
        "ResourceConflictException", "Login is already linked to another identity.")
    # Nothing moved: each login is still its own identity's.
    assert client.get_id(IdentityPoolId=POOL_ID, Logins=second)["IdentityId"] == theirs


def test_unlink_identity(aws):
    client = aws.identity()
    first, second = google(aws), auth0(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins={**first, **second})[
        "IdentityId"]
    assert refused(client.unlink_identity, IdentityId=identity_id, Logins=auth0(aws),
                   LoginsToRemove=[LOGINS_KEYS["auth0"]]) == (
        "NotAuthorizedException", LOGINS_DONT_MATCH)
    code, _ = refused(client.unlink_identity, IdentityId=identity_id, Logins=first,
                      LoginsToRemove=[LOGINS_KEYS["facebook"]])
    assert code == "InvalidParameterException"
    client.unlink_identity(IdentityId=identity_id, Logins=first,
                           LoginsToRemove=[LOGINS_KEYS["auth0"]])
    assert aws.signed().describe_identity(IdentityId=identity_id)["Logins"] == [
        LOGINS_KEYS["google"]]
    # The unlinked login is a new identity the next time it is seen.
    assert client.get_id(IdentityPoolId=POOL_ID, Logins=second)["IdentityId"] != identity_id


def test_an_identity_without_logins_is_out_of_reach(aws):
    client = aws.identity()
    logins = google(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    client.unlink_identity(IdentityId=identity_id, Logins=logins,
                           LoginsToRemove=[LOGINS_KEYS["google"]])
    assert refused(client.get_credentials_for_identity, IdentityId=identity_id) == (
        "NotAuthorizedException", LOGINS_DONT_MATCH)


# -- the basic flow's gate ---------------------------------------------------------------


def test_get_open_id_token_needs_the_classic_flow(aws, other_pool):
    client = aws.identity(other_pool(allow_classic_flow=False))
    logins = google(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    assert refused(client.get_open_id_token, IdentityId=identity_id, Logins=logins) == (
        "InvalidParameterException", CLASSIC_FLOW_OFF)
    # The enhanced flow is unaffected.
    assert client.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)[
        "Credentials"]["AccessKeyId"]


def test_a_pool_with_role_mappings_refuses_the_basic_flow_until_they_are_removed(
        aws, other_pool):
    url = other_pool(role_mappings=COGNITO_MAPPING)
    client = aws.identity(url)
    logins = google(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    guest_id = client.get_id(IdentityPoolId=POOL_ID)["IdentityId"]
    assert refused(client.get_open_id_token, IdentityId=identity_id, Logins=logins) == (
        "InvalidParameterException", CLASSIC_FLOW_MAPPED)
    assert refused(client.get_open_id_token, IdentityId=guest_id) == (
        "InvalidParameterException", CLASSIC_FLOW_MAPPED)
    # The enhanced flow applies the mappings instead.
    assert client.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)[
        "Credentials"]["AccessKeyId"]

    operator = aws.operator(url)
    roles = operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)
    assert roles["RoleMappings"]
    operator.set_identity_pool_roles(IdentityPoolId=POOL_ID, Roles=roles["Roles"])
    assert "RoleMappings" not in operator.get_identity_pool_roles(IdentityPoolId=POOL_ID)
    answer = client.get_open_id_token(IdentityId=identity_id, Logins=logins)
    assert answer["IdentityId"] == identity_id
    assert claims_of(aws, answer["Token"], url)["sub"] == identity_id
    assert client.get_open_id_token(IdentityId=guest_id)["IdentityId"] == guest_id


def test_allow_classic_flow_off_is_checked_before_the_role_mappings(aws, other_pool):
    client = aws.identity(other_pool(allow_classic_flow=False, role_mappings=COGNITO_MAPPING))
    logins = google(aws)
    identity_id = client.get_id(IdentityPoolId=POOL_ID, Logins=logins)["IdentityId"]
    assert refused(client.get_open_id_token, IdentityId=identity_id, Logins=logins) == (
        "InvalidParameterException", CLASSIC_FLOW_OFF)
