"""Facebook Login: plain OAuth 2, not OpenID Connect.

Quirks owned here: no discovery, JWKS, id token or refresh token; the dialog
and the Graph API live under a version (``/v19.0/``); the token request is a
GET; scopes are comma-separated; Graph errors are ``{"error": {..., "type":
"OAuthException"}}`` with status 400; ``/me`` insists on ``appsecret_proof``;
``debug_token`` tells which app a token belongs to; ``fb_exchange_token``
turns a token into a long-lived one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

import flask
from authlib.oauth2.rfc6749 import InvalidGrantError, OAuth2Error
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from .federation import FederationError
from .flavour import Flavour, Route
from .oauth_server import CodeGrant
from .store import AuthorizationCode, Client, SignedInUser, User
from .tenant import stable_digits
from .views import bearer_value

if TYPE_CHECKING:
    from authlib.oauth2 import OAuth2Request

    from .tenant import Tenant

LONG_LIVED_SECONDS = 60 * 24 * 3600
ANOTHER_APP_ID = "987654321098765"  # never a configured app id


class FacebookCodeGrant(CodeGrant):
    """The code grant as Facebook takes it: dialog without ``response_type``, GET
    token request without ``grant_type``, credentials in the query string."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]  # noqa: RUF012
    TOKEN_ENDPOINT_HTTP_METHODS = ["GET"]  # noqa: RUF012

    @classmethod
    def check_authorization_endpoint(cls, request: OAuth2Request) -> bool:
        return request.payload.response_type in (None, "code")

    @classmethod
    def check_token_endpoint(cls, request: OAuth2Request) -> bool:
        return (request.method == "GET" and "code" in request.payload.data
                and request.payload.grant_type in (None, "authorization_code"))


class ExchangeTokenGrant(BaseGrant, TokenEndpointMixin):
    """``grant_type=fb_exchange_token``: a valid token in, a long-lived one out."""

    GRANT_TYPE = "fb_exchange_token"
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]  # noqa: RUF012
    TOKEN_ENDPOINT_HTTP_METHODS = ["GET"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        tenant: Tenant = self.server.tenant
        record = tenant.bearer_token(self.request.form.get("fb_exchange_token", ""))
        user = tenant.user_by_key(record.user_key) if record else None
        if record is None or user is None or record.client_id != client.client_id:
            raise InvalidGrantError("Invalid OAuth access token.")
        self.request.client = client
        self.request.user = SignedInUser(user, record.auth_time, record.sid)
        self.request.credential = record

    def create_token_response(self) -> tuple[int, dict, list]:
        token = self.generate_token(user=self.request.user, scope=self.request.credential.scope,
                                    expires_in=LONG_LIVED_SECONDS, include_refresh_token=False)
        self.save_token(token)
        return 200, self.server.tenant.flavour.shape_token_response(token), \
            self.TOKEN_RESPONSE_HEADER


class Facebook(Flavour):
    name = "facebook"
    brand = "Facebook"
    colour = "#1877f2"
    default_scope = "public_profile"
    federation_scope = "public_profile,email"
    denial: ClassVar[dict[str, str | None]] = {
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
    }
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("Invalid App ID",
                           "The provided app ID does not look like a valid app ID."),
        "redirect_mismatch": (
            "URL Blocked",
            "URL Blocked: This redirect failed because the redirect URI is not whitelisted "
            "in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on "
            "and add all your app domains as Valid OAuth Redirect URIs.",
        ),
        "bad_request": ("Sorry, something went wrong.", "We're working on it and we'll get it "
                        "fixed as soon as we can."),
    }

    @property
    def version(self) -> str:
        return self.settings.graph_version

    @property
    def issuer(self) -> str:
        return f"{self.base}/facebook"  # not OIDC: only used to label events

    def paths(self) -> dict[str, str]:
        return {
            "authorize": "/facebook/<version>/dialog/oauth",
            "token": "/graph/<version>/oauth/access_token",
        }

    def authorize_url(self) -> str:
        return f"{self.base}/facebook/{self.version}/dialog/oauth"

    def token_url(self) -> str:
        return f"{self.base}/graph/{self.version}/oauth/access_token"

    def me_url(self) -> str:
        return f"{self.base}/graph/{self.version}/me"

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        return [
            Route("/graph/<version>/me", "me", lambda version: me(tenant)),
            Route("/graph/debug_token", "debug_token", lambda: debug_token(tenant)),
            Route("/graph/<version>/debug_token", "debug_token",
                  lambda version: debug_token(tenant)),
            Route("/graph/", "batch", lambda: batch(tenant), methods=("POST",)),
            Route("/graph/<version>/", "batch", lambda version: batch(tenant),
                  methods=("POST",)),
        ]

    def grant_types(self) -> list[tuple[type, bool]]:
        return [(FacebookCodeGrant, False), (ExchangeTokenGrant, False)]

    def make_sub(self, user_key: str) -> str:
        return stable_digits(f"facebook#{user_key}", 16)

    def normalise_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.replace(",", " ").split())

    def issues_refresh_token(self, code: AuthorizationCode) -> bool:
        return False

    def shape_token_response(self, token: dict[str, Any]) -> dict[str, Any]:
        return {"access_token": token["access_token"], "token_type": "bearer",
                "expires_in": token["expires_in"]}

    def federated_identity(self, http: Any, client: Client, code: str) -> dict[str, str]:
        """Cognito's side of its ``Facebook`` provider: the code redeemed (a GET), then
        ``/me`` read with ``appsecret_proof``, as Cognito does."""
        token = http.get(self.token_url(), query_string={
            "client_id": client.client_id, "client_secret": client.client_secret,
            "redirect_uri": client.redirect_uris[0], "code": code,
        })
        if token.status_code != 200:
            raise FederationError(f"{self.brand} refused the code")
        access_token = token.get_json()["access_token"]
        found = http.get(self.me_url(), query_string={
            "fields": "id,name,email", "access_token": access_token,
            "appsecret_proof": appsecret_proof(client.client_secret, access_token),
        })
        if found.status_code != 200:
            raise FederationError(f"{self.brand} refused the profile request")
        profile = found.get_json()
        return {"sub": profile["id"], "email": profile.get("email", ""),
                "name": profile.get("name", "")}

    def oauth_error_response(self, tenant: Tenant, error: OAuth2Error, status: int,
                             body: Any, headers: list[tuple[str, str]]) -> flask.Response:
        if error.redirect_uri:
            return super().oauth_error_response(tenant, error, status, body, headers)
        messages = {
            "invalid_client": "Error validating client secret.",
            "invalid_grant": "This authorization code has been used.",
        }
        message = messages.get(error.error, error.description or error.error)
        if error.error == "invalid_grant" and "redirect_uri" in (error.description or ""):
            message = ("Error validating verification code. Please make sure your "
                       "redirect_uri is identical to the one you used in the OAuth dialog "
                       "request")
        return graph_error(message, 100)


def graph_error(message: str, code: int, status: int = 400) -> flask.Response:
    body = {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": secrets.token_urlsafe(8)}}
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def appsecret_proof(secret: str, access_token: str) -> str:
    return hmac.new(secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def me(tenant: Tenant) -> flask.Response:
    args = flask.request.args
    access_token = bearer_value()
    record = tenant.bearer_token(access_token)
    user = tenant.user_by_key(record.user_key) if record else None
    client = tenant.store.clients.get(record.client_id) if record else None
    if record is None or user is None or client is None:
        return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
    proof = args.get("appsecret_proof", "")
    if not proof or not hmac.compare_digest(proof, appsecret_proof(client.client_secret,
                                                                   access_token)):
        return graph_error("Invalid appsecret_proof provided in the API argument", 100)
    profile = _profile(tenant, user, record.scope)
    if "userinfo_other_sub" in tenant.faults:
        profile["id"] = tenant.flavour.make_sub("someone-else")
    fields = [f for f in args.get("fields", "id,name").split(",") if f]
    return flask.jsonify({f: profile[f] for f in ["id", *fields] if f in profile})


def _profile(tenant: Tenant, user: User, scope: str) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "id": user.sub,
        "name": user.name,
        "first_name": user.given_name,
        "last_name": user.family_name,
        "picture": {"data": {"height": 50, "width": 50, "is_silhouette": False,
                             "url": tenant.flavour.avatar_url(user)}},
    }
    if "email" in scope.split():
        profile["email"] = user.email
    return profile


def debug_token(tenant: Tenant) -> flask.Response:
    args = flask.request.args
    app_id, _, app_secret = args.get("access_token", "").partition("|")
    app = tenant.store.clients.get(app_id)
    if app is None or not app.check_client_secret(app_secret):
        return graph_error("Invalid OAuth access token signature.", 190)
    record = tenant.find_token(args.get("input_token", ""), ("access_token",))
    if record is None:
        return flask.jsonify(data={"error": {"code": 190, "message": "Invalid OAuth access "
                                             "token."}, "is_valid": False, "scopes": []})
    expires_at = int(record.issued_at + record.expires_in)
    data: dict[str, Any] = {
        "app_id": record.client_id,
        "type": "USER",
        "application": f"Federation Lab stand-in app {record.client_id}",
        "data_access_expires_at": expires_at + 90 * 24 * 3600,
        "expires_at": expires_at,
        "is_valid": not record.access_revoked and not record.is_expired(tenant.now()),
        "issued_at": int(record.issued_at),
        "scopes": record.scope.split(),
        "user_id": tenant.user_by_key(record.user_key).sub
        if tenant.user_by_key(record.user_key) else "",
    }
    if "debug_token_other_app" in tenant.faults:
        data.update(app_id=ANOTHER_APP_ID, application="Another App")
    if "debug_token_invalid" in tenant.faults:
        data["is_valid"] = False
    return flask.jsonify(data=data)


#: The Graph endpoints a batch request may name.
BATCH_VIEWS = {"me": me, "debug_token": debug_token}
#: Graph's limit on operations in one batch request.
MAX_BATCH = 50


def batch(tenant: Tenant) -> flask.Response:
    """Graph's batch request: GETs in one POST, answered in order as ``{code, body}``.

    The request's ``access_token`` and ``appsecret_proof`` go with every
    operation that names no token of its own. Each operation is answered as its
    endpoint would answer it, outage faults included, and counted as
    ``batch/<endpoint>`` (the HTTP request itself counts once, as ``batch``).
    """
    form = flask.request.form
    try:
        operations = json.loads(form.get("batch", ""))
    except ValueError:
        operations = None
    if (not isinstance(operations, list) or not 0 < len(operations) <= MAX_BATCH
            or not all(isinstance(o, dict) for o in operations)):
        return graph_error(f"The parameter batch must be a JSON array of 1 to {MAX_BATCH} "
                           "requests", 100)
    shared = {k: form[k] for k in ("access_token", "appsecret_proof") if k in form}
    answers = []
    for operation in operations:
        path, _, query = str(operation.get("relative_url", "")).lstrip("/").partition("?")
        name = path.rsplit("/", 1)[-1]
        view = BATCH_VIEWS.get(name)
        if view is None or str(operation.get("method", "GET")).upper() != "GET":
            answer = graph_error(f"Unknown path components: /{path}", 2500)
        else:
            tenant.count(f"batch/{name}")
            args = {**shared, **dict(parse_qsl(query))}
            with flask.current_app.test_request_context(f"/graph/{path}", query_string=args):
                answer = tenant.faults.outage(name) or flask.make_response(view(tenant))
        answers.append({"code": answer.status_code,
                        "body": answer.get_data().decode("utf-8", "replace")})
    return flask.jsonify(answers)
