"""Developer-authenticated identities: the site itself as an identity provider of the pool.

The enhanced flow hands the pool the provider's own token; here the site vouches
for the person instead. On the server, signed with the site's own AWS identity
(:mod:`webapp.site_aws`), ``GetOpenIdTokenForDeveloperIdentity`` names the person
under the pool's developer provider name (``aws.developer_provider_name``) and
returns an identity id and an OpenID token; the token then goes, unsigned as in
the enhanced flow, to ``GetCredentialsForIdentity`` under the Logins key
``cognito-identity.amazonaws.com``; ``GetCallerIdentity`` says which role came of
it, and ``LookupDeveloperIdentity`` what the pool now knows of the identity.

What the credentials page shows is a comparison, not the session's AWS state:

- It is another identity. The pool knows the person by the site's identifier,
  not by the provider's login, so the identity id differs from the enhanced
  flow's, and with it the ``private/`` and ``protected/`` folders. Moving the
  storage pages to it would hide the visitor's own files from them.
- Every renewal would be a signed call with the site's own keys, made for each
  visitor, where the enhanced flow needs none: a site that loses its keys (or is
  throttled) would take every visitor's storage pages down with it.

So the record is kept in the session only to be shown, with no more of the
credentials than the page shows (:class:`~webapp.records.AccessKey`: the key id and
the expiry), and the storage pages go on with the enhanced flow.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from flask import g, session

from . import aws, federation, policies, site_aws
from .config import settings
from .errors import FedlabError
from .records import AccessKey, Comparison, SignIn

#: Session key of the last developer federation (a :class:`~webapp.records.Comparison`).
SESSION_KEY = "developer_federation"
#: The Logins key of a token from ``GetOpenIdTokenForDeveloperIdentity``.
COGNITO_LOGINS_KEY = "cognito-identity.amazonaws.com"
#: ``TokenDuration`` asked for, in seconds (AWS takes 1 to 86400; 900 if not given).
#: The site exchanges the token at once, in the next call of the same request, and
#: never shows or keeps it: two minutes cover that call with its retries (three
#: attempts, at most 30 seconds at the default ``aws.timeout`` of 5), and a token
#: that leaked from a log or a proxy is worthless soon after. A long duration
#: only suits a client that caches the token to exchange later, which this site
#: never does.
TOKEN_DURATION = 120
#: ``LookupDeveloperIdentity``'s page size (AWS takes 1 to 60).
LOOKUP_MAX_RESULTS = 60
#: The IAM action the site's own identity needs for this flow.
PERMISSION = "cognito-identity:GetOpenIdTokenForDeveloperIdentity"


def enabled() -> bool:
    """Whether the pool has a developer provider name for this site."""
    return bool(settings().aws.developer_provider_name)


@dataclass(frozen=True)
class Section:
    """What the credentials page shows of developer-authenticated federation: what
    differs from the enhanced flow, and the session's last federation this way."""

    #: The pool's developer provider name (``aws.developer_provider_name``).
    provider_name: str
    #: The IAM action this flow needs, and all the site's own identity is granted.
    permission: str
    actions: tuple[str, ...]
    token_duration: int
    #: The person's developer user identifier.
    identifier: str
    #: Whether the site has AWS credentials of its own to make the calls with.
    site_identity: bool
    last: Comparison | None


def section(auth: SignIn) -> Section | None:
    """The page's section for ``auth``; None when the pool has no developer provider
    for this site. No AWS call."""
    if not enabled():
        return None
    return Section(provider_name=settings().aws.developer_provider_name,
                   permission=PERMISSION, actions=policies.SITE_IDENTITY_ACTIONS,
                   token_duration=TOKEN_DURATION, identifier=developer_user_identifier(auth),
                   site_identity=site_aws.available(), last=last())


def developer_user_identifier(auth: SignIn) -> str:
    """The person's developer user identifier: a SHA-256 of issuer and subject.

    People are issuer and subject together (a subject alone is unique only per
    issuer). AWS takes a developer user identifier of 1 to 1024 characters
    (``LookupDeveloperIdentity``'s ``DeveloperUserIdentifier``); an issuer URL
    and a subject of up to 255 characters (OpenID Connect Core 2) could pass that
    together, and any separator could occur in either. The hash of the two as a
    JSON pair is unambiguous, always 64 characters, and the same for the same
    person on every sign-in.

    What it hides, and what not: the issuer and subject cannot be read back from
    it, so the pool (its console, ``LookupDeveloperIdentity``, CloudTrail) does not
    show which provider account a person is. But it is an unkeyed hash of values
    that are not secret: anyone who knows a person's issuer and subject (a Google
    ``sub`` is the same for every site the person signs in to) can compute it and
    recognise them with ``LookupDeveloperIdentity``. It is not keyed (an HMAC with
    a site secret) on purpose: the identifier must outlive any key, since a key
    changed or lost would make every person a new identity and orphan their files.
    """
    pair = json.dumps([auth.iss, auth.sub], separators=(",", ":"))
    return hashlib.sha256(pair.encode()).hexdigest()


def federate(auth: SignIn) -> Comparison:
    """Credentials for ``auth`` as a developer-authenticated identity; kept in the
    session for the page (see the module's docstring) and returned."""
    if not enabled():
        raise FedlabError("not_found")
    g.setdefault("aws_calls", [])
    pool = settings().aws
    identifier = developer_user_identifier(auth)
    answer = federation.call_and_note(
        "GetOpenIdTokenForDeveloperIdentity", site_aws.call, "cognito-identity",
        "GetOpenIdTokenForDeveloperIdentity", IdentityPoolId=pool.identity_pool_id,
        Logins={pool.developer_provider_name: identifier}, TokenDuration=TOKEN_DURATION)
    identity_id, credentials = federation.call_and_note(
        "GetCredentialsForIdentity", aws.get_credentials, answer["IdentityId"],
        {COGNITO_LOGINS_KEY: answer["Token"]})
    role = federation.call_and_note("GetCallerIdentity", aws.caller_role, credentials)
    looked_up = federation.call_and_note(
        "LookupDeveloperIdentity", site_aws.call, "cognito-identity",
        "LookupDeveloperIdentity", IdentityPoolId=pool.identity_pool_id,
        IdentityId=identity_id, MaxResults=LOOKUP_MAX_RESULTS)
    record = Comparison(
        identity_id=identity_id, role_arn=role, credentials=AccessKey.of(credentials),
        obtained_at=int(time.time()),
        calls=federation.noted_calls(),
        token_seconds=TOKEN_DURATION, developer_user_identifier=identifier,
        developer_identifiers=tuple(looked_up.get("DeveloperUserIdentifierList") or ()))
    session[SESSION_KEY] = record.dump()
    return record


def last() -> Comparison | None:
    """The session's last developer federation, if any."""
    return Comparison.load(session.get(SESSION_KEY))
