"""What the plain OAuth 2 kinds share: without an id token, the access token speaks.

Facebook and Login with Amazon are not OpenID Connect on the web: no id token,
no discovery, no end-session endpoint. How each makes sure an access token was
issued to this client before anyone is signed in (Graph's ``debug_token``,
Amazon's token-info) is its own, in its class. What follows from having only
an access token is the same for both, and said once here: the Identity Pool
takes the access token as the ``Logins`` value (and asks the provider about
it), asking the provider again about the visitor needs one, and signing out
ends this site's session only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..errors import FedlabError
from .base import Provider, SignOut

if TYPE_CHECKING:
    from ..oauth import ProviderClient
    from ..records import SignIn


class PlainOAuth2(Provider):
    """A provider kind with no id token (no ``KIND`` here: not a kind itself)."""

    #: The kind's key in an Identity Pool's ``Logins`` map and ``SupportedLoginProviders``.
    LOGINS_KEY: ClassVar[str]

    @property
    def logins_key(self) -> str:
        return self.LOGINS_KEY

    def logins(self, auth: SignIn) -> dict[str, str]:
        """No id token: the Identity Pool takes the access token, and asks the
        provider whether it is this app's."""
        return {self.logins_key: auth.tokens.access_token or ""}

    def held_access_token(self, auth: SignIn) -> str:
        """The access token to ask the provider about the visitor again with."""
        if not auth.tokens.access_token:
            raise FedlabError("userinfo_unavailable", provider=self.name,
                              detail="no access token is held")
        return auth.tokens.access_token

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        """App-only: the provider has no sign-out redirect for websites."""
        return SignOut(None, None, f"You were signed out of this site only: "
                                   f"{self.DISPLAY_NAME} has no sign-out redirect for "
                                   f"websites, so you are still signed in to "
                                   f"{self.DISPLAY_NAME}.")
