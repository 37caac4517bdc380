"""Sign in with Apple, as a Services ID on the web sees it.

Quirks owned here: the scopes are ``name`` and ``email`` (no ``openid``) and the
id token comes all the same; asking for either requires
``response_mode=form_post`` (anything else is Apple's ``invalid_request`` page);
the name is posted once, in the form's ``user`` field (JSON), on the first
authorization of the app by that person, never in the id token; the client
secret is an ES256 JWT signed with the app's registered key (header ``kid``;
``iss`` the team id, ``sub`` the client id, ``aud`` https://appleid.apple.com,
at most six months between ``iat`` and ``exp``), checked with the public key
registered for that key id, else ``invalid_client`` (Cognito's own client,
when it federates here, signs with a key of the user pool's, as Cognito does);
``email_verified`` and ``is_private_email`` are the strings "true"/"false"; a
person who chose Hide My Email (:data:`HIDE_MY_EMAIL`) gets a private relay
address; ``real_user_status``; no userinfo endpoint, no end-session endpoint;
"Cancel" answers
``error=user_cancelled_authorize``. Every client secret checked is an event
(``client_secret``: its ``iat``, whether it passed, and the secret itself, so a test
can look for it where it must not be; events are only ever read by the control API).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749.errors import InvalidClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from .flavour import Flavour
from .oauth_server import CodeGrant, RefreshGrant
from .store import Client, SignedInUser, User
from .tenant import stable_digits

if TYPE_CHECKING:
    from authlib.oauth2 import OAuth2Request

    from .tenant import Tenant

#: The ``aud`` every client secret must have (Apple's own, whatever the base URL).
AUDIENCE = "https://appleid.apple.com"
#: The longest a client secret may live: six months.
MAX_SECRET_LIFETIME = 15777000
#: The name of the client-authentication method the token and revoke endpoints take.
AUTH_METHOD = "apple_client_secret"
#: The team and key ids of the key Cognito's user pool signs its client secret with.
FEDERATION_TEAM_ID, FEDERATION_KEY_ID = "COGNITOIDP", "COGNITOKEY"
#: The people who chose "Hide My Email" at the stand-in: their address is a relay.
HIDE_MY_EMAIL = ("carol",)
RELAY_DOMAIN = "privaterelay.appleid.com"


class AppleCodeGrant(CodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]  # noqa: RUF012 - authlib's class attribute


class AppleRefreshGrant(RefreshGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]  # noqa: RUF012 - authlib's class attribute


class Apple(Flavour):
    name = "apple"
    brand = "Apple"
    colour = "#000"
    default_scope = ""
    federation_scope = "name email"
    federation_response_mode = "form_post"
    federation_reads_userinfo = False
    scopes_supported = ("openid", "name", "email")
    claims_supported = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
                        "nonce_supported", "at_hash", "email", "email_verified",
                        "is_private_email", "real_user_status")
    revoke_auth_methods = (AUTH_METHOD,)
    denial: ClassVar[dict[str, str | None]] = {"error": "user_cancelled_authorize",
                                               "error_description": None}
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("invalid_client", "Invalid client id or web redirect url."),
        "redirect_mismatch": ("invalid_request", "Invalid web redirect url."),
        "bad_request": ("invalid_request", "Your request could not be completed."),
    }

    @property
    def issuer(self) -> str:
        return f"{self.base}/apple"

    def paths(self) -> dict[str, str]:
        return {
            "authorize": "/apple/auth/authorize",
            "token": "/apple/auth/token",
            "jwks": "/apple/auth/keys",
            "revoke": "/apple/auth/revoke",
            "discovery": "/apple/.well-known/openid-configuration",
        }

    def discovery(self, tenant: Tenant) -> dict[str, Any]:
        """Apple's document: no userinfo endpoint, form_post, client_secret_post."""
        document = super().discovery(tenant)
        del document["code_challenge_methods_supported"]
        return {**document, "response_modes_supported": ["query", "fragment", "form_post"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"]}

    def allowed_response_modes(self, scope: str) -> tuple[str, ...]:
        """Asking for the name or e-mail requires ``form_post``."""
        if {"name", "email"} & set(scope.split()):
            return ("form_post",)
        return self.response_modes

    def make_sub(self, user_key: str) -> str:
        digits = stable_digits(f"apple#{user_key}", 38)
        return f"00{digits[:4]}.{digits[4:36]}.{digits[36:]}"

    def normalise_scope(self, scope: str) -> str:
        # The id token comes whatever the scope (authlib issues it for openid only).
        return scope if "openid" in scope.split() else " ".join(["openid", *scope.split()])

    def shape_token_response(self, token: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in token.items() if k != "scope"}

    def email_of(self, user: User) -> str:
        if user.key in HIDE_MY_EMAIL:
            return f"{stable_digits('relay#' + user.key, 10)}@{RELAY_DOMAIN}"
        return user.email

    def profile_claims(self, user: User, scope: str) -> dict[str, Any]:
        if "email" not in scope.split():
            return {}
        hidden = user.key in HIDE_MY_EMAIL
        return {"email": self.email_of(user), "email_verified": "true",
                "is_private_email": "true" if hidden else "false"}

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        claims = super().id_token_claims(tenant, claims, signed_in, scope)
        return {**claims, "nonce_supported": True, "real_user_status": 2}

    def first_authorization_fields(self, user: User, scope: str) -> dict[str, str]:
        """The ``user`` field, on the first authorization only, when ``name`` was asked."""
        if "name" not in scope.split():
            return {}
        return {"user": json.dumps({"name": {"firstName": user.given_name,
                                             "lastName": user.family_name},
                                    "email": self.email_of(user)})}

    def federated_name(self, form: Mapping[str, str]) -> str:
        """The name in the posted ``user`` JSON, as Cognito maps it; "" if none."""
        try:
            name = json.loads(form.get("user") or "{}").get("name") or {}
            return " ".join(str(name.get(k) or "") for k in ("firstName", "lastName")).strip()
        except (ValueError, AttributeError):
            return ""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        #: The key Cognito's user pool holds for its SignInWithApple provider (an
        #: operator uploads a Sign in with Apple key there): Cognito signs the client
        #: secret of its own client with it, as the site signs its own.
        self._federation_key = ec.generate_private_key(ec.SECP256R1())
        self.federation_registration = {
            "team_id": FEDERATION_TEAM_ID, "key_id": FEDERATION_KEY_ID,
            "public_key": self._federation_key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode()}

    def federation_client_secret(self, client: Client) -> str:
        """The ES256 JWT Cognito sends as its client's secret."""
        now = int(time.time())
        claims = {"iss": FEDERATION_TEAM_ID, "iat": now, "exp": now + 3600, "aud": AUDIENCE,
                  "sub": client.client_id}
        key = ECKey.import_key(self._federation_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return jwt.encode({"alg": "ES256", "kid": FEDERATION_KEY_ID}, claims, key)

    def grant_types(self) -> list[tuple[type, bool]]:
        return [(AppleCodeGrant, True), (AppleRefreshGrant, True)]

    def client_auth_methods(self, tenant: Tenant) -> dict[str, Callable[..., Any]]:
        return {AUTH_METHOD: lambda query_client, request: authenticate(
            tenant, query_client, request)}


def authenticate(tenant: Tenant, query_client: Callable[[str], Client | None],
                 request: OAuth2Request) -> Client | None:
    """``client_id`` and the JWT ``client_secret`` from the form, checked as Apple does
    with the key registered for the client: the app's (the ``apple`` settings), or,
    for Cognito's own client, the key its user pool signs with."""
    form = request.form
    client = query_client(form.get("client_id", ""))
    secret = form.get("client_secret", "")
    if client is None or not secret:
        return None
    flavour: Apple = tenant.flavour  # type: ignore[assignment]
    registered = (flavour.federation_registration if client.internal
                  else tenant.settings.tenant_settings.get(tenant.name, {}))
    problem, iat = check_client_secret(tenant, registered, client.client_id, secret)
    tenant.record_event("client_secret", client_id=client.client_id, iat=iat,
                        accepted=problem is None, problem=problem, secret=secret)
    if problem is not None:
        raise InvalidClientError(description=problem)
    return client


def check_client_secret(tenant: Tenant, registered: Mapping[str, Any], client_id: str,
                        secret: str) -> tuple[str | None, Any]:
    """Why ``secret`` is refused (None: it is good), and its ``iat``; ``registered``
    holds the team id, key id and public key the console has for the client."""
    if not registered.get("public_key"):
        return "no key is registered for this team", None
    try:
        key = ECKey.import_key(registered["public_key"])
        token = jwt.decode(secret, key, algorithms=["ES256"])
    except (JoseError, ValueError) as e:
        return f"the signature does not verify ({type(e).__name__})", None
    claims, iat = token.claims, token.claims.get("iat")
    now = tenant.now()
    checks = [
        (token.header.get("kid") == registered.get("key_id"), "kid is not the registered key"),
        (claims.get("iss") == registered.get("team_id"), "iss is not the team id"),
        (claims.get("sub") == client_id, "sub is not the client id"),
        (claims.get("aud") == AUDIENCE, f"aud is not {AUDIENCE}"),
        (isinstance(iat, int) and iat <= now + 60, "iat is missing or in the future"),
        (isinstance(claims.get("exp"), int) and claims["exp"] > now, "the secret has expired"),
        (isinstance(iat, int) and isinstance(claims.get("exp"), int)
         and claims["exp"] - iat <= MAX_SECRET_LIFETIME, "exp is more than six months after iat"),
    ]
    for ok, problem in checks:
        if not ok:
            return problem, iat
    return None, iat

