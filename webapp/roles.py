"""Why the identity pool gave this role: its role mappings, read and explained.

An identity pool picks a signed-in identity's role per provider, by the
provider's entry in its ``RoleMappings`` (``GetIdentityPoolRoles`` lists them):

* no entry: the pool's authenticated role;
* ``Token``: the id token's ``cognito:preferred_role``, else its only
  ``cognito:roles`` entry, else it is ambiguous; a ``CustomRoleArn`` (the
  visitor's choice, Amplify's ``customRoleARN``) must be one of ``cognito:roles``;
* ``Rules``: the first rule, in order, whose claim matches; none is ambiguous.

Ambiguous ends in the mapping's ``AmbiguousRoleResolution``: ``AuthenticatedRole``
(the pool's authenticated role) or ``Deny`` (no credentials at all).

Reading the pool's settings is a signed call, made with the site's own AWS
identity (:mod:`webapp.site_aws`), and kept per app for :data:`ROLES_TTL`
seconds. An explanation decides nothing: the role given is the one STS reports
for the credentials (``GetCallerIdentity``), and when this reading of the pool
disagrees with it (the pool changed since it was read, say) the page says so
rather than trusting either quietly.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from flask import Flask, current_app

from . import aws, config, site_aws
from .errors import FedlabError
from .providers import registry
from .providers.base import AmbiguousRoleResolution, MatchType, RoleMappingType
from .records import AwsState, SignIn

EXTENSION = "fedlab.roles"
#: Seconds the pool's roles and mappings are believed once read. An operator's
#: change reaches the page this late at most (the role given is never late: STS says it).
ROLES_TTL = 300.0
#: Seconds a failed reading is believed (no credentials of the site's own, refused).
FAILED_TTL = 60.0
#: An IAM role's ARN, in any partition, with an optional path (IAM's own limits).
ROLE_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
#: The error codes whose page says what the pool's mapping and the token decided.
ROLE_REFUSALS = ("role_mapping_denied", "role_choice_refused")


class RoleRule(msgspec.Struct, frozen=True, rename="pascal"):
    """One rule of a ``Rules`` mapping: when the token's ``claim`` matches ``value``
    (``Equals``, ``Contains``, ``StartsWith`` or ``NotEqual``), the role is ``role_arn``."""

    claim: str
    match_type: MatchType
    value: str
    role_arn: str = msgspec.field(name="RoleARN")

    @property
    def role_name(self) -> str:
        return role_name(self.role_arn)

    def matches(self, text: str | None) -> bool:
        """Whether a claim of this string form matches; a claim the token lacks
        matches no rule, not even ``NotEqual``."""
        if text is None:
            return False
        match self.match_type:
            case MatchType.EQUALS:
                return text == self.value
            case MatchType.CONTAINS:
                return self.value in text
            case MatchType.STARTS_WITH:
                return text.startswith(self.value)
            case MatchType.NOT_EQUAL:
                return text != self.value

    @property
    def caveat(self) -> str | None:
        """What the rule also matches that its author may not mean, said where the page
        names it as the rule that decided: ``Contains`` on an e-mail is no "ends with"."""
        if self.match_type is not MatchType.CONTAINS or self.claim != "email":
            return None
        longer = self.value if self.value.startswith("@") else f"@{self.value}"
        return (f'Contains is not "ends with": {shown(self.value)} is also in an address at '
                f"a longer domain that begins the same, such as someone{longer}.evil.test, "
                f"which whoever owns that domain can have verified. A rule that gives a "
                f"privileged role should compare an exact claim with Equals (Google's hd, "
                f"an Auth0 organization's org_id, a claim your provider adds).")


class RulesConfiguration(msgspec.Struct, frozen=True, rename="pascal"):
    rules: tuple[RoleRule, ...] = ()


class PoolRoleMapping(msgspec.Struct, frozen=True, rename="pascal"):
    """How the pool picks the role for one provider, as ``GetIdentityPoolRoles``
    answers it (AWS's ``RoleMapping``). Not to be confused with the template's
    declaration of one, :class:`webapp.providers.base.RoleMapping`: this is what the
    pool says it does, whoever set it up."""

    type: RoleMappingType
    #: What an ambiguous answer becomes; AWS requires it, and none reads as AuthenticatedRole.
    ambiguous_role_resolution: AmbiguousRoleResolution | None = None
    rules_configuration: RulesConfiguration | None = None

    @property
    def rules(self) -> tuple[RoleRule, ...]:
        return self.rules_configuration.rules if self.rules_configuration else ()


class PoolRoles(msgspec.Struct, frozen=True, rename="pascal"):
    """``GetIdentityPoolRoles``'s answer: the pool's roles and its mappings by
    provider key."""

    roles: dict[str, str] = {}
    role_mappings: dict[str, PoolRoleMapping] = {}

    @property
    def authenticated(self) -> str | None:
        return self.roles.get("authenticated")

    @property
    def unauthenticated(self) -> str | None:
        return self.roles.get("unauthenticated")


@dataclass(frozen=True)
class Unreadable:
    """Why the pool's settings could not be read (the page says what it cannot know)."""

    reason: str


@dataclass(frozen=True)
class RuleOutcome:
    """A rule of the visitor's mapping, with the visitor's value of its claim:
    ``matched`` for the first rule that matches (it decides), ``reached`` for it
    and the rules before it (the pool never looks further)."""

    number: int
    rule: RoleRule
    claim_value: str | None
    matched: bool
    reached: bool


@dataclass(frozen=True)
class Explanation:
    """Why the pool gave (or refuses) a role, from its settings and the sign-in's token.

    ``how`` says which path decided: ``guest``, ``no_mapping``, ``rule``,
    ``preferred_role``, ``only_role``, ``choice``, ``ambiguous`` (the pool's
    authenticated role), ``denied`` or ``unknown`` (the settings could not be read).
    """

    how: str
    #: The decision in plain words.
    words: str
    #: The role this reading gives; None when unknown or denied.
    role_arn: str | None = None
    #: The provider's key in the pool's RoleMappings.
    mapping_key: str | None = None
    mapping: PoolRoleMapping | None = None
    #: Each rule of a Rules mapping, with the visitor's claim value.
    rules: tuple[RuleOutcome, ...] = ()
    #: What the deciding rule also matches (:attr:`RoleRule.caveat`), if anything.
    caveat: str | None = None


@dataclass(frozen=True)
class RoleSummary:
    """The credentials page's account of the role: the one given (STS's word), why,
    whether this reading of the pool agrees, and the roles the visitor may choose."""

    #: The role's ARN as STS reports it (an assumed-role ARN), and its name.
    given_arn: str
    given: str
    why: Explanation
    choices: tuple[OfferedRole, ...]
    chosen: str | None

    @property
    def disagrees(self) -> bool:
        """Whether the pool's settings, as read, name another role than STS's."""
        return self.why.role_arn is not None and not same_role(self.why.role_arn,
                                                                self.given_arn)

    @property
    def expected(self) -> str | None:
        return role_name(self.why.role_arn) if self.why.role_arn else None


@dataclass(frozen=True)
class OfferedRole:
    """A role the visitor may choose, and whether it is the one in use."""

    arn: str
    name: str
    in_use: bool


class PoolReader:
    """The pool's roles and mappings, read with the site's identity and kept a while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: tuple[float, PoolRoles | Unreadable] | None = None

    def read(self) -> PoolRoles | Unreadable:
        with self._lock:
            if self._held is not None and time.monotonic() < self._held[0]:
                return self._held[1]
        found = _readable()
        ttl = ROLES_TTL if isinstance(found, PoolRoles) else FAILED_TTL
        with self._lock:
            self._held = (time.monotonic() + ttl, found)
        return found

    def forget(self) -> None:
        """Read the pool again next time (an operator changed it)."""
        with self._lock:
            self._held = None


def init_app(app: Flask) -> None:
    if config.settings(app).aws.identity_pool_id:
        app.extensions[EXTENSION] = PoolReader()


def pool_roles() -> PoolRoles | Unreadable:
    """The pool's roles and mappings (kept :data:`ROLES_TTL` seconds), or why not."""
    reader: PoolReader | None = current_app.extensions.get(EXTENSION)
    if reader is None:
        return Unreadable("No identity pool is configured.")
    return reader.read()


def fetch(identity: Any = None, timeout: float | None = None) -> PoolRoles:
    """``GetIdentityPoolRoles`` now, signed with the site's own identity: the one
    place the app asks the pool for its roles and mappings. A refusal or an outage
    is its catalogue entry (``site_credentials_missing``, ``site_not_permitted``,
    ``aws_timeout``...), as for any AWS call.

    ``identity`` is the site's signed client unless another is given (a probe's,
    with its own ``timeout`` and one attempt)."""
    identity = identity or site_aws.client("cognito-identity")
    with aws.errors_explained("GetIdentityPoolRoles", timeout):
        answer = identity.get_identity_pool_roles(
            IdentityPoolId=config.settings().aws.identity_pool_id)
    try:
        return msgspec.convert(answer, PoolRoles)
    except msgspec.ValidationError as e:
        raise FedlabError("aws_error", operation="GetIdentityPoolRoles",
                          aws_code="an answer of a shape this site does not know",
                          aws_message=str(e)) from None


def _readable() -> PoolRoles | Unreadable:
    """:func:`fetch`, or why the page cannot say what the pool's settings are."""
    try:
        return fetch()
    except FedlabError as e:
        if e.code == "site_credentials_missing":
            return Unreadable(
                "This site has no AWS credentials of its own, so it cannot read the pool's "
                "role mappings (GetIdentityPoolRoles is a signed call): the role below is "
                "the one STS reports, and why the pool chose it is not known here.")
        # AWS's own words when it answered (AccessDeniedException: the site's policy
        # lacks the action), else the catalogue's (a timeout, no answer).
        words = (f"{e.details['aws_code']}: {e.details['aws_message']}"
                 if e.details.get("aws_code") else e.describe())
        return Unreadable(f"The pool's role mappings could not be read "
                          f"(GetIdentityPoolRoles): {words}")


# -- explaining ------------------------------------------------------------------------


def claim_text(value: Any) -> str:
    """A claim's string form, which rules compare: JSON's for anything but a string
    (``true``, ``42``, ``["a","b"]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def offered(auth: SignIn | None) -> tuple[str, ...]:
    """The roles the sign-in's token offers to choose from (a kind's business)."""
    if auth is None:
        return ()
    return registry.get(auth.provider).offered_roles(auth.claims)


def summary(auth: SignIn | None, state: AwsState) -> RoleSummary:
    """The role ``state`` holds, why the pool gave it, and the visitor's choices."""
    return RoleSummary(given_arn=state.role_arn, given=role_name(state.role_arn),
                       why=explain(auth, state), choices=choices(auth, state),
                       chosen=state.custom_role_arn)


def choices(auth: SignIn | None, state: AwsState) -> tuple[OfferedRole, ...]:
    """The roles the visitor may choose among, when the token offers more than one."""
    roles = offered(auth)
    if len(roles) < 2 or state.guest:
        return ()
    return tuple(OfferedRole(arn, role_name(arn), same_role(arn, state.role_arn))
                 for arn in roles)


def explain(auth: SignIn | None, state: AwsState) -> Explanation:
    """Why the pool gave ``state``'s role, from its settings and ``auth``'s token."""
    pool = pool_roles()
    if state.guest:
        role = pool.unauthenticated if isinstance(pool, PoolRoles) else None
        return Explanation("guest", "Guests have no provider and no mapping: they get the "
                                    "pool's unauthenticated role.", role)
    if isinstance(pool, Unreadable):
        return Explanation("unknown", pool.reason)
    if auth is None or state.provider is None:
        return Explanation("unknown", "The sign-in these credentials came from has ended.")
    return decide(pool, auth, state.custom_role_arn)


def decide(pool: PoolRoles, auth: SignIn, custom_role_arn: str | None) -> Explanation:
    """The role the pool's settings give ``auth``, and why (the order AWS documents)."""
    provider = registry.get(auth.provider)
    key = provider.role_mapping_key
    roles = provider.offered_roles(auth.claims)
    mapping = pool.role_mappings.get(key)
    if custom_role_arn:
        return Explanation(
            "choice", f"You chose {role_name(custom_role_arn)} (CustomRoleArn), one of the "
                      f"roles your token offers; the pool gives a chosen role only if the "
                      f"token lists it.", custom_role_arn, key, mapping)
    if mapping is None:
        return Explanation(
            "no_mapping", f"The pool has no role mapping for this provider ({key}), so it "
                          f"gives its authenticated role.", pool.authenticated, key)
    if mapping.type is RoleMappingType.TOKEN:
        preferred = auth.claims.get("cognito:preferred_role")
        if isinstance(preferred, str) and preferred:
            return Explanation(
                "preferred_role", f"The mapping takes the role from the token: its "
                                  f"cognito:preferred_role is {role_name(preferred)}, the role "
                                  f"of your group of lowest precedence.",
                preferred, key, mapping)
        if len(roles) == 1:
            return Explanation(
                "only_role", f"The mapping takes the role from the token: it has no "
                             f"cognito:preferred_role, and its cognito:roles lists one role, "
                             f"{role_name(roles[0])}.", roles[0], key, mapping)
        why = ("The mapping takes the role from the token, which names none: no "
               "cognito:preferred_role" + (f", and {len(roles)} cognito:roles to choose from."
                                           if roles else " and no cognito:roles."))
        return ambiguous(pool, key, mapping, why)
    outcomes = evaluate(mapping.rules, auth.claims)
    first = next((o for o in outcomes if o.matched), None)
    if first is not None:
        rule, match = first.rule, MATCH_WORDS[first.rule.match_type]
        return Explanation(
            "rule", f"Rule {first.number} matched: your {rule.claim} "
                    f"({shown(first.claim_value)}) {match} {shown(rule.value)}, so the role "
                    f"is {role_name(rule.role_arn)}.",
            rule.role_arn, key, mapping, outcomes, rule.caveat)
    return ambiguous(pool, key, mapping, f"None of the mapping's {len(outcomes)} rules "
                                         f"matched your token's claims.", outcomes)


def evaluate(rules: tuple[RoleRule, ...], claims: dict[str, Any]) -> tuple[RuleOutcome, ...]:
    """Each rule against the claims, in order: the first match decides."""
    outcomes: list[RuleOutcome] = []
    decided = False
    for number, rule in enumerate(rules, 1):
        text = claim_text(claims[rule.claim]) if rule.claim in claims else None
        matched = not decided and rule.matches(text)
        outcomes.append(RuleOutcome(number, rule, text, matched, not decided))
        decided = decided or matched
    return tuple(outcomes)


MATCH_WORDS = {MatchType.EQUALS: "equals", MatchType.CONTAINS: "contains",
               MatchType.STARTS_WITH: "starts with", MatchType.NOT_EQUAL: "is not"}


def ambiguous(pool: PoolRoles, key: str, mapping: PoolRoleMapping, why: str,
              rules: tuple[RuleOutcome, ...] = ()) -> Explanation:
    """Neither the token nor a rule named a role: the mapping's resolution decides."""
    if mapping.ambiguous_role_resolution is AmbiguousRoleResolution.DENY:
        return Explanation("denied", f"{why} The mapping resolves that with Deny: no "
                                     f"credentials.", None, key, mapping, rules)
    return Explanation("ambiguous", f"{why} The mapping resolves that with "
                                    f"AuthenticatedRole: the pool's authenticated role.",
                       pool.authenticated, key, mapping, rules)


def shown(text: str | None) -> str:
    return "absent" if text is None else f'"{text}"'


# -- roles by ARN -------------------------------------------------------------------------


def checked_role_arn(value: str) -> str:
    """The visitor's choice, checked for shape only: whether the token allows it is
    AWS's to decide (and its refusal is explained)."""
    if not ROLE_ARN.fullmatch(value):
        raise FedlabError("role_arn_malformed", value=value[:200])
    return value


def role_name(arn: str) -> str:
    """A role's name from its ARN (``role/path/name``) or from an STS assumed-role
    ARN (``assumed-role/name/session``), which drops the role's path."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    return resource.rsplit("/", 1)[-1]


def same_role(one: str | None, other: str | None) -> bool:
    """Whether two ARNs (a role's, or STS's assumed-role) name the same role of the
    same account."""
    if not one or not other:
        return False
    account = [arn.split(":")[4] if arn.count(":") >= 5 else "" for arn in (one, other)]
    return account[0] == account[1] and role_name(one) == role_name(other)


def refusal_details(auth: SignIn | None, custom_role_arn: str | None) -> dict[str, str]:
    """What the page of a refused role says besides AWS's words: the decision as this
    site reads the pool, and the roles the token offers."""
    if auth is None:
        return {}
    details = {"offered_roles": ", ".join(role_name(r) for r in offered(auth)) or "none"}
    if custom_role_arn:
        details["chosen_role"] = custom_role_arn
    pool = pool_roles()
    if isinstance(pool, PoolRoles):
        details["role_reason"] = decide(pool, auth, None).words
    else:
        details["role_reason"] = pool.reason
    return details
