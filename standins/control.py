"""The control API under ``/_control/``: tests make tenants misbehave here.

Plain JSON in and out. Nothing here signs anyone in: tests drive the real
HTML pages for that.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import flask

from . import backchannel
from .faults import UnknownFault
from .keys import SIGNATURE_FAULTS
from .settings import SettingsError, behaviour_switches, group_override, group_spec

if TYPE_CHECKING:
    from .tenant import Tenant

MAX_EVENTS = 500


class EventLog:
    """Recent notable events (sign-outs, revocations), newest last."""

    def __init__(self) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


def control_blueprint(tenants: dict[str, Tenant], events: EventLog) -> flask.Blueprint:
    bp = flask.Blueprint("standins_control", __name__, url_prefix="/_control")

    def body() -> dict[str, Any]:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            flask.abort(_bad("send a JSON object"))
        return data

    def tenant_of(data: dict[str, Any]) -> Tenant:
        tenant = tenants.get(str(data.get("tenant")))
        if tenant is None:
            flask.abort(_bad(f"tenant: must be one of {', '.join(tenants)}"))
        return tenant

    @bp.get("/faults")
    def list_faults() -> Any:
        return {name: t.faults.listing() for name, t in tenants.items()}

    @bp.post("/faults")
    def set_fault() -> Any:
        data = body()
        tenant = tenant_of(data)
        params = {k: v for k, v in data.items() if k not in ("tenant", "fault")}
        try:
            tenant.faults.set(str(data.get("fault")), params)
        except UnknownFault as problem:
            return _bad(str(problem))
        return {tenant.name: tenant.faults.listing()}

    @bp.delete("/faults")
    def clear_faults() -> Any:
        for tenant in tenants.values():
            tenant.faults.clear()
        return {"cleared": True}

    @bp.post("/rotate-keys")
    def rotate_keys() -> Any:
        data = body()
        tenant = tenant_of(data)
        kid = tenant.keys.rotate(drop_old=bool(data.get("drop_old")))
        return {"tenant": tenant.name, "kid": kid, "jwks": tenant.keys.jwks()}

    @bp.post("/clients")
    def update_client() -> Any:
        data = body()
        tenant = tenant_of(data)
        client = tenant.store.clients.get(str(data.get("client_id")))
        if client is None:
            return _bad("client_id: not registered at this tenant", 404)
        for field in ("redirect_uris", "logout_uris"):
            if field in data:
                if not isinstance(data[field], list):
                    return _bad(f"{field}: must be a list of URLs")
                setattr(client, field, [str(u) for u in data[field]])
        if "client_secret" in data:
            client.client_secret = str(data["client_secret"])
        if "backchannel_logout_uri" in data:
            uri = data["backchannel_logout_uri"]
            if uri is not None and not isinstance(uri, str):
                return _bad("backchannel_logout_uri: must be a URL or null")
            client.backchannel_logout_uri = uri
        return {"tenant": tenant.name, "client_id": client.client_id,
                "redirect_uris": client.redirect_uris, "logout_uris": client.logout_uris,
                "backchannel_logout_uri": client.backchannel_logout_uri}

    @bp.post("/backchannel-logout")
    def backchannel_logout() -> Any:
        """A logout token for ``user`` (a user key) and/or ``sid`` (default: the
        session of the user's newest token at the client; ``null``: none), made
        and, unless ``send`` is false, POSTed to the client's back-channel
        logout URI (or ``uri``). ``claims`` changes claims (null removes one),
        ``faults`` lists signature faults, ``header`` is the ``jws_header``
        fault's parameters. Answers the token and what the client answered."""
        data = body()
        tenant = tenant_of(data)
        client = tenant.store.clients.get(str(data.get("client_id")))
        if client is None:
            return _bad("client_id: not registered at this tenant", 404)
        user = tenant.user_by_key(str(data["user"])) if data.get("user") else None
        if data.get("user") and user is None:
            return _bad("user: no such user key", 404)
        sid = data["sid"] if "sid" in data else (
            backchannel.latest_sid(tenant, client.client_id, user.key) if user else None)
        faults = data.get("faults") or []
        unknown = [f for f in faults if f not in SIGNATURE_FAULTS]
        if unknown:
            return _bad(f"faults: one of {', '.join(SIGNATURE_FAULTS)}")
        claims = backchannel.logout_claims(tenant, client, user, sid, data.get("claims"))
        token = backchannel.sign(tenant, claims, faults, data.get("header"))
        answer: dict[str, Any] = {"logout_token": token, "claims": claims}
        if data.get("send", True):
            answer["delivery"] = backchannel.send(tenant, client, token, data.get("uri"))
        return answer

    @bp.post("/groups")
    def update_group() -> Any:
        """Cognito's UpdateGroup: a group's role and precedence, for id tokens issued
        from now on (as at Cognito, tokens already issued keep what they say)."""
        data = body()
        tenant = tenant_of(data)
        groups = {group.name: group for group in tenant.groups}
        name = str(data.get("name"))
        if name not in groups:
            return _bad("name: no such group in this tenant's user pool", 404)
        try:
            group = group_spec({**asdict(groups[name]), **data}, "group")
        except SettingsError as problem:
            return _bad(str(problem))
        tenant.groups = tuple(group if g.name == name else g for g in tenant.groups)
        return {tenant.name: [asdict(g) for g in tenant.groups]}

    @bp.post("/pre-token-generation")
    def set_group_override() -> Any:
        """A pre token generation trigger answering every sign-in with this
        ``groupOverrideDetails`` (Cognito's ``V1_0`` event: the id token only)."""
        data = body()
        tenant = tenant_of(data)
        try:
            tenant.group_override = group_override(data.get("groupOverrideDetails"))
        except SettingsError as problem:
            return _bad(str(problem))
        return {tenant.name: asdict(tenant.group_override)}

    @bp.get("/behaviour")
    def list_behaviour() -> Any:
        return {name: asdict(t.behaviour) for name, t in tenants.items()}

    @bp.post("/behaviour")
    def set_behaviour() -> Any:
        data = body()
        tenant = tenant_of(data)
        try:
            switches = behaviour_switches({k: v for k, v in data.items() if k != "tenant"},
                                          "behaviour")
        except SettingsError as problem:
            return _bad(str(problem))
        tenant.behaviour = replace(tenant.behaviour, **switches)
        return {tenant.name: asdict(tenant.behaviour)}

    @bp.post("/clock")
    def set_clock() -> Any:
        data = body()
        tenant = tenant_of(data)
        try:
            tenant.skew_seconds = float(data.get("skew_seconds", 0))
        except (TypeError, ValueError):
            return _bad("skew_seconds: must be a number")
        return {"tenant": tenant.name, "skew_seconds": tenant.skew_seconds}

    @bp.post("/reset")
    def reset() -> Any:
        for tenant in tenants.values():
            tenant.reset()
        events.clear()
        return {"reset": True}

    @bp.get("/calls")
    def calls() -> Any:
        return {name: t.calls() for name, t in tenants.items()}

    @bp.delete("/calls")
    def clear_calls() -> Any:
        for tenant in tenants.values():
            tenant.reset_calls()
        return {"cleared": True}

    @bp.get("/events")
    def list_events() -> Any:
        return flask.jsonify(events.listing())

    @bp.delete("/events")
    def clear_events() -> Any:
        events.clear()
        return {"cleared": True}

    return bp


def _bad(message: str, status: int = 400) -> flask.Response:
    response = flask.jsonify(error=message)
    response.status_code = status
    return response
