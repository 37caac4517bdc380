"""Sign in with Apple, with a Services ID and the site's own Apple key.

Quirks owned here:

- The scopes are ``name`` and ``email``, never ``openid``; Apple still returns an
  id token, so a nonce is sent on every request (:attr:`ID_TOKEN_WITHOUT_OPENID`).
- Asking for either scope makes Apple answer with ``response_mode=form_post``: a
  cross-site POST that the ``SameSite=Lax`` session cookie does not accompany
  (webapp/providers/base.py, "How a callback arrives").
- The visitor's name comes only in that POST's ``user`` field (JSON
  ``{"name": {"firstName", "lastName"}, "email"}``), and only on the first
  authorization of this app by this person: it is kept server-side under the
  state (:attr:`FORM_POST_EXTRAS`), and its name part is read only once the id
  token verified (:meth:`with_form_post_extras`). The e-mail is the id token's.
- The client secret is an ES256 JWT the site signs with its Apple key and renews
  by itself (:mod:`.apple_client_secret`); there is no secret to configure.
- ``email_verified`` and ``is_private_email`` may be the strings "true"/"false"
  or booleans; the e-mail may be a private relay address
  (``...@privaterelay.appleid.com``), which the account page says.
- No userinfo endpoint and no end-session endpoint: signing out of the site
  revokes the refresh token and leaves the Apple ID session alone.
- The user cancelling answers ``error=user_cancelled_authorize``.
- On an Identity Pool, Apple is the supported login provider ``appleid.apple.com``
  with the Services ID as its app id.

PKCE: Apple does not document PKCE for the web flow (its discovery document names
no ``code_challenge_methods_supported``), though library authors report that it
refuses a code exchange without the ``code_verifier`` once a challenge was sent.
The site sends both all the same (RFC 9700 2.1.1; a server that does not know
the parameters ignores them) and does not rely on them: the code is bound to
this browser's sign-in by the nonce, which Apple puts in the id token and which
is checked (RFC 9700 2.1.1 accepts the nonce in PKCE's place for OpenID Connect
clients), and the token request is authenticated by the signed client secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..records import Verified
from . import apple_client_secret
from .apple_client_secret import AppleKeyError, ClientSecretJWT, load_p256_key, public_pem
from .base import (
    PoolRegistration,
    PoolTemplate,
    ProviderConfigError,
    SignOut,
    TemplateParameter,
    url_setting,
)
from .console import Form
from .oidc import OpenIDConnect, refresh_token_of

if TYPE_CHECKING:
    from ..oauth import ProviderClient
    from ..records import SignIn

ISSUER = "https://appleid.apple.com"
#: Apple's key in an Identity Pool's ``Logins`` map and ``SupportedLoginProviders``.
LOGINS_DOMAIN = "appleid.apple.com"
#: The domain of Apple's private relay addresses ("Hide My Email").
PRIVATE_RELAY_DOMAIN = "@privaterelay.appleid.com"
#: What Apple's team and key ids look like: ten upper-case letters and digits.
APPLE_ID_LENGTH = 10
#: The most characters of each name part kept.
NAME_LIMIT = 100
#: The most characters of the ``user`` field kept between the POST and the GET.
USER_FIELD_LIMIT = 1024
#: ``real_user_status``: 0 unsupported, 1 unknown, 2 likely real.
REAL_USER_STATUS = {0: "not reported on this platform", 1: "unknown", 2: "likely a real person"}


class Apple(OpenIDConnect):
    """Sign in with Apple for the web: a Services ID (the client id), the team id, and
    a Sign in with Apple key (its id, and the private key as a PEM)."""

    KIND: ClassVar[str] = "apple"
    DISPLAY_NAME: ClassVar[str] = "Apple"
    #: Sign in with Apple gives a name and an e-mail, never a picture.
    MARK: ClassVar[str] = "apple"
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("name", "email")
    RESPONSE_MODE: ClassVar[str] = "form_post"
    FORM_POST_EXTRAS: ClassVar[Mapping[str, int]] = {"user": USER_FIELD_LIMIT}
    ID_TOKEN_WITHOUT_OPENID: ClassVar[bool] = True
    TAKES_CLIENT_SECRET: ClassVar[bool] = False
    KEYS: ClassVar[Mapping[str, str]] = {
        "team_id": "the Apple developer team id (ten characters, top right of the "
                   "developer account): the client secret's iss",
        "key_id": "the id of the Sign in with Apple key (Certificates, Identifiers & "
                  "Profiles > Keys): the client secret's kid",
        "private_key": "that key's .p8 contents (a P-256 PEM), from the secrets file or "
                       "the environment; never in a committed file",
        "private_key_file": "or the path of that .p8 file",
        "secret_lifetime": "seconds each client secret is valid, at most 15777000 "
                           "(six months); default 15552000 (180 days)",
        "issuer": "optional override of https://appleid.apple.com (a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Certificates, Identifiers & Profiles > Identifiers > your Services ID > "
                    "Sign in with Apple > Configure: Return URLs",
        "sign_out": None,
        "origin": "the same page: Domains and Subdomains",
    }
    #: Domains and Subdomains takes host names (``site.example``); Return URLs whole URLs.
    CONSOLE_FORMS: ClassVar[Mapping[str, Form]] = {"origin": Form.HOST}
    #: Apple sends no logout tokens (its server notifications are another protocol).
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = False
    URL_KEYS: ClassVar[tuple[str, ...]] = ("issuer",)

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        issuer = url_setting(raw, "issuer", ISSUER)
        team_id = apple_id(raw, "team_id")
        key_id = apple_id(raw, "key_id")
        key = private_key(raw)
        lifetime = raw.get("secret_lifetime", apple_client_secret.DEFAULT_LIFETIME)
        if isinstance(lifetime, str) and lifetime.strip().isascii() \
                and lifetime.strip().isdigit():  # from the environment: text
            lifetime = int(lifetime)
        if (isinstance(lifetime, bool) or not isinstance(lifetime, int)
                or not 60 <= lifetime <= apple_client_secret.MAX_LIFETIME):
            raise ProviderConfigError(
                f".secret_lifetime: seconds from 60 to {apple_client_secret.MAX_LIFETIME} "
                f"(six months, the most Apple accepts)")
        minter = ClientSecretJWT(key, team_id=team_id, key_id=key_id,
                                 client_id=str(raw.get("client_id", "")), lifetime=lifetime)
        return {
            "issuer": issuer,
            "token_auth_method": apple_client_secret.METHOD,
            "client_auth_methods": ((apple_client_secret.METHOD, minter),),
            # The public half and ids are what the provider's console holds: the
            # stand-in registers them to check the secrets it is sent.
            "settings": {"team_id": team_id, "key_id": key_id,
                         "public_key": public_pem(key), "secret_lifetime": lifetime},
        }

    @classmethod
    def demo_secrets(cls) -> dict[str, str]:
        """A new P-256 key for the demo's secrets file (Apple's console makes the real one)."""
        key = ec.generate_private_key(ec.SECP256R1())
        return {"private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()}

    @property
    def minter(self) -> ClientSecretJWT:
        return dict(self.client_auth_methods)[apple_client_secret.METHOD]  # type: ignore[no-any-return]

    # -- the id token -----------------------------------------------------------------

    def validate(self, client: ProviderClient, id_token: str, *, access_token: str | None,
                 nonce: str | None, require_nonce: bool = True) -> dict[str, Any]:
        """The OpenID Connect checks, then Apple's string booleans read as booleans:
        ``"false"`` is false, never a non-empty (true) string."""
        claims = super().validate(client, id_token, access_token=access_token, nonce=nonce,
                                  require_nonce=require_nonce)
        for name in ("email_verified", "is_private_email", "nonce_supported"):
            if name in claims:
                claims[name] = apple_bool(claims[name])
        return claims

    def with_form_post_extras(self, who: Verified, extras: Mapping[str, str]) -> Verified:
        """The name from the first sign-in's ``user`` field, once the id token verified.

        Only the name is read: the e-mail is the id token's (signed), never the
        form's. A field that is not the JSON Apple sends is ignored."""
        name = user_name(extras.get("user"))
        if not name:
            return who
        given, family = name
        full = " ".join(part for part in (given, family) if part)
        profile = {"sub": who.sub, "name": full, "given_name": given, "family_name": family}
        return msgspec.structs.replace(who, userinfo={**(who.userinfo or {}), **profile})

    def authorization_error_code(self, error: str) -> str:
        """Apple's ``user_cancelled_authorize`` is RFC 6749's ``access_denied``."""
        return "access_denied" if error == "user_cancelled_authorize" else error

    def profile_rows(self, claims: Mapping[str, Any]) -> list[tuple[str, str]]:
        rows = []
        email = str(claims.get("email") or "")
        if claims.get("is_private_email") is True or email.endswith(PRIVATE_RELAY_DOMAIN):
            rows.append(("Private relay", "yes: Apple's Hide My Email address, which forwards "
                         "to the person's own; it is not who they are"))
        status = claims.get("real_user_status")
        if isinstance(status, int) and status in REAL_USER_STATUS:
            rows.append(("Real user status", REAL_USER_STATUS[status]))
        return rows

    # -- signing out ----------------------------------------------------------------------

    def revocation(self, client: ProviderClient, refresh_token: str | None,
                   endpoint: str | None = None) -> tuple[str, dict[str, str], Any] | None:
        """Apple's ``/auth/revoke``: the token, with ``client_id`` and a client secret
        (the JWT) in the form."""
        endpoint = endpoint or client.metadata.get("revocation_endpoint")
        if not refresh_token or not endpoint:
            return None
        return endpoint, {"client_id": self.client_id, "client_secret": self.minter.secret(),
                          "token": refresh_token, "token_type_hint": "refresh_token"}, None

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        return SignOut(None, self.revocation(client, refresh_token_of(auth)),
                       "You were signed out of this site and its refresh token was revoked; "
                       "Apple has no sign-out endpoint, so your Apple ID stays signed in "
                       "in this browser.")

    # -- the Identity Pool ----------------------------------------------------------------

    #: A supported login provider: the pool checks the id token's ``aud`` (the
    #: Services ID) itself; no role mapping (no Apple claim says "staff").
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(
            PoolRegistration.LOGIN_PROVIDER, name="Apple", provider=LOGINS_DOMAIN,
            client_id=TemplateParameter(
                "AppleServicesId", "Optional: the Sign in with Apple Services ID "
                "(com.example.web; the id token's aud)"),
        ),
    )

    @property
    def logins_key(self) -> str:
        return LOGINS_DOMAIN

    def pool_provider(self) -> dict[str, Any]:
        return {"logins_key": self.logins_key, "type": "oidc",
                "issuer": self.issuer, "client_ids": [self.client_id]}


def apple_id(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or len(value) != APPLE_ID_LENGTH or not value.isalnum():
        raise ProviderConfigError(f".{key}: missing or not ten letters and digits; "
                                  f"{Apple.KEYS[key]}")
    return value


def private_key(raw: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey:
    """The key from ``private_key`` (PEM text) or ``private_key_file`` (its path)."""
    if raw.get("private_key") and raw.get("private_key_file"):
        raise ProviderConfigError(".private_key_file: give the key or its file, not both")
    key = "private_key"
    pem = raw.get("private_key")
    if not pem and raw.get("private_key_file"):
        key = "private_key_file"
        try:
            pem = Path(str(raw["private_key_file"])).read_text()
        except OSError as e:
            raise ProviderConfigError(f".private_key_file: cannot be read ({e.strerror})") \
                from None
    if not pem or not isinstance(pem, str):
        raise ProviderConfigError(f".private_key: missing; {Apple.KEYS['private_key']} "
                                  f"(or private_key_file)")
    try:
        return load_p256_key(pem)
    except AppleKeyError as e:
        raise ProviderConfigError(f".{key}: {e}") from None


def apple_bool(value: Any) -> Any:
    """Apple's booleans: ``true``/``false``, or the strings ``"true"``/``"false"``."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def user_name(field: str | None) -> tuple[str, str] | None:
    """``(firstName, lastName)`` of Apple's ``user`` JSON, bounded; None if absent or
    not that shape."""
    if not field:
        return None
    try:
        user = json.loads(field)
    except ValueError:
        return None
    name = user.get("name") if isinstance(user, dict) else None
    if not isinstance(name, dict):
        return None
    parts = tuple(str(name.get(k) or "").strip()[:NAME_LIMIT]
                  for k in ("firstName", "lastName"))
    return (parts[0], parts[1]) if any(parts) else None
