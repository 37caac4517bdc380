"""Linked logins: several providers' logins on one identity of the pool.

A visitor signed in with provider A signs in with a second provider B to link
B's login to their identity: the second sign-in is started with the person it
links for (:class:`~webapp.records.LinkFor` on its pending record) and verified
by :func:`webapp.signin.finish` exactly as a sign-in is, which then leaves the
session's sign-in alone and hands the verified login here. The pool is given
both logins for the identity (``GetCredentialsForIdentity`` with A's and B's
tokens), which links them: from then on B alone gets the same identity id. B's
tokens are used for that one call and never kept.

A login already linked to another identity is refused by the pool
(``ResourceConflictException``), and nothing changes here. Unlinking
(``UnlinkIdentity``) takes a valid login of the identity: A's, so the login in
use is never the one removed.

Which logins the identity has is the pool's to say (``DescribeIdentity``, signed
with the site's own identity); without that identity the page shows what this
session knows. The answer is kept in the session and asked again only when
something here changed it, or when the visitor asks, so viewing the page costs
no AWS call.

The sign-in service knows nothing of the pool and federation nothing of
sign-ins under way: this module, above both, composes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import flash, g, session, url_for

from . import aws, federation, sessions, signin, site_aws
from .errors import FedlabError
from .providers import Provider, registry
from .records import AwsState, IdentityLogins, LinkFor, SignIn
from .signin import SecondLogin
from .urls import external_url

#: Session key of the identity's logins as last known (an :class:`IdentityLogins`);
#: :func:`webapp.sessions.forget_aws` drops it with the identity.
SESSION_KEY = sessions.IDENTITY_LOGINS_KEY


@dataclass(frozen=True)
class Login:
    """One login of the identity, as the page lists it."""

    key: str
    #: The configured providers that sign in with this Logins key (Cognito's app
    #: clients of one user pool share one).
    providers: tuple[str, ...]
    in_use: bool

    @property
    def may_unlink(self) -> bool:
        """A login other than the one in use, of a provider this site knows."""
        return not self.in_use and bool(self.providers)


@dataclass(frozen=True)
class Section:
    """What the credentials page shows of the identity's logins."""

    known: IdentityLogins
    rows: tuple[Login, ...]
    #: Providers whose login the visitor may link.
    offers: tuple[Provider, ...]
    #: Whether the site may ask the pool (``DescribeIdentity``, signed with its own identity).
    site_identity: bool


def section(auth: SignIn, state: AwsState) -> Section:
    """The page's section for a signed-in visitor's identity; no AWS call."""
    known = current()
    return Section(known=known, rows=tuple(rows(known, state)),
                   offers=tuple(offers(known, auth)), site_identity=site_aws.available())


def current() -> IdentityLogins:
    """The logins of the session's identity as last known; before anything was
    asked or changed, the sign-in's own."""
    state = _state()
    known = IdentityLogins.load(session.get(SESSION_KEY))
    if known is not None and known.identity_id == state.identity_id:
        return known
    return IdentityLogins(identity_id=state.identity_id,
                          logins=(state.logins_key,) if state.logins_key else (),
                          source="session", at=state.obtained_at)


def rows(known: IdentityLogins, state: AwsState) -> list[Login]:
    """The page's list: each login with the providers that use its key."""
    names = _names_by_key()
    return [Login(key, names.get(key, ()), key == state.logins_key) for key in known.logins]


def offers(known: IdentityLogins, auth: SignIn) -> list[Provider]:
    """Providers whose login could be linked: none that shares a Logins key with the
    sign-in (Cognito's app clients of one user pool are one login) or is linked."""
    taken = {signin.get_provider(auth.provider).logins_key, *known.logins}
    return [p for p in registry.providers().values() if p.logins_key not in taken]


def begin(name: str) -> str:
    """Start the second sign-in with ``name`` that will link its login; return where
    to send the browser."""
    auth = sessions.require_auth()
    provider = signin.get_provider(name)
    if provider.logins_key == signin.get_provider(auth.provider).logins_key:
        raise FedlabError("link_same_login", provider=name, login=provider.logins_key)
    return signin.begin(provider, external_url("auth.callback", name=name),
                        url_for("credentials.show"),
                        LinkFor(iss=auth.iss, sub=auth.sub, provider=auth.provider))


def link(second: SecondLogin) -> None:
    """Give the pool both logins for the person's identity, which links them.

    The credentials that call returns are not kept: the pool chose their role
    with both logins before it (a role mapping of the second provider may have
    decided), while the session's credentials are, and on renewal stay, those
    of the sign-in alone. The session's AWS state is left as it was."""
    auth = sessions.require_auth()
    other = signin.get_provider(second.auth.provider)
    g.aws_calls = []
    with federation.about(other.name):
        state = federation.ensure_fresh_credentials()  # the identity, made if none yet
        mine = federation.logins_for(auth)
        if other.logins_key in mine:
            raise FedlabError("link_same_login", login=other.logins_key)
        try:
            federation.call_and_note("GetCredentialsForIdentity", aws.get_credentials,
                                     state.identity_id, {**mine, **other.logins(second.auth)})
        except FedlabError as e:
            e.details.setdefault("login", other.logins_key)
            raise
        remember(state, f"Linked {other.logins_key}", added=other.logins_key)
    flash(f"{other.display_name}'s login is linked to identity {state.identity_id}: "
          f"signing in with it alone gives this identity too.")


def unlink(key: str) -> None:
    """Remove login ``key`` from the identity (``UnlinkIdentity`` with the login in use)."""
    auth = sessions.require_auth()
    state = federation.ensure_fresh_credentials()
    allowed = {row.key for row in rows(current(), state) if row.may_unlink}
    if key not in allowed:
        raise FedlabError("bad_request", detail="that login is not one this page may unlink")
    g.aws_calls = []
    with federation.about(auth.provider):
        federation.call_and_note("UnlinkIdentity", _unlink_identity, state.identity_id,
                                 federation.logins_for(auth), key)
        remember(state, f"Unlinked {key}", removed=key)
    flash(f"{key} is no longer linked to identity {state.identity_id}: signing in with it "
          f"alone gives a new identity.")


def look_up() -> None:
    """Ask the pool again which logins the identity has (the visitor asked)."""
    sessions.require_auth()
    g.aws_calls = []
    remember(federation.ensure_fresh_credentials(), None)


def remember(state: AwsState, change: str | None, *, added: str | None = None,
             removed: str | None = None) -> IdentityLogins:
    """Keep the identity's logins after ``change``: the pool's answer when the site
    may ask it, else what the session knew with ``added`` and ``removed`` applied."""
    if site_aws.available():
        answer = federation.call_and_note("DescribeIdentity", site_aws.call,
                                          "cognito-identity", "DescribeIdentity",
                                          IdentityId=state.identity_id)
        logins, source = tuple(answer.get("Logins") or ()), "DescribeIdentity"
    else:
        before = [k for k in current().logins if k != removed]
        logins = tuple([*before, added] if added and added not in before else before)
        source = "session"
    known = IdentityLogins(
        identity_id=state.identity_id, logins=logins, source=source, at=int(time.time()),
        change=change,
        calls=federation.noted_calls())
    session[SESSION_KEY] = known.dump()
    return known


def _unlink_identity(identity_id: str, logins: dict[str, str], key: str) -> None:
    """``UnlinkIdentity``: a public operation, unsigned as GetId is."""
    with aws.errors_explained("UnlinkIdentity"):
        aws.identity().unlink_identity(IdentityId=identity_id, Logins=logins,
                                       LoginsToRemove=[key])


def _names_by_key() -> dict[str, tuple[str, ...]]:
    names: dict[str, tuple[str, ...]] = {}
    for provider in registry.providers().values():
        names[provider.logins_key] = (*names.get(provider.logins_key, ()),
                                      provider.display_name)
    return names


def _state() -> AwsState:
    state = sessions.current_aws()
    if state is None or state.guest:
        raise FedlabError("signed_out")
    return state
