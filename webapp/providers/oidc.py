"""Any OpenID Connect provider, by its issuer URL; the base the other OIDC kinds share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .. import tokens
from ..errors import FedlabError
from ..pagewords import page_words
from . import Provider, ProviderConfigError, SignOut, kind_of, url_setting

if TYPE_CHECKING:
    from ..oauth import ProviderClient

KIND = "oidc"
DISPLAY_NAME = "OpenID Connect"
DEFAULT_SCOPES = ("openid", "email", "profile")
KEYS = {
    "issuer": "the issuer URL exactly as the provider's discovery states it",
    "token_endpoint_auth_method": "client_secret_basic (default) or client_secret_post",
    "authorize_params": "a table of extra authorization request parameters",
}
AUTH_METHODS = ("client_secret_basic", "client_secret_post")



CONSOLE = {
    "callback": "the provider's client registration: redirect_uris",
    "sign_out": "the provider's client registration: post_logout_redirect_uris",
    "origin": None,
}


def callback_refusal(response: requests.Response, callback_url: str) -> str | None:
    """The provider's words if it refused ``callback_url``, else None.

    RFC 6749 4.1.2.1: an unregistered redirect URI gets an error page at the
    provider, never a redirect to it.
    """
    if response.status_code >= 400:
        return page_words(response)
    location = response.headers.get("Location", "")
    if location.startswith(callback_url):
        error = parse_qs(urlsplit(location).query).get("error")
        if error and error[0] != "access_denied":
            return error[0]
    return None


def token_error_kind(error: str | None, description: str) -> str | None:
    """RFC 6749 5.2 names the error; nothing to interpret."""
    return error


def upstream_registrations(provider: Provider) -> list[dict[str, str]]:
    """URLs to register at a provider behind this one (Cognito's federation): none."""
    return []

def configure(raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
    if not raw.get("issuer"):
        raise ProviderConfigError(".issuer: missing; put the provider's issuer URL here")
    method = raw.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise ProviderConfigError(f".token_endpoint_auth_method: one of {', '.join(AUTH_METHODS)}")
    params = raw.get("authorize_params", {})
    if not isinstance(params, Mapping) or not all(isinstance(v, str) for v in params.values()):
        raise ProviderConfigError(".authorize_params: must be a table of strings")
    return {
        "issuer": url_setting(raw, "issuer") + ("/" if raw["issuer"].endswith("/") else ""),
        "token_auth_method": method,
        "authorize_params": offline_consent(dict(params), scopes),
        "settings": {},
    }


def offline_consent(params: dict[str, str], scopes: tuple[str, ...]) -> dict[str, str]:
    """Add ``prompt=consent`` when ``offline_access`` is asked for.

    OpenID Connect Core 11: a provider grants ``offline_access`` (and so a refresh
    token) only when the request's prompt contains ``consent``, unless it has
    other grounds; a standard provider (oidc-provider, Keycloak) silently drops
    the scope otherwise, and the sign-in works but can never be refreshed.
    """
    if "offline_access" not in scopes:
        return params
    prompt = params.get("prompt", "").split()
    if "none" in prompt:
        raise ProviderConfigError(".authorize_params.prompt: 'none' cannot go with the "
                                  "offline_access scope, which needs prompt=consent "
                                  "(OpenID Connect Core 11)")
    return {**params, "prompt": " ".join(dict.fromkeys([*prompt, "consent"]))}


def join_scopes(scopes: tuple[str, ...]) -> str:
    return " ".join(scopes)


def check_claims(provider: Provider, claims: dict[str, Any]) -> None:
    """Kind-specific id-token checks on top of the OpenID Connect ones: none here."""


def validate(client: ProviderClient, id_token: str, *, access_token: str | None,
             nonce: str | None, require_nonce: bool = True) -> dict[str, Any]:
    provider = client.provider
    assert provider.issuer is not None
    claims = tokens.validate_id_token(
        id_token,
        client_id=provider.client_id,
        issuers=(provider.issuer, *provider.issuer_aliases),
        load_keys=client.keys,
        supported_algorithms=client.metadata.get("id_token_signing_alg_values_supported"),
        access_token=access_token,
        nonce=nonce,
        require_nonce=require_nonce,
    )
    kind_of(provider).check_claims(provider, claims)
    return claims


#: The claims the account page shows, by the scope that asks for them (OIDC Core 5.4).
PROFILE_CLAIMS = {"email": "email", "profile": "name"}
#: Failures of the userinfo call at sign-in that leave the sign-in standing: the
#: id token is verified, only the profile is missing (the account page says so).
USERINFO_OUTAGES = ("provider_timeout", "provider_unreachable", "provider_bad_response",
                    "userinfo_unavailable")


def sign_in(client: ProviderClient, token: dict[str, Any], nonce: str) -> dict[str, Any]:
    """Check the token response; return who signed in: ``iss``, ``sub``, claims, userinfo.

    The verified id token alone says who signed in, so the sign-in makes one call
    (the token request) when the id token also carries the e-mail and name the
    granted scope asks for. OpenID Connect Core 5.4 lets a provider keep those
    for userinfo when it issues an access token (oidc-provider does): then the
    sign-in asks userinfo once (:func:`profile_from_userinfo`).
    """
    if not token.get("id_token"):
        raise FedlabError("id_token_missing", provider=client.provider.name)
    claims = validate(client, token["id_token"], access_token=token.get("access_token"),
                      nonce=nonce)
    return {"iss": claims["iss"], "sub": claims["sub"], "claims": claims,
            "userinfo": profile_from_userinfo(client, token, claims)}


def profile_from_userinfo(client: ProviderClient, token: dict[str, Any],
                          claims: dict[str, Any]) -> dict[str, Any] | None:
    """Userinfo's answer when the id token lacks a claim the granted scope asks for.

    The granted scope is the token response's ``scope``, or the requested one
    when it has none (RFC 6749 5.1). An answer about another subject refuses the
    sign-in (5.3.2); an outage leaves it standing without the profile.
    """
    granted = str(token.get("scope") or client.provider.scope).split()
    if all(claim in claims for scope, claim in PROFILE_CLAIMS.items() if scope in granted):
        return None
    try:
        return userinfo(client, {"tokens": token, "claims": claims})
    except FedlabError as e:
        if e.code in USERINFO_OUTAGES:
            return None
        raise


def userinfo(client: ProviderClient, auth: dict[str, Any]) -> dict[str, Any]:
    """Ask the userinfo endpoint (OIDC Core 5.3) about the signed-in visitor.

    Its answer is used only if it speaks of the id token's subject (5.3.2).
    """
    endpoint = client.metadata.get("userinfo_endpoint")
    access_token = auth["tokens"].get("access_token")
    if not endpoint or not access_token:
        raise FedlabError("userinfo_unavailable", provider=client.provider.name,
                          detail="the provider has no userinfo endpoint" if not endpoint
                          else "no access token is held")
    answer = client.get_json(endpoint, "userinfo", access_token=access_token)
    tokens.check_userinfo(auth["claims"], answer)
    return answer


def refresh(client: ProviderClient, auth: dict[str, Any]) -> dict[str, Any]:
    """Return new tokens and claims; a refreshed id token passes every sign-in check."""
    token = client.refresh(auth["tokens"]["refresh_token"])
    claims = auth["claims"]
    if token.get("id_token"):
        claims = validate(client, token["id_token"], access_token=token.get("access_token"),
                          nonce=auth.get("nonce"), require_nonce=False)
        tokens.check_refreshed(auth["claims"], claims)
    return {"tokens": token, "claims": claims}


def revocation(client: ProviderClient, refresh_token: str | None,
               endpoint: str | None = None) -> tuple[str, dict[str, str], Any] | None:
    endpoint = endpoint or client.metadata.get("revocation_endpoint")
    if not refresh_token or not endpoint:
        return None
    provider = client.provider
    form = {"token": refresh_token, "token_type_hint": "refresh_token"}
    if provider.token_auth_method == "client_secret_post":
        form |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
        return endpoint, form, None
    return endpoint, form, (provider.client_id, provider.client_secret)


def sign_out(client: ProviderClient, auth: dict[str, Any], return_to: str) -> SignOut:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) where offered.

    A GET with ``client_id`` and a registered ``post_logout_redirect_uri``, and
    no ``id_token_hint``: the hint is the id token itself, still valid (an
    identity pool takes it), and a GET puts it in the browser's history and the
    provider's logs. The specification allows the hint to be left out when
    ``client_id`` says who is asking (section 2); the provider may then ask the
    visitor to confirm. The other way it allows, a POST form to the end-session
    endpoint, would need an inline script to submit itself, which the CSP forbids,
    or one more button for the visitor to press.
    """
    end_session = client.metadata.get("end_session_endpoint")
    url = None
    if end_session:
        params = {"client_id": client.provider.client_id, "post_logout_redirect_uri": return_to}
        url = end_session + "?" + urlencode(params)
    note = ("You were signed out here and at the provider." if url else
            "You were signed out here; the provider offers no sign-out endpoint.")
    return SignOut(url, revocation(client, auth["tokens"].get("refresh_token")), note)


def logins(provider: Provider, auth: dict[str, Any]) -> dict[str, str]:
    """The Identity Pool ``Logins`` map: this kind's key and the validated id token."""
    return {kind_of(provider).logins_key(provider): auth["tokens"]["id_token"]}


def pool_provider(provider: Provider) -> dict[str, Any]:
    """How this provider is registered on an Identity Pool (and so what the pool checks)."""
    return {"logins_key": kind_of(provider).logins_key(provider), "type": "oidc",
            "issuer": provider.issuer, "client_ids": [provider.client_id]}


def logins_key(provider: Provider) -> str:
    """Identity Pool ``Logins`` key for an OIDC provider: the issuer without scheme."""
    assert provider.issuer is not None
    parts = urlsplit(provider.issuer)
    return (parts.netloc + parts.path).rstrip("/")
