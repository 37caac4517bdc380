"""Google's OpenID Connect, as a web server app sees it.

Quirks owned here: the endpoints are spread over several paths as Google's
are over several hosts; a refresh token only with ``access_type=offline`` and,
for a user who already consented, only again with ``prompt=consent``; the
revoke endpoint takes the token alone (no client credentials) and revoking
either token ends the grant; no end-session endpoint; ``azp`` in id tokens; ``hd``
(hosted domain) in id tokens and userinfo for a Google Workspace account only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .flavour import Flavour
from .store import AuthorizationCode, SignedInUser, User
from .tenant import stable_digits

if TYPE_CHECKING:
    from .tenant import Tenant


class Google(Flavour):
    name = "google"
    brand = "Google"
    colour = "#1a73e8"
    revoke_auth_methods = ("token_owner",)
    revoking_access_revokes_grant = True
    claims_supported = (*Flavour.claims_supported, "azp", "picture", "given_name",
                        "family_name")
    denial: ClassVar[dict[str, str | None]] = {"error_description": None}
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("Error 401: invalid_client", "The OAuth client was not found."),
        "redirect_mismatch": (
            "Error 400: redirect_uri_mismatch",
            "Access blocked: This app's request is invalid. You can't sign in because this "
            "app sent an invalid request. If you are a developer of this app, see error "
            "details.",
        ),
        "bad_request": ("Error 400: invalid_request", "This app sent an invalid request."),
    }

    @property
    def issuer(self) -> str:
        return f"{self.base}/google"

    def paths(self) -> dict[str, str]:
        return {
            "authorize": "/google/o/oauth2/v2/auth",
            "token": "/google/token",
            "userinfo": "/google/v1/userinfo",
            "jwks": "/google/oauth2/v3/certs",
            "revoke": "/google/revoke",
            "discovery": "/google/.well-known/openid-configuration",
        }

    def make_sub(self, user_key: str) -> str:
        return stable_digits(f"google#{user_key}", 21)

    def issues_refresh_token(self, code: AuthorizationCode) -> bool:
        # Offline access, and the consent screen shown in this authorization:
        # the first time, or again because the app sent prompt=consent.
        return code.extras.get("access_type") == "offline" and bool(
            code.extras.get("consent_shown")
        )

    def profile_claims(self, user: User, scope: str) -> dict[str, Any]:
        """The standard claims, and Google's picture and name parts with ``profile``."""
        claims = super().profile_claims(user, scope)
        if "profile" in scope.split():
            claims.update(picture=self.avatar_url(user), given_name=user.given_name,
                          family_name=user.family_name)
        return claims

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        claims = super().id_token_claims(tenant, claims, signed_in, scope)
        claims.pop("auth_time", None)
        return {"azp": claims["aud"], **claims, **self.workspace_claims(signed_in.user)}

    def userinfo(self, tenant: Tenant, user: User, scope: str) -> dict[str, Any]:
        return {**super().userinfo(tenant, user, scope), **self.workspace_claims(user)}

    def workspace_claims(self, user: User) -> dict[str, Any]:
        """``hd``, the domain of the Google Workspace that manages the account, whatever
        the scope; none for a personal account, even one made for an address at a
        Workspace's domain. Google's own words: provided only if the user belongs to a
        hosted domain, and (unlike the ``hd`` authorization parameter, a hint for the
        account chooser) to be trusted, being in a token Google signs."""
        return {"hd": user.hosted_domain} if user.hosted_domain else {}
