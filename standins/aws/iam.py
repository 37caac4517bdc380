"""Identity-based policy evaluation, for the statement shapes of :mod:`webapp.policies`.

What IAM does for one request: substitute policy variables
(``${cognito-identity.amazonaws.com:sub}`` is the identity id), match actions
and resource ARNs with ``*`` and ``?`` wildcards, evaluate ``StringEquals`` /
``StringLike`` (and their ``Not`` forms and ``ForAnyValue:``/``ForAllValues:``
prefixes) against the request's context keys (``s3:prefix``); an explicit
Deny wins, otherwise an Allow is needed. A condition on a key the request does
not carry fails (unless the operator ends in ``IfExists``), which is why
listing a bucket without a ``prefix`` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Any

SUB_VARIABLE = "cognito-identity.amazonaws.com:sub"


class Decision(StrEnum):
    ALLOW = "allow"
    #: A Deny statement matched: AWS says "with an explicit deny".
    EXPLICIT_DENY = "explicit deny"
    #: Nothing allowed it: AWS says "because no identity-based policy allows".
    IMPLICIT_DENY = "implicit deny"


def decide(statements: Iterable[Mapping[str, Any]], action: str, resource: str,
           context: Mapping[str, str], variables: Mapping[str, str]) -> Decision:
    decision = Decision.IMPLICIT_DENY
    for statement in statements:
        if not _matches(statement, action, resource, context, variables):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        if statement.get("Effect") == "Allow":
            decision = Decision.ALLOW
    return decision


def is_allowed(statements: Iterable[Mapping[str, Any]], action: str, resource: str,
               context: Mapping[str, str], variables: Mapping[str, str]) -> bool:
    return decide(statements, action, resource, context, variables) is Decision.ALLOW


def denied_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """IAM's words for a refused call, as services put them in ``AccessDenied``."""
    why = ("with an explicit deny in an identity-based policy"
           if decision is Decision.EXPLICIT_DENY
           else f"because no identity-based policy allows the {action} action")
    return (f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} {why}")


def _matches(statement: Mapping[str, Any], action: str, resource: str,
             context: Mapping[str, str], variables: Mapping[str, str]) -> bool:
    if not any(_like(action, pattern, ignore_case=True)
               for pattern in _list(statement.get("Action"))):
        return False
    if not any(_like(resource, _substitute(pattern, variables))
               for pattern in _list(statement.get("Resource"))):
        return False
    return all(_condition(operator, key, _list(values), context, variables)
               for operator, block in (statement.get("Condition") or {}).items()
               for key, values in block.items())


def _condition(operator: str, key: str, values: list[str], context: Mapping[str, str],
               variables: Mapping[str, str]) -> bool:
    base = operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: over one value
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if key not in context:
        return if_exists or base.startswith("StringNot")
    actual = context[key]
    expected = [_substitute(v, variables) for v in values]
    if base == "StringEquals":
        return actual in expected
    if base == "StringNotEquals":
        return actual not in expected
    if base == "StringLike":
        return any(_like(actual, p) for p in expected)
    if base == "StringNotLike":
        return not any(_like(actual, p) for p in expected)
    return False  # an operator this stand-in does not know never grants anything


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: variables.get(m.group(1), m.group(0)), text)


def _like(value: str, pattern: str, ignore_case: bool = False) -> bool:
    return bool(_compiled(pattern, ignore_case).fullmatch(value))


@lru_cache(maxsize=512)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
