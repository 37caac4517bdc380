"""A plain, standard OpenID Connect provider ("any OIDC issuer"), as strict as
oidc-provider (panva's OpenID Certified provider) configured with care.

It does the newer things by the book: RFC 9207 ``iss`` on every authorization
response, RP-Initiated Logout at ``/end_session`` with a confirmation page;
scopes it does not offer are left out of the grant; a refresh token only for
``offline_access``, granted only with ``prompt=consent``; refresh tokens
rotated on every use; e-mail and name from userinfo only (OpenID Connect Core
5.4). Each can be switched off (:class:`.settings.Behaviour`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from . import views
from .flavour import Flavour, Route
from .settings import Behaviour
from .store import SignedInUser, User

if TYPE_CHECKING:
    from .tenant import Tenant


class GenericOIDC(Flavour):
    name = "oidc"
    brand = "Generic OIDC"
    colour = "#2d6a4f"
    sends_iss_parameter = True
    sends_logout_tokens = True  # typed logout+jwt, as oidc-provider does
    behaviour = Behaviour(rotate_refresh_tokens=True, confirm_sign_out=True,
                          profile_in_id_token=False, drops_unknown_scopes=True,
                          offline_access_needs_consent=True)
    scopes_supported = ("openid", "email", "profile", "offline_access")
    claims_supported = (*Flavour.claims_supported, "preferred_username", "groups", "sid")
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "redirect_mismatch": ("invalid_request",
                              "The redirect_uri is not registered for this client."),
        "logout_mismatch": ("invalid_request",
                            "The post_logout_redirect_uri is not registered for this client."),
    }

    @property
    def issuer(self) -> str:
        return f"{self.base}/oidc"

    def paths(self) -> dict[str, str]:
        return {
            "authorize": "/oidc/authorize",
            "token": "/oidc/token",
            "userinfo": "/oidc/userinfo",
            "jwks": "/oidc/jwks",
            "revoke": "/oidc/revoke",
            "discovery": "/oidc/.well-known/openid-configuration",
        }

    def end_session_endpoint(self) -> str:
        return f"{self.base}/oidc/end_session"

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        return [Route("/oidc/end_session", "logout",
                      lambda: views.rp_initiated_logout(tenant), ("GET", "POST"))]

    def make_sub(self, user_key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}#{user_key}"))

    def profile_claims(self, user: User, scope: str) -> dict[str, Any]:
        claims = super().profile_claims(user, scope)
        if "profile" in scope.split():
            claims["preferred_username"] = user.username
        if user.groups:
            claims["groups"] = list(user.groups)
        return claims

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        return {**super().id_token_claims(tenant, claims, signed_in, scope),
                "sid": signed_in.sid}

    def discovery(self, tenant: Tenant) -> dict[str, Any]:
        return {**super().discovery(tenant),
                "authorization_response_iss_parameter_supported": True}
