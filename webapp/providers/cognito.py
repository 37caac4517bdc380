"""Amazon Cognito user pools through the Hosted UI (managed login).

Quirks owned here: the issuer lives at ``cognito-idp.{region}.amazonaws.com``
while the endpoints live on the Hosted UI domain; ``identity_provider`` sends the
visitor straight to Google, Facebook or a SAML/OIDC provider; id tokens carry
``token_use``; sign-out is ``/logout?client_id&logout_uri``; refresh tokens are
revoked at ``/oauth2/revoke`` with HTTP Basic client authentication.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from . import Provider, ProviderConfigError, SignOut, oidc, require, url_setting

if TYPE_CHECKING:
    from ..oauth import ProviderClient

KIND = "cognito"
DISPLAY_NAME = "Amazon Cognito"
DEFAULT_SCOPES = ("openid", "email", "profile")
KEYS = {
    "domain": "the Hosted UI domain, e.g. myapp.auth.us-east-1.amazoncognito.com",
    "region": "the user pool's AWS region, e.g. us-east-1",
    "user_pool_id": "the user pool id, e.g. us-east-1_AbCdEf123",
    "identity_provider": "optional: Google, Facebook, LoginWithAmazon, SignInWithApple or the "
                         "name of an OIDC/SAML provider, to skip the Hosted UI's chooser",
    "idp_identifier": "optional: an identifier of the provider to go straight to",
    "hosted_ui_url": "optional override of https://{domain} (custom domain or stand-in)",
    "issuer": "optional override of https://cognito-idp.{region}.amazonaws.com/{user_pool_id}",
}
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")



#: Where each URL is registered, in the provider's own console words.
CONSOLE = {
    "callback": "Amazon Cognito console > User pools > your pool > App integration > "
                "App clients > your app client > Login pages: Allowed callback URLs",
    "sign_out": "the same app client's Login pages: Allowed sign-out URLs",
    "origin": None,
}
#: Where a provider reached through the Hosted UI registers Cognito's idpresponse URL.
UPSTREAM_CONSOLE = {
    "Google": ("Google Cloud console > APIs & Services > Credentials > your OAuth client: "
               "Authorized redirect URIs", "Authorized JavaScript origins"),
    "Facebook": ("Meta for Developers > your app > Facebook Login > Settings: "
                 "Valid OAuth Redirect URIs", "Settings > Basic: App Domains"),
    "LoginWithAmazon": ("Login with Amazon console > your security profile > Web Settings: "
                        "Allowed Return URLs", "Allowed Origins"),
    "SignInWithApple": ("Apple Developer > Identifiers > your Services ID: Return URLs",
                        "Domains and Subdomains"),
}


def upstream_registrations(provider: Provider) -> list[dict[str, str]]:
    """With ``identity_provider`` set, Google (say) sends the visitor back to Cognito,
    not to this site: Cognito's ``/oauth2/idpresponse`` is what must be registered there."""
    upstream = provider.authorize_params.get("identity_provider")
    if not upstream or upstream == "COGNITO":
        return []
    hosted = provider.settings["hosted_ui_url"]
    callback_field, origin_field = UPSTREAM_CONSOLE.get(
        upstream, (f"{upstream}'s client registration: redirect URIs", "allowed origins"))
    parts = urlsplit(hosted)
    return [{"where": callback_field, "value": f"{hosted}/oauth2/idpresponse"},
            {"where": origin_field, "value": f"{parts.scheme}://{parts.netloc}"}]

def configure(raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
    region = require(raw, "region", "the user pool's region, e.g. us-east-1")
    if not REGION.match(region):
        raise ProviderConfigError(".region: must look like us-east-1")
    pool = require(raw, "user_pool_id", "the user pool id from the Cognito console")
    if not pool.startswith(region + "_"):
        raise ProviderConfigError(f".user_pool_id: must start with the region, {region}_")
    if not raw.get("domain") and not raw.get("hosted_ui_url"):
        raise ProviderConfigError(".domain: missing; put the Hosted UI domain here "
                                  "(App integration > Domain in the Cognito console)")
    hosted = url_setting(raw, "hosted_ui_url", f"https://{raw.get('domain')}")
    issuer = url_setting(raw, "issuer", f"https://cognito-idp.{region}.amazonaws.com/{pool}")
    params = {k: raw[k] for k in ("identity_provider", "idp_identifier") if raw.get(k)}
    return {
        "issuer": issuer,
        "endpoints": {"logout": hosted + "/logout", "revoke": hosted + "/oauth2/revoke"},
        "authorize_params": params,
        "token_auth_method": "client_secret_basic",
        "settings": {"region": region, "user_pool_id": pool, "hosted_ui_url": hosted,
                     "domain": raw.get("domain") or hosted.split("://", 1)[1]},
    }


join_scopes = oidc.join_scopes
validate = oidc.validate
sign_in = oidc.sign_in
userinfo = oidc.userinfo
refresh = oidc.refresh
logins = oidc.logins
pool_provider = oidc.pool_provider
token_error_kind = oidc.token_error_kind


def check_claims(provider: Provider, claims: dict[str, Any]) -> None:
    """Cognito signs access and id tokens with the same key: only an id token will do."""
    from ..tokens import reject

    if claims.get("token_use") != "id":
        raise reject("token_use", "id", claims.get("token_use"))


def sign_out(client: ProviderClient, auth: dict[str, Any], return_to: str) -> SignOut:
    provider = client.provider
    url = provider.endpoints["logout"] + "?" + urlencode(
        {"client_id": provider.client_id, "logout_uri": return_to}
    )
    revocation = oidc.revocation(client, auth["tokens"].get("refresh_token"),
                                 provider.endpoints["revoke"])
    return SignOut(url, revocation, "You were signed out here and at the Cognito Hosted UI.")


def callback_refusal(response: requests.Response, callback_url: str) -> str | None:
    """Cognito refuses by redirecting to its own ``/error?error=redirect_mismatch`` page."""
    location = response.headers.get("Location", "")
    if urlsplit(location).path.endswith("/error"):
        return parse_qs(urlsplit(location).query).get("error", ["error page"])[0]
    return oidc.callback_refusal(response, callback_url)


def logins_key(provider: Provider) -> str:
    s = provider.settings
    return f"cognito-idp.{s['region']}.amazonaws.com/{s['user_pool_id']}"
