"""The redirect matrix: what to register where, and the classic mistakes.

Plain functions shared by the diagnostics page and ``fedlab check``. Both must
run inside a request context (the CLI makes one with
``app.test_request_context(base_url=...)``): the URLs shown are computed by the
very functions sign-in uses (:func:`webapp.urls.external_url`,
:func:`webapp.urls.current_origin`), so what this page says to register is
byte for byte what the provider will be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from .config import LOOPBACK, Settings
from .providers import Provider, kind_of
from .urls import current_origin, external_url


def rows(providers: Mapping[str, Provider]) -> list[dict[str, Any]]:
    """One row per configured provider: the values to register and where."""
    origin = current_origin()
    result = []
    for name, provider in providers.items():
        kind = kind_of(provider)
        console = dict(kind.CONSOLE)
        upstream = kind.upstream_registrations(provider)
        result.append({
            "name": name,
            "kind": provider.kind,
            "display_name": provider.display_name,
            "client_id": provider.client_id,
            "callback_url": external_url("auth.callback", name=name),
            # The same value auth.signout sends as the post-logout return URL.
            "sign_out_url": origin + "/" if console.get("sign_out") else None,
            "origin": origin,
            "console": console,
            "upstream": upstream,
            # The provider behind a hosted login page (Cognito's identity_provider).
            "upstream_provider": (provider.authorize_params.get("identity_provider")
                                  if upstream else None),
            "anchor": f"provider-{name}",
        })
    return result


def warnings(settings: Settings) -> list[dict[str, str]]:
    """The classic redirect mistakes visible from this request and configuration.

    Each is ``{"code", "title", "detail", "fix"}``, in the order a visitor
    would meet them: where the site is opened, the proxy in front, the cookie.
    """
    found: list[dict[str, str]] = []

    def warn(code: str, title: str, detail: str, fix: str) -> None:
        found.append({"code": code, "title": title, "detail": detail, "fix": fix})

    origin = current_origin()
    site = urlsplit(origin)
    here = f"{request.scheme}://{request.host}"
    here_host = _hostname(request.host)
    configured = settings.external_url

    if site.scheme == "http" and (site.hostname or "") not in LOOPBACK:
        warn("http_not_loopback",
             "Callback URLs use plain http on a host other than localhost",
             f"The callback URLs are built as {origin}/auth/<name>/callback. Providers refuse "
             f"http:// redirect URIs except on the loopback host (localhost, 127.0.0.1, "
             f"[::1]); Google, Facebook, Auth0 and Cognito will reject {site.hostname}.",
             "Serve the site over https (set external_url = \"https://...\"), or, when a "
             "proxy terminates TLS, set trusted_proxies so the site sees https.")

    registered = _registered_origins(settings)
    hosts = [_hostname(urlsplit(o).netloc) for o in registered]
    if here_host in LOOPBACK and here_host not in hosts:
        others = [o for o, h in zip(registered, hosts, strict=True) if h in LOOPBACK]
        if others or not registered:
            other = _hostname(urlsplit(others[0]).netloc) if others else (
                "localhost" if here_host != "localhost" else "127.0.0.1")
            named = (f"The callback URLs registered for this site use {', '.join(others)}."
                     if others else
                     f"Nothing in the configuration says which form the providers have "
                     f"registered; if it is {other}, a sign-in started here will fail.")
            target = others[0] if others else "the host name registered at the provider"
            warn("loopback_host_mismatch",
                 f"You opened the site at {here_host}, not {other}" if others else
                 f"You opened the site at {here_host}: register exactly this host name",
                 f"Cookies are per host name: localhost and 127.0.0.1 are two different "
                 f"sites to the browser. A sign-in started at {here_host} that comes back to "
                 f"{other} arrives without this site's cookie, so its state is lost (\"This "
                 f"sign-in was not started in this browser session\"). {named}",
                 f"Open the site at {target} and start the sign-in again; always use that "
                 f"one host name.")

    if configured and here != configured:
        warn("external_url_mismatch",
             "This request did not arrive at external_url",
             f"external_url is {configured}, so every callback URL is built from it, but "
             f"this request arrived at {here}. The provider sends the visitor back to "
             f"{configured}; a sign-in started at {here} finds no cookie there. Scheme, host "
             f"and port must match exactly (a trailing slash or :443 counts).",
             f"Open the site at {configured}; or, if a proxy in front changes the scheme, "
             f"host or port, set trusted_proxies so the site sees the original; or correct "
             f"external_url.")

    forwarded_proto = _first(request.headers.get("X-Forwarded-Proto"))
    forwarded = [h for h in ("X-Forwarded-Proto", "X-Forwarded-Host")
                 if request.headers.get(h)]
    if forwarded and settings.trusted_proxies == 0:
        hidden = (f" The proxy says the visitor used {forwarded_proto}, the site sees "
                  f"{request.scheme}, so the callback URLs it builds start with "
                  f"{request.scheme}://." if forwarded_proto and
                  forwarded_proto != request.scheme else "")
        warn("proxy_not_trusted",
             "A proxy sends X-Forwarded headers, but the site ignores them",
             f"This request carries {' and '.join(forwarded)}, and trusted_proxies is 0, so "
             f"the site builds URLs from what the proxy connected to, not from what the "
             f"visitor typed.{hidden}",
             "Set trusted_proxies to the number of proxies in front of the site "
             "(trusted_proxies = 1 in the TOML file, or FEDLAB_TRUSTED_PROXIES=1), or set "
             "external_url. Never trust more proxies than there are: a visitor could forge "
             "the headers.")
    elif forwarded_proto == "https" and request.scheme == "http":
        warn("proxy_https_hidden",
             "The visitor used https, but the site sees http",
             f"X-Forwarded-Proto says https, yet this request's scheme is http with "
             f"trusted_proxies = {settings.trusted_proxies}: the proxy nearest the site "
             f"reports http. Callback URLs are built with http://.",
             "Set trusted_proxies (or FEDLAB_TRUSTED_PROXIES) to the number of proxies in "
             "front of the site, so the outermost one's X-Forwarded-Proto is used, or set "
             "external_url = \"https://...\".")

    if settings.session.type == "files":
        warn("sessions_on_one_machine",
             "Sessions are files on this machine",
             "session.type is files: sessions are files in session.dir on this "
             "machine only. Behind a load balancer, a sign-in started on one instance "
             "and coming back to another finds no state.",
             "Run one instance, or set session.type = \"redis\" with session.redis_url. "
             "Either way secret_key and session.encryption_key must be identical on every "
             "instance and stable across restarts: set FEDLAB_SECRET_KEY and "
             "FEDLAB_SESSION__ENCRYPTION_KEY (or the secrets file), not values generated "
             "at start-up.")

    samesite = str(current_app.config.get("SESSION_COOKIE_SAMESITE") or "")
    if samesite.lower() == "strict":
        warn("cookie_samesite_strict",
             "The session cookie is SameSite=Strict",
             "The provider sends the visitor back with a cross-site redirect; a Strict "
             "cookie is not sent on it, so the callback finds no sign-in state.",
             "Use SESSION_COOKIE_SAMESITE = \"Lax\" (the default here): it is sent on "
             "top-level GET navigations such as the callback.")

    secure = current_app.config.get("SESSION_COOKIE_SECURE")
    if not secure and (request.scheme == "https" or settings.trusted_proxies):
        seen = ("this request came over https" if request.scheme == "https" else
                f"trusted_proxies is {settings.trusted_proxies}, so a proxy (which usually "
                f"ends TLS) is in front")
        warn("cookie_not_secure",
             "The session cookie is not Secure and there is no HSTS",
             f"The cookie's Secure flag, its __Host- name and Strict-Transport-Security "
             f"follow external_url only, and external_url is "
             f"{configured or 'empty'}; yet {seen}. The cookie would also be sent over "
             f"plain http, and browsers are not told to keep to https.",
             "Set external_url to the site's https:// origin (FEDLAB_EXTERNAL_URL); "
             "production (fedlab serve) refuses to start without it.")

    if secure and request.scheme == "http":
        warn("cookie_secure_over_http",
             "The session cookie is Secure, but this request is plain http",
             "SESSION_COOKIE_SECURE is on (external_url is https), and this request came "
             "over http: a browser on plain http does not keep a Secure cookie, so the "
             "sign-in state is lost before the callback.",
             "Open the site over https; if a proxy terminates TLS, set trusted_proxies so "
             "the site sees https; for local http use, leave external_url empty or http.")
    return found


def _registered_origins(settings: Settings) -> list[str]:
    """The site origins the providers are known to have registered."""
    known = list(settings.standins.get("app_origins") or [])
    if settings.external_url:
        known.append(settings.external_url)
    return [o.rstrip("/") for o in dict.fromkeys(known) if isinstance(o, str)]


def _hostname(netloc: str) -> str:
    """``localhost:8000`` -> ``localhost``; ``[::1]:8000`` -> ``::1``."""
    return (urlsplit(f"//{netloc}").hostname or "").lower()


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip().lower()
