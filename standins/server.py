"""The application factory: one Flask app holding a tenant per flavour and the control API."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler

from . import views
from .amazon import Amazon
from .apple import Apple
from .auth0 import Auth0
from .cognito import Cognito
from .control import EventLog, control_blueprint
from .facebook import Facebook
from .federation import Federation
from .flavour import Flavour
from .google import Google
from .oidc import GenericOIDC
from .requestlog import RedactedRequestLog
from .settings import Settings, parse_settings
from .tenant import Tenant

FLAVOURS: tuple[type[Flavour], ...] = (Cognito, Auth0, Google, Facebook, GenericOIDC, Amazon,
                                       Apple)
log = logging.getLogger(__name__)

AVATAR_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
    '<circle cx="32" cy="32" r="32" fill="#9aa0a6"/><circle cx="32" cy="26" r="12" '
    'fill="#fff"/><path d="M12 54c4-10 12-14 20-14s16 4 20 14" fill="#fff"/></svg>'
)


def create_standins_app(settings: dict[str, Any]) -> flask.Flask:
    """Build an independent stand-ins app from a plain settings dict (see the package docs)."""
    parsed = parse_settings(settings, [f.name for f in FLAVOURS])
    app = flask.Flask(__name__)
    app.config["STANDINS_SECRET"] = (parsed.secret_key or secrets.token_hex(32)).encode()
    app.config["STANDINS_SETTINGS"] = parsed
    events = EventLog()
    tenants = _build_tenants(parsed, events, int(settings.get("key_size", 2048)))
    for tenant in tenants.values():
        _register_tenant_routes(app, tenant)
    app.register_blueprint(control_blueprint(tenants, events))
    app.extensions["standins"] = tenants

    @app.get("/_avatar/<tenant>/<user>.svg")
    def avatar(tenant: str, user: str) -> flask.Response:
        return flask.Response(AVATAR_SVG, mimetype="image/svg+xml")

    @app.after_request
    def stamp_date(response: flask.Response) -> flask.Response:
        if "Date" not in response.headers:
            response.headers["Date"] = http_date()
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> flask.Response:
        return flask.Response(f"{error.code} {error.name}", status=error.code or 500,
                              mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> flask.Response:
        # A dev tool still never shows a stack trace: it goes to the log.
        log.exception("stand-in error")
        return flask.Response("500 Internal Server Error (see the stand-ins' log)",
                              status=500, mimetype="text/plain")

    return app


def _build_tenants(settings: Settings, events: EventLog, key_size: int) -> dict[str, Tenant]:
    tenants = {f.name: Tenant(f(settings), settings, events, key_size) for f in FLAVOURS}
    cognito = tenants["cognito"]
    cognito.federation = Federation(cognito, tenants)
    return tenants


def _register_tenant_routes(app: flask.Flask, tenant: Tenant) -> None:
    standard = {
        "authorize": (lambda **_: views.authorize(tenant), ("GET", "POST")),
        "token": (lambda **_: views.token(tenant), ("GET", "POST")),
        "userinfo": (lambda: views.userinfo(tenant), ("GET", "POST")),
        "revoke": (lambda: views.revoke(tenant), ("POST",)),
        "discovery": (lambda: views.discovery(tenant), ("GET",)),
        "jwks": (lambda: views.jwks(tenant), ("GET",)),
    }
    for name, rule in tenant.flavour.paths().items():
        view, methods = standard[name]
        app.add_url_rule(rule, f"{tenant.name}.{name}",
                         views.tenant_endpoint(tenant, name, view), methods=list(methods))
    for index, route in enumerate(tenant.flavour.extra_routes(tenant)):
        app.add_url_rule(route.rule, f"{tenant.name}.{route.endpoint}.{index}",
                         views.tenant_endpoint(tenant, route.endpoint, route.view),
                         methods=list(route.methods))


class StandinRequestHandler(RedactedRequestLog, WSGIRequestHandler):
    """Werkzeug's handler, minus its own ``Date`` header: each tenant sends a
    ``Date`` from its own (possibly skewed) clock. Its request log hides query
    values (see :mod:`.requestlog`)."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
