"""Typed records of a sign-in, shared by the providers, the sign-in service and the views.

A sign-in is kept in the visitor's server-side session (``session["auth"]``) as
plain values, which the sealed store encodes; these records are how the code
reads and writes it. :func:`SignIn.load` refuses a stored value of the wrong
shape (an older release's, or a damaged one) instead of letting a view fail on
a missing key; :meth:`SignIn.dump` gives the plain values back to the session.
They are frozen: a change is a new record (``msgspec.structs.replace``), put
back into the session by the sign-in service, so no view changes a sign-in
behind the store's back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Self

import msgspec

log = logging.getLogger(__name__)

#: The web form of Amplify's user states (the account page words them).
State = Literal["signed_in", "refreshed", "refresh_failed"]


class Kept(msgspec.Struct, frozen=True, kw_only=True):
    """A record the server-side session keeps beside the sign-in (the AWS state, a
    comparison, the identity's logins): read leniently, since a stored value of an
    older release's shape, or a damaged one, must count as none rather than fail a
    page, and written back as plain values for the sealed store."""

    @classmethod
    def load(cls, value: Any) -> Self | None:
        """The record stored as ``value``; None when there is none or it is malformed."""
        if value is None:
            return None
        try:
            return msgspec.convert(value, cls)
        except msgspec.ValidationError:
            return None

    def dump(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    """What the site keeps of a token response (RFC 6749 5.1), as plain values."""

    access_token: str | None = None
    id_token: str | None = None
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: str = ""
    #: Seconds since the epoch; None when the provider said nothing of it.
    expires_at: int | None = None

    def __repr__(self) -> str:
        """Which tokens are held, never their values (a repr reaches logs and tracebacks)."""
        held = [name for name in ("access_token", "id_token", "refresh_token")
                if getattr(self, name)]
        return f"Tokens(held={held}, scope={self.scope!r}, expires_at={self.expires_at})"


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a sign-in's history: signed in, refreshed, refresh failed."""

    at: int
    event: str
    reason: str | None = None


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An authorization request as sent (RFC 6749 4.1.1 with PKCE): where the browser
    goes, and the secrets the callback checks, which never leave the server."""

    url: str
    state: str
    code_verifier: str
    #: OpenID Connect only.
    nonce: str | None = None


class Registration(msgspec.Struct, frozen=True, kw_only=True):
    """One value to enter in a provider's console, and where it goes there."""

    #: The console's own words for the field (``Authorized redirect URIs``).
    where: str
    value: str


class Verified(msgspec.Struct, frozen=True, kw_only=True):
    """Who signed in, as a provider kind established it from the token response:
    the verified id token's claims (or, for plain OAuth 2, what the provider vouched
    for), and userinfo's answer when it was asked."""

    iss: str
    sub: str
    claims: dict[str, Any]
    userinfo: dict[str, Any] | None = None


class Renewed(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh's outcome: the new token response and the (re-validated) claims."""

    tokens: dict[str, Any]
    claims: dict[str, Any]


class LinkFor(msgspec.Struct, frozen=True, kw_only=True):
    """The person a second sign-in is to be linked for: the session's sign-in as the
    link began (issuer and subject), and the provider they are signed in with."""

    iss: str
    sub: str
    provider: str


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A sign-in under way: what the callback needs to finish it, kept in this
    browser's session under its ``state`` until it comes back (once, in time)."""

    #: The configured provider's name the sign-in was started with.
    provider: str
    #: The OpenID Connect nonce (None for plain OAuth 2).
    nonce: str | None = None
    #: PKCE (RFC 7636): the secret whose hash the authorization request carried.
    code_verifier: str
    #: The callback URL sent, which the code exchange must repeat byte for byte.
    redirect_uri: str
    #: Where to land afterwards: a page of this site (``urls.safe_next_path``).
    next: str
    #: Seconds since the epoch.
    created: int
    #: The guest identity this browser had as it started signing in: the only
    #: one the credentials page may offer to carry over.
    guest_identity: str | None = None
    #: Set when this is a second sign-in that links a login to the person's identity
    #: instead of signing in (:mod:`webapp.linked_logins`).
    link_for: LinkFor | None = None

    @classmethod
    def load_all(cls, value: Any) -> dict[str, Pending]:
        """The pending sign-ins stored as ``value``, by state; a malformed one is dropped."""
        if not isinstance(value, dict):
            return {}
        found = {}
        for state, record in value.items():
            try:
                found[str(state)] = msgspec.convert(record, cls)
            except msgspec.ValidationError:
                continue
        return found

    def dump(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


class SignIn(msgspec.Struct, frozen=True, kw_only=True):
    """A visitor's sign-in: who (issuer and subject), through which provider, and
    the tokens held for them. People are identified by ``iss`` and ``sub`` together."""

    #: The configured provider's name (``[providers.<name>]``).
    provider: str
    iss: str
    sub: str
    claims: dict[str, Any]
    tokens: Tokens
    signed_in_at: int
    userinfo: dict[str, Any] | None = None
    userinfo_at: int | None = None
    #: The nonce of the authorization request (a refreshed id token may repeat it).
    nonce: str | None = None
    state: State = "signed_in"
    history: tuple[Event, ...] = ()
    #: Bumped by every refresh and refusal, so a request that read an older
    #: sign-in never writes it over a newer one (webapp.session_store).
    generation: int = 0

    @classmethod
    def load(cls, value: Any) -> SignIn | None:
        """The record stored as ``value``; None when there is none or it is malformed
        (logged, without the value: a sign-in that vanishes silently is a mystery)."""
        if value is None:
            return None
        try:
            return msgspec.convert(value, cls)
        except msgspec.ValidationError as e:
            log.warning("a stored sign-in of the wrong shape is treated as signed out: %s", e)
            return None

    def dump(self) -> dict[str, Any]:
        """Plain values for the session (and so for the sealed store)."""
        return msgspec.to_builtins(self)

    def tokens_expired(self, now: float) -> bool:
        """Whether the access token's lifetime, as the provider gave it, is over."""
        return self.tokens.expires_at is not None and self.tokens.expires_at < now

    def same_as(self, other: SignIn | None) -> bool:
        """Whether ``other`` is this very sign-in: the same person (issuer and
        subject, never e-mail or subject alone) signed in at the same moment."""
        return other is not None and (self.iss, self.sub, self.signed_in_at) == (
            other.iss, other.sub, other.signed_in_at)


class AwsCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """Temporary AWS credentials from ``GetCredentialsForIdentity``."""

    access_key_id: str
    secret_key: str
    session_token: str
    #: Seconds since the epoch (the session's encoding takes no datetimes).
    expiration: int


class AwsCall(NamedTuple):
    """One AWS call a request made, for the page (:func:`webapp.federation.call_and_note`).

    A named tuple: the session stores it as the plain triple it always was, and a
    template reads it by name or unpacks it."""

    operation: str
    #: ``ok``, or the catalogue code of the error it ended in.
    outcome: str
    ms: int


class AccessKey(msgspec.Struct, frozen=True, kw_only=True):
    """What a comparison shows of the credentials it was given: the access key id
    (which names them and grants nothing) and the expiry. The secret key and the
    session token are dropped at once: nothing uses them, and a second identity's
    working keys should not sit in the session store for nothing."""

    access_key_id: str
    #: Seconds since the epoch.
    expiration: int

    @classmethod
    def of(cls, credentials: AwsCredentials) -> AccessKey:
        return cls(access_key_id=credentials.access_key_id,
                   expiration=credentials.expiration)


class AwsState(Kept, frozen=True, kw_only=True):
    """A visitor's AWS side: the identity pool's identity for them (a guest's, or
    the sign-in's), the role the pool chose, and the credentials held for it.

    Kept in the server-side session (``session["aws"]``, through
    :mod:`webapp.sessions`), so a repeat view costs no AWS call.
    """

    identity_id: str
    guest: bool
    #: The configured provider the Logins came from; None for a guest.
    provider: str | None
    #: The ``Logins`` key the pool was given (``accounts.google.com``...); None for a guest.
    logins_key: str | None
    role_arn: str
    credentials: AwsCredentials
    obtained_at: int
    #: Since when this session has had this identity (its renewals keep it).
    since: int
    renewals: int = 0
    #: The guest identity the visitor chose to keep at sign-in, if any.
    previous_guest: str | None = None
    #: The role the visitor chose among their token's (``CustomRoleArn``), sent on
    #: every ``GetCredentialsForIdentity`` of this identity, renewals included;
    #: None lets the pool's role mapping decide.
    custom_role_arn: str | None = None


class Comparison(Kept, frozen=True, kw_only=True):
    """Credentials made by another flow than the session's own, for the credentials
    page to set beside it (:mod:`webapp.developer_identities`, :mod:`webapp.classic_flow`).

    Kept in the server-side session like :class:`AwsState`, and never used by the
    storage pages: each module says why.
    """

    identity_id: str
    role_arn: str
    #: Their access key id and expiry only: the page shows no more, and no page
    #: uses them (an older record's secret fields are ignored when it is loaded).
    credentials: AccessKey
    obtained_at: int
    #: The AWS calls the flow made, in order.
    calls: tuple[AwsCall, ...] = ()
    #: The OpenID token's lifetime in seconds: as asked (developer: ``TokenDuration``)
    #: or as AWS documents it (basic: ``GetOpenIdToken``'s ten minutes; not read
    #: from the token).
    token_seconds: int | None = None
    #: Developer identities: the identifier the site gave the pool for the person, and
    #: the identity's developer user identifiers as ``LookupDeveloperIdentity`` lists them.
    developer_user_identifier: str | None = None
    developer_identifiers: tuple[str, ...] = ()


class Refusal(Kept, frozen=True, kw_only=True):
    """A flow AWS refused, kept for the credentials page to show in place of a
    :class:`Comparison` where the refusal is the lesson: the basic flow in a pool
    with role mappings (:mod:`webapp.classic_flow`)."""

    identity_id: str
    refused_at: int
    #: The AWS calls the flow made, in order.
    calls: tuple[AwsCall, ...] = ()
    #: The operation AWS refused, and its own code and words.
    operation: str
    aws_code: str
    aws_message: str


class IdentityLogins(Kept, frozen=True, kw_only=True):
    """The logins (``Logins`` keys) linked to the session's identity, and who said so:
    the pool (``DescribeIdentity``, signed with the site's own identity) or, when the
    site has no AWS identity of its own, what this session did (its sign-in, and the
    logins it linked or unlinked since)."""

    identity_id: str
    logins: tuple[str, ...]
    #: ``DescribeIdentity`` or ``session``.
    source: str
    at: int
    #: What last changed them here (``Linked accounts.google.com``), and its AWS calls.
    change: str | None = None
    calls: tuple[AwsCall, ...] = ()

    @property
    def at_utc(self) -> str:
        """When they were last known, for the page (``14:05``)."""
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M")
