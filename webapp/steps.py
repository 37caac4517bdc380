"""The steps of a request, noted as they happen, for the picture of a sign-in.

The layers that talk to the outside note what they really sent: the provider
calls (:meth:`webapp.discovery.MetadataCache.request`), authlib's token request
(:func:`webapp.oauth.token_exchange_noted`), the AWS calls
(:func:`webapp.federation.call_and_note`, with what botocore put on the wire:
:func:`aws_request_sent`), and the checks a token passed, collected by the
verifier as it checks (:func:`passed` inside :func:`checking`). Nothing here
knows which provider or page it is: the picture service (:mod:`webapp.picture`)
decides which request's steps to keep.

A step holds names only, as the stand-ins' request log does
(:mod:`standins.requestlog`): a parameter's name, never its value, since the
values are codes, states, verifiers, tokens and secrets. The record is kept in
the visitor's server-side session, so every list in it is bounded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import msgspec
from flask import g, has_app_context

from .records import Kept

#: The lanes of the picture, left to right.
BROWSER, SITE, PROVIDER, POOL, STS = "browser", "site", "provider", "pool", "sts"
LANES = (BROWSER, SITE, PROVIDER, POOL, STS)
#: The lane of each AWS service the site calls (botocore's service names).
AWS_LANES = {"cognito-identity": POOL, "sts": STS}
#: Bounds of what one request notes and one record keeps.
MAX_STEPS = 40
MAX_NAMES = 24
MAX_TEXT = 120

_NOTED = "picture_steps"
_WIRE = "picture_aws_wire"
_CHECKS = "picture_checks"


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One arrow of the picture: who sent what to whom, how long it took, and
    what came of it. Names only, never a value."""

    source: str
    target: str
    #: What the step is, in a word or two (``token``, ``keys``, ``GetId``).
    what: str
    method: str = ""
    #: The path only: no query, no host.
    path: str = ""
    #: The names of the parameters, form fields and JSON keys it carried, and how
    #: the client authenticated (``Authorization: Basic``, ``client_secret``).
    params: tuple[str, ...] = ()
    #: Milliseconds; None when nothing here could time it.
    ms: int | None = None
    #: The HTTP status, ``ok``, or the error it ended in.
    outcome: str = ""
    #: The checks it passed (a token's), in the order they were made.
    checks: tuple[str, ...] = ()
    #: A few words more (``from the cache, 40 s old``).
    note: str = ""

    def bounded(self) -> Step:
        """The step cut to the record's bounds."""
        return msgspec.structs.replace(
            self, what=self.what[:MAX_TEXT], path=self.path[:MAX_TEXT],
            params=tuple(p[:MAX_TEXT] for p in self.params[:MAX_NAMES]),
            checks=tuple(c[:MAX_TEXT] for c in self.checks[:MAX_NAMES]),
            note=self.note[:MAX_TEXT], outcome=self.outcome[:MAX_TEXT])


def kept(made: Iterable[Step]) -> tuple[Step, ...]:
    """Steps as a record keeps them: each cut to the bounds, at most :data:`MAX_STEPS`.
    Every list the picture stores passes through here, whatever its source (a step
    built from the browser's own request is as long as the browser made it)."""
    return tuple(step.bounded() for step in list(made)[:MAX_STEPS])


class Picture(Kept, frozen=True, kw_only=True):
    """A visitor's last sign-in and their credentials request after it, as steps:
    kept in the server-side session (:mod:`webapp.picture`)."""

    #: The configured provider's name, and its display name for the lane.
    provider: str
    provider_name: str
    #: The sign-in it pictures (:attr:`webapp.records.SignIn.signed_in_at`).
    signed_in_at: int
    sign_in: tuple[Step, ...]
    credentials: tuple[Step, ...] = ()
    #: When the credentials request was made; None before there was one.
    credentials_at: int | None = None

    def packed(self) -> bytes:
        """The picture as the session keeps it: packed (msgpack) inside the sealed
        record, so that only its page unpacks its steps. Every request of a
        signed-in visitor opens the record, and unpacking the steps cost more than
        the rest of it together."""
        return msgspec.msgpack.encode(self)

    @classmethod
    def load(cls, value: Any) -> Self | None:
        """The picture kept as ``value`` (packed, or an older release's plain values);
        None when there is none or it is malformed."""
        if not isinstance(value, bytes):
            return super().load(value)
        try:
            return msgspec.msgpack.decode(value, type=cls)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None


def note(step: Step) -> None:
    """Note ``step`` for this request (outside a request, or past the bound, nothing)."""
    if not has_app_context():
        return
    noted = g.setdefault(_NOTED, [])
    if len(noted) < MAX_STEPS:
        noted.append(step.bounded())


def noted() -> tuple[Step, ...]:
    """The steps this request noted so far, in order."""
    return tuple(g.get(_NOTED, ())) if has_app_context() else ()


# -- names of what a request carried ------------------------------------------------------


def query_names(url: str) -> list[str]:
    """The names of ``url``'s query parameters."""
    return [name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]


def path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def form_names(body: Any) -> list[str]:
    """The field names of a form body: a mapping, or ``a=1&b=2`` text or bytes."""
    if isinstance(body, Mapping):
        return [str(name) for name in body]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        return [name for name, _ in parse_qsl(body, keep_blank_values=True)]
    return []


def authorization_name(headers: Mapping[str, str] | None, basic: Any = None) -> list[str]:
    """How a request authenticated, by the scheme's name (``Authorization: Basic``)."""
    if basic is not None:
        return ["Authorization: Basic"]
    value = (headers or {}).get("Authorization") or ""
    if isinstance(value, bytes):  # botocore's headers
        value = value.decode("latin-1")
    scheme = value.split(" ", 1)[0]
    return [f"Authorization: {scheme}"] if scheme else []


def unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


# -- AWS: what botocore put on the wire ------------------------------------------------------


def aws_request_sent(request: Any, event_name: str = "", **_: Any) -> None:
    """botocore's ``before-send`` hook: note the request's method, path and the names
    it carried (JSON keys, the ``Logins`` keys, form fields), for the AWS call that
    :func:`aws_call` notes once it is over."""
    if not has_app_context():
        return
    parts = event_name.split(".")
    service, operation = (parts[1], parts[2]) if len(parts) >= 3 else ("", "")
    names: list[str] = []
    body = request.body
    if isinstance(body, bytes | str) and body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            for key, value in document.items():
                if isinstance(value, dict):
                    names += [f"{key}[{inner}]" for inner in value]
                else:
                    names.append(str(key))
        else:
            names += form_names(text)
    names += authorization_name(dict(request.headers.items()))
    g.setdefault(_WIRE, {})[operation] = (service, request.method, path_of(request.url),
                                          unique(names))


def aws_call(operation: str, outcome: str, ms: int) -> None:
    """Note an AWS call that is over, with what :func:`aws_request_sent` saw of it."""
    if not has_app_context():
        return
    wire = g.get(_WIRE, {}).pop(operation, None)
    service, method, path, params = wire or ("", "", "", ())
    note(Step(source=SITE, target=AWS_LANES.get(service, POOL), what=operation,
              method=method, path=path, params=params, ms=ms, outcome=outcome))


# -- a token's checks -------------------------------------------------------------------------


@contextmanager
def checking(what: str) -> Iterator[None]:
    """Collect the checks :func:`passed` names inside, and note them as one step of
    the site's own; a refused token's step says which check refused it."""
    if not has_app_context():
        yield
        return
    outer = g.get(_CHECKS)
    setattr(g, _CHECKS, [])
    started = time.perf_counter()
    outcome = "passed"
    try:
        yield
    except Exception as e:
        outcome = str(getattr(e, "details", {}).get("check") or type(e).__name__)
        outcome = f"refused: {outcome}"
        raise
    finally:
        checks = tuple(getattr(g, _CHECKS, ()))
        setattr(g, _CHECKS, outer)
        note(Step(source=SITE, target=SITE, what=what, checks=checks, outcome=outcome,
                  ms=round((time.perf_counter() - started) * 1000)))


def passed(check: str) -> None:
    """Say that a check passed, inside :func:`checking` (elsewhere, nothing)."""
    if has_app_context():
        checks = g.get(_CHECKS)
        if checks is not None and len(checks) < MAX_NAMES:
            checks.append(check)
