"""Providers are data: one ``[providers.<name>]`` table each, one module per kind.

A kind module owns everything peculiar to that provider family: which keys it
takes, its endpoints, extra authorize parameters, how its tokens are checked
beyond the OpenID Connect rules, how to sign out at the provider, and its
Identity Pool ``Logins`` key. Views never branch on the kind; they call
:func:`kind_of` and use the module's functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
COMMON_KEYS = ("kind", "display_name", "client_id", "client_secret", "scopes")


class ProviderConfigError(Exception):
    """Raised by a kind module; :mod:`webapp.config` turns it into a ConfigError."""


@dataclass(frozen=True)
class Provider:
    """One configured provider, validated; shared read-only by all requests."""

    name: str
    kind: str
    display_name: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    #: The OpenID Connect issuer; ``None`` for plain OAuth 2 (Facebook).
    issuer: str | None
    #: Fixed endpoints by role (``authorize``, ``token``, ``userinfo``, ``revoke``,
    #: ``logout``, ...); for OpenID Connect kinds discovery fills the rest.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_auth_method: str = "client_secret_basic"
    #: ``(name, function)`` pairs for authlib, for a method it does not know.
    client_auth_methods: tuple[tuple[str, Any], ...] = ()
    #: The token endpoint's HTTP method: POST (RFC 6749) unless the provider says GET.
    token_request_method: str = "POST"
    #: The kind-specific keys as configured (domain, region, user_pool_id...).
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Other issuer spellings the provider really uses in its tokens.
    issuer_aliases: tuple[str, ...] = ()

    @property
    def discovery_url(self) -> str | None:
        if self.issuer is None:
            return None
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def scope(self) -> str:
        return kind_of(self).join_scopes(self.scopes)


def kind_of(provider: Provider) -> ModuleType:
    """Return the module that owns ``provider``'s quirks."""
    return _kinds()[provider.kind]


def _kinds() -> dict[str, ModuleType]:
    from . import auth0, cognito, facebook, google, oidc

    return {m.KIND: m for m in (cognito, auth0, google, facebook, oidc)}


def build(name: str, raw: Any) -> Provider:
    """Validate one ``[providers.<name>]`` table; errors name the key."""
    from .. import config

    where = f"providers.{name}"
    try:
        if not NAME_PATTERN.match(name):
            raise ProviderConfigError(
                ": name must be lower-case letters, digits and '-' (it is part of the "
                "callback URL /auth/<name>/callback)"
            )
        if not isinstance(raw, Mapping):
            raise ProviderConfigError(": must be a table")
        kinds = _kinds()
        kind = raw.get("kind")
        if kind not in kinds:
            raise ProviderConfigError(f".kind: must be one of {', '.join(sorted(kinds))}")
        module = kinds[kind]
        unknown = set(raw) - set(COMMON_KEYS) - set(module.KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise ProviderConfigError(
                f".{key}: not a key of kind {kind!r}; it takes "
                f"{', '.join(sorted(set(COMMON_KEYS) | set(module.KEYS)))}"
            )
        client_id = require(raw, "client_id", "the app's client id from the provider's console")
        client_secret = require(
            raw,
            "client_secret",
            f"the client secret, from the environment (FEDLAB_PROVIDERS__"
            f"{name.upper().replace('-', '_')}__CLIENT_SECRET) or the secrets file",
        )
        scopes = raw.get("scopes", module.DEFAULT_SCOPES)
        if isinstance(scopes, str):
            scopes = scopes.replace(",", " ").split()
        if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
            raise ProviderConfigError(".scopes: must be a list of scope names")
        scopes = tuple(scopes)
        # The kind gets the scopes parsed, for parameters that depend on them.
        fields = module.configure(raw, scopes)
        return Provider(
            name=name,
            kind=kind,
            display_name=str(raw.get("display_name") or module.DISPLAY_NAME),
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            **fields,
        )
    except ProviderConfigError as e:
        raise config.ConfigError(f"{where}{e}") from None


def build_all(tables: Mapping[str, Any]) -> dict[str, Provider]:
    """Every configured provider, by name, from the ``[providers.<name>]`` tables."""
    return {name: build(name, raw) for name, raw in tables.items()}


def require(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not value or not isinstance(value, str):
        raise ProviderConfigError(f".{key}: missing; put {what} here")
    return value


def url_setting(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """An endpoint base such as ``hosted_ui_url``: overridable, which is how the
    stand-ins (or any other deployment of the protocol) are reached."""
    value = raw.get(key) or default
    if not value or not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ProviderConfigError(f".{key}: must be an http(s) URL")
    return value.rstrip("/")


@dataclass(frozen=True)
class SignOut:
    """What signing out at the provider takes, once the local session is gone."""

    #: Where to send the browser to end the provider's own session, if it has one.
    url: str | None
    #: ``(endpoint, form, basic_auth)`` to revoke the refresh token (RFC 7009), if offered.
    revocation: tuple[str, dict[str, str], tuple[str, str] | None] | None
    #: What the visitor should know (e.g. still signed in at Google).
    note: str
