"""HTTP endpoints every OpenID Connect flavour shares, and the wrapper that
counts calls, applies outage faults and sets the tenant's clock on ``Date``.

The authorize endpoint is the one interactive piece: it checks client_id and
redirect_uri first (a mismatch shows the provider's own page, never a
redirect), then the response mode, then lets authlib validate the rest, then
walks the browser through sign-in and consent pages, and finally has authlib
issue the code. Its answer to the client goes back in the response mode the
request asked for (:func:`in_response_mode`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import flask
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.http import http_date

from . import backchannel, pages
from .store import SignedInUser

if TYPE_CHECKING:
    from .tenant import Tenant

View = Callable[..., Any]


def tenant_endpoint(tenant: Tenant, endpoint: str, view: View) -> View:
    """Wrap ``view``: count it, let outage faults answer instead, stamp the tenant's clock."""

    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> flask.Response:
        tenant.count(endpoint)
        response = tenant.faults.outage(endpoint) or flask.make_response(view(**kwargs))
        # bad_date: a Date no HTTP date parser reads, as a broken edge may send.
        response.headers["Date"] = ("not a date" if "bad_date" in tenant.faults
                                    else http_date(tenant.now()))
        return response

    return wrapped


def secret() -> bytes:
    return flask.current_app.config["STANDINS_SECRET"]


# -- authorize ---------------------------------------------------------------------


def authorize(tenant: Tenant) -> flask.Response:
    args = flask.request.args
    client = tenant.store.clients.get(args.get("client_id", ""))
    return in_response_mode(_authorize(tenant), args.get("redirect_uri", ""),
                            args.get("response_mode", "query"), tenant.flavour.branding,
                            redirects_on=client is not None and client.internal)


def _authorize(tenant: Tenant) -> flask.Response:
    flavour = tenant.flavour
    args = flask.request.args
    client = tenant.store.clients.get(args.get("client_id", ""))
    if client is None:
        return flavour.error_page("unknown_client", client_id=args.get("client_id", ""))
    redirect_uri = args.get("redirect_uri", "")
    if not client.check_redirect_uri(redirect_uri):
        return flavour.error_page("redirect_mismatch", client_id=client.client_id,
                                  redirect_uri=redirect_uri)
    mode = args.get("response_mode", "query")
    modes = flavour.allowed_response_modes(args.get("scope", ""))
    if mode not in modes:
        # The provider's own page, not a redirect: the client asked for its answer
        # in a way the provider cannot give, so no way of sending it is right
        # (the OpenID Connect errata's choice, and no open redirector).
        return flavour.error_page(
            "bad_request", error="unsupported_response_mode",
            error_description=f"response_mode {mode[:40]!r} is not supported; "
                              f"supported here: {', '.join(modes)}")

    step = None
    if flask.request.method == "POST":
        step = flask.request.form.get("step", "")
        if step not in ("login", "consent") or not pages.csrf_ok(secret(), tenant.name, step):
            return flavour.error_page("bad_request")

    session = pages.read_login(secret(), tenant.name)
    user = tenant.user_by_key(session.user_key) if session else None
    fresh_login = None
    if step == "login":
        user = _check_credentials(tenant)
        if user is None:
            return _sign_in_page(tenant, client.client_id, "Incorrect username or password.")
        fresh_login = pages.new_login(user.key, int(tenant.now()))
        session = fresh_login
    if user is None:
        session = None

    try:
        grant = tenant.server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _authorization_error(tenant, error)

    if step is None and (elsewhere := flavour.before_sign_in(tenant, client)) is not None:
        return elsewhere

    prompt = set(args.get("prompt", "").split())
    if session is None or user is None or ("login" in prompt and step is None):
        return _sign_in_page(tenant, client.client_id)

    signed_in = SignedInUser(user, session.auth_time, session.sid)
    consented = (user.key, client.client_id) in tenant.store.consents
    if step == "consent":
        if flask.request.form.get("decision") != "allow":
            response = _deny(tenant, grant)
        else:
            tenant.store.consents.add((user.key, client.client_id))
            signed_in.consent_shown = True
            response = tenant.server.create_authorization_response(grant_user=signed_in,
                                                                   grant=grant)
            first = flavour.first_authorization_fields(user, grant.request.scope or "")
            if first and response.location:
                response.location = _with_params(response.location, dict(first))
    elif not consented or "consent" in prompt:
        if "none" in prompt:
            error = ConsentRequiredError(redirect_uri=redirect_uri, state=args.get("state"))
            response = _authorization_error(tenant, error)
        else:
            response = _consent_page(tenant, client.client_id, grant.request.scope, user)
    else:
        response = tenant.server.create_authorization_response(grant_user=signed_in, grant=grant)
    if fresh_login is not None:
        pages.write_login(response, secret(), tenant.name, fresh_login)
    return response


def in_response_mode(response: flask.Response, redirect_uri: str, mode: str,
                     branding: pages.Branding, redirects_on: bool = False) -> flask.Response:
    """``response`` as the client's response mode sends it back.

    authlib (and the rest of this module) answer the client with a redirect to
    its redirect URI, the response in the query: the ``query`` mode. For
    ``form_post`` the same parameters go into the page that posts them to the
    redirect URI instead (OAuth 2.0 Form Post Response Mode), with the same
    cookies. Any other response (a page of the provider's own, a redirect on to
    another provider) is left as it is.
    """
    if mode != "form_post" or not response.location or not redirect_uri:
        return response
    target, own = urlsplit(response.location), urlsplit(redirect_uri)
    if target[:3] != own[:3]:
        return response
    fields = parse_qsl(target.query, keep_blank_values=True)
    for pair in parse_qsl(own.query, keep_blank_values=True):  # the URI's own, posted to
        if pair in fields:
            fields.remove(pair)
    # An error page says so in its status, as oidc-provider's does.
    page = pages.form_post(branding, redirect_uri, fields,
                           status=400 if any(k == "error" for k, _ in fields) else 200,
                           redirects_on=redirects_on)
    for cookie in response.headers.getlist("Set-Cookie"):
        page.headers.add("Set-Cookie", cookie)
    return page


def _check_credentials(tenant: Tenant) -> Any:
    form = flask.request.form
    if form.get("user"):
        return tenant.user_by_key(form["user"])
    user = tenant.store.find_user(form.get("username", ""))
    if user is None or not user.password or form.get("password") != user.password:
        return None
    return user


def _sign_in_page(tenant: Tenant, client_id: str, error: str | None = None) -> flask.Response:
    if "none" in set(flask.request.args.get("prompt", "").split()):
        redirect_uri = flask.request.args.get("redirect_uri", "")
        return _authorization_error(
            tenant, LoginRequiredError(redirect_uri=redirect_uri,
                                       state=flask.request.args.get("state")))
    users = [u for u in tenant.store.users.values() if u.password]
    return pages.render(
        "signin.html", tenant.flavour.branding, status=401 if error else 200,
        title=f"Sign in with {tenant.flavour.brand} (local stand-in)",
        client_id=client_id, users=users, error=error,
        username=flask.request.form.get("username", ""),
        action=flask.request.full_path, csrf=pages.csrf_value(secret(), tenant.name, "login"),
    )


def _consent_page(tenant: Tenant, client_id: str, scope: str | None, user: Any,
                  ) -> flask.Response:
    scopes = tenant.flavour.normalise_scope(scope or "").split()
    return pages.render(
        "consent.html", tenant.flavour.branding,
        title=f"{tenant.flavour.brand}: allow access (local stand-in)",
        client_id=client_id, scopes=scopes, username=user.username, email=user.email,
        action=flask.request.full_path, csrf=pages.csrf_value(secret(), tenant.name, "consent"),
    )


def _deny(tenant: Tenant, grant: Any) -> flask.Response:
    response = tenant.server.create_authorization_response(grant_user=None, grant=grant)
    if response.location and tenant.flavour.denial:
        response.location = _with_params(response.location, tenant.flavour.denial)
    return response


def _authorization_error(tenant: Tenant, error: OAuth2Error) -> flask.Response:
    """An error found before the code is issued: back to the client if its
    redirect_uri is known good, else the provider's own page."""
    if not error.redirect_uri:
        return tenant.flavour.error_page("bad_request", error=error.error,
                                         error_description=error.description or "")
    if error.state is None:
        error.state = flask.request.args.get("state")
    response = tenant.server.handle_error_response(None, error)
    if iss := tenant.iss_parameter():
        response.location = _with_params(response.location, {"iss": iss})
    return response


def _with_params(uri: str, changes: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
              if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(params)))


# -- token, userinfo, revoke, discovery, jwks ----------------------------------------


def token(tenant: Tenant, **_: Any) -> flask.Response:
    return tenant.server.create_token_response()


def revoke(tenant: Tenant) -> flask.Response:
    return tenant.server.create_endpoint_response("revocation")


def bearer_value() -> str:
    header = flask.request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return flask.request.values.get("access_token", "")


def invalid_token_response(description: str = "The access token is invalid") -> flask.Response:
    response = flask.jsonify(error="invalid_token", error_description=description)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    return response


def userinfo(tenant: Tenant) -> flask.Response:
    record = tenant.bearer_token(bearer_value())
    user = tenant.user_by_key(record.user_key) if record else None
    if record is None or user is None:
        return invalid_token_response()
    claims = tenant.flavour.userinfo(tenant, user, record.scope)
    if "userinfo_other_sub" in tenant.faults:
        claims["sub"] = tenant.flavour.make_sub("someone-else")
    return flask.jsonify(claims)


def discovery(tenant: Tenant) -> flask.Response:
    document = tenant.flavour.discovery(tenant)
    if "discovery_other_issuer" in tenant.faults:
        document["issuer"] = "https://issuer.invalid/some-other-provider"
    if "alg_none" in tenant.faults:
        document["id_token_signing_alg_values_supported"] = ["RS256", "none"]
    if "backchannel_unsupported" in tenant.faults:  # it may send them all the same
        document.pop("backchannel_logout_supported", None)
        document.pop("backchannel_logout_session_supported", None)
    return flask.jsonify(document)


def jwks(tenant: Tenant) -> flask.Response:
    return flask.jsonify(tenant.keys.jwks())


# -- sign-out ---------------------------------------------------------------------------


def sign_out(tenant: Tenant, client_id: str | None, target: str | None,
             state: str | None = None, confirm: bool = False) -> flask.Response:
    """End the tenant's own session and go to ``target`` if the client registered it.

    With ``confirm`` (RP-Initiated Logout 1.0 lets the provider ask), a request
    whose target is acceptable first gets a page asking the visitor; only its
    "Yes, sign me out" (a POST with the page's CSRF value) signs out.
    """
    client = tenant.store.clients.get(client_id or "")
    if target:
        if client is None:
            return tenant.flavour.error_page("unknown_client", client_id=client_id or "")
        if target not in client.logout_uris:
            return tenant.flavour.error_page("logout_mismatch", client_id=client.client_id,
                                             logout_uri=target)
    if confirm:
        decision = flask.request.form.get("logout") if flask.request.method == "POST" else None
        if decision is None or not pages.csrf_ok(secret(), tenant.name, "logout"):
            return pages.render(
                "confirm_logout.html", tenant.flavour.branding,
                title=f"Sign out of {tenant.flavour.brand}? (local stand-in)",
                client_id=client_id, target=target, action=flask.request.full_path,
                csrf=pages.csrf_value(secret(), tenant.name, "logout"),
                # A request that came as a POST form has its parameters only here.
                carried={k: v for k, v in (("client_id", client_id),
                                           ("post_logout_redirect_uri", target),
                                           ("state", state)) if v})
        if decision != "yes":
            return pages.notice(tenant.flavour.branding, "Still signed in",
                                f"You are still signed in to {tenant.flavour.brand}.",
                                status=200)
    if target:
        response = flask.redirect(_with_params(target, {"state": state}) if state else target)
    else:
        response = pages.notice(tenant.flavour.branding, "Signed out",
                                f"You are signed out of {tenant.flavour.brand}.", status=200)
    pages.clear_login(response, tenant.name)
    tenant.record_event("logout", client_id=client_id, logout_uri=target)
    if (login := pages.read_login(secret(), tenant.name)) is not None:
        # The session ends here: each client of it hears so on the back channel.
        backchannel.session_ended(tenant, login.user_key, login.sid)
    return response


def client_from_id_token_hint(tenant: Tenant, hint: str) -> str | None:
    """The ``aud`` of an id token this tenant signed (expired ones too, as OPs accept)."""
    keys = KeySet(tenant.keys.public_keys())
    try:
        claims = jwt.decode(hint, keys, algorithms=["RS256"]).claims
    except (JoseError, ValueError):
        return None
    aud = claims.get("aud")
    return aud[0] if isinstance(aud, list) and aud else aud


def rp_initiated_logout(tenant: Tenant) -> flask.Response:
    """OpenID Connect RP-Initiated Logout 1.0."""
    values = flask.request.values
    client_id = values.get("client_id")
    if hint := values.get("id_token_hint"):
        hinted = client_from_id_token_hint(tenant, hint)
        if hinted is None or (client_id and hinted != client_id):
            return tenant.flavour.error_page("bad_request", error="invalid id_token_hint")
        client_id = hinted
    return sign_out(tenant, client_id, values.get("post_logout_redirect_uri"),
                    values.get("state"), confirm=tenant.behaviour.confirm_sign_out)
