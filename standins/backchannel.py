"""OpenID Connect Back-Channel Logout 1.0, the provider's side: logout tokens
made and POSTed to each client's registered ``backchannel_logout_uri``.

A tenant whose flavour sends them (``Flavour.sends_logout_tokens``: Auth0 and
the plain OIDC tenant) does so when a visitor signs out at it (its end-session
endpoint, Auth0's ``/v2/logout``), to every client that holds tokens of that
sign-in's session (its ``sid``), as a real provider does; and on demand through
the control API (``POST /_control/backchannel-logout``), where a test may change
any claim or break the signature to see the client refuse it.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import requests

from .faults import BACKCHANNEL_LOGOUT
from .store import Client, User

if TYPE_CHECKING:
    from .tenant import Tenant

#: Seconds a logout token is valid: section 4 of the specification suggests at
#: most two minutes.
LIFETIME = 120
#: Seconds the tenant waits for a client's answer.
SEND_TIMEOUT = 5.0


def logout_claims(tenant: Tenant, client: Client, user: User | None, sid: str | None,
                  changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A logout token's claims (2.4) for ``user`` and/or the session ``sid``;
    ``changes`` sets claims (None removes one), as a test asks."""
    now = int(tenant.now())
    claims: dict[str, Any] = {
        "iss": tenant.issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + LIFETIME,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_LOGOUT: {}},
    }
    if user is not None:
        claims["sub"] = user.sub
    if sid is not None:
        claims["sid"] = sid
    for name, value in dict(changes or {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(tenant: Tenant, claims: Mapping[str, Any], faults: Collection[str] = (),
         header: Mapping[str, Any] | None = None) -> str:
    """``claims`` signed as the tenant signs its id tokens, typed as its flavour
    types logout tokens; ``faults`` (keys.SIGNATURE_FAULTS) and ``header`` (the
    ``jws_header`` fault's parameters) break it on purpose."""
    names = set(faults)
    if header is not None:
        names.add("jws_header")
    return tenant.keys.sign(claims, names, typ=tenant.flavour.logout_token_typ,
                            crafted=header)


def send(tenant: Tenant, client: Client, token: str, uri: str | None = None,
         ) -> dict[str, Any]:
    """POST ``token`` to the client's back-channel logout URI (2.5); what it answered."""
    target = uri or client.backchannel_logout_uri
    if not target:
        return {"client_id": client.client_id, "sent": False,
                "reason": "no backchannel_logout_uri registered"}
    try:
        response = requests.post(target, data={"logout_token": token}, timeout=SEND_TIMEOUT,
                                 allow_redirects=False)
    except requests.RequestException as e:
        outcome: dict[str, Any] = {"sent": True, "status": None, "error": type(e).__name__}
    else:
        try:
            body: Any = response.json() if response.content else None
        except ValueError:
            body = response.text[:300]
        outcome = {"sent": True, "status": response.status_code, "body": body,
                   "content_type": response.headers.get("Content-Type"),
                   "cache_control": response.headers.get("Cache-Control"),
                   "set_cookie": response.headers.get("Set-Cookie")}
    outcome.update(client_id=client.client_id, uri=target)
    tenant.record_event("backchannel_logout", client_id=client.client_id,
                        status=outcome.get("status"))
    return outcome


def clients_of_session(tenant: Tenant, sid: str) -> list[Client]:
    """The clients holding tokens of the tenant's session ``sid``, in the order
    they were first given one."""
    with tenant.store.lock:
        ids = dict.fromkeys(t.client_id for t in tenant.store.by_access.values()
                            if t.sid == sid)
    return [tenant.store.clients[i] for i in ids if i in tenant.store.clients]


def session_ended(tenant: Tenant, user_key: str, sid: str) -> list[dict[str, Any]]:
    """The visitor signed out of the tenant's session ``sid``: a logout token to
    each client of that session that registered a back-channel logout URI."""
    if not tenant.flavour.sends_logout_tokens:
        return []
    user = tenant.user_by_key(user_key)
    outcomes = []
    for client in clients_of_session(tenant, sid):
        if client.backchannel_logout_uri:
            token = sign(tenant, logout_claims(tenant, client, user, sid))
            outcomes.append(send(tenant, client, token))
    return outcomes


def latest_sid(tenant: Tenant, client_id: str, user_key: str) -> str | None:
    """The session of the newest token ``user_key`` holds at ``client_id``, if any."""
    with tenant.store.lock:
        held = [t for t in tenant.store.by_access.values()
                if t.client_id == client_id and t.user_key == user_key]
    return max(held, key=lambda t: t.issued_at).sid if held else None
