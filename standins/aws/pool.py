"""The identity pool's own settings as the Cognito console holds them, and the
operations that read and change them (``DescribeIdentityPool``,
``UpdateIdentityPool``, ``GetIdentityPoolRoles``, ``SetIdentityPoolRoles``).

The stand-in starts from its settings; the operations change this copy, as
an operator's console or CLI would. Identity providers can be taken off the
pool (``UpdateIdentityPool`` replaces the provider lists, as AWS does) and put
back, but only the ones the settings describe: their issuers and Graph apps
are what the stand-in knows how to check tokens against.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .roles import MappingInvalid, RoleMapping, check_role_arn, parse_mappings
from .settings import AwsSettings, PoolProvider

#: Logins keys AWS lists under ``SupportedLoginProviders`` (the rest of the OIDC
#: providers are IAM OIDC providers, listed by ARN).
SUPPORTED_LOGIN_KEYS = ("accounts.google.com", "graph.facebook.com", "www.amazon.com",
                        "appleid.apple.com", "api.twitter.com")
ROLE_KEYS = ("authenticated", "unauthenticated")
POOL_NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
DEVELOPER_PROVIDER_NAME = re.compile(r"[\w._-]{1,128}")


class PoolInvalid(ValueError):
    """A request AWS would refuse; ``code`` and ``str()`` are AWS's."""

    def __init__(self, message: str, code: str = "InvalidParameterException") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Pool:
    """One identity pool's configuration (mutable: the service holds the lock)."""

    identity_pool_id: str
    name: str
    region: str
    account_id: str
    allow_unauthenticated: bool
    allow_classic_flow: bool
    developer_provider_name: str
    #: The providers on the pool now, by Logins key.
    providers: dict[str, PoolProvider]
    #: ``authenticated`` / ``unauthenticated`` -> role ARN.
    roles: dict[str, str]
    role_mappings: dict[str, RoleMapping]
    #: Every provider the settings describe (what may be put back on the pool).
    known_providers: Mapping[str, PoolProvider] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: AwsSettings) -> Pool:
        return cls(
            identity_pool_id=settings.identity_pool_id, name=settings.identity_pool_name,
            region=settings.region, account_id=settings.account_id,
            allow_unauthenticated=settings.allow_unauthenticated,
            allow_classic_flow=settings.allow_classic_flow,
            developer_provider_name=settings.developer_provider_name,
            providers=dict(settings.providers),
            roles={"authenticated": settings.role_arn(settings.authenticated_role),
                   "unauthenticated": settings.role_arn(settings.guest_role)},
            role_mappings=dict(settings.role_mappings),
            known_providers=dict(settings.providers))

    @property
    def arn(self) -> str:
        return (f"arn:aws:cognito-identity:{self.region}:{self.account_id}:identitypool/"
                f"{self.identity_pool_id}")

    def mapping_key_known(self, key: str) -> bool:
        return any(key in p.mapping_keys for p in self.providers.values())

    # -- DescribeIdentityPool / UpdateIdentityPool ---------------------------------

    def describe(self) -> dict[str, Any]:
        supported: dict[str, str] = {}
        oidc: list[str] = []
        cognito: list[dict[str, Any]] = []
        for key, provider in sorted(self.providers.items()):
            if key.startswith("cognito-idp."):
                cognito += [{"ProviderName": key, "ClientId": client,
                             "ServerSideTokenCheck": False} for client in provider.client_ids]
            elif key in SUPPORTED_LOGIN_KEYS:
                supported[key] = provider.app_id or ",".join(provider.client_ids)
            else:
                oidc.append(f"arn:aws:iam::{self.account_id}:oidc-provider/{key}")
        answer: dict[str, Any] = {
            "IdentityPoolId": self.identity_pool_id, "IdentityPoolName": self.name,
            "AllowUnauthenticatedIdentities": self.allow_unauthenticated,
            "AllowClassicFlow": self.allow_classic_flow,
            "SupportedLoginProviders": supported, "OpenIdConnectProviderARNs": oidc,
            "CognitoIdentityProviders": cognito, "SamlProviderARNs": [],
            "IdentityPoolTags": {}}
        if self.developer_provider_name:
            answer["DeveloperProviderName"] = self.developer_provider_name
        return answer

    def update(self, params: Mapping[str, Any]) -> None:
        """``UpdateIdentityPool``: the request is the pool's whole new configuration
        (a provider list left out is emptied, as AWS does), except that a developer
        provider name, once set, stays and cannot be changed."""
        name = params.get("IdentityPoolName")
        if not isinstance(name, str) or not POOL_NAME.fullmatch(name):
            raise PoolInvalid(_constraint(name, "identityPoolName",
                                          "Member must satisfy regular expression pattern: "
                                          "[\\w\\s+=,.@-]+"))
        allow = params.get("AllowUnauthenticatedIdentities")
        if not isinstance(allow, bool):
            raise PoolInvalid(_constraint(allow, "allowUnauthenticatedIdentities",
                                          "Member must not be null"))
        developer = params.get("DeveloperProviderName")
        if developer is not None:
            if not isinstance(developer, str) or not DEVELOPER_PROVIDER_NAME.fullmatch(
                    developer):
                raise PoolInvalid(_constraint(developer, "developerProviderName",
                                              "Member must satisfy regular expression "
                                              "pattern: [\\w._-]+"))
            if self.developer_provider_name and developer != self.developer_provider_name:
                raise PoolInvalid("Cannot change DeveloperProviderName once it has been set "
                                  f"(it is '{self.developer_provider_name}').")
        providers = self._providers_named(params)
        self.name = name
        self.allow_unauthenticated = allow
        self.allow_classic_flow = bool(params.get("AllowClassicFlow", False))
        if developer:
            self.developer_provider_name = developer
        self.providers = providers

    def _providers_named(self, params: Mapping[str, Any]) -> dict[str, PoolProvider]:
        named: dict[str, PoolProvider] = {}
        supported = params.get("SupportedLoginProviders") or {}
        oidc_arns = params.get("OpenIdConnectProviderARNs") or []
        cognito = params.get("CognitoIdentityProviders") or []
        keys = [*supported, *(str(arn).split(":oidc-provider/", 1)[-1] for arn in oidc_arns)]
        for key in keys:
            named[key] = self._known(key)
        clients: dict[str, list[str]] = {}
        for entry in cognito:
            key = str(entry.get("ProviderName", ""))
            self._known(key)
            clients.setdefault(key, []).append(str(entry.get("ClientId", "")))
        for key, wanted in clients.items():
            provider = self._known(key)
            missing = [c for c in wanted if c not in provider.client_ids]
            if missing:
                raise PoolInvalid(f"This stand-in cannot add the app client {missing[0]} of "
                                  f"{key}: its settings name the pool's clients.")
            named[key] = dataclasses.replace(provider, client_ids=tuple(wanted))
        return named

    def _known(self, key: str) -> PoolProvider:
        provider = self.known_providers.get(key)
        if provider is None:
            raise PoolInvalid(f"This stand-in cannot add the provider {key}: it checks tokens "
                              f"only for the providers its settings describe "
                              f"({', '.join(sorted(self.known_providers))}).")
        return provider

    # -- GetIdentityPoolRoles / SetIdentityPoolRoles -------------------------------

    def describe_roles(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"IdentityPoolId": self.identity_pool_id,
                                  "Roles": dict(self.roles)}
        if self.role_mappings:
            answer["RoleMappings"] = {key: mapping.as_aws()
                                      for key, mapping in self.role_mappings.items()}
        return answer

    def set_roles(self, params: Mapping[str, Any]) -> None:
        """``SetIdentityPoolRoles``: ``Roles`` and ``RoleMappings`` replace the pool's."""
        roles = params.get("Roles")
        if not isinstance(roles, Mapping):
            raise PoolInvalid(_constraint(None, "roles", "Member must not be null"))
        for key, arn in roles.items():
            if key not in ROLE_KEYS:
                raise PoolInvalid(f"1 validation error detected: Value '{key}' at 'roles' "
                                  f"failed to satisfy constraint: Map keys must satisfy "
                                  f"constraint: [Member must satisfy regular expression "
                                  f"pattern: (un)?authenticated]")
            try:
                check_role_arn(str(arn))
            except MappingInvalid as invalid:
                raise PoolInvalid(str(invalid), invalid.code) from None
        try:
            mappings = parse_mappings(params.get("RoleMappings"), self.mapping_key_known)
        except MappingInvalid as invalid:
            raise PoolInvalid(str(invalid), invalid.code) from None
        self.roles = {str(k): str(v) for k, v in roles.items()}
        self.role_mappings = mappings


def _constraint(value: Any, where: str, constraint: str) -> str:
    shown = "" if value is None else f" '{value}'"
    return (f"1 validation error detected: Value{shown} at '{where}' failed to satisfy "
            f"constraint: {constraint}")
