"""Amazon Cognito user pools through the Hosted UI (managed login).

Quirks owned here: the issuer lives at ``cognito-idp.{region}.amazonaws.com``
while the endpoints live on the Hosted UI domain; ``identity_provider`` sends the
visitor straight to Google, Facebook or a SAML/OIDC provider; id tokens carry
``token_use``; sign-out is ``/logout?client_id&logout_uri``; refresh tokens are
revoked at ``/oauth2/revoke`` with HTTP Basic client authentication; and signing
out everywhere is the user pool API's ``GlobalSignOut``, authorized by the
user's own access token (which needs the ``aws.cognito.signin.user.admin`` scope).

``GlobalSignOut`` is sent as the AWS SDKs send it (JSON 1.1, ``X-Amz-Target``,
unsigned: botocore's model marks it ``authtype: none``), but through the
provider's HTTP client rather than boto3: it is a call to the identity provider
with the visitor's token, bounded by ``http_timeout`` and explained as the
other provider calls are, and this layer sits below the AWS service module.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .. import steps, tokens
from ..errors import FedlabError
from ..records import Registration
from ..urls import lab_address
from .base import (
    EndedThere,
    PoolRegistration,
    PoolTemplate,
    Provider,
    ProviderConfigError,
    RoleMapping,
    RoleMappingType,
    SignOut,
    TemplateParameter,
    UserPoolGroup,
    require,
    url_setting,
)
from .console import Form
from .oidc import OpenIDConnect, refresh_token_of

if TYPE_CHECKING:
    from ..oauth import ProviderClient
    from ..records import SignIn

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
#: The scope an access token needs for the user pool API's own operations on the
#: user, ``GlobalSignOut`` among them.
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
#: The user pool API's JSON 1.1 target for ``GlobalSignOut``.
GLOBAL_SIGN_OUT = "AWSCognitoIdentityProviderService.GlobalSignOut"
#: The most characters of an AWS error message a page shows.
MESSAGE_LIMIT = 200
#: The user pool the identity pool trusts, a parameter of the template.
USER_POOL = TemplateParameter("CognitoUserPoolId", "e.g. us-east-1_AbCdEf123", optional=False)
#: The pool's name for the user pool (and its ``Logins`` key), as the template spells it.
PROVIDER_NAME = "cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"
#: The role from the id token: ``cognito:preferred_role`` (the member's group of the
#: lowest precedence), else the authenticated role when it names several and none
#: is preferred.
ROLES_FROM_TOKEN = RoleMapping(RoleMappingType.TOKEN)
#: The user pool's groups that choose the mapped roles, ``admins`` first.
GROUPS = (
    UserPoolGroup("CognitoAdminsGroup", "admins", role="admins", precedence=1,
                  description="Federation Lab: may also delete anyone's shared files"),
    UserPoolGroup("CognitoReadersGroup", "readers", role="readers", precedence=2,
                  description="Federation Lab: may read only"),
)


class Cognito(OpenIDConnect):
    """A Cognito user pool's app client, signed in through its Hosted UI: the
    OpenID Connect defaults, with Cognito's issuer, sign-out, ``token_use`` and
    user-pool claims (the module docstring lists each quirk)."""

    KIND: ClassVar[str] = "cognito"
    DISPLAY_NAME: ClassVar[str] = "Amazon Cognito"
    MARK: ClassVar[str] = "cognito"
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ("openid", "email", "profile")
    KEYS: ClassVar[Mapping[str, str]] = {
        "domain": "the Hosted UI domain, e.g. myapp.auth.us-east-1.amazoncognito.com",
        "region": "the user pool's AWS region, e.g. us-east-1",
        "user_pool_id": "the user pool id, e.g. us-east-1_AbCdEf123",
        "identity_provider": "optional: Google, Facebook, LoginWithAmazon, SignInWithApple or "
                             "the name of an OIDC/SAML provider, to skip the Hosted UI's chooser",
        "idp_identifier": "optional: an identifier of the provider to go straight to",
        "hosted_ui_url": "optional override of https://{domain} (custom domain or stand-in)",
        "issuer": "optional override of "
                  "https://cognito-idp.{region}.amazonaws.com/{user_pool_id}",
        "api_endpoint": "optional override of https://cognito-idp.{region}.amazonaws.com "
                        "(the user pool API, for GlobalSignOut; a stand-in)",
    }
    CONSOLE: ClassVar[Mapping[str, str | None]] = {
        "callback": "Amazon Cognito console > User pools > your pool > App integration > "
                    "App clients > your app client > Login pages: Allowed callback URLs",
        "sign_out": "the same app client's Login pages: Allowed sign-out URLs",
        "origin": None,
    }
    #: Cognito user pools send no logout tokens (no Back-Channel Logout).
    SENDS_LOGOUT_TOKENS: ClassVar[bool] = False
    BROWSER_SETTINGS: ClassVar[tuple[str, ...]] = ("hosted_ui_url",)
    URL_KEYS: ClassVar[tuple[str, ...]] = ("issuer", "hosted_ui_url", "domain", "api_endpoint")

    @classmethod
    def configure(cls, raw: Mapping[str, Any], scopes: tuple[str, ...]) -> dict[str, Any]:
        region = require(raw, "region", "the user pool's region, e.g. us-east-1")
        if not REGION.match(region):
            raise ProviderConfigError(".region: must look like us-east-1")
        pool = require(raw, "user_pool_id", "the user pool id from the Cognito console")
        if not pool.startswith(region + "_"):
            raise ProviderConfigError(f".user_pool_id: must start with the region, {region}_")
        if not raw.get("domain") and not raw.get("hosted_ui_url"):
            raise ProviderConfigError(".domain: missing; put the Hosted UI domain here "
                                      "(App integration > Domain in the Cognito console)")
        hosted = url_setting(raw, "hosted_ui_url", f"https://{raw.get('domain')}")
        issuer = url_setting(raw, "issuer",
                             f"https://cognito-idp.{region}.amazonaws.com/{pool}")
        aws_api = f"https://cognito-idp.{region}.amazonaws.com"
        api = url_setting(raw, "api_endpoint", aws_api)
        lab = next(((key, url) for key, url in (("issuer", issuer), ("hosted_ui_url", hosted))
                    if lab_address(url) is not None), None)
        if lab and lab_address(api) is None:
            # GlobalSignOut would carry a token the lab minted to a user pool API that is
            # not the lab's: AWS's, however its address is spelled, or anyone's.
            raise ProviderConfigError(
                f".api_endpoint: {lab[0]} is a lab's ({lab[1]}) but the user pool API is "
                f"not ({api}), and \"Sign out everywhere\" would send the visitor's access "
                f"token there; set api_endpoint to the lab's user pool API (the stand-ins' "
                f"/cognito-idp)")
        params = {k: raw[k] for k in ("identity_provider", "idp_identifier") if raw.get(k)}
        return {
            "issuer": issuer,
            "endpoints": {"logout": hosted + "/logout", "revoke": hosted + "/oauth2/revoke"},
            "authorize_params": params,
            "token_auth_method": "client_secret_basic",
            "settings": {"region": region, "user_pool_id": pool, "hosted_ui_url": hosted,
                         "api_endpoint": api,
                         "domain": raw.get("domain") or hosted.split("://", 1)[1]},
        }

    def profile_rows(self, claims: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The user pool's own claims: the user name (``Google_1234`` for a user
        federated through the Hosted UI) and the groups, which decide roles."""
        rows = []
        if claims.get("cognito:username"):
            rows.append(("User name", str(claims["cognito:username"])))
        groups = claims.get("cognito:groups")
        if isinstance(groups, list) and groups:
            rows.append(("Groups", ", ".join(map(str, groups))))
        return rows

    def check_claims(self, claims: dict[str, Any]) -> None:
        """Cognito signs access and id tokens with the same key: only an id token will do."""
        if claims.get("token_use") != "id":
            raise tokens.reject("token_use", "id", claims.get("token_use"))
        steps.passed("token_use: id (not an access token)")

    def sign_out(self, client: ProviderClient, auth: SignIn | None,
                 return_to: str) -> SignOut:
        url = self.endpoints["logout"] + "?" + urlencode(
            {"client_id": self.client_id, "logout_uri": return_to}
        )
        revocation = self.revocation(client, refresh_token_of(auth), self.endpoints["revoke"])
        return SignOut(url, revocation,
                       "You were signed out here and at the Cognito Hosted UI.")

    def end_everywhere(self, client: ProviderClient, auth: SignIn) -> EndedThere:
        """``GlobalSignOut`` with the visitor's access token: Cognito revokes every
        refresh token (and the access and id tokens) it issued to the user, in
        every app client. It does not clear the Hosted UI's own sign-in cookie,
        which the browser's trip to ``/logout`` clears in this browser only.

        The access token must carry ``aws.cognito.signin.user.admin``. Cognito's
        token response does not say which scopes it granted, so the configured
        ones decide (Cognito refuses a scope the app client does not allow, so a
        sign-in that asked for it has it); a token response that does list its
        scopes must list it too. Without it nothing is sent: the call could only
        be refused ("Access Token does not have required scopes").
        """
        granted = auth.tokens.scope.split()
        if ADMIN_SCOPE not in self.scopes or (granted and ADMIN_SCOPE not in granted):
            return EndedThere(
                "scope_missing",
                f"GlobalSignOut, which would end your sessions at Amazon Cognito in every "
                f"app, needs the {ADMIN_SCOPE} scope, which this sign-in was not granted: "
                f"it was not sent, and your other refresh tokens at Cognito stay valid "
                f"until they expire.")
        access_token = auth.tokens.access_token
        if not access_token or auth.tokens_expired(time.time()):
            return EndedThere(
                "no_access_token",
                "GlobalSignOut was not sent: it needs a live access token, and this "
                "sign-in's could not be renewed. Your other refresh tokens at Amazon "
                "Cognito stay valid until they expire.")
        try:
            response = client.call(
                "POST", self.settings["api_endpoint"] + "/", "global_sign_out",
                headers={"Content-Type": "application/x-amz-json-1.1",
                         "X-Amz-Target": GLOBAL_SIGN_OUT},
                data=json.dumps({"AccessToken": access_token}))
        except FedlabError as e:
            return unavailable(e.code)
        if response.status_code >= 500:  # InternalErrorException, an outage
            return unavailable(" ".join(aws_error(response)).strip())
        if response.status_code == 200:
            return EndedThere(
                "global_sign_out",
                "Amazon Cognito revoked every refresh token it issued to you, in every "
                "app (GlobalSignOut). Its Hosted UI sign-in in other browsers is a cookie "
                "GlobalSignOut does not clear: there, signing in again may not ask for "
                "your password.", sent=True, done=True)
        aws_code, message = aws_error(response)
        if aws_code == "NotAuthorizedException" and "scope" in message.lower():
            return EndedThere(
                "scope_missing",
                f"Amazon Cognito refused GlobalSignOut: the access token lacks the "
                f"{ADMIN_SCOPE} scope it needs ({message}). Your other refresh tokens "
                f"there stay valid until they expire.", sent=True)
        return EndedThere(
            "refused",
            f"Amazon Cognito refused GlobalSignOut ({aws_code}: {message}): your other "
            f"refresh tokens there may still be valid.", sent=True)

    def callback_refusal(self, response: requests.Response, callback_url: str) -> str | None:
        """Cognito refuses by redirecting to its own ``/error?error=redirect_mismatch`` page."""
        location = response.headers.get("Location", "")
        if urlsplit(location).path.endswith("/error"):
            return parse_qs(urlsplit(location).query).get("error", ["error page"])[0]
        return super().callback_refusal(response, callback_url)

    @property
    def upstream_kind(self) -> type[Provider] | None:
        """The kind behind the Hosted UI when ``identity_provider`` names a social
        provider Cognito federates to (Google, Facebook, Amazon, Apple), else None."""
        from . import KINDS  # the registry of kinds, built once this package is read

        kind = UPSTREAM_KINDS.get(self.authorize_params.get("identity_provider", ""))
        return KINDS.get(kind) if kind else None

    @property
    def mark(self) -> str:
        """Straight to Google through the Hosted UI: the visitor sees Google's page,
        so the button shows Google's mark (and says it goes through Cognito)."""
        upstream = self.upstream_kind
        return upstream.MARK if upstream is not None else self.MARK

    @property
    def through(self) -> str | None:
        return self.DISPLAY_NAME if self.upstream_kind is not None else None

    def picture_origins(self) -> list[str]:
        """A federated user's ``picture`` attribute is mapped from the upstream
        provider's, so it is served where that provider serves pictures."""
        upstream = self.upstream_kind
        found = super().picture_origins()
        if upstream is not None:
            found += [o for o in upstream.PICTURE_ORIGINS if o not in found]
        return found

    def upstream_registrations(self) -> list[Registration]:
        """With ``identity_provider`` set, Google (say) sends the visitor back to Cognito,
        not to this site: Cognito's ``/oauth2/idpresponse`` is what must be registered
        there."""
        upstream = self.authorize_params.get("identity_provider")
        if not upstream or upstream == "COGNITO":
            return []
        hosted = self.settings["hosted_ui_url"]
        kind = self.upstream_kind
        if kind is None:  # a SAML or OIDC provider of the pool's own: its console, unknown
            callback_field, origin_field, form = (
                f"{upstream}'s client registration: redirect URIs", "allowed origins",
                Form.ORIGIN)
        else:  # the kind's own console, in its own words and forms
            callback_field = kind.CONSOLE["callback"] or "redirect URIs"
            origin_field = kind.CONSOLE.get("origin") or "allowed origins"
            form = kind.CONSOLE_FORMS.get("origin", Form.URL)
        return [Registration(where=callback_field, value=f"{hosted}/oauth2/idpresponse"),
                Registration(where=origin_field, value=form.of(hosted))]

    #: The user pool with the site's app client and, optionally, a second one (a
    #: straight-to-Google client, say); the pool asks Cognito whether each token
    #: is still valid (``ServerSideTokenCheck``).
    #: Both app clients' identities get the role their id token prefers (the groups
    #: below put it there), else the pool's authenticated role.
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.COGNITO_USER_POOL, name="Cognito", provider=PROVIDER_NAME,
                     parameters=(USER_POOL,),
                     client_id=TemplateParameter("CognitoAppClientId", optional=False),
                     role_mapping=ROLES_FROM_TOKEN, groups=GROUPS),
        PoolTemplate(PoolRegistration.COGNITO_USER_POOL, name="SecondCognitoClient",
                     provider=PROVIDER_NAME, parameters=(USER_POOL,),
                     client_id=TemplateParameter(
                         "CognitoSecondAppClientId",
                         "Optional, e.g. a straight-to-Google app client"),
                     role_mapping=ROLES_FROM_TOKEN),
    )

    @property
    def logins_key(self) -> str:
        s = self.settings
        return f"cognito-idp.{s['region']}.amazonaws.com/{s['user_pool_id']}"

    @property
    def role_mapping_key(self) -> str:
        """A user pool's role mapping is per app client: ``<Logins key>:<client id>``."""
        return f"{self.logins_key}:{self.client_id}"

    def offered_roles(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """The roles of the user's groups, as the id token's ``cognito:roles`` lists them."""
        roles = claims.get("cognito:roles")
        if not isinstance(roles, list):
            return ()
        return tuple(dict.fromkeys(r for r in roles if isinstance(r, str)))


def unavailable(why: str) -> EndedThere:
    """GlobalSignOut sent, but Cognito did not do it: down, slow, or failing."""
    return EndedThere(
        "unreachable",
        f"GlobalSignOut did not get through to Amazon Cognito ({why}): your other "
        f"refresh tokens there may still be valid.", sent=True)


def aws_error(response: requests.Response) -> tuple[str, str]:
    """An AWS JSON 1.1 error's code and message (``__type`` may carry a namespace
    before ``#``), each bounded; a body that is not one says only its status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", ""
    aws_code = str(body.get("__type") or f"HTTP {response.status_code}").rsplit("#", 1)[-1]
    message = str(body.get("message") or body.get("Message") or "")
    return aws_code[:MESSAGE_LIMIT], message[:MESSAGE_LIMIT]


#: The social providers the Hosted UI federates to: Cognito's name for each
#: (``identity_provider``) -> the ``kind`` this site has for it. The kind's class,
#: found in the registry of kinds (:data:`webapp.providers.KINDS`), says the rest:
#: its mark, where it serves pictures, its console's fields and their forms.
UPSTREAM_KINDS: Mapping[str, str] = {
    "Google": "google", "Facebook": "facebook", "LoginWithAmazon": "amazon",
    "SignInWithApple": "apple",
}
