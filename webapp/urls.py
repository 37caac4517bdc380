"""Where the site sends browsers: its own absolute URLs and safe local targets."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .config import LOOPBACK, Settings, settings


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


# -- lab addresses: what production refuses, and a lab's configuration must not mix --


def lab_address(url: str) -> str | None:
    """Why ``url`` is only for a lab (plain http, a loopback host), or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "not https://"
    host = parts.hostname or ""
    if is_loopback(host):
        return "a loopback address"
    address = ip_address(host)
    if address is not None and address.is_link_local:
        return "a link-local address"
    return None


def hostname(netloc: str) -> str:
    """``localhost:8000`` -> ``localhost``; ``[::1]:8000`` -> ``::1``; "" if malformed.
    The one reading of a Host (or an origin's netloc) that the loopback guard and the
    diagnostics share."""
    try:
        return (urlsplit(f"//{netloc}").hostname or "").lower()
    except ValueError:
        return ""


def registered_origins(site: Settings) -> tuple[str, ...]:
    """The site's origins the providers are known to have registered: the demo's
    (``standins.app_origins``, what its stand-ins register) and ``external_url``,
    each once, without a trailing slash. Each caller applies its own rule on top
    (the loopback guard redirects only when the site follows the request)."""
    known = [*site.demo_origins, *([site.external_url] if site.external_url else [])]
    return tuple(dict.fromkeys(o.rstrip("/") for o in known if isinstance(o, str)))


def is_loopback(host: str) -> bool:
    """``host`` is this machine: a localhost name, or a loopback or unspecified
    address however it is written."""
    host = host.lower().rstrip(".")
    if host in LOOPBACK or host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    address = ip_address(host)
    return address is not None and (address.is_loopback or address.is_unspecified)


#: Names /etc/hosts gives this machine on common images (Debian's among them).
#: A public name that resolves to a loopback address (wildcard DNS) is not
#: caught: the configuration is checked without resolving names.
LOOPBACK_NAMES = ("ip6-localhost", "ip6-loopback", "localhost.localdomain",
                  "localhost6", "localhost6.localdomain6")
#: What the C library's inet_aton reads as an IPv4 address: one to four numbers,
#: decimal, octal (0177) or hex (0x7f), so 127.1 and 2130706433 are 127.0.0.1.
IPV4_NUMBERS = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")


def ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` names, as a resolver or a socket would read it, or None
    for a host name. HTTP clients pass ``127.1`` or ``2130706433`` to inet_aton,
    which reads them as 127.0.0.1; an IPv4-mapped IPv6 address
    (``::ffff:127.0.0.1``) reaches the IPv4 address, though Python 3.11's
    ``is_loopback`` says no for it."""
    host = host.lower().strip("[]").split("%")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not IPV4_NUMBERS.match(host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if 1 < int(address) < 2**32:  # IPv4-compatible (::127.0.0.1), deprecated but read
            return ipaddress.IPv4Address(int(address))
    return address
