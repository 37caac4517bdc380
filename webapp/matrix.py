"""The redirect matrix: what to register where, and the classic mistakes.

Plain functions shared by the diagnostics page and ``fedlab check``. Both must
run inside a request context (the CLI makes one with
``app.test_request_context(base_url=...)``): the URLs shown are computed by the
very functions sign-in uses (:func:`webapp.urls.external_url`,
:func:`webapp.urls.current_origin`), so what this page says to register is
byte for byte what the provider will be sent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import msgspec
from flask import current_app, request

from .config import Settings
from .providers import Provider
from .providers.console import ConsoleRow
from .records import Registration
from .urls import (
    current_origin,
    external_url,
    hostname,
    is_loopback,
    registered_origins,
    sign_out_return_url,
)


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's line of the matrix: what to register, and where."""

    name: str
    kind: str
    display_name: str
    client_id: str
    callback_url: str
    #: The same value sign-out sends as the post-logout return URL; None when the
    #: provider has nothing to register for it.
    sign_out_url: str | None
    #: Where the provider POSTs logout tokens (OpenID Connect Back-Channel Logout
    #: 1.0), for a kind that sends them; None otherwise.
    backchannel_logout_url: str | None = None
    origin: str
    #: Where each value goes, in the provider's console words (``Provider.CONSOLE``).
    console: dict[str, str | None]
    #: Each value in the form its console field wants (a URL, an origin, a bare
    #: host name), as the provider's class says (``Provider.console_rows``).
    registrations: tuple[ConsoleRow, ...] = ()
    #: Values for a provider behind this one (Cognito's Hosted UI sending to Google).
    upstream: tuple[Registration, ...]
    #: The provider behind a hosted login page (Cognito's identity_provider).
    upstream_provider: str | None
    #: The row's id on the diagnostics page.
    anchor: str


def rows(providers: Mapping[str, Provider]) -> list[Row]:
    """One row per configured provider: the values to register and where."""
    origin = current_origin()
    result = []
    for name, provider in providers.items():
        console = dict(provider.CONSOLE)
        upstream = tuple(provider.upstream_registrations())
        callback_url = external_url("auth.callback", name=name)
        sign_out_url = sign_out_return_url() if console.get("sign_out") else None
        backchannel_url = (external_url("auth.backchannel_logout", name=name)
                           if provider.takes_logout_tokens else None)
        result.append(Row(
            name=name,
            kind=provider.kind,
            display_name=provider.display_name,
            client_id=provider.client_id,
            callback_url=callback_url,
            sign_out_url=sign_out_url,
            backchannel_logout_url=backchannel_url,
            origin=origin,
            console=console,
            registrations=tuple(provider.console_rows({
                "callback": callback_url, "sign_out": sign_out_url,
                "backchannel_logout": backchannel_url, "origin": origin})),
            upstream=upstream,
            upstream_provider=(provider.authorize_params.get("identity_provider")
                               if upstream else None),
            anchor=f"provider-{name}",
        ))
    return result


class Severity(enum.Enum):
    """How much a mistake matters, decided by the check that finds it: the page
    and ``fedlab check`` list the blocking ones first and say the word, so a
    note about the demo's set-up never reads like a sign-in that will fail."""

    #: Sign-in (or sign-out) will fail from here as things are.
    BLOCKING = "blocking"
    #: Works here, but breaks elsewhere: behind a balancer, in production.
    WARNING = "warning"
    #: A note worth knowing; nothing fails.
    INFO = "info"

    @property
    def rank(self) -> int:
        """Blocking first, notes last."""
        return list(Severity).index(self)

    @property
    def word(self) -> str:
        """The severity's one word, the same on the page and in ``fedlab check``."""
        return SEVERITY_WORDS[self][0]

    @property
    def words(self) -> str:
        """What the severity means, in words (never colour only): the word, then
        what it means where that needs saying."""
        word, meaning = SEVERITY_WORDS[self]
        return f"{word}: {meaning}" if meaning else word


SEVERITY_WORDS = {
    Severity.BLOCKING: ("Blocking", "sign-in will fail"),
    Severity.WARNING: ("Warning", "works here, breaks elsewhere"),
    Severity.INFO: ("Note", ""),
}


class Mistake(msgspec.Struct, frozen=True, kw_only=True):
    """One classic mistake: its code, how much it matters, and what the page says."""

    code: str
    severity: Severity
    title: str
    detail: str
    fix: str


#: A check looks at the configuration and the current request, and returns its
#: warning, or None when the mistake is not there.
Check = Callable[[Settings], Mistake | None]


def warnings(settings: Settings) -> list[Mistake]:
    """The classic redirect mistakes visible from this request and configuration,
    blocking ones first; within a severity, in the order a visitor would meet
    them (:data:`CHECKS`): where the site is opened, the proxy in front, the cookie."""
    found = [mistake for check in CHECKS if (mistake := check(settings)) is not None]
    return sorted(found, key=lambda mistake: mistake.severity.rank)


def callbacks_over_plain_http(settings: Settings) -> Mistake | None:
    """Providers refuse http:// redirect URIs except on the loopback host."""
    origin = current_origin()
    site = urlsplit(origin)
    if site.scheme != "http" or is_loopback(site.hostname or ""):
        return None
    return Mistake(
        code="http_not_loopback",
        severity=Severity.BLOCKING,
        title="Callback URLs use plain http on a host other than localhost",
        detail=f"The callback URLs are built as {origin}/auth/<name>/callback. Providers "
        f"refuse http:// redirect URIs except on the loopback host (localhost, 127.0.0.1, "
        f"[::1]); Google, Facebook, Auth0 and Cognito will reject {site.hostname}.",
        fix="Serve the site over https (set external_url = \"https://...\"), or, when a "
        "proxy terminates TLS, set trusted_proxies so the site sees https.")


def opened_at_another_loopback_name(settings: Settings) -> Mistake | None:
    """localhost and 127.0.0.1 are two sites to the browser, with two cookies."""
    here_host = hostname(request.host)
    registered = registered_origins(settings)
    hosts = [hostname(urlsplit(o).netloc) for o in registered]
    if not is_loopback(here_host) or here_host in hosts:
        return None
    others = [o for o, h in zip(registered, hosts, strict=True) if is_loopback(h)]
    if not others and registered:
        return None
    other = hostname(urlsplit(others[0]).netloc) if others else (
        "localhost" if here_host != "localhost" else "127.0.0.1")
    named = (f"The callback URLs registered for this site use {', '.join(others)}."
             if others else
             f"Nothing in the configuration says which form the providers have "
             f"registered; if it is {other}, a sign-in started here will fail.")
    target = others[0] if others else "the host name registered at the provider"
    return Mistake(
        code="loopback_host_mismatch",
        severity=Severity.BLOCKING,
        title=f"You opened the site at {here_host}, not {other}" if others else
        f"You opened the site at {here_host}: register exactly this host name",
        detail=f"Cookies are per host name: localhost and 127.0.0.1 are two different "
        f"sites to the browser. A sign-in started at {here_host} that comes back to "
        f"{other} arrives without this site's cookie, so its state is lost (\"This "
        f"sign-in was not started in this browser session\"). {named}",
        fix=f"Open the site at {target} and start the sign-in again; always use that "
        f"one host name.")


def request_not_at_external_url(settings: Settings) -> Mistake | None:
    """The provider sends the visitor back to external_url, not to where they are."""
    here = f"{request.scheme}://{request.host}"
    configured = settings.external_url
    if not configured or here == configured:
        return None
    return Mistake(
        code="external_url_mismatch",
        severity=Severity.BLOCKING,
        title="This request did not arrive at external_url",
        detail=f"external_url is {configured}, so every callback URL is built from it, but "
        f"this request arrived at {here}. The provider sends the visitor back to "
        f"{configured}; a sign-in started at {here} finds no cookie there. Scheme, host "
        f"and port must match exactly (a trailing slash or :443 counts).",
        fix=f"Open the site at {configured}; or, if a proxy in front changes the scheme, "
        f"host or port, set trusted_proxies so the site sees the original; or correct "
        f"external_url.")


def proxy_not_trusted(settings: Settings) -> Mistake | None:
    """A proxy's X-Forwarded headers, ignored: URLs are built from the proxy's view.

    Blocking when the scheme it hides makes the callback URLs wrong; else a warning."""
    forwarded = _forwarded_headers()
    if not forwarded or settings.trusted_proxies != 0:
        return None
    forwarded_proto = _first(request.headers.get("X-Forwarded-Proto"))
    hidden = (f" The proxy says the visitor used {forwarded_proto}, the site sees "
              f"{request.scheme}, so the callback URLs it builds start with "
              f"{request.scheme}://." if forwarded_proto and
              forwarded_proto != request.scheme else "")
    return Mistake(
        code="proxy_not_trusted",
        severity=Severity.BLOCKING if hidden else Severity.WARNING,
        title="A proxy sends X-Forwarded headers, but the site ignores them",
        detail=f"This request carries {' and '.join(forwarded)}, and trusted_proxies is 0, "
        f"so the site builds URLs from what the proxy connected to, not from what the "
        f"visitor typed.{hidden}",
        fix="Set trusted_proxies to the number of proxies in front of the site "
        "(trusted_proxies = 1 in the TOML file, or FEDLAB_TRUSTED_PROXIES=1), or set "
        "external_url. Never trust more proxies than there are: a visitor could forge "
        "the headers.")


def proxy_hides_https(settings: Settings) -> Mistake | None:
    """Trusted proxies, but the nearest one reports http: callbacks get http://.
    Not said when :func:`proxy_not_trusted` already explains the headers."""
    if _forwarded_headers() and settings.trusted_proxies == 0:
        return None
    if _first(request.headers.get("X-Forwarded-Proto")) != "https" or request.scheme != "http":
        return None
    return Mistake(
        code="proxy_https_hidden",
        severity=Severity.BLOCKING,
        title="The visitor used https, but the site sees http",
        detail=f"X-Forwarded-Proto says https, yet this request's scheme is http with "
        f"trusted_proxies = {settings.trusted_proxies}: the proxy nearest the site "
        f"reports http. Callback URLs are built with http://.",
        fix="Set trusted_proxies (or FEDLAB_TRUSTED_PROXIES) to the number of proxies in "
        "front of the site, so the outermost one's X-Forwarded-Proto is used, or set "
        "external_url = \"https://...\".")


def sessions_on_one_machine(settings: Settings) -> Mistake | None:
    """File sessions: a callback that reaches another instance finds no state.

    A note on one machine (the demo works so); a warning when a proxy is in
    front, where a balancer with more instances is likely."""
    if settings.session.type != "files":
        return None
    return Mistake(
        code="sessions_on_one_machine",
        severity=Severity.WARNING if settings.trusted_proxies else Severity.INFO,
        title="Sessions are files on this machine",
        detail="session.type is files: sessions are files in session.dir on this "
        "machine only. Behind a load balancer, a sign-in started on one instance "
        "and coming back to another finds no state.",
        fix="Run one instance, or set session.type = \"redis\" with session.redis_url. "
        "Either way secret_key and session.encryption_key must be identical on every "
        "instance and stable across restarts: set FEDLAB_SECRET_KEY and "
        "FEDLAB_SESSION__ENCRYPTION_KEY (or the secrets file), not values generated "
        "at start-up.")


def cookie_samesite_strict(settings: Settings) -> Mistake | None:
    """A Strict cookie is not sent on the provider's cross-site redirect back."""
    samesite = str(current_app.config.get("SESSION_COOKIE_SAMESITE") or "")
    if samesite.lower() != "strict":
        return None
    return Mistake(
        code="cookie_samesite_strict",
        severity=Severity.BLOCKING,
        title="The session cookie is SameSite=Strict",
        detail="The provider sends the visitor back with a cross-site redirect; a Strict "
        "cookie is not sent on it, so the callback finds no sign-in state.",
        fix="Use SESSION_COOKIE_SAMESITE = \"Lax\" (the default here): it is sent on "
        "top-level GET navigations such as the callback.")


def cookie_not_secure(settings: Settings) -> Mistake | None:
    """https in front, yet no Secure cookie and no HSTS: they follow external_url."""
    secure = current_app.config.get("SESSION_COOKIE_SECURE")
    if secure or not (request.scheme == "https" or settings.trusted_proxies):
        return None
    seen = ("this request came over https" if request.scheme == "https" else
            f"trusted_proxies is {settings.trusted_proxies}, so a proxy (which usually "
            f"ends TLS) is in front")
    return Mistake(
        code="cookie_not_secure",
        severity=Severity.WARNING,
        title="The session cookie is not Secure and there is no HSTS",
        detail=f"The cookie's Secure flag, its __Host- name and Strict-Transport-Security "
        f"follow external_url only, and external_url is "
        f"{settings.external_url or 'empty'}; yet {seen}. The cookie would also be sent "
        f"over plain http, and browsers are not told to keep to https.",
        fix="Set external_url to the site's https:// origin (FEDLAB_EXTERNAL_URL); "
        "production (fedlab serve) refuses to start without it.")


def cookie_secure_over_http(settings: Settings) -> Mistake | None:
    """A browser on plain http drops a Secure cookie before the callback."""
    if not current_app.config.get("SESSION_COOKIE_SECURE") or request.scheme != "http":
        return None
    return Mistake(
        code="cookie_secure_over_http",
        severity=Severity.BLOCKING,
        title="The session cookie is Secure, but this request is plain http",
        detail="SESSION_COOKIE_SECURE is on (external_url is https), and this request came "
        "over http: a browser on plain http does not keep a Secure cookie, so the "
        "sign-in state is lost before the callback.",
        fix="Open the site over https; if a proxy terminates TLS, set trusted_proxies so "
        "the site sees https; for local http use, leave external_url empty or http.")


#: Every check, in the order the page lists their warnings.
CHECKS: list[Check] = [
    callbacks_over_plain_http,
    opened_at_another_loopback_name,
    request_not_at_external_url,
    proxy_not_trusted,
    proxy_hides_https,
    sessions_on_one_machine,
    cookie_samesite_strict,
    cookie_not_secure,
    cookie_secure_over_http,
]


def _forwarded_headers() -> list[str]:
    """The X-Forwarded headers this request carries (whether trusted or not)."""
    return [h for h in ("X-Forwarded-Proto", "X-Forwarded-Host") if request.headers.get(h)]


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip().lower()
