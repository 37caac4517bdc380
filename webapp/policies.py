"""The IAM documents that make Identity Pool federation and Amplify-style storage work.

One source for the storage pages (which show the statement that grants each
level), the local AWS stand-in (which creates these roles) and ``deploy/``
(whose template carries the same statements), so what the site teaches is
what it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SUB = "${cognito-identity.amazonaws.com:sub}"
LEVELS = ("public", "protected", "private")


def trust_policy(identity_pool_id: str, amr: str) -> dict[str, Any]:
    """Who may assume a role: tokens from this pool only, of the right kind (amr)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
            },
        }],
    }


def authenticated_statements(bucket: str) -> list[dict[str, Any]]:
    """Amplify Storage's rules for signed-in identities, statement by statement."""
    arn = f"arn:aws:s3:::{bucket}"
    return [
        {"Sid": "PublicReadWrite", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/public/*"]},
        {"Sid": "ProtectedReadAll", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/protected/*"]},
        {"Sid": "ProtectedWriteOwn", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/protected/{SUB}/*"]},
        {"Sid": "PrivateOwn", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/private/{SUB}/*"]},
        {"Sid": "ListAllowedPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [arn],
         "Condition": {"StringLike": {"s3:prefix": [
             "public/", "public/*", "protected/", "protected/*",
             f"private/{SUB}/", f"private/{SUB}/*"]}}},
    ]


def guest_statements(bucket: str) -> list[dict[str, Any]]:
    """Guests read public files and nothing else."""
    arn = f"arn:aws:s3:::{bucket}"
    return [
        {"Sid": "PublicRead", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/public/*"]},
        {"Sid": "ListPublic", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [arn],
         "Condition": {"StringLike": {"s3:prefix": ["public/", "public/*"]}}},
    ]


def admin_statements(bucket: str) -> list[dict[str, Any]]:
    """The ``admins`` group's role: everything a signed-in identity may do, and also
    delete anyone's shared (``protected/``) files, as a moderator would."""
    arn = f"arn:aws:s3:::{bucket}"
    return [*authenticated_statements(bucket),
            {"Sid": "ModerateProtected", "Effect": "Allow", "Action": ["s3:DeleteObject"],
             "Resource": [f"{arn}/protected/*"]}]


def reader_statements(bucket: str) -> list[dict[str, Any]]:
    """The ``readers`` group's role: read what a signed-in identity may read, write nothing."""
    arn = f"arn:aws:s3:::{bucket}"
    return [
        {"Sid": "PublicRead", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/public/*"]},
        {"Sid": "ProtectedReadAll", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/protected/*"]},
        {"Sid": "PrivateReadOwn", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/private/{SUB}/*"]},
        {"Sid": "ListAllowedPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [arn],
         "Condition": {"StringLike": {"s3:prefix": [
             "public/", "public/*", "protected/", "protected/*",
             f"private/{SUB}/", f"private/{SUB}/*"]}}},
    ]


@dataclass(frozen=True)
class MappedRole:
    """A role the pool's role mappings may choose beside its authenticated role.

    ``name`` is the IAM role's name: the demo's stand-in and ``deploy/``'s template
    both give the role exactly this name (see :data:`SITE_ROLE_NAMES`);
    its trust policy is :func:`trust_policy` with ``amr`` ``authenticated``, as
    every role a signed-in identity may get must be."""

    key: str
    name: str
    description: str
    statements: Callable[[str], list[dict[str, Any]]]


#: The roles chosen by the Cognito groups of the same key, or by a pool's rules.
MAPPED_ROLES = (
    MappedRole("admins", "fedlab-admins",
               "Signed-in identities that may also delete anyone's shared files",
               admin_statements),
    MappedRole("readers", "fedlab-readers", "Signed-in identities that may read only",
               reader_statements),
)

#: What the site's own AWS identity may call (environment keys or the instance role):
#: developer-authenticated identities, reading the pool's settings and identities,
#: and the probes' look at the roles' trust policies. Only what the site calls: it
#: never unlinks a developer identity (``UnlinkDeveloperIdentity`` is an operator's).
SITE_IDENTITY_ACTIONS = (
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "cognito-identity:LookupDeveloperIdentity",
    "cognito-identity:DescribeIdentity",
    "cognito-identity:DescribeIdentityPool",
    "cognito-identity:GetIdentityPoolRoles",
)


def site_statements(pool_arn: str, roles_arn: str) -> list[dict[str, Any]]:
    """The site's own permissions, on this pool only and on the site's roles only
    (``roles_arn`` is a pattern such as ``arn:aws:iam::123456789012:role/fedlab-*``)."""
    return [
        {"Sid": "DeveloperIdentities", "Effect": "Allow",
         "Action": list(SITE_IDENTITY_ACTIONS), "Resource": [pool_arn]},
        {"Sid": "ReadRoleTrust", "Effect": "Allow", "Action": ["iam:GetRole"],
         "Resource": [roles_arn]},
    ]


#: The IAM names of the pool's own roles, as the stand-in and ``deploy/`` name them.
AUTHENTICATED_ROLE_NAME = "fedlab-authenticated"
GUEST_ROLE_NAME = "fedlab-guest"

#: Every role the site knows the statements of, by IAM role name. The storage pages
#: learn the visitor's role from STS's assumed-role ARN, which carries the role's
#: name and nothing else (not its path, not the stack), so the name is what the
#: site can match on; that is why deploy/'s template gives each role this fixed
#: name (RoleName, CAPABILITY_NAMED_IAM) rather than a generated one, which the
#: site could not tell from any other role. The cost: one Federation Lab stack per
#: AWS account, since IAM role names are unique in an account.
SITE_ROLE_NAMES = (AUTHENTICATED_ROLE_NAME, GUEST_ROLE_NAME,
                   *(mapped.name for mapped in MAPPED_ROLES))


def policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def knows_role(role_name: str | None) -> bool:
    """Whether ``role_name`` is one of the site's roles (:data:`SITE_ROLE_NAMES`),
    whose statements the site can vouch for."""
    return role_name in SITE_ROLE_NAMES


def role_statements(bucket: str, role_name: str | None,
                    guest: bool = False) -> list[dict[str, Any]]:
    """A role's statements by its name (:data:`SITE_ROLE_NAMES`). A role the site
    does not know (a pool mapping to a role of its own, an older stack's generated
    name) has none the site can vouch for: the pages offer nothing for it and say
    that S3 decides, rather than guessing from another role's statements."""
    if guest:
        return guest_statements(bucket) if role_name == GUEST_ROLE_NAME else []
    if role_name == AUTHENTICATED_ROLE_NAME:
        return authenticated_statements(bucket)
    for mapped in MAPPED_ROLES:
        if mapped.name == role_name:
            return mapped.statements(bucket)
    return []


def statements_for_level(bucket: str, level: str, guest: bool = False,
                         role_name: str | None = None) -> list[dict[str, Any]]:
    """The statements a storage page shows: the ones of the visitor's role (by name)
    naming that level's prefix."""
    return [s for s in role_statements(bucket, role_name, guest) if f"{level}/" in str(s)]


def allows(statements: Iterable[Mapping[str, Any]], action: str, resource: str,
           identity_id: str) -> bool:
    """Whether these identity-policy statements let ``identity_id`` do ``action`` on the
    ARN ``resource``, as IAM decides it: an explicit Deny wins, else an Allow is needed.

    For the storage pages, which offer Upload and Delete only where the role's own
    statements grant them: ``*`` and ``?`` wildcards in actions and resources, and
    ``${cognito-identity.amazonaws.com:sub}`` read as the visitor's identity id (what
    S3 substitutes). Conditions are not evaluated here (object actions carry none in
    these documents): an Allow with one is not counted on, a Deny with one is, so a
    page never offers what S3 might refuse. The same for the negated fields: a Deny
    with ``NotAction`` or ``NotResource`` is honoured (it applies to every action or
    resource it does not name), a Deny with ``NotPrincipal`` is taken to apply, and
    an Allow with any of them is not counted on. S3 still decides every request.
    """
    allowed = False
    for statement in statements:
        if not (_applies(statement, "Action", action, ignore_case=True)
                and _applies(statement, "Resource", resource, identity_id=identity_id)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if (statement.get("Effect") == "Allow" and not statement.get("Condition")
                and not any(k in statement for k in NEGATED)):
            allowed = True
    return allowed


#: The fields an Allow is not counted on with (see :func:`allows`).
NEGATED = ("NotAction", "NotResource", "NotPrincipal")


def _applies(statement: Mapping[str, Any], field: str, value: str, ignore_case: bool = False,
             identity_id: str = "") -> bool:
    """Whether ``field`` (``Action``, ``Resource``) names ``value``, or its negation
    (``NotAction``, ``NotResource``) leaves it out."""
    if f"Not{field}" in statement:
        return not _names(statement, f"Not{field}", value, ignore_case, identity_id)
    return _names(statement, field, value, ignore_case, identity_id)


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _names(statement: Mapping[str, Any], field: str, value: str, ignore_case: bool = False,
           identity_id: str = "") -> bool:
    patterns = statement.get(field) or []
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(_wildcard(str(p).replace(SUB, identity_id), ignore_case).fullmatch(value)
               for p in patterns)


@lru_cache(maxsize=256)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's ``*`` (any run of characters, ``/`` included) and ``?`` (one character)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def bucket_cors(origins: list[str]) -> dict[str, Any]:
    """Browsers upload straight to S3 with a presigned POST and read with presigned GETs."""
    return {"CORSRules": [{
        "AllowedOrigins": origins,
        "AllowedMethods": ["GET", "HEAD", "POST"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3000,
    }]}
