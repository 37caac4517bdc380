"""Wiring for the offline demo: secrets for it, and the stand-ins' registrations.

The stand-ins read the same configuration file as the app and register each
configured provider as a client of the tenant of its kind, with the callback,
sign-out and back-channel logout URLs an operator would enter in that
provider's console.
"""

from __future__ import annotations

import json
import secrets
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from .config import ConfigError, Settings, plain, settings
from .providers import KINDS, Provider, registry
from .urls import external_url, is_loopback, sign_out_return_url

#: The AWS account of the offline demo's stand-in (moto's default).
ACCOUNT_ID = "123456789012"


#: Where the demo listens when neither ``--port`` nor ``standins.app_origins`` says.
DEFAULT_PORT = 8000
#: ``--host`` values the name localhost reaches (it resolves to 127.0.0.1 and ::1),
#: the wildcards among them: listening there, the registered localhost origin works.
LOCALHOST_REACHES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})  # noqa: S104


@dataclass(frozen=True)
class DemoAddress:
    """Where ``fedlab demo`` listens, and the site's origins that follow from it:
    the ones its stand-ins register as callback and sign-out URLs, the site
    redirects other loopback names to (:mod:`webapp.guards`), and the demo prints
    first. One record, so the three cannot disagree."""

    host: str
    port: int
    origins: tuple[str, ...]
    #: Host names the site must answer to beyond its configured ones.
    extra_hosts: tuple[str, ...]

    def overrides(self, site: Settings) -> dict[str, Any]:
        """``create_app`` overrides that make ``site``'s configuration this address's."""
        moved: dict[str, Any] = {"standins": {"app_origins": list(self.origins)}}
        if self.extra_hosts:
            moved["trusted_hosts"] = [*site.trusted_hosts, *self.extra_hosts]
        return moved


def demo_address(site: Settings, host: str, port: int | None) -> DemoAddress:
    """The demo's address for ``--host`` and ``--port``.

    Without ``--port``, the port of the first configured origin
    (``standins.app_origins``). Every loopback origin moves to that port, so
    the callback URLs the stand-ins accept are the ones the site sends; an
    origin elsewhere (behind a proxy of the operator's own) is kept. A host
    that localhost does not reach (127.0.0.2, a LAN address) becomes the first
    origin, by its address, and a host the site answers to.
    """
    configured = list(site.demo_origins)
    if port is None:
        first = urlsplit(configured[0]).port if configured else None
        port = first or DEFAULT_PORT
    if not 0 < port < 65536:
        raise ConfigError(f"--port: {port} is not a TCP port (1 to 65535)")
    origins = [_with_port(o, port) if is_loopback(urlsplit(o).hostname or "") else o.rstrip("/")
               for o in configured]
    extra: tuple[str, ...] = ()
    name = host.lower().strip("[]")
    if name not in LOCALHOST_REACHES:
        if ":" in name:
            raise ConfigError(f"--host: {host} is an IPv6 address localhost does not reach; "
                              f"listen on ::1, 127.0.0.1 or 0.0.0.0, or on a host name")
        origins = [_with_port(f"http://{name}", port),
                   *(o for o in origins if not is_loopback(urlsplit(o).hostname or ""))]
        extra = (name,)
    if not origins:
        origins = [_with_port("http://localhost", port)]
    return DemoAddress(host, port, tuple(dict.fromkeys(origins)), extra)


def _with_port(origin: str, port: int) -> str:
    """``origin`` at ``port``, written as a browser sends it (no :80 for http):
    the callback built from the request must equal the registered one byte for byte."""
    parts = urlsplit(origin)
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")


def write_secrets(path: Path, providers: Mapping[str, Any]) -> bool:
    """Give the demo's secrets file a secret key, a session encryption key and each
    provider's secrets: what its kind's ``demo_secrets`` makes (a client secret;
    Apple's, a private key). ``providers`` are the configuration's ``[providers]``
    tables by name (a table without a known ``kind`` gets a client secret).

    Existing values are kept (sessions and registrations stay valid); only
    what is missing is added. Returns whether anything was written.
    """
    existing: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as f:
            existing = tomllib.load(f)
    lines = []
    if not existing:
        lines += ["# Demo secrets, made by `fedlab init-demo`; never commit this file.",
                  f'secret_key = "{secrets.token_urlsafe(48)}"']
    if not existing.get("session", {}).get("encryption_key"):
        if "session" in existing:  # a [session] table of the operator's own: say so
            raise ConfigError(f"session.encryption_key: missing from the [session] table of {path}")
        # A table at the end of the file, after any provider tables, is valid TOML.
        lines += ["", "[session]", f'encryption_key = "{secrets.token_urlsafe(48)}"']
    known = existing.get("providers", {})
    for name, table in providers.items():
        if name not in known:
            kind = KINDS.get(table.get("kind") if isinstance(table, Mapping) else None)
            made = (kind.demo_secrets() if kind is not None
                    else {"client_secret": secrets.token_urlsafe(32)})
            # A JSON string is a TOML basic string (a PEM's newlines as \n).
            lines += ["", f"[providers.{name}]",
                      *(f"{key} = {json.dumps(value)}" for key, value in made.items())]
    if not lines:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return True


def standin_settings(app: Flask, app_origins: Iterable[str] | None = None,
                     base_url: str | None = None) -> dict[str, Any]:
    """The stand-ins' settings (see :mod:`standins`) for ``app``'s configuration.

    Each provider's callback and sign-out URLs are the ones the app sends when it
    is opened at each of ``app_origins`` (computed by the functions sign-in and
    sign-out use), so the stand-ins accept exactly what the app will ask for.
    """
    site, providers = settings(app), registry.providers(app)
    standins = plain(site.standins)
    origins = list(app_origins or standins.get("app_origins", []))
    result: dict[str, Any] = {
        "base_url": (base_url or standins["url"]).rstrip("/"),
        "users": list(standins.get("users", [])),
        "clients": [],
    }
    if standins.get("groups"):  # [[standins.groups]]: the Cognito user pool's
        result["groups"] = [cognito_group(group) for group in standins["groups"]]
    if standins.get("behaviour"):  # [standins.behaviour.<tenant>] switches
        result["behaviour"] = dict(standins["behaviour"])
    sign_out_urls = list(dict.fromkeys(_at(app, o, sign_out_return_url) for o in origins))
    for provider in providers.values():
        tenant = tenant_for(provider)
        callbacks = [_at(app, o, lambda n=provider.name: external_url("auth.callback", name=n))
                     for o in origins]
        client = {
            "tenant": tenant,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
            "redirect_uris": list(dict.fromkeys(callbacks)),
            "logout_uris": sign_out_urls,
        }
        if provider.takes_logout_tokens and origins:
            # A client registers one back-channel logout URI: the first origin's.
            client["backchannel_logout_uri"] = _at(
                app, origins[0],
                lambda n=provider.name: external_url("auth.backchannel_logout", name=n))
        result["clients"].append(client)
        if provider.settings:
            # The kind's own keys (a user pool's region and id, a Graph version): the
            # tenant speaks for that pool or version, as the real provider would.
            result[tenant] = dict(provider.settings)
    return result


def cognito_group(group: Any) -> dict[str, Any]:
    """A ``[[standins.groups]]`` entry as Cognito's CreateGroup takes it: its role
    named by ARN, in the account the AWS stand-in plays (which makes that role)."""
    if not isinstance(group, dict) or not group.get("name"):
        raise ConfigError("standins.groups: each group needs a name")
    entry = {"name": group["name"], "precedence": group.get("precedence")}
    if group.get("role"):
        entry["role_arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{group['role']}"
    return entry


def _at(app: Flask, origin: str, url: Callable[[], str]) -> str:
    """``url()`` as the app computes it for a request to ``origin``."""
    with app.test_request_context(base_url=origin):
        return url()


def tenant_for(provider: Provider) -> str:
    """The stand-in tenant that plays this provider: the one whose flavour
    (``standins/flavour.py``) is named after the provider's kind, so a new kind
    with its stand-in needs no line here.

    The stand-ins are imported here, not with this module: ``fedlab init-demo``
    uses :func:`write_secrets` alone, and the production wheel has no stand-ins.
    """
    from standins import FLAVOURS

    if provider.kind not in {flavour.name for flavour in FLAVOURS}:
        raise ConfigError(f"providers.{provider.name}.kind: no stand-in plays "
                          f"{provider.kind!r}, so the demo cannot register it")
    return provider.kind


def aws_standin_settings(app: Flask, app_origins: Iterable[str] | None = None) -> dict[str, Any]:
    """The local AWS stand-in's settings (see :mod:`standins.aws`): ``app``'s
    identity pool with every configured provider registered on it, as an operator
    would."""
    site = settings(app)
    aws = site.aws
    registered: dict[str, dict[str, Any]] = {}
    providers = registry.providers(app)
    for provider in providers.values():
        entry = provider.pool_provider()
        known = registered.setdefault(entry["logins_key"], entry)
        if known is not entry:  # several app clients of one provider: all are allowed
            known["client_ids"] = sorted({*known.get("client_ids", []),
                                          *entry.get("client_ids", [])})
    return {
        "region": aws.region,
        "account_id": ACCOUNT_ID,
        "identity_pool_id": aws.identity_pool_id,
        "allow_unauthenticated": aws.allow_guests,
        "bucket": aws.bucket,
        "app_origins": list(app_origins or site.demo_origins),
        "credentials_lifetime": 3600,
        "providers": list(registered.values()),
        "developer_provider_name": aws.developer_provider_name,
        "allow_classic_flow": aws.classic_flow,
        "role_mappings": role_mappings(plain(site.standins), providers, ACCOUNT_ID),
    }


def role_mappings(standins: Mapping[str, Any], providers: Mapping[str, Provider],
                  account_id: str) -> dict[str, Any]:
    """``[standins.identity_pool.role_mappings.<provider>]`` (an operator's console
    choices for that configured provider, in snake_case, roles by IAM name) in
    AWS's ``RoleMappings`` shape, keyed as AWS keys them."""
    tables = (standins.get("identity_pool") or {}).get("role_mappings") or {}
    mappings: dict[str, Any] = {}
    for name, table in tables.items():
        where = f"standins.identity_pool.role_mappings.{name}"
        if name not in providers:
            raise ConfigError(f"{where}: no provider {name!r} is configured")
        try:
            mapping: dict[str, Any] = {"Type": str(table["type"]),
                                       "AmbiguousRoleResolution":
                                           str(table["ambiguous_role_resolution"])}
            rules = table.get("rules") or []
            if rules:
                mapping["RulesConfiguration"] = {"Rules": [
                    {"Claim": str(rule["claim"]), "MatchType": str(rule["match_type"]),
                     "Value": str(rule["value"]),
                     "RoleARN": f"arn:aws:iam::{account_id}:role/{rule['role']}"}
                    for rule in rules]}
        except KeyError as missing:
            raise ConfigError(f"{where}: {missing.args[0]} is missing") from None
        mappings[providers[name].role_mapping_key] = mapping
    return mappings
