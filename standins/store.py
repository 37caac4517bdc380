"""In-memory records of one tenant: clients, users, codes, tokens, consents.

The record classes implement authlib's model mixins so authlib's grants can
use them directly. Everything lives in dicts guarded by one lock per tenant:
the stand-ins are a dev tool and a restart is meant to forget everything.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin


@dataclass
class User:
    """A person as one tenant knows them (``sub`` differs per tenant)."""

    key: str
    sub: str
    username: str
    email: str
    name: str
    password: str = ""
    groups: tuple[str, ...] = ()
    #: The Google Workspace domain of the account (Google's ``hd``); None: personal.
    hosted_domain: str | None = None
    #: Claims only some users have, e.g. Cognito's ``identities`` for federated users.
    extra_claims: dict[str, Any] = field(default_factory=dict)

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def family_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""

    def get_user_id(self) -> str:
        return self.sub


@dataclass
class SignedInUser:
    """The user plus facts about this sign-in, handed to authlib as ``grant_user``."""

    user: User
    auth_time: int
    sid: str
    #: True when the consent page was shown in this authorization (Google's
    #: rule for issuing a refresh token again).
    consent_shown: bool = False

    def get_user_id(self) -> str:
        return self.user.sub


@dataclass
class Client(ClientMixin):
    """An app client as registered in the tenant's console."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    logout_uris: list[str]
    default_scope: str = "openid"
    #: Where logout tokens go (Back-Channel Logout 1.0), if the client registered one.
    backchannel_logout_uri: str | None = None
    #: Registered by the stand-ins themselves (Cognito's federation to Google/Facebook).
    internal: bool = False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # every provider here insists on an explicit redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or self.default_scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client_secret) and hmac.compare_digest(
            self.client_secret.encode(), client_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # apple_client_secret: Apple's signed JWT in the form (standins/apple.py).
        return method in ("client_secret_basic", "client_secret_post", "token_owner",
                          "apple_client_secret")

    def check_response_type(self, response_type: str | None) -> bool:
        return response_type in (None, "code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token", "fb_exchange_token")


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_key: str
    auth_time: int
    sid: str
    expires_at: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    #: Provider-specific authorize parameters kept for the token step
    #: (``access_type``, ``audience``, whether consent was shown...).
    extras: dict[str, Any] = field(default_factory=dict)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    client_id: str
    user_key: str
    scope: str
    access_token: str
    issued_at: float
    expires_in: int
    auth_time: int
    sid: str
    refresh_token: str | None = None
    access_revoked: bool = False
    refresh_revoked: bool = False
    #: The refresh token was spent by a refresh that rotated it.
    rotated: bool = False
    #: The refresh token this access token was refreshed from, if any.
    family: str | None = None
    #: The nonce of the sign-in that started the grant.
    nonce: str | None = None

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self, now: float | None = None) -> bool:
        return now is not None and now >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.access_revoked


class Store:
    """All mutable records of one tenant."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {}
        self.users: dict[str, User] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.by_access: dict[str, Token] = {}
        self.by_refresh: dict[str, Token] = {}
        #: (user key, client id) pairs that have said "Allow" before.
        self.consents: set[tuple[str, str]] = set()

    def clear_grants(self) -> None:
        """Forget codes, tokens and consents (users and clients stay)."""
        with self.lock:
            self.codes.clear()
            self.by_access.clear()
            self.by_refresh.clear()
            self.consents.clear()

    def save_token(self, token: Token) -> None:
        with self.lock:
            self.by_access[token.access_token] = token
            if token.refresh_token:
                self.by_refresh[token.refresh_token] = token

    def find_user(self, username: str) -> User | None:
        for user in self.users.values():
            if user.username == username or user.email == username:
                return user
        return None
