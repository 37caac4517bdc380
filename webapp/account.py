"""The account page: who signed in, what the tokens say, and the session's state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template

from . import sessions, tokens
from .auth import ensure_fresh
from .errors import FedlabError

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
    ensure_fresh(auth)
    provider = current_app.config["FEDLAB"]["providers"].get(auth["provider"])
    if provider is None:
        sessions.end()
        raise FedlabError("signed_out")
    return render_template(
        "account/account.html",
        auth=auth,
        provider=provider,
        state=STATES[auth["state"]].format(provider=provider.display_name),
        tokens=token_views(auth["tokens"]),
        refresh_error=g.get("refresh_error"),
    )


def token_views(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """Decoded views of each token; refresh tokens are opaque and never shown."""
    views = []
    for name, label in (("id_token", "Id token"), ("access_token", "Access token")):
        described = tokens.describe(stored.get(name))
        if described is not None:
            views.append({"name": name, "label": label, **described})
    return views
