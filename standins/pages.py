"""The stand-ins' HTML: sign-in, consent and notice pages, the form_post
response page, the per-page CSRF value, and the tenant's own sign-in cookie.

Templates live in ``standins/templates`` and are rendered by a Jinja
environment of our own with autoescaping on, so nothing here can collide with
the app's templates and everything echoed is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


# -- the form_post response ---------------------------------------------------------

#: What submits the form_post page's form at once; the page's CSP allows this
#: script by its hash and no other. Autoescaping leaves it as it is (it has no
#: ``&<>'"``), so the hash is the hash of what the page holds.
SUBMIT_SCRIPT = "document.forms[0].submit();"
SUBMIT_SCRIPT_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(SUBMIT_SCRIPT.encode()).digest()).decode()


def form_post(branding: Branding, action: str, fields: Iterable[tuple[str, str]],
              status: int = 200, redirects_on: bool = False) -> flask.Response:
    """The authorization response in the form_post response mode (OAuth 2.0 Form
    Post Response Mode, section 2): a page whose form posts ``fields`` to the
    client's redirect URI ``action``, submitted by a script at once, and by its
    visible button where scripts do not run.

    Its own Content-Security-Policy: nothing loads, the one script runs by its
    hash, and the form may post only to the redirect URI's origin (Chromium
    holds the redirects that follow the POST to it too). With ``redirects_on`` the
    redirect URI is another provider's (Cognito's ``/oauth2/idpresponse``, federating
    to Apple), whose answer redirects the browser on to the app: any http(s) target.
    """
    parts = urlsplit(action)
    onward = " http: https:" if redirects_on else ""
    response = render("form_post.html", branding, status=status,
                      title=f"{branding.brand}: back to the application (local stand-in)",
                      action=action, fields=list(fields), script=SUBMIT_SCRIPT)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src '{SUBMIT_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
        f"form-action {parts.scheme}://{parts.netloc}{onward}; frame-ancestors 'none'; "
        f"base-uri 'none'")
    return response


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
