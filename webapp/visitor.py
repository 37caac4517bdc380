"""Who the visitor is, in the words every page's header shows: signed in (a name,
maybe a picture, the provider), a guest, or signed out.

The header is on every page, error pages included, so this reads only what the
session already holds (:func:`sessions.current_auth`, :func:`sessions.current_aws`)
and asks no provider anything. Which picture may be shown, and which mark stands
for the provider, is the provider's business (``Provider.picture_url``,
``Provider.mark``): the CSP's ``img-src`` allows only the origins the configured
providers serve pictures from, so a picture from anywhere else is left out rather
than shown broken.

Which page a visitor can use, and the words a page they cannot use yet is marked
with, are decided here once (:class:`Need`, :meth:`Visitor.lock`), for the
header's tabs and the storage levels' tabs alike (:class:`Tab`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from . import sessions
from .providers import registry
from .records import SignIn

Standing = Literal["signed_in", "guest", "signed_out"]


class Need(StrEnum):
    """Who may use a page: anyone; anyone with an AWS identity (a guest too, whose
    unauthenticated role reads public files); or only a signed-in visitor."""

    ANYONE = "anyone"
    AWS_IDENTITY = "aws_identity"
    SIGN_IN = "sign_in"


#: What a page the visitor cannot use yet is marked with: the step that opens it.
LOCK_WORDS: dict[Need, str] = {
    Need.AWS_IDENTITY: "sign in or continue as guest first",
    Need.SIGN_IN: "sign in first",
}


@dataclass(frozen=True)
class Visitor:
    """What the header says about the visitor."""

    standing: Standing
    #: The person's name as the provider gave it (else the e-mail, else the subject).
    name: str | None = None
    #: A picture URL the CSP lets the page load, when the provider gave one.
    picture: str | None = None
    #: The configured provider's display name ("Google, through Cognito").
    provider: str | None = None
    #: The mark drawn beside the provider's name (``templates/marks.html``).
    mark: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.standing == "signed_in"

    @property
    def guest(self) -> bool:
        return self.standing == "guest"

    def can_use(self, need: Need) -> bool:
        """Whether a page that needs ``need`` is this visitor's to use now."""
        if need is Need.SIGN_IN:
            return self.signed_in
        if need is Need.AWS_IDENTITY:
            return self.standing != "signed_out"
        return True

    def lock(self, need: Need) -> str | None:
        """Why this visitor cannot use a page that needs ``need`` yet, in the words
        every tab uses; None when they can."""
        return None if self.can_use(need) else LOCK_WORDS[need]


@dataclass(frozen=True)
class Tab:
    """A tab as a page's navigation shows it: the header's sections, a storage level."""

    label: str
    url: str
    #: The tab of the page being shown (``aria-current="page"``).
    current: bool
    #: Why the visitor cannot use it yet (:meth:`Visitor.lock`); None: usable.
    locked: str | None = None


def current() -> Visitor:
    """The visitor of this request, from the session alone."""
    auth = sessions.current_auth()
    return signed_in(auth) if auth is not None else Visitor(standing())


def standing() -> Standing:
    """Where the visitor stands, and nothing more: for what runs on every response
    (the no-store rule), which needs no name, picture or provider worked out."""
    if sessions.current_auth() is not None:
        return "signed_in"
    aws = sessions.current_aws()
    return "guest" if aws is not None and aws.guest else "signed_out"


def signed_in(auth: SignIn) -> Visitor:
    """A signed-in visitor: the verified claims first, then the userinfo answer
    (Facebook's and Amazon's profile, an OpenID provider that keeps the name there)."""
    profile = {**(auth.userinfo or {}), **auth.claims}
    name = next((str(profile[k]) for k in ("name", "email") if isinstance(profile.get(k), str)
                 and profile[k].strip()), auth.sub)
    provider = registry.providers().get(auth.provider)
    if provider is None:
        # A sign-in kept from a provider since removed from the configuration.
        return Visitor("signed_in", name=name, provider=auth.provider)
    return Visitor("signed_in", name=name, picture=provider.picture_url(auth),
                   provider=provider.display_name, mark=provider.mark)
