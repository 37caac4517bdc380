"""The sign-in service: provider lookup, sign-ins under way, the session's sign-in,
refresh, and sign-out planning.

The views (:mod:`webapp.auth`, :mod:`webapp.account`, :mod:`webapp.credentials`,
:mod:`webapp.diagnostics`) call these functions and never one another. The
visitor's sign-in is a :class:`~webapp.records.SignIn`, read through
:func:`webapp.sessions.current_auth` and written back only by :func:`put` (or
:func:`webapp.sessions.start` when a sign-in begins a session): a record is
frozen, so a change is a new record, and the session holds its plain values.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, session
from msgspec.structs import replace

from . import form_post_extras, guests, sessions, signals
from .errors import AUTHORIZATION_ERRORS, FedlabError
from .oauth import ProviderClient, client_for
from .providers import Provider, SignOut, registry
from .records import Event, LinkFor, Pending, SignIn, Tokens, Verified
from .session_interface import BRIEF_LIFETIME
from .urls import sign_out_return_url

log = logging.getLogger(__name__)

#: A sign-in must come back within this many seconds.
PENDING_LIFETIME = BRIEF_LIFETIME
#: Sign-ins that may be under way at once in one browser (several tabs).
MAX_PENDING = 5
#: Refresh this long before the access token expires.
REFRESH_MARGIN = 30
#: The longest provider description shown, in characters.
DESCRIPTION_LIMIT = 300
#: What else a new session keeps from its first write, given its sign-in.
AlsoKeep = Callable[[SignIn], Mapping[str, Any]]


def get_provider(name: str) -> Provider:
    """The configured provider ``name``; an unknown one is the visitor's error page."""
    return registry.get(name)


def put(auth: SignIn) -> None:
    """Make ``auth`` the session's sign-in: the one place a changed sign-in is stored."""
    session["auth"] = auth.dump()


# -- sign-ins under way ------------------------------------------------------------------


def begin(provider: Provider, redirect_uri: str, next_path: str,
          link_for: LinkFor | None = None) -> str:
    """Start a sign-in: make the authorization request (state, nonce, PKCE) and
    keep what the callback will need under its state; return where to send the
    browser. With ``link_for`` it is a second sign-in, to link this provider's
    login to that person's identity (see :func:`finish`).

    Several may be under way (tabs); the oldest go beyond :data:`MAX_PENDING`,
    and any older than :data:`PENDING_LIFETIME` are dropped on the way.
    """
    sent = client_for(provider).authorization_url(redirect_uri)
    now = time.time()
    pending = {state: record for state, record in Pending.load_all(session.get("pending")).items()
               if now - record.created < PENDING_LIFETIME}
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda s: pending[s].created))
    pending[sent.state] = Pending(
        provider=provider.name,
        nonce=sent.nonce,
        code_verifier=sent.code_verifier,
        redirect_uri=redirect_uri,
        next=next_path,
        created=int(now),
        # The guest identity this browser has as it starts signing in: the only one
        # the credentials page may offer to carry over (see complete).
        guest_identity=guests.guest_identity_id(),
        link_for=link_for,
    )
    session["pending"] = {state: record.dump() for state, record in pending.items()}
    return sent.url


def keep_form_post_extras(state: str, fields: Mapping[str, str]) -> None:
    """Keep a ``form_post`` answer's extra ``fields`` for the GET callback of ``state``
    (see :mod:`webapp.form_post_extras`)."""
    form_post_extras.keep(state, fields)


def take_pending(state: str) -> Pending | None:
    """Pop the sign-in that ``state`` names: each state works once, in this session only."""
    stored = session.get("pending") or {}
    if not isinstance(stored, dict):
        return None
    for candidate in list(stored):
        if hmac.compare_digest(candidate.encode(), state.encode()):
            record = stored.pop(candidate)
            session["pending"] = stored
            return Pending.load_all({candidate: record}).get(candidate)
    return None


def in_time(record: Pending) -> bool:
    """Whether the sign-in ``record`` came back within :data:`PENDING_LIFETIME`."""
    return time.time() - record.created <= PENDING_LIFETIME


def pending_for(record: Pending | None, name: str) -> bool:
    """Whether ``record`` is a sign-in this browser started with ``name``, still in time."""
    return record is not None and record.provider == name and in_time(record)


@dataclass(frozen=True)
class Finished:
    """A callback's outcome: the page to land on, and for a second sign-in the
    login to link (verified, never stored)."""

    next: str
    second_login: SecondLogin | None = None


@dataclass(frozen=True)
class SecondLogin:
    """A login verified exactly as a sign-in is, to be linked to the identity of the
    person ``link_for`` names. Its tokens live only as long as this request: the
    service that links it (:mod:`webapp.linked_logins`) uses them once."""

    link_for: LinkFor
    auth: SignIn = field(repr=False)


def finish(provider: Provider, args: Mapping[str, str],
           also_keep: AlsoKeep | None = None) -> Finished:
    """Finish the sign-in the authorization response ``args`` answers: its state
    (this browser's, once, in time), its issuer (RFC 9207), the code exchanged
    with the PKCE verifier, the tokens checked by the kind; then the session.
    Returns the page to land on; any failure is the :class:`FedlabError` to show.

    A second sign-in (its pending record has ``link_for``) passes the very same
    checks but leaves the session's sign-in alone: the visitor stays the person
    they were, and the verified login is returned for linking. The session keeps
    its id too: a new id at sign-in defeats session fixation by making an id
    planted before a *change of who is signed in* worthless, and here nobody new
    is signed in. The pending record's state already ties the callback to this
    browser's session, and the link is refused unless the session's sign-in is
    still the person the link was started for.

    ``also_keep`` gives what else the new session holds beside the sign-in (the
    picture of it): it is stored with the session's first write, which then is
    its only one in this request.
    """
    record = take_pending(args.get("state", ""))
    extras = (form_post_extras.take(args.get("state", ""))
              if provider.FORM_POST_EXTRAS and pending_for(record, provider.name) else {})
    if args.get("error"):
        args = {**args, "error": provider.authorization_error_code(args["error"])}
        if args.get("iss") is not None:  # RFC 9207 2.4: on error answers too
            check_iss_parameter(client_for(provider), args["iss"])
        raise authorization_error(provider.name, args,
                                  ours=pending_for(record, provider.name))
    if record is None or record.provider != provider.name:
        raise FedlabError("state_mismatch", provider=provider.name)
    if not in_time(record):
        raise FedlabError("state_expired", provider=provider.name)
    client = client_for(provider)
    check_iss_parameter(client, args.get("iss"))
    if not args.get("code"):
        raise FedlabError("code_missing", provider=provider.name)
    token = client.exchange_code(args["code"], record.redirect_uri, record.code_verifier)
    # The kind reads the posted extras only now, the token response verified.
    who = provider.with_form_post_extras(provider.sign_in(client, token, record.nonce), extras)
    if record.link_for is not None:
        return Finished(record.next, second_login(provider, record, record.link_for,
                                                  token, who))
    complete(provider, record, token, who, also_keep)
    return Finished(record.next)


def second_login(provider: Provider, record: Pending, link_for: LinkFor,
                 token: dict[str, Any], who: Verified) -> SecondLogin:
    """The verified login of a second sign-in, for the person who is still signed in."""
    auth = sessions.current_auth()
    if auth is None or (auth.iss, auth.sub) != (link_for.iss, link_for.sub):
        raise FedlabError("link_not_for_you", provider=provider.name)
    return SecondLogin(link_for, SignIn(
        provider=provider.name, iss=who.iss, sub=who.sub, claims=who.claims,
        tokens=stored_tokens(token), nonce=record.nonce, signed_in_at=int(time.time())))


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


def complete(provider: Provider, record: Pending, token: dict[str, Any],
             who: Verified, also_keep: AlsoKeep | None = None) -> None:
    """Start the visitor's session with the sign-in ``who`` (the kind verified it
    from the token response ``token``), and what ``also_keep`` gives for it; offer
    the guest identity it started with."""
    now = int(time.time())
    former = guests.former_guest(record.guest_identity)
    auth = SignIn(
        provider=provider.name,
        iss=who.iss,
        sub=who.sub,
        claims=who.claims,
        userinfo=who.userinfo,
        tokens=stored_tokens(token),
        nonce=record.nonce,
        signed_in_at=now,
        state="signed_in",
        history=(Event(at=now, event="signed_in"),),
    )
    sessions.start(auth, also_keep(auth) if also_keep is not None else {})
    if former is not None:
        former.offer()
    signals.signed_in.send(current_app._get_current_object(), provider=provider.name,
                           iss=who.iss, sub=who.sub)


# -- tokens and refresh ---------------------------------------------------------------------


def stored_tokens(token: dict[str, Any], previous: Tokens | None = None) -> Tokens:
    """Keep what the site needs, as plain values; a refresh may omit the refresh token."""
    previous = previous or Tokens()
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in"):
        expires_at = int(time.time()) + int(token["expires_in"])
    scope = token.get("scope", previous.scope)
    return Tokens(
        access_token=_text(token.get("access_token")),
        id_token=_text(token.get("id_token")) or previous.id_token,
        refresh_token=_text(token.get("refresh_token")) or previous.refresh_token,
        token_type=str(token.get("token_type") or "Bearer"),
        # RFC 6749 3.3 says a space-separated string; some providers send a list.
        scope=" ".join(map(str, scope)) if isinstance(scope, list | tuple) else str(scope or ""),
        expires_at=int(expires_at) if expires_at else None,
    )


def _text(value: Any) -> str | None:
    """A token as the record keeps it: text, or None when absent."""
    return str(value) if value else None


def refresh_tokens(auth: SignIn) -> tuple[str, SignIn]:
    """Renew the tokens of ``auth``; on refusal the state says sign in again.

    Once per session however many requests (tabs, instances) find the tokens
    expired at the same time: the refresh runs under the session's lock and is
    written to the store before the lock is released. A request that waited
    for the lock reads the store again and, when a refresh happened meanwhile
    (``generation`` moved on), takes its outcome instead of spending a refresh
    token that the provider may already have rotated. A request that could not
    get the lock in time does not refresh beside its holder either: it goes on
    with the tokens as stored, and the visitor stays signed in.

    Returns the outcome, ``"refreshed"`` (done here), ``"taken"`` (done by
    another request) or ``"busy"`` (another request is still at it), and the
    sign-in as it now is (also the session's).
    """
    provider = get_provider(auth.provider)
    seen = auth.generation
    with sessions.refresh_lock() as acquired:
        latest = sessions.stored_auth()
        if latest is None:
            # Signed out (here or on another instance) while this request waited: no
            # refresh token is spent for a session that no longer exists.
            raise FedlabError("signed_out", provider=provider.name)
        same_visitor = latest.same_as(auth)
        if same_visitor and latest.generation > seen:
            put(latest)
            if latest.state == "refresh_failed":
                reason = latest.history[-1].reason if latest.history else None
                raise FedlabError("refresh_failed", provider=provider.name,
                                  detail=reason or "refused")
            return "taken", latest
        if not acquired:
            log.warning("refresh lock still held by another request; not refreshing beside it")
            if same_visitor:
                put(latest)
                return "busy", latest
            return "busy", auth
        try:
            auth = _refresh(provider, auth)
        finally:
            now = sessions.current_auth()
            if now is not None and now.generation != seen:
                sessions.save_now()
    return "refreshed", auth


#: Errors of a refresh that refuse the sign-in rather than report an outage: the token
#: endpoint's refusal, and new tokens that fail the sign-in's checks (an id token, or
#: a plain OAuth 2 provider's word on whose the access token is).
REFRESH_REFUSALS = ("token_request_failed", "id_token_rejected", "token_not_for_this_app",
                    "userinfo_sub_mismatch")


def _refresh(provider: Provider, auth: SignIn) -> SignIn:
    now = int(time.time())
    if not auth.tokens.refresh_token:
        raise FedlabError("refresh_unavailable", provider=provider.name,
                          detail="none was issued at sign-in")
    try:
        renewed = provider.refresh(client_for(provider), auth)
    except FedlabError as e:
        # A refusal ends the sign-in; an outage (provider down, slow, garbled)
        # keeps the tokens for the next try. Both are a failed refresh.
        refused = e.code in REFRESH_REFUSALS
        if refused:
            put(replace(auth, state="refresh_failed",
                        tokens=Tokens(expires_at=auth.tokens.expires_at),
                        history=(*auth.history,
                                 Event(at=now, event="refresh_failed", reason=e.code)),
                        generation=auth.generation + 1))
        signals.refresh_failed.send(current_app._get_current_object(),
                                    provider=provider.name, reason=e.code,
                                    signed_out=refused)
        if e.code == "token_request_failed":
            # The token endpoint's refusal, in the words of a refresh rather than
            # of a code exchange (whose advice is about codes and callback URLs).
            raise FedlabError("refresh_failed", provider=provider.name,
                              detail=refusal_words(e)) from None
        raise
    auth = replace(auth, tokens=stored_tokens(renewed.tokens, auth.tokens),
                   claims=renewed.claims, state="refreshed",
                   history=(*auth.history[-9:], Event(at=now, event="refreshed")),
                   generation=auth.generation + 1)
    put(auth)
    signals.refreshed.send(current_app._get_current_object(), provider=provider.name)
    return auth


def refusal_words(error: FedlabError) -> str:
    """The token endpoint's error and description (RFC 6749 5.2), bounded."""
    code = str(error.details.get("error") or "refused")
    description = str(error.details.get("description") or "")
    return (f"{code}: {description}" if description else code)[:DESCRIPTION_LIMIT]


def ensure_fresh(auth: SignIn) -> SignIn:
    """Refresh expired tokens before a page uses them, as the Amplify clients do.

    Returns the sign-in as it now is; a failed refresh is left in
    ``g.refresh_error`` for the page to explain.
    """
    expires_at = auth.tokens.expires_at
    if (auth.state != "refresh_failed" and expires_at
            and expires_at - REFRESH_MARGIN < time.time()
            and auth.tokens.refresh_token):
        try:
            return refresh_tokens(auth)[1]
        except FedlabError as e:
            g.refresh_error = e
            return sessions.current_auth() or auth
    return auth


def ask_userinfo(auth: SignIn) -> SignIn:
    """Ask the provider's userinfo endpoint about ``auth`` and keep its answer."""
    provider = get_provider(auth.provider)
    answer = provider.userinfo(client_for(provider), auth)
    auth = replace(auth, userinfo=answer, userinfo_at=int(time.time()))
    put(auth)
    return auth


def logins(auth: SignIn) -> dict[str, str]:
    """The Identity Pool ``Logins`` map of ``auth``'s provider (tokens as they are)."""
    return get_provider(auth.provider).logins(auth)


# -- signing out -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedOut:
    """Where sign-out sends the browser, and what it tells the visitor."""

    #: The provider's sign-out page, or None for this site's home page.
    url: str | None
    message: str | None = None


def sign_out() -> SignedOut:
    """End the session here, then plan the provider's side: its sign-out page and
    the refresh token's revocation (RFC 7009, best effort).

    A session that timed out as this request began is gone here, but the
    provider's may not be: its sign-out is still sent.
    """
    auth = sessions.current_auth() or sessions.timed_out_auth()
    signals.keep_who(auth)  # for the signed-out event, sent once the session is gone
    sessions.end()
    if auth is None:
        return SignedOut(None)
    provider = get_provider(auth.provider)
    client = client_for(provider)
    try:
        plan = provider.sign_out(client, auth, sign_out_return_url())
    except FedlabError as e:
        # The session here is gone already; say what could not be done there.
        signals.signed_out.send(current_app._get_current_object(), provider=provider.name,
                                revoked=False, provider_reached=False, reason=e.code)
        return SignedOut(None, f"You were signed out here, but {provider.display_name} could "
                               f"not be reached to end your session there ({e.code}).")
    revoked = revoke(client, plan.revocation)
    signals.signed_out.send(current_app._get_current_object(), provider=provider.name,
                            revoked=revoked, provider_reached=True)
    if plan.url:
        return SignedOut(plan.url)
    if plan.revocation is not None:
        outcome = "The refresh token was revoked." if revoked else (
            "The provider did not confirm revoking the refresh token.")
        return SignedOut(None, f"{plan.note} {outcome}")
    return SignedOut(None, plan.note)


def sign_out_everywhere() -> SignedOut:
    """End every session this site holds for the signed-in person (issuer and
    subject), in every browser and on every instance, then their sessions at the
    provider where it offers that (the kind's :meth:`~Provider.end_everywhere`),
    then this browser's sign-out there as :func:`sign_out` plans it.

    Expired tokens are renewed first: the provider's call (Cognito's
    ``GlobalSignOut``) takes a live access token. The sessions go before any
    provider call, so a provider that is down or refuses leaves nothing alive
    here; the message says how many ended and what the provider did. A request
    still running in one of those sessions cannot bring it back: the store
    rewrites only a record that still exists.

    A tab left open past its session's timeout still works, as "Sign out" does:
    the timeout ended this session, but the person's others may be alive.
    """
    auth = sessions.current_auth() or sessions.timed_out_auth()
    if auth is None:
        raise FedlabError("signed_out")
    auth = ensure_fresh(auth)
    signals.keep_who(auth)
    ended = sessions.end_sessions_of(auth.iss, auth.sub)
    provider = get_provider(auth.provider)
    client = client_for(provider)
    there = provider.end_everywhere(client, auth)
    try:
        plan: SignOut | None = provider.sign_out(client, auth, sign_out_return_url())
    except FedlabError:  # no discovery: no sign-out page to send this browser to
        plan = None
    if plan is not None and not there.done:  # else the provider revoked it already
        revoke(client, plan.revocation)
    signals.signed_out_everywhere.send(current_app._get_current_object(),
                                       provider=provider.name, sessions_ended=ended,
                                       at_provider=there.outcome, provider_sent=there.sent)
    sessions_word = "session" if ended == 1 else "sessions"
    return SignedOut(plan.url if plan is not None else None,
                     f"Signed out everywhere: {ended} {sessions_word} of yours on this site "
                     f"ended, in every browser. {there.note}")


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
