"""The account page: who signed in, what the tokens say, and the session's state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from . import sessions, signin, tokens
from .errors import FedlabError
from .providers import registry
from .records import Tokens

bp = Blueprint("account", __name__, url_prefix="/account")

#: The session's state in words: the web form of Amplify's user states.
STATES = {
    "signed_in": "Signed in via {provider}",
    "refreshed": "Signed in via {provider}; the tokens expired and were refreshed",
    "refresh_failed": "Refresh failed: sign in again with {provider}",
}


@bp.get("")
def account() -> str:
    auth = sessions.current_auth()
    if auth is None:
        raise FedlabError("signed_out")
    auth = signin.ensure_fresh(auth)
    provider = registry.providers().get(auth.provider)
    if provider is None:
        sessions.end()
        raise FedlabError("signed_out")
    return render_template(
        "account/account.html",
        auth=auth,
        provider=provider,
        state=STATES[auth.state].format(provider=provider.display_name),
        tokens=token_views(auth.tokens),
        refresh_error=g.get("refresh_error"),
    )


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


def token_views(stored: Tokens) -> list[dict[str, Any]]:
    """Decoded views of each token; refresh tokens are opaque and never shown."""
    views = []
    for name, label in (("id_token", "Id token"), ("access_token", "Access token")):
        described = tokens.describe(getattr(stored, name))
        if described is not None:
            views.append({"name": name, "label": label, **described})
    return views
