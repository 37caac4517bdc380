"""Google accounts.

Quirks owned here: id tokens may say ``accounts.google.com`` without the scheme;
a site restricted to one Workspace domain checks the id token's ``hd`` itself;
a refresh token comes only with ``access_type=offline``, and for a returning
user only again with ``prompt=consent``; Google has no end-session endpoint, so
signing out of this site leaves the visitor signed in to Google.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import steps, tokens
from .base import (
    MappingRule,
    MatchType,
    PoolRegistration,
    PoolTemplate,
    ProviderConfigError,
    RoleMapping,
    RoleMappingType,
    SignOut,
    TemplateParameter,
    url_setting,
)
from .oidc import OpenIDConnect, refresh_token_of

if TYPE_CHECKING:
    from ..oauth import ProviderClient
    from ..records import SignIn

ISSUER = "https://accounts.google.com"
#: Google's key in an Identity Pool's ``Logins`` map and ``SupportedLoginProviders``.
LOGINS_DOMAIN = "accounts.google.com"

#: The Google Workspace domain whose accounts get the ``admins`` role. The name stays
#: what deployments already pass, though it is now matched with the id token's ``hd``.
STAFF_DOMAIN = TemplateParameter(
    "StaffEmailDomain", "Optional: the Google Workspace domain (example.com) whose "
    "accounts get the admins role from a Google sign-in (the id token's hd)")

#: Google's mapping: a Workspace account of the staff domain gets the admins role,
#: anyone else the authenticated role. Google puts ``hd`` (hosted domain) in the id
#: token only for an account its Workspace manages, and only a domain's verified owner
#: has a Workspace of it, so ``hd`` Equals is exact, where an e-mail rule is not
#: (AWS's rules have no "ends with", and a personal Google account can be made, and
#: its address verified, for any address). No ``email_verified`` rule comes first:
#: that guarded a rule on the e-mail, and ``hd`` does not read the e-mail.
STAFF_BY_HOSTED_DOMAIN = RoleMapping(
    RoleMappingType.RULES,
    rules=(MappingRule("hd", MatchType.EQUALS, "${StaffEmailDomain}", "admins"),),
    parameters=(STAFF_DOMAIN,),
)


class Google(OpenIDConnect):
    """A Google OAuth client (web application): the OpenID Connect defaults, with
    Google's two issuer spellings, offline access and no end-session endpoint."""

    KIND: ClassVar[str] = "google"
    DISPLAY_NAME: ClassVar[str] = "Google"
    MARK: ClassVar[str] = "google"
    #: Google's ``picture`` claim names its image server.
    PICTURE_ORIGINS: ClassVar[tuple[str, ...]] = ("https://lh3.googleusercontent.com",)
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("openid", "email", "profile")
    KEYS: ClassVar[Mapping[str, str]] = {
        "prompt": "consent (default: Google then issues a refresh token on every sign-in), "
                  "or '' to skip the consent screen for returning users (no new refresh token)",
        "hosted_domain": "optional: restrict the chooser to one Google Workspace domain (hd)",
        "issuer": "optional override of https://accounts.google.com (a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Google Cloud console > APIs & Services > Credentials > your OAuth 2.0 "
                    "Client ID (Web application): Authorized redirect URIs",
        "sign_out": None,
        "origin": "the same client: Authorized JavaScript origins",
    }
    #: Google sends no logout tokens (no Back-Channel Logout).
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = False

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        issuer = url_setting(raw, "issuer", ISSUER)
        prompt = raw.get("prompt", "consent")
        if prompt not in ("consent", "", "select_account", "consent select_account"):
            raise ProviderConfigError(".prompt: consent, select_account or ''")
        params = {"access_type": "offline"}
        if prompt:
            params["prompt"] = prompt
        if raw.get("hosted_domain"):
            params["hd"] = raw["hosted_domain"]
        # Google's id tokens name their issuer "https://accounts.google.com" or, as
        # it documents, "accounts.google.com": the same issuer without its scheme.
        aliases = (issuer.split("://", 1)[-1],)
        return {
            "issuer": issuer,
            "issuer_aliases": aliases,
            "authorize_params": params,
            "token_auth_method": "client_secret_post",
            "settings": {},
        }

    def check_claims(self, claims: dict[str, Any]) -> None:
        """With ``hosted_domain`` set, only a Workspace account of that domain signs in.

        The ``hd`` request parameter only narrows Google's account chooser, and the
        visitor can change the request: Google's guidance is to accept only an id
        token whose ``hd`` claim is the domain (a personal account, even one with
        an address at that domain, has none)."""
        domain = self.authorize_params.get("hd")
        if domain and claims.get("hd") != domain:
            raise tokens.reject("hd", domain, claims.get("hd"))
        if domain:
            steps.passed(f"hd: {domain}")

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        refresh_token = refresh_token_of(auth)
        endpoint = client.metadata.get("revocation_endpoint")
        revocation = ((endpoint, {"token": refresh_token}, None)
                      if endpoint and refresh_token else None)
        return SignOut(None, revocation, "You were signed out of this site, but Google has no "
                       "sign-out endpoint: you are still signed in to Google in this browser.")

    #: A supported login provider: the pool checks the id token's ``aud`` itself; its
    #: identities' role by the id token's ``hd`` (:data:`STAFF_BY_HOSTED_DOMAIN`).
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(
            PoolRegistration.LOGIN_PROVIDER, name="Google", provider=LOGINS_DOMAIN,
            client_id=TemplateParameter("GoogleClientId",
                                        "The Google web client id (the id token's aud)"),
            role_mapping=STAFF_BY_HOSTED_DOMAIN,
        ),
    )

    @property
    def logins_key(self) -> str:
        return LOGINS_DOMAIN
