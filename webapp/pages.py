"""The home page, the site's shell (who is signed in, which tab is open) and its icon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from . import sessions, visitor
from .providers import registry

bp = Blueprint("pages", __name__)

#: The header's tabs: (label, endpoint, its URL arguments, the blueprint whose pages
#: it stands for, who can use it). "signed_in": only a signed-in visitor (a
#: guest or a signed-out visitor is marked "sign in first"); "visitor": a guest
#: too (signed out, "sign in or continue as guest first"); "anyone".
TABS: tuple[tuple[str, str, dict[str, str], str, str], ...] = (
    ("Home", "pages.home", {}, "pages", "anyone"),
    ("Account", "account.account", {}, "account", "signed_in"),
    ("AWS credentials", "credentials.show", {}, "credentials", "visitor"),
    ("Storage", "storage.listing", {"level": "public"}, "storage", "visitor"),
    ("Diagnostics", "diagnostics.matrix_page", {}, "diagnostics", "anyone"),
)
#: Tabs that need the identity pool (the AWS side is optional).
AWS_TABS = frozenset({"credentials", "storage"})


@bp.app_context_processor
def shell() -> dict[str, Any]:
    """What base.html's header needs on every page, error pages too: the visitor
    (read through the session service, never the raw session) and the tabs."""
    who = visitor.current()
    return {"site_visitor": who, "site_tabs": lambda aws: tabs(who, aws)}


def tabs(who: visitor.Visitor, aws: bool) -> list[dict[str, Any]]:
    """The header's tabs for ``who``: each with its URL, whether it is the current
    page's, and why it is locked (None: usable)."""
    locks = {"signed_in": None if who.signed_in else "sign in first",
             "visitor": None if who.standing != "signed_out" else
             "sign in or continue as guest first",
             "anyone": None}
    return [{"label": label, "url": url_for(endpoint, **args),
             "current": request.blueprint == blueprint, "locked": locks[who_can]}
            for label, endpoint, args, blueprint, who_can in TABS
            if aws or blueprint not in AWS_TABS]


@bp.get("/")
def home() -> str:
    providers = registry.providers().values()
    return render_template("pages/home.html", providers=providers,
                           auth=sessions.current_auth())


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
