"""The home page, the site's shell (who is signed in, which tab is open) and its icon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from . import sessions, visitor
from .providers import registry
from .visitor import Need, Tab

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Section:
    """One of the header's tabs, as declared: where it leads, which blueprints'
    pages it stands for (marked current on them), and who may use it."""

    label: str
    endpoint: str
    need: Need
    blueprints: frozenset[str]
    args: tuple[tuple[str, str], ...] = ()
    #: Only where the identity pool is configured (the AWS side is optional).
    aws: bool = False


SECTIONS: tuple[Section, ...] = (
    Section("Home", "pages.home", Need.ANYONE, frozenset({"pages"})),
    # The picture of the sign-in lives under /account: it is the account's page too.
    Section("Account", "account.account", Need.SIGN_IN,
            frozenset({"account", "picture_page"})),
    Section("AWS credentials", "credentials.show", Need.AWS_IDENTITY,
            frozenset({"credentials"}), aws=True),
    Section("Storage", "storage.listing", Need.AWS_IDENTITY, frozenset({"storage"}),
            (("level", "public"),), aws=True),
    Section("Diagnostics", "diagnostics.matrix_page", Need.ANYONE,
            frozenset({"diagnostics"})),
)


#: Where the app keeps the URLs :func:`fixed_url` built, and how many it keeps.
FIXED_URLS = "fedlab_fixed_urls"
FIXED_URLS_KEPT = 64


@bp.app_template_global()
def fixed_url(endpoint: str, **values: str) -> str:
    """``url_for(endpoint, **values)`` for the links every page repeats (the
    stylesheet, the tabs, the account page's forms), built once per app and
    script root rather than on each page view: a page has a dozen of them, and
    each ``url_for`` matched the rule again. A path-only URL depends on nothing
    else of the request. At most :data:`FIXED_URLS_KEPT` are kept, whatever the
    requests' script roots (a proxy may forward them), the others built as usual.
    A relative endpoint (``.name``) depends on the request's blueprint: refused."""
    if endpoint.startswith("."):
        raise ValueError(f"fixed_url({endpoint!r}): name the blueprint; a relative "
                         "endpoint depends on the page it is used on")
    kept: dict[tuple[Any, ...], str] = current_app.extensions.setdefault(FIXED_URLS, {})
    key = (request.script_root, endpoint, *sorted(values.items()))
    url = kept.get(key)
    if url is None:
        url = url_for(endpoint, **values)
        if len(kept) < FIXED_URLS_KEPT:
            kept[key] = url
    return url


@bp.app_context_processor
def shell() -> dict[str, Any]:
    """What base.html's header needs on every page, error pages too: the visitor
    (read through the session service, never the raw session) and the tabs."""
    who = visitor.current()
    return {"site_visitor": who, "site_tabs": lambda aws: tabs(who, aws)}


def tabs(who: visitor.Visitor, aws: bool) -> list[Tab]:
    """The header's tabs for ``who``: each with its URL, whether it is the current
    page's, and why it is locked (None: usable)."""
    return [Tab(section.label, fixed_url(section.endpoint, **dict(section.args)),
                current=request.blueprint in section.blueprints,
                locked=who.lock(section.need))
            for section in SECTIONS if aws or not section.aws]


@bp.get("/")
def home() -> str:
    providers = registry.providers().values()
    return render_template("pages/home.html", providers=providers,
                           auth=sessions.current_auth())


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
