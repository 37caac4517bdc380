"""The stand-ins' HTML: sign-in, consent and notice pages, the per-page CSRF
value, and the tenant's own sign-in cookie.

Templates live in ``standins/templates`` and are rendered by a Jinja
environment of our own with autoescaping on, so nothing here can collide with
the app's templates and everything echoed is escaped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

COOKIE_PREFIX = "standin_"


@dataclass(frozen=True)
class Branding:
    """How a tenant's pages look: its name and a colour, nothing more."""

    tenant: str
    brand: str
    colour: str


def render(template: str, branding: Branding, status: int = 200, **context: Any,
           ) -> flask.Response:
    html = _env.get_template(template).render(
        brand=branding.brand, colour=branding.colour, tenant=branding.tenant, **context
    )
    response = flask.Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def notice(branding: Branding, title: str, message: str, status: int = 400,
           details: dict[str, str] | None = None) -> flask.Response:
    """A provider's own error (or information) page: never a redirect, never a stack trace."""
    return render("notice.html", branding, status=status, title=title, message=message,
                  details=details or {})


# -- CSRF -------------------------------------------------------------------------


def csrf_value(secret: bytes, tenant: str, step: str) -> str:
    """An HMAC of the page (tenant, step, URL): a form only works where it was shown."""
    message = f"{tenant}|{step}|{flask.request.full_path}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, tenant: str, step: str) -> bool:
    sent = flask.request.form.get("csrf", "")
    return hmac.compare_digest(sent, csrf_value(secret, tenant, step))


# -- the tenant's sign-in cookie -----------------------------------------------------


@dataclass(frozen=True)
class LoginSession:
    user_key: str
    auth_time: int
    sid: str


def cookie_name(tenant: str) -> str:
    return COOKIE_PREFIX + tenant


def read_login(secret: bytes, tenant: str) -> LoginSession | None:
    raw = flask.request.cookies.get(cookie_name(tenant))
    if not raw:
        return None
    try:
        data = URLSafeSerializer(secret, salt=cookie_name(tenant)).loads(raw)
        return LoginSession(str(data["u"]), int(data["t"]), str(data["s"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def new_login(user_key: str, auth_time: int) -> LoginSession:
    return LoginSession(user_key, auth_time, secrets.token_hex(16))


def write_login(response: flask.Response, secret: bytes, tenant: str,
                session: LoginSession) -> None:
    value = URLSafeSerializer(secret, salt=cookie_name(tenant)).dumps(
        {"u": session.user_key, "t": session.auth_time, "s": session.sid}
    )
    response.set_cookie(cookie_name(tenant), value, httponly=True, samesite="Lax", path="/")


def clear_login(response: flask.Response, tenant: str) -> None:
    response.delete_cookie(cookie_name(tenant), path="/")
