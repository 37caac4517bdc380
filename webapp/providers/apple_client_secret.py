"""Sign in with Apple's client secret: an ES256 JWT the site signs with its own key.

Apple gives no fixed client secret. The site holds a private key made in the
Apple developer console (P-256, "Sign in with Apple" enabled; its key id and
the team id beside it) and signs a short JWT with it: header ``alg`` ES256 and
``kid`` the key id; claims ``iss`` the team id, ``iat``, ``exp`` (at most
15777000 seconds, six months, after ``iat``), ``aud`` ``https://appleid.apple.com``
and ``sub`` the client id (the Services ID). It goes in the token request's
form as ``client_secret``, beside ``client_id`` (client_secret_post).

:class:`ClientSecretJWT` mints one, keeps it, and mints the next when less than
:data:`RENEW_MARGIN` of its lifetime remains, so a running site never sends an
expired secret and never needs an operator to paste a new one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from authlib.common.urls import add_params_to_qs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

#: The ``aud`` of every client secret, whatever the issuer the site talks to is
#: (the stand-in checks the same value, as Apple does).
AUDIENCE = "https://appleid.apple.com"
#: Apple's longest lifetime for a client secret: 15777000 seconds (six months).
MAX_LIFETIME = 15777000
#: The lifetime the site gives its secrets unless configured: 180 days.
DEFAULT_LIFETIME = 180 * 24 * 3600
#: A new secret is minted when less than this share of the lifetime remains.
RENEW_MARGIN = 0.25
#: The form-body method name authlib is given (see :meth:`ClientSecretJWT.__call__`).
METHOD = "apple_client_secret_jwt"


class AppleKeyError(ValueError):
    """The configured key is not a P-256 private key; the message says what it is."""


def load_p256_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in ``pem`` (the ``.p8`` file Apple's console gives, a
    PKCS#8 PEM); anything else is refused with what it is."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as e:
        raise AppleKeyError("not a PEM private key (Apple's console gives a .p8 file: "
                        "-----BEGIN PRIVATE KEY-----)") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve,
                                                                        ec.SECP256R1):
        what = key.curve.name if isinstance(key, ec.EllipticCurvePrivateKey) else type(
            key).__name__.removeprefix("_")
        raise AppleKeyError(f"must be a P-256 (prime256v1) key for ES256, not {what}")
    return key


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The public half, as Apple's console keeps it for the key id."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class ClientSecretJWT:
    """Mints, keeps and renews one provider's client secret; shared by the requests
    of one process (a lock keeps two from minting at once)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, *, team_id: str, key_id: str,
                 client_id: str, lifetime: int) -> None:
        self._pem = key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        self.team_id, self.key_id = team_id, key_id
        self.client_id, self.lifetime = client_id, lifetime
        self._lock = threading.Lock()
        self._secret: tuple[str, int] | None = None  # (JWT, its exp)

    def __repr__(self) -> str:  # never the key, never the secret
        return f"ClientSecretJWT(team_id={self.team_id!r}, key_id={self.key_id!r})"

    def secret(self) -> str:
        """The current secret, minted again when less than :data:`RENEW_MARGIN` of
        its lifetime remains (or the clock went back before its ``iat``)."""
        now = int(time.time())
        with self._lock:
            kept = self._secret
            if kept is None or kept[1] - now < self.lifetime * RENEW_MARGIN or (
                    kept[1] - self.lifetime > now):
                kept = (self._mint(now), now + self.lifetime)
                self._secret = kept
            return kept[0]

    def _mint(self, now: int) -> str:
        claims = {"iss": self.team_id, "iat": now, "exp": now + self.lifetime,
                  "aud": AUDIENCE, "sub": self.client_id}
        return jwt.encode(claims, self._pem, algorithm="ES256",
                          headers={"kid": self.key_id})

    def __call__(self, client: Any, method: str, uri: str, headers: dict[str, str],
                 body: str) -> tuple[str, dict[str, str], str]:
        """authlib's client-auth hook: ``client_id`` and the secret in the form body."""
        body = add_params_to_qs(body or "", [("client_id", self.client_id),
                                             ("client_secret", self.secret())])
        return uri, headers, body
