"""The account page: who signed in, what the tokens say, and the session's state.

The page puts a summary first (who, by which provider, since when, until when
the tokens hold, and the main actions); the decoded tokens follow, each part
folded in a ``<details>`` with its claims as a table, times as times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from . import guests, sessions, signin, timewords, tokens
from .errors import FedlabError, Guide, sign_in_offer
from .providers import registry
from .records import Tokens

bp = Blueprint("account", __name__, url_prefix="/account")

#: The session's state in words: the web form of Amplify's user states.
STATES = {
    "signed_in": "Signed in via {provider}",
    "refreshed": "Signed in via {provider}; the tokens expired and were refreshed",
    "refresh_failed": "Refresh failed: sign in again with {provider}",
}

#: Claims that are moments (seconds since the epoch): RFC 7519 4.1 and OpenID
#: Connect Core 2 and 5.1. Shown as times, never as the number.
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})


@dataclass(frozen=True)
class Claim:
    """One claim of a token part, as the table shows it."""

    name: str
    #: The value as text (lists joined, objects as JSON); empty for a moment.
    text: str
    #: Seconds since the epoch when the claim is a moment, else None.
    moment: int | None = None


@dataclass(frozen=True)
class TokenView:
    """A token as the page shows it: never the token, only what it says."""

    name: str
    label: str
    length: int
    jwt: bool
    header: tuple[Claim, ...] = ()
    payload: tuple[Claim, ...] = ()
    header_json: str = ""
    payload_json: str = ""
    expires_at: int | None = None


@bp.get("")
def account() -> str | tuple[str, int]:
    """The account, or for a visitor without a sign-in (signed out, or a guest)
    the offer to sign in that comes back here (401: see
    :func:`webapp.errors.sign_in_offer` for why)."""
    auth = sessions.current_auth()
    if auth is None:
        return offer()
    auth = signin.ensure_fresh(auth)
    provider = registry.providers().get(auth.provider)
    if provider is None:
        sessions.end()
        return offer()
    return render_template(
        "account/account.html",
        auth=auth,
        provider=provider,
        state=STATES[auth.state].format(provider=provider.display_name),
        tokens=token_views(auth.tokens),
        refresh_error=g.get("refresh_error"),
    )


def offer() -> tuple[str, int]:
    """The account page of a visitor with no sign-in: what it would show, and the
    providers' buttons; a guest is told they are one (a guest has an identity in
    the pool but no account here)."""
    return sign_in_offer(Guide(
        heading="Your account",
        lead=("Sign in to see who the provider says you are, what your id and access "
              "tokens say and when they expire. Pick a provider: you come back here."),
        next_path=url_for("account.account"),
        guest_identity=guests.guest_identity_id(),
        offer_guest=True))


@bp.post("/userinfo")
def userinfo() -> Response:
    """Ask the provider's userinfo endpoint, on the visitor's request.

    Not part of the sign-in: the verified id token already says who this is.
    An answer about another subject is refused and nothing of it is kept.
    """
    auth = sessions.current_auth()
    if auth is None:
        raise FedlabError("signed_out")
    signin.ask_userinfo(signin.ensure_fresh(auth))
    flash("The userinfo endpoint answered for the same subject as the id token.")
    return redirect(url_for("account.account", _anchor="userinfo"))


def token_views(stored: Tokens) -> list[TokenView]:
    """Decoded views of each token; refresh tokens are opaque and never shown."""
    views = []
    for name, label in (("id_token", "Id token"), ("access_token", "Access token")):
        described = tokens.describe(getattr(stored, name))
        if described is None:
            continue
        if not described["jwt"]:
            views.append(TokenView(name=name, label=label, length=described["length"],
                                   jwt=False))
            continue
        payload = described["payload"]
        exp = payload.get("exp")
        views.append(TokenView(
            name=name, label=label, length=described["length"], jwt=True,
            header=claims(described["header"]), payload=claims(payload),
            header_json=described["header_json"], payload_json=described["payload_json"],
            expires_at=exp if is_moment(exp) else None))
    return views


def claims(part: dict[str, Any]) -> tuple[Claim, ...]:
    """A token part's claims in name order, moments kept as numbers for the page's
    times and everything else as readable text."""
    rows = []
    for name in sorted(part):
        value = part[name]
        if name in TIME_CLAIMS and is_moment(value):
            rows.append(Claim(name=name, text="", moment=int(value)))
        elif isinstance(value, list):
            rows.append(Claim(name=name, text=", ".join(map(str, value))))
        elif isinstance(value, dict):
            rows.append(Claim(name=name, text=json.dumps(value, sort_keys=True)))
        else:
            rows.append(Claim(name=name, text=str(value)))
    return tuple(rows)


def is_moment(value: Any) -> bool:
    """Whether ``value`` is a NumericDate the page can show as a time: a finite
    number (not a boolean) a datetime holds. Milliseconds, or a number too large,
    are shown as the number rather than failing the page."""
    return timewords.is_moment(value)
