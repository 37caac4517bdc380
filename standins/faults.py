"""Deliberate misbehaviour, switched on per tenant through the control API.

A fault is a name plus parameters. Token faults are read where tokens are
made (claims here, signatures in keys.py); outage faults (``down``,
``error_500``, ``slow``, ``garbage``) are applied by :meth:`FaultBoard.outage`
in front of every endpoint of the tenant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Response

from .keys import SIGNATURE_FAULTS

#: Faults that change the claims of tokens issued while set.
CLAIM_FAULTS = (
    "wrong_issuer",
    "wrong_audience",
    "wrong_audience_right_azp",
    "multiple_audiences_no_azp",
    "wrong_azp",
    "bad_nonce",
    "missing_nonce",
    "expired",
    "iat_future",
    "bad_at_hash",
    "no_at_hash",
    "token_use_access",
    "refresh_other_sub",
    "refresh_keeps_nonce",
    "logout_token",
    "iss_without_scheme",
)
#: Faults that change other responses.
RESPONSE_FAULTS = (
    "userinfo_other_sub",
    "discovery_other_issuer",
    "wrong_iss_param",
    "iss_param",
    "debug_token_other_app",
    "debug_token_invalid",
    "tokeninfo_other_app",
    "tokeninfo_other_app_id",
    "tokeninfo_other_issuer",
    "tokeninfo_expired",
    "refresh_fails",
    "backchannel_unsupported",
    "bad_date",
)
OUTAGE_FAULTS = ("down", "error_500", "slow", "garbage")
FAULTS = SIGNATURE_FAULTS + CLAIM_FAULTS + RESPONSE_FAULTS + OUTAGE_FAULTS

ANOTHER_CLIENT = "another-client"
#: The event of an OpenID Connect Back-Channel Logout 1.0 logout token.
BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
GARBAGE = b"<html><body>502 Bad Gateway</body></html>\n\xff\xfe not json"


class UnknownFault(ValueError):
    pass


class FaultBoard:
    """The faults active on one tenant (or one AWS stand-in service).

    ``check`` may refuse a fault's parameters with a ValueError naming the bad one.
    """

    def __init__(self, names: Iterable[str] = FAULTS,
                 check: Callable[[str, Mapping[str, Any]], None] | None = None) -> None:
        self.known = tuple(names)
        self._check = check
        self._lock = threading.Lock()
        self._active: dict[str, dict[str, Any]] = {}

    def set(self, name: str, params: Mapping[str, Any]) -> None:
        if name not in self.known:
            raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(self.known)}")
        if self._check is not None:
            self._check(name, params)
        with self._lock:
            self._active[name] = dict(params)

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def listing(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(params) for name, params in self._active.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._active

    def names(self) -> frozenset[str]:
        return frozenset(self._active)

    def outage(self, endpoint: str) -> Response | None:
        """Apply the outage faults that concern ``endpoint``; a response replaces the real one."""
        active = self.listing()
        down = active.get("down")
        if down is not None and _concerns(down, endpoint):
            return Response("Service Unavailable", status=503, mimetype="text/plain")
        slow = active.get("slow")
        if slow is not None and _concerns(slow, endpoint):
            time.sleep(float(slow.get("seconds", 2)))
        error = active.get("error_500")
        if error is not None and _concerns(error, endpoint):
            return Response("Internal Server Error", status=500, mimetype="text/plain")
        garbage = active.get("garbage")
        if garbage is not None and _concerns(garbage, endpoint):
            return Response(GARBAGE, status=200, content_type="application/json")
        return None


def _concerns(params: Mapping[str, Any], endpoint: str) -> bool:
    """A fault without an ``endpoint`` parameter concerns every endpoint."""
    wanted = params.get("endpoint")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        wanted = [wanted]
    return endpoint in wanted


def apply_claim_faults(
    claims: dict[str, Any], faults: frozenset[str], *, client_id: str, lifetime: int, now: int
) -> dict[str, Any]:
    """Return ``claims`` as the active claim faults would have the provider issue them."""
    claims = dict(claims)
    if "wrong_issuer" in faults and "iss" in claims:
        claims["iss"] = "https://issuer.invalid/not-this-provider"
    if "wrong_audience" in faults:
        claims["aud"] = ANOTHER_CLIENT
        claims.pop("azp", None)
    if "wrong_audience_right_azp" in faults:
        claims["aud"] = [ANOTHER_CLIENT]
        claims["azp"] = client_id
    if "multiple_audiences_no_azp" in faults:
        claims["aud"] = [client_id, ANOTHER_CLIENT]
        claims.pop("azp", None)
    if "wrong_azp" in faults:
        claims["azp"] = ANOTHER_CLIENT
    if "bad_nonce" in faults:
        claims["nonce"] = "not-the-nonce-you-sent"
    if "missing_nonce" in faults:
        claims.pop("nonce", None)
    if "expired" in faults:
        claims["exp"] = now - 3600
        claims["iat"] = claims["exp"] - lifetime
    if "iat_future" in faults:
        claims["iat"] = now + 3600
        claims["exp"] = claims["iat"] + lifetime
    if "bad_at_hash" in faults and "at_hash" in claims:
        claims["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA"
    if "no_at_hash" in faults:
        claims.pop("at_hash", None)
    if "token_use_access" in faults and "token_use" in claims:
        claims["token_use"] = "access"
    if "iss_without_scheme" in faults and "iss" in claims:
        # Not a fault at Google, which documents both spellings of its issuer.
        claims["iss"] = claims["iss"].split("://", 1)[-1]
    if "logout_token" in faults:
        # Back-Channel Logout 1.0, 2.4: a logout token, by the same keys, without typ.
        claims["events"] = {BACKCHANNEL_LOGOUT: {}}
        claims["jti"] = f"logout-{now}"
        for name in ("nonce", "at_hash", "auth_time"):
            claims.pop(name, None)
    return claims
