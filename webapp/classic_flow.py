"""The basic (classic) flow, beside the enhanced one, for comparison.

``GetId`` (the same identity as the enhanced flow's), ``GetOpenIdToken`` for it,
then STS ``AssumeRoleWithWebIdentity`` with a role the *client* chooses: here the
pool's own role for an authenticated identity, read with ``GetIdentityPoolRoles``
through the site's own AWS identity. The enhanced flow (``GetCredentialsForIdentity``)
is preferred, and is what the storage pages use:

- Role mappings (a role per group or per rule on the token's claims) are applied
  by the pool in ``GetCredentialsForIdentity`` only. In the basic flow the client
  names the role, so nothing the pool's operator decided about who gets which role
  holds (where role mappings are set AWS refuses the basic flow: "Basic (classic)
  flow is not supported with RoleMappings, please use enhanced flow.").
- AWS attaches its scope-down policy (the services a guest may reach at all) to
  guest credentials only in the enhanced flow; basic-flow credentials carry the
  role's policy alone.
- Two services and a role ARN in the client, instead of one call.

The pool must allow it (``AllowClassicFlow``, the ``aws.classic_flow`` setting
says whether to offer it); a pool that refuses ends on an explained page. The
result is a comparison kept in the session for the page, never the storage
pages' credentials.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from flask import g, session

from . import aws, federation, site_aws
from .config import settings
from .errors import FedlabError
from .records import AwsCredentials, Comparison, SignIn

#: Session key of the last basic-flow comparison (a :class:`~webapp.records.Comparison`).
SESSION_KEY = "classic_flow"
#: The role session name STS records (it appears in the assumed role's ARN).
ROLE_SESSION_NAME = "fedlab-classic-flow"
#: ``GetOpenIdToken``'s token lasts ten minutes (AWS's API reference).
OPENID_TOKEN_SECONDS = 600


def enabled() -> bool:
    """Whether the configuration says the pool allows the basic flow."""
    return settings().aws.classic_flow


def compare(auth: SignIn) -> Comparison:
    """Credentials for ``auth`` by the basic flow; kept in the session and returned."""
    if not enabled():
        raise FedlabError("not_found")
    g.setdefault("aws_calls", [])
    logins = federation.logins_for(auth)
    identity_id = federation.call_and_note("GetId", aws.get_id, logins)
    token = federation.call_and_note("GetOpenIdToken", open_id_token, identity_id, logins)
    role_arn = federation.call_and_note("GetIdentityPoolRoles", authenticated_role)
    assumed_arn, credentials = federation.call_and_note(
        "AssumeRoleWithWebIdentity", assume_role, role_arn, token)
    record = Comparison(
        identity_id=identity_id, role_arn=assumed_arn, credentials=credentials,
        obtained_at=int(time.time()),
        calls=tuple((c["operation"], c["outcome"], c["ms"]) for c in g.aws_calls),
        token_seconds=OPENID_TOKEN_SECONDS)
    session[SESSION_KEY] = record.dump()
    return record


def open_id_token(identity_id: str, logins: dict[str, str]) -> str:
    """``GetOpenIdToken``: a public operation, unsigned as ``GetId`` is."""
    with aws.errors_explained("GetOpenIdToken"):
        return aws.identity().get_open_id_token(  # type: ignore[no-any-return]
            IdentityId=identity_id, Logins=logins)["Token"]


def authenticated_role() -> str:
    """The pool's role for authenticated identities (``GetIdentityPoolRoles``)."""
    answer = site_aws.call("cognito-identity", "GetIdentityPoolRoles",
                           IdentityPoolId=settings().aws.identity_pool_id)
    role = (answer.get("Roles") or {}).get("authenticated")
    if not role:
        raise FedlabError("identity_pool_roles_invalid", operation="GetIdentityPoolRoles",
                          aws_message="The pool has no authenticated role.")
    return str(role)


def assume_role(role_arn: str, token: str) -> tuple[str, AwsCredentials]:
    """STS ``AssumeRoleWithWebIdentity`` with the pool's OpenID token: unsigned (the
    token is the authority), bounded in time as every AWS call here."""
    with aws.errors_explained("AssumeRoleWithWebIdentity"):
        answer = _sts().assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, WebIdentityToken=token)
    keys = answer["Credentials"]
    return answer["AssumedRoleUser"]["Arn"], AwsCredentials(
        access_key_id=keys["AccessKeyId"], secret_key=keys["SecretAccessKey"],
        session_token=keys["SessionToken"], expiration=int(keys["Expiration"].timestamp()))


def _sts() -> Any:
    """An unsigned STS client; made per comparison, which a visitor asks for by hand."""
    pool = settings().aws
    return boto3.client("sts", region_name=pool.region, endpoint_url=pool.sts_endpoint or None,
                        config=aws.boto_config(pool).merge(Config(signature_version=UNSIGNED)))


def last() -> Comparison | None:
    """The session's last basic-flow comparison, if any."""
    return Comparison.load(session.get(SESSION_KEY))
