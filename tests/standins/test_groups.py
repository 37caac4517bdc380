"""The Cognito stand-in's user pool groups: the id token's role claims, as Cognito sets them."""

from __future__ import annotations

import pytest
import requests

from standins import create_standins_app
from standins.settings import SettingsError

ROLE = "arn:aws:iam::123456789012:role/{}"
GROUPS = [
    {"name": "admins", "role_arn": ROLE.format("fedlab-admins"), "precedence": 1},
    {"name": "readers", "role_arn": ROLE.format("fedlab-readers"), "precedence": 2},
    # Tied at 5 with different roles; tied at 7 with the same role; no role at 0.
    {"name": "red", "role_arn": ROLE.format("red"), "precedence": 5},
    {"name": "blue", "role_arn": ROLE.format("blue"), "precedence": 5},
    {"name": "green", "role_arn": ROLE.format("green"), "precedence": 7},
    {"name": "also-green", "role_arn": ROLE.format("green"), "precedence": 7},
    {"name": "no-role", "precedence": 0},
    {"name": "unranked", "role_arn": ROLE.format("unranked")},
]
MEMBERS = {
    "alice": ["admins", "readers"],
    "bob": ["readers"],
    "carol": ["red", "blue"],
    "dave": ["green", "also-green", "unranked"],
    "erin": ["no-role", "unranked"],
}


@pytest.fixture
def pool(helpers):
    def settings(base_url):
        users = [{"key": k, "password": f"{k}-pass", "groups": g} for k, g in MEMBERS.items()]
        return {**helpers.settings_for(base_url), "users": users, "groups": GROUPS}

    base, _, server = helpers.serve(settings)
    yield base
    server.shutdown()
    server.server_close()


def id_token_claims(helpers, base, user):
    browser = helpers.Browser(base)
    pkce = helpers.Pkce.new()
    code = browser.sign_in_and_allow("cognito", user=user, pkce=pkce)["code"]
    tokens = helpers.exchange(base, "cognito", code, pkce).json()
    return (helpers.verify(base, "cognito", tokens["id_token"]),
            helpers.verify(base, "cognito", tokens["access_token"]))


@pytest.mark.parametrize(("user", "roles", "preferred"), [
    # The group of lowest precedence gives the preferred role.
    ("alice", ["fedlab-admins", "fedlab-readers"], "fedlab-admins"),
    ("bob", ["fedlab-readers"], "fedlab-readers"),
    # Tied groups with different roles: neither takes precedence, no preferred role.
    ("carol", ["red", "blue"], None),
    # Tied groups with the same role: that role; a group without a precedence ranks last.
    ("dave", ["green", "unranked"], "green"),
    # A group without a role gives none, whatever its precedence.
    ("erin", ["unranked"], "unranked"),
])
def test_id_token_role_claims_follow_group_precedence(pool, helpers, user, roles, preferred):
    claims, access = id_token_claims(helpers, pool, user)
    assert claims["cognito:groups"] == MEMBERS[user]
    assert claims["cognito:roles"] == [ROLE.format(r) for r in roles]
    if preferred is None:
        assert "cognito:preferred_role" not in claims
    else:
        assert claims["cognito:preferred_role"] == ROLE.format(preferred)
    # The access token carries the groups only, as Cognito's does.
    assert access["cognito:groups"] == MEMBERS[user]
    assert "cognito:roles" not in access and "cognito:preferred_role" not in access


@pytest.mark.parametrize(("group", "named"), [
    ({"role_arn": ROLE.format("x")}, r"groups\[0\]\.name: missing"),
    ({"name": "x", "precedence": -1}, r"groups\[0\]\.precedence: must be a whole number"),
    ({"name": "x", "precedence": "1"}, r"groups\[0\]\.precedence: must be a whole number"),
    ({"name": "x", "role_arn": "fedlab-admins"}, r"groups\[0\]\.role_arn: must be an IAM"),
])
def test_a_bad_group_stops_the_stand_ins_naming_the_key(helpers, group, named):
    settings = {**helpers.settings_for("http://127.0.0.1:9"), "groups": [group]}
    with pytest.raises(SettingsError, match=named):
        create_standins_app(settings)


def control(base, path, **body):
    return requests.post(f"{base}/_control/{path}", json=body, timeout=5)


def test_update_group_changes_the_tokens_issued_from_then_on(pool, helpers):
    """The control API's UpdateGroup: readers tied with admins leaves alice no preferred
    role; a reset puts the settings' groups back."""
    assert control(pool, "groups", tenant="cognito", name="readers",
                   precedence=1).status_code == 200
    claims, _ = id_token_claims(helpers, pool, "alice")
    assert claims["cognito:roles"] == [ROLE.format("fedlab-admins"), ROLE.format("fedlab-readers")]
    assert "cognito:preferred_role" not in claims
    refused = control(pool, "groups", tenant="cognito", name="readers", precedence=-1)
    assert refused.status_code == 400 and "group.precedence: must be a whole number" in \
        refused.text
    assert control(pool, "groups", tenant="cognito", name="nobody").status_code == 404
    requests.post(f"{pool}/_control/reset", timeout=5)
    claims, _ = id_token_claims(helpers, pool, "alice")
    assert claims["cognito:preferred_role"] == ROLE.format("fedlab-admins")


def test_a_pre_token_generation_trigger_replaces_the_groups_and_roles(pool, helpers):
    """groupOverrideDetails is replaced whole: a preferredRole not given is none in the
    id token; the access token keeps the user's groups (a V1_0 event's answer)."""
    override = {"groupsToOverride": ["readers"], "iamRolesToOverride": [ROLE.format("x")]}
    assert control(pool, "pre-token-generation", tenant="cognito",
                   groupOverrideDetails=override).status_code == 200
    claims, access = id_token_claims(helpers, pool, "alice")
    assert claims["cognito:groups"] == ["readers"]
    assert claims["cognito:roles"] == [ROLE.format("x")]
    assert "cognito:preferred_role" not in claims
    assert access["cognito:groups"] == MEMBERS["alice"]
    refused = control(pool, "pre-token-generation", tenant="cognito",
                      groupOverrideDetails={"preferred": "x"})
    assert refused.status_code == 400 and "groupOverrideDetails.preferred: not a field" in \
        refused.text
    requests.post(f"{pool}/_control/reset", timeout=5)
    claims, _ = id_token_claims(helpers, pool, "alice")
    assert claims["cognito:preferred_role"] == ROLE.format("fedlab-admins")
