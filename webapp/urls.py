"""Where the site sends browsers: its own absolute URLs and safe local targets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .config import settings


def external_url(endpoint: str, **values: str) -> str:
    """The absolute URL providers see: ``external_url`` if configured, else this request's.

    The callback sent at sign-in and the one sent at the code exchange must be
    byte-for-byte equal, and equal to the one registered at the provider; this
    is the one function that computes it.
    """
    base = settings().external_url
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def safe_next_path(target: str | None, default: str | None = None) -> str:
    """Return ``target`` if it is a page of this site, else ``default`` (the account page).

    Refuses absolute and scheme-relative URLs (``//evil``, ``/\\evil``), anything
    with a scheme or host, control characters and backslashes, so a link such as
    ``/auth/x/login?next=https://evil`` cannot bounce a visitor off-site; and
    paths that are not a GET page of this app, or that would start another
    sign-in, so the target is always somewhere the visitor can land.
    """
    default = default or url_for("account.account")
    if not target or len(target) > 512 or not target.startswith("/"):
        return default
    if target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return default
    if endpoint.startswith("auth.") or endpoint == "static":
        return default
    return target


def current_origin() -> str:
    base = settings().external_url
    return base or request.host_url.rstrip("/")


def sign_out_return_url() -> str:
    """Where a provider sends the browser after signing out: this site's home page.

    The value sign-out sends, the redirect matrix tells operators to register,
    and the probes and ``fedlab check`` try, computed here once: a provider
    compares it byte for byte with its registration.
    """
    return current_origin() + url_for("pages.home")


def origin_of(url: str) -> str:
    """The origin (scheme, host and port) of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
