"""The site's own AWS identity: for the calls only a developer of the pool may make.

Visitors' federation needs no AWS keys (``GetId`` and ``GetCredentialsForIdentity``
are unsigned). A few calls are signed with the site's own identity:
developer-authenticated identities (``GetOpenIdTokenForDeveloperIdentity``,
``LookupDeveloperIdentity``), reading the pool (``DescribeIdentityPool``,
``GetIdentityPoolRoles``, ``DescribeIdentity``), and the probes' ``iam:GetRole``.
:data:`webapp.policies.SITE_IDENTITY_ACTIONS` is what that identity needs.

Its keys come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), a container's credentials
endpoint, or the instance role (IMDS), and from nowhere else: not from this
site's configuration, and not from ``~/.aws/credentials`` or ``~/.aws/config``
(boto3's default chain reads both), which on a shared or lab machine hold
someone's keys for something else. A key in a file is a key in a backup.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import boto3
from botocore import xform_name
from botocore.credentials import (
    ContainerProvider,
    CredentialResolver,
    Credentials,
    EnvProvider,
    InstanceMetadataFetcher,
    InstanceMetadataProvider,
)
from botocore.exceptions import BotoCoreError
from flask import Flask, current_app

from . import config
from .aws import boto_config, botocore_session, errors_explained
from .config import AwsSettings
from .errors import FedlabError

log = logging.getLogger(__name__)

EXTENSION = "fedlab.site_aws"
#: How long "no credentials found" is believed before the chain is asked again
#: (the instance metadata service answers slowly where there is none).
MISSING_RETRY = 60.0


class SiteIdentity:
    """The site's credentials, found once and refreshed by botocore as they expire
    (an instance role's are), and the signed clients made with them."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._missing_until = 0.0
        self._clients: dict[tuple[str, float | None, int], Any] = {}

    def session(self) -> boto3.Session | None:
        """A boto3 session over the site's credentials; None when there are none."""
        with self._lock:
            if self._session is not None:
                return self._session
            if time.monotonic() < self._missing_until:
                return None
            try:
                core = _fileless_session()
                found = core.get_credentials()
                if found is not None:
                    self._session = boto3.Session(botocore_session=core,
                                                  region_name=self.settings.region)
                    return self._session
            except BotoCoreError as e:
                # A container endpoint that answers nonsense, say: the site has no
                # identity of its own for now, and pages say so instead of failing.
                log.warning("the site's own AWS credentials could not be found: %s", e)
            self._missing_until = time.monotonic() + MISSING_RETRY
            return None

    def client(self, service: str, timeout: float | None = None, attempts: int = 3) -> Any:
        """A signed ``cognito-identity`` or ``iam`` client, or the catalogue's
        ``site_credentials_missing``. ``timeout`` and ``attempts`` are the app's
        (``aws.timeout``, three tries) unless given: the probes ask with their own
        short timeout and once. Made under the lock (a boto3 session is not
        thread-safe) and kept, one per service and bound."""
        session = self.session()
        if session is None:
            raise FedlabError("site_credentials_missing")
        key = (service, timeout, attempts)
        with self._lock:
            if key not in self._clients:
                endpoint = {"cognito-identity": self.settings.cognito_identity_endpoint,
                            "iam": self.settings.iam_endpoint}[service]
                self._clients[key] = session.client(
                    service, region_name=self.settings.region, endpoint_url=endpoint or None,
                    config=boto_config(self.settings, timeout, attempts))
            return self._clients[key]

    def access_key_id(self) -> str | None:
        """The access key id in use (an id, not a secret), for the page to name."""
        session = self.session()
        credentials = session.get_credentials() if session is not None else None
        return credentials.access_key if credentials is not None else None


def _fileless_session() -> Any:
    """A botocore session whose credential chain is environment, container and
    instance role only, and which reads no shared config or credentials file."""
    core = botocore_session()
    providers: list[Any] = [EnvProvider(), ContainerProvider()]
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true":
        providers.append(InstanceMetadataProvider(
            iam_role_fetcher=InstanceMetadataFetcher(timeout=1, num_attempts=1)))
    core.register_component("credential_provider", CredentialResolver(providers))
    return core


def init_app(app: Flask) -> None:
    settings = config.settings(app).aws
    if settings.identity_pool_id:
        app.extensions[EXTENSION] = SiteIdentity(settings)


def site() -> SiteIdentity:
    """This app's site identity (only while an identity pool is configured)."""
    return current_app.extensions[EXTENSION]


def client(service: str) -> Any:
    """A client signed with the site's own credentials (see the module's docstring)."""
    return site().client(service)


def call(service: str, operation: str, **params: Any) -> Any:
    """One operation (AWS's name: ``DescribeIdentity``) signed with the site's own
    credentials; a refusal or an outage is its catalogue entry, as for any AWS call."""
    method = getattr(client(service), xform_name(operation))
    with errors_explained(operation):
        return method(**params)


def available() -> bool:
    """Whether the site has AWS credentials of its own (from the environment or role)."""
    return EXTENSION in current_app.extensions and site().session() is not None


def credentials_source() -> str | None:
    """Where the site's credentials came from (``env``, ``container-role``,
    ``iam-role``), for the page; None when there are none."""
    if not available():
        return None
    session = site().session()
    found: Credentials | None = session.get_credentials() if session is not None else None
    return getattr(found, "method", None)
