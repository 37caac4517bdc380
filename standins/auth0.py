"""Auth0 (a tenant on its own domain).

Quirks owned here: the issuer ends with a slash; a refresh token only when the
scope asks for ``offline_access``; two sign-out endpoints (``/v2/logout`` with
``returnTo``, and OIDC ``/oidc/logout``); ``sub`` is ``auth0|<id>``; its error
pages' wording.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

import flask

from . import views
from .flavour import Flavour, Route
from .store import AuthorizationCode, SignedInUser, User

if TYPE_CHECKING:
    from .tenant import Tenant


class Auth0(Flavour):
    name = "auth0"
    brand = "Auth0"
    colour = "#eb5424"
    revocable = ("refresh_token",)
    sends_logout_tokens = True
    #: Auth0's logout tokens are typed as plain JWTs.
    logout_token_typ = "JWT"
    scopes_supported = ("openid", "profile", "email", "offline_access")
    claims_supported = (*Flavour.claims_supported, "nickname", "picture", "sid", "updated_at")
    denial: ClassVar[dict[str, str | None]] = {
        "error_description": "User did not authorize the request"
    }
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("Oops!, something went wrong", "invalid_request: Unknown client"),
        "redirect_mismatch": (
            "Callback URL mismatch",
            "Callback URL mismatch. The provided redirect_uri is not in the list of allowed "
            "callback URLs. Please go to the Application Settings page and make sure you are "
            "sending a valid callback url from your application.",
        ),
        "logout_mismatch": (
            "Oops!, something went wrong",
            'invalid_request: The "returnTo" querystring parameter is not defined as a valid '
            'URL in "Allowed Logout URLs". To add a new URL, please do it here: '
            "https://manage.auth0.com/#/applications",
        ),
        "bad_request": ("Oops!, something went wrong", "invalid_request"),
    }

    @property
    def issuer(self) -> str:
        return f"{self.base}/auth0/"

    def paths(self) -> dict[str, str]:
        return {
            "authorize": "/auth0/authorize",
            "token": "/auth0/oauth/token",
            "userinfo": "/auth0/userinfo",
            "jwks": "/auth0/.well-known/jwks.json",
            "revoke": "/auth0/oauth/revoke",
            "discovery": "/auth0/.well-known/openid-configuration",
        }

    def end_session_endpoint(self) -> str:
        return f"{self.base}/auth0/oidc/logout"

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        def v2_logout() -> flask.Response:
            args = flask.request.args
            return views.sign_out(tenant, args.get("client_id"), args.get("returnTo"))

        return [
            Route("/auth0/v2/logout", "logout", v2_logout),
            Route("/auth0/oidc/logout", "logout",
                  lambda: views.rp_initiated_logout(tenant), ("GET", "POST")),
        ]

    def make_sub(self, user_key: str) -> str:
        return "auth0|" + hashlib.sha256(f"auth0#{user_key}".encode()).hexdigest()[:24]

    def issues_refresh_token(self, code: AuthorizationCode) -> bool:
        return "offline_access" in code.scope.split()

    def profile_claims(self, user: User, scope: str) -> dict[str, Any]:
        claims: dict[str, Any] = {}
        scopes = scope.split()
        if "profile" in scopes:
            claims.update(name=user.name, nickname=user.username,
                          picture=self.avatar_url(user), updated_at="2024-01-01T00:00:00.000Z")
        if "email" in scopes:
            claims.update(email=user.email, email_verified=True)
        return claims

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        return {**super().id_token_claims(tenant, claims, signed_in, scope),
                "sid": signed_in.sid}
