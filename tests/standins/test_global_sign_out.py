"""The Cognito stand-in's user pool API: ``GlobalSignOut`` as AWS serves it.

JSON 1.1 over POST with ``X-Amz-Target``, authorized by the user's own access
token (its signature, ``token_use``, expiry, not revoked, and the
``aws.cognito.signin.user.admin`` scope); it revokes every token of the user, in
every app client, and AWS's error shapes otherwise.
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.usefixtures("standins_server")

ADMIN = "openid email profile aws.cognito.signin.user.admin"
TARGET = "AWSCognitoIdentityProviderService.GlobalSignOut"


def global_sign_out(base: str, access_token: str | None,
                    target: str = TARGET) -> requests.Response:
    body = {} if access_token is None else {"AccessToken": access_token}
    return requests.post(f"{base}/cognito-idp/", json=body, timeout=10,
                         headers={"X-Amz-Target": target,
                                  "Content-Type": "application/x-amz-json-1.1"})


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["__type"], body["message"]


def calls(base: str) -> dict[str, int]:
    return requests.get(f"{base}/_control/calls", timeout=5).json()["cognito"]


def tokens_of(helpers, base: str, user: str, scope: str) -> dict:
    """A sign-in of ``user`` at the Cognito stand-in's app client: its token response."""
    browser, pkce = helpers.Browser(base), helpers.Pkce.new()
    result = browser.sign_in_and_allow("cognito", user, pkce=pkce, scope=scope)
    response = helpers.exchange(base, "cognito", result["code"], pkce)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_revokes_every_token_of_the_user_and_no_one_elses(standins_server, helpers):
    base = standins_server
    first = tokens_of(helpers, base, "alice", ADMIN)
    second = tokens_of(helpers, base, "alice", "openid")
    bob = tokens_of(helpers, base, "bob", ADMIN)
    assert helpers.refresh(base, "cognito", second["refresh_token"]).status_code == 200

    answer = global_sign_out(base, first["access_token"])
    assert answer.status_code == 200 and answer.json() == {}
    assert answer.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    assert calls(base)["GlobalSignOut"] == 1

    for tokens in (first, second):
        refused = helpers.refresh(base, "cognito", tokens["refresh_token"])
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        userinfo = requests.get(f"{base}/cognito/oauth2/userInfo", timeout=5, headers={
            "Authorization": f"Bearer {tokens['access_token']}"})
        assert userinfo.status_code == 401
    # The same token again: revoked now.
    assert error_of(global_sign_out(base, first["access_token"])) == (
        400, "NotAuthorizedException", "Access Token has been revoked")
    # bob is another user: his tokens still work.
    assert helpers.refresh(base, "cognito", bob["refresh_token"]).status_code == 200


def test_it_needs_the_admin_scope(standins_server, helpers):
    base = standins_server
    tokens = helpers.signed_in_tokens(helpers.Browser(base), "cognito")
    assert error_of(global_sign_out(base, tokens["access_token"])) == (
        400, "NotAuthorizedException", "Access Token does not have required scopes")
    assert helpers.refresh(base, "cognito", tokens["refresh_token"]).status_code == 200


def test_it_takes_only_its_own_live_access_tokens(standins_server, helpers):
    base = standins_server
    tokens = helpers.signed_in_tokens(helpers.Browser(base), "cognito", scope=ADMIN)
    # An id token is signed with the same key, but is no access token.
    assert error_of(global_sign_out(base, tokens["id_token"])) == (
        400, "NotAuthorizedException", "Invalid Access Token")
    forged = tokens["access_token"][:-4] + ("AAAA" if not tokens["access_token"].endswith(
        "AAAA") else "BBBB")
    assert error_of(global_sign_out(base, forged)) == (
        400, "NotAuthorizedException", "Invalid Access Token")
    assert error_of(global_sign_out(base, None))[:2] == (400, "InvalidParameterException")
    assert error_of(global_sign_out(base, tokens["access_token"],
                                    "AWSCognitoIdentityProviderService.DeleteUser"))[:2] == (
        400, "UnknownOperationException")
    requests.post(f"{base}/_control/clock", json={"tenant": "cognito", "skew_seconds": 7200},
                  timeout=5).raise_for_status()
    assert error_of(global_sign_out(base, tokens["access_token"])) == (
        400, "NotAuthorizedException", "Access Token has expired")
    requests.post(f"{base}/_control/clock", json={"tenant": "cognito", "skew_seconds": 0},
                  timeout=5).raise_for_status()
    assert helpers.refresh(base, "cognito", tokens["refresh_token"]).status_code == 200
