"""The id-token and userinfo checks, in one place (OpenID Connect Core 3.1.3.7, 5.3.2).

authlib, left at its defaults, accepts a token whose ``aud`` is wrong when
``azp`` is right, accepts ``alg: none`` when discovery lists it, and never
compares userinfo's ``sub`` with the token's. Every id token this site accepts,
at sign-in and after a refresh, goes through :func:`validate_id_token` instead.
Its JWT rules (:func:`verified_jwt`) are also every logout token's
(:mod:`webapp.backchannel`), so the two kinds of token cannot drift apart.
python-jose does the signature and the registered claims, always with an
explicit algorithm list, audience and issuer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jinja2.utils import htmlsafe_json_dumps
from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError, JWTError

from . import steps, timewords
from .errors import FedlabError
from .recent import Recent

#: Asymmetric algorithms only: a shared-secret (HS*) or ``none`` token can be
#: made by anyone who knows the client secret or nothing at all.
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                "ES256", "ES384", "ES512"})
#: Header parameters RFC 7515 and RFC 7518 define: ``crit`` must never list them
#: (RFC 7515 4.1.11).
REGISTERED_HEADERS = frozenset({"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256",
                                "typ", "cty", "crit", "enc", "zip", "epk", "apu", "apv",
                                "iv", "tag", "p2s", "p2c"})
#: JWS extensions this site implements, and so may accept in ``crit``: none. A
#: token that makes one critical (``b64`` of RFC 7797, anything private) means
#: something python-jose would not check, so it is refused.
UNDERSTOOD_EXTENSIONS: frozenset[str] = frozenset()
#: The ``typ`` an id token may declare (RFC 7519 5.1), lower-cased; or none at all,
#: as OpenID Connect Core leaves it out. Any other type is another kind of token
#: made by the same issuer with the same keys (RFC 8725 3.11): an access token
#: (``at+jwt``, RFC 9068) or a logout token (``logout+jwt``) is never an id token.
ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})
#: Clock difference tolerated on exp, iat and nbf.
LEEWAY = 60
#: An id token fresh from the token endpoint was issued moments ago.
MAX_IAT_AGE = 600

KeyLoader = Callable[..., dict[str, Any]]


def reject(check: str, expected: Any, got: Any) -> FedlabError:
    return FedlabError("id_token_rejected", check=check, expected=expected, got=got)


def validate_id_token(
    id_token: str,
    *,
    client_id: str,
    issuers: Iterable[str],
    load_keys: KeyLoader,
    supported_algorithms: Iterable[str] | None = None,
    access_token: str | None = None,
    nonce: str | None,
    require_nonce: bool = True,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the claims of ``id_token`` or raise ``id_token_rejected`` naming the check.

    ``load_keys(force=False)`` returns the provider's JWKS from its ``jwks_uri``;
    it is called once more with ``force=True`` when the token's ``kid`` is unknown,
    which is how a key rotation is picked up.
    """
    claims = verified_jwt(
        id_token, types=ID_TOKEN_TYPES, types_words="JWT or no typ (an id token)",
        issuers=issuers, client_id=client_id, load_keys=load_keys,
        algorithms=supported_algorithms, access_token=access_token, now=now,
        require=("sub",),
    )
    if "events" in claims:
        # RFC 8417 4.3: a security event token says what it is by its events
        # claim, which an id token never has; a logout token (Back-Channel Logout
        # 1.0) need not carry a typ, and after a refresh no nonce gives it away.
        events = claims["events"]
        raise reject("events", "no events claim (a logout token is not an id token)",
                     sorted(events) if isinstance(events, dict) else events)
    got = claims.get("nonce")
    # A refreshed token may leave the nonce out (require_nonce=False), but one it
    # carries must still be the one this sign-in sent.
    if (require_nonce or got is not None) and (
        not isinstance(got, str) or nonce is None or not hmac.compare_digest(got, nonce)
    ):
        raise reject("nonce", "the nonce sent with this sign-in", got)
    steps.passed("no events claim (not a logout token)")
    if got is not None:
        steps.passed("nonce: the one this sign-in sent")
    return claims


def verified_jwt(
    token: str,
    *,
    types: frozenset[str],
    types_words: str,
    issuers: Iterable[str],
    client_id: str,
    load_keys: KeyLoader,
    algorithms: Iterable[str] | None = None,
    access_token: str | None = None,
    now: float | None = None,
    max_age: int = MAX_IAT_AGE,
    require: Iterable[str] = (),
) -> dict[str, Any]:
    """The claims of a JWT this provider signed for this client, or ``id_token_rejected``
    naming the check: the rules every token from the provider's keys meets, whatever
    kind it is (an id token, a logout token: :mod:`webapp.backchannel`).

    The header (:func:`check_header`, ``typ`` one of ``types``, which
    ``types_words`` says in the refusal); the algorithm, from this site's
    allow-list narrowed by discovery's ``algorithms``; the key, from the
    ``jwks_uri`` only (:func:`find_key`); the signature and ``iss``, ``aud``,
    ``exp`` and ``iat`` (all required, as are the claims in ``require``) by
    python-jose, with ``at_hash`` when an ``access_token`` is given;
    ``azp`` (:func:`check_audience`); and an ``iat`` neither in the future nor
    more than ``max_age`` seconds old. What a kind of token adds (an id token's
    nonce, a logout token's events) its caller checks on the claims returned.
    """
    now = time.time() if now is None else now
    issuers = tuple(issuers)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.get_unverified_claims(token)
    except JWTError:
        raise reject("format", "a signed JWT", "something else") from None
    check_header(header, types, types_words)
    steps.passed(f"typ: {header['typ']}" if "typ" in header else "typ: none (allowed)")
    allowed = ALLOWED_ALGORITHMS
    if algorithms:
        allowed = allowed & set(algorithms)
    alg = header.get("alg")
    if alg not in allowed:
        raise reject("alg", " or ".join(sorted(allowed)), alg)
    steps.passed(f"alg: {alg}, an allowed algorithm")
    key = public_key(find_key(header, load_keys), alg)
    steps.passed(f"kid: {header.get('kid')}, a key at the provider's jwks_uri")
    options: dict[str, Any] = {
        "leeway": LEEWAY,
        "require_aud": True,
        "require_iat": True,
        "require_exp": True,
        "require_iss": True,
        "verify_at_hash": access_token is not None,
    }
    options |= {f"require_{claim}": True for claim in require}
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=client_id,
                            issuer=issuers, access_token=access_token, options=options)
    except ExpiredSignatureError:
        raise reject("exp", f"after {int(now)}", unverified.get("exp")) from None
    except JWTClaimsError as e:
        raise _claims_error(str(e), unverified, client_id, issuers) from None
    except JWTError as e:
        if "missing" in str(e).lower():  # python-jose: 'missing required key "exp" among claims'
            raise _claims_error(str(e), unverified, client_id, issuers) from None
        raise reject("signature", f"valid {alg} signature by key {header.get('kid')}",
                     "an invalid signature") from None
    # Each check is noted once it has passed, no sooner: python-jose has checked the
    # signature, iss, exp, the required claims and at_hash; aud is only this
    # client's once check_audience has also seen azp.
    steps.passed(f"signature: {alg}")
    steps.passed("iss: the provider's issuer")
    steps.passed("exp: still in the future")
    for claim in require:
        steps.passed(f"{claim}: present")
    if access_token is not None and "at_hash" in claims:
        steps.passed("at_hash: the access token's hash")
    check_audience(claims, client_id)
    steps.passed("aud: this client")
    if "azp" in claims:
        steps.passed("azp: this client")
    iat = claims["iat"]
    if not isinstance(iat, int | float) or iat > now + LEEWAY or iat < now - max_age - LEEWAY:
        raise reject("iat", f"within {max_age}s before now ({int(now)})", iat)
    steps.passed(f"iat: within {max_age} s before now")
    return claims


def check_header(header: dict[str, Any], types: frozenset[str] = ID_TOKEN_TYPES,
                 what: str = "JWT or no typ (an id token)") -> None:
    """The JWS header rules python-jose leaves out (RFC 7515 4.1.11, RFC 8725 3.11).

    ``types`` are the ``typ`` values (lower-cased) the token at hand may declare,
    ``what`` says so in the refusal: an id token's by default; a logout token
    has its own (:mod:`webapp.backchannel`). ``jku``, ``x5u``, ``jwk`` and ``x5c``
    need no rule of their own: they are never read, the key comes from the
    provider's ``jwks_uri`` only (:func:`find_key`).
    """
    if not isinstance(header.get("alg"), str):
        # An unhashable one (a list, an object) must be refused, not fail a lookup.
        raise reject("alg", "a JWS algorithm name (RFC 7515 4.1.1)", header.get("alg"))
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise reject("crit", "a non-empty list of extension names", crit)
        registered = sorted(set(crit) & REGISTERED_HEADERS)
        if registered:
            raise reject("crit", "no registered header parameter", registered)
        absent = [c for c in crit if c not in header]
        if absent:
            raise reject("crit", "only parameters the header has", absent)
        unknown = [c for c in crit if c not in UNDERSTOOD_EXTENSIONS]
        if unknown:
            raise reject("crit", "no extension this site does not understand", unknown)
    typ = header.get("typ")
    if "typ" in header and (not isinstance(typ, str) or typ.lower() not in types):
        raise reject("typ", what, typ)


def find_key(header: dict[str, Any], load_keys: KeyLoader) -> dict[str, Any]:
    """The one key of the provider's JWKS that may have signed a token with
    ``header``: its ``kid`` (when named) and ``alg``; the keys are read once more
    (rate-limited by :mod:`webapp.discovery`) when none matches, as after a rotation."""
    kid = header.get("kid")
    for force in (False, True):
        candidates = [
            k for k in load_keys(force=force).get("keys", [])
            if isinstance(k, dict) and k.get("use", "sig") == "sig"
            and k.get("alg", header["alg"]) == header["alg"]
            and (kid is None or k.get("kid") == kid)
        ]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise reject("kid", "one matching key", f"{len(candidates)} keys")
    raise reject("kid", "a key published at the provider's jwks_uri", kid)


#: Public keys made from JWKS members, by the member's JSON and the algorithm: making
#: an RSA key from its ``n`` and ``e`` cost each token ~90 µs, and a provider's keys
#: change only when it rotates them (a changed member is another entry). Bounded:
#: the least recently used goes first.
KEY_CACHE_SIZE = 32
_public_keys: Recent[tuple[str, str], Key] = Recent(KEY_CACHE_SIZE)


def public_key(member: dict[str, Any], alg: str) -> Key:
    """The key ``member`` (a JWK of the provider's ``jwks_uri``) is, for ``alg``."""
    name = (json.dumps(member, sort_keys=True), alg)
    key = _public_keys.get(name)
    if key is not None:
        return key
    try:
        key = jwk.construct(member, alg)
    except (JOSEError, TypeError, ValueError):  # a member python-jose cannot make a key of
        raise reject("kid", "a usable key at the provider's jwks_uri", member.get("kid")) from None
    _public_keys.put(name, key)
    return key


def check_audience(claims: dict[str, Any], client_id: str) -> None:
    """OIDC Core 3.1.3.7 (4)-(5), beyond python-jose's ``aud`` check: an ``azp``
    with several audiences, and never another client's."""
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    # OIDC Core 3.1.3.7 (4)-(5): several audiences need an azp, and azp is us.
    if len(audiences) > 1 and azp is None:
        raise reject("azp", client_id, "no azp with several audiences")
    if azp is not None and azp != client_id:
        raise reject("azp", client_id, azp)


def _claims_error(message: str, unverified: dict[str, Any], client_id: str,
                  issuers: tuple[str, ...]) -> FedlabError:
    """python-jose's claim refusal, named by the claim: it says which only in words."""
    lowered = message.lower()
    missing = re.search(r'missing required key "(\w+)"', lowered)
    if missing:  # 'missing required key "exp" among claims'
        claim = missing.group(1)
        wanted = {"aud": client_id, "iss": " or ".join(issuers), "sub": "a subject",
                  "exp": "an expiry time", "iat": "a number"}
        return reject(claim, wanted.get(claim, f"a {claim} claim"), None)
    if "audience" in lowered or "aud" in lowered.split():
        return reject("aud", client_id, unverified.get("aud"))
    if "issuer" in lowered:
        return reject("iss", " or ".join(issuers), unverified.get("iss"))
    if "at_hash" in lowered or "access_token" in lowered:
        return reject("at_hash", "the hash of the access token", unverified.get("at_hash"))
    if "iat" in lowered or "issued" in lowered:
        return reject("iat", "a number", unverified.get("iat"))
    if "subject" in lowered or "sub" in lowered.split():
        return reject("sub", "a subject", unverified.get("sub"))
    if "jwt id" in lowered:
        return reject("jti", "a string", unverified.get("jti"))
    return reject("claims", "valid registered claims", message)


def check_refreshed(previous: dict[str, Any], claims: dict[str, Any]) -> None:
    """OIDC Core 12.2: a refreshed id token speaks of the same person to the same client."""
    for claim in ("iss", "sub", "aud", "azp"):
        if previous.get(claim) != claims.get(claim):
            raise reject(claim, previous.get(claim), claims.get(claim))


def check_userinfo(claims: dict[str, Any], userinfo: dict[str, Any]) -> None:
    """OIDC Core 5.3.2: userinfo about another subject must not be used."""
    if userinfo.get("sub") != claims.get("sub"):
        raise FedlabError("userinfo_sub_mismatch", expected=claims.get("sub"),
                          got=userinfo.get("sub"))


#: Decoded tokens kept per process, keyed by the token's digest (not the token),
#: the most recently shown first to stay. Small on purpose: a token changes only at
#: sign-in and refresh, so the pages a worker serves in a burst come from a few
#: visitors, and each entry is ~4 KB whoever it belongs to. 4,096 entries grew a
#: worker by ~16 MiB with visitors; 128 stay under 1 MiB and still spare the
#: ~0.1 ms per token that decoding and pretty-printing its JSON cost a page view.
VIEW_CACHE_SIZE = 128
_views: Recent[str, Decoded] = Recent(VIEW_CACHE_SIZE)


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of a token part, as the token viewer's table shows it."""

    name: str
    #: The value as text (lists joined, objects as JSON); empty for a moment.
    text: str
    #: Seconds since the epoch when the claim is a moment, else None.
    moment: int | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a token says, for the token viewer: never the token itself (no
    signature), so nothing kept of it is a usable token."""

    length: int
    jwt: bool
    header: tuple[Claim, ...] = ()
    payload: tuple[Claim, ...] = ()
    #: The parts as Jinja's tojson renders them: markup-safe, <>&' escaped.
    header_json: str = ""
    payload_json: str = ""
    #: The payload's ``exp`` when it is a moment a page can show.
    expires_at: float | None = None


def describe(value: str | None) -> Decoded | None:
    """Header and payload of a JWT for the token viewer, claim by claim; never the
    token itself. An opaque token is described by its length alone.

    Only tokens this site has already validated (or that are meant for someone
    else, like an access token) are shown, so reading them unverified is fine.
    """
    if not value:
        return None
    digest = hashlib.sha256(value.encode()).hexdigest()
    view = _views.get(digest)
    if view is not None:
        return view
    try:
        header, payload = jwt.get_unverified_header(value), jwt.get_unverified_claims(value)
    except JWTError:
        view = Decoded(length=len(value), jwt=False)
    else:
        exp = payload.get("exp")
        view = Decoded(length=len(value), jwt=True, header=claim_rows(header),
                       payload=claim_rows(payload),
                       header_json=htmlsafe_json_dumps(header, indent=2, sort_keys=True),
                       payload_json=htmlsafe_json_dumps(payload, indent=2, sort_keys=True),
                       expires_at=exp if timewords.is_moment(exp) else None)
    _views.put(digest, view)
    return view


#: Claims that are moments (seconds since the epoch): RFC 7519 4.1 and OpenID
#: Connect Core 2 and 5.1. Shown as times, never as the number.
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})


def claim_rows(part: dict[str, Any]) -> tuple[Claim, ...]:
    """A token part's claims in name order, moments kept as numbers for the page's
    times and everything else as readable text. Worked out once per token, not in
    the template per page view."""
    rows = []
    for name in sorted(part):
        value = part[name]
        if name in TIME_CLAIMS and timewords.is_moment(value):
            rows.append(Claim(name=name, text="", moment=int(value)))
        elif isinstance(value, list):
            rows.append(Claim(name=name, text=", ".join(map(str, value))))
        elif isinstance(value, dict):
            rows.append(Claim(name=name, text=json.dumps(value, sort_keys=True)))
        else:
            rows.append(Claim(name=name, text=str(value)))
    return tuple(rows)
