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

from flask import current_app

from . import sessions
from .config import Operator


def visitor() -> Operator | None:
    """The signed-in visitor as an operator would be named, whoever they are.
    Signed in now: a sign-in ended by a refused refresh, or whose tokens expired
    with no way to renew them, names nobody (:func:`webapp.sessions.live_auth`)."""
    auth = sessions.live_auth()
    if not auth or not auth.get("iss") or not auth.get("sub"):
        return None
    return Operator(str(auth["iss"]), str(auth["sub"]))


def current() -> Operator | None:
    """The signed-in visitor if the configuration names them an operator."""
    person = visitor()
    configured = current_app.config["FEDLAB"]["diagnostics"]["operators"]
    return person if person is not None and person in configured else None
