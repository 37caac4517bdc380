"""Amazon Cognito user pool with its Hosted UI.

Quirks owned here: the endpoints live on the Hosted UI (``/cognito``) while the
issuer, discovery and JWKS live under ``/cognito-idp/{user pool id}``; access
tokens are JWTs (``token_use=access``, ``client_id``, no ``aud``); refresh
answers carry no new refresh token; ``/logout`` takes ``client_id`` and
``logout_uri``; a bad redirect_uri ends on Cognito's own ``/error`` page; and
``identity_provider`` federates to Google, Facebook or an OIDC provider
(see :mod:`.federation`); and the user pool API at ``/cognito-idp/`` (AWS's
``https://cognito-idp.{region}.amazonaws.com/``) serves ``GlobalSignOut``.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import flask
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import federation, pages, views
from .faults import apply_claim_faults
from .flavour import Flavour, Route
from .settings import GroupSpec
from .store import Client, SignedInUser, User

if TYPE_CHECKING:
    from .tenant import Tenant

#: The scope the user pool API's operations on the user need in the access token.
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
#: The JSON 1.1 target prefix of the user pool API.
TARGET_PREFIX = "AWSCognitoIdentityProviderService."

#: Claim faults that make sense on an access token (it has no aud, nonce or at_hash).
ACCESS_TOKEN_FAULTS = frozenset({"wrong_issuer", "expired", "iat_future"})


class Cognito(Flavour):
    name = "cognito"
    brand = "Amazon Cognito"
    colour = "#232f3e"
    revocable = ("refresh_token",)
    scopes_supported = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
    claims_supported = (*Flavour.claims_supported, "cognito:username", "cognito:groups",
                        "cognito:roles", "cognito:preferred_role", "token_use", "identities")
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "logout_mismatch": ("An error was encountered with the requested page.",
                            "Invalid logout_uri: it is not one of the app client's "
                            "allowed sign-out URLs."),
        "bad_request": ("An error was encountered with the requested page.",
                        "Invalid request."),
        "cognito_error": ("An error was encountered with the requested page.",
                          "Cognito could not complete the request."),
    }

    @property
    def pool_id(self) -> str:
        return self.settings.user_pool_id

    @property
    def issuer(self) -> str:
        return f"{self.base}/cognito-idp/{self.pool_id}"

    def paths(self) -> dict[str, str]:
        idp = f"/cognito-idp/{self.pool_id}"
        return {
            "authorize": "/cognito/oauth2/authorize",
            "token": "/cognito/oauth2/token",
            "userinfo": "/cognito/oauth2/userInfo",
            "revoke": "/cognito/oauth2/revoke",
            "discovery": f"{idp}/.well-known/openid-configuration",
            "jwks": f"{idp}/.well-known/jwks.json",
        }

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        def logout() -> flask.Response:
            args = flask.request.args
            if not args.get("logout_uri"):
                return self.error_page("logout_mismatch", client_id=args.get("client_id", ""))
            return views.sign_out(tenant, args.get("client_id"), args["logout_uri"])

        def error() -> flask.Response:
            args = flask.request.args
            return pages.notice(self.branding, *self.error_texts["cognito_error"],
                                details={"error": args.get("error", ""),
                                         "client_id": args.get("client_id", "")})

        return [
            Route("/cognito/logout", "logout", logout),
            Route("/cognito/error", "error", error),
            # POST: Apple's answer comes as a form_post.
            Route("/cognito/oauth2/idpresponse", "idpresponse",
                  lambda: federation.idp_response(tenant), ("GET", "POST")),
            Route("/cognito-idp/", "api", lambda: user_pool_api(tenant), methods=("POST",)),
        ]

    def error_page(self, kind: str, **details: str) -> flask.Response:
        if kind in ("redirect_mismatch", "unknown_client"):
            error = "redirect_mismatch" if kind == "redirect_mismatch" else "invalid_request"
            query = urlencode({"error": error, "client_id": details.get("client_id", "")})
            return flask.redirect(f"{self.base}/cognito/error?{query}")
        return super().error_page(kind, **details)

    def before_sign_in(self, tenant: Tenant, client: Client) -> flask.Response | None:
        return federation.redirect_to_identity_provider(tenant)

    def make_sub(self, user_key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}#{user_key}"))

    def make_access_token(self, tenant: Tenant, client: Client, signed_in: SignedInUser,
                          scope: str, lifetime: int) -> str:
        now = int(tenant.now())
        user = signed_in.user
        claims: dict[str, Any] = {
            "sub": user.sub,
            "iss": self.issuer,
            "client_id": client.client_id,
            "origin_jti": _origin_jti(signed_in),
            "event_id": str(uuid.uuid4()),
            "token_use": "access",
            "scope": scope,
            "auth_time": signed_in.auth_time,
            "exp": now + lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "username": user.username,
        }
        if user.groups:
            claims["cognito:groups"] = list(user.groups)
        board = tenant.faults.names()
        if board & ACCESS_TOKEN_FAULTS:
            claims = apply_claim_faults(claims, board & ACCESS_TOKEN_FAULTS,
                                        client_id=client.client_id, lifetime=lifetime, now=now)
        return tenant.sign(claims)

    def id_token_claims(self, tenant: Tenant, claims: dict[str, Any], signed_in: SignedInUser,
                        scope: str) -> dict[str, Any]:
        user = signed_in.user
        claims = {
            **claims,
            "token_use": "id",
            "cognito:username": user.username,
            "email": user.email,
            "email_verified": True,
            "origin_jti": _origin_jti(signed_in),
            "event_id": str(uuid.uuid4()),
            "jti": str(uuid.uuid4()),
        }
        if user.groups:
            claims["cognito:groups"] = list(user.groups)
            claims.update(group_roles(tenant.groups, user.groups))
        if tenant.group_override is not None:
            # The pre token generation trigger's groups and roles replace the user's.
            for name in ("cognito:groups", "cognito:roles", "cognito:preferred_role"):
                claims.pop(name, None)
            claims.update(tenant.group_override.claims())
        if "profile" in scope.split():
            claims["name"] = user.name
        claims.update(user.extra_claims)
        return claims

    def userinfo(self, tenant: Tenant, user: User, scope: str) -> dict[str, Any]:
        # Cognito's userInfo returns attributes as strings, email_verified included.
        info: dict[str, Any] = {"sub": user.sub, "email_verified": "true",
                                "email": user.email, "username": user.username}
        if "profile" in scope.split():
            info["name"] = user.name
        if "identities" in user.extra_claims:
            info["identities"] = json.dumps(user.extra_claims["identities"])
        return info

    def shape_token_response(self, token: dict[str, Any]) -> dict[str, Any]:
        token.pop("scope", None)
        return token


def user_pool_api(tenant: Tenant) -> flask.Response:
    """The user pool API (JSON 1.1, the operation in ``X-Amz-Target``): only
    ``GlobalSignOut``, which each call counts under its name for the control API."""
    target = flask.request.headers.get("X-Amz-Target", "")
    operation = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or operation != "GlobalSignOut":
        return aws_error("UnknownOperationException", "", 400)
    tenant.count(operation)
    body = flask.request.get_json(force=True, silent=True)
    access_token = body.get("AccessToken") if isinstance(body, dict) else None
    if not isinstance(access_token, str) or not access_token:
        return aws_error("InvalidParameterException",
                         "1 validation error detected: Value null at 'accessToken' failed "
                         "to satisfy constraint: Member must not be null")
    return global_sign_out(tenant, access_token)


def global_sign_out(tenant: Tenant, access_token: str) -> flask.Response:
    """Check the access token as Cognito does (its own signature, ``token_use``,
    issuer, expiry, not revoked, the admin scope), then revoke every token the
    user pool issued to that user, in every app client."""
    try:
        claims = dict(jwt.decode(access_token, KeySet(tenant.keys.public_keys()),
                                 algorithms=["RS256"]).claims)
    except (JoseError, ValueError):
        return aws_error("NotAuthorizedException", "Invalid Access Token")
    if claims.get("token_use") != "access" or claims.get("iss") != tenant.issuer:
        return aws_error("NotAuthorizedException", "Invalid Access Token")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= tenant.now():
        return aws_error("NotAuthorizedException", "Access Token has expired")
    record = tenant.store.by_access.get(access_token)
    if record is None or record.access_revoked:
        return aws_error("NotAuthorizedException", "Access Token has been revoked")
    if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
        return aws_error("NotAuthorizedException", "Access Token does not have required scopes")
    with tenant.store.lock:
        for token in [*tenant.store.by_access.values(), *tenant.store.by_refresh.values()]:
            if token.user_key == record.user_key:
                token.access_revoked = token.refresh_revoked = True
    tenant.record_event("global_sign_out", client_id=record.client_id, sub=claims.get("sub"))
    return flask.Response("{}", mimetype="application/x-amz-json-1.1")


def aws_error(code: str, message: str, status: int = 400) -> flask.Response:
    """An AWS JSON 1.1 error answer."""
    return flask.Response(json.dumps({"__type": code, "message": message}), status=status,
                          mimetype="application/x-amz-json-1.1")


def group_roles(groups: tuple[GroupSpec, ...], member_of: tuple[str, ...]) -> dict[str, Any]:
    """The id token's role claims for a member of ``member_of``, as Cognito sets them.

    ``cognito:roles``: the role of each of the user's groups that has one.
    ``cognito:preferred_role``: the role of the group of lowest precedence (0 is
    the highest; a group without a precedence ranks below every number). Groups
    tied at that precedence take none over the other: with the same role, that
    role is preferred; with different roles, the claim is left out, and an
    identity pool's Token mapping must then resolve the ambiguity (or the
    visitor chooses, with ``CustomRoleArn``).
    """
    with_roles = [g for g in groups if g.name in member_of and g.role_arn]
    if not with_roles:
        return {}
    claims: dict[str, Any] = {"cognito:roles": list(dict.fromkeys(
        g.role_arn for g in with_roles))}
    numbered = [g for g in with_roles if g.precedence is not None]
    first = min((g.precedence for g in numbered), default=None)
    tied = [g for g in numbered if g.precedence == first] if numbered else with_roles
    if len({g.role_arn for g in tied}) == 1:
        claims["cognito:preferred_role"] = tied[0].role_arn
    return claims


def _origin_jti(signed_in: SignedInUser) -> str:
    """One origin_jti per sign-in, shared by every token refreshed from it."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, signed_in.sid))

