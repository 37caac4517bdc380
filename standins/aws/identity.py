"""Amazon Cognito Identity (identity pools) over AWS JSON 1.1, as boto3 calls it.

``POST /`` with ``X-Amz-Target: AWSCognitoIdentityService.<Operation>``;
errors are HTTP 400 ``{"__type", "message"}`` with ``x-amzn-ErrorType``, which
botocore turns into ``ClientError``. The public operations take no signature;
the developer operations are checked as AWS checks them (:mod:`.sigv4`, then
the caller's IAM policies, :mod:`.iam`). Temporary credentials come from moto's
STS for the role the pool's roles and mappings choose (:mod:`.roles`), after
the role's trust policy is read from moto's IAM and checked as the real
service needs it. The operations and their errors are listed in the package's
docstring.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from werkzeug.datastructures import Headers

from ..faults import FaultBoard
from . import iam, roles, sigv4
from .faults import add_control_routes
from .pool import Pool, PoolInvalid
from .settings import (
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    AwsSettings,
    SiteKey,
    admin_client,
    parse_settings,
)
from .tokens import NOT_SIGNED, WRONG_AUDIENCE, LoginRefused, TokenVerifier

log = logging.getLogger(__name__)

SERVICE = "AWSCognitoIdentityService"
#: The signing name of Cognito Identity (SigV4's credential scope).
SIGNING_NAME = "cognito-identity"
#: What anyone may call unsigned; every other operation needs a developer's signature.
PUBLIC_OPERATIONS = frozenset({"GetId", "GetCredentialsForIdentity", "GetOpenIdToken",
                               "UnlinkIdentity"})
JSON_11 = "application/x-amz-json-1.1"
EXTENSION = "fedlab_aws_identity"
SESSION_NAME = "CognitoIdentityCredentials"
OPENID_ISSUER = "https://cognito-identity.amazonaws.com"
OPENID_TOKEN_LIFETIME = 600
STS_MIN_DURATION = 900
#: Names the identity namespace for uuid5: the same (pool, provider, sub) is
#: the same identity id on every start.
ID_NAMESPACE = uuid.UUID("6f1d3c2a-4b5e-4c7d-8e9f-0a1b2c3d4e5f")

FAULTS = ("throttle", "down", "bad_trust_policy", "credentials_lifetime")


def check_fault_params(name: str, params: Mapping[str, Any]) -> None:
    if name == "credentials_lifetime":
        seconds = params.get("seconds")
        if not isinstance(seconds, int) or seconds < 1:
            raise ValueError("seconds: must be a positive whole number")


LOGINS_DONT_MATCH = ("Logins don't match. Please include at least one valid login for this "
                     "identity or identity pool.")
UNAUTH_NOT_SUPPORTED = "Unauthenticated access is not supported for this identity pool."
BAD_ROLES = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
CLASSIC_FLOW_OFF = "Basic (classic) flow is not enabled, please use enhanced flow."
#: AWS refuses the basic flow in any pool with role mappings, whoever asks (a guest
#: too): the client names the role there, which would bypass the mappings.
CLASSIC_FLOW_MAPPED = ("Basic (classic) flow is not supported with RoleMappings, please use "
                       "enhanced flow.")
COGNITO_TOKEN_REFUSED = "Invalid login token. Can't pass in a Cognito token."
LOGIN_LINKED_ELSEWHERE = "Login is already linked to another identity."
DEVELOPER_USER_TAKEN = ("The provided developer user identifier is already registered with "
                        "Cognito under a different identity ID.")
#: The services AWS's scope-down policy allows to guests of the enhanced flow (IAM
#: prefixes); whatever their role says, nothing else. S3 is one of them.
SCOPE_DOWN_SERVICES = frozenset({
    "appsync", "cognito-identity", "cognito-sync", "comprehend", "dynamodb", "firehose",
    "geo", "iot", "kinesis", "kms", "lambda", "lex", "logs", "machinelearning",
    "mobileanalytics", "mobiletargeting", "personalize", "polly", "rekognition", "s3",
    "sagemaker", "ses", "sns", "sqs", "textract", "transcribe", "translate"})
#: The Logins key of this service's own tokens (the developer flow's).
COGNITO_LOGIN = "cognito-identity.amazonaws.com"
DEVELOPER_TOKEN_DURATION = 900
MAX_TOKEN_DURATION = 86400
DEVELOPER_USER = re.compile(r"[^\x00-\x1f\x7f]{1,1024}")


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def not_authorized(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)


@dataclass(frozen=True)
class WireRequest:
    """What a signature covers, as the request arrived."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Caller:
    """An access key the service accepts signatures from, and whose it is: the
    admin key (allowed everything) or an IAM user's (authorized by its policies)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    user_name: str | None = None  # None: the admin key

    def principal_arn(self, account_id: str) -> str:
        if self.user_name is None:
            return f"arn:aws:iam::{account_id}:root"
        return f"arn:aws:iam::{account_id}:user/{self.user_name}"


@dataclass
class Identity:
    identity_id: str
    #: (logins key, subject) pairs linked to this identity; empty for guests.
    logins: set[tuple[str, str]] = field(default_factory=set)
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    #: Set when a first login is linked, and never cleared: an identity whose last
    #: login was unlinked is no guest, it is out of reach (as AWS documents).
    authenticated: bool = False

    def link(self, pair: tuple[str, str], now: float) -> None:
        self.logins.add(pair)
        self.authenticated = True
        self.modified = now


@dataclass(frozen=True)
class Login:
    """One ``Logins`` entry that validated: the provider's key, whose it is (the
    token's subject, or a developer's user identifier) and the token's claims."""

    key: str
    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pair(self) -> tuple[str, str]:
        return (self.key, self.subject)


@dataclass(frozen=True)
class Grant:
    """Temporary credentials this service handed out, as the S3 guard needs them."""

    access_key_id: str
    identity_id: str
    role_name: str
    role_arn: str
    authenticated: bool
    expiration: float
    #: The session policy AWS adds to guest credentials of the enhanced flow: only
    #: the services of its list (S3 is one) are allowed, whatever the role says.
    scoped_down: bool = False

    @property
    def principal_arn(self) -> str:
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role_name}/{SESSION_NAME}"


class IdentityService:
    """The state of one identity pool service: identities, issued keys, faults, counters."""

    def __init__(self, settings: AwsSettings, moto_url: str,
                 keys: Iterable[SiteKey] = ()) -> None:
        self.settings = settings
        self.moto_url = moto_url
        self.pool = Pool.from_settings(settings)
        self._callers = {key.access_key_id: Caller(key.access_key_id, key.secret_access_key,
                                                   key.user_name) for key in keys}
        self._callers[ADMIN_ACCESS_KEY_ID] = Caller(ADMIN_ACCESS_KEY_ID,
                                                    ADMIN_SECRET_ACCESS_KEY)
        self.skew_seconds = 0.0
        self.verifier = TokenVerifier(self.now)
        self._lock = threading.Lock()
        self._identities: dict[str, Identity] = {}
        self._by_login: dict[tuple[str, str], str] = {}
        self._grants: dict[str, Grant] = {}
        self.faults = FaultBoard(FAULTS, check_fault_params)
        self._calls: Counter[str] = Counter()
        self._openid_key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"},
                                               private=True, auto_kid=True)
        self._iam = admin_client("iam", settings, moto_url)
        # AssumeRoleWithWebIdentity is an unsigned call, as Cognito makes it.
        self._sts_unsigned = _unsigned_sts(settings, moto_url)

    # -- control ---------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.skew_seconds

    def count(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Faults, counters, clock and caches back to the start; identities and issued
        credentials stay, so identity ids and live sessions survive."""
        self.faults.clear()
        self.clear_calls()
        self.skew_seconds = 0.0
        self.verifier.clear_cache()

    # -- what the S3 guard asks ----------------------------------------------

    def grant_for(self, access_key_id: str) -> Grant | None:
        with self._lock:
            return self._grants.get(access_key_id)

    # -- operations ------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any],
               request: WireRequest | None = None) -> dict[str, Any]:
        """One call: faults first, then (for a developer operation) the signature and
        the caller's IAM permission, then the operation."""
        self.count(operation)
        faults = self.faults.listing()
        if "down" in faults:
            raise AwsError("ServiceUnavailable", "Service Unavailable", 503)
        if "throttle" in faults:
            raise AwsError("TooManyRequestsException", "Rate exceeded")
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise AwsError("UnknownOperationException", f"Unknown operation {operation}")
        if operation not in PUBLIC_OPERATIONS:
            self._authorize(self._authenticate(request), operation, params)
        return handler(self, params)

    def _authenticate(self, request: WireRequest | None) -> Caller:
        if request is None:
            raise AwsError("MissingAuthenticationTokenException",
                           "Missing Authentication Token", 403)

        def secret_of(access_key_id: str) -> str | None:
            caller = self._callers.get(access_key_id)
            return caller.secret_access_key if caller else None

        try:
            signed = sigv4.verify(request.method, request.path, request.query,
                                  request.headers, request.body, service=SIGNING_NAME,
                                  region=self.settings.region, secret_of=secret_of,
                                  now=self.now())
        except sigv4.SignatureRefused as refused:
            raise AwsError(refused.code, str(refused), refused.status) from None
        return self._callers[signed.access_key_id]

    def _authorize(self, caller: Caller, operation: str, params: dict[str, Any]) -> None:
        """IAM's decision for ``cognito-identity:<operation>`` on the pool's ARN, from the
        caller's inline and attached policies in moto's IAM (read on every call, so a
        changed policy counts at once)."""
        if caller.user_name is None:
            return
        pool_id = params.get("IdentityPoolId") or self.settings.identity_pool_id
        resource = (f"arn:aws:cognito-identity:{self.settings.region}:"
                    f"{self.settings.account_id}:identitypool/{pool_id}")
        action = f"{SIGNING_NAME}:{operation}"
        decision = iam.decide(self._user_statements(caller.user_name), action, resource,
                              {}, {})
        if decision is not iam.Decision.ALLOW:
            raise AwsError("AccessDeniedException", iam.denied_message(
                caller.principal_arn(self.settings.account_id), action, resource, decision))

    def _user_statements(self, user_name: str) -> list[dict[str, Any]]:
        documents = []
        try:
            for name in self._iam.list_user_policies(UserName=user_name)["PolicyNames"]:
                documents.append(self._iam.get_user_policy(
                    UserName=user_name, PolicyName=name)["PolicyDocument"])
            for attached in self._iam.list_attached_user_policies(
                    UserName=user_name)["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                version = self._iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                documents.append(self._iam.get_policy_version(
                    PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        except ClientError:
            return []  # a user deleted since: nothing allows anything
        statements: list[dict[str, Any]] = []
        for document in documents:
            if isinstance(document, str):
                document = json.loads(document)
            found = document.get("Statement") or []
            statements += found if isinstance(found, list) else [found]
        return statements

    def get_id(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(_required(params, "IdentityPoolId"))
        logins = _logins(params)
        if not logins:
            if not self.pool.allow_unauthenticated:
                raise not_authorized(UNAUTH_NOT_SUPPORTED)
            identity = Identity(f"{self.settings.region}:{uuid.uuid4()}")
            with self._lock:
                self._identities[identity.identity_id] = identity
            return {"IdentityId": identity.identity_id}
        if COGNITO_LOGIN in logins:
            raise not_authorized(COGNITO_TOKEN_REFUSED)
        return {"IdentityId": self._link(self._validated(logins)).identity_id}

    def get_credentials_for_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        """The enhanced flow: the role the pool's roles and mappings give this identity
        (its trust policy checked), assumed at STS with a token of this service."""
        identity, logins = self._checked_identity(params)
        amr = "authenticated" if identity.authenticated else "unauthenticated"
        if identity.authenticated:
            role_arn = self._mapped_role(identity, logins, params.get("CustomRoleArn"))
        else:
            with self._lock:
                role_arn = self.pool.roles.get(amr, "")
        if not role_arn:
            raise AwsError("InvalidIdentityPoolConfigurationException", BAD_ROLES)
        role = role_name(role_arn)
        self._check_trust(role_arn, amr)
        lifetime = self.settings.credentials_lifetime
        if "credentials_lifetime" in (faults := self.faults.listing()):
            lifetime = int(faults["credentials_lifetime"]["seconds"])
        try:
            answer = self._sts_unsigned.assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName=SESSION_NAME,
                WebIdentityToken=self._openid_token(identity),
                DurationSeconds=max(STS_MIN_DURATION, lifetime))
        except (ClientError, BotoCoreError) as e:
            log.warning("moto STS refused AssumeRoleWithWebIdentity: %s", e)
            raise AwsError("InternalErrorException", "An internal error occurred.",
                           500) from None
        credentials = answer["Credentials"]
        expiration = int(self.now()) + lifetime
        self.register(Grant(credentials["AccessKeyId"], identity.identity_id, role, role_arn,
                            identity.authenticated, expiration,
                            scoped_down=not identity.authenticated))
        return {"IdentityId": identity.identity_id, "Credentials": {
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretKey": credentials["SecretAccessKey"],
            "SessionToken": credentials["SessionToken"],
            # JSON 1.1 timestamps are epoch seconds (botocore parses them to datetimes).
            "Expiration": expiration,
        }}

    def get_open_id_token(self, params: dict[str, Any]) -> dict[str, Any]:
        """The basic (classic) flow's first step: a token for STS, only where the pool
        allows that flow (``AllowClassicFlow``, checked first) and has no role mappings."""
        with self._lock:
            classic, mapped = self.pool.allow_classic_flow, bool(self.pool.role_mappings)
        if not classic:
            raise AwsError("InvalidParameterException", CLASSIC_FLOW_OFF)
        if mapped:
            raise AwsError("InvalidParameterException", CLASSIC_FLOW_MAPPED)
        identity, _ = self._checked_identity(params)
        return {"IdentityId": identity.identity_id, "Token": self._openid_token(identity)}

    def get_open_id_token_for_developer_identity(self, params: dict[str, Any]
                                                 ) -> dict[str, Any]:
        """The site as an identity provider: its user identifier under the pool's
        developer provider name is linked to an identity (a new one, the one it is
        linked to already, or ``IdentityId``), with any public logins of the call,
        and a token for it is returned."""
        self._check_pool(_required(params, "IdentityPoolId"))
        logins = _logins(params)
        duration = params.get("TokenDuration", DEVELOPER_TOKEN_DURATION)
        if not isinstance(duration, int) or isinstance(duration, bool) or \
                not 1 <= duration <= MAX_TOKEN_DURATION:
            bound = ("greater than or equal to 1" if isinstance(duration, int)
                     and duration < 1 else f"less than or equal to {MAX_TOKEN_DURATION}")
            raise AwsError("InvalidParameterException", f"1 validation error detected: Value "
                           f"'{duration}' at 'tokenDuration' failed to satisfy constraint: "
                           f"Member must have value {bound}")
        developer, public = self._developer_logins(logins)
        identity_id = params.get("IdentityId")
        if identity_id:
            identity = self._identity(str(identity_id))
            with self._lock:
                proven = developer.pair in identity.logins or any(
                    login.pair in identity.logins for login in public)
            if identity.authenticated and not proven:
                raise not_authorized(LOGINS_DONT_MATCH)
            identity = self._link([developer, *public], into=identity)
        else:
            identity = self._link([developer, *public])
        return {"IdentityId": identity.identity_id,
                "Token": self._openid_token(identity, duration)}

    def lookup_developer_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        """An identity by its developer user identifier, or an identity's developer user
        identifiers (both given: they must belong together)."""
        self._check_pool(_required(params, "IdentityPoolId"))
        identity_id = params.get("IdentityId")
        user = params.get("DeveloperUserIdentifier")
        if not identity_id and not user:
            raise AwsError("InvalidParameterException", "Either IdentityId or "
                           "DeveloperUserIdentifier must be specified.")
        size = params.get("MaxResults", 60)
        if not isinstance(size, int) or not 1 <= size <= 60:
            raise AwsError("InvalidParameterException", "1 validation error detected: Value "
                           "at 'maxResults' failed to satisfy constraint: Member must have "
                           "value between 1 and 60")
        with self._lock:
            name = self.pool.developer_provider_name
            by_user = self._by_login.get((name, str(user))) if user and name else None
        if user and by_user is None:
            raise AwsError("ResourceNotFoundException",
                           f"DeveloperUserIdentifier '{user}' not found.")
        if identity_id and user and identity_id != by_user:
            raise AwsError("ResourceConflictException", f"DeveloperUserIdentifier '{user}' "
                           f"is not linked to identity '{identity_id}'.")
        identity = self._identity(str(identity_id or by_user))
        with self._lock:
            users = sorted(subject for key, subject in identity.logins if key == name)
        start = int(params.get("NextToken") or 0)
        answer: dict[str, Any] = {"IdentityId": identity.identity_id,
                                  "DeveloperUserIdentifierList": users[start:start + size]}
        if start + size < len(users):
            answer["NextToken"] = str(start + size)
        return answer

    def unlink_developer_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._identity(str(_required(params, "IdentityId")))
        self._check_pool(_required(params, "IdentityPoolId"))
        name = str(_required(params, "DeveloperProviderName"))
        user = str(_required(params, "DeveloperUserIdentifier"))
        with self._lock:
            if name != self.pool.developer_provider_name:
                raise AwsError("InvalidParameterException", f"DeveloperProviderName '{name}' "
                               f"is not the developer provider of this identity pool.")
            if (name, user) not in identity.logins:
                raise AwsError("ResourceNotFoundException", f"DeveloperUserIdentifier "
                               f"'{user}' is not linked to identity '{identity.identity_id}'.")
            self._unlink(identity, (name, user))
        return {}

    def unlink_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        """Public: a visitor with a valid login of the identity takes other logins off it;
        each is a new identity the next time it is seen."""
        identity = self._identity(str(_required(params, "IdentityId")))
        logins = _logins(params)
        remove = params.get("LoginsToRemove")
        if not isinstance(remove, list):
            raise AwsError("InvalidParameterException", "1 validation error detected: Value "
                           "at 'loginsToRemove' failed to satisfy constraint: Member must "
                           "not be null")
        if COGNITO_LOGIN in logins:
            raise not_authorized(COGNITO_TOKEN_REFUSED)
        validated = self._validated(logins) if logins else []
        with self._lock:
            if not any(login.pair in identity.logins for login in validated):
                raise not_authorized(LOGINS_DONT_MATCH)
            developer = self.pool.developer_provider_name
            for key in remove:
                if developer and key == developer:
                    raise AwsError("InvalidParameterException", "Developer logins are "
                                   "unlinked with UnlinkDeveloperIdentity.")
                pairs = [pair for pair in identity.logins if pair[0] == key]
                if not pairs:
                    raise AwsError("InvalidParameterException",
                                   f"Login '{key}' is not linked to identity "
                                   f"'{identity.identity_id}'.")
                for pair in pairs:
                    self._unlink(identity, pair)
        return {}

    def list_identities(self, params: dict[str, Any]) -> dict[str, Any]:
        """The pool's identities, oldest first, a page of ``MaxResults`` (1 to 60) at a
        time: what an operator lists in the console or with the CLI."""
        self._check_pool(_required(params, "IdentityPoolId"))
        size = params.get("MaxResults")
        if not isinstance(size, int) or not 1 <= size <= 60:
            raise AwsError("InvalidParameterException", "1 validation error detected: Value "
                           "at 'maxResults' failed to satisfy constraint: Member must have "
                           "value between 1 and 60")
        start = int(params.get("NextToken") or 0)
        with self._lock:
            identities = sorted(self._identities.values(), key=lambda i: i.created)
        page = identities[start:start + size]
        answer: dict[str, Any] = {
            "IdentityPoolId": self.settings.identity_pool_id,
            "Identities": [{"IdentityId": i.identity_id,
                            "Logins": sorted({key for key, _ in i.logins}),
                            "CreationDate": int(i.created)} for i in page]}
        if start + size < len(identities):
            answer["NextToken"] = str(start + size)
        return answer

    def describe_identity_pool(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(_required(params, "IdentityPoolId"))
        with self._lock:
            return self.pool.describe()

    def update_identity_pool(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(_required(params, "IdentityPoolId"))
        with self._lock:
            try:
                self.pool.update(params)
            except PoolInvalid as invalid:
                raise AwsError(invalid.code, str(invalid)) from None
            return self.pool.describe()

    def get_identity_pool_roles(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(_required(params, "IdentityPoolId"))
        with self._lock:
            return self.pool.describe_roles()

    def set_identity_pool_roles(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(_required(params, "IdentityPoolId"))
        with self._lock:
            try:
                self.pool.set_roles(params)
            except PoolInvalid as invalid:
                raise AwsError(invalid.code, str(invalid)) from None
        return {}

    def describe_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._identity(str(_required(params, "IdentityId")))
        with self._lock:
            return {"IdentityId": identity.identity_id,
                    "Logins": sorted({key for key, _ in identity.logins}),
                    "CreationDate": identity.created,
                    "LastModifiedDate": identity.modified}

    # -- the rules -------------------------------------------------------------

    def _identity(self, identity_id: str) -> Identity:
        with self._lock:
            identity = self._identities.get(identity_id)
        if identity is None:
            raise AwsError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        return identity

    def _check_pool(self, pool_id: str) -> None:
        if pool_id != self.settings.identity_pool_id:
            raise AwsError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")

    def _validated(self, logins: Mapping[str, str]) -> list[Login]:
        """Each login's token checked with its provider, as the service checks them."""
        validated = []
        for key, token in sorted(logins.items()):
            with self._lock:
                provider = self.pool.providers.get(key)
            if provider is None:
                raise not_authorized("Token is not from a supported provider of this "
                                     "identity pool.")
            try:
                verified = self.verifier.verify(provider, str(token))
            except LoginRefused as refused:
                raise not_authorized(str(refused)) from None
            validated.append(Login(key, verified.subject, verified.claims))
        return validated

    def _developer_logins(self, logins: Mapping[str, str]) -> tuple[Login, list[Login]]:
        """``GetOpenIdTokenForDeveloperIdentity``'s Logins: exactly one entry under the
        pool's developer provider name (the site's user identifier), and any public
        logins beside it (checked as tokens)."""
        with self._lock:
            name = self.pool.developer_provider_name
        if not name:
            raise AwsError("InvalidParameterException", "This identity pool has no developer "
                           "provider name.")
        user = logins.get(name)
        if user is None:
            raise AwsError("InvalidParameterException", f"Logins must include the developer "
                           f"provider name of this identity pool ({name}).")
        if not isinstance(user, str) or not DEVELOPER_USER.fullmatch(user):
            raise AwsError("InvalidParameterException", f"1 validation error detected: Value "
                           f"at 'logins.{name}' failed to satisfy constraint: Member must "
                           f"have length between 1 and 1024 and no control characters")
        public = self._validated({k: v for k, v in logins.items() if k != name})
        return Login(name, user), public

    def _link(self, logins: list[Login], into: Identity | None = None) -> Identity:
        """The identity these logins belong to, with all of them linked to it.

        ``into`` is the identity the call names (a guest signing in, or an
        authenticated identity adding a login). A login already linked to a
        different authenticated identity is a conflict, as AWS answers it; a guest
        whose logins are known elsewhere is merged into that identity (its id is
        gone: "Switching unauthenticated users to authenticated users").
        """
        with self._lock:
            owned = [(login, self._by_login[login.pair]) for login in logins
                     if login.pair in self._by_login]
            if into is not None and into.authenticated:
                target: str | None = into.identity_id
            else:
                target = owned[0][1] if owned else None
            self._refuse_conflict([login for login, owner in owned if owner != target])
            if into is not None and into.authenticated:
                identity = into
            elif target is not None:
                identity = self._identities[target]
                if into is not None:  # a guest signing in with a known login: merged
                    self._identities.pop(into.identity_id, None)
            elif into is not None:
                identity = into
            else:
                identity = self._new_identity(logins[0])
            for login in logins:
                identity.link(login.pair, self.now())
                self._by_login[login.pair] = identity.identity_id
            return identity

    def _refuse_conflict(self, elsewhere: list[Login]) -> None:
        """Logins linked to another identity: a developer user identifier has its own
        error (the call that links it is the site's), any other login AWS's conflict."""
        if any(login.key == self.pool.developer_provider_name for login in elsewhere):
            raise AwsError("DeveloperUserAlreadyRegisteredException", DEVELOPER_USER_TAKEN)
        if elsewhere:
            raise AwsError("ResourceConflictException", LOGIN_LINKED_ELSEWHERE)

    def _new_identity(self, first: Login) -> Identity:
        """A new identity for a login seen for the first time: its id is derived from the
        login, so the same person gets the same id on every start; a login unlinked
        from an identity that lives on gets a fresh one."""
        seed = f"{self.settings.identity_pool_id}|{first.key}|{first.subject}"
        identity_id = f"{self.settings.region}:{uuid.uuid5(ID_NAMESPACE, seed)}"
        if identity_id in self._identities:
            identity_id = f"{self.settings.region}:{uuid.uuid4()}"
        identity = self._identities[identity_id] = Identity(identity_id)
        return identity

    def _unlink(self, identity: Identity, pair: tuple[str, str]) -> None:
        identity.logins.discard(pair)
        identity.modified = self.now()
        self._by_login.pop(pair, None)

    def _checked_identity(self, params: dict[str, Any]) -> tuple[Identity, list[Login]]:
        """The identity named by ``IdentityId`` and the logins of the call, checked: an
        authenticated identity needs one of its own logins (or a token of this service
        for it, the developer flow's); further logins are linked to it."""
        identity = self._identity(str(_required(params, "IdentityId")))
        logins = dict(_logins(params))
        cognito_token = logins.pop(COGNITO_LOGIN, None)
        proven = cognito_token is not None and self._own_token_for(identity, cognito_token)
        validated = self._validated(logins)
        if identity.authenticated:
            with self._lock:
                owned = any(login.pair in identity.logins for login in validated)
            if not (owned or proven):
                raise not_authorized(LOGINS_DONT_MATCH)
            if validated:
                identity = self._link(validated, into=identity)
        elif validated:
            identity = self._link(validated, into=identity)
        elif cognito_token is not None:
            raise not_authorized(LOGINS_DONT_MATCH)
        elif not self.pool.allow_unauthenticated:
            raise not_authorized(UNAUTH_NOT_SUPPORTED)
        return identity, validated

    def openid_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this service signed (None when it did not sign it)."""
        try:
            return dict(jwt.decode(token, self._openid_key, algorithms=["RS256"]).claims)
        except (JoseError, ValueError, TypeError):
            return None

    @staticmethod
    def unverified_issuer(token: str) -> str | None:
        """A JWT's ``iss`` before any check, to know whose key verifies it."""
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return None
        return claims.get("iss") if isinstance(claims, dict) else None

    def _own_token_for(self, identity: Identity, token: str) -> bool:
        """A ``cognito-identity.amazonaws.com`` login: this service's own token (the
        developer flow's), valid now, for this pool and this identity."""
        claims = self.openid_claims(token)
        if claims is None:
            raise not_authorized(NOT_SIGNED)
        if claims.get("aud") != self.settings.identity_pool_id:
            raise not_authorized(WRONG_AUDIENCE)
        now = int(self.now())
        if not isinstance(claims.get("exp"), int) or now >= claims["exp"]:
            raise not_authorized(f"Invalid login token. Token expired: {now} >= "
                                 f"{claims.get('exp')}")
        return claims.get("sub") == identity.identity_id

    def _mapped_role(self, identity: Identity, logins: list[Login],
                     custom_role_arn: str | None) -> str:
        """The role of an authenticated identity: the role mapping of the provider its
        login came from decides (see :mod:`.roles`), else the authenticated role."""
        with self._lock:
            mappings = dict(self.pool.role_mappings)
            authenticated = self.pool.roles.get("authenticated", "")
            providers = dict(self.pool.providers)
        keyed = [(providers[login.key].mapping_key_for(login.claims), login)
                 for login in logins if login.key in providers]
        key, login = next(((k, login) for k, login in keyed if k in mappings),
                          keyed[0] if keyed else (COGNITO_LOGIN, Login(COGNITO_LOGIN, "")))
        try:
            chosen = roles.choose(key, mappings.get(key), login.claims, custom_role_arn)
        except roles.RoleRefused as refused:
            raise AwsError(refused.code, str(refused)) from None
        log.info("role for %s from %s: %s (%s)", identity.identity_id, key,
                 chosen.role_arn or authenticated, chosen.reason)
        return chosen.role_arn or authenticated

    def _check_trust(self, role_arn: str, amr: str) -> None:
        """The role is the account's (its full ARN, path and all) and trusts this pool
        for ``amr``; else the pool cannot give it (AWS's words)."""
        if "bad_trust_policy" in self.faults.listing():
            raise AwsError("InvalidIdentityPoolConfigurationException", BAD_ROLES)
        document = iam_trust_policy(self._iam, role_arn)
        if document is None:
            raise AwsError("InvalidIdentityPoolConfigurationException", BAD_ROLES)
        if isinstance(document, str):
            document = json.loads(document)
        if not trust_allows(document, self.settings.identity_pool_id, amr):
            raise AwsError("InvalidIdentityPoolConfigurationException", BAD_ROLES)

    def _openid_token(self, identity: Identity, lifetime: int = OPENID_TOKEN_LIFETIME) -> str:
        now = int(self.now())
        amr = (["authenticated", *sorted({k for k, _ in identity.logins}),
                *sorted(f"{k}:{self.settings.identity_pool_id}:{s}" for k, s in identity.logins)]
               if identity.authenticated else ["unauthenticated"])
        claims = {"iss": OPENID_ISSUER, "sub": identity.identity_id,
                  "aud": self.settings.identity_pool_id, "amr": amr,
                  "iat": now, "exp": now + lifetime,
                  "https://cognito-identity.amazonaws.com/identity-pool-arn":
                      f"arn:aws:cognito-identity:{self.settings.region}:"
                      f"{self.settings.account_id}:identitypool/"
                      f"{self.settings.identity_pool_id}"}
        return jwt.encode({"alg": "RS256", "kid": self._openid_key.kid, "typ": "JWT"},
                          claims, self._openid_key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._openid_key.as_dict(private=False)]}

    def register(self, grant: Grant) -> None:
        """Remember credentials issued for an identity of this pool (here, or by the STS
        front for a token of this service), so the S3 front knows whose they are."""
        with self._lock:
            self._grants[grant.access_key_id] = grant


OPERATIONS: dict[str, Callable[[IdentityService, dict[str, Any]], dict[str, Any]]] = {
    "GetId": IdentityService.get_id,
    "GetCredentialsForIdentity": IdentityService.get_credentials_for_identity,
    "GetOpenIdToken": IdentityService.get_open_id_token,
    "ListIdentities": IdentityService.list_identities,
    "DescribeIdentityPool": IdentityService.describe_identity_pool,
    "UpdateIdentityPool": IdentityService.update_identity_pool,
    "GetIdentityPoolRoles": IdentityService.get_identity_pool_roles,
    "SetIdentityPoolRoles": IdentityService.set_identity_pool_roles,
    "DescribeIdentity": IdentityService.describe_identity,
    "GetOpenIdTokenForDeveloperIdentity": IdentityService.get_open_id_token_for_developer_identity,
    "LookupDeveloperIdentity": IdentityService.lookup_developer_identity,
    "UnlinkDeveloperIdentity": IdentityService.unlink_developer_identity,
    "UnlinkIdentity": IdentityService.unlink_identity,
}


def role_name(role_arn: str) -> str:
    """A role's name from its ARN (after any path)."""
    return role_arn.rsplit("/", 1)[-1]


def iam_trust_policy(iam: Any, role_arn: str) -> Any:
    """The trust policy of the role ``role_arn`` names, or None when this account has
    no such role: IAM knows a role by name, but an ARN of another account, or with a
    path the role has not, names another role (IAM's ``Arn`` is the whole of it)."""
    try:
        role = iam.get_role(RoleName=role_name(role_arn))["Role"]
    except ClientError:
        return None
    return role["AssumeRolePolicyDocument"] if role["Arn"] == role_arn else None


def trust_allows(document: Mapping[str, Any], pool_id: str, amr: str) -> bool:
    """Whether a trust policy lets Cognito Identity assume the role for this pool and amr:
    an Allow for the federated principal with an ``aud`` condition naming the pool
    and an ``amr`` condition naming the kind of identity."""
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = (statement.get("Principal") or {})
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        federated = federated if isinstance(federated, list) else [federated]
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or "cognito-identity.amazonaws.com" not in \
                federated or "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        auds, amrs = [], []
        for operator, conditions in (statement.get("Condition") or {}).items():
            for key, values in conditions.items():
                values = values if isinstance(values, list) else [values]
                if key == "cognito-identity.amazonaws.com:aud" and "Equals" in operator:
                    auds += values
                elif key == "cognito-identity.amazonaws.com:amr" and "Not" not in operator:
                    amrs += values
        if pool_id in auds and amr in amrs:
            return True
    return False


def _required(params: dict[str, Any], name: str) -> Any:
    if not params.get(name):
        raise AwsError("InvalidParameterException", f"1 validation error detected: Value at "
                       f"'{name[0].lower() + name[1:]}' failed to satisfy constraint: "
                       f"Member must not be null")
    return params[name]


def _logins(params: dict[str, Any]) -> dict[str, str]:
    logins = params.get("Logins") or {}
    if not isinstance(logins, dict):
        raise AwsError("InvalidParameterException", "Logins: must be a map")
    return logins


def _unsigned_sts(settings: AwsSettings, moto_url: str) -> Any:
    import boto3

    return boto3.client("sts", endpoint_url=moto_url, region_name=settings.region,
                        config=Config(signature_version=UNSIGNED))


def service_of(identity_app: flask.Flask | IdentityService) -> IdentityService:
    """The identity service, given it or the Flask app that serves it: the S3 and STS
    fronts need the service itself (the keys it issued, its tokens' key)."""
    if isinstance(identity_app, IdentityService):
        return identity_app
    return identity_app.extensions[EXTENSION]


def create_identity_app(settings: Mapping[str, Any] | AwsSettings, moto_url: str,
                        keys: Iterable[SiteKey] = ()) -> flask.Flask:
    """An independent Cognito Identity service (its own identities, keys and counters).

    ``keys`` are the IAM users' access keys it accepts signatures from (the
    site's, from :func:`.bootstrap`), besides the admin key."""
    service = IdentityService(parse_settings(settings), moto_url, keys)
    app = flask.Flask(__name__)
    app.extensions[EXTENSION] = service

    @app.post("/")
    def dispatch() -> flask.Response:
        target = flask.request.headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        try:
            if prefix != SERVICE or not operation:
                raise AwsError("UnknownOperationException", "Missing or unknown X-Amz-Target")
            params = json.loads(flask.request.get_data() or b"{}")
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Expected a JSON object")
            request = flask.request
            body = service.handle(operation, params, WireRequest(
                request.method, request.path, request.query_string.decode("latin-1"),
                Headers(request.headers), request.get_data()))
        except json.JSONDecodeError:
            return _error(AwsError("SerializationException", "Malformed JSON"))
        except AwsError as error:
            return _error(error)
        return flask.Response(json.dumps(body), status=200, content_type=JSON_11,
                              headers={"x-amzn-RequestId": str(uuid.uuid4())})

    @app.get("/.well-known/jwks_uri")
    def jwks() -> Any:
        return service.jwks()

    app.register_blueprint(_control_blueprint(service))
    return app


def _error(error: AwsError) -> flask.Response:
    body = {"__type": error.code, "message": error.message}
    return flask.Response(json.dumps(body), status=error.status, content_type=JSON_11,
                          headers={"x-amzn-ErrorType": f"{error.code}:",
                                   "x-amzn-RequestId": str(uuid.uuid4())})


def _control_blueprint(service: IdentityService) -> flask.Blueprint:
    bp = flask.Blueprint("aws_identity_control", __name__, url_prefix="/_control")

    def body() -> dict[str, Any]:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            flask.abort(flask.Response(json.dumps({"error": "send a JSON object"}), 400,
                                       mimetype="application/json"))
        return data

    add_control_routes(bp, service.faults)

    @bp.get("/calls")
    def calls() -> Any:
        return service.calls()

    @bp.delete("/calls")
    def clear_calls() -> Any:
        service.clear_calls()
        return {"cleared": True}

    @bp.post("/clock")
    def clock() -> Any:
        try:
            service.skew_seconds = float(body().get("skew_seconds", 0))
        except (TypeError, ValueError):
            return {"error": "skew_seconds: must be a number"}, 400
        return {"skew_seconds": service.skew_seconds}

    @bp.post("/reset")
    def reset() -> Any:
        service.reset()
        return {"reset": True}

    return bp
