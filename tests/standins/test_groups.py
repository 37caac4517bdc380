"""The Cognito stand-in's user pool groups: the id token's role claims, as Cognito sets them."""

from __future__ import annotations

import pytest

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
