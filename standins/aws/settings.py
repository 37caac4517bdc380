"""The AWS stand-in's settings: a plain dict at the boundary, typed records inside."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from webapp import policies

from .roles import MappingInvalid, RoleMapping, parse_mappings

#: The bootstrap's own credentials: dummy values, never the machine's. Requests
#: signed with them are the operator's (bootstrap, tests) and pass the S3 guard.
ADMIN_ACCESS_KEY_ID = "testing"
ADMIN_SECRET_ACCESS_KEY = "testing"

#: The IAM user the site signs its developer calls with (see :func:`.bootstrap`).
SITE_USER = "fedlab-site"
#: The names deploy/'s template gives these roles too: the storage pages know them.
AUTHENTICATED_ROLE = policies.AUTHENTICATED_ROLE_NAME
GUEST_ROLE = policies.GUEST_ROLE_NAME
DEFAULT_LIFETIME = 3600


#: How the pool checks a provider's tokens: an OIDC issuer's id tokens, Graph's
#: ``debug_token``, Amazon's token-info.
PROVIDER_TYPES = ("oidc", "facebook", "amazon")


class SettingsError(ValueError):
    """A settings key is missing or wrong; the message names it."""


@dataclass(frozen=True)
class PoolProvider:
    """One identity provider registered on the identity pool, as its console holds it."""

    logins_key: str
    type: str  # one of PROVIDER_TYPES
    issuer: str = ""
    client_ids: tuple[str, ...] = ()
    graph_url: str = ""
    graph_version: str = ""
    #: Facebook's app id, or Amazon's security profile id: what the pool lists.
    app_id: str = ""
    app_secret: str = ""
    #: Amazon's token-info endpoint, which the pool asks about each access token.
    tokeninfo_url: str = ""

    @property
    def mapping_keys(self) -> tuple[str, ...]:
        """The keys a role mapping for this provider may have: a Cognito user pool's
        are one per app client (``<logins key>:<client id>``), any other's its
        ``Logins`` key."""
        if self.logins_key.startswith("cognito-idp."):
            return tuple(f"{self.logins_key}:{client}" for client in self.client_ids)
        return (self.logins_key,)

    def mapping_key_for(self, claims: Mapping[str, Any]) -> str:
        """The role mapping key of a login with these claims: a user pool's id token
        names its app client in ``aud``."""
        if not self.logins_key.startswith("cognito-idp."):
            return self.logins_key
        audience = claims.get("aud")
        if isinstance(audience, list):
            audience = audience[0] if audience else ""
        return f"{self.logins_key}:{audience}"


@dataclass(frozen=True)
class AwsSettings:
    region: str
    account_id: str
    identity_pool_id: str
    allow_unauthenticated: bool
    bucket: str
    app_origins: tuple[str, ...]
    credentials_lifetime: int
    providers: Mapping[str, PoolProvider] = field(default_factory=dict)
    authenticated_role: str = AUTHENTICATED_ROLE
    guest_role: str = GUEST_ROLE
    identity_pool_name: str = "fedlab"
    #: The site's own IAM user (see :class:`SiteKey`).
    site_user: str = SITE_USER
    #: Names of the roles of :data:`webapp.policies.MAPPED_ROLES`, by their key
    #: (``admins``, ``readers``); by default each one's own name.
    mapped_roles: Mapping[str, str] = field(default_factory=dict)
    #: The pool's developer provider name ("" when it has none).
    developer_provider_name: str = ""
    allow_classic_flow: bool = False
    #: Role mappings by AWS's key (see :mod:`.roles`).
    role_mappings: Mapping[str, RoleMapping] = field(default_factory=dict)

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    @property
    def pool_arn(self) -> str:
        return (f"arn:aws:cognito-identity:{self.region}:{self.account_id}:identitypool/"
                f"{self.identity_pool_id}")


@dataclass(frozen=True)
class SiteKey:
    """The site's own IAM user and its access key, made by :func:`.bootstrap`: the
    identity service verifies the key's signatures and authorizes its user."""

    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


def parse_settings(raw: Mapping[str, Any] | AwsSettings) -> AwsSettings:
    if isinstance(raw, AwsSettings):
        return raw
    try:
        providers = {}
        for index, entry in enumerate(raw.get("providers") or ()):
            kind = str(entry.get("type", "oidc"))
            if kind not in PROVIDER_TYPES:
                raise SettingsError(f"providers[{index}].type: must be one of "
                                    f"{', '.join(PROVIDER_TYPES)}")
            provider = PoolProvider(
                logins_key=str(entry["logins_key"]), type=kind,
                issuer=str(entry.get("issuer", "")),
                client_ids=tuple(str(c) for c in entry.get("client_ids") or ()),
                graph_url=str(entry.get("graph_url", "")).rstrip("/"),
                graph_version=str(entry.get("graph_version", "")),
                app_id=str(entry.get("app_id", "")),
                app_secret=str(entry.get("app_secret", "")),
                tokeninfo_url=str(entry.get("tokeninfo_url", "")),
            )
            providers[provider.logins_key] = provider
        keys = {key for p in providers.values() for key in p.mapping_keys}
        try:
            mappings = parse_mappings(raw.get("role_mappings"), keys.__contains__)
        except MappingInvalid as invalid:
            raise SettingsError(f"role_mappings: {invalid}") from None
        return AwsSettings(
            region=str(raw["region"]),
            account_id=str(raw.get("account_id", "123456789012")),
            identity_pool_id=str(raw["identity_pool_id"]),
            allow_unauthenticated=bool(raw.get("allow_unauthenticated", False)),
            bucket=str(raw["bucket"]),
            app_origins=tuple(raw.get("app_origins") or ()),
            credentials_lifetime=int(raw.get("credentials_lifetime", DEFAULT_LIFETIME)),
            providers=providers,
            authenticated_role=str(raw.get("authenticated_role", AUTHENTICATED_ROLE)),
            guest_role=str(raw.get("guest_role", GUEST_ROLE)),
            identity_pool_name=str(raw.get("identity_pool_name", "fedlab")),
            developer_provider_name=str(raw.get("developer_provider_name") or ""),
            allow_classic_flow=bool(raw.get("allow_classic_flow", False)),
            role_mappings=mappings,
            site_user=str(raw.get("site_user", SITE_USER)),
            mapped_roles={str(k): str(v) for k, v in (raw.get("mapped_roles") or {}).items()},
        )
    except KeyError as missing:
        raise SettingsError(f"{missing.args[0]}: missing") from None


def admin_client(service: str, settings: AwsSettings, moto_url: str) -> Any:
    """A boto3 client for moto with the bootstrap's dummy credentials (never the machine's)."""
    return boto3.client(service, endpoint_url=moto_url, region_name=settings.region,
                        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
