"""Auth0 tenants.

Quirks owned here: the issuer is ``https://{domain}/`` with a trailing slash;
``audience`` and ``connection`` go on the authorize request; a refresh token
comes only with ``offline_access``; sign-out is ``/v2/logout?client_id&returnTo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import Provider, SignOut, oidc, require, url_setting

if TYPE_CHECKING:
    from ..oauth import ProviderClient

KIND = "auth0"
DISPLAY_NAME = "Auth0"
DEFAULT_SCOPES = ("openid", "email", "profile", "offline_access")
KEYS = {
    "domain": "the tenant domain, e.g. example.us.auth0.com (or a custom domain)",
    "audience": "optional: the API identifier to get an access token for",
    "connection": "optional: a connection to go straight to, e.g. google-oauth2",
    "base_url": "optional override of https://{domain} (a stand-in)",
}



CONSOLE = {
    "callback": "Auth0 Dashboard > Applications > your application > Settings: "
                "Allowed Callback URLs",
    "sign_out": "the same Settings: Allowed Logout URLs",
    "origin": "the same Settings: Allowed Web Origins",
}

def configure(raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
    domain = require(raw, "domain", "the Auth0 tenant domain (Applications > Settings)")
    base = url_setting(raw, "base_url", f"https://{domain}")
    params = {k: raw[k] for k in ("audience", "connection") if raw.get(k)}
    return {
        "issuer": base + "/",
        "endpoints": {"logout": base + "/v2/logout", "revoke": base + "/oauth/revoke"},
        "authorize_params": params,
        "token_auth_method": "client_secret_post",
        "settings": {"domain": domain, "base_url": base},
    }


join_scopes = oidc.join_scopes
check_claims = oidc.check_claims
validate = oidc.validate
sign_in = oidc.sign_in
userinfo = oidc.userinfo
refresh = oidc.refresh
logins = oidc.logins
pool_provider = oidc.pool_provider
token_error_kind = oidc.token_error_kind
upstream_registrations = oidc.upstream_registrations
callback_refusal = oidc.callback_refusal


def sign_out(client: ProviderClient, auth: dict[str, Any], return_to: str) -> SignOut:
    provider = client.provider
    url = provider.endpoints["logout"] + "?" + urlencode(
        {"client_id": provider.client_id, "returnTo": return_to}
    )
    revocation = oidc.revocation(client, auth["tokens"].get("refresh_token"),
                                 provider.endpoints["revoke"])
    return SignOut(url, revocation, "You were signed out here and at Auth0.")


def logins_key(provider: Provider) -> str:
    """Auth0 is an IAM OIDC provider; its ``Logins`` key is the domain without scheme."""
    return provider.settings["domain"]
