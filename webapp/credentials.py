"""Temporary AWS credentials from a Cognito Identity Pool: ``/credentials``.

The views only: federation itself (the enhanced flow, reuse, renewal, guests)
is :mod:`webapp.federation`, which the storage pages use too. A guest who
signs in is asked whether to keep the guest identity
(:class:`~webapp.guests.FormerGuest` says why it is never moved unasked).
The page says which role the pool gave and why (:mod:`webapp.roles`), and a
visitor whose token offers several roles chooses one here (``/credentials/role``).

Beside the enhanced flow, for a signed-in visitor: the identity's linked logins
(:mod:`webapp.linked_logins`: ``/link``, ``/unlink``, ``/logins``), federation
as a developer-authenticated identity (:mod:`webapp.developer_identities`:
``/developer``) and the basic flow (:mod:`webapp.classic_flow`: ``/classic``),
each a POST with CSRF; the last two are comparisons the storage pages never use.
The three that spend the site's own AWS quota (``/logins``, ``/developer``,
``/classic``) are paced per session (:mod:`webapp.pacing`).
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from . import (
    classic_flow,
    developer_identities,
    federation,
    guests,
    linked_logins,
    pacing,
    roles,
    sessions,
)
from .config import settings
from .errors import FedlabError, Guide

bp = Blueprint("credentials", __name__, url_prefix="/credentials")

#: Session key: the calls a POST made, and the button that made them, for the
#: page it redirects to.
CALLS_BEFORE = "aws_calls_before"
#: What the visitor may answer to the offer of their former guest identity.
GUEST_MOVES = {"keep": "Keep it", "drop": "Go on without it"}
#: What the page says to a visitor with no AWS identity yet, and to a guest.
SIGNED_OUT_LEAD = ("Sign in to get credentials for the authenticated role (your own files "
                   "and the protected ones), or continue as a guest.")
GUEST_LEAD = ("A guest gets the unauthenticated role: public files only. Sign in for the "
              "authenticated role; the pool can then keep this guest identity as yours.")


@bp.get("")
def show() -> str:
    """The visitor's credentials, summary first; with none yet (signed out), the
    way to get some offered in place: each provider's sign-in, coming back here,
    and "Continue as guest" where the site allows guests. Unlike the account page
    it answers 200: getting credentials, as a guest too, is what this page is
    for, so a visitor without any is where they should be. A guest is offered
    the sign-in too, for the authenticated role."""
    federation.require_enabled()
    g.aws_calls = []
    auth = sessions.current_auth()
    allow_guests = settings().aws.allow_guests
    held = sessions.current_aws()
    if auth is None and not (held is not None and held.guest):
        return render_template("credentials/credentials.html", state=None, calls=[],
                               allow_guests=allow_guests,
                               guide=Guide(heading="Get temporary AWS credentials",
                                           lead=SIGNED_OUT_LEAD, offer_guest=True,
                                           next_path=url_for("credentials.show")))
    offer = guests.FormerGuest.of_session() if auth is not None else None
    if offer is not None:
        # Nothing is federated until the visitor says what becomes of the guest.
        return render_template("credentials/credentials.html", state=None, calls=[],
                               offer=offer, moves=GUEST_MOVES, allow_guests=allow_guests)
    state = federation.ensure_fresh_credentials()
    # After "Continue as guest" (or an answer to the offer) the calls were made by
    # the POST, not by this view.
    before = session.pop(CALLS_BEFORE, None)
    if not isinstance(before, dict):
        before = None
    # Beside the enhanced flow, for a signed-in visitor: the identity's linked logins,
    # developer-authenticated federation, the basic flow (each None where not shown).
    logins = developer = classic = None
    if auth is not None:
        logins = linked_logins.section(auth, state)
        developer = developer_identities.section(auth)
        classic = classic_flow.section()
    guide = None
    if auth is None and state.guest:
        guide = Guide(heading="Sign in for more", lead=GUEST_LEAD,
                      next_path=url_for("credentials.show"), guest_identity=state.identity_id)
    return render_template("credentials/credentials.html", state=state,
                           calls=g.aws_calls or (before or {}).get("calls") or [],
                           calls_after=(before or {}).get("after"),
                           allow_guests=allow_guests, guide=guide,
                           role=roles.summary(auth, state),
                           logins=logins, developer=developer, classic=classic)


@bp.post("/developer")
def developer() -> Response:
    """Federate as a developer-authenticated identity, for comparison."""
    federation.require_enabled()
    auth = sessions.require_auth()
    if pacing.admit("Federate as a developer identity"):
        g.aws_calls = []
        developer_identities.federate(auth)
    return redirect(url_for("credentials.show", _anchor="developer"))


@bp.post("/classic")
def classic() -> Response:
    """Get credentials by the basic (classic) flow, for comparison."""
    federation.require_enabled()
    auth = sessions.require_auth()
    if pacing.admit("Compare with the basic flow"):
        g.aws_calls = []
        with federation.about(auth.provider):
            classic_flow.compare(auth)
    return redirect(url_for("credentials.show", _anchor="classic"))


@bp.post("/link")
def link() -> Response:
    """Sign in with a second provider to link its login to this identity."""
    federation.require_enabled()
    sessions.require_auth()
    return redirect(linked_logins.begin(request.form.get("provider", "")))


@bp.post("/unlink")
def unlink() -> Response:
    """Unlink one of the identity's logins (never the one in use)."""
    federation.require_enabled()
    sessions.require_auth()
    linked_logins.unlink(request.form.get("login", ""))
    return redirect(url_for("credentials.show", _anchor="logins"))


@bp.post("/logins")
def logins() -> Response:
    """Ask the pool again which logins the identity has."""
    federation.require_enabled()
    sessions.require_auth()
    if pacing.admit("Ask the pool"):
        linked_logins.look_up()
    return redirect(url_for("credentials.show", _anchor="logins"))


@bp.post("/guest")
def guest() -> Response:
    federation.require_enabled()
    if sessions.current_auth() is None:
        g.aws_calls = []
        federation.guest_credentials()
        session[CALLS_BEFORE] = {"after": "Continue as guest", "calls": g.aws_calls}
    return redirect(url_for("credentials.show"))


@bp.post("/guest-move")
def guest_move() -> Response:
    """The visitor's answer to the offer of their former guest identity: ``keep``
    federates the sign-in with the guest's id (the pool links or merges it),
    ``drop`` forgets the guest and federates the sign-in alone."""
    federation.require_enabled()
    choice = request.form.get("choice", "")
    if choice not in GUEST_MOVES:
        raise FedlabError("bad_request", detail="choice must be keep or drop")
    auth = sessions.current_auth()
    offer = guests.FormerGuest.of_session() if auth is not None else None
    if auth is None or offer is None:
        return redirect(url_for("credentials.show"))  # answered already, or signed out
    g.aws_calls = []
    with federation.about(auth.provider):
        federation.federate(auth, previous_guest=offer.identity_id if choice == "keep"
                            else None)
    # Only once it worked: after a failure (the pool throttled) the offer stands.
    guests.FormerGuest.answered()
    session[CALLS_BEFORE] = {"after": GUEST_MOVES[choice], "calls": g.aws_calls}
    return redirect(url_for("credentials.show"))


@bp.post("/role")
def choose_role() -> Response:
    """The visitor's choice among the roles their token offers (``role_arn``; empty
    lets the pool's mapping decide again). Only its shape is checked here: the pool
    decides whether the token allows it, and its refusal is the page's answer."""
    federation.require_enabled()
    value = request.form.get("role_arn", "").strip()
    role_arn = roles.checked_role_arn(value) if value else None
    auth = sessions.current_auth()
    if auth is None:
        return redirect(url_for("credentials.show"))
    g.aws_calls = []
    federation.choose_role(auth, role_arn)
    chosen = f"the role {roles.role_name(role_arn)}" if role_arn else "the pool's own choice"
    session[CALLS_BEFORE] = {"after": chosen, "calls": g.aws_calls}
    return redirect(url_for("credentials.show"))
