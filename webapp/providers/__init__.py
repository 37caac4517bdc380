"""Providers are data: one ``[providers.<name>]`` table each, one class per kind.

A kind is a subclass of :class:`~webapp.providers.base.Provider` in its own
module (:mod:`.oidc`, :mod:`.cognito`, :mod:`.auth0`, :mod:`.google`,
:mod:`.facebook`); it owns everything peculiar to that provider family: which
keys it takes, its endpoints, extra authorize parameters, how its callback
arrives, how its tokens are checked beyond the OpenID Connect rules, how to
sign out at the provider, its Identity Pool ``Logins`` key, and how
deploy/template.py registers it on the pool (``POOL_TEMPLATES``). :data:`KINDS`
holds the kinds, found in this package's modules rather than listed anywhere;
views never branch on the kind, they call the configured provider's methods.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from ..config import ConfigError
from .base import (
    COMMON_KEYS,
    FLOW_PARAMS,
    NAME_PATTERN,
    RESPONSE_MODES,
    Provider,
    ProviderConfigError,
    SignOut,
    require,
)

__all__ = ["KINDS", "Provider", "ProviderConfigError", "SignOut", "build", "build_all"]


def _kinds_in_this_package() -> dict[str, type[Provider]]:
    """Each module of this package, and in it each :class:`Provider` subclass it
    defines with a ``KIND``: the kinds, found rather than listed.

    So adding a kind is adding its module (and its stand-in, its example table,
    its tests), with no list to keep in step. Modules are read in name order, so
    the result (and every message naming the kinds) is the same on every start.
    """
    kinds: dict[str, type[Provider]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Provider)
                    and value.__module__ == module.__name__ and value.__dict__.get("KIND")):
                if value.KIND in kinds:
                    raise TypeError(f"two provider kinds say KIND = {value.KIND!r}: "
                                    f"{kinds[value.KIND].__qualname__} and {value.__qualname__}")
                kinds[value.KIND] = value
    return kinds


#: Every provider kind, by the ``kind`` value that selects it.
KINDS: Mapping[str, type[Provider]] = _kinds_in_this_package()


def build_all(tables: Mapping[str, Any]) -> dict[str, Provider]:
    """Every ``[providers.<name>]`` table validated, by name, in order."""
    return {name: build(name, raw) for name, raw in tables.items()}


def build(name: str, raw: Any) -> Provider:
    """Validate one ``[providers.<name>]`` table; errors name the key."""
    where = f"providers.{name}"
    try:
        if not NAME_PATTERN.match(name):
            raise ProviderConfigError(
                ": name must be lower-case letters, digits and '-' (it is part of the "
                "callback URL /auth/<name>/callback)"
            )
        if not isinstance(raw, Mapping):
            raise ProviderConfigError(": must be a table")
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ProviderConfigError(f".kind: must be one of {', '.join(sorted(KINDS))}")
        cls = KINDS[kind]
        unknown = set(raw) - set(COMMON_KEYS) - set(cls.KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise ProviderConfigError(
                f".{key}: not a key of kind {kind!r}; it takes "
                f"{', '.join(sorted(set(COMMON_KEYS) | set(cls.KEYS)))}"
            )
        client_id = require(raw, "client_id", "the app's client id from the provider's console")
        client_secret = require(
            raw,
            "client_secret",
            f"the client secret, from the environment (FEDLAB_PROVIDERS__"
            f"{name.upper().replace('-', '_')}__CLIENT_SECRET) or the secrets file",
        ) if cls.TAKES_CLIENT_SECRET else ""
        scopes = raw.get("scopes", cls.DEFAULT_SCOPES)
        if isinstance(scopes, str):
            scopes = scopes.replace(",", " ").split()
        if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
            raise ProviderConfigError(".scopes: must be a list of scope names")
        scopes = tuple(scopes)
        # The kind gets the scopes parsed, for parameters that depend on them.
        fields = cls.configure(raw, scopes)
        if cls.RESPONSE_MODE != "query":  # the default for the code flow: never sent
            fields["authorize_params"] = {**fields.get("authorize_params", {}),
                                          "response_mode": cls.RESPONSE_MODE}
        for param in fields.get("authorize_params", {}):
            if param in FLOW_PARAMS:
                raise ProviderConfigError(
                    f".authorize_params.{param}: set by each sign-in itself (fresh state, "
                    f"nonce and PKCE, this site's client and callback); a fixed value "
                    f"would be the same for everyone, or break every sign-in")
        mode = fields.get("authorize_params", {}).get("response_mode", "query")
        if mode not in RESPONSE_MODES:
            raise ProviderConfigError(
                f".authorize_params.response_mode: one of {', '.join(RESPONSE_MODES)}; the "
                f"callback reads a query or a posted form, never a fragment (which the "
                f"browser keeps to itself)")
        return cls(
            name=name,
            display_name=str(raw.get("display_name") or cls.DISPLAY_NAME),
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            **fields,
        )
    except ProviderConfigError as e:
        raise ConfigError(f"{where}{e}") from None
