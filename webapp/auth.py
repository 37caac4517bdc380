"""Sign-in, callback, refresh and sign-out: ``/auth/<name>/...``.

The flow is the authorization-code grant with PKCE (RFC 9700 2.1.1), a state
and a nonce that are fresh per sign-in, kept server-side in this browser's
session and usable once. Everything peculiar to one provider happens in its
kind module (``kind_of(provider)``); these views are the same for all of them.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, request, session
from werkzeug.wrappers import Response

from . import guests, sessions, signals
from .errors import AUTHORIZATION_ERRORS, FedlabError
from .oauth import ProviderClient, client_for
from .providers import Provider, configured, kind_of
from .session_interface import BRIEF_LIFETIME
from .session_store import same_sign_in
from .urls import current_origin, external_url, safe_next_path

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)

#: A sign-in must come back within this many seconds.
PENDING_LIFETIME = BRIEF_LIFETIME
#: Sign-ins that may be under way at once in one browser (several tabs).
MAX_PENDING = 5
#: Refresh this long before the access token expires.
REFRESH_MARGIN = 30


def get_provider(name: str) -> Provider:
    return configured.get(name)


@contextmanager
def failures_reported(name: str) -> Iterator[None]:
    """A sign-in that fails, at its start or on the way back, is an auth event."""
    try:
        yield
    except FedlabError as e:
        signals.sign_in_failed.send(current_app._get_current_object(), provider=name,
                                    reason=e.code)
        raise


@bp.get("/<name>/login")
def login(name: str) -> Response:
    provider = get_provider(name)
    redirect_uri = external_url("auth.callback", name=name)
    with failures_reported(name):  # discovery down, slow or wrong: a failed sign-in too
        request_data = client_for(provider).authorization_url(redirect_uri)
    pending = {k: v for k, v in session.get("pending", {}).items()
               if time.time() - v["created"] < PENDING_LIFETIME}
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda s: pending[s]["created"]))
    pending[request_data["state"]] = {
        "provider": name,
        "nonce": request_data.get("nonce"),
        "code_verifier": request_data["code_verifier"],
        "redirect_uri": redirect_uri,
        "next": safe_next_path(request.args.get("next")),
        "created": int(time.time()),
        # The guest identity this browser has as it starts signing in: the only one
        # the credentials page may offer to carry over (see callback).
        "guest_identity": guests.guest_identity_id(),
    }
    session["pending"] = pending
    return redirect(request_data["url"])


def take_pending(state: str) -> dict[str, Any] | None:
    """Pop the sign-in that ``state`` names: each state works once, in this session only."""
    pending = session.get("pending") or {}
    for candidate in list(pending):
        if hmac.compare_digest(candidate.encode(), state.encode()):
            record = pending.pop(candidate)
            session["pending"] = pending
            return record
    return None


@bp.get("/<name>/callback")
def callback(name: str) -> Response:
    provider = get_provider(name)
    args = request.args
    record = take_pending(args.get("state", ""))
    with failures_reported(name):
        if args.get("error"):
            if args.get("iss") is not None:  # RFC 9207 2.4: on error answers too
                check_iss_parameter(client_for(provider), args["iss"])
            raise authorization_error(name, args, ours=pending_for(record, name))
        if record is None or record["provider"] != name:
            raise FedlabError("state_mismatch", provider=name)
        if time.time() - record["created"] > PENDING_LIFETIME:
            raise FedlabError("state_expired", provider=name)
        client = client_for(provider)
        check_iss_parameter(client, args.get("iss"))
        if not args.get("code"):
            raise FedlabError("code_missing", provider=name)
        token = client.exchange_code(args["code"], record["redirect_uri"],
                                     record["code_verifier"])
        who = kind_of(provider).sign_in(client, token, record["nonce"])
    now = int(time.time())
    former = guests.former_guest(record.get("guest_identity"))
    sessions.start({
        "provider": name,
        "iss": who["iss"],
        "sub": who["sub"],
        "claims": who["claims"],
        "userinfo": who["userinfo"],
        "tokens": stored_tokens(token),
        "nonce": record["nonce"],
        "signed_in_at": now,
        "state": "signed_in",
        "history": [{"at": now, "event": "signed_in"}],
    })
    if former is not None:
        former.offer()
    signals.signed_in.send(current_app._get_current_object(), provider=name,
                           iss=who["iss"], sub=who["sub"])
    return redirect(record["next"])


def pending_for(record: dict[str, Any] | None, name: str) -> bool:
    """Whether ``record`` is a sign-in this browser started with ``name``, still in time."""
    return (record is not None and record["provider"] == name
            and time.time() - record["created"] <= PENDING_LIFETIME)


#: The longest provider description shown, in characters.
DESCRIPTION_LIMIT = 300


def authorization_error(name: str, args: Any, *, ours: bool) -> FedlabError:
    """The provider's error answer (RFC 6749 4.1.2.1) as a page of this site.

    Anyone can send a browser to the callback with ``?error=...``, so only the
    standard codes get their own page, and the provider's description is shown
    only on the way back from a sign-in this browser started with this provider
    (its state matched): otherwise they are a stranger's words in this site's voice.
    """
    error = args["error"]
    code = error if error in AUTHORIZATION_ERRORS else "provider_error"
    if not ours:
        return FedlabError(code, provider=name)
    words = args.get("error_description", "")
    if code == "provider_error":
        words = f"{error[:100]}: {words}" if words else error[:100]
    return FedlabError(code, provider=name, description=words[:DESCRIPTION_LIMIT])


def check_iss_parameter(client: ProviderClient, iss: str | None) -> None:
    """RFC 9207: the response says which issuer sent it; it must be ours."""
    provider = client.provider
    if iss is None:
        if provider.issuer and client.metadata.get(
            "authorization_response_iss_parameter_supported"
        ):
            raise FedlabError("iss_missing", provider=provider.name)
        return
    if iss != provider.issuer:
        raise FedlabError("iss_mismatch", provider=provider.name, expected=provider.issuer,
                          got=iss[:200])


def stored_tokens(token: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keep what the site needs, as plain values; a refresh may omit the refresh token."""
    previous = previous or {}
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in"):
        expires_at = int(time.time()) + int(token["expires_in"])
    return {
        "access_token": token.get("access_token"),
        "id_token": token.get("id_token") or previous.get("id_token"),
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token"),
        "token_type": token.get("token_type", "Bearer"),
        "scope": token.get("scope", previous.get("scope", "")),
        "expires_at": int(expires_at) if expires_at else None,
    }


def refresh_tokens(auth: dict[str, Any]) -> str:
    """Renew the tokens in ``auth`` in place; on refusal the state says sign in again.

    Once per session however many requests (tabs, instances) find the tokens
    expired at the same time: the refresh runs under the session's lock and is
    written to the store before the lock is released. A request that waited
    for the lock reads the store again and, when a refresh happened meanwhile
    (``generation`` moved on), takes its outcome instead of spending a refresh
    token that the provider may already have rotated. A request that could not
    get the lock in time does not refresh beside its holder either: it goes on
    with the tokens as stored, and the visitor stays signed in.

    Returns ``"refreshed"`` (done here), ``"taken"`` (done by another request)
    or ``"busy"`` (another request is still at it).
    """
    provider = get_provider(auth["provider"])
    seen = auth.get("generation", 0)
    with sessions.refresh_lock() as acquired:
        latest = sessions.stored_auth()
        if latest is None:
            # Signed out (here or on another instance) while this request waited: no
            # refresh token is spent for a session that no longer exists.
            raise FedlabError("signed_out", provider=provider.name)
        same_visitor = same_sign_in(latest, auth)
        if same_visitor and latest.get("generation", 0) > seen:
            auth.clear()
            auth.update(latest)
            session["auth"] = auth
            if auth["state"] == "refresh_failed":
                raise FedlabError("refresh_failed", provider=provider.name,
                                  detail=auth["history"][-1].get("reason", "refused"))
            return "taken"
        if not acquired:
            log.warning("refresh lock still held by another request; not refreshing beside it")
            if same_visitor:
                auth.clear()
                auth.update(latest)
            return "busy"
        try:
            _refresh(provider, auth)
        finally:
            if auth.get("generation", 0) != seen:
                sessions.save_now()
    return "refreshed"


def _refresh(provider: Provider, auth: dict[str, Any]) -> None:
    now = int(time.time())
    if not auth["tokens"].get("refresh_token"):
        raise FedlabError("refresh_unavailable", provider=provider.name,
                          detail="none was issued at sign-in")
    try:
        renewed = kind_of(provider).refresh(client_for(provider), auth)
    except FedlabError as e:
        # A refusal ends the sign-in; an outage (provider down, slow, garbled)
        # keeps the tokens for the next try. Both are a failed refresh.
        refused = e.code in ("token_request_failed", "id_token_rejected")
        if refused:
            auth["state"] = "refresh_failed"
            auth["tokens"] = {"expires_at": auth["tokens"].get("expires_at")}
            auth["history"].append({"at": now, "event": "refresh_failed", "reason": e.code})
            auth["generation"] = auth.get("generation", 0) + 1
            session["auth"] = auth
        signals.refresh_failed.send(current_app._get_current_object(),
                                    provider=provider.name, reason=e.code,
                                    signed_out=refused)
        if e.code == "token_request_failed":
            # The token endpoint's refusal, in the words of a refresh rather than
            # of a code exchange (whose advice is about codes and callback URLs).
            raise FedlabError("refresh_failed", provider=provider.name,
                              detail=refusal_words(e)) from None
        raise
    auth["tokens"] = stored_tokens(renewed["tokens"], auth["tokens"])
    auth["claims"] = renewed["claims"]
    auth["state"] = "refreshed"
    auth["history"] = [*auth["history"][-9:], {"at": now, "event": "refreshed"}]
    auth["generation"] = auth.get("generation", 0) + 1
    session["auth"] = auth
    signals.refreshed.send(current_app._get_current_object(), provider=provider.name)


def refusal_words(error: FedlabError) -> str:
    """The token endpoint's error and description (RFC 6749 5.2), bounded."""
    code = str(error.details.get("error") or "refused")
    description = str(error.details.get("description") or "")
    return (f"{code}: {description}" if description else code)[:DESCRIPTION_LIMIT]


def ensure_fresh(auth: dict[str, Any]) -> None:
    """Refresh expired tokens before a page uses them, as the Amplify clients do."""
    expires_at = auth["tokens"].get("expires_at")
    if (auth["state"] != "refresh_failed" and expires_at
            and expires_at - REFRESH_MARGIN < time.time()
            and auth["tokens"].get("refresh_token")):
        try:
            refresh_tokens(auth)
        except FedlabError as e:
            g.refresh_error = e


@bp.post("/refresh")
def refresh() -> Response:
    auth = sessions.current_auth()
    if auth is None:
        raise FedlabError("signed_out")
    outcome = refresh_tokens(auth)
    if outcome == "busy":
        flash("Another page is renewing these tokens right now; try again in a moment.")
    else:
        flash("Tokens refreshed: the new id token passed every check again.")
    return redirect("/account")


@bp.post("/signout")
def signout() -> Response:
    # A session that timed out as this request began is gone here, but the
    # provider's may not be: its sign-out is still sent.
    auth = sessions.current_auth() or sessions.timed_out_auth()
    signals.keep_who(auth)  # for the signed-out event, sent once the session is gone
    sessions.end()
    if auth is None:
        return redirect("/")
    provider = get_provider(auth["provider"])
    client = client_for(provider)
    try:
        plan = kind_of(provider).sign_out(client, auth, current_origin() + "/")
    except FedlabError as e:
        # The session here is gone already; say what could not be done there.
        signals.signed_out.send(current_app._get_current_object(), provider=provider.name,
                                revoked=False, provider_reached=False, reason=e.code)
        flash(f"You were signed out here, but {provider.display_name} could not be reached "
              f"to end your session there ({e.code}).")
        return redirect("/")
    revoked = revoke(client, plan.revocation)
    signals.signed_out.send(current_app._get_current_object(), provider=provider.name,
                            revoked=revoked, provider_reached=True)
    if plan.url:
        return redirect(plan.url)
    if plan.revocation is not None:
        outcome = "The refresh token was revoked." if revoked else (
            "The provider did not confirm revoking the refresh token.")
        flash(f"{plan.note} {outcome}")
    else:
        flash(plan.note)
    return redirect("/")


def revoke(client: ProviderClient, revocation: Any) -> bool:
    """Best effort (RFC 7009): sign-out has already happened here whatever the answer."""
    if revocation is None:
        return False
    url, form, basic = revocation
    try:
        response = client.call("POST", url, "revoke", data=form, auth=basic)
    except FedlabError:
        return False
    return response.status_code == 200

