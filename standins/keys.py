"""Signing keys of one tenant, and the JWS encoder that can misbehave on purpose.

Each tenant holds its own RSA keys, each with a ``kid`` (its RFC 7638
thumbprint). The current key signs; published keys appear in the JWKS. A
rotation adds a key and keeps the old one published for a while, as real
providers do, so a client holding a cached JWKS meets a new ``kid`` first.

The faults that break a signature live here because only the encoder can
produce them: an altered signature, ``alg: none``, HS256 keyed with the public
key's PEM (the classic algorithm-confusion attack), a ``kid`` that is
never published, and ``jws_header``: a protected header of the test's making
(``crit``, ``typ``, ``x5u``...), signed by the current key or by a key never
published that the header then offers itself (``embed``: ``jwk`` or ``x5c``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

#: The faults this module implements (see faults.py for the rest).
SIGNATURE_FAULTS = ("bad_signature", "alg_none", "hs256_public_key", "unknown_kid",
                    "jws_header")


@dataclass
class SigningKey:
    key: RSAKey
    published: bool = True

    @property
    def kid(self) -> str:
        return self.key.thumbprint()

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk


class KeyRing:
    """The keys of one tenant; ``reset`` goes back to the keys made at start."""

    def __init__(self, key_size: int = 2048) -> None:
        self._key_size = key_size
        self._lock = threading.Lock()
        self._initial = SigningKey(RSAKey.generate_key(key_size))
        #: Signs tokens under a kid the JWKS never lists (fault ``unknown_kid``).
        self._stray = SigningKey(RSAKey.generate_key(key_size), published=False)
        self._keys: list[SigningKey] = [self._initial]

    @property
    def current(self) -> SigningKey:
        return self._keys[-1]

    def rotate(self, drop_old: bool = False) -> str:
        """Make a new current key; return its kid."""
        new = SigningKey(RSAKey.generate_key(self._key_size))
        with self._lock:
            if drop_old:
                for old in self._keys:
                    old.published = False
            self._keys.append(new)
        return new.kid

    def reset(self) -> None:
        with self._lock:
            self._initial.published = True
            self._keys = [self._initial]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.public_jwk() for k in reversed(self._keys) if k.published]}

    def public_keys(self) -> list[RSAKey]:
        """Every key this tenant ever signed with now (for checking its own id_token_hint)."""
        return [k.key for k in self._keys]

    def sign(
        self,
        claims: Mapping[str, Any],
        faults: Collection[str] = (),
        typ: str | None = "JWT",
        crafted: Mapping[str, Any] | None = None,
    ) -> str:
        """Encode ``claims`` as a compact JWS, broken as the active ``faults`` say.

        ``crafted`` is the ``jws_header`` fault's parameters: ``set`` (header
        parameters to add; ``null`` removes one), ``signer`` (``"stray"``: the
        key never published) and ``embed`` (``"jwk"`` or ``"x5c"``: the
        signer's own public key in the header, as an attacker would offer it).
        """
        header: dict[str, Any] = {"alg": "RS256", "kid": self.current.kid}
        if typ:
            header["typ"] = typ
        if crafted is not None and "jws_header" in faults:
            return self._crafted(header, claims, crafted)
        if "alg_none" in faults:
            header = {"alg": "none", "typ": "JWT"}
            return f"{_b64_json(header)}.{_b64_json(claims)}."
        if "hs256_public_key" in faults:
            header["alg"] = "HS256"
            signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
            secret = self.current.key.as_pem(private=False)
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(mac)}"
        signer = self._stray if "unknown_kid" in faults else self.current
        header["kid"] = signer.kid
        token = jwt.encode(header, dict(claims), signer.key, algorithms=["RS256"])
        if "bad_signature" in faults:
            token = _alter_signature(token)
        return token

    def _crafted(self, header: dict[str, Any], claims: Mapping[str, Any],
                 crafted: Mapping[str, Any]) -> str:
        signer = self._stray if crafted.get("signer") == "stray" else self.current
        header["kid"] = signer.kid
        if crafted.get("embed") == "jwk":
            header["jwk"] = signer.public_jwk()
        elif crafted.get("embed") == "x5c":
            header["x5c"] = [base64.b64encode(_self_signed(signer.key)).decode()]
        for name, value in dict(crafted.get("set") or {}).items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        signing_input = f"{_b64_json(header)}.{_b64_json(claims)}".encode()
        signature = signer.key.private_key.sign(signing_input, padding.PKCS1v15(),
                                                hashes.SHA256())
        return f"{signing_input.decode()}.{_b64(signature)}"


def _self_signed(key: RSAKey) -> bytes:
    """A DER certificate for ``key``, signed by itself: what ``x5c`` would carry."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _alter_signature(token: str) -> str:
    """Flip bits in the middle of the signature so it stays well-formed but wrong."""
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0xFF
    return f"{head}.{payload}.{_b64(bytes(raw))}"
