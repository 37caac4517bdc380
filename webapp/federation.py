"""Identity Pool federation: the visitor's AWS state, made, reused and renewed.

The enhanced flow: ``GetId`` with the provider's ``Logins`` map, then
``GetCredentialsForIdentity``, then ``GetCallerIdentity`` for the role the pool
chose. The state lives in the server-side session (:class:`~webapp.records.AwsState`)
and is reused until five minutes before its credentials expire, so a repeat
view costs no AWS call; renewal refreshes an expired id token first. Guests
get unauthenticated credentials when the pool allows them: one guest identity
per browser session, reused by every "Continue as guest", and new ones made at
a bounded rate (:mod:`webapp.guests`), since each is an identity in the pool
for good.

The credentials and storage pages both use this module; neither imports the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, url_for

from . import aws, guests, roles, sessions, signals, signin, steps
from .errors import FedlabError
from .records import AwsCall, AwsState, SignIn

T = TypeVar("T")

#: A guest identity that cannot take the sign-in: gone, or signed in as someone else.
GUEST_UNUSABLE = ("identity_pool_not_found", "identity_logins_mismatch")
#: The pool's refusal of an identity whose Logins it no longer has: for a sign-in,
#: its login was unlinked from that identity.
LOGIN_UNLINKED = "identity_logins_mismatch"


def require_enabled() -> None:
    """Refuse a page of the AWS side when no identity pool is configured."""
    if not aws.enabled():
        raise FedlabError("credentials_not_configured")


def ensure_fresh_credentials() -> AwsState:
    """The visitor's AWS state with credentials good for five more minutes.

    Federates on first use (or after switching from guest to signed in),
    renews near expiry, and otherwise makes no AWS call at all.
    """
    g.setdefault("aws_calls", [])
    state = sessions.current_aws()
    auth = sessions.current_auth()
    if auth is not None:
        if guests.FormerGuest.of_session() is not None:
            # The visitor has not said yet what becomes of their former guest
            # identity (a storage page, before the credentials page): ask first.
            abort(redirect(url_for("credentials.show")))
        with about(auth.provider):
            if auth.state == "refresh_failed":
                raise FedlabError("federated_tokens_invalid", detail="the refresh was refused")
            if state is None or state.guest or state.provider != auth.provider:
                return federate(auth, previous_guest=None)
            if not aws.fresh(state.credentials):
                return renew(auth, state)
        return state
    if state is None or not state.guest:
        raise FedlabError("signed_out")
    if not aws.fresh(state.credentials):
        return fetch_and_keep_credentials(state.identity_id, None, None, guest=True)
    return state


def guest_credentials() -> None:
    """"Continue as guest": the session's guest identity again (no AWS call while
    its credentials are fresh), or a new one within this browser's and the site's
    limits."""
    state = sessions.current_aws()
    if state is not None and state.guest:
        reuse_guest(state)
    else:
        new_guest()


def reuse_guest(state: AwsState) -> None:
    """The session's guest identity again: renewed under the same id when its
    credentials are old, and a new one only if the pool no longer lets this
    session use it."""
    if aws.fresh(state.credentials):
        return
    try:
        fetch_and_keep_credentials(state.identity_id, None, None, guest=True)
    except FedlabError as e:
        if e.code not in GUEST_UNUSABLE:
            raise
        sessions.forget_aws()
        new_guest()


def new_guest() -> None:
    """A new guest identity, within this browser's and the site's limits."""
    key = guests.admit_new()
    identity_id = call_and_note("GetId", aws.get_id, None)
    fetch_and_keep_credentials(identity_id, None, None, guest=True)
    guests.counted_under(key)


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
    if auth.tokens_expired(time.time()):
        raise FedlabError("federated_tokens_invalid", detail="the tokens expired and "
                          "the provider gives no refresh token")
    return signin.logins(auth)


def federate(auth: SignIn, previous_guest: str | None) -> AwsState:
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


def renew(auth: SignIn, state: AwsState) -> AwsState:
    """New credentials for the same identity and the same chosen role, if any, from
    tokens that are valid now.

    The sign-in's login may have been unlinked from the identity since (by another
    session of the person's: :mod:`webapp.linked_logins`); the pool then refuses
    the identity with these Logins, and AWS makes an unlinked login a new identity
    the next time it is seen. So the session does as AWS says, as
    :func:`reuse_guest` does for a guest: it forgets the old identity and
    federates afresh, and the page says why the identity id changed."""
    logins = logins_for(auth)
    try:
        return fetch_and_keep_credentials(state.identity_id, logins, auth.provider,
                                          previous_guest=state.previous_guest, renewal=True,
                                          custom_role_arn=state.custom_role_arn)
    except FedlabError as e:
        if e.code != LOGIN_UNLINKED:
            raise
    return afresh(auth, state)


def afresh(auth: SignIn, state: AwsState) -> AwsState:
    """Forget the identity the pool no longer gives this sign-in (``state``'s), federate
    the sign-in anew (``GetId``), and tell the visitor why the identity id changed."""
    sessions.forget_aws()
    fresh = federate(auth, previous_guest=None)
    flash(f"Your identity changed: the pool no longer takes your {state.logins_key} login "
          f"for identity {state.identity_id} (it was unlinked there, from another session), "
          f"so your sign-in now has identity {fresh.identity_id}. Files kept under the old "
          f"identity's own folders stay with it.")
    return fresh


def choose_role(auth: SignIn, role_arn: str | None) -> AwsState:
    """New credentials for the signed-in identity, for ``role_arn`` (``CustomRoleArn``:
    one of the roles the token offers), or for the role the pool's mapping picks
    when ``role_arn`` is None. The pool decides whether the token allows the
    choice; when it refuses, the session keeps the credentials it had.

    Held credentials are not renewed first: a renewal asks for the role chosen
    before, which the pool may refuse now, and this is how a visitor leaves it."""
    state = sessions.current_aws()
    if state is None or state.guest or state.provider != auth.provider:
        state = ensure_fresh_credentials()
    with about(auth.provider):
        try:
            return fetch_and_keep_credentials(state.identity_id, logins_for(auth),
                                              auth.provider,
                                              previous_guest=state.previous_guest,
                                              custom_role_arn=role_arn)
        except FedlabError as e:
            if e.code != LOGIN_UNLINKED:
                raise
        # Unlinked elsewhere while the session's credentials were fresh (see renew).
        state = afresh(auth, state)
        return fetch_and_keep_credentials(state.identity_id, logins_for(auth), auth.provider,
                                          custom_role_arn=role_arn)


def fetch_and_keep_credentials(identity_id: str, logins: dict[str, str] | None,
                               provider: str | None, *, guest: bool = False,
                               previous_guest: str | None = None,
                               renewal: bool = False,
                               custom_role_arn: str | None = None) -> AwsState:
    """Two AWS calls, then the session: ``GetCredentialsForIdentity`` for the
    identity (the pool may answer with another id: a merged guest), then
    ``GetCallerIdentity`` for the role the pool chose; both kept in the session
    as the visitor's AWS state, which is returned. A role the pool refused
    (its mapping's Deny, or a choice the token does not offer) is explained
    with the mapping and the token's roles."""
    try:
        identity_id, credentials = call_and_note(
            "GetCredentialsForIdentity", aws.get_credentials, identity_id, logins,
            custom_role_arn)
    except FedlabError as e:
        if e.code in roles.ROLE_REFUSALS:
            e.details.update(roles.refusal_details(sessions.current_auth(), custom_role_arn))
        raise
    role = call_and_note("GetCallerIdentity", aws.caller_role, credentials)
    before = sessions.current_aws()
    now = int(time.time())
    same_identity = before is not None and before.identity_id == identity_id
    state = AwsState(
        identity_id=identity_id,
        guest=guest,
        provider=provider,
        logins_key=next(iter(logins)) if logins else None,
        role_arn=role,
        credentials=credentials,
        obtained_at=now,
        since=before.since if same_identity and before is not None else now,
        renewals=(before.renewals if before is not None else 0) + int(renewal),
        previous_guest=previous_guest,
        custom_role_arn=custom_role_arn,
    )
    sessions.keep_aws(state)
    signals.credentials_issued.send(current_app._get_current_object(), provider=provider,
                                    guest=guest, identity_id=identity_id, renewal=renewal)
    return state


def call_and_note(operation: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Make one AWS call and note it for the page, with how long it took."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return function(*args, **kwargs)
    except FedlabError as e:
        outcome = e.code
        raise
    finally:
        ms = round((time.perf_counter() - started) * 1000)
        g.aws_calls.append(AwsCall(operation, outcome, ms))
        steps.aws_call(operation, outcome, ms)


def noted_calls() -> tuple[AwsCall, ...]:
    """The calls :func:`call_and_note` noted in this request so far, in order."""
    return tuple(g.get("aws_calls", ()))
