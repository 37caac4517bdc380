"""Login tokens checked the way Cognito Identity checks them.

OIDC id tokens: the issuer's discovery document and JWKS are fetched over HTTP
(and cached, refetched once when a ``kid`` is unknown), the RS256 signature is
verified, then ``iss``, ``aud`` and ``exp``. Facebook access tokens: Graph's
``debug_token`` with the app's own ``app_id|app_secret``. Amazon access tokens:
Amazon's token-info, whose ``app_id`` must be the security profile on the pool.
Each failure is a ``NotAuthorizedException`` with the service's own words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .settings import PoolProvider

JWKS_TTL = 3600
HTTP_TIMEOUT = 5

NOT_SIGNED = "Invalid login token. Couldn't verify signed token."
WRONG_ISSUER = "Invalid login token. Issuer doesn't match providerName"
WRONG_AUDIENCE = "Invalid login token. Incorrect token audience."


class LoginRefused(Exception):
    """A login token did not validate; ``str()`` is the service's message."""


@dataclass(frozen=True)
class Verified:
    """A login token that validated: whose it is, and what it says."""

    subject: str
    claims: Mapping[str, Any]


class TokenVerifier:
    """Validates ``Logins`` values; one per identity service (its own caches)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._jwks: dict[str, tuple[KeySet, float]] = {}
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        with self._lock:
            self._jwks.clear()

    def verify(self, provider: PoolProvider, token: str) -> Verified:
        """The user's stable id at ``provider`` (``sub`` / Facebook ``user_id``) and the
        token's claims (what role mappings look at; none for Facebook)."""
        if provider.type == "facebook":
            user_id = self._facebook_user(provider, token)
            return Verified(user_id, {"sub": user_id})
        if provider.type == "amazon":
            user_id = self._amazon_user(provider, token)
            return Verified(user_id, {"sub": user_id})
        claims = self._verified_claims(provider.issuer, token)
        return Verified(self._oidc_subject(provider, claims), claims)

    # -- OpenID Connect ------------------------------------------------------

    def _oidc_subject(self, provider: PoolProvider, claims: dict[str, Any]) -> str:
        issuer = provider.issuer
        accepted = {issuer, issuer.split("://", 1)[-1]}  # Google's id tokens may omit https://
        if claims.get("iss") not in accepted:
            raise LoginRefused(WRONG_ISSUER)
        if "aud" not in claims:
            raise LoginRefused("Invalid login token. Missing a required claim: aud")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not set(audiences) & set(provider.client_ids):
            raise LoginRefused(WRONG_AUDIENCE)
        now = int(self._clock())
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise LoginRefused("Invalid login token. Missing a required claim: exp")
        if now >= exp:
            # The service's own order: "Token expired: <now> >= <exp>".
            raise LoginRefused(f"Invalid login token. Token expired: {now} >= {int(exp)}")
        if not claims.get("sub"):
            raise LoginRefused("Invalid login token. Missing a required claim: sub")
        return str(claims["sub"])

    def _verified_claims(self, issuer: str, token: str) -> dict[str, Any]:
        try:
            keys = self._keys(issuer, refresh=False)
            try:
                return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)
            except JoseError:
                # A key rotated since the JWKS was cached: fetch it once more.
                fresh = self._keys(issuer, refresh=True)
                return dict(jwt.decode(token, fresh, algorithms=["RS256"]).claims)
        except (JoseError, ValueError, KeyError, TypeError, requests.RequestException):
            raise LoginRefused(NOT_SIGNED) from None

    def _keys(self, issuer: str, refresh: bool) -> KeySet:
        now = time.monotonic()
        with self._lock:
            cached = self._jwks.get(issuer)
        if cached and not refresh and now - cached[1] < JWKS_TTL:
            return cached[0]
        base = issuer.rstrip("/")
        discovery = requests.get(f"{base}/.well-known/openid-configuration",
                                 timeout=HTTP_TIMEOUT)
        discovery.raise_for_status()
        answer = requests.get(discovery.json()["jwks_uri"], timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        keys = KeySet.import_key_set(answer.json())
        with self._lock:
            self._jwks[issuer] = (keys, now)
        return keys

    # -- Facebook --------------------------------------------------------------

    def _facebook_user(self, provider: PoolProvider, token: str) -> str:
        url = f"{provider.graph_url}/{provider.graph_version}/debug_token"
        try:
            answer = requests.get(url, timeout=HTTP_TIMEOUT, params={
                "input_token": token,
                "access_token": f"{provider.app_id}|{provider.app_secret}"})
            data = answer.json().get("data") or {}
        except (requests.RequestException, ValueError, AttributeError):
            raise LoginRefused("Invalid login token. Couldn't verify the Facebook token."
                               ) from None
        if not data.get("is_valid"):
            raise LoginRefused("Invalid login token. The Facebook token is invalid or expired.")
        if str(data.get("app_id")) != provider.app_id:
            raise LoginRefused(WRONG_AUDIENCE)
        if not data.get("user_id"):
            raise LoginRefused("Invalid login token. Missing a required claim: user_id")
        return str(data["user_id"])

    # -- Login with Amazon ---------------------------------------------------------

    def _amazon_user(self, provider: PoolProvider, token: str) -> str:
        try:
            answer = requests.get(provider.tokeninfo_url, params={"access_token": token},
                                  timeout=HTTP_TIMEOUT)
            info = answer.json()
        except (requests.RequestException, ValueError):
            raise LoginRefused("Invalid login token. Couldn't verify the Amazon token."
                               ) from None
        if answer.status_code != 200 or not isinstance(info, dict):
            raise LoginRefused("Invalid login token. The Amazon token is invalid or expired.")
        if str(info.get("app_id")) != provider.app_id:
            raise LoginRefused(WRONG_AUDIENCE)
        if not info.get("user_id"):
            raise LoginRefused("Invalid login token. Missing a required claim: user_id")
        return str(info["user_id"])
