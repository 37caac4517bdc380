"""Temporary AWS credentials from a Cognito Identity Pool: ``/credentials``.

The enhanced flow: ``GetId`` with the provider's ``Logins`` map, then
``GetCredentialsForIdentity``. Credentials live in the server-side session and
are reused until five minutes before they expire, so a repeat view costs no
AWS call; renewal refreshes an expired id token first. Guests get
unauthenticated credentials when the pool allows them: one guest identity per
browser session, reused by every "Continue as guest", and new ones made at a
bounded rate (per browser and per site: :mod:`webapp.guests`), since each is
an identity in the pool for good. A guest who signs in is asked whether to
keep the guest identity (:class:`~webapp.guests.FormerGuest` says why it is
never moved unasked).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from . import aws, guests, sessions, signals, signin
from .errors import FedlabError
from .records import SignIn

bp = Blueprint("credentials", __name__, url_prefix="/credentials")

#: Session key: the calls a POST made, and the button that made them, for the
#: page it redirects to.
CALLS_BEFORE = "aws_calls_before"
#: What the visitor may answer to the offer of their former guest identity.
GUEST_MOVES = {"keep": "Keep it", "drop": "Go on without it"}


def require_enabled() -> None:
    if not aws.enabled():
        raise FedlabError("credentials_not_configured")


@bp.get("")
def show() -> str:
    require_enabled()
    g.aws_calls = []
    auth = sessions.current_auth()
    allow_guests = aws.settings().allow_guests
    if auth is None and not (session.get("aws") or {}).get("guest"):
        return render_template("credentials/credentials.html", state=None, calls=[],
                               allow_guests=allow_guests)
    offer = guests.FormerGuest.of_session() if auth is not None else None
    if offer is not None:
        # Nothing is federated until the visitor says what becomes of the guest.
        return render_template("credentials/credentials.html", state=None, calls=[],
                               offer=offer, moves=GUEST_MOVES, allow_guests=allow_guests)
    state = ensure_fresh_credentials()
    # After "Continue as guest" (or an answer to the offer) the calls were made by
    # the POST, not by this view.
    before = session.pop(CALLS_BEFORE, None)
    if not isinstance(before, dict):
        before = None
    return render_template("credentials/credentials.html", state=state,
                           calls=g.aws_calls or (before or {}).get("calls") or [],
                           calls_after=(before or {}).get("after"),
                           allow_guests=allow_guests)


@bp.post("/guest")
def guest() -> Response:
    require_enabled()
    if sessions.current_auth() is None:
        g.aws_calls = []
        state = session.get("aws")
        if state and state["guest"]:
            reuse_guest(state)
        else:
            new_guest()
        session[CALLS_BEFORE] = {"after": "Continue as guest", "calls": g.aws_calls}
    return redirect(url_for("credentials.show"))


@bp.post("/guest-move")
def guest_move() -> Response:
    """The visitor's answer to the offer of their former guest identity: ``keep``
    federates the sign-in with the guest's id (the pool links or merges it),
    ``drop`` forgets the guest and federates the sign-in alone."""
    require_enabled()
    choice = request.form.get("choice", "")
    if choice not in GUEST_MOVES:
        raise FedlabError("bad_request", detail="choice must be keep or drop")
    auth = sessions.current_auth()
    offer = guests.FormerGuest.of_session() if auth is not None else None
    if auth is None or offer is None:
        return redirect(url_for("credentials.show"))  # answered already, or signed out
    g.aws_calls = []
    with about(auth.provider):
        federate(auth, previous_guest=offer.identity_id if choice == "keep" else None)
    # Only once it worked: after a failure (the pool throttled) the offer stands.
    guests.FormerGuest.answered()
    session[CALLS_BEFORE] = {"after": GUEST_MOVES[choice], "calls": g.aws_calls}
    return redirect(url_for("credentials.show"))


def reuse_guest(state: dict[str, Any]) -> None:
    """The session's guest identity again: no AWS call while its credentials are
    fresh, renewed under the same id otherwise, and a new one only if the pool
    no longer lets this session use it."""
    if aws.fresh(state["credentials"]):
        return
    try:
        fetch_and_keep_credentials(state["identity_id"], None, None, guest=True)
    except FedlabError as e:
        if e.code not in GUEST_UNUSABLE:
            raise
        session.pop("aws", None)
        new_guest()


def new_guest() -> None:
    """A new guest identity, within this browser's and the site's limits."""
    key = guests.admit_new()
    identity_id = call_and_note("GetId", aws.get_id, None)
    fetch_and_keep_credentials(identity_id, None, None, guest=True)
    guests.counted_under(key)


def ensure_fresh_credentials() -> dict[str, Any]:
    """The visitor's AWS state with credentials good for five more minutes.

    Federates on first use (or after switching from guest to signed in),
    renews near expiry, and otherwise makes no AWS call at all.
    """
    g.setdefault("aws_calls", [])
    state = session.get("aws")
    auth = sessions.current_auth()
    if auth is not None:
        if guests.FormerGuest.of_session() is not None:
            # The visitor has not said yet what becomes of their former guest
            # identity (a storage page, before the credentials page): ask first.
            abort(redirect(url_for("credentials.show")))
        with about(auth.provider):
            if auth.state == "refresh_failed":
                raise FedlabError("federated_tokens_invalid", detail="the refresh was refused")
            if state is None or state["guest"] or state["provider"] != auth.provider:
                return federate(auth, previous_guest=None)
            if not aws.fresh(state["credentials"]):
                return renew(auth, state)
        return state
    if state is None or not state["guest"]:
        raise FedlabError("signed_out")
    if not aws.fresh(state["credentials"]):
        return fetch_and_keep_credentials(state["identity_id"], None, None, guest=True)
    return state


@contextmanager
def about(provider: str | None) -> Iterator[None]:
    """Name the provider on an error that has none, so its page links to that
    provider's row of the diagnostics matrix (most pool errors are a registration)."""
    try:
        yield
    except FedlabError as e:
        if provider:
            e.details.setdefault("provider", provider)
        raise


def logins_for(auth: SignIn) -> dict[str, str]:
    """The Logins map from tokens that are valid now; refresh them first if needed."""
    auth = signin.ensure_fresh(auth)
    if auth.state == "refresh_failed":
        raise FedlabError("federated_tokens_invalid",
                          detail=getattr(g.get("refresh_error"), "code", "refresh refused"))
    expires_at = auth.tokens.expires_at
    if expires_at and expires_at < time.time():
        raise FedlabError("federated_tokens_invalid", detail="the tokens expired and "
                          "the provider gives no refresh token")
    return signin.logins(auth)


#: A guest identity that cannot take the sign-in: gone, or signed in as someone else.
GUEST_UNUSABLE = ("identity_pool_not_found", "identity_logins_mismatch")


def federate(auth: SignIn, previous_guest: str | None) -> dict[str, Any]:
    """Credentials for a sign-in. A guest who chose to keep their guest identity
    does as the AWS SDKs do: the guest's id with the Logins. The pool links the
    sign-in to the guest's identity (same id) or, if the sign-in already has an
    identity, merges the guest into it and answers with that id, so the person
    keeps one identity and their files."""
    logins = logins_for(auth)
    if previous_guest:
        try:
            return fetch_and_keep_credentials(previous_guest, logins, auth.provider,
                                              previous_guest=previous_guest)
        except FedlabError as e:
            if e.code not in GUEST_UNUSABLE:
                raise
    identity_id = call_and_note("GetId", aws.get_id, logins)
    return fetch_and_keep_credentials(identity_id, logins, auth.provider,
                                      previous_guest=previous_guest)


def renew(auth: SignIn, state: dict[str, Any]) -> dict[str, Any]:
    return fetch_and_keep_credentials(state["identity_id"], logins_for(auth), auth.provider,
                                      previous_guest=state.get("previous_guest"), renewal=True)


def fetch_and_keep_credentials(identity_id: str, logins: dict[str, str] | None,
                               provider: str | None, *, guest: bool = False,
                               previous_guest: str | None = None,
                               renewal: bool = False) -> dict[str, Any]:
    """Two AWS calls, then the session: ``GetCredentialsForIdentity`` for the
    identity (the pool may answer with another id: a merged guest), then
    ``GetCallerIdentity`` for the role the pool chose; both kept in the session
    as the visitor's AWS state, which is returned."""
    identity_id, credentials = call_and_note("GetCredentialsForIdentity", aws.get_credentials,
                                    identity_id, logins)
    role = call_and_note("GetCallerIdentity", aws.caller_role, credentials)
    before = session.get("aws") or {}
    now = int(time.time())
    state = {
        "identity_id": identity_id,
        "guest": guest,
        "provider": provider,
        "logins_key": next(iter(logins)) if logins else None,
        "role_arn": role,
        "credentials": credentials,
        "obtained_at": now,
        # Since when this session has had this identity (its renewals keep it).
        "since": (before.get("since") or now) if before.get("identity_id") == identity_id
        else now,
        "renewals": before.get("renewals", 0) + int(renewal),
        "previous_guest": previous_guest,
    }
    session["aws"] = state
    signals.credentials_issued.send(current_app._get_current_object(), provider=provider,
                                    guest=guest, identity_id=identity_id, renewal=renewal)
    return state


def call_and_note(operation: str, function: Any, *args: Any) -> Any:
    """Make one AWS call and note it for the page, with how long it took."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return function(*args)
    except FedlabError as e:
        outcome = e.code
        raise
    finally:
        g.aws_calls.append({"operation": operation, "outcome": outcome,
                            "ms": round((time.perf_counter() - started) * 1000)})
