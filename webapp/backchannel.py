"""OpenID Connect Back-Channel Logout 1.0: the provider ends this site's sessions.

When a person signs out at the provider (or the provider ends their session
for any reason), it POSTs a logout token to each client's registered
``backchannel_logout_uri``: here ``/auth/<name>/backchannel-logout``. The token
is a JWT signed like an id token; it names the person (``sub``), the
provider's session (``sid``, the claim the id token carried), or both, and the
sessions it names end on every instance (:func:`webapp.sessions.end_sessions_of`,
through the index written at sign-in).

No cookie comes with the request (the provider's server sends it, not a
browser), so the token is the request's only authentication, and every rule of
the specification's section 2.6 is checked (:func:`validate`), with the id
token's own machinery (:func:`webapp.tokens.verified_jwt`: the keys from
``jwks_uri`` only, the algorithm allow-list, ``crit``, the signature, ``iss``,
``aud``, ``azp``, ``exp``, the ``iat`` window). Where the specification leaves a choice,
the choice and its reason are beside the check:

- ``typ``: absent, ``JWT`` or ``logout+jwt`` (2.4 recommends explicit typing but
  does not require it, and deployed providers send ``JWT``); any other type
  (``at+jwt``...) is another kind of token and refused. What keeps an id token
  from passing as a logout token is the ``events`` claim it never has.
- ``exp``: required, as errata set 1 of the specification (2023) made it; a
  token past it (with the usual leeway) is refused.
- ``iat``: required, not in the future, and at most :data:`MAX_AGE` old, the id
  token's window (OIDC Core 3.1.3.7 (10)): a token captured long ago is refused
  even if its ``exp`` is far away.
- ``jti``: required (2.4), and used once per issuer (2.6 step 8, optional
  there, done here): the seen ones are kept in the session store with
  create-if-absent, which every instance shares, for as long as an ``iat`` is
  accepted, so a replay to another instance is refused too.
- An encrypted (JWE) token is refused: this site registers no encryption key.

The answer is what section 2.8 asks: 200 when the token is valid (whether or not
a session was still alive: nothing tells the provider who is signed in here),
else 400 with an OAuth error object as JSON, and ``Cache-Control: no-store``
either way. ``invalid_request`` is a token refused; ``temporarily_unavailable``
is a failure on this side (the provider's keys could not be read, the session
store failed), which is still a 400 as 2.8 says, but does not blame the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from flask import current_app

from . import sessions, signals, tokens
from .errors import FedlabError
from .oauth import client_for
from .providers import Provider, registry
from .session_store import STORE_ERRORS

#: The member of ``events`` that makes a security event token a logout token (2.4).
EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: The ``typ`` values a logout token may declare, lower-cased (see the module's docstring).
LOGOUT_TOKEN_TYPES = frozenset({"logout+jwt", "application/logout+jwt", "jwt",
                                "application/jwt"})
#: How old (``iat``) a logout token may be, in seconds: the id token's window.
MAX_AGE = tokens.MAX_IAT_AGE
#: How long a seen ``jti`` is kept: every moment its token's ``iat`` is accepted.
JTI_LIFETIME = MAX_AGE + 2 * tokens.LEEWAY
#: Bytes the request body may have. A logout token is a few hundred bytes to a
#: couple of kilobytes; the site's own bound (:mod:`webapp.guards`) is larger.
MAX_BODY_BYTES = 16 * 1024
#: The only body the specification defines (2.5).
FORM = "application/x-www-form-urlencoded"
#: RFC 6749 5.2: an error description is printable ASCII without ``"`` and ``\\``.
_NOT_DESCRIPTION = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e]')
_DESCRIPTION_CHARS = 300


class LogoutRefused(Exception):
    """The logout request is refused: ``check`` names the rule, ``description``
    says it to the provider's operators (never echoing the token's content)."""

    def __init__(self, check: str, description: str,
                 error: str = "invalid_request") -> None:
        super().__init__(check)
        self.check = check
        self.error = error
        self.description = _NOT_DESCRIPTION.sub("?", description)[:_DESCRIPTION_CHARS]

    def body(self) -> dict[str, str]:
        """The 400 answer's JSON object (OAuth 2.0 error response, 2.8)."""
        return {"error": self.error, "error_description": self.description}


class LogoutToken(msgspec.Struct, frozen=True, kw_only=True):
    """What a valid logout token asks: end the sessions of ``sub``, of the provider
    session ``sid``, or of that person in that provider session, at ``iss``."""

    iss: str
    sub: str | None
    sid: str | None
    jti: str

    @property
    def names(self) -> str:
        """What the token names, for the log: ``sub``, ``sid`` or ``sub+sid``."""
        return "+".join(k for k in ("sub", "sid") if getattr(self, k) is not None)


def token_of(mimetype: str, content_length: int | None, form: Callable[[], Any]) -> str:
    """The ``logout_token`` of a back-channel logout request (2.5), or refused:
    a form body, bounded, with the parameter exactly once. ``form()`` parses
    the body, only once its type and size are known to be right."""
    if mimetype != FORM:
        raise LogoutRefused("content_type", f"the body must be {FORM}")
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise LogoutRefused("size", f"the body may have at most {MAX_BODY_BYTES} bytes")
    values = form().getlist("logout_token")
    if len(values) != 1 or not values[0]:
        raise LogoutRefused("logout_token", "exactly one logout_token parameter is required")
    return str(values[0])


def provider_taking_logout_tokens(name: str) -> Provider:
    """The configured provider ``name``, if its kind sends logout tokens at all."""
    provider = registry.providers().get(name)
    if provider is None or not provider.takes_logout_tokens:
        raise LogoutRefused("provider", "no provider of this site takes logout tokens here")
    return provider


def log_out(name: str, logout_token: str) -> int:
    """Validate ``logout_token`` from provider ``name``, use its ``jti``, and end
    the sessions it names on every instance; how many were still alive."""
    provider = provider_taking_logout_tokens(name)
    try:
        client = client_for(provider)
        token = validate(logout_token, provider=provider, load_keys=client.keys,
                         algorithms=client.metadata.get("id_token_signing_alg_values_supported"))
        use_once(token)
        try:
            ended = sessions.end_sessions_of(token.iss, token.sub, token.sid)
        except BaseException:
            # Nothing was ended for sure: the provider's retry of this very token,
            # which the answer asks for, must not be refused as a replay.
            forget_use(token)
            raise
    except LogoutRefused as refused:
        signals.backchannel_logout_refused.send(current_app._get_current_object(),
                                                provider=name, reason=refused.check)
        raise
    except FedlabError as e:  # discovery or keys unreadable, the index's lock
        signals.backchannel_logout_refused.send(current_app._get_current_object(),
                                                provider=name, reason=e.code)
        raise LogoutRefused(e.code, f"this site could not check the token now ({e.code}); "
                            f"send it again later", "temporarily_unavailable") from None
    except STORE_ERRORS as e:
        signals.backchannel_logout_refused.send(current_app._get_current_object(),
                                                provider=name, reason="session_store_down")
        raise LogoutRefused("session_store_down", "this site's session store failed; send "
                            "the token again later", "temporarily_unavailable") from e
    signals.backchannel_logout.send(current_app._get_current_object(), provider=name,
                                    iss=token.iss, sub=token.sub, names=token.names,
                                    sessions_ended=ended)
    return ended


def validate(logout_token: str, *, provider: Provider, load_keys: tokens.KeyLoader,
             algorithms: Any = None, now: float | None = None) -> LogoutToken:
    """The logout token's request, once every rule of section 2.6 holds; else
    :class:`LogoutRefused` naming the rule.

    Steps 2 to 4 (the signature by a key of the ``jwks_uri``, the algorithm
    allow-list narrowed by discovery, ``iss``, ``aud``, ``azp``, ``exp``, the
    ``iat`` window) are an id token's: :func:`webapp.tokens.verified_jwt`.
    """
    now = time.time() if now is None else now
    assert provider.issuer is not None
    if logout_token.count(".") != 2:
        # Five parts is a JWE: no key to decrypt it was ever registered (2.6 step 1).
        raise LogoutRefused("format", "a signed JWT (JWS compact serialization); "
                            "encrypted logout tokens are not accepted")
    try:
        claims = tokens.verified_jwt(
            logout_token, types=LOGOUT_TOKEN_TYPES, types_words="logout+jwt, JWT or no typ",
            issuers=(provider.issuer, *provider.issuer_aliases),
            client_id=provider.client_id, load_keys=load_keys, algorithms=algorithms,
            now=now, max_age=MAX_AGE,
        )
    except FedlabError as e:
        if e.code != "id_token_rejected":
            raise  # the keys could not be read: not the token's fault
        raise _refused(e, now) from None
    _check_events(claims)  # first: it says whether this is a logout token at all
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise LogoutRefused("jti", "a jti claim is required")
    sub, sid = claims.get("sub"), claims.get("sid")
    if sub is None and sid is None:
        raise LogoutRefused("sub_sid", "a sub claim, a sid claim, or both are required")
    for claim, value in (("sub", sub), ("sid", sid)):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutRefused(claim, f"{claim} must be a non-empty string")
    if "nonce" in claims:
        raise LogoutRefused("nonce", "a logout token must not contain a nonce claim")
    # The configured spelling, as a sign-in records it, whichever alias the token used.
    return LogoutToken(iss=provider.issuer, sub=sub, sid=sid, jti=jti)


def _refused(error: FedlabError, now: float) -> LogoutRefused:
    """The shared checks' refusal (``id_token_rejected``), said of a logout token:
    what was expected, never what the token holds (its ``kid``, its claims)."""
    check = str(error.details.get("check", "claims"))
    got = error.details.get("got")
    if check == "signature":
        return LogoutRefused(check, "a valid signature by a key of the provider's jwks_uri")
    if check == "exp" and got is not None:
        return LogoutRefused(check, "the token has expired")
    if check == "iat" and isinstance(got, int | float):
        if got > now + tokens.LEEWAY:
            return LogoutRefused(check, "iat must not be in the future")
        return LogoutRefused(check, f"the token is more than {MAX_AGE} s old")
    if got is None and check in ("aud", "iss", "exp", "iat", "sub"):
        return LogoutRefused(check, f"a {check} claim is required")
    return LogoutRefused(check, f"{check}: expected {error.details.get('expected')}")


def _check_events(claims: Mapping[str, Any]) -> None:
    """2.4 and 2.6 step 6: ``events`` is a JSON object holding the back-channel
    logout member, whose value is a JSON object."""
    events = claims.get("events")
    if not isinstance(events, dict):
        raise LogoutRefused("events", "an events claim (a JSON object) is required")
    if EVENT not in events:
        raise LogoutRefused("events", f"events must contain the member {EVENT}")
    if not isinstance(events[EVENT], dict):
        raise LogoutRefused("events", f"the value of events' {EVENT} must be a JSON object")


def jti_store_id(token: LogoutToken) -> str:
    """The session store's name for a seen ``jti`` of ``token``'s issuer: hashed,
    so the store sees neither."""
    digest = hashlib.sha256(f"{token.iss}\0{token.jti}".encode()).hexdigest()
    return f"{sessions.sessions().key_prefix}logout-jti:{digest}"


def forget_use(token: LogoutToken) -> None:
    """Forget that ``token``'s ``jti`` was used (its sessions could not be ended);
    best effort: a store that just failed may fail again."""
    with contextlib.suppress(STORE_ERRORS):
        sessions.sessions().store.delete(jti_store_id(token))


def use_once(token: LogoutToken) -> None:
    """Refuse a ``jti`` this issuer's tokens used before, on any instance: the
    store's create-if-absent is the one shared test of "seen"."""
    interface = sessions.sessions()
    store_id = jti_store_id(token)
    record = interface.sealer.seal({"seen_at": int(time.time())}, store_id)
    if not interface.store.create(store_id, record, JTI_LIFETIME):
        raise LogoutRefused("jti", "this logout token (its jti) was already used")
