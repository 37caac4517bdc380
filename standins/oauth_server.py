"""authlib's authorization server, wired to one tenant's in-memory records.

Everything protocol-generic lives here, on authlib's own components:
``AuthorizationCodeGrant`` with ``OpenIDCode`` and ``CodeChallenge`` (S256
only), ``RefreshTokenGrant``, the RFC 7009 ``RevocationEndpoint`` and the
RFC 9207 ``IssuerParameter``. What differs between providers (claims, token
shapes, refresh-token rules, error wording) is asked of the tenant's flavour.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.grants import OpenIDCode

from .store import AuthorizationCode, Client, SignedInUser, Token

if TYPE_CHECKING:
    from .tenant import Tenant

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class StandinRequest(OAuth2Request):
    """authlib's Flask request, adapted to two facts of the stand-ins.

    authlib refuses plain-http URLs except on loopback; the stand-ins are a dev
    tool that may be served over http under any host name (a compose service),
    so the check is shown the https spelling. And Facebook's Graph API takes
    token requests as GET, so a GET's query string serves as its form.
    """

    def __init__(self, request: flask.Request) -> None:
        super().__init__(
            method=request.method,
            uri="https://" + request.url.split("://", 1)[1],
            headers=request.headers,
        )
        self._request = request
        self.payload = FlaskOAuth2Payload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form if self._request.method == "POST" else self._request.args


class TenantAuthorizationServer(AuthorizationServer):
    """One authorization server per tenant; its records are the tenant's store."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        super().__init__(query_client=self._query_client, save_token=self._save_token)
        self.register_token_generator("default", tenant.generate_token)
        self.register_client_auth_method("token_owner", self._authenticate_token_owner)

    def load_config(self, config: Any) -> None:
        """Nothing to read from Flask's config: the tenant holds its settings."""

    def _query_client(self, client_id: str) -> Client | None:
        return self.tenant.store.clients.get(client_id)

    def _save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        signed_in: SignedInUser = request.user
        record = Token(
            client_id=request.client.get_client_id(),
            user_key=signed_in.user.key,
            scope=token.get("scope", ""),
            access_token=token["access_token"],
            issued_at=self.tenant.now(),
            expires_in=int(token["expires_in"]),
            auth_time=signed_in.auth_time,
            sid=signed_in.sid,
            refresh_token=token.get("refresh_token"),
            nonce=request.authorization_code.nonce if request.authorization_code else None,
        )
        # A token from a refresh grant belongs to the refresh token's family,
        # so revoking the refresh token revokes it too.
        if request.refresh_token is not None:
            record.family = request.refresh_token.refresh_token
            record.nonce = request.refresh_token.nonce
        self.tenant.store.save_token(record)

    def _authenticate_token_owner(self, query_client: Any, request: OAuth2Request) -> Any:
        """Google's revoke endpoint takes no client credentials: the token names its client."""
        record = self.tenant.find_token(request.form.get("token", ""))
        return query_client(record.client_id) if record else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return StandinRequest(flask.request)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> flask.Response:
        status, body, headers = error(self.get_error_uri(request, error))
        return self.tenant.flavour.oauth_error_response(self.tenant, error, status, body, headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """The stand-ins record events themselves; no blinker signals."""


class S256Only(CodeChallenge):
    """PKCE as real providers do it today: S256 accepted and verified, plain refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Invalid code_challenge_method: only S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class TenantOpenIDCode(OpenIDCode):
    """Adds the id token, built and signed (or mis-signed) by the tenant."""

    def __init__(self, tenant: Tenant) -> None:
        super().__init__(require_nonce=False)
        self.tenant = tenant

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return False  # real providers do not refuse a repeated nonce; the client checks it

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        code: AuthorizationCode | None = request.authorization_code
        return self.tenant.make_id_token(
            client=request.client,
            signed_in=request.user,
            access_token=token["access_token"],
            scope=token["scope"],
            nonce=code.nonce if code else None,
            refreshed_from=request.refresh_token,
        )


class CodeGrant(AuthorizationCodeGrant):
    """The authorization code grant over the tenant's store."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def tenant(self) -> Tenant:
        return self.server.tenant

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        signed_in: SignedInUser = request.user
        data = request.payload.data
        record = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=self.tenant.granted_scope(self.tenant.flavour.normalise_scope(request.scope),
                                            data.get("prompt", "")),
            user_key=signed_in.user.key,
            auth_time=signed_in.auth_time,
            sid=signed_in.sid,
            expires_at=self.tenant.now() + self.tenant.settings.code_lifetime,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            extras={
                "consent_shown": signed_in.consent_shown,
                **{k: data[k] for k in ("access_type", "prompt", "audience") if k in data},
            },
        )
        self.tenant.store.codes[code] = record

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        # Popped at once: any redemption attempt uses the code up, so a replay
        # (or a second try after a wrong verifier) gets invalid_grant.
        record = self.tenant.store.codes.pop(code, None)
        if record is None or record.client_id != client.client_id:
            return None
        if self.tenant.now() >= record.expires_at:
            return None
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.tenant.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> SignedInUser | None:
        user = self.tenant.store.users.get(authorization_code.user_key)
        if user is None:
            return None
        return SignedInUser(user, authorization_code.auth_time, authorization_code.sid)

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> dict:
        code: AuthorizationCode = self.request.authorization_code
        return super().generate_token(
            user=user, scope=scope, grant_type=grant_type, expires_in=expires_in,
            include_refresh_token=self.tenant.issues_refresh_token(code),
        )

    def create_token_response(self) -> tuple[int, dict, list]:
        status, token, headers = super().create_token_response()
        return status, self.tenant.flavour.shape_token_response(token), headers


class RefreshGrant(RefreshTokenGrant):
    """Refresh with or without rotation, as the tenant's behaviour says.

    Without, the same refresh token stays valid and none is returned. With, each
    refresh returns a new one and the one used stops working; a used one that
    comes back (a replay, or a client that kept the old one) revokes the whole
    grant, as oidc-provider and Auth0's reuse detection do.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def tenant(self) -> Tenant:
        return self.server.tenant

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # authlib reads this name
        return self.tenant.behaviour.rotate_refresh_tokens

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if "refresh_fails" in self.tenant.faults:
            raise InvalidGrantError("Refresh token has been revoked")

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        record = self.tenant.store.by_refresh.get(refresh_token)
        if record is not None and record.rotated:
            self.tenant.revoke_grant(record)
            self.tenant.record_event("refresh_token_reused", client_id=record.client_id)
            return None
        if record is None or record.refresh_revoked:
            return None
        return record

    def authenticate_user(self, refresh_token: Token) -> SignedInUser | None:
        user = self.tenant.store.users.get(refresh_token.user_key)
        if user is None:
            return None
        return SignedInUser(user, refresh_token.auth_time, refresh_token.sid)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """With rotation the used refresh token is spent; without, it stays valid."""
        if self.tenant.behaviour.rotate_refresh_tokens:
            refresh_token.refresh_revoked = refresh_token.rotated = True

    def create_token_response(self) -> tuple[int, dict, list]:
        status, token, headers = super().create_token_response()
        if not self.tenant.flavour.refresh_returns_id_token:
            token.pop("id_token", None)
        return status, self.tenant.flavour.shape_token_response(token), headers


class TenantRevocation(RevocationEndpoint):
    """RFC 7009 revocation; which token types count, and how the client proves
    itself, are the flavour's."""

    def __init__(self, tenant: Tenant, server: TenantAuthorizationServer) -> None:
        super().__init__(server)
        self.tenant = tenant
        self.CLIENT_AUTH_METHODS = list(tenant.flavour.revoke_auth_methods)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return self.tenant.find_token(token_string, self.tenant.flavour.revocable)

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        token_type = self.tenant.revoke(token, request.form.get("token", ""))
        self.tenant.record_event("revoke", client_id=token.client_id, token_type=token_type)


class TenantIssuerParameter(IssuerParameter):
    """RFC 9207 ``iss`` on authorization responses, when the tenant (or a fault) says so."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get_issuer(self) -> str | None:
        return self.tenant.iss_parameter()


def build_server(tenant: Tenant) -> TenantAuthorizationServer:
    """Assemble authlib's server for ``tenant`` from the grants its flavour asks for."""
    server = TenantAuthorizationServer(tenant)
    for grant_cls, wants_openid in tenant.flavour.grant_types():
        extensions: list[Any] = []
        if wants_openid:
            extensions.append(TenantOpenIDCode(tenant))
        if issubclass(grant_cls, AuthorizationCodeGrant):
            extensions.append(S256Only(required=False))
        server.register_grant(grant_cls, extensions)
    for name, method in tenant.flavour.client_auth_methods(tenant).items():
        server.register_client_auth_method(name, method)
    server.register_extension(TenantIssuerParameter(tenant))
    server.register_endpoint(TenantRevocation(tenant, server))
    return server


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)
