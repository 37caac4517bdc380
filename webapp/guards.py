"""What a request must be before any other step sees it: small, and for a known host.

- **Size.** No file passes through the site (uploads go from the browser
  straight to S3 with a presigned POST), so every request body is a small form
  or JSON object. ``MAX_CONTENT_LENGTH`` makes Flask refuse a larger body when
  it is read; :func:`refuse_large_body` refuses it from its ``Content-Length``
  before anything reads it (CSRF's form parsing would otherwise spool a
  multipart body to disk first). A body without a length (``Transfer-Encoding:
  chunked``) gets 411: its size is known only by reading it, and the read is
  cut quietly at the limit. gunicorn (and werkzeug's development server) decode
  the chunks and set ``wsgi.input_terminated``, so werkzeug caps the stream at
  ``MAX_CONTENT_LENGTH`` with a ``LimitedStream`` that raises 413 only on a
  read attempted past the cap; a whole-body read (``get_json``, ``get_data``,
  a urlencoded form) stops at the cap and makes none, so ``get_json`` parses
  the first 32 KiB, which may be valid JSON, and a view would act on part of
  a request (seen under both servers: an upload granted). Browsers always send
  ``Content-Length`` with a form or a fetch body, so only scripts meet it.
  gunicorn bounds the request line and headers (deploy/gunicorn.conf.py).
- **Host.** Without ``external_url``, URLs (the callback's, the sign-out
  return) are built from the Host header (after ProxyFix, a trusted proxy's
  ``X-Forwarded-Host``), so :func:`refuse_foreign_host` checks it against
  ``trusted_hosts`` (see :mod:`webapp.config`) with werkzeug's own rule and
  another host gets a clear 400. It is the first step of every request: Flask
  binds its URL adapter to any Host, and nothing before it builds a URL (a
  routing redirect is raised only after the before-request steps); the error
  page's links are relative, so it never shows the host. Flask's
  ``TRUSTED_HOSTS`` is not used: its refusal comes as Flask binds the adapter
  and leaves the request without one, so no page could build its links, and
  health checks could not be let through. Health checks are exempt (the
  factory passes their paths): a load balancer names the instance by its
  address, and those answers build no URL.

- **Loopback name.** Providers register a lab's callback under one host name
  (the demo's ``http://localhost:8000``), but localhost, 127.0.0.1 and [::1]
  are three sites to a browser, with three cookie jars, and werkzeug's start-up
  line prints 127.0.0.1. A sign-in started at another name than the registered
  one ends on the provider's ``redirect_mismatch`` page, or comes back to the
  registered name without the state's cookie. So :func:`to_registered_origin`
  sends a GET or HEAD on any loopback spelling that is not a registered host to
  the registered origin, same path and query, before any page (or sign-in)
  starts there. The target is configuration (outside production, the demo's
  ``standins.app_origins``), never the request, and only a loopback origin.
  Only a site without ``external_url`` is redirected: that is the site whose
  callback follows the request's host, and a site with ``external_url`` may
  sit behind a proxy that forwards its own ``Host: 127.0.0.1:<port>`` (the
  scale-out tests' balancer does, and nginx's default), which a redirect to
  ``external_url`` would send round in a loop; the diagnostics page's
  ``external_url_mismatch`` explains that case instead. Any
  other method gets the catalogue's ``other_loopback_host`` page and nothing is
  done: its CSRF token and cookie belong to the other name, so it could not
  succeed there, and re-sending a form to another origin (307) would send its
  body where the visitor did not post it.

All end on the error catalogue's page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, redirect, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.utils import host_is_trusted
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from .config import Settings, settings
from .errors import FedlabError, render_error
from .urls import hostname, is_loopback, registered_origins

log = logging.getLogger(__name__)

#: Bytes a request body may have: forms and small JSON objects, with room to spare.
MAX_REQUEST_BYTES = 32 * 1024
#: Where the app keeps its :class:`HostRules`.
HOST_RULES = "fedlab_host_rules"


@dataclass(frozen=True, slots=True)
class LoopbackRule:
    """Where a request on an unregistered loopback name is sent: worked out once
    per app from its settings (which never change), not on every request."""

    #: The registered origins' host names, lower-cased.
    registered: frozenset[str]
    #: The registered loopback origin the request is sent to.
    target: str


@dataclass(frozen=True, slots=True)
class HostRules:
    """What the checks need of the app's settings, read once per app."""

    #: Paths any Host may reach (the health checks): no redirect, no Host check.
    any_host: frozenset[str]
    #: None: the app redirects no host.
    loopback: LoopbackRule | None
    trusted: tuple[str, ...]


def loopback_rule(site: Settings) -> LoopbackRule | None:
    """The app's rule, or None when no host is redirected: a site with
    ``external_url`` (or in production) never follows the Host, so a proxy may
    send its own without a redirect loop; and a site with no registered loopback
    origin has nowhere to send it."""
    if site.external_url or site.production:
        return None
    origins = registered_origins(site)
    target = next((o for o in origins if is_loopback(hostname(urlsplit(o).netloc))), None)
    if target is None:
        return None
    return LoopbackRule(frozenset(hostname(urlsplit(o).netloc) for o in origins), target)


def init_app(app: Flask, any_host_paths: Iterable[str] = ()) -> None:
    """Call before any extension, so these checks come first. ``any_host_paths``
    (the health checks) skip the loopback redirect and the Host check."""
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    site = settings(app)
    app.extensions[HOST_RULES] = HostRules(frozenset(any_host_paths), loopback_rule(site),
                                           site.trusted_hosts)
    app.before_request(guard_request)
    app.register_error_handler(RequestEntityTooLarge, too_large)


def guard_request() -> Response | None:
    """Every check of this module as one hook (Flask pays a dispatch per hook),
    with the request's path and Host read once: the loopback redirect first (its
    target is configuration, never the Host), then the Host, before anything
    could build a URL from it (CSRF's check included), then the body's size."""
    rules: HostRules = current_app.extensions[HOST_RULES]
    path = request.path
    if path not in rules.any_host:
        host = request.host
        if rules.loopback is not None:
            redirected = to_registered_origin(rules.loopback, host)
            if redirected is not None:
                return redirected
        refuse_foreign_host(rules.trusted, host)
    refuse_unsized_body()
    refuse_large_body()
    return None


def to_registered_origin(rule: LoopbackRule, host_header: str) -> Response | None:
    """A request on a loopback name that is not a registered host: a GET or HEAD
    is sent (302, not permanent: a lab's port changes) to the registered origin;
    any other method gets a page that names it."""
    host = unregistered_loopback(host_header, rule)
    if host is None:
        return None
    target = rule.target
    if request.method not in ("GET", "HEAD"):
        log.info("refused %s %s on loopback host %r: the site is registered at %s",
                 request.method, request.path, host, target)
        raise FedlabError("other_loopback_host", origin=target)
    return redirect(target + request_target(), 302)


def request_target() -> str:
    """The path and query as the browser sent them, escapes kept: the server's raw
    request target (``RAW_URI``/``REQUEST_URI``) when it gives one in origin form,
    else the decoded path quoted again. Never rebuilt from the decoded path as is:
    ``/storage%3Fa=1`` would become ``/storage?a=1``, ``%2F`` a separator, and
    ``%0d%0a`` a line break."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("/") and raw.isascii() and raw.isprintable() and " " not in raw:
        return raw
    query = request.query_string.decode("latin-1")
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")
    return iri_to_uri(path + (f"?{query}" if query else ""))


#: Host header values whose verdicts each process keeps (a browser sends the
#: same one on every request; any other is worked out again once the bound is
#: reached, least recently used first).
HOSTS_KEPT = 64


@lru_cache(maxsize=HOSTS_KEPT)
def unregistered_loopback(host_header: str, rule: LoopbackRule) -> str | None:
    """The host name of ``host_header`` when it is a loopback name ``rule`` does not
    register (the request is sent to the registered origin), else None."""
    host = hostname(host_header)
    if not host or host in rule.registered or not is_loopback(host):
        return None
    return host


@lru_cache(maxsize=HOSTS_KEPT)
def trusted_host(host_header: str, trusted: tuple[str, ...]) -> bool:
    """werkzeug's ``host_is_trusted``, kept per Host value: it IDNA-encodes the host
    and every trusted name on each call, a tenth of a small page's time."""
    return host_is_trusted(host_header, trusted)


def refuse_foreign_host(trusted: tuple[str, ...], host_header: str) -> None:
    """400 for a Host not in ``trusted_hosts`` (a leading dot admits subdomains;
    the port is not compared), or one that is no host name at all."""
    if not trusted_host(host_header, trusted):
        log.info("refused host %r on %s %s", request.environ.get("HTTP_HOST"),
                 request.method, request.path)
        raise FedlabError("unknown_host")


def refuse_unsized_body() -> None:
    """411 for a body sent in chunks (no route of this site takes a stream)."""
    if "Transfer-Encoding" in request.headers:
        log.info("refused a body without Content-Length on %s %s", request.method,
                 request.path)
        raise FedlabError("length_required")


def refuse_large_body() -> None:
    length = request.content_length
    if length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()


def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """The body is not read: gunicorn discards a little of it, then closes."""
    return render_error(FedlabError("request_too_large", limit=MAX_REQUEST_BYTES // 1024))
