"""The account page: who signed in, what the tokens say, and the session's state.

The page puts a summary first (who, by which provider, since when, until when
the tokens hold, and the main actions); the decoded tokens follow, each part
folded in a ``<details>`` with its claims as a table, times as times.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from . import guests, rendered_pages, sessions, signin, tokens
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


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as the page shows it: its name and label, and what it says
    (:class:`webapp.tokens.Decoded`: never the token itself)."""

    name: str
    label: str
    decoded: tokens.Decoded


@bp.get("")
def account() -> str | tuple[str, int]:
    """The account, or for a visitor without a sign-in (signed out, or a guest)
    the offer to sign in that comes back here (401: see
    :func:`webapp.errors.sign_in_offer` for why).

    The page is the site's heaviest to render, and a function of the session
    record: views of the same record are served the page as rendered for it
    (:mod:`webapp.rendered_pages`)."""
    auth = sessions.current_auth()
    if auth is None:
        return offer()
    auth = signin.ensure_fresh(auth)
    provider = registry.providers().get(auth.provider)
    if provider is None:
        sessions.end()
        return offer()
    refresh_error = g.get("refresh_error")

    def render() -> str:
        return render_template(
            "account/account.html",
            auth=auth,
            provider=provider,
            state=STATES[auth.state].format(provider=provider.display_name),
            tokens=token_views(auth.tokens),
            refresh_error=refresh_error,
        )

    # The page of a failed refresh explains it for this view only; any other is
    # the session record's, and is kept as rendered for the next views of it.
    return render() if refresh_error is not None else rendered_pages.per_record(render)


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
        decoded = tokens.describe(getattr(stored, name))
        if decoded is not None:
            views.append(TokenView(name=name, label=label, decoded=decoded))
    return views
