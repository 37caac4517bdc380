"""Facebook Login: plain OAuth 2, not OpenID Connect, on the web.

There is no id token, no discovery and no refresh token, so nothing in the
token response says who signed in or whom it was issued to. This module asks
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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from authlib.common.urls import add_params_to_uri

from ..errors import FedlabError
from ..oauth import answer_json
from ..pagewords import page_words
from . import Provider, ProviderConfigError, SignOut, url_setting

if TYPE_CHECKING:
    from ..oauth import ProviderClient

KIND = "facebook"
DISPLAY_NAME = "Facebook"
DEFAULT_SCOPES = ("email", "public_profile")
KEYS = {
    "graph_version": "the Graph API version, e.g. v21.0",
    "dialog_url": "optional override of https://www.facebook.com (a stand-in)",
    "graph_url": "optional override of https://graph.facebook.com (a stand-in)",
}
VERSION = re.compile(r"^v\d+\.\d+$")
#: What the site reads of a Facebook profile.
PROFILE_FIELDS = "id,name,email,picture"



CONSOLE = {
    "callback": "Meta for Developers > your app > Facebook Login > Settings: "
                "Valid OAuth Redirect URIs",
    "sign_out": None,
    "origin": "App settings > Basic: App Domains",
}


def upstream_registrations(provider: Provider) -> list[dict[str, str]]:
    return []


def token_error_kind(error: str | None, description: str) -> str | None:
    """Graph says OAuthException for everything; its message tells which."""
    if "client secret" in description.lower():
        return "invalid_client"
    if "code" in description.lower():
        return "invalid_grant"
    return error


def callback_refusal(response: requests.Response, callback_url: str) -> str | None:
    """Facebook answers an unregistered redirect URI with its "URL Blocked" page."""
    words = page_words(response)
    if response.status_code >= 400 or "URL Blocked" in words:
        return words
    return None

def configure(raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
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


def client_secret_query(client: Any, method: str, uri: str, headers: dict[str, str],
                        body: str) -> tuple[str, dict[str, str], str]:
    """Graph's documented token request is a GET with the app secret in the query."""
    uri = add_params_to_uri(uri, [("client_id", client.client_id),
                                  ("client_secret", client.client_secret)])
    return uri, headers, body


def join_scopes(scopes: tuple[str, ...]) -> str:
    return ",".join(scopes)


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def sign_in(client: ProviderClient, token: dict[str, Any], nonce: str | None) -> dict[str, Any]:
    """Who signed in, from ``debug_token`` (is the token this app's, and whose?) and
    ``/me`` (the name: there is no id token), asked in one batch request."""
    provider = client.provider
    access_token = token.get("access_token")
    if not access_token:
        raise FedlabError("provider_bad_response", provider=provider.name,
                          endpoint="token", detail="no access_token")
    check = urlencode({"input_token": access_token,
                       "access_token": f"{provider.client_id}|{provider.client_secret}"})
    answer, me = graph_batch(client, access_token, [f"debug_token?{check}",
                                                    f"me?fields={PROFILE_FIELDS}"])
    debug = answer.get("data") or {}
    if str(debug.get("app_id")) != provider.client_id:
        raise FedlabError("token_not_for_this_app", provider=provider.name,
                          detail=f"app_id {debug.get('app_id')!r}, not {provider.client_id!r}")
    if debug.get("is_valid") is not True or not debug.get("user_id"):
        raise FedlabError("token_not_for_this_app", provider=provider.name,
                          detail="the token is not valid")
    check_profile(me, str(debug["user_id"]))
    claims = {"iss": provider.settings["graph_url"], "sub": str(debug["user_id"]),
              "app_id": debug.get("app_id"), "scopes": debug.get("scopes", []),
              "exp": debug.get("expires_at")}
    return {"iss": claims["iss"], "sub": claims["sub"], "claims": claims, "userinfo": me}


def graph_batch(client: ProviderClient, access_token: str,
                relative_urls: list[str]) -> list[dict[str, Any]]:
    """Several Graph GETs in one round trip (Graph's batch request), answered in order.

    ``access_token`` and its ``appsecret_proof`` go with every operation that
    names no token of its own. Each answer must be a 200 with a JSON object.
    """
    provider = client.provider
    response = client.call("POST", provider.endpoints["batch"], "batch", data={
        "access_token": access_token,
        "appsecret_proof": appsecret_proof(provider.client_secret, access_token),
        "include_headers": "false",
        "batch": json.dumps([{"method": "GET", "relative_url": url} for url in relative_urls]),
    })
    answers = answer_json(provider, "batch", response.status_code, response.content, list)
    if len(answers) != len(relative_urls):
        raise FedlabError("provider_bad_response", provider=provider.name, endpoint="batch",
                          detail=f"{len(answers)} answers to {len(relative_urls)} requests")
    # Graph answers each operation as {"code": status, "body": "<JSON text>"}.
    return [answer_json(provider, url.partition("?")[0], answer.get("code"), answer.get("body"))
            if isinstance(answer, dict) else
            answer_json(provider, url.partition("?")[0], None, None)
            for url, answer in zip(relative_urls, answers, strict=True)]


def check_profile(me: dict[str, Any], user_id: str) -> None:
    """``/me`` must be about the user ``debug_token`` vouched for."""
    if str(me.get("id")) != user_id:
        raise FedlabError("userinfo_sub_mismatch", expected=user_id, got=me.get("id"))


def userinfo(client: ProviderClient, auth: dict[str, Any]) -> dict[str, Any]:
    """Ask ``/me`` again (Facebook's userinfo), as the account page's button does
    for every provider; proven with ``appsecret_proof``."""
    provider = client.provider
    access_token = auth["tokens"].get("access_token")
    if not access_token:
        raise FedlabError("userinfo_unavailable", provider=provider.name,
                          detail="no access token is held")
    me = client.get_json(provider.endpoints["me"], "me", params={
        "fields": PROFILE_FIELDS,
        "access_token": access_token,
        "appsecret_proof": appsecret_proof(provider.client_secret, access_token),
    })
    check_profile(me, auth["sub"])
    return me


def refresh(client: ProviderClient, auth: dict[str, Any]) -> dict[str, Any]:
    raise FedlabError("refresh_unavailable", provider=client.provider.name,
                      detail="Facebook issues no refresh tokens on the web")


def sign_out(client: ProviderClient, auth: dict[str, Any], return_to: str) -> SignOut:
    return SignOut(None, None, "You were signed out of this site only: Facebook has no "
                   "sign-out redirect for apps, so you are still signed in to Facebook.")


def logins(provider: Provider, auth: dict[str, Any]) -> dict[str, str]:
    """Facebook has no id token: the Identity Pool takes the access token."""
    return {logins_key(provider): auth["tokens"]["access_token"]}


def pool_provider(provider: Provider) -> dict[str, Any]:
    """On an Identity Pool, Facebook is its app id; the pool asks Graph about tokens."""
    return {"logins_key": logins_key(provider), "type": "facebook",
            "graph_url": provider.settings["graph_url"],
            "graph_version": provider.settings["graph_version"],
            "app_id": provider.client_id, "app_secret": provider.client_secret}


def logins_key(provider: Provider) -> str:
    return "graph.facebook.com"
