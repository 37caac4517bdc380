"""Who operates this site: people named in configuration by issuer and subject.

Live checks call every provider with this site's client credentials, so only an
operator, signed in now, may start them. A person is named by the issuer and subject
of their verified sign-in (never by e-mail, which a provider may let anyone
claim), as ``diagnostics.operators`` lists them::

    [[diagnostics.operators]]
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
    subject = "5e7b04c7-9c8d-5f5f-9b78-aa79310340b9"

or, in the environment, ``FEDLAB_DIAGNOSTICS__OPERATORS="<issuer> <subject>, ..."``
(read into :class:`~webapp.config.Operator` records by :mod:`webapp.config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import sessions
from .config import Operator, settings
from .records import SignIn


@dataclass(frozen=True)
class Viewer:
    """Who asks, read once per request: a page that shows who they are, decides
    whether they may run the checks, and hands their sign-in to the checks reads
    this one record, not the session (and the tokens' expiry) each time."""

    #: The sign-in if it holds now (:func:`webapp.sessions.live_auth`), else None:
    #: one ended by a refused refresh, or whose tokens expired with no way to
    #: renew them, names nobody.
    auth: SignIn | None
    #: The person as an operator would be named, whoever they are.
    person: Operator | None
    #: The same person if the configuration names them an operator, else None.
    operator: Operator | None


def viewer() -> Viewer:
    """Who this request comes from, and whether they operate this site."""
    auth = sessions.live_auth()
    person = None
    if auth is not None and auth.iss and auth.sub:
        person = Operator(auth.iss, auth.sub)
    configured = settings().diagnostics.operators
    operator = person if person is not None and person in configured else None
    return Viewer(auth, person, operator)
