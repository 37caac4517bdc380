"""Sign-in, callback, refresh and sign-out: ``/auth/<name>/...``.

The flow is the authorization-code grant with PKCE (RFC 9700 2.1.1), a state
and a nonce that are fresh per sign-in, kept server-side in this browser's
session and usable once. Everything peculiar to one provider happens in its
kind class (:mod:`webapp.providers`), including which response mode its
callback arrives by; what a sign-in does to the session happens in
:mod:`webapp.signin`. These views are the same for every provider: a
``form_post`` callback is bounced to the GET callback as
:mod:`webapp.providers.base` explains ("How a callback arrives").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from urllib.parse import quote_plus

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from . import backchannel, linked_logins, picture, sessions, signals, signin
from .errors import FedlabError
from .extensions import csrf
from .providers import Provider
from .session_interface import no_session
from .urls import external_url, safe_next_path

bp = Blueprint("auth", __name__, url_prefix="/auth")

#: The authorization-response parameters (RFC 6749 4.1.2 and 4.1.2.1, RFC 9207)
#: a ``form_post`` callback carries on to the GET callback, each with the most
#: characters it may take once percent-encoded: a long code (some providers'
#: run to about a thousand), ample room for the rest, and all of them together
#: within the request line gunicorn accepts (deploy/gunicorn.conf.py's 4094).
FORM_POST_PARAMS = {"code": 2048, "state": 256, "iss": 512, "error": 128,
                    "error_description": 640, "error_uri": 256}


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
    provider = signin.get_provider(name)
    with failures_reported(name):  # discovery down, slow or wrong: a failed sign-in too
        url = signin.begin(provider, external_url("auth.callback", name=name),
                           safe_next_path(request.args.get("next")))
    picture.login_sent(provider, url)
    return redirect(url)


@bp.route("/<name>/callback", methods=["GET", "POST"])
@csrf.exempt  # a form_post response is a cross-site POST; the state is its CSRF check
def callback(name: str) -> Response:
    """The authorization response: a GET's query (RFC 6749 4.1.2), or a
    ``form_post`` provider's POST, which only bounces here as a GET."""
    provider = signin.get_provider(name)
    if request.method == "POST":
        return bounce_form_post(provider)
    under_way = picture.take_under_way(provider)
    with failures_reported(name):
        finished = signin.finish(provider, request.args,
                                 partial(picture.of_sign_in, provider, under_way))
    if finished.second_login is not None:
        linked_logins.link(finished.second_login)
    return redirect(finished.next)


def bounce_form_post(provider: Provider) -> Response:
    """A ``form_post`` authorization response, sent on to the GET callback (303).

    The provider's page posts it from another site, so the SameSite=Lax session
    cookie stays behind and nothing here could find the sign-in it answers. It
    reads and writes no session: it copies the response parameters, bounded,
    into the query of a 303 to this same callback, which the browser follows as
    a top-level GET with the cookie, and the GET checks everything. Only
    providers whose response mode is ``form_post`` take a POST.
    """
    if provider.response_mode != "form_post":
        abort(405, valid_methods=["GET", "HEAD"])
    with failures_reported(provider.name):
        params = form_post_fields(request.form, FORM_POST_PARAMS, provider.name,
                                  encoded_length)
        if provider.FORM_POST_EXTRAS:  # kept server-side, never in the URL
            signin.keep_form_post_extras(params.get("state", ""), form_post_fields(
                request.form, provider.FORM_POST_EXTRAS, provider.name))
    return redirect(url_for("auth.callback", name=provider.name, **params), 303)


def form_post_fields(form: MultiDict[str, str], limits: Mapping[str, int], name: str,
                     measure: Callable[[str], int] = len) -> dict[str, str]:
    """The fields of ``form`` that ``limits`` names, and nothing else of it.

    A field sent twice (RFC 6749 3.1: "MUST NOT be included more than once")
    or longer than its limit (as ``measure`` counts) is the ``bad_request``
    page, never a shortened copy.
    """
    fields: dict[str, str] = {}
    for key, limit in limits.items():
        values = form.getlist(key)
        if len(values) > 1 or (values and measure(values[0]) > limit):
            raise FedlabError("bad_request", provider=name, parameter=key)
        if values:
            fields[key] = values[0]
    return fields


def encoded_length(value: str) -> int:
    """How long ``value`` is once percent-encoded into the GET callback's query."""
    return len(quote_plus(value))


@bp.post("/<name>/backchannel-logout")
@csrf.exempt  # the provider's server posts it; the signed logout token is its authentication
@no_session  # no browser, no cookie: it reads and sets none
def backchannel_logout(name: str) -> Response:
    """OpenID Connect Back-Channel Logout 1.0 (2.5-2.8): the provider's logout
    token ends the sessions it names, on every instance (:mod:`webapp.backchannel`).
    200 with an empty body, or 400 with an OAuth error object; never cached."""
    try:
        token = backchannel.token_of(request.mimetype, request.content_length,
                                     lambda: request.form)
        backchannel.log_out(name, token)
        response = Response(status=200)
    except backchannel.LogoutRefused as refused:
        response = jsonify(refused.body())
        response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/refresh")
def refresh() -> Response:
    auth = sessions.current_auth()
    if auth is None:
        raise FedlabError("signed_out")
    outcome, _ = signin.refresh_tokens(auth)
    if outcome == "busy":
        flash("Another page is renewing these tokens right now; try again in a moment.")
    else:
        flash("Tokens refreshed: the new id token passed every check again.")
    return redirect(url_for("account.account"))


@bp.post("/signout")
def signout() -> Response:
    outcome = signin.sign_out()
    if outcome.message:
        flash(outcome.message)
    return redirect(outcome.url or url_for("pages.home"))


@bp.post("/signout-everywhere")
def signout_everywhere() -> Response:
    """End every session of the signed-in person, here and, where the provider
    offers it, there; then this browser's sign-out at the provider."""
    outcome = signin.sign_out_everywhere()
    if outcome.message:
        flash(outcome.message)
    return redirect(outcome.url or url_for("pages.home"))
