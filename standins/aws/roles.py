"""An identity pool's role mappings: AWS's shape, its validation, and how
``GetCredentialsForIdentity`` picks the role with them.

A mapping belongs to one provider of the pool, keyed as AWS keys it: a Cognito
user pool's app client is ``cognito-idp.<region>.amazonaws.com/<pool id>:<app
client id>``, any other provider its ``Logins`` key. ``Token`` takes the role
from the id token (``cognito:preferred_role``, else the single entry of
``cognito:roles``); ``Rules`` takes the role of the first rule, in order, whose
claim matches. Neither deciding is *ambiguous*: ``AuthenticatedRole`` gives
the pool's authenticated role, ``Deny`` refuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TYPES = ("Token", "Rules")
RESOLUTIONS = ("AuthenticatedRole", "Deny")
MATCH_TYPES = ("Equals", "Contains", "StartsWith", "NotEqual")
MAX_RULES = 25
#: AWS's pattern for the role ARNs an identity pool accepts.
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")


class MappingInvalid(ValueError):
    """A role mapping AWS would refuse; ``code`` and ``str()`` are AWS's."""

    def __init__(self, message: str, code: str = "InvalidParameterException") -> None:
        super().__init__(message)
        self.code = code


class RoleRefused(Exception):
    """``GetCredentialsForIdentity`` refuses to pick a role; ``code`` and ``str()`` are AWS's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MappingRule:
    claim: str
    match_type: str
    value: str
    role_arn: str

    def matches(self, claims: Mapping[str, Any]) -> bool:
        """The claim's string form against the value, as AWS compares them (a JSON
        ``true`` is ``"true"``); a rule on a claim the token lacks matches nothing."""
        if self.claim not in claims:
            return False
        actual = claim_text(claims[self.claim])
        if self.match_type == "Equals":
            return actual == self.value
        if self.match_type == "Contains":
            return self.value in actual
        if self.match_type == "StartsWith":
            return actual.startswith(self.value)
        return actual != self.value  # NotEqual


@dataclass(frozen=True)
class RoleMapping:
    type: str
    ambiguous_role_resolution: str
    rules: tuple[MappingRule, ...] = ()

    def as_aws(self) -> dict[str, Any]:
        """The mapping as ``GetIdentityPoolRoles`` answers it."""
        shape: dict[str, Any] = {"Type": self.type,
                                 "AmbiguousRoleResolution": self.ambiguous_role_resolution}
        if self.type == "Rules":
            shape["RulesConfiguration"] = {"Rules": [
                {"Claim": r.claim, "MatchType": r.match_type, "Value": r.value,
                 "RoleARN": r.role_arn} for r in self.rules]}
        return shape


@dataclass(frozen=True)
class Chosen:
    """The role a mapping chose, or None for the pool's authenticated role, and why
    (for the log: the rule or claim that decided)."""

    role_arn: str | None
    reason: str


def claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def parse_mappings(raw: Any, known: Callable[[str], bool]) -> dict[str, RoleMapping]:
    """``RoleMappings`` as ``SetIdentityPoolRoles`` takes it, validated as AWS does;
    ``known(key)`` says whether a key names a provider (app client) of the pool."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise MappingInvalid("RoleMappings: must be a map")
    if len(raw) > 10:
        raise MappingInvalid("1 validation error detected: Value at 'roleMappings' failed to "
                             "satisfy constraint: Member must have length less than or equal "
                             "to 10")
    mappings = {}
    for key, entry in raw.items():
        if not known(str(key)):
            raise MappingInvalid(f"({key}) is not a valid RoleMapping ProviderName or is not "
                                 f"a configured provider.")
        mappings[str(key)] = _mapping(str(key), entry)
    return mappings


def _mapping(key: str, entry: Any) -> RoleMapping:
    where = f"roleMappings.{key}.member"
    if not isinstance(entry, Mapping):
        raise MappingInvalid(f"1 validation error detected: Value at '{where}' failed to "
                             f"satisfy constraint: Member must not be null")
    kind = entry.get("Type")
    if kind not in TYPES:
        raise MappingInvalid(_enum_error(kind, f"{where}.type", TYPES))
    resolution = entry.get("AmbiguousRoleResolution")
    if resolution is None:
        raise MappingInvalid(f"AmbiguousRoleResolution must be specified for {kind} "
                             f"type role mappings (provider {key}).")
    if resolution not in RESOLUTIONS:
        raise MappingInvalid(_enum_error(resolution, f"{where}.ambiguousRoleResolution",
                                         RESOLUTIONS))
    if kind == "Token":
        if entry.get("RulesConfiguration"):
            raise MappingInvalid(f"RulesConfiguration cannot be specified for Token type "
                                 f"role mappings (provider {key}).")
        return RoleMapping(kind, resolution)
    rules = (entry.get("RulesConfiguration") or {}).get("Rules")
    if not isinstance(rules, list) or not rules:
        raise MappingInvalid(f"RulesConfiguration with at least one rule must be specified "
                             f"for Rules type role mappings (provider {key}).")
    if len(rules) > MAX_RULES:
        raise MappingInvalid(f"1 validation error detected: Value at "
                             f"'{where}.rulesConfiguration.rules' failed to satisfy "
                             f"constraint: Member must have length less than or equal to "
                             f"{MAX_RULES}")
    return RoleMapping(kind, resolution, tuple(
        _rule(rule, f"{where}.rulesConfiguration.rules.{n}.member")
        for n, rule in enumerate(rules, 1)))


def _rule(rule: Any, where: str) -> MappingRule:
    if not isinstance(rule, Mapping):
        raise MappingInvalid(f"1 validation error detected: Value at '{where}' failed to "
                             f"satisfy constraint: Member must not be null")
    for field, lower in (("Claim", "claim"), ("Value", "value"), ("RoleARN", "roleARN")):
        if not isinstance(rule.get(field), str) or not rule[field]:
            raise MappingInvalid(f"1 validation error detected: Value at '{where}.{lower}' "
                                 f"failed to satisfy constraint: Member must not be null")
    if rule.get("MatchType") not in MATCH_TYPES:
        raise MappingInvalid(_enum_error(rule.get("MatchType"), f"{where}.matchType",
                                         MATCH_TYPES))
    # AWS's pattern is letters, marks, symbols, digits and punctuation: no spaces.
    if len(rule["Claim"]) > 64 or not re.fullmatch(r"\S+", rule["Claim"]):
        raise MappingInvalid(f"1 validation error detected: Value '{rule['Claim']}' at "
                             f"'{where}.claim' failed to satisfy constraint: Member must "
                             f"satisfy regular expression pattern: [\\p{{L}}\\p{{M}}\\p{{S}}"
                             f"\\p{{N}}\\p{{P}}]+")
    check_role_arn(rule["RoleARN"])
    return MappingRule(rule["Claim"], rule["MatchType"], rule["Value"], rule["RoleARN"])


def check_role_arn(arn: str) -> None:
    """The service's answer to a role that is no well-formed role ARN (a role's bare
    name, a typo in the account): it cannot be assumed, so access to it is forbidden."""
    if not ROLE_ARN.fullmatch(arn):
        raise MappingInvalid(f"Access to Role '{arn}' is forbidden.", "NotAuthorizedException")


def _enum_error(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value is None:
        return (f"1 validation error detected: Value at '{where}' failed to satisfy "
                f"constraint: Member must not be null")
    return (f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")


def choose(key: str, mapping: RoleMapping | None, claims: Mapping[str, Any],
           custom_role_arn: str | None) -> Chosen:
    """The role for an identity signed in with the provider ``key``'s token (``claims``).

    ``custom_role_arn`` (``CustomRoleArn``) picks among the token's roles, so it
    needs a ``Token`` mapping and one of ``cognito:roles``.
    """
    if mapping is None:
        if custom_role_arn:
            raise RoleRefused("InvalidParameterException",
                              f"CustomRoleArn can only be used with a role mapping of type "
                              f"Token; the provider {key} has no role mapping.")
        return Chosen(None, "no role mapping for this provider: the authenticated role")
    if mapping.type == "Token":
        chosen = _from_token(key, claims, custom_role_arn)
    else:
        if custom_role_arn:
            raise RoleRefused("InvalidParameterException",
                              f"CustomRoleArn can only be used with a role mapping of type "
                              f"Token; the provider {key} has a Rules mapping.")
        chosen = _from_rules(mapping, claims)
    if chosen is not None:
        return chosen
    if mapping.ambiguous_role_resolution == "Deny":
        raise RoleRefused("NotAuthorizedException",
                          f"The ambiguous role mapping rules for: {key} denied this request.")
    return Chosen(None, f"ambiguous under the {mapping.type} mapping: the authenticated role")


def _from_token(key: str, claims: Mapping[str, Any], custom: str | None) -> Chosen | None:
    roles = claims.get("cognito:roles") or []
    roles = [roles] if isinstance(roles, str) else [str(r) for r in roles]
    if custom:
        if custom not in roles:
            raise RoleRefused("NotAuthorizedException",
                              "The CustomRoleArn is not one of the roles in the token's "
                              "cognito:roles.")
        return Chosen(custom, "CustomRoleArn, one of the token's cognito:roles")
    preferred = claims.get("cognito:preferred_role")
    if isinstance(preferred, str) and preferred:
        return Chosen(preferred, "the token's cognito:preferred_role")
    if len(roles) == 1:
        return Chosen(roles[0], "the token's only cognito:roles entry")
    return None


def _from_rules(mapping: RoleMapping, claims: Mapping[str, Any]) -> Chosen | None:
    for number, rule in enumerate(mapping.rules, 1):
        if rule.matches(claims):
            return Chosen(rule.role_arn, f"rule {number}: {rule.claim} {rule.match_type} "
                                         f"{rule.value!r}")
    return None
