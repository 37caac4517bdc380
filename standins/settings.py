"""The stand-ins' settings: a plain dict (JSON on the command line) turned into
typed, validated records once, at start-up.

Settings stay a plain dict at the boundary so the app's own configuration can
produce them without importing anything from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN_LIFETIME = 3600
DEFAULT_CODE_LIFETIME = 300


class SettingsError(ValueError):
    """A settings key is missing or wrong; the message names it."""


@dataclass(frozen=True)
class UserSpec:
    """One test user, the same person at every tenant (each tenant gives a different sub)."""

    key: str
    username: str
    password: str
    email: str
    name: str
    groups: tuple[str, ...] = ()
    #: The Google Workspace domain whose admin manages this person's Google account
    #: (None: a personal account, whatever the address). The Google stand-in's id
    #: tokens and userinfo then carry it as ``hd``, as Google's do; other tenants
    #: have no such notion.
    hosted_domain: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    """A Cognito user pool group as its console holds it (``CreateGroup``): a user in
    it gets ``role_arn`` among the id token's ``cognito:roles``, and the role of their
    group of lowest ``precedence`` as ``cognito:preferred_role``."""

    name: str
    role_arn: str | None = None
    #: 0 is the highest; None (Cognito's default) ranks below every number.
    precedence: int | None = None


@dataclass(frozen=True)
class ClientSpec:
    """One app client registered at one tenant, as its console would hold it."""

    tenant: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()
    logout_uris: tuple[str, ...] = ()
    #: Where the tenant POSTs logout tokens (OpenID Connect Back-Channel Logout 1.0),
    #: for the flavours that send them; None: none are sent to this client.
    backchannel_logout_uri: str | None = None


@dataclass(frozen=True)
class Behaviour:
    """Where a tenant follows its real provider rather than the kindest reading of
    the specifications. Each flavour's defaults are its real provider's
    (``Flavour.behaviour``); the ``behaviour`` settings and the control API
    (``POST /_control/behaviour``) switch them per tenant."""

    #: A refresh returns a new refresh token and the one used stops working
    #: (oidc-provider; Auth0 with rotation turned on). Off: the same one stays valid.
    rotate_refresh_tokens: bool = False
    #: RP-Initiated Logout asks the visitor to confirm on a page of its own before
    #: going back to a registered post_logout_redirect_uri (oidc-provider).
    confirm_sign_out: bool = False
    #: E-mail and name in the id token whenever their scope is granted. OpenID
    #: Connect Core 5.4 puts them in userinfo only when an access token is issued
    #: (oidc-provider does); Cognito, Auth0 and Google put them in the id token too.
    profile_in_id_token: bool = True
    #: Scopes the tenant does not offer are left out of the grant (oidc-provider),
    #: so the token response's scope is less than the one asked for.
    drops_unknown_scopes: bool = False
    #: offline_access is granted only with prompt=consent (OpenID Connect Core 11),
    #: and a refresh token only with offline_access granted (oidc-provider).
    offline_access_needs_consent: bool = False


BEHAVIOURS = tuple(Behaviour.__dataclass_fields__)


@dataclass(frozen=True)
class Settings:
    base_url: str
    users: tuple[UserSpec, ...]
    clients: tuple[ClientSpec, ...]
    #: The Cognito user pool's groups (the users' ``groups`` name them).
    groups: tuple[GroupSpec, ...] = ()
    user_pool_id: str = "us-east-1_FedLab"
    region: str = "us-east-1"
    graph_version: str = "v19.0"
    #: The security profile id (``app_id``) of the Amazon tenant's registered clients.
    amazon_app_id: str = ""
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    code_lifetime: int = DEFAULT_CODE_LIFETIME
    secret_key: str = ""
    #: Per tenant, the :class:`Behaviour` switches that differ from its flavour's.
    behaviour: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Each tenant's own table, as the app's provider settings give it (Apple's
    #: registered team id, key id and public key).
    tenant_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def parse_settings(raw: Mapping[str, Any], tenants: Sequence[str]) -> Settings:
    """Validate ``raw`` and merge client entries that name the same tenant and client id.

    ``tenants`` are the tenants' names, one per flavour (:data:`standins.server.FLAVOURS`
    lists them; this module is below the flavours, which read its records)."""
    base_url = str(raw.get("base_url") or "").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError("base_url: must be the URL this server is reached at, "
                            "e.g. http://127.0.0.1:9000")
    users = tuple(_user(i, u) for i, u in enumerate(raw.get("users") or ()))
    if len({u.key for u in users}) != len(users):
        raise SettingsError("users: two users share a key")
    cognito = raw.get("cognito") or {}
    facebook = raw.get("facebook") or {}
    return Settings(
        base_url=base_url,
        users=users,
        clients=_merge_clients(raw.get("clients") or (), tenants),
        groups=_groups(raw.get("groups") or ()),
        user_pool_id=str(cognito.get("user_pool_id", "us-east-1_FedLab")),
        region=str(cognito.get("region", "us-east-1")),
        graph_version=str(facebook.get("graph_version", "v19.0")),
        amazon_app_id=str((raw.get("amazon") or {}).get("app_id", "")),
        token_lifetime=int(raw.get("token_lifetime", DEFAULT_TOKEN_LIFETIME)),
        code_lifetime=int(raw.get("code_lifetime", DEFAULT_CODE_LIFETIME)),
        secret_key=str(raw.get("secret_key") or ""),
        behaviour=_behaviour(raw.get("behaviour") or {}, tenants),
        extra={k: v for k, v in raw.items() if k not in _KNOWN_KEYS and k not in tenants},
        tenant_settings={t: dict(raw[t]) for t in tenants if isinstance(raw.get(t), Mapping)},
    )


_KNOWN_KEYS = {"base_url", "users", "clients", "groups", "cognito", "facebook", "token_lifetime",
               "code_lifetime", "secret_key", "behaviour"}


def _behaviour(raw: Any, tenants: Sequence[str]) -> dict[str, dict[str, bool]]:
    """``{"oidc": {"rotate_refresh_tokens": false}, ...}``, every key checked."""
    if not isinstance(raw, Mapping):
        raise SettingsError("behaviour: must be a table of tenants")
    return {tenant: behaviour_switches(switches, f"behaviour.{tenant}")
            for tenant, switches in raw.items() if _known_tenant(tenant, tenants)}


def _known_tenant(tenant: str, tenants: Sequence[str]) -> bool:
    if tenant not in tenants:
        raise SettingsError(f"behaviour.{tenant}: not a tenant; one of {', '.join(tenants)}")
    return True


def behaviour_switches(raw: Any, where: str) -> dict[str, bool]:
    """Validate ``{switch: bool}``: each name one of :data:`BEHAVIOURS`."""
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where}: must be a table of switches")
    for name, value in raw.items():
        if name not in BEHAVIOURS:
            raise SettingsError(f"{where}.{name}: not a behaviour; one of "
                                f"{', '.join(BEHAVIOURS)}")
        if not isinstance(value, bool):
            raise SettingsError(f"{where}.{name}: must be true or false")
    return dict(raw)


def _user(index: int, raw: Mapping[str, Any]) -> UserSpec:
    try:
        return UserSpec(
            key=str(raw["key"]),
            username=str(raw.get("username", raw["key"])),
            password=str(raw["password"]),
            email=str(raw.get("email", f"{raw['key']}@example.com")),
            name=str(raw.get("name", raw["key"])),
            groups=tuple(raw.get("groups") or ()),
            hosted_domain=_hosted_domain(index, raw.get("hosted_domain")),
        )
    except KeyError as missing:
        raise SettingsError(f"users[{index}].{missing.args[0]}: missing") from None


#: A domain name as Google Workspace takes one: lower-case labels, at least two.
DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _hosted_domain(index: int, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not DOMAIN.fullmatch(value):
        raise SettingsError(f"users[{index}].hosted_domain: must be a domain name in lower "
                            f"case, such as example.com")
    return value


@dataclass(frozen=True)
class GroupOverride:
    """A pre token generation trigger's ``groupOverrideDetails`` (its ``V1_0`` event's
    response), which Cognito puts in the id token in place of the user's groups and
    roles: the object is replaced whole, so a field left out is a claim left out (a
    ``preferredRole`` not given is no ``cognito:preferred_role``)."""

    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    preferred_role: str | None = None

    def claims(self) -> dict[str, Any]:
        """The id token's group claims, as Cognito writes them from the override."""
        claims: dict[str, Any] = {}
        if self.groups:
            claims["cognito:groups"] = list(self.groups)
        if self.roles:
            claims["cognito:roles"] = list(self.roles)
        if self.preferred_role:
            claims["cognito:preferred_role"] = self.preferred_role
        return claims


def group_override(raw: Any) -> GroupOverride:
    """``{"groupsToOverride"?, "iamRolesToOverride"?, "preferredRole"?}``, checked."""
    if not isinstance(raw, Mapping):
        raise SettingsError("groupOverrideDetails: must be an object")
    unknown = set(raw) - {"groupsToOverride", "iamRolesToOverride", "preferredRole"}
    if unknown:
        raise SettingsError(f"groupOverrideDetails.{sorted(unknown)[0]}: not a field; one of "
                            f"groupsToOverride, iamRolesToOverride, preferredRole")
    lists = {}
    for name in ("groupsToOverride", "iamRolesToOverride"):
        value = raw.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"groupOverrideDetails.{name}: must be a list of strings")
        lists[name] = tuple(value)
    preferred = raw.get("preferredRole")
    if preferred is not None and not isinstance(preferred, str):
        raise SettingsError("groupOverrideDetails.preferredRole: must be a string")
    return GroupOverride(lists["groupsToOverride"], lists["iamRolesToOverride"], preferred)


#: What Cognito's CreateGroup accepts as a group's precedence.
MAX_PRECEDENCE = 2**31 - 1


def _groups(raw_groups: Any) -> tuple[GroupSpec, ...]:
    """``[{"name", "role_arn", "precedence"}]``, as Cognito's CreateGroup takes them."""
    groups: dict[str, GroupSpec] = {}
    for index, raw in enumerate(raw_groups):
        group = group_spec(raw, f"groups[{index}]")
        if group.name in groups:
            raise SettingsError(f"groups[{index}].name: {group.name!r} is named twice")
        groups[group.name] = group
    return tuple(groups.values())


def group_spec(raw: Any, where: str) -> GroupSpec:
    """One group's ``{"name", "role_arn", "precedence"}``, checked as CreateGroup (or
    the control API's UpdateGroup) checks them; errors name ``where``."""
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise SettingsError(f"{where}.name: missing")
    precedence = raw.get("precedence")
    if precedence is not None and (isinstance(precedence, bool) or not isinstance(
            precedence, int) or not 0 <= precedence <= MAX_PRECEDENCE):
        raise SettingsError(f"{where}.precedence: must be a whole number from 0 "
                            f"to {MAX_PRECEDENCE}")
    role_arn = raw.get("role_arn")
    if role_arn is not None and not str(role_arn).startswith("arn:aws:iam::"):
        raise SettingsError(f"{where}.role_arn: must be an IAM role ARN")
    return GroupSpec(str(raw["name"]), str(role_arn) if role_arn else None, precedence)


def _merge_clients(raw_clients: Any, tenants: Sequence[str]) -> tuple[ClientSpec, ...]:
    merged: dict[tuple[str, str], ClientSpec] = {}
    for index, raw in enumerate(raw_clients):
        tenant = raw.get("tenant")
        if tenant not in tenants:
            raise SettingsError(f"clients[{index}].tenant: must be one of {', '.join(tenants)}")
        if not raw.get("client_id"):
            raise SettingsError(f"clients[{index}].client_id: missing")
        spec = ClientSpec(
            tenant=tenant,
            client_id=str(raw["client_id"]),
            client_secret=str(raw.get("client_secret") or ""),
            redirect_uris=tuple(raw.get("redirect_uris") or ()),
            logout_uris=tuple(raw.get("logout_uris") or ()),
            backchannel_logout_uri=_backchannel_uri(index, raw.get("backchannel_logout_uri")),
        )
        key = (spec.tenant, spec.client_id)
        if key in merged:
            old = merged[key]
            spec = ClientSpec(
                tenant=spec.tenant,
                client_id=spec.client_id,
                client_secret=old.client_secret or spec.client_secret,
                redirect_uris=_union(old.redirect_uris, spec.redirect_uris),
                logout_uris=_union(old.logout_uris, spec.logout_uris),
                backchannel_logout_uri=old.backchannel_logout_uri or spec.backchannel_logout_uri,
            )
        merged[key] = spec
    return tuple(merged.values())


def _backchannel_uri(index: int, value: Any) -> str | None:
    """A client's one ``backchannel_logout_uri``: an absolute http(s) URL, or none."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise SettingsError(f"clients[{index}].backchannel_logout_uri: must be an http(s) URL")
    return value


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))
