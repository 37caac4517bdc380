"""The basic (classic) flow, beside the enhanced one, for comparison.

``GetId`` (the same identity as the enhanced flow's), ``GetOpenIdToken`` for it,
then STS ``AssumeRoleWithWebIdentity`` with a role the *client* chooses: here the
pool's own role for an authenticated identity, read with ``GetIdentityPoolRoles``
through the site's own AWS identity. The enhanced flow (``GetCredentialsForIdentity``)
is preferred, and is what the storage pages use:

- Role mappings (a role per group or per rule on the token's claims) are applied
  by the pool in ``GetCredentialsForIdentity`` only. In the basic flow the client
  names the role, so nothing the pool's operator decided about who gets which role
  would hold: AWS refuses ``GetOpenIdToken`` in any pool with role mappings, for
  every identity ("Basic (classic) flow is not supported with RoleMappings, please
  use enhanced flow."). The page says so before anything is pressed (it reads the
  pool's mappings through :mod:`webapp.roles`), and a press shows AWS's refusal in
  place of the comparison: seeing it refused is the lesson.
- AWS attaches its scope-down policy (the services a guest may reach at all) to
  guest credentials only in the enhanced flow; basic-flow credentials carry the
  role's policy alone.
- Two services and a role ARN in the client, instead of one call.

The pool must allow it (``AllowClassicFlow``, the ``aws.classic_flow`` setting
says whether to offer it); a pool that does not ends on an explained page. The
result (a comparison, or AWS's refusal in a pool with mappings) is kept in the
session for the page, never the storage pages' credentials: of the credentials STS
gave, only what the page shows (the access key id and the expiry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore import UNSIGNED
from botocore.config import Config
from flask import g, session

from . import aws, federation, roles
from .config import settings
from .errors import FedlabError
from .records import AccessKey, AwsCredentials, Comparison, Refusal, SignIn

#: Session key of the last basic-flow comparison (a :class:`~webapp.records.Comparison`).
SESSION_KEY = "classic_flow"
#: Session key of AWS's refusal of the last attempt, in a pool with role mappings (a
#: :class:`~webapp.records.Refusal`); a session holds this or a comparison, never both.
REFUSED_KEY = "classic_flow_refused"
#: The catalogue's entry for AWS's refusal in a pool with role mappings.
REFUSED_FOR_MAPPINGS = "classic_flow_role_mappings"
#: The role session name STS records (it appears in the assumed role's ARN).
ROLE_SESSION_NAME = "fedlab-classic-flow"
#: ``GetOpenIdToken``'s token lasts ten minutes (AWS's API reference).
OPENID_TOKEN_SECONDS = 600


def enabled() -> bool:
    """Whether the configuration says the pool allows the basic flow."""
    return settings().aws.classic_flow


@dataclass(frozen=True)
class Section:
    """What the credentials page shows of the basic flow: the last attempt's outcome
    (a comparison, or AWS's refusal; never both) and the pool's role mappings."""

    last: Comparison | None
    refused: Refusal | None
    #: The Logins keys with role mappings (AWS then refuses the basic flow); None
    #: when the pool's settings could not be read.
    mapped: tuple[str, ...] | None


def section() -> Section | None:
    """The page's section; None when the basic flow is not offered. No AWS call
    (the pool's mappings as the site last read them)."""
    if not enabled():
        return None
    outcome = last()
    return Section(last=outcome if isinstance(outcome, Comparison) else None,
                   refused=outcome if isinstance(outcome, Refusal) else None,
                   mapped=mapped_logins())


def compare(auth: SignIn) -> Comparison | Refusal:
    """Credentials for ``auth`` by the basic flow, or AWS's refusal of it in a pool
    with role mappings; kept in the session and returned. Any other refusal
    (``AllowClassicFlow`` off) is raised, for its explained page."""
    if not enabled():
        raise FedlabError("not_found")
    g.setdefault("aws_calls", [])
    logins = federation.logins_for(auth)
    identity_id = federation.call_and_note("GetId", aws.get_id, logins)
    try:
        token = federation.call_and_note("GetOpenIdToken", open_id_token, identity_id, logins)
    except FedlabError as e:
        if e.code != REFUSED_FOR_MAPPINGS:
            raise
        refusal = Refusal(identity_id=identity_id, refused_at=int(time.time()),
                          calls=federation.noted_calls(), operation="GetOpenIdToken",
                          aws_code=e.details["aws_code"], aws_message=e.details["aws_message"])
        keep(refusal)
        return refusal
    role_arn = federation.call_and_note("GetIdentityPoolRoles", authenticated_role)
    assumed_arn, credentials = federation.call_and_note(
        "AssumeRoleWithWebIdentity", assume_role, role_arn, token)
    record = Comparison(
        identity_id=identity_id, role_arn=assumed_arn, credentials=AccessKey.of(credentials),
        obtained_at=int(time.time()), calls=federation.noted_calls(),
        token_seconds=OPENID_TOKEN_SECONDS)
    keep(record)
    return record


def keep(record: Comparison | Refusal) -> None:
    """Keep the attempt's outcome for the page, in place of the last one."""
    session.pop(SESSION_KEY, None)
    session.pop(REFUSED_KEY, None)
    session[REFUSED_KEY if isinstance(record, Refusal) else SESSION_KEY] = record.dump()


def open_id_token(identity_id: str, logins: dict[str, str]) -> str:
    """``GetOpenIdToken``: a public operation, unsigned as ``GetId`` is."""
    with aws.errors_explained("GetOpenIdToken"):
        return aws.identity().get_open_id_token(  # type: ignore[no-any-return]
            IdentityId=identity_id, Logins=logins)["Token"]


def authenticated_role() -> str:
    """The pool's role for authenticated identities, read now (``GetIdentityPoolRoles``
    through :func:`webapp.roles.fetch`): the role the client names to STS."""
    role = roles.fetch().authenticated
    if not role:
        raise FedlabError("identity_pool_roles_invalid", operation="GetIdentityPoolRoles",
                          aws_message="The pool has no authenticated role.")
    return role


def mapped_logins() -> tuple[str, ...] | None:
    """The ``Logins`` keys the pool has role mappings for, as the site last read them
    (:func:`webapp.roles.pool_roles`): where there is any, AWS refuses the basic flow.
    None when the pool's settings could not be read."""
    pool = roles.pool_roles()
    if isinstance(pool, roles.Unreadable):
        return None
    return tuple(sorted(pool.role_mappings))


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
    return aws.make_client(
        "sts", region_name=pool.region, endpoint_url=pool.sts_endpoint or None,
        config=aws.boto_config(pool).merge(Config(signature_version=UNSIGNED)))


def last() -> Comparison | Refusal | None:
    """The outcome of the session's last basic-flow attempt, if any."""
    return Comparison.load(session.get(SESSION_KEY)) or Refusal.load(session.get(REFUSED_KEY))
