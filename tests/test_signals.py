"""Auth events as an operator subscribing to the blinker signals sees them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from webapp import signals
from webapp.oauth import EXTENSION
from webapp.providers import registry

from .flows import sign_in
from .test_sessions import secrets_of, session_cookie

Event = tuple[str, dict[str, Any]]


class Received(list):
    """Events not yet looked at; ``history`` keeps every one."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Event] = []


@pytest.fixture
def events(live_app) -> Iterator[Received]:
    """Every event of the app under test, in order, as (signal name, details)."""
    received = Received()
    with ExitStack() as stack:
        for signal in signals.ALL:
            def receive(sender, _name=signal.name, **details):
                received.append((_name, details))
                received.history.append((_name, details))

            stack.enter_context(signal.connected_to(receive, sender=live_app))
        yield received


def one(events: list[Event], name: str) -> dict[str, Any]:
    """The only ``name`` event since the last call, which forgets what it saw."""
    found = [details for event, details in events if event == name]
    others = [event for event, _ in events if event != name]
    events.clear()
    assert len(found) == 1 and not others, (name, found, others)
    return found[0]


def visit(browser, app_url: str, control, app, events: Received) -> set[str]:
    """Every kind of event once, each checked with its fields; returns the
    tokens, AWS secrets and client secrets seen on the way."""
    seen = {registry.providers(app)[name].client_secret
            for name in ("auth0", "google")}

    control("POST", "faults", tenant="google", fault="down")
    assert browser.get(f"{app_url}/auth/google/login").status_code == 502
    assert one(events, "sign-in-failed") == {"provider": "google",
                                             "reason": "provider_bad_response"}
    control("DELETE", "faults")

    page = sign_in(browser, app_url, "auth0")
    assert page.url == f"{app_url}/account"
    seen |= secrets_of(app, session_cookie(browser).value)
    signed_in = one(events, "signed-in")
    assert signed_in["provider"] == "auth0" and signed_in["sub"] and signed_in["iss"]

    csrf = {"csrf_token": browser.csrf(page)}
    assert browser.post(f"{app_url}/auth/refresh", data=csrf).status_code == 200
    seen |= secrets_of(app, session_cookie(browser).value)
    assert one(events, "refreshed") == {"provider": "auth0"}

    control("POST", "faults", tenant="auth0", fault="error_500", endpoint="token")
    assert browser.post(f"{app_url}/auth/refresh", data=csrf).status_code == 502
    assert one(events, "refresh-failed") == {"provider": "auth0",
                                             "reason": "provider_bad_response",
                                             "signed_out": False}
    control("DELETE", "faults")

    assert browser.get(f"{app_url}/credentials").status_code == 200
    sid = session_cookie(browser).value
    seen |= secrets_of(app, sid)
    identity_id = app.session_interface.read(sid)["aws"]["identity_id"]
    assert one(events, "credentials-issued") == {
        "provider": "auth0", "guest": False, "identity_id": identity_id, "renewal": False}

    listing = browser.get(f"{app_url}/storage/private")
    assert listing.status_code == 200 and not events  # a listing is no event
    upload_csrf = re.search(r'data-csrf="([^"]+)"', listing.text).group(1)
    granted = browser.post(f"{app_url}/storage/private/upload",
                           json={"name": "notes.txt", "type": "text/plain"},
                           headers={"X-CSRFToken": upload_csrf})
    assert granted.status_code == 200, granted.text
    assert one(events, "storage-changed") == {"action": "upload-url", "level": "private",
                                              "identity_id": identity_id}

    signed_out = browser.post(f"{app_url}/auth/signout", data=csrf)
    assert signed_out.status_code == 200
    # Signed out at Auth0 too, which says so on the back channel (a logout token
    # naming the person and the provider session); it had ended here already.
    told = [details for event, details in events if event == "backchannel-logout"]
    events[:] = [(event, details) for event, details in events if event != "backchannel-logout"]
    assert len(told) == 1 and told[0]["provider"] == "auth0", told
    assert told[0]["names"] == "sub+sid" and told[0]["sessions_ended"] == 0
    assert one(events, "signed-out") == {"provider": "auth0", "revoked": True,
                                         "provider_reached": True}

    # Google's sign-out needs its discovery document; with Google down it cannot.
    page = sign_in(browser, app_url, "google")
    seen |= secrets_of(app, session_cookie(browser).value)
    events.clear()
    app.extensions[EXTENSION][1].clear()
    control("POST", "faults", tenant="google", fault="down")
    signed_out = browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(page)})
    assert "could not be reached" in signed_out.text
    assert one(events, "signed-out") == {"provider": "google", "revoked": False,
                                         "provider_reached": False,
                                         "reason": "provider_bad_response"}
    assert browser.get(f"{app_url}/account").status_code == 401
    control("DELETE", "faults")
    return seen


def test_one_event_for_each_auth_step_and_none_carries_a_token(
        browser, app_url, control, aws_control, live_app, events):
    """``visit`` checks each step's event and its fields; then no payload holds a secret."""
    seen = visit(browser, app_url, control, live_app, events)
    assert len(events.history) == 10 and len(seen) >= 6
    payloads = json.dumps(events.history, default=str)
    leaked = [f"{secret[:6]}..." for secret in seen if secret in payloads]
    assert not leaked, "an event carried a secret"


def test_every_answer_has_its_own_request_id(app_url):
    """The id in the events' log lines: made per request, on every answer (an
    error page too), never taken from the client."""
    ids = []
    for path in ("/", "/", "/no-such-page", "/healthz"):
        response = requests.get(f"{app_url}{path}", headers={"X-Request-ID": "forged-id"},
                                timeout=10)
        ids.append(response.headers["X-Request-ID"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
