"""What makes one provider different from another, as a small class.

A :class:`Flavour` subclass per provider (``cognito.py``, ``auth0.py``,
``google.py``, ``facebook.py``, ``apple.py``, ``oidc.py``) says where its endpoints live, what
its tokens and userinfo contain, when it issues refresh tokens, and how it
words its errors. The shared machinery (``oauth_server.py``, ``views.py``,
``federation.py``) never branches on the provider's name; it asks the flavour.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import flask
from authlib.oauth2.rfc6749 import OAuth2Error

from . import pages
from .oauth_server import CLIENT_AUTH_METHODS, CodeGrant, RefreshGrant, new_opaque_token
from .settings import Behaviour, Settings
from .store import AuthorizationCode, Client, SignedInUser, User

if TYPE_CHECKING:
    from .tenant import Tenant


@dataclass(frozen=True)
class Route:
    """An extra endpoint a flavour serves beside the standard ones."""

    rule: str
    endpoint: str  # the name calls are counted under
    view: Callable[..., Any]
    methods: tuple[str, ...] = ("GET",)


class Flavour:
    name: ClassVar[str]
    brand: ClassVar[str]
    colour: ClassVar[str] = "#444"
    #: RFC 9207: ``iss`` on every authorization response.
    sends_iss_parameter: ClassVar[bool] = False
    #: How authorization responses can be sent back (OAuth 2.0 Multiple Response
    #: Types, Form Post Response Mode): another ``response_mode`` is refused.
    response_modes: ClassVar[tuple[str, ...]] = ("query", "form_post")
    #: Where the real provider is less kind than the specifications allow; the
    #: settings (``behaviour``) and the control API switch these per tenant.
    behaviour: ClassVar[Behaviour] = Behaviour()
    refresh_returns_id_token: ClassVar[bool] = True
    #: Logout tokens to clients' back-channel logout URIs (OpenID Connect
    #: Back-Channel Logout 1.0, :mod:`.backchannel`), advertised in discovery.
    sends_logout_tokens: ClassVar[bool] = False
    #: The ``typ`` of its logout tokens' header (None: no typ).
    logout_token_typ: ClassVar[str | None] = "logout+jwt"
    #: Which tokens the revoke endpoint accepts, and how the client authenticates there.
    revocable: ClassVar[tuple[str, ...]] = ("access_token", "refresh_token")
    revoke_auth_methods: ClassVar[tuple[str, ...]] = tuple(CLIENT_AUTH_METHODS)
    #: Revoking an access token revokes the whole grant (Google does).
    revoking_access_revokes_grant: ClassVar[bool] = False
    default_scope: ClassVar[str] = "openid"
    #: What Cognito asks for when it federates to this provider, and how it asks
    #: for the answer (Apple's comes as a form_post to ``/oauth2/idpresponse``).
    federation_scope: ClassVar[str] = "openid email profile"
    federation_response_mode: ClassVar[str] = "query"
    #: Whether Cognito, federating here, reads userinfo when the id token lacks the
    #: e-mail or name (OpenID Connect Core 5.4); Apple has no userinfo endpoint.
    federation_reads_userinfo: ClassVar[bool] = True
    scopes_supported: ClassVar[tuple[str, ...]] = ("openid", "email", "profile")
    claims_supported: ClassVar[tuple[str, ...]] = (
        "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
        "email", "email_verified", "name",
    )
    #: Changes to the ``error=access_denied`` redirect after "Deny" (None drops a parameter).
    denial: ClassVar[dict[str, str | None]] = {}
    #: Titles and messages of the provider's own error pages, by kind.
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("Unknown client", "The client_id is not registered here."),
        "redirect_mismatch": ("Invalid redirect_uri",
                              "The redirect_uri is not registered for this client."),
        "logout_mismatch": ("Invalid logout URL",
                            "The sign-out redirect URL is not registered for this client."),
        "bad_request": ("Bad request", "This request is not valid; start the sign-in again."),
    }

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.base_url
        self.branding = pages.Branding(self.name, self.brand, self.colour)

    # -- where things are -------------------------------------------------------

    @property
    def issuer(self) -> str:
        raise NotImplementedError

    def paths(self) -> dict[str, str]:
        """URL rules of the standard endpoints by name: ``authorize``, ``token``,
        ``userinfo``, ``jwks``, ``discovery``, ``revoke``."""
        raise NotImplementedError

    def url(self, name: str) -> str:
        return self.base + self.paths()[name]

    def authorize_url(self) -> str:
        return self.url("authorize")

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        return []

    def end_session_endpoint(self) -> str | None:
        return None

    # -- who and what -------------------------------------------------------------

    def make_sub(self, user_key: str) -> str:
        raise NotImplementedError

    def make_access_token(self, tenant: Tenant, client: Client, signed_in: SignedInUser,
                          scope: str, lifetime: int) -> str:
        return new_opaque_token()

    def make_refresh_token(self) -> str:
        return new_opaque_token()

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        """Add the provider's own claims to the standard ones in ``claims``."""
        return {**claims, **self.profile_claims(signed_in.user, scope)}

    def profile_claims(self, user: User, scope: str) -> dict[str, Any]:
        claims: dict[str, Any] = {}
        scopes = scope.split()
        if "email" in scopes:
            claims.update(email=user.email, email_verified=True)
        if "profile" in scopes:
            claims.update(name=user.name)
        return claims

    def userinfo(self, tenant: Tenant, user: User, scope: str) -> dict[str, Any]:
        return {"sub": user.sub, **self.profile_claims(user, scope)}

    def avatar_url(self, user: User) -> str:
        return f"{self.base}/_avatar/{self.name}/{user.key}.svg"

    # -- tokens -------------------------------------------------------------------

    def grant_types(self) -> list[tuple[type, bool]]:
        """authlib grant classes, each with whether it takes the OpenID Connect extension."""
        return [(CodeGrant, True), (RefreshGrant, True)]

    def normalise_scope(self, scope: str) -> str:
        return scope

    def allowed_response_modes(self, scope: str) -> tuple[str, ...]:
        """The response modes a request for ``scope`` may ask for (Apple: form_post
        only when the name or e-mail is asked)."""
        return self.response_modes

    def first_authorization_fields(self, user: User, scope: str) -> dict[str, str]:
        """Fields the answer carries only when the person first authorizes the app
        (Apple's ``user``): none by default."""
        return {}

    def federation_client_secret(self, client: Client) -> str:
        """What Cognito's own client sends as its secret here (Apple's: a JWT)."""
        return client.client_secret

    def client_auth_methods(self, tenant: Tenant) -> dict[str, Callable[..., Any]]:
        """Client-authentication methods of the provider's own, by name (authlib's
        ``register_client_auth_method``): none beyond the standard ones by default."""
        return {}

    def issues_refresh_token(self, code: AuthorizationCode) -> bool:
        return True

    def shape_token_response(self, token: dict[str, Any]) -> dict[str, Any]:
        return token

    def discovery(self, tenant: Tenant) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("authorize"),
            "token_endpoint": self.url("token"),
            "jwks_uri": self.url("jwks"),
            "revocation_endpoint": self.url("revoke"),
            "response_types_supported": ["code"],
            "response_modes_supported": list(self.response_modes),
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(self.scopes_supported),
            "claims_supported": list(self.claims_supported),
            "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
        }
        if "userinfo" in self.paths():  # Apple has none
            document["userinfo_endpoint"] = self.url("userinfo")
        if end_session := self.end_session_endpoint():
            document["end_session_endpoint"] = end_session
        if self.sends_logout_tokens:
            document.update(backchannel_logout_supported=True,
                            backchannel_logout_session_supported=True)
        return document

    # -- errors ---------------------------------------------------------------------

    def error_page(self, kind: str, **details: str) -> flask.Response:
        """The provider's own page for a request it will not send back to the client."""
        title, message = self.error_texts.get(kind) or Flavour.error_texts[kind]
        return pages.notice(self.branding, title, message, status=400,
                            details={k: v for k, v in details.items() if v})

    def oauth_error_response(self, tenant: Tenant, error: OAuth2Error, status: int,
                             body: Any, headers: list[tuple[str, str]]) -> flask.Response:
        """RFC 6749 errors: a redirect to the client, or JSON from the token endpoint."""
        payload = json.dumps(body) if isinstance(body, dict) else body
        return flask.Response(payload, status=status, headers=headers)

    def federated_identity(self, http: Any, client: Client, code: str) -> dict[str, str] | None:
        """Cognito's federation to a provider with a protocol of its own: redeem
        ``code`` for Cognito's internal ``client`` over ``http`` (a test client of the
        stand-ins' app) and say who signed in (sub, email, name), or raise
        :class:`.federation.FederationError`. None (the default): the OpenID Connect
        way, the id token then userinfo (Facebook and Amazon, which have none, override
        it)."""
        return None

    def federated_name(self, form: Mapping[str, str]) -> str:
        """The name the provider's answer to Cognito carries beside the code (Apple
        posts it once, in ``user``), for a person whose identity has none: none by
        default."""
        return ""

    def before_sign_in(self, tenant: Tenant, client: Client) -> flask.Response | None:
        """A chance to send the browser elsewhere before the sign-in page (Cognito's
        ``identity_provider``)."""
        return None


def random_id() -> str:
    return secrets.token_hex(16)
