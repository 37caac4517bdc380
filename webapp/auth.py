"""Sign-in, callback, refresh and sign-out: ``/auth/<name>/...``.

The flow is the authorization-code grant with PKCE (RFC 9700 2.1.1), a state
and a nonce that are fresh per sign-in, kept server-side in this browser's
session and usable once. Everything peculiar to one provider happens in its
kind class (:mod:`webapp.providers`), including how its callback arrives (the
route takes every method a kind declares, each provider only its own); what a
sign-in does to the session happens in :mod:`webapp.signin`. These views are
the same for every provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from . import sessions, signals, signin
from .errors import AUTHORIZATION_ERRORS, FedlabError
from .extensions import csrf
from .oauth import ProviderClient, client_for
from .providers import callback_methods
from .urls import external_url, safe_next_path

bp = Blueprint("auth", __name__, url_prefix="/auth")


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
    redirect_uri = external_url("auth.callback", name=name)
    with failures_reported(name):  # discovery down, slow or wrong: a failed sign-in too
        sent = client_for(provider).authorization_url(redirect_uri)
    signin.begin(provider, sent, redirect_uri, safe_next_path(request.args.get("next")))
    return redirect(sent.url)


@bp.route("/<name>/callback", methods=callback_methods())
@csrf.exempt  # the state is a callback's CSRF check (RFC 6749 10.12), whatever its method
def callback(name: str) -> Response:
    """The authorization response, as the provider's kind says it arrives: a GET
    redirect's query today; a ``form_post`` kind's POST body with no change here."""
    provider = signin.get_provider(name)
    allowed = provider.CALLBACK_METHODS
    if request.method not in allowed and not (request.method == "HEAD" and "GET" in allowed):
        abort(405, valid_methods=allowed)
    args = provider.callback_params(request)
    record = signin.take_pending(args.get("state", ""))
    with failures_reported(name):
        if args.get("error"):
            if args.get("iss") is not None:  # RFC 9207 2.4: on error answers too
                check_iss_parameter(client_for(provider), args["iss"])
            raise authorization_error(name, args, ours=signin.pending_for(record, name))
        if record is None or record.provider != name:
            raise FedlabError("state_mismatch", provider=name)
        if not signin.in_time(record):
            raise FedlabError("state_expired", provider=name)
        client = client_for(provider)
        check_iss_parameter(client, args.get("iss"))
        if not args.get("code"):
            raise FedlabError("code_missing", provider=name)
        token = client.exchange_code(args["code"], record.redirect_uri, record.code_verifier)
        who = provider.sign_in(client, token, record.nonce)
    signin.complete(provider, record, token, who)
    return redirect(record.next)


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
    return FedlabError(code, provider=name, description=words[:signin.DESCRIPTION_LIMIT])


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
