"""Any OpenID Connect provider, by its issuer URL; the base the other OIDC kinds share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode, urlsplit

from .. import steps, tokens
from ..errors import FedlabError
from ..records import Renewed, SignIn, Verified
from .base import (
    PoolRegistration,
    PoolTemplate,
    Provider,
    ProviderConfigError,
    SignOut,
    TemplateParameter,
    url_setting,
)

if TYPE_CHECKING:
    from ..oauth import ProviderClient

#: The claims the account page shows, by the scope that asks for them (OIDC Core 5.4).
PROFILE_CLAIMS = {"email": "email", "profile": "name"}
#: Failures of the userinfo call at sign-in that leave the sign-in standing: the
#: id token is verified, only the profile is missing (the account page says so).
USERINFO_OUTAGES = ("provider_timeout", "provider_unreachable", "provider_bad_response",
                    "userinfo_unavailable")


class OpenIDConnect(Provider):
    """OpenID Connect Core 1.0 with discovery: the defaults every OIDC kind starts from.

    Who signed in is the verified id token; endpoints come from the issuer's
    discovery document; sign-out is RP-Initiated Logout where offered; the
    Identity Pool knows the provider as an IAM OIDC provider (its issuer).
    """

    KIND: ClassVar[str] = "oidc"
    DISPLAY_NAME: ClassVar[str] = "OpenID Connect"
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("openid", "email", "profile")
    KEYS: ClassVar[Mapping[str, str]] = {
        "issuer": "the issuer URL exactly as the provider's discovery states it",
        "token_endpoint_auth_method": "client_secret_basic (default) or client_secret_post",
        "authorize_params": "a table of extra authorization request parameters",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "the provider's client registration: redirect_uris",
        "sign_out": "the provider's client registration: post_logout_redirect_uris",
        "origin": None,
        "backchannel_logout": "the provider's client registration: backchannel_logout_uri "
                              "(with backchannel_logout_session_required = true)",
    }
    #: Any issuer may implement Back-Channel Logout; its discovery says whether it does.
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = True
    URL_KEYS: ClassVar[tuple[str, ...]] = ("issuer",)
    AUTH_METHODS: ClassVar[tuple[str, ...]] = ("client_secret_basic", "client_secret_post")

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        if not raw.get("issuer"):
            raise ProviderConfigError(".issuer: missing; put the provider's issuer URL here")
        method = raw.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in cls.AUTH_METHODS:
            raise ProviderConfigError(
                f".token_endpoint_auth_method: one of {', '.join(cls.AUTH_METHODS)}")
        params = raw.get("authorize_params", {})
        if not isinstance(params, Mapping) or not all(isinstance(v, str) for v in params.values()):
            raise ProviderConfigError(".authorize_params: must be a table of strings")
        return {
            "issuer": url_setting(raw, "issuer") + ("/" if raw["issuer"].endswith("/") else ""),
            "token_auth_method": method,
            "authorize_params": offline_consent(dict(params), scopes),
            "settings": {},
        }

    # -- the id token -----------------------------------------------------------------

    def check_claims(self, claims: dict[str, Any]) -> None:
        """Kind-specific id-token checks on top of the OpenID Connect ones: none here."""

    def validate(self, client: ProviderClient, id_token: str, *, access_token: str | None,
                 nonce: str | None, require_nonce: bool = True) -> dict[str, Any]:
        """The id token's claims, once every OpenID Connect check and the kind's passed."""
        assert self.issuer is not None
        with steps.checking("id token checks"):
            claims = tokens.validate_id_token(
                id_token,
                client_id=self.client_id,
                issuers=(self.issuer, *self.issuer_aliases),
                load_keys=client.keys,
                supported_algorithms=client.metadata.get(
                    "id_token_signing_alg_values_supported"),
                access_token=access_token,
                nonce=nonce,
                require_nonce=require_nonce,
            )
            self.check_claims(claims)
        # An alias the issuer also answers to (Google's "accounts.google.com") names the
        # same issuer: the person is known by the configured spelling, whichever one this
        # token used, so one person never becomes two (their sessions for sign-out
        # everywhere, the developer identity, a refresh's same-issuer check).
        return {**claims, "iss": self.issuer}

    # -- signing in and refreshing ------------------------------------------------------

    def sign_in(self, client: ProviderClient, token: dict[str, Any],
                nonce: str | None) -> Verified:
        """Check the token response; return who signed in: ``iss``, ``sub``, claims, userinfo.

        The verified id token alone says who signed in, so the sign-in makes one call
        (the token request) when the id token also carries the e-mail and name the
        granted scope asks for. OpenID Connect Core 5.4 lets a provider keep those
        for userinfo when it issues an access token (oidc-provider does): then the
        sign-in asks userinfo once (:meth:`profile_from_userinfo`).
        """
        if not token.get("id_token"):
            raise FedlabError("id_token_missing", provider=self.name)
        claims = self.validate(client, token["id_token"],
                               access_token=token.get("access_token"), nonce=nonce)
        return Verified(iss=claims["iss"], sub=claims["sub"], claims=claims,
                        userinfo=self.profile_from_userinfo(client, token, claims))

    def profile_from_userinfo(self, client: ProviderClient, token: dict[str, Any],
                              claims: dict[str, Any]) -> dict[str, Any] | None:
        """Userinfo's answer when the id token lacks a claim the granted scope asks for.

        The granted scope is the token response's ``scope``, or the requested one
        when it has none (RFC 6749 5.1). An answer about another subject refuses the
        sign-in (5.3.2); an outage leaves it standing without the profile.
        """
        granted = str(token.get("scope") or self.scope).split()
        if all(claim in claims for scope, claim in PROFILE_CLAIMS.items() if scope in granted):
            return None
        try:
            return self.ask_userinfo(client, token.get("access_token"), claims)
        except FedlabError as e:
            if e.code in USERINFO_OUTAGES:
                return None
            raise

    def userinfo(self, client: ProviderClient, auth: SignIn) -> dict[str, Any]:
        return self.ask_userinfo(client, auth.tokens.access_token, auth.claims)

    def ask_userinfo(self, client: ProviderClient, access_token: str | None,
                     claims: dict[str, Any]) -> dict[str, Any]:
        """Ask the userinfo endpoint (OIDC Core 5.3) about the signed-in visitor.

        Its answer is used only if it speaks of the id token's subject (5.3.2).
        """
        endpoint = client.metadata.get("userinfo_endpoint")
        if not endpoint or not access_token:
            raise FedlabError("userinfo_unavailable", provider=self.name,
                              detail="the provider has no userinfo endpoint" if not endpoint
                              else "no access token is held")
        answer = client.get_json(endpoint, "userinfo", access_token=access_token)
        tokens.check_userinfo(claims, answer)
        return answer

    def refresh(self, client: ProviderClient, auth: SignIn) -> Renewed:
        """New tokens and claims; a refreshed id token passes every sign-in check."""
        assert auth.tokens.refresh_token is not None
        token = client.refresh(auth.tokens.refresh_token)
        claims = auth.claims
        if token.get("id_token"):
            claims = self.validate(client, token["id_token"],
                                   access_token=token.get("access_token"),
                                   nonce=auth.nonce, require_nonce=False)
            tokens.check_refreshed(auth.claims, claims)
        return Renewed(tokens=token, claims=claims)

    # -- signing out ------------------------------------------------------------------

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
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
            params = {"client_id": self.client_id, "post_logout_redirect_uri": return_to}
            url = end_session + "?" + urlencode(params)
        note = ("You were signed out here and at the provider." if url else
                "You were signed out here; the provider offers no sign-out endpoint.")
        return SignOut(url, self.revocation(client, refresh_token_of(auth)), note)

    # -- back-channel logout --------------------------------------------------------------

    def backchannel_logout_supported(self, metadata: Mapping[str, Any]) -> bool:
        """Discovery's ``backchannel_logout_supported`` (Back-Channel Logout 1.0, 2.1)."""
        return metadata.get("backchannel_logout_supported") is True

    # -- the Identity Pool ----------------------------------------------------------------

    #: Any issuer, as an IAM OIDC provider of its URL (kinds built on this one declare their
    #: own), with no role mapping: no standard claim says "staff" exactly, so an issuer's
    #: identities get the pool's authenticated role unless the operator maps an exact
    #: claim of that issuer (its groups, say) with a rule of their own.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(
            PoolRegistration.OIDC_PROVIDER, name="Oidc", resource="OidcProvider",
            provider="${OidcIssuer}",
            parameters=(TemplateParameter(
                "OidcIssuer", "Optional: any OpenID Connect issuer, exactly as its tokens' "
                "iss (https://login.example.com/corp)"),),
            client_id=TemplateParameter("OidcClientId", "That issuer's client id for this site"),
        ),
    )

    @property
    def logins_key(self) -> str:
        """Identity Pool ``Logins`` key for an OIDC provider: the issuer without scheme."""
        assert self.issuer is not None
        parts = urlsplit(self.issuer)
        return (parts.netloc + parts.path).rstrip("/")

    def logins(self, auth: SignIn) -> dict[str, str]:
        """The Identity Pool ``Logins`` map: this kind's key and the validated id token."""
        return {self.logins_key: auth.tokens.id_token or ""}

    def pool_provider(self) -> dict[str, Any]:
        """How this provider is registered on an Identity Pool (and so what the pool checks)."""
        return {"logins_key": self.logins_key, "type": "oidc",
                "issuer": self.issuer, "client_ids": [self.client_id]}


def refresh_token_of(auth: SignIn | None) -> str | None:
    return auth.tokens.refresh_token if auth is not None else None


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
