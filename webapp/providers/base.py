"""The declared interface of a provider kind, and what every kind shares.

A kind is a subclass of :class:`Provider`; an instance is one configured
provider (one ``[providers.<name>]`` table, validated), frozen and shared
read-only by every request. What differs between kinds is said once, on the
class: which settings keys it takes (``KEYS``), where its console asks for each
URL (``CONSOLE``), its display name and default scopes, how its callback
arrives (``RESPONSE_MODE``), and the methods below that it overrides. Views and
services never ask which kind a provider is; they call its methods.

How a callback arrives
----------------------
The authorization response comes back to ``/auth/<name>/callback`` in the
provider's response mode (OAuth 2.0 Multiple Response Type Encoding Practices;
OAuth 2.0 Form Post Response Mode). A kind declares it with ``RESPONSE_MODE``
(``query``, the default, or ``form_post``, as Sign in with Apple needs when it
is asked for the visitor's name or e-mail); an ``oidc`` provider may instead be
configured with ``authorize_params = {response_mode = "form_post"}``. Either
way the mode is sent in the authorization request and read back as
:attr:`Provider.response_mode`; any other mode is refused as the configuration
is read (``fragment``'s answer would never reach the server). The views
(:mod:`webapp.auth`) do the rest, the same for every kind:

- ``query``: the provider redirects the browser to the callback; the GET's
  query is the response. A POST to such a provider's callback is refused (405).
- ``form_post``: the provider's page POSTs the response to the callback from
  the provider's site. The session cookie is ``SameSite=Lax`` and so does not
  come with that cross-site POST: the POST cannot find the sign-in it answers.
  So the POST reads and changes no session; it answers with a 303 to the GET
  callback, carrying only the authorization-response parameters
  (``code``, ``state``, ``iss``, ``error``, ``error_description``,
  ``error_uri``; each bounded in length, none repeated, else the catalogue's
  ``bad_request``). The browser follows the 303 as a top-level GET, which the
  Lax cookie does accompany, and the GET checks everything as for ``query``.
  This adds nothing an attacker lacks: anyone can send a browser to the GET
  callback with any parameters. The POST needs no CSRF token: the ``state``,
  checked by the GET, is the callback's CSRF check (RFC 6749 10.12).

Anything else in the posted form is not carried on: it would travel in a URL
(browser history, server logs, Referer). A kind whose provider posts more than
the response (Sign in with Apple's ``user``, the name given only at the first
authorization) declares those fields in ``FORM_POST_EXTRAS``: the POST then
keeps them, bounded and sealed, in the session store under a name derived from
the ``state`` (:mod:`webapp.form_post_extras`), for a few minutes; the GET
takes them once, only after the state matched this browser's sign-in, and
hands them to the kind (:meth:`Provider.with_form_post_extras`) only after the
token response verified. They never reach a URL and the session is untouched.
"""

from __future__ import annotations

import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

from ..pagewords import page_words
from ..urls import lab_address, origin_of
from .console import ConsoleRow, Form, console_row

if TYPE_CHECKING:

    from ..oauth import ProviderClient
    from ..records import Registration, Renewed, SignIn, Verified

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
#: Keys every ``[providers.<name>]`` table may have, whatever its kind.
COMMON_KEYS = ("kind", "display_name", "client_id", "client_secret", "scopes")
#: The response modes the callback takes (see "How a callback arrives" above).
RESPONSE_MODES = ("query", "form_post")
#: Authorization request parameters each sign-in sets itself (RFC 6749 4.1.1, RFC 7636,
#: OpenID Connect Core 3.1.2.1), and a request object (RFC 9101) that would replace
#: them all: never ``authorize_params``.
FLOW_PARAMS = frozenset({
    "state", "nonce", "code_verifier", "code_challenge", "code_challenge_method",
    "client_id", "client_secret", "redirect_uri", "response_type", "scope",
    "request", "request_uri",
})


class ProviderConfigError(Exception):
    """Raised while a kind reads its table; :func:`webapp.providers.build` turns it
    into a ConfigError that names the key."""


@dataclass(frozen=True)
class SignOut:
    """What signing out at the provider takes, once the local session is gone."""

    #: Where to send the browser to end the provider's own session, if it has one.
    url: str | None
    #: ``(endpoint, form, basic_auth)`` to revoke the refresh token (RFC 7009), if offered.
    revocation: tuple[str, dict[str, str], tuple[str, str] | None] | None
    #: What the visitor should know (e.g. still signed in at Google).
    note: str


@dataclass(frozen=True)
class EndedThere:
    """What signing out everywhere did at the provider, once this site's own
    sessions of the person are gone: whether a request was sent, whether the
    provider confirmed it, and what the visitor should know."""

    #: A short word for the log line: ``not_offered``, ``global_sign_out``,
    #: ``scope_missing``, ``no_access_token``, ``refused``, ``unreachable``.
    outcome: str
    #: What the visitor is told, in the provider's terms.
    note: str
    #: Whether a request to end the person's sessions went to the provider.
    sent: bool = False
    #: Whether the provider answered that it ended them.
    done: bool = False


@dataclass(frozen=True)
class Provider(ABC):
    """One configured provider of some kind; the kind is the class.

    Subclasses set the class attributes and implement the abstract methods;
    the other methods have the OAuth 2 defaults (RFC 6749), which a kind
    overrides only where its provider differs.
    """

    #: The ``kind`` value of a ``[providers.<name>]`` table that selects this class.
    KIND: ClassVar[str]
    DISPLAY_NAME: ClassVar[str]
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]]
    #: The kind's own settings keys, each with what to put there (error messages
    #: and ``fedlab`` print these words).
    KEYS: ClassVar[Mapping[str, str]]
    #: Where each URL is registered, in the provider's own console words:
    #: ``callback``, ``sign_out`` (None: nothing to register), ``origin``, and
    #: ``backchannel_logout`` (there exactly when :attr:`SENDS_LOGOUT_TOKENS`).
    CONSOLE: ClassVar[Mapping[str, str | None]]
    #: The form each of those fields wants its value in, where it is not the
    #: whole URL: most consoles want an origin for the site, Facebook's App
    #: Domains and Apple's Domains and Subdomains a bare host name.
    CONSOLE_FORMS: ClassVar[Mapping[str, Form]] = {"origin": Form.ORIGIN}
    #: Whether this kind's provider may send logout tokens (OpenID Connect
    #: Back-Channel Logout 1.0): ``/auth/<name>/backchannel-logout`` takes them,
    #: the matrix and ``fedlab check`` say where to register that URL, the probe
    #: tries it and the demo registers it. Said by the kind, not guessed from its
    #: console words; a subclass of a kind that sends them says False if its
    #: provider does not (Google, Apple, Cognito).
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = False
    #: How the authorization response comes back to ``/auth/<name>/callback``
    #: (see the module's docstring): ``query`` (a GET redirect, the code flow's
    #: default, never sent) or ``form_post`` (a POST from the provider's page).
    RESPONSE_MODE: ClassVar[str] = "query"
    #: Fields besides the response that a ``form_post`` answer carries and the kind
    #: reads (see "How a callback arrives"), each with the most characters kept.
    FORM_POST_EXTRAS: ClassVar[Mapping[str, int]] = {}
    #: The provider returns an id token whatever the scope, ``openid`` or not
    #: (Sign in with Apple): the request then carries a nonce all the same.
    ID_TOKEN_WITHOUT_OPENID: ClassVar[bool] = False
    #: A ``client_secret`` is configured (the default). False: the kind makes its
    #: own (Apple's signed JWT) from keys of its table.
    TAKES_CLIENT_SECRET: ClassVar[bool] = True
    #: How the ``scope`` parameter joins scope names (RFC 6749 3.3: spaces).
    SCOPE_SEPARATOR: ClassVar[str] = " "
    #: Settings keys holding URLs the browser is sent to (besides the endpoints
    #: and the issuer): the CSP's ``form-action`` must allow their origins.
    BROWSER_SETTINGS: ClassVar[tuple[str, ...]] = ()
    #: Keys that name where the provider's endpoints are (``domain`` is a host
    #: name), as configured or as the kind resolved them: production refuses a
    #: lab address in any of them and names the key.
    URL_KEYS: ClassVar[tuple[str, ...]] = ()
    #: The mark its sign-in button carries (``templates/marks.html`` draws one per
    #: name: cognito, auth0, google, facebook, amazon, apple, oidc).
    MARK: ClassVar[str] = "oidc"
    #: Origins the provider's profile pictures are served from: the CSP's
    #: ``img-src`` allows exactly these (and a lab provider's own origin), so the
    #: header can show the picture the provider gives and nothing else loads.
    PICTURE_ORIGINS: ClassVar[tuple[str, ...]] = ()

    name: str
    display_name: str
    client_id: str
    #: Never in a repr (log lines, tracebacks).
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    #: The OpenID Connect issuer; ``None`` for plain OAuth 2 (Facebook).
    issuer: str | None
    #: Fixed endpoints by role (``authorize``, ``token``, ``userinfo``, ``revoke``,
    #: ``logout``, ...); for OpenID Connect kinds discovery fills the rest.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_auth_method: str = "client_secret_basic"
    #: ``(name, function)`` pairs for authlib, for a method it does not know.
    client_auth_methods: tuple[tuple[str, Any], ...] = ()
    #: The token endpoint's HTTP method: POST (RFC 6749) unless the provider says GET.
    token_request_method: str = "POST"
    #: The kind-specific keys as configured (domain, region, user_pool_id...).
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Other issuer spellings the provider really uses in its tokens.
    issuer_aliases: tuple[str, ...] = ()

    # -- configuration ----------------------------------------------------------

    @classmethod
    @abstractmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        """The kind's fields (issuer, endpoints, authorize parameters...) from its
        table ``raw``; ``scopes`` are already parsed. Raises ProviderConfigError."""

    @classmethod
    def demo_secrets(cls) -> dict[str, str]:
        """The secrets ``fedlab init-demo`` writes for a table of this kind: a
        random client secret, unless the kind needs another secret."""
        return {"client_secret": secrets.token_urlsafe(32)}

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def scope(self) -> str:
        """The ``scope`` parameter of the authorization request."""
        return self.SCOPE_SEPARATOR.join(self.scopes)

    @property
    def discovery_url(self) -> str | None:
        if self.issuer is None:
            return None
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    # -- the callback -------------------------------------------------------------

    @property
    def response_mode(self) -> str:
        """How this provider's authorization response arrives: the ``response_mode``
        its authorization request sends (the kind's ``RESPONSE_MODE``, or the
        table's ``authorize_params``), else ``query``."""
        return self.authorize_params.get("response_mode", "query")

    def with_form_post_extras(self, who: Verified, extras: Mapping[str, str]) -> Verified:
        """``who`` with what the kind reads from its ``FORM_POST_EXTRAS`` (called
        after the token response verified, with the fields the POST carried, if
        any): nothing by default."""
        return who

    def authorization_error_code(self, error: str) -> str:
        """The RFC 6749 4.1.2.1 code a provider's own ``error`` value means."""
        return error

    # -- signing in, refreshing, signing out -------------------------------------

    @abstractmethod
    def sign_in(self, client: ProviderClient, token: dict[str, Any],
                nonce: str | None) -> Verified:
        """Check the token response of the code exchange; say who signed in."""

    @abstractmethod
    def userinfo(self, client: ProviderClient, auth: SignIn) -> dict[str, Any]:
        """Ask the provider about the signed-in visitor; only an answer about the
        same subject is returned."""

    @abstractmethod
    def refresh(self, client: ProviderClient, auth: SignIn) -> Renewed:
        """New tokens for ``auth`` (RFC 6749 section 6), checked as at sign-in."""

    @abstractmethod
    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        """How to end the provider's side of ``auth`` and come back to ``return_to``.
        ``auth`` is None when only the URL is wanted (the sign-out probe)."""

    def end_everywhere(self, client: ProviderClient, auth: SignIn) -> EndedThere:
        """End every session of ``auth``'s person at the provider (sign out everywhere),
        after this site has ended its own.

        Most providers offer a site no such call: OAuth 2 and OpenID Connect let
        a client revoke the tokens it holds (RFC 7009) and send the browser to
        the provider's sign-out, nothing more. So by default nothing is sent,
        and the visitor is told what that leaves: their sessions at the provider
        itself, in other browsers too. A kind whose provider has the call (Cognito's
        ``GlobalSignOut``) overrides this. It never raises: this site's sessions
        are already gone, whatever the provider says.
        """
        return EndedThere(
            "not_offered",
            f"{self.display_name} offers no way for a site to end your sessions there: "
            f"you may still be signed in to {self.display_name} itself, in this browser "
            f"and others. The tokens this site held for your other sessions were deleted "
            f"with them, not revoked at {self.display_name}.")

    def revocation(self, client: ProviderClient, refresh_token: str | None,
                   endpoint: str | None = None) -> tuple[str, dict[str, str], Any] | None:
        """The RFC 7009 request that revokes ``refresh_token`` at ``endpoint`` (or
        the discovered one), authenticated as the token endpoint is; None if either
        is missing."""
        endpoint = endpoint or client.metadata.get("revocation_endpoint")
        if not refresh_token or not endpoint:
            return None
        form = {"token": refresh_token, "token_type_hint": "refresh_token"}
        if self.token_auth_method == "client_secret_post":
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
            return endpoint, form, None
        return endpoint, form, (self.client_id, self.client_secret)

    # -- back-channel logout (OpenID Connect Back-Channel Logout 1.0) -----------------

    @property
    def takes_logout_tokens(self) -> bool:
        """Whether this kind's provider may send logout tokens
        (:attr:`SENDS_LOGOUT_TOKENS`)."""
        return self.SENDS_LOGOUT_TOKENS

    def backchannel_logout_supported(self, metadata: Mapping[str, Any]) -> bool:
        """Whether the provider says, in ``metadata`` (its discovery), that it
        sends logout tokens (section 2.1): never, unless the kind reads it."""
        return False

    # -- the Identity Pool ----------------------------------------------------------

    #: How deploy/identity-pool.json registers the kind on the pool (one record per
    #: registration; ``()``: not on the pool). Each kind declares its own: one
    #: inherited from another kind would register the same names twice.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]]

    @property
    @abstractmethod
    def logins_key(self) -> str:
        """This provider's key in an Identity Pool ``Logins`` map."""

    def offered_roles(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """The IAM roles the sign-in's token offers, any of which the visitor may ask
        the pool for (``CustomRoleArn``): none, unless the kind's tokens carry roles."""
        return ()

    @abstractmethod
    def logins(self, auth: SignIn) -> dict[str, str]:
        """The Identity Pool ``Logins`` map for ``auth``: the key and its token."""

    @property
    def role_mapping_key(self) -> str:
        """This provider's key in an Identity Pool's ``RoleMappings``: its Logins key
        (a Cognito user pool's is per app client)."""
        return self.logins_key

    @abstractmethod
    def pool_provider(self) -> dict[str, Any]:
        """How this provider is registered on an Identity Pool (and so what the pool
        checks); the AWS stand-in is configured from it."""

    # -- diagnostics ------------------------------------------------------------------

    def callback_refusal(self, response: requests.Response, callback_url: str) -> str | None:
        """The provider's words if it refused ``callback_url``, else None.

        RFC 6749 4.1.2.1: an unregistered redirect URI gets an error page at the
        provider, never a redirect to it.
        """
        if response.status_code >= 400:
            return page_words(response)
        location = response.headers.get("Location", "")
        if location.startswith(callback_url):
            error = parse_qs(urlsplit(location).query).get("error")
            if error and error[0] != "access_denied":
                return error[0]
        return None

    def token_error_kind(self, error: str | None, description: str) -> str | None:
        """The RFC 6749 5.2 error code a token endpoint's refusal means."""
        return error

    def upstream_registrations(self) -> list[Registration]:
        """URLs to register at a provider behind this one (Cognito's federation)."""
        return []

    def console_rows(self, site: Mapping[str, str | None]) -> list[ConsoleRow]:
        """The site's values (``site``: callback, sign_out, backchannel_logout,
        origin URLs) as this console wants them: one row per field the console
        has (:attr:`CONSOLE`) and the site has a value for, each in its form
        (:attr:`CONSOLE_FORMS`)."""
        return [console_row(register, where, url, self.CONSOLE_FORMS.get(register, Form.URL))
                for register, where in self.CONSOLE.items()
                if where and (url := site.get(register))]

    def profile_rows(self, claims: Mapping[str, Any]) -> list[tuple[str, str]]:
        """What the account page shows of this kind's own claims, beyond the
        standard ones (issuer, subject, e-mail, name): none by default."""
        return []

    # -- how the site shows it -------------------------------------------------------

    @property
    def mark(self) -> str:
        """The mark on this provider's sign-in button and in the header: the kind's."""
        return self.MARK

    @property
    def through(self) -> str | None:
        """The hosted login page the visitor passes through on the way to the
        provider whose mark is shown (Cognito's, for Google through Cognito); None
        when the mark is the provider's own."""
        return None

    def picture_origins(self) -> list[str]:
        """Where this provider's profile pictures may come from: the kind's
        :attr:`PICTURE_ORIGINS`, and for a lab provider (a stand-in on loopback,
        plain http) its own origins, where a stand-in serves its pictures."""
        found = list(self.PICTURE_ORIGINS)
        found += [o for o in self.form_action_origins()
                  if lab_address(o) is not None and o not in found]
        return found

    def picture_url(self, auth: SignIn) -> str | None:
        """The visitor's picture, as the provider gave it (OpenID Connect's
        ``picture`` claim, from the id token or userinfo), only when it is served
        from one of :meth:`picture_origins`: any other would be blocked by the CSP."""
        for source in (auth.claims, auth.userinfo or {}):
            url = self.picture_of(source)
            if url and origin_of(url) in self.picture_origins():
                return url
        return None

    def picture_of(self, profile: Mapping[str, Any]) -> str | None:
        """The picture URL in a set of claims (``picture``, a string)."""
        value = profile.get("picture")
        return value if isinstance(value, str) and value.startswith(("https://", "http://")) \
            else None

    def form_action_origins(self) -> list[str]:
        """Origins the browser may be sent to by a form's redirect (sign-out): the
        fixed endpoints, the issuer (where discovery's endpoints live) and the
        kind's ``BROWSER_SETTINGS``; each once, in that order."""
        urls = [*self.endpoints.values(), self.issuer or ""]
        urls += [self.settings[k] for k in self.BROWSER_SETTINGS if k in self.settings]
        found: list[str] = []
        for url in urls:
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                value = origin_of(url)
                if value not in found:
                    found.append(value)
        return found


# -- a kind's registration in the CloudFormation template --------------------------------


class PoolRegistration(StrEnum):
    """How an Identity Pool (``AWS::Cognito::IdentityPool``) knows a provider."""

    #: In ``CognitoIdentityProviders``: a user pool's app client.
    COGNITO_USER_POOL = "cognito_user_pool"
    #: In ``SupportedLoginProviders``: a Logins domain and the app id it vouches for.
    LOGIN_PROVIDER = "login_provider"
    #: In ``OpenIdConnectProviderARNs``: an ``AWS::IAM::OIDCProvider`` of the issuer.
    OIDC_PROVIDER = "oidc_provider"


#: A ``${Name}`` of a ``Fn::Sub`` text.
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class TemplateParameter:
    """A parameter of the CloudFormation template that a registration reads.

    Its name is what a deployment passes (``--parameter-overrides``), so it never
    changes once a stack uses it."""

    name: str
    description: str = ""
    #: An optional parameter defaults to ``""``, and a registration that reads it
    #: exists only when it is given; a required one has no default, so the stack
    #: is not created without it.
    optional: bool = True


class RoleMappingType(StrEnum):
    """How the pool chooses the role of a registration's identities (``RoleMapping.Type``)."""

    #: From the token: a user pool's ``cognito:preferred_role`` and ``cognito:roles``,
    #: which its groups' ``RoleArn`` put there.
    TOKEN = "Token"
    #: By rules on the token's claims, the first that matches deciding.
    RULES = "Rules"


class MatchType(StrEnum):
    """How a rule compares a claim with its value (``MappingRule.MatchType``)."""

    EQUALS = "Equals"
    CONTAINS = "Contains"
    STARTS_WITH = "StartsWith"
    NOT_EQUAL = "NotEqual"


class AmbiguousRoleResolution(StrEnum):
    """What the pool does when no rule matches, or a token names several roles
    and prefers none."""

    AUTHENTICATED_ROLE = "AuthenticatedRole"
    DENY = "Deny"


#: The role a rule or group may name besides the mapped ones
#: (:data:`webapp.policies.MAPPED_ROLES`, by key): the pool's own signed-in role.
AUTHENTICATED_ROLE = "authenticated"


@dataclass(frozen=True)
class MappingRule:
    """One rule of a ``Rules`` mapping: ``claim`` compared with ``value`` gives ``role``."""

    claim: str
    match_type: MatchType
    #: ``Fn::Sub`` text over the mapping's parameters.
    value: str
    #: :data:`AUTHENTICATED_ROLE` or a key of :data:`webapp.policies.MAPPED_ROLES`
    #: (deploy/template.py refuses any other).
    role: str


@dataclass(frozen=True)
class RoleMapping:
    """How a registration's identities get their role, beside the pool's default ones.

    The template writes it into the role attachment's ``RoleMappings`` under the
    registration's name, with AWS's identity provider string for it as
    ``IdentityProvider``. A mapping whose optional parameters are not given is left
    out (the identities then get the authenticated role, as with no mapping)."""

    type: RoleMappingType
    ambiguous_role_resolution: AmbiguousRoleResolution = (
        AmbiguousRoleResolution.AUTHENTICATED_ROLE)
    #: In order: the pool applies the first that matches (``Rules`` only; 1 to 25).
    rules: tuple[MappingRule, ...] = ()
    #: The parameters the rules' values read.
    parameters: tuple[TemplateParameter, ...] = ()

    def __post_init__(self) -> None:
        if self.type is RoleMappingType.RULES and not 1 <= len(self.rules) <= 25:
            raise TypeError("a Rules role mapping has 1 to 25 rules")
        if self.type is RoleMappingType.TOKEN and self.rules:
            raise TypeError("a Token role mapping has no rules: the token names the roles")
        known = {p.name for p in self.parameters}
        for rule in self.rules:
            unknown = [v for v in SUB_VARIABLE.findall(rule.value) if v not in known]
            if unknown:
                raise TypeError(f"the rule on {rule.claim} reads ${{{unknown[0]}}}, which is "
                                f"not one of its mapping's parameters")


@dataclass(frozen=True)
class UserPoolGroup:
    """A group of the user pool a registration names (``AWS::Cognito::UserPoolGroup``):
    its members' id tokens carry its role in ``cognito:roles``, and the group of the
    lowest precedence gives ``cognito:preferred_role``."""

    #: The logical id. Spelled, not derived: a deployed stack replaces a resource
    #: whose id changes.
    resource: str
    name: str
    #: A key of :data:`webapp.policies.MAPPED_ROLES` (or :data:`AUTHENTICATED_ROLE`).
    role: str
    precedence: int
    description: str = ""


@dataclass(frozen=True)
class PoolTemplate:
    """How a kind is registered on the Identity Pool in deploy/identity-pool.json.

    ``deploy/template.py`` builds the template's parameters, conditions, IAM OIDC
    providers and the pool's provider properties from these records alone, so a
    new kind (Login with Amazon's ``www.amazon.com``, Apple's ``appleid.apple.com``)
    is deployable by declaring its record, without touching the template's code.
    """

    registration: PoolRegistration
    #: Names the registration in the template: its condition is ``Has<name>``.
    name: str
    #: What the pool knows the provider by, as ``Fn::Sub`` text over ``parameters``
    #: (and ``AWS::`` pseudo parameters): a user pool's ``ProviderName``, the
    #: Logins domain of a login provider (a literal, the kind's ``logins_key``), or
    #: the ``Url`` of an IAM OIDC provider (its issuer).
    provider: str
    #: The client the pool accepts tokens for: a ``ClientId``, a login provider's
    #: app id, an IAM OIDC provider's ``ClientIdList``.
    client_id: TemplateParameter
    #: The other parameters ``provider`` reads, in the order the template lists them.
    parameters: tuple[TemplateParameter, ...] = ()
    #: The logical id of the ``AWS::IAM::OIDCProvider`` (OIDC_PROVIDER only). Spelled,
    #: not derived: a deployed stack replaces a resource whose id changes.
    resource: str | None = None
    #: How the pool chooses the role of this registration's identities; None: the
    #: pool's authenticated role, always.
    role_mapping: RoleMapping | None = None
    #: Groups made in the user pool this registration names (user pools only).
    groups: tuple[UserPoolGroup, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a record the template could not use, when its kind's module loads."""
        if (self.resource is not None) != (self.registration is PoolRegistration.OIDC_PROVIDER):
            raise TypeError(f"PoolTemplate {self.name!r}: a resource id goes with "
                            f"{PoolRegistration.OIDC_PROVIDER.value} and only with it")
        user_pool = self.registration is PoolRegistration.COGNITO_USER_POOL
        if self.groups and not user_pool:
            raise TypeError(f"PoolTemplate {self.name!r}: groups belong to a user pool")
        mapping = self.role_mapping
        if mapping is not None and mapping.type is RoleMappingType.TOKEN and not user_pool:
            raise TypeError(f"PoolTemplate {self.name!r}: only a user pool's tokens name "
                            f"roles (a Token role mapping)")
        known = {p.name for p in self.parameters}
        unknown = [v for v in SUB_VARIABLE.findall(self.provider)
                   if v not in known and not v.startswith("AWS::")]
        if unknown:
            raise TypeError(f"PoolTemplate {self.name!r}: provider reads ${{{unknown[0]}}}, "
                            f"which is not one of its parameters")
        if self.registration is PoolRegistration.LOGIN_PROVIDER and "${" in self.provider:
            raise TypeError(f"PoolTemplate {self.name!r}: a Logins domain is a literal")

    @property
    def all_parameters(self) -> tuple[TemplateParameter, ...]:
        """Every parameter the registration reads, in the template's order."""
        return (*self.parameters, self.client_id)

    @property
    def identity_provider(self) -> str:
        """AWS's identity provider string for this registration, as ``Fn::Sub`` text:
        what ``RoleMapping.IdentityProvider`` names. A user pool's app client is
        ``<ProviderName>:<ClientId>``; a login provider is its domain; an IAM OIDC
        provider is its URL without the scheme or a trailing slash (the site's
        ``logins_key``). An issuer read whole from one parameter (``${OidcIssuer}``)
        still has its scheme here, which only the template can cut: deploy/template.py
        does, with ``Fn::Split``."""
        if self.registration is PoolRegistration.COGNITO_USER_POOL:
            return f"{self.provider}:${{{self.client_id.name}}}"
        if self.registration is PoolRegistration.OIDC_PROVIDER:
            return self.provider.removeprefix("https://").rstrip("/")
        return self.provider

    @property
    def user_pool_id(self) -> str:
        """The user pool a user pool's registration names, as ``Fn::Sub`` text: its
        ``ProviderName`` is ``cognito-idp.<region>.amazonaws.com/<user pool id>``."""
        if self.registration is not PoolRegistration.COGNITO_USER_POOL:
            raise TypeError(f"PoolTemplate {self.name!r} names no user pool")
        return self.provider.rsplit("/", 1)[1]

    @property
    def mapping_parameters(self) -> tuple[TemplateParameter, ...]:
        """The parameters of the registration's role mapping (none without one)."""
        return self.role_mapping.parameters if self.role_mapping else ()

    @property
    def mapping_condition(self) -> str | None:
        """The template's condition for the role mapping: the registration's, and the
        mapping's own optional parameters given; None when it always exists."""
        if any(p.optional for p in self.mapping_parameters):
            return f"Has{self.name}RoleMapping"
        return self.condition

    @property
    def condition(self) -> str | None:
        """The template's condition for this registration: it exists when each of its
        optional parameters is given (an IAM OIDC provider cannot list an empty
        client id, cfn-lint W1030); None when it always exists."""
        if any(p.optional for p in self.all_parameters):
            return f"Has{self.name}"
        return None


def require(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not value or not isinstance(value, str):
        raise ProviderConfigError(f".{key}: missing; put {what} here")
    return value


def url_setting(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """An endpoint base such as ``hosted_ui_url``: overridable, which is how the
    stand-ins (or any other deployment of the protocol) are reached."""
    value = raw.get(key) or default
    if not value or not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ProviderConfigError(f".{key}: must be an http(s) URL")
    return value.rstrip("/")
