"""The Google stand-in's ``hd``: the hosted domain of a Google Workspace account, in the
id token and userinfo as Google puts it there, and never for a personal account."""

from __future__ import annotations

import pytest
import requests

from standins import create_standins_app
from standins.settings import SettingsError

USERS = [
    # A Google Workspace account of example.com.
    {"key": "alice", "password": "alice-pass", "email": "alice@example.com",
     "hosted_domain": "example.com"},
    # A personal Google account made for an address at the same domain.
    {"key": "carol", "password": "carol-pass", "email": "carol@example.com"},
]


@pytest.fixture
def google(helpers):
    def settings(base_url):
        return {**helpers.settings_for(base_url), "users": USERS}

    base, _, server = helpers.serve(settings)
    yield base
    server.shutdown()
    server.server_close()


def signed_in(helpers, base: str, tenant: str, user: str, scope: str) -> tuple[dict, dict]:
    """The verified id token's claims and the userinfo answer for ``user``."""
    browser = helpers.Browser(base)
    pkce = helpers.Pkce.new()
    code = browser.sign_in_and_allow(tenant, user=user, pkce=pkce, scope=scope)["code"]
    tokens = helpers.exchange(base, tenant, code, pkce).json()
    userinfo = {"google": "/google/v1/userinfo", "auth0": "/auth0/userinfo"}[tenant]
    info = requests.get(base + userinfo, timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text
    return helpers.verify(base, tenant, tokens["id_token"]), info.json()


@pytest.mark.parametrize("scope", ["openid email profile", "openid"])
def test_a_workspace_account_carries_its_hosted_domain(google, helpers, scope):
    """``hd`` comes with the account, not with a scope: Google sends it whenever the
    account belongs to a hosted domain."""
    claims, info = signed_in(helpers, google, "google", "alice", scope)
    assert claims["hd"] == "example.com" and info["hd"] == "example.com"


def test_a_personal_account_at_the_same_domain_has_none(google, helpers):
    claims, info = signed_in(helpers, google, "google", "carol", "openid email profile")
    assert claims["email"] == "carol@example.com" and claims["email_verified"] is True
    assert "hd" not in claims and "hd" not in info


def test_hd_is_googles_alone(google, helpers):
    """The same person at another tenant: Auth0 has no hosted domains."""
    claims, info = signed_in(helpers, google, "auth0", "alice", "openid email profile")
    assert "hd" not in claims and "hd" not in info


@pytest.mark.parametrize("domain", ["", "Example.com", "example", "https://example.com", 7])
def test_a_bad_hosted_domain_stops_the_stand_ins_naming_the_key(helpers, domain):
    users = [{**USERS[0], "hosted_domain": domain}]
    settings = {**helpers.settings_for("http://127.0.0.1:9"), "users": users}
    with pytest.raises(SettingsError, match=r"users\[0\]\.hosted_domain: must be a domain"):
        create_standins_app(settings)
