"""What production refuses: settings only a lab or the offline demo may have.

``fedlab serve`` (and so the Docker image) loads the configuration with
``production=True`` (:func:`webapp.setup.load`), which runs
:func:`refuse_lab_settings` on the settings and the built providers. Each
refusal names the key, so the operator knows what to change:

- the stand-ins: a ``[standins]`` table, a provider or AWS endpoint over plain
  http:// or on a loopback, unspecified or link-local address, however it is
  spelt (``127.1``, ``2130706433``, ``[::ffff:127.0.0.1]``: whoever listens
  there mints the tokens the site believes), and the secrets file ``fedlab
  init-demo`` writes. A lab that runs the stand-ins on purpose says so with
  ``allow_lab = true`` (``FEDLAB_ALLOW_LAB=1``), and every start then says so
  loudly in the log;
- no ``external_url``, or one that is not https://: a production site is
  served over TLS (even when a proxy in front ends it), and the session
  cookie's ``Secure`` flag, its ``__Host-`` name and HSTS follow
  ``external_url`` only; URLs are then built from it, never from the Host
  header (whose port a client chooses);
- a Redis session store reached over plain redis:// on another machine;
- a trivially weak ``secret_key`` or ``session.encryption_key``;
- ``diagnostics.probe_interval`` under :data:`MIN_PROBE_INTERVAL` seconds (0
  would switch off the rate limit on calls made with the site's credentials).

``allow_lab`` relaxes the first group only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .config import ENDPOINT_KEYS, ConfigError, Settings
from .urls import is_loopback, lab_address

if TYPE_CHECKING:
    from .providers import Provider

log = logging.getLogger(__name__)

#: The first line of the secrets file ``fedlab init-demo`` writes (webapp.demo).
DEMO_SECRETS_MARK = "# Demo secrets, made by `fedlab init-demo`"
#: Placeholders people paste from documentation, compared without case. Six
#: letters or more, so a random key contains one by chance about once in 10^7.
PLACEHOLDERS = ("changeme", "change-me", "change_me", "replaceme", "replace-me", "secret",
                "password", "example", "insecure", "fedlab")
#: Fewer distinct characters than this is not a random key of 32+ characters.
MIN_DISTINCT_CHARACTERS = 10
#: Seconds between two live-check runs, at least, in production (a lab may use 0).
MIN_PROBE_INTERVAL = 10
LAB_WARNING = (
    "allow_lab is on: this instance accepts lab settings (plain-http or loopback issuers "
    "and endpoints, a [standins] table, the demo's secrets file); whoever answers at those "
    "addresses can sign anyone in. Never run a real site like this.")


def refuse_lab_settings(settings: Settings, providers: Mapping[str, Provider]) -> None:
    """Raise ConfigError, naming the key, for the first setting production refuses.

    ``providers`` are the ones built from ``settings.provider_tables``: a refusal
    names the key as configured, and also checks the endpoints a kind derived.
    """
    if not settings.allow_lab:
        _refuse_standins(settings, providers)
    external = settings.external_url
    if not external:
        raise ConfigError(
            "external_url: missing; production needs the site's https:// origin "
            "(FEDLAB_EXTERNAL_URL=https://fedlab.example.com), also behind a TLS proxy: the "
            "cookie's Secure flag, its __Host- name, HSTS and every URL given to a "
            "provider follow it")
    if not external.startswith("https://"):
        raise ConfigError(
            f"external_url: {external} is not https://; in production the site is served "
            f"over TLS (the session cookie is Secure and __Host-, with HSTS)")
    session = settings.session
    if session.type == "redis":
        url = urlsplit(session.redis_url)
        if url.scheme == "redis" and not is_loopback(url.hostname or ""):
            raise ConfigError(
                f"session.redis_url: plain redis:// to {url.hostname}; the sessions "
                f"(sealed, but with their ids) would cross the network in clear: use "
                f"rediss:// (TLS), or a Redis on this machine")
    interval = settings.diagnostics.probe_interval
    if interval < MIN_PROBE_INTERVAL:
        raise ConfigError(
            f"diagnostics.probe_interval: {interval} s; production needs at least "
            f"{MIN_PROBE_INTERVAL} s between two live-check runs (each calls every provider "
            f"with this site's credentials; 0 would switch the limit off)")
    for key, value in (("secret_key", settings.secret_key),
                       ("session.encryption_key", session.encryption_key)):
        weakness = weak_key(value)
        if weakness:
            raise ConfigError(
                f"{key}: too weak ({weakness}); use a random value, e.g. "
                f"python -c 'import secrets; print(secrets.token_urlsafe(48))'")


def _refuse_standins(settings: Settings, providers: Mapping[str, Provider]) -> None:
    if settings.standins:
        raise ConfigError(
            "standins: a [standins] table is the offline demo's; remove it (or set "
            "allow_lab = true, FEDLAB_ALLOW_LAB=1, for a lab)")
    for key, url in _endpoints(settings, providers):
        reason = lab_address(url)
        if reason:
            raise ConfigError(
                f"{key}: {url} is {reason}; production talks to the real provider and AWS "
                f"over https (allow_lab = true, FEDLAB_ALLOW_LAB=1, accepts it for a lab)")
    secrets_file = settings.secrets_file
    if secrets_file and _first_line(secrets_file).startswith(DEMO_SECRETS_MARK):
        raise ConfigError(
            f"secrets_file: {secrets_file} holds the demo's secrets (written by fedlab "
            f"init-demo); give production its own (allow_lab = true accepts it for a lab)")


def _endpoints(settings: Settings,
               providers: Mapping[str, Provider]) -> Iterator[tuple[str, str]]:
    """Every configured address the site would send a token or credential to:
    each URL key as configured or as the kind resolved it (so a refusal names
    the key to change), then the endpoints the kind derived from them."""
    for name, provider in providers.items():
        configured = settings.provider_tables.get(name, {})
        values: dict[str, object] = {**configured, "issuer": provider.issuer,
                                  **provider.settings}
        for key in provider.URL_KEYS:  # the kind says which keys name its endpoints
            value = values.get(key)
            if isinstance(value, str) and value:
                yield (f"providers.{name}.{key}",
                       value if "://" in value else f"https://{value}")
        for role, value in provider.endpoints.items():
            yield f"providers.{name} ({role} endpoint)", value
    for key in ENDPOINT_KEYS:
        value = getattr(settings.aws, key)
        if value:
            yield f"aws.{key}", value


def weak_key(value: str) -> str | None:
    """Why ``value`` cannot be a random key, or None: few distinct characters, a
    repeated pattern, or a placeholder word. Not an entropy proof; it catches
    the keys people type instead of generating."""
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"only {len(set(value))} distinct characters"
    if _mostly_repeated(value) or _mostly_repeated(value[::-1]):
        return "a repeated pattern"
    if _mostly_a_run(value):
        return "a run of consecutive characters"
    lowered = value.lower()
    for word in PLACEHOLDERS:
        if word in lowered:
            return f"it contains the placeholder {word!r}"
    return None


def _mostly_repeated(value: str) -> bool:
    """Whether a chunk repeated from the start makes up three quarters of ``value``:
    a pattern typed twice or more, whatever is added after it ("Xq7L..." * 4 + "!")."""
    for size in range(1, len(value) // 2 + 1):
        periodic = size
        while periodic < len(value) and value[periodic] == value[periodic - size]:
            periodic += 1
        if periodic >= 2 * size and periodic * 4 >= len(value) * 3:
            return True
    return False


def _mostly_a_run(value: str) -> bool:
    """``abcdef...`` or ``0123...``: most neighbours one code point apart."""
    steps = [ord(b) - ord(a) for a, b in pairwise(value)]
    return sum(1 for s in steps if s in (1, -1)) > len(steps) // 2


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline()
    except OSError:
        return ""


def announce_lab(settings: Settings) -> None:
    """Say loudly, at every start of a production instance, that it accepts the
    stand-ins. Called for production only (:func:`webapp.configure_logging`)."""
    if settings.allow_lab:
        log.warning(LAB_WARNING)
