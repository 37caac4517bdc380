"""Identity Pool federation (enhanced flow) and AWS clients, through boto3 only.

Every AWS call goes to an endpoint from configuration (AWS itself, or the
local stand-in) with bounded timeouts, and every AWS error becomes a catalogue
entry that says what it means for this pool and how to fix it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from flask import Flask, current_app, g, has_request_context

from . import config, steps
from .config import AwsSettings
from .errors import FedlabError
from .records import AwsCredentials

EXTENSION = "fedlab.aws"
#: Credentials are reused until this many seconds before they expire.
RENEW_MARGIN = 300
#: Visitor clients kept per app (see :func:`client`).
CLIENT_CACHE_SIZE = 256
#: How long after its first AWS try a request may start another, in ``aws.timeout``s
#: (:func:`within_the_requests_wait`): botocore's retries (three tries a call) and a
#: page's several calls no longer add up without end; with the provider's wait, a
#: page keeps well inside gunicorn's 30 s.
REQUEST_WAIT_TIMEOUTS = 2

#: (error code, words in AWS's message) -> catalogue entry, first match wins.
IDENTITY_ERRORS = (
    ("NotAuthorizedException", "expired", "identity_token_expired"),
    ("NotAuthorizedException", "not from a supported provider", "identity_provider_not_configured"),
    ("NotAuthorizedException", "audience", "identity_wrong_audience"),
    ("NotAuthorizedException", "issuer", "identity_issuer_mismatch"),
    ("NotAuthorizedException", "logins don't match", "identity_logins_mismatch"),
    ("NotAuthorizedException", "unauthenticated access", "guests_not_allowed"),
    ("NotAuthorizedException", "ambiguous role mapping", "role_mapping_denied"),
    # A CustomRoleArn the token does not list, or one sent with no Token mapping.
    ("NotAuthorizedException", "customrolearn", "role_choice_refused"),
    ("InvalidParameterException", "customrolearn", "role_choice_refused"),
    ("NotAuthorizedException", "", "identity_not_authorized"),
    ("ResourceConflictException", "", "login_linked_elsewhere"),
    # AllowClassicFlow on, but the pool has role mappings (AWS checks that second).
    ("InvalidParameterException", "not supported with rolemappings",
     "classic_flow_role_mappings"),
    ("InvalidParameterException", "classic", "classic_flow_refused"),
    ("ResourceNotFoundException", "", "identity_pool_not_found"),
    ("InvalidIdentityPoolConfigurationException", "", "identity_pool_roles_invalid"),
    ("TooManyRequestsException", "", "aws_throttled"),
    ("ThrottlingException", "", "aws_throttled"),
    ("SlowDown", "", "aws_throttled"),
    ("InvalidArgument", "continuation token", "bad_page_token"),
    ("AccessDeniedException", "cognito-identity:", "site_not_permitted"),
    ("AccessDenied", "assumerolewithwebidentity", "web_identity_refused"),
    ("AccessDenied", "", "s3_access_denied"),
    ("AccessDeniedException", "", "s3_access_denied"),
)


def init_app(app: Flask) -> None:
    """Make this app's boto3 clients (thread-safe, made once, used by every request)."""
    settings = config.settings(app).aws
    if not settings.identity_pool_id:
        return
    overridden = [url for url in (settings.cognito_identity_endpoint, settings.s3_endpoint,
                                  settings.sts_endpoint) if url]
    # Say on every page when "AWS" is not AWS (the stand-in, or any other endpoint).
    app.context_processor(lambda: {"aws_endpoints": overridden})
    app.extensions[EXTENSION] = {
        "identity": identity_client(settings),
        "clients": (OrderedDict(), threading.Lock()),
    }


_LOADER = botocore.loaders.create_loader()


def botocore_session() -> botocore.session.Session:
    """A botocore session that reads no AWS file and no profile of this machine.

    Everything AWS needs here comes from the configuration: the region, the
    endpoints, the timeouts; the keys are a visitor's temporary ones, or none
    (unsigned calls), or the site's own (:mod:`webapp.site_aws`, which adds its
    credential chain to this). An operator's ``~/.aws/config`` would otherwise
    reach in: a profile's ``endpoint_url`` moving every call elsewhere, or an
    ``AWS_PROFILE`` the files lack failing every page (``ProfileNotFound``)."""
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    core.set_config_variable("config_file", os.devnull)
    core.set_config_variable("credentials_file", os.devnull)
    # One loader for every such session: it keeps the service models and endpoint
    # data it parsed, so the site's own session does not parse them again.
    core.register_component("data_loader", _LOADER)
    # First: a try the request's wait stops is not sent, so not noted as sent either.
    core.register("before-send", within_the_requests_wait)
    # What each request carried (names only), for the picture of a sign-in.
    core.register("before-send", steps.aws_request_sent)
    return core


class RequestWaitSpent(Exception):
    """The page has waited for AWS as long as a page may: no other try starts.
    Not one of botocore's errors, so it retries nothing and ends the call."""


def within_the_requests_wait(**_: Any) -> None:
    """Before each try of an AWS call (retries too): while :data:`REQUEST_WAIT_TIMEOUTS`
    ``aws.timeout``s have not passed since a visitor's request made its first, go on;
    then stop, sending nothing. A try's own timeouts (connecting, each read) bound
    the try; this stops new ones, which botocore's retries (three tries a call) and
    a page's several calls would otherwise multiply. Outside a request (the live
    checks' threads, ``fedlab check``) it does nothing: those calls have their own
    timeout and one try."""
    if not has_request_context():
        return
    now = time.monotonic()
    deadline = g.get("aws_deadline")
    if deadline is None:
        g.aws_deadline = now + request_wait()
    elif now >= deadline:
        raise RequestWaitSpent


def request_wait() -> float:
    """Seconds after its first AWS try a request may start another."""
    return REQUEST_WAIT_TIMEOUTS * config.settings().aws.timeout


_shared: boto3.Session | None = None
_shared_lock = threading.Lock()


def make_client(service: str, **options: Any) -> Any:
    """A boto3 client from one shared session over :func:`botocore_session`.

    One session, as ``boto3.client`` keeps one: it loads each service's model and
    the endpoint data once (tens of milliseconds of parsing, which a session per
    client would repeat on every probe run and every visitor's new credentials),
    and clients are made from it one at a time (making one is not thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = boto3.Session(botocore_session=botocore_session())
        return _shared.client(service, **options)


def identity_client(settings: AwsSettings, timeout: float | None = None,
                    attempts: int = 3) -> Any:
    """A Cognito Identity client. GetId and GetCredentialsForIdentity are unsigned
    calls: no AWS keys here. The probes make their own, with their short timeout
    and one attempt, so a slow pool cannot hold a check for the app's retries."""
    config = boto_config(settings, timeout, attempts)
    return make_client(
        "cognito-identity", region_name=settings.region,
        endpoint_url=settings.cognito_identity_endpoint or None,
        config=config.merge(Config(signature_version=UNSIGNED)),
    )


def boto_config(settings: AwsSettings, timeout: float | None = None,
                attempts: int = 3) -> Config:
    """``attempts`` counts the first call too (botocore's ``max_attempts`` would not)."""
    seconds = settings.timeout if timeout is None else timeout
    return Config(connect_timeout=seconds, read_timeout=seconds,
                  retries={"total_max_attempts": attempts, "mode": "standard"})


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def client(service: str, credentials: AwsCredentials) -> Any:
    """A client for ``s3`` or ``sts`` acting with a visitor's temporary credentials.

    Making a boto3 client costs milliseconds, so each app keeps the recent ones,
    keyed by the credentials (which expire, so old entries just fall out).
    """
    cache, lock = current_app.extensions[EXTENSION]["clients"]
    key = (service, credentials.access_key_id, credentials.session_token)
    with lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    made = _make_client(service, credentials)
    with lock:
        cache[key] = made
        while len(cache) > CLIENT_CACHE_SIZE:
            cache.popitem(last=False)
    return made


def _make_client(service: str, credentials: AwsCredentials) -> Any:
    aws = config.settings().aws
    return make_client(
        service, region_name=aws.region,
        endpoint_url=getattr(aws, f"{service}_endpoint") or None,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token,
        config=_client_config(service, aws),
    )


def _client_config(service: str, aws: AwsSettings) -> Config:
    """The visitors' clients' settings, which :func:`upload_url` must share to make
    the same URL they make."""
    client_config = boto_config(aws)
    if service == "s3":
        # botocore still presigns with Signature Version 2 in us-east-1, which S3
        # refuses on buckets made since June 2020 (as deploy/ makes them).
        client_config = client_config.merge(Config(signature_version="s3v4"))
    return client_config


def upload_url(aws: AwsSettings) -> str:
    """Where the bucket's presigned POSTs send the browser's upload: botocore's own
    choice, made as the visitors' clients make it (the bucket's virtual host, or
    path style for a name with dots), with throwaway keys and no network call."""
    s3 = make_client("s3", region_name=aws.region, endpoint_url=aws.s3_endpoint or None,
                     aws_access_key_id="AKIAUPLOADURLONLY000",
                     aws_secret_access_key="not-a-key-only-the-url-is-read",
                     config=_client_config("s3", aws))
    return str(s3.generate_presigned_post(aws.bucket, "upload")["url"])


@contextmanager
def errors_explained(operation: str, seconds: float | None = None) -> Iterator[None]:
    """Turn an AWS failure into its catalogue entry, with AWS's own words kept.

    ``seconds`` is the timeout the call had, when not the app's ``aws.timeout``."""
    try:
        yield
    except ClientError as e:
        error = e.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        raise FedlabError(identity_error(code, message), operation=operation,
                          aws_code=code, aws_message=message) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        seconds = config.settings().aws.timeout if seconds is None else seconds
        raise FedlabError("aws_timeout", operation=operation, seconds=seconds,
                          waited=f"{seconds:g} seconds a try") from None
    except RequestWaitSpent:
        spent = request_wait()
        raise FedlabError("aws_timeout", operation=operation, seconds=spent,
                          waited=f"this page had run {spent:g} seconds since its first AWS "
                                 f"call, the most it gives AWS, so this try was not sent"
                          ) from None
    except BotoCoreError as e:
        raise FedlabError("aws_unreachable", operation=operation,
                          detail=type(e).__name__) from None


def identity_error(code: str, message: str) -> str:
    for known, words, entry in IDENTITY_ERRORS:
        if code == known and words in message.lower():
            return entry
    return "aws_error"


def identity() -> Any:
    """The app's unsigned Cognito Identity client (the public operations)."""
    return current_app.extensions[EXTENSION]["identity"]


def get_id(logins: dict[str, str] | None, identity: Any = None) -> str:
    """``GetId``, through the app's client unless another ``identity`` client is given
    (a probe's, with its own timeout, which a timeout's explanation names)."""
    params: dict[str, Any] = {"IdentityPoolId": config.settings().aws.identity_pool_id}
    if logins:
        params["Logins"] = logins
    identity = identity or current_app.extensions[EXTENSION]["identity"]
    with errors_explained("GetId", identity.meta.config.read_timeout):
        return identity.get_id(**params)["IdentityId"]


def get_credentials(identity_id: str, logins: dict[str, str] | None,
                    custom_role_arn: str | None = None) -> tuple[str, AwsCredentials]:
    """``GetCredentialsForIdentity``: the identity id the pool answers with, and the keys.

    The answer's id is not always the one asked about: a guest's id with a
    sign-in already linked to another identity is merged into that one.
    ``custom_role_arn`` asks for one of the roles the token offers instead of
    the one the pool's mapping picks (the pool refuses any other).
    """
    params: dict[str, Any] = {"IdentityId": identity_id}
    if logins:
        params["Logins"] = logins
    if custom_role_arn:
        params["CustomRoleArn"] = custom_role_arn
    with errors_explained("GetCredentialsForIdentity"):
        answer = current_app.extensions[EXTENSION]["identity"].get_credentials_for_identity(
            **params)
    credentials = answer["Credentials"]
    return answer.get("IdentityId") or identity_id, AwsCredentials(
        access_key_id=credentials["AccessKeyId"],
        secret_key=credentials["SecretKey"],
        session_token=credentials["SessionToken"],
        expiration=int(credentials["Expiration"].timestamp()),
    )


def caller_role(credentials: AwsCredentials) -> str:
    """The assumed role's ARN, as STS tells it to whoever holds the credentials."""
    with errors_explained("GetCallerIdentity"):
        return client("sts", credentials).get_caller_identity()["Arn"]


def fresh(credentials: AwsCredentials | None, now: float | None = None) -> bool:
    """Whether ``credentials`` are good for :data:`RENEW_MARGIN` more seconds."""
    if credentials is None:
        return False
    return credentials.expiration - RENEW_MARGIN > (time.time() if now is None else now)
