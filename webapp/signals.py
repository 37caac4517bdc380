"""Auth events as blinker signals, so operators can subscribe as the log does.

Receivers get the app as sender and keyword details; never a token or secret.
The log writes each as one JSON object (``webapp.events``; on stderr under
``fedlab serve``) with the time, the event, its details, the provider, issuer
and subject when the session knows them as the event is sent (read then, so a
request without an event never reads them), the client's address (after
ProxyFix: the trusted proxy chain's) and the request id, which every response
also carries as ``X-Request-ID``, so a visitor's report finds its line. The
id is always made here: one sent by a client is not trusted to be unique.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from blinker import Namespace
from flask import Flask, Response, g, has_request_context, request, session

from .records import SignIn

_signals = Namespace()
signed_in = _signals.signal("signed-in")
sign_in_failed = _signals.signal("sign-in-failed")
refreshed = _signals.signal("refreshed")
refresh_failed = _signals.signal("refresh-failed")
signed_out = _signals.signal("signed-out")
signed_out_everywhere = _signals.signal("signed-out-everywhere")
credentials_issued = _signals.signal("credentials-issued")
storage_changed = _signals.signal("storage-changed")
#: A provider's logout token ended sessions (OpenID Connect Back-Channel Logout
#: 1.0): the issuer, the subject when named, what it named, how many sessions.
backchannel_logout = _signals.signal("backchannel-logout")
#: A logout token (or its request) refused: the provider and the rule, never the token.
backchannel_logout_refused = _signals.signal("backchannel-logout-refused")

ALL = (signed_in, sign_in_failed, refreshed, refresh_failed, signed_out, signed_out_everywhere,
       credentials_issued, storage_changed, backchannel_logout, backchannel_logout_refused)
log = logging.getLogger("webapp.events")


REQUEST_ID_HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    """Write one structured log line per event of this app; number each request."""

    def log_event(sender: Flask, **details: Any) -> None:
        if sender is app:
            log.info(json.dumps(event_line(details.pop("signal"), details), default=str))

    for signal in ALL:
        signal.connect(_named(signal.name, log_event), sender=app, weak=False)
    app.after_request(send_request_id)


def request_id() -> str:
    """This request's id (32 hex digits, random), made on first use: the response
    header, an event line."""
    found = g.get("request_id")
    if found is None:
        found = g.request_id = secrets.token_hex(16)
    return found


def keep_who(auth: SignIn | None) -> None:
    """Name this sign-in in the rest of this request's event lines, whatever the
    session holds by then: sign-out ends the session before its event is sent."""
    g.event_who = _who(auth)


def _who(auth: SignIn | None) -> dict[str, Any]:
    """The provider, issuer and subject of a sign-in, those it has."""
    if auth is None:
        return {}
    return {k: v for k, v in (("provider", auth.provider), ("iss", auth.iss),
                              ("sub", auth.sub)) if v}


def send_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def event_line(event: str, details: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            "event": event}
    if has_request_context():
        line.update(g.event_who if "event_who" in g else _who(SignIn.load(session.get("auth"))))
        line.update(client=request.remote_addr, request_id=request_id())
    line.update(details)
    return line


def _named(name: str, receiver: Any) -> Any:
    def receive(sender: Flask, **details: Any) -> None:
        receiver(sender, signal=name, **details)

    return receive
