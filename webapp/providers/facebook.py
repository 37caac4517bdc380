"""Facebook Login: plain OAuth 2, not OpenID Connect, on the web.

There is no id token, no discovery and no refresh token, so nothing in the
token response says who signed in or whom it was issued to. This class asks
Graph's ``debug_token`` (with the app token) whether the access token belongs
to this app, and reads ``/me`` with ``appsecret_proof`` (in one batch request),
and only then trusts the user id. Signing out is app-only: Facebook offers no
sign-out redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import requests
from authlib.common.urls import add_params_to_uri

from .. import steps
from ..errors import FedlabError
from ..pagewords import page_words
from ..records import Renewed, SignIn, Verified
from .answers import answer_json
from .base import (
    PoolRegistration,
    PoolTemplate,
    ProviderConfigError,
    TemplateParameter,
    url_setting,
)
from .console import Form
from .plain_oauth2 import PlainOAuth2

if TYPE_CHECKING:
    from ..oauth import ProviderClient

VERSION = re.compile(r"^v\d+\.\d+$")
#: What the site reads of a Facebook profile.
PROFILE_FIELDS = "id,name,email,picture"
#: Facebook's key in an Identity Pool's ``Logins`` map and ``SupportedLoginProviders``.
LOGINS_DOMAIN = "graph.facebook.com"


class Facebook(PlainOAuth2):
    """A Facebook app: plain OAuth 2, whose access token is vouched for by Graph's
    ``debug_token`` before anyone is signed in (the module docstring says why)."""

    KIND: ClassVar[str] = "facebook"
    LOGINS_KEY: ClassVar[str] = LOGINS_DOMAIN
    DISPLAY_NAME: ClassVar[str] = "Facebook"
    MARK: ClassVar[str] = "facebook"
    #: ``/me?fields=picture`` answers a URL on Facebook's profile-picture host.
    PICTURE_ORIGINS: ClassVar[tuple[str, ...]] = ("https://platform-lookaside.fbsbx.com",)
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("email", "public_profile")
    KEYS: ClassVar[Mapping[str, str]] = {
        "graph_version": "the Graph API version, e.g. v21.0",
        "dialog_url": "optional override of https://www.facebook.com (a stand-in)",
        "graph_url": "optional override of https://graph.facebook.com (a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Meta for Developers > your app > Facebook Login > Settings: "
                    "Valid OAuth Redirect URIs",
        "sign_out": None,
        "origin": "App settings > Basic: App Domains",
    }
    #: App Domains takes domain names (``site.example``), not URLs.
    CONSOLE_FORMS: ClassVar[Mapping[str, Form]] = {"origin": Form.HOST}
    #: Facebook's login dialog joins scopes with commas.
    SCOPE_SEPARATOR: ClassVar[str] = ","
    URL_KEYS: ClassVar[tuple[str, ...]] = ("dialog_url", "graph_url")

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        version = raw.get("graph_version", "v21.0")
        if not isinstance(version, str) or not VERSION.match(version):
            raise ProviderConfigError(".graph_version: must look like v21.0")
        dialog = url_setting(raw, "dialog_url", "https://www.facebook.com")
        graph = url_setting(raw, "graph_url", "https://graph.facebook.com")
        return {
            "issuer": None,
            "endpoints": {
                "authorization_endpoint": f"{dialog}/{version}/dialog/oauth",
                "token_endpoint": f"{graph}/{version}/oauth/access_token",
                "me": f"{graph}/{version}/me",
                "batch": f"{graph}/{version}/",
            },
            "token_auth_method": "client_secret_query",
            "client_auth_methods": (("client_secret_query", client_secret_query),),
            "token_request_method": "GET",
            "settings": {"graph_version": version, "graph_url": graph},
        }

    # -- signing in ---------------------------------------------------------------------

    def sign_in(self, client: ProviderClient, token: dict[str, Any],
                nonce: str | None) -> Verified:
        """Who signed in, from ``debug_token`` (is the token this app's, and whose?) and
        ``/me`` (the name: there is no id token), asked in one batch request."""
        access_token = token.get("access_token")
        if not access_token:
            raise FedlabError("provider_bad_response", provider=self.name,
                              endpoint="token", detail="no access_token")
        check = urlencode({"input_token": access_token,
                           "access_token": f"{self.client_id}|{self.client_secret}"})
        answer, me = self.graph_batch(client, access_token, [f"debug_token?{check}",
                                                             f"me?fields={PROFILE_FIELDS}"])
        with steps.checking("access token checks"):
            debug = answer.get("data") or {}
            if str(debug.get("app_id")) != self.client_id:
                raise FedlabError("token_not_for_this_app", provider=self.name,
                                  detail=f"app_id {debug.get('app_id')!r}, "
                                         f"not {self.client_id!r}")
            steps.passed("debug_token app_id: this app")
            if debug.get("is_valid") is not True or not debug.get("user_id"):
                raise FedlabError("token_not_for_this_app", provider=self.name,
                                  detail="the token is not valid")
            steps.passed("debug_token is_valid, with a user_id")
            check_profile(me, str(debug["user_id"]))
            steps.passed("/me id: debug_token's user_id")
        claims = {"iss": self.settings["graph_url"], "sub": str(debug["user_id"]),
                  "app_id": debug.get("app_id"), "scopes": debug.get("scopes", []),
                  "exp": debug.get("expires_at")}
        return Verified(iss=claims["iss"], sub=claims["sub"], claims=claims, userinfo=me)

    def graph_batch(self, client: ProviderClient, access_token: str,
                    relative_urls: list[str]) -> list[dict[str, Any]]:
        """Several Graph GETs in one round trip (Graph's batch request), answered in order.

        ``access_token`` and its ``appsecret_proof`` go with every operation that
        names no token of its own. Each answer must be a 200 with a JSON object.
        """
        response = client.call("POST", self.endpoints["batch"], "batch", data={
            "access_token": access_token,
            "appsecret_proof": appsecret_proof(self.client_secret, access_token),
            "include_headers": "false",
            "batch": json.dumps([{"method": "GET", "relative_url": url}
                                 for url in relative_urls]),
        })
        answers = answer_json(self, "batch", response.status_code, response.content, list)
        for url, answer in zip(relative_urls, answers, strict=False):
            # Each operation of the batch, as Graph ran it (the batch's POST carried them).
            path, _, query = url.partition("?")
            steps.note(steps.Step(
                source=steps.SITE, target=steps.PROVIDER, what=f"batch: {path}",
                method="GET", path=f"/{self.settings['graph_version']}/{path}",
                params=steps.unique(steps.form_names(query)),
                outcome=str(answer.get("code", "")) if isinstance(answer, dict) else "",
                note="inside the batch request"))
        if len(answers) != len(relative_urls):
            raise FedlabError("provider_bad_response", provider=self.name, endpoint="batch",
                              detail=f"{len(answers)} answers to {len(relative_urls)} requests")
        # Graph answers each operation as {"code": status, "body": "<JSON text>"}.
        return [answer_json(self, url.partition("?")[0], answer.get("code"), answer.get("body"))
                if isinstance(answer, dict) else
                answer_json(self, url.partition("?")[0], None, None)
                for url, answer in zip(relative_urls, answers, strict=True)]

    def picture_of(self, profile: Mapping[str, Any]) -> str | None:
        """Graph's ``picture`` field is an object: ``{"data": {"url": ...,
        "is_silhouette": ...}}``; the grey silhouette is no picture of anyone."""
        picture = profile.get("picture")
        data = picture.get("data") if isinstance(picture, dict) else None
        if not isinstance(data, dict) or data.get("is_silhouette") is True:
            return None
        return super().picture_of({"picture": data.get("url")})

    def userinfo(self, client: ProviderClient, auth: SignIn) -> dict[str, Any]:
        """Ask ``/me`` again (Facebook's userinfo), as the account page's button does
        for every provider; proven with ``appsecret_proof``."""
        access_token = self.held_access_token(auth)
        me = client.get_json(self.endpoints["me"], "me", params={
            "fields": PROFILE_FIELDS,
            "access_token": access_token,
            "appsecret_proof": appsecret_proof(self.client_secret, access_token),
        })
        check_profile(me, auth.sub)
        return me

    def refresh(self, client: ProviderClient, auth: SignIn) -> Renewed:
        raise FedlabError("refresh_unavailable", provider=self.name,
                          detail="Facebook issues no refresh tokens on the web")

    # -- the Identity Pool ----------------------------------------------------------------

    #: A supported login provider: the pool asks Graph whether a token is this app's.
    #: No role mapping: an access token carries no claims for rules to read, so a
    #: Facebook identity always gets the pool's authenticated role.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="Facebook", provider=LOGINS_DOMAIN,
                     client_id=TemplateParameter("FacebookAppId")),
    )


    def pool_provider(self) -> dict[str, Any]:
        """On an Identity Pool, Facebook is its app id; the pool asks Graph about tokens."""
        return {"logins_key": self.logins_key, "type": "facebook",
                "graph_url": self.settings["graph_url"],
                "graph_version": self.settings["graph_version"],
                "app_id": self.client_id, "app_secret": self.client_secret}

    # -- diagnostics ------------------------------------------------------------------

    def token_error_kind(self, error: str | None, description: str) -> str | None:
        """Graph says OAuthException for everything; its message tells which."""
        if "client secret" in description.lower():
            return "invalid_client"
        if "code" in description.lower():
            return "invalid_grant"
        return error

    def callback_refusal(self, response: requests.Response, callback_url: str) -> str | None:
        """Facebook answers an unregistered redirect URI with its "URL Blocked" page."""
        words = page_words(response)
        if response.status_code >= 400 or "URL Blocked" in words:
            return words
        return None


def client_secret_query(client: Any, method: str, uri: str, headers: dict[str, str],
                        body: str) -> tuple[str, dict[str, str], str]:
    """Graph's documented token request is a GET with the app secret in the query."""
    uri = add_params_to_uri(uri, [("client_id", client.client_id),
                                  ("client_secret", client.client_secret)])
    return uri, headers, body


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def check_profile(me: dict[str, Any], user_id: str) -> None:
    """``/me`` must be about the user ``debug_token`` vouched for."""
    if str(me.get("id")) != user_id:
        raise FedlabError("userinfo_sub_mismatch", expected=user_id, got=me.get("id"))
