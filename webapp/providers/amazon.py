"""Login with Amazon: plain OAuth 2, not OpenID Connect.

There is no id token, no discovery and no end-session endpoint, so nothing in
the token response says who signed in or whom the token was issued to. This
class asks Amazon's token-info endpoint about the access token first: it must
have been issued to this client (``aud``) of this security profile
(``app_id``), by Amazon (``iss``). Only then is the profile read, and it must
be about the same Amazon account (``user_id``) token-info vouched for; that
``user_id`` is the subject. Amazon's refresh token does not expire and is not
rotated: the same one is kept. Signing out is app-only: Amazon offers no
sign-out redirect, so the visitor stays signed in to Amazon.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import steps
from ..errors import FedlabError
from ..records import Renewed, SignIn, Verified
from .answers import answer_json
from .base import (
    PoolRegistration,
    PoolTemplate,
    ProviderConfigError,
    TemplateParameter,
    require,
    url_setting,
)
from .plain_oauth2 import PlainOAuth2

if TYPE_CHECKING:
    from ..oauth import ProviderClient

#: Amazon's key in an Identity Pool's ``Logins`` map and ``SupportedLoginProviders``.
LOGINS_DOMAIN = "www.amazon.com"
#: How a security profile's id (the pool's "Amazon app ID") begins.
APP_ID_PREFIX = "amzn1.application."


class Amazon(PlainOAuth2):
    """A Login with Amazon security profile: plain OAuth 2, whose access token is
    vouched for by Amazon's token-info endpoint before anyone is signed in (the
    module docstring says why)."""

    KIND: ClassVar[str] = "amazon"
    LOGINS_KEY: ClassVar[str] = LOGINS_DOMAIN
    DISPLAY_NAME: ClassVar[str] = "Amazon"
    #: Login with Amazon's profile has no picture.
    MARK: ClassVar[str] = "amazon"
    #: ``profile`` gives user_id, name and e-mail (``profile:user_id`` only the id,
    #: ``postal_code`` the postal code).
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("profile",)
    KEYS: ClassVar[Mapping[str, str]] = {
        "app_id": "the security profile's ID, amzn1.application.... (the identity pool's "
                  "Amazon app ID; token-info's app_id)",
        "www_url": "optional override of https://www.amazon.com (a stand-in)",
        "api_url": "optional override of https://api.amazon.com (a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Amazon Developer console > Login with Amazon > your security profile > "
                    "Web Settings: Allowed Return URLs",
        "sign_out": None,
        "origin": "the same Web Settings: Allowed Origins",
    }
    URL_KEYS: ClassVar[tuple[str, ...]] = ("www_url", "api_url")

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        app_id = require(raw, "app_id", "the security profile ID from the Login with Amazon "
                                        "console (amzn1.application....)")
        if not app_id.startswith(APP_ID_PREFIX):
            raise ProviderConfigError(f".app_id: must start with {APP_ID_PREFIX} (the security "
                                      f"profile ID, not the client ID)")
        www = url_setting(raw, "www_url", "https://www.amazon.com")
        api = url_setting(raw, "api_url", "https://api.amazon.com")
        return {
            "issuer": None,
            "endpoints": {
                "authorization_endpoint": f"{www}/ap/oa",
                "token_endpoint": f"{api}/auth/o2/token",
                "tokeninfo": f"{api}/auth/o2/tokeninfo",
                "profile": f"{api}/user/profile",
            },
            # Amazon takes the client's credentials in the form (or HTTP Basic).
            "token_auth_method": "client_secret_post",
            "settings": {"app_id": app_id, "www_url": www, "api_url": api},
        }

    @property
    def token_issuer(self) -> str:
        """Who issues the tokens: token-info's ``iss`` (``https://www.amazon.com``),
        the issuer of every sign-in through this kind."""
        return str(self.settings["www_url"])

    # -- signing in ---------------------------------------------------------------------

    def sign_in(self, client: ProviderClient, token: dict[str, Any],
                nonce: str | None) -> Verified:
        """Who signed in: token-info says whose token this is and for which client,
        then the profile (there is no id token) must be about that account."""
        access_token = token.get("access_token")
        if not access_token:
            raise FedlabError("provider_bad_response", provider=self.name,
                              endpoint="token", detail="no access_token")
        with steps.checking("access token checks"):
            claims = self.token_info(client, access_token)
            steps.passed("tokeninfo aud: this client")
            steps.passed("tokeninfo app_id: this security profile")
            steps.passed("tokeninfo iss: Amazon")
            steps.passed("tokeninfo exp: not passed")
        profile = self.profile(client, access_token, claims["sub"])
        return Verified(iss=claims["iss"], sub=claims["sub"], claims=claims, userinfo=profile)

    def token_info(self, client: ProviderClient, access_token: str) -> dict[str, Any]:
        """Amazon's answer about ``access_token``, checked: issued by Amazon, to this
        client of this security profile, for an account; as claims."""
        response = client.call("GET", self.endpoints["tokeninfo"], "tokeninfo",
                               params={"access_token": access_token})
        if response.status_code == 400:
            # {"error": "invalid_token", ...}: expired, revoked or never issued.
            raise FedlabError("token_not_for_this_app", provider=self.name,
                              detail="the token is not valid (invalid_token)")
        info = answer_json(self, "tokeninfo", response.status_code, response.content)
        if info.get("aud") != self.client_id:
            raise FedlabError("token_not_for_this_app", provider=self.name,
                              detail=f"aud {info.get('aud')!r}, not {self.client_id!r}")
        if info.get("app_id") != self.settings["app_id"]:
            raise FedlabError("token_not_for_this_app", provider=self.name,
                              detail=f"app_id {info.get('app_id')!r}, not "
                                     f"{self.settings['app_id']!r}")
        if info.get("iss") != self.token_issuer:
            raise FedlabError("token_not_for_this_app", provider=self.name,
                              detail=f"iss {info.get('iss')!r}, not {self.token_issuer!r}")
        user_id, left = info.get("user_id"), info.get("exp")
        if not isinstance(user_id, str) or not user_id:
            raise FedlabError("provider_bad_response", provider=self.name,
                              endpoint="tokeninfo", detail="no user_id")
        if not isinstance(left, int) or left <= 0:
            raise FedlabError("token_not_for_this_app", provider=self.name,
                              detail="the token has expired")
        # Token-info's exp is the seconds left, not a time: kept as one, as a JWT's is.
        return {"iss": self.token_issuer, "sub": user_id, "aud": info["aud"],
                "app_id": info["app_id"], "exp": int(time.time()) + left,
                "iat": info.get("iat")}

    def profile(self, client: ProviderClient, access_token: str, user_id: str) -> dict[str, Any]:
        """``/user/profile`` with the bearer token; only an answer about ``user_id``."""
        profile = client.get_json(self.endpoints["profile"], "profile",
                                  access_token=access_token)
        if profile.get("user_id") != user_id:
            raise FedlabError("userinfo_sub_mismatch", expected=user_id,
                              got=profile.get("user_id"))
        return profile

    def userinfo(self, client: ProviderClient, auth: SignIn) -> dict[str, Any]:
        """Ask the profile again (Amazon's userinfo), as the account page's button does
        for every provider."""
        access_token = self.held_access_token(auth)
        return self.profile(client, access_token, auth.sub)

    def refresh(self, client: ProviderClient, auth: SignIn) -> Renewed:
        """A new access token (the refresh token stays: Amazon neither expires nor
        rotates it), checked at token-info as at sign-in and for the same account."""
        if not auth.tokens.refresh_token:
            raise FedlabError("refresh_unavailable", provider=self.name,
                              detail="no refresh token is held")
        token = client.refresh(auth.tokens.refresh_token)
        if not token.get("access_token"):
            raise FedlabError("provider_bad_response", provider=self.name,
                              endpoint="token", detail="no access_token")
        claims = self.token_info(client, token["access_token"])
        if claims["sub"] != auth.sub:
            raise FedlabError("userinfo_sub_mismatch", expected=auth.sub, got=claims["sub"])
        return Renewed(tokens=token, claims=claims)

    # -- the Identity Pool ----------------------------------------------------------------

    #: A supported login provider: the pool asks Amazon whether a token is this security
    #: profile's. No role mapping: an access token carries no claims for rules to read,
    #: so an Amazon identity always gets the pool's authenticated role.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="Amazon", provider=LOGINS_DOMAIN,
                     client_id=TemplateParameter(
                         "AmazonAppId", "Optional: the Login with Amazon security profile ID, "
                                        "amzn1.application....")),
    )


    def pool_provider(self) -> dict[str, Any]:
        """On an Identity Pool, Amazon is its security profile's app id; the pool asks
        Amazon's token-info about tokens."""
        return {"logins_key": self.logins_key, "type": "amazon",
                "tokeninfo_url": self.endpoints["tokeninfo"],
                "app_id": self.settings["app_id"]}
