"""Who operates this site: people named in configuration by issuer and subject.

Live checks call every provider with this site's client credentials, so only an
operator, signed in now, may start them. A person is named by the issuer and subject
of their verified sign-in (never by e-mail, which a provider may let anyone
claim), as ``diagnostics.operators`` lists them::

    [[diagnostics.operators]]
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
    subject = "5e7b04c7-9c8d-5f5f-9b78-aa79310340b9"

or, in the environment, ``FEDLAB_DIAGNOSTICS__OPERATORS="<issuer> <subject>, ..."``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from . import sessions


@dataclass(frozen=True)
class Operator:
    issuer: str
    subject: str

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"


def parse(value: Any) -> tuple[Operator, ...]:
    """The configured operators; a ValueError's message starts with the bad item's place
    (``[1].subject: ...``) so the caller can name the whole key."""
    if isinstance(value, str):  # the environment's form: "<issuer> <subject>, ..."
        value = [item for item in (part.strip() for part in value.split(",")) if item]
    if not isinstance(value, list | tuple):
        raise ValueError(": must be a list of {issuer, subject} tables")
    return tuple(_one(index, item) for index, item in enumerate(value))


def _one(index: int, item: Any) -> Operator:
    if isinstance(item, Operator):
        return item
    if isinstance(item, str):
        parts = item.split()
        if len(parts) != 2:
            raise ValueError(f"[{index}]: write the issuer and the subject separated by a "
                             f"space, got {item!r}")
        item = {"issuer": parts[0], "subject": parts[1]}
    if not isinstance(item, Mapping):
        raise ValueError(f"[{index}]: must be a table with issuer and subject")
    unknown = set(item) - {"issuer", "subject"}
    if unknown:
        raise ValueError(f"[{index}].{sorted(unknown)[0]}: unknown key; an operator has "
                         f"issuer and subject")
    for key in ("issuer", "subject"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ValueError(f"[{index}].{key}: missing; copy it from the diagnostics page, "
                             f"which shows a signed-in visitor's issuer and subject")
    return Operator(item["issuer"].strip(), item["subject"].strip())


def visitor() -> Operator | None:
    """The signed-in visitor as an operator would be named, whoever they are.
    Signed in now: a sign-in ended by a refused refresh, or whose tokens expired
    with no way to renew them, names nobody (:func:`webapp.sessions.live_auth`)."""
    auth = sessions.live_auth()
    if not auth or not auth.get("iss") or not auth.get("sub"):
        return None
    return Operator(str(auth["iss"]), str(auth["sub"]))


def current() -> Operator | None:
    """The signed-in visitor if the configuration names them an operator."""
    person = visitor()
    configured = current_app.config["FEDLAB"]["diagnostics"]["operators"]
    return person if person is not None and person in configured else None
