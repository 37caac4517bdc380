"""Auth0 tenants.

Quirks owned here: the issuer is ``https://{domain}/`` with a trailing slash;
``audience`` and ``connection`` go on the authorize request; a refresh token
comes only with ``offline_access``; sign-out is ``/v2/logout?client_id&returnTo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from .base import (
    PoolRegistration,
    PoolTemplate,
    SignOut,
    TemplateParameter,
    require,
    url_setting,
)
from .oidc import OpenIDConnect, refresh_token_of

if TYPE_CHECKING:
    from ..oauth import ProviderClient
    from ..records import SignIn


class Auth0(OpenIDConnect):
    """An Auth0 application: the OpenID Connect defaults, with Auth0's issuer
    spelling, authorize parameters and ``/v2/logout``."""

    KIND: ClassVar[str] = "auth0"
    DISPLAY_NAME: ClassVar[str] = "Auth0"
    MARK: ClassVar[str] = "auth0"
    #: Auth0's default ``picture`` is a Gravatar URL whose fallback (``d=``) redirects
    #: to Auth0's own avatar CDN; social connections pass Google's on.
    PICTURE_ORIGINS: ClassVar[tuple[str, ...]] = (
        "https://s.gravatar.com", "https://cdn.auth0.com", "https://lh3.googleusercontent.com")
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("openid", "email", "profile", "offline_access")
    KEYS: ClassVar[Mapping[str, str]] = {
        "domain": "the tenant domain, e.g. example.us.auth0.com (or a custom domain)",
        "audience": "optional: the API identifier to get an access token for",
        "connection": "optional: a connection to go straight to, e.g. google-oauth2",
        "base_url": "optional override of https://{domain} (a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Auth0 Dashboard > Applications > your application > Settings: "
                    "Allowed Callback URLs",
        "sign_out": "the same Settings: Allowed Logout URLs",
        "origin": "the same Settings: Allowed Web Origins",
        "backchannel_logout": "the same Settings, OpenID Connect Back-Channel Logout: "
                              "Back-Channel Logout URI",
    }
    #: Auth0 sends logout tokens to the application's Back-Channel Logout URI.
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = True
    BROWSER_SETTINGS: ClassVar[tuple[str, ...]] = ("base_url",)
    URL_KEYS: ClassVar[tuple[str, ...]] = ("issuer", "base_url", "domain")

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
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

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        url = self.endpoints["logout"] + "?" + urlencode(
            {"client_id": self.client_id, "returnTo": return_to}
        )
        revocation = self.revocation(client, refresh_token_of(auth), self.endpoints["revoke"])
        return SignOut(url, revocation, "You were signed out here and at Auth0.")

    #: An IAM OIDC provider of the tenant's issuer, ``https://{domain}/``, with no role
    #: mapping: its identities get the pool's authenticated role. Auth0's standard
    #: claims name no staff exactly (AWS's rules cannot match an e-mail's domain:
    #: ``Contains`` also takes longer domains), so an admin's role needs a claim the
    #: operator makes exact (an Action's namespaced claim, an Organization's ``org_id``)
    #: and a rule of their own for it: the README's deploy section says how.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(
            PoolRegistration.OIDC_PROVIDER, name="Auth0", resource="Auth0OidcProvider",
            provider="https://${Auth0Domain}/",
            parameters=(TemplateParameter("Auth0Domain", "e.g. example.us.auth0.com"),),
            client_id=TemplateParameter("Auth0ClientId"),
        ),
    )

    @property
    def logins_key(self) -> str:
        """Auth0 is an IAM OIDC provider; its ``Logins`` key is the domain without scheme."""
        return str(self.settings["domain"])
