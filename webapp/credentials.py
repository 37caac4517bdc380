"""Temporary AWS credentials from a Cognito Identity Pool: ``/credentials``.

The enhanced flow: ``GetId`` with the provider's ``Logins`` map, then
``GetCredentialsForIdentity``. Credentials live in the server-side session and
are reused until five minutes before they expire, so a repeat view costs no
AWS call; renewal refreshes an expired id token first. Guests get
unauthenticated credentials when the pool allows them: one guest identity per
browser session, reused by every "Continue as guest", and new ones made at a
bounded rate (per session and per process), since each is an identity in the
pool for good.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, session
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from . import aws, sessions, signals
from .auth import ensure_fresh, get_provider
from .errors import FedlabError
from .providers import kind_of

bp = Blueprint("credentials", __name__, url_prefix="/credentials")

#: Session key: the calls a POST made, for the page it redirects to.
CALLS_BEFORE = "aws_calls_before"
#: Session key: how many guest identities this browser session has had made.
GUESTS_MADE = "guest_identities_made"
#: New guest identities one browser session may have made: its first, and a couple
#: more should the pool lose one (a reset pool, a guest signed in elsewhere).
GUESTS_PER_SESSION = 3
LIMITER = "fedlab.guest_identities"


class RateLimit:
    """At most ``per_minute`` events in any 60 seconds, in this process (the file
    store's case: one machine)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 60:
                self._times.popleft()
            if len(self._times) >= self.per_minute:
                return False
            self._times.append(now)
            return True


class RedisRateLimit:
    """At most ``per_minute`` events in any 60 seconds across every process and
    instance that shares the sessions' Redis: a sorted set of the last minute's."""

    KEY = "fedlab:guest-identities"
    SCRIPT = """
    redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - 60)
    if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
    redis.call('zadd', KEYS[1], ARGV[1], ARGV[3])
    redis.call('expire', KEYS[1], 61)
    return 1
    """

    def __init__(self, client: Any, per_minute: int) -> None:
        self.per_minute = per_minute
        self.client = client

    def take(self) -> bool:
        return bool(self.client.eval(self.SCRIPT, 1, self.KEY, time.time(), self.per_minute,
                                     secrets.token_hex(8)))


@bp.record_once
def setup(state: BlueprintSetupState) -> None:
    config = state.app.config["FEDLAB"]
    per_minute = config["aws"]["guest_identities_per_minute"]
    client = sessions.shared_redis(state.app)
    state.app.extensions[LIMITER] = (
        RedisRateLimit(client, per_minute) if client is not None else RateLimit(per_minute))


def limiter(app: Flask) -> RateLimit | RedisRateLimit:
    return app.extensions[LIMITER]


def require_enabled() -> None:
    if not aws.enabled():
        raise FedlabError("credentials_not_configured")


@bp.get("")
def show() -> str:
    require_enabled()
    g.aws_calls = []
    auth = sessions.current_auth()
    if auth is None and not (session.get("aws") or {}).get("guest"):
        return render_template("credentials/credentials.html", state=None, calls=[],
                               allow_guests=aws.settings()["allow_guests"])
    state = current()
    # After "Continue as guest" the calls were made by the POST, not by this view.
    before = session.pop(CALLS_BEFORE, None)
    return render_template("credentials/credentials.html", state=state,
                           calls=g.aws_calls or before or [], calls_by_guest_post=bool(before),
                           allow_guests=aws.settings()["allow_guests"])


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
        session[CALLS_BEFORE] = g.aws_calls
    return redirect("/credentials")


def reuse_guest(state: dict[str, Any]) -> None:
    """The session's guest identity again: no AWS call while its credentials are
    fresh, renewed under the same id otherwise, and a new one only if the pool
    no longer lets this session use it."""
    if aws.fresh(state["credentials"]):
        return
    try:
        store(state["identity_id"], None, None, guest=True)
    except FedlabError as e:
        if e.code not in GUEST_UNUSABLE:
            raise
        session.pop("aws", None)
        new_guest()


def new_guest() -> None:
    """A new guest identity, within this session's and this process's limits."""
    made = session.get(GUESTS_MADE, 0)
    if made >= GUESTS_PER_SESSION:
        raise FedlabError("guest_limit", detail=f"This browser session has already had "
                          f"{made} guest identities made; it may not have more.")
    if not limiter(current_app._get_current_object()).take():
        per_minute = aws.settings()["guest_identities_per_minute"]
        raise FedlabError("guest_limit", detail=f"This site makes at most {per_minute} new "
                          f"guest identities a minute, and has made them.")
    session[GUESTS_MADE] = made + 1
    identity_id = call("GetId", aws.get_id, None)
    store(identity_id, None, None, guest=True)


def current() -> dict[str, Any]:
    """The visitor's AWS state with credentials good for five more minutes.

    Federates on first use (or after switching from guest to signed in),
    renews near expiry, and otherwise makes no AWS call at all.
    """
    g.setdefault("aws_calls", [])
    state = session.get("aws")
    auth = sessions.current_auth()
    if auth is not None:
        with about(auth["provider"]):
            if auth["state"] == "refresh_failed":
                raise FedlabError("federated_tokens_invalid", detail="the refresh was refused")
            if state is None or state["guest"] or state["provider"] != auth["provider"]:
                guest = state["identity_id"] if state and state["guest"] else None
                return federate(auth, previous_guest=guest)
            if not aws.fresh(state["credentials"]):
                return renew(auth, state)
        return state
    if state is None or not state["guest"]:
        raise FedlabError("signed_out")
    if not aws.fresh(state["credentials"]):
        return store(state["identity_id"], None, None, guest=True)
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


def logins_for(auth: dict[str, Any]) -> dict[str, str]:
    """The Logins map from tokens that are valid now; refresh them first if needed."""
    ensure_fresh(auth)
    if auth["state"] == "refresh_failed":
        raise FedlabError("federated_tokens_invalid",
                          detail=getattr(g.get("refresh_error"), "code", "refresh refused"))
    expires_at = auth["tokens"].get("expires_at")
    if expires_at and expires_at < time.time():
        raise FedlabError("federated_tokens_invalid", detail="the tokens expired and "
                          "the provider gives no refresh token")
    provider = get_provider(auth["provider"])
    return kind_of(provider).logins(provider, auth)


#: A guest identity that cannot take the sign-in: gone, or signed in as someone else.
GUEST_UNUSABLE = ("identity_pool_not_found", "identity_logins_mismatch")


def federate(auth: dict[str, Any], previous_guest: str | None) -> dict[str, Any]:
    """Credentials for a sign-in. A guest signing in does as the AWS SDKs do: the guest's
    id with the Logins. The pool links the sign-in to the guest's identity (same id) or,
    if the sign-in already has an identity, merges the guest into it and answers with
    that id, so the person keeps one identity and their files."""
    logins = logins_for(auth)
    if previous_guest:
        try:
            return store(previous_guest, logins, auth["provider"], previous_guest=previous_guest)
        except FedlabError as e:
            if e.code not in GUEST_UNUSABLE:
                raise
    identity_id = call("GetId", aws.get_id, logins)
    return store(identity_id, logins, auth["provider"], previous_guest=previous_guest)


def renew(auth: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return store(state["identity_id"], logins_for(auth), auth["provider"],
                 previous_guest=state.get("previous_guest"), renewal=True)


def store(identity_id: str, logins: dict[str, str] | None, provider: str | None, *,
          guest: bool = False, previous_guest: str | None = None,
          renewal: bool = False) -> dict[str, Any]:
    identity_id, credentials = call("GetCredentialsForIdentity", aws.get_credentials,
                                    identity_id, logins)
    role = call("GetCallerIdentity", aws.caller_role, credentials)
    state = {
        "identity_id": identity_id,
        "guest": guest,
        "provider": provider,
        "logins_key": next(iter(logins)) if logins else None,
        "role_arn": role,
        "credentials": credentials,
        "obtained_at": int(time.time()),
        "renewals": (session.get("aws") or {}).get("renewals", 0) + int(renewal),
        "previous_guest": previous_guest,
    }
    session["aws"] = state
    signals.credentials_issued.send(current_app._get_current_object(), provider=provider,
                                    guest=guest, identity_id=identity_id, renewal=renewal)
    return state


def call(operation: str, function: Any, *args: Any) -> Any:
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
