"""One tenant: a provider flavour plus its runtime state.

The state is what the control API can poke at: clients, users, codes and
tokens (the store), signing keys, active faults, a clock offset, and counts of
the requests served. Token *content* comes from the flavour; the tenant adds
the time, applies the claim faults and signs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from authlib.oidc.core.util import create_half_hash

from .faults import FaultBoard, apply_claim_faults
from .keys import KeyRing
from .settings import Behaviour, GroupOverride, GroupSpec, Settings
from .store import AuthorizationCode, Client, SignedInUser, Store, Token, User

if TYPE_CHECKING:
    from .flavour import Flavour
    from .oauth_server import TenantAuthorizationServer

EventSink = Callable[[dict[str, Any]], None]

#: Claims of the email and profile scopes (OpenID Connect Core 5.4): in userinfo
#: only, not the id token, for a tenant whose behaviour says so.
USERINFO_ONLY_CLAIMS = ("email", "email_verified", "name", "given_name", "family_name",
                        "nickname", "picture", "preferred_username", "updated_at")


class Tenant:
    #: The switches in force: the flavour's defaults under the settings' own
    #: (set by :meth:`reset`, and by the control API).
    behaviour: Behaviour
    #: The user pool's groups (Cognito's): the settings', as the control API left them.
    groups: tuple[GroupSpec, ...]
    #: Cognito's pre token generation trigger, when the control API sets one.
    group_override: GroupOverride | None

    def __init__(self, flavour: Flavour, settings: Settings, events: EventSink,
                 key_size: int = 2048) -> None:
        from .oauth_server import build_server

        self.flavour = flavour
        self.name = flavour.name
        self.settings = settings
        self._events = events
        self.store = Store()
        self.keys = KeyRing(key_size)
        self.faults = FaultBoard()
        self.skew_seconds = 0.0
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        #: Clients the stand-ins register for themselves (Cognito's federation).
        self.internal_clients: dict[str, Client] = {}
        #: Cognito only: its federation to the other tenants (set by the factory).
        self.federation: Any = None
        self.server: TenantAuthorizationServer = build_server(self)
        self.reset()

    # -- state the control API restores ------------------------------------

    def reset(self) -> None:
        """Back to the state at start: settings' clients, users and behaviour, first
        key, no faults, the settings' groups and no pre token generation trigger."""
        self.faults.clear()
        self.groups = self.settings.groups
        self.group_override = None
        self.behaviour = replace(self.flavour.behaviour,
                                 **self.settings.behaviour.get(self.name, {}))
        self.keys.reset()
        self.skew_seconds = 0.0
        self.reset_calls()
        with self.store.lock:
            self.store.clear_grants()
            self.store.clients = {
                spec.client_id: Client(
                    client_id=spec.client_id,
                    client_secret=spec.client_secret,
                    redirect_uris=list(spec.redirect_uris),
                    logout_uris=list(spec.logout_uris),
                    default_scope=self.flavour.default_scope,
                    backchannel_logout_uri=spec.backchannel_logout_uri,
                )
                for spec in self.settings.clients
                if spec.tenant == self.name
            }
            for client in self.internal_clients.values():
                self.store.clients[client.client_id] = Client(**vars(client))
            self.store.users = {
                spec.key: User(
                    key=spec.key,
                    sub=self.flavour.make_sub(spec.key),
                    username=spec.username,
                    email=spec.email,
                    name=spec.name,
                    password=spec.password,
                    groups=spec.groups,
                    hosted_domain=spec.hosted_domain,
                )
                for spec in self.settings.users
            }

    def register_internal_client(self, client: Client) -> None:
        self.internal_clients[client.client_id] = client
        self.store.clients[client.client_id] = Client(**vars(client))

    # -- clock, counters, events --------------------------------------------

    def now(self) -> float:
        return time.time() + self.skew_seconds

    def count(self, endpoint: str) -> None:
        with self._calls_lock:
            self._calls[endpoint] += 1

    def calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def record_event(self, event: str, **details: Any) -> None:
        self._events({"tenant": self.name, "event": event, "time": int(time.time()), **details})

    # -- URLs -----------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.flavour.issuer

    def iss_parameter(self) -> str | None:
        """The RFC 9207 ``iss`` to put on authorization responses, if any."""
        if "wrong_iss_param" in self.faults:
            return "https://issuer.invalid/not-this-provider"
        if self.flavour.sends_iss_parameter or "iss_param" in self.faults:
            return self.issuer
        return None

    # -- tokens ----------------------------------------------------------------

    def generate_token(self, grant_type: str, client: Client, user: SignedInUser | None = None,
                       scope: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        """authlib's token generator: the bearer token dict, before the id token is added."""
        lifetime = int(expires_in or self.settings.token_lifetime)
        scope = scope or ""
        assert user is not None
        token: dict[str, Any] = {
            "access_token": self.flavour.make_access_token(self, client, user, scope, lifetime),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = self.flavour.make_refresh_token()
        return token

    def make_id_token(self, *, client: Client, signed_in: SignedInUser, access_token: str,
                      scope: str, nonce: str | None, refreshed_from: Token | None = None,
                      ) -> str:
        now = int(self.now())
        lifetime = self.settings.token_lifetime
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": signed_in.user.sub,
            "aud": client.client_id,
            "iat": now,
            "exp": now + lifetime,
            "auth_time": signed_in.auth_time,
            "at_hash": create_half_hash(access_token, "RS256").decode(),
        }
        if refreshed_from is not None and "refresh_keeps_nonce" in self.faults:
            # OIDC Core 12.2 (errata): a refreshed id token may leave the nonce out,
            # or carry the sign-in's; most providers leave it out, this one carries it.
            nonce = refreshed_from.nonce
        if nonce:
            claims["nonce"] = nonce
        claims = self.flavour.id_token_claims(self, claims, signed_in, scope)
        if not self.behaviour.profile_in_id_token:
            # An access token is always issued here, so these come from userinfo.
            claims = {k: v for k, v in claims.items() if k not in USERINFO_ONLY_CLAIMS}
        claims = apply_claim_faults(claims, self.faults.names(), client_id=client.client_id,
                                    lifetime=lifetime, now=now)
        if refreshed_from is not None and "refresh_other_sub" in self.faults:
            # Well formed and well signed, only about someone else: what only the
            # client's comparison with the sign-in's token can catch.
            claims["sub"] = self.flavour.make_sub("someone-else")
        return self.sign(claims)

    def granted_scope(self, requested: str | None, prompt: str) -> str | None:
        """The scope this tenant grants for ``requested`` (already normalised)."""
        if requested is None:
            return None
        scopes = requested.split()
        if self.behaviour.drops_unknown_scopes:
            scopes = [s for s in scopes if s in self.flavour.scopes_supported]
        if self.behaviour.offline_access_needs_consent and "consent" not in prompt.split():
            scopes = [s for s in scopes if s != "offline_access"]
        return " ".join(scopes)

    def issues_refresh_token(self, code: AuthorizationCode) -> bool:
        if self.behaviour.offline_access_needs_consent and (
                "offline_access" not in (code.scope or "").split()):
            return False
        return self.flavour.issues_refresh_token(code)

    def sign(self, claims: dict[str, Any]) -> str:
        return self.keys.sign(claims, self.faults.names(),
                              crafted=self.faults.listing().get("jws_header"))

    def find_token(self, value: str, kinds: Collection[str] = ("access_token", "refresh_token"),
                   ) -> Token | None:
        if "access_token" in kinds and (record := self.store.by_access.get(value)):
            return record
        if "refresh_token" in kinds and (record := self.store.by_refresh.get(value)):
            return record
        return None

    def bearer_token(self, value: str) -> Token | None:
        """The live token behind an access token, or None if unknown, expired or revoked."""
        record = self.store.by_access.get(value)
        if record is None or record.access_revoked or record.is_expired(self.now()):
            return None
        return record

    def revoke_grant(self, record: Token) -> None:
        """Revoke every token of ``record``'s grant (its sign-in at its client): what
        a rotating provider does when a used refresh token comes back (reuse)."""
        with self.store.lock:
            for other in [*self.store.by_access.values(), *self.store.by_refresh.values()]:
                if (other.sid, other.client_id) == (record.sid, record.client_id):
                    other.access_revoked = other.refresh_revoked = True

    def revoke(self, record: Token, presented: str) -> str:
        """Revoke what ``presented`` names; a refresh token takes its access tokens along."""
        with self.store.lock:
            if presented == record.refresh_token:
                record.refresh_revoked = True
                record.access_revoked = True
                for other in self.store.by_access.values():
                    if other.family == presented:
                        other.access_revoked = True
                return "refresh_token"
            record.access_revoked = True
            if self.flavour.revoking_access_revokes_grant and record.refresh_token:
                record.refresh_revoked = True
            return "access_token"

    def user_by_key(self, key: str) -> User | None:
        return self.store.users.get(key)


def stable_digits(seed: str, length: int) -> str:
    """``length`` decimal digits derived from ``seed`` (stable across restarts)."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    digits = str(digest).rjust(length, "0")[-length:]
    return "1" + digits[1:]
