"""The AWS stand-in's settings: a plain dict at the boundary, typed records inside."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

#: The bootstrap's own credentials: dummy values, never the machine's. Requests
#: signed with them are the operator's (bootstrap, tests) and pass the S3 guard.
ADMIN_ACCESS_KEY_ID = "testing"
ADMIN_SECRET_ACCESS_KEY = "testing"

AUTHENTICATED_ROLE = "fedlab-authenticated"
GUEST_ROLE = "fedlab-guest"
DEFAULT_LIFETIME = 3600


class SettingsError(ValueError):
    """A settings key is missing or wrong; the message names it."""


@dataclass(frozen=True)
class PoolProvider:
    """One identity provider registered on the identity pool, as its console holds it."""

    logins_key: str
    type: str  # "oidc" | "facebook"
    issuer: str = ""
    client_ids: tuple[str, ...] = ()
    graph_url: str = ""
    graph_version: str = ""
    app_id: str = ""
    app_secret: str = ""


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

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"


def parse_settings(raw: Mapping[str, Any] | AwsSettings) -> AwsSettings:
    if isinstance(raw, AwsSettings):
        return raw
    try:
        providers = {}
        for index, entry in enumerate(raw.get("providers") or ()):
            kind = str(entry.get("type", "oidc"))
            if kind not in ("oidc", "facebook"):
                raise SettingsError(f"providers[{index}].type: must be oidc or facebook")
            provider = PoolProvider(
                logins_key=str(entry["logins_key"]), type=kind,
                issuer=str(entry.get("issuer", "")),
                client_ids=tuple(str(c) for c in entry.get("client_ids") or ()),
                graph_url=str(entry.get("graph_url", "")).rstrip("/"),
                graph_version=str(entry.get("graph_version", "")),
                app_id=str(entry.get("app_id", "")),
                app_secret=str(entry.get("app_secret", "")),
            )
            providers[provider.logins_key] = provider
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
        )
    except KeyError as missing:
        raise SettingsError(f"{missing.args[0]}: missing") from None


def admin_client(service: str, settings: AwsSettings, moto_url: str) -> Any:
    """A boto3 client for moto with the bootstrap's dummy credentials (never the machine's)."""
    return boto3.client(service, endpoint_url=moto_url, region_name=settings.region,
                        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)
