"""Login with Amazon: plain OAuth 2, not OpenID Connect.

Quirks owned here: the authorization page lives on ``www.amazon.com``
(``B/amazon/ap/oa``) and the APIs on ``api.amazon.com`` (``B/amazon-api``):
``/auth/o2/token``, ``/auth/o2/tokeninfo`` and ``/user/profile``; no discovery,
JWKS, id token or end-session endpoint. Access tokens start ``Atza|``, refresh
tokens ``Atzr|``; a refresh answers with the same refresh token (it neither
expires nor rotates). Token-info tells which client (``aud``) of which
security profile (``app_id``) a token was issued to, whose it is
(``user_id``) and its seconds left (``exp``); a token it does not know is a
400 ``invalid_token``. The profile's subject is ``user_id``.

Each client's security profile id (``app_id``): the ``amazon.app_id``
setting for the clients the settings register (the demo writes the configured
provider's), and one made from the client id for any other client (Cognito's
own, when it federates here).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

import flask

from .federation import FederationError
from .flavour import Flavour, Route
from .oauth_server import CodeGrant, RefreshGrant, new_opaque_token
from .views import bearer_value, invalid_token_response

if TYPE_CHECKING:
    from .store import Client, SignedInUser, User
    from .tenant import Tenant

#: The security profile of "another app": never one a configured client has.
ANOTHER_APP = ("amzn1.application-oa2-client.0therapp0therapp0therapp0therap",
               "amzn1.application.0therapp0therapp0therapp0therapp")


class AmazonRefreshGrant(RefreshGrant):
    """Amazon's refresh answers with the refresh token used, which stays valid."""

    def create_token_response(self) -> tuple[int, dict, list]:
        status, token, headers = super().create_token_response()
        token.setdefault("refresh_token", self.request.refresh_token.refresh_token)
        return status, token, headers


class Amazon(Flavour):
    name = "amazon"
    brand = "Amazon"
    colour = "#ff9900"
    default_scope = "profile"
    #: What Cognito asks for when it federates here (its console's default).
    federation_scope = "profile postal_code"
    scopes_supported = ("profile", "profile:user_id", "postal_code")
    denial: ClassVar[dict[str, str | None]] = {
        "error_description": "The user denied your request."}
    error_texts: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_client": ("400 Bad Request",
                           "We're sorry! An error occurred when we tried to process your "
                           "request. The client_id is not valid."),
        "redirect_mismatch": (
            "400 Bad Request",
            "We're sorry! An error occurred when we tried to process your request. The "
            "redirect URI you provided has not been whitelisted for your application.",
        ),
        "bad_request": ("400 Bad Request", "We're sorry! An error occurred when we tried to "
                        "process your request."),
    }

    @property
    def issuer(self) -> str:
        """Token-info's ``iss`` (``https://www.amazon.com``): the authorization site."""
        return f"{self.base}/amazon"

    def paths(self) -> dict[str, str]:
        return {"authorize": "/amazon/ap/oa", "token": "/amazon-api/auth/o2/token"}

    def token_url(self) -> str:
        return self.url("token")

    def extra_routes(self, tenant: Tenant) -> list[Route]:
        return [
            Route("/amazon-api/auth/o2/tokeninfo", "tokeninfo", lambda: token_info(tenant)),
            Route("/amazon-api/user/profile", "profile", lambda: profile(tenant)),
        ]

    def grant_types(self) -> list[tuple[type, bool]]:
        return [(CodeGrant, False), (AmazonRefreshGrant, False)]

    def make_sub(self, user_key: str) -> str:
        digest = hashlib.sha256(f"amazon#{user_key}".encode()).hexdigest().upper()
        return f"amzn1.account.A{digest[:27]}"

    def make_access_token(self, tenant: Tenant, client: Client, signed_in: SignedInUser,
                          scope: str, lifetime: int) -> str:
        return "Atza|" + new_opaque_token()

    def make_refresh_token(self) -> str:
        return "Atzr|" + new_opaque_token()

    def shape_token_response(self, token: dict[str, Any]) -> dict[str, Any]:
        shaped = {"access_token": token["access_token"], "token_type": "bearer",
                  "expires_in": token["expires_in"]}
        if token.get("refresh_token"):
            shaped["refresh_token"] = token["refresh_token"]
        return shaped

    def app_id(self, client: Client) -> str:
        """The security profile ``client`` belongs to (see the module docstring)."""
        if self.settings.amazon_app_id and not client.internal:
            return self.settings.amazon_app_id
        return "amzn1.application." + hashlib.sha256(client.client_id.encode()).hexdigest()[:32]

    def profile_of(self, user: User, scope: str) -> dict[str, Any]:
        """``/user/profile`` for ``scope``: the id always, name and e-mail with
        ``profile``, the postal code with ``postal_code``."""
        scopes = scope.split()
        answer: dict[str, Any] = {"user_id": user.sub}
        if "profile" in scopes:
            answer.update(name=user.name, email=user.email)
        if "postal_code" in scopes:
            answer["postal_code"] = "98109"
        return answer

    def federated_identity(self, http: Any, client: Client, code: str) -> dict[str, str]:
        """Cognito's side of its ``LoginWithAmazon`` provider: the code redeemed, then
        the profile read, as Cognito does."""
        token = http.post(self.paths()["token"], data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": client.redirect_uris[0],
            "client_id": client.client_id, "client_secret": client.client_secret})
        if token.status_code != 200:
            raise FederationError(f"{self.brand} refused the code")
        me = http.get("/amazon-api/user/profile", headers={
            "Authorization": f"Bearer {token.get_json()['access_token']}"})
        if me.status_code != 200:
            raise FederationError(f"{self.brand} refused the profile request")
        found = me.get_json()
        return {"sub": found["user_id"], "email": found.get("email", ""),
                "name": found.get("name", "")}


def token_info(tenant: Tenant) -> flask.Response:
    """``GET /auth/o2/tokeninfo?access_token=``: whose token, for which client, how long."""
    record = tenant.bearer_token(flask.request.args.get("access_token", ""))
    user = tenant.user_by_key(record.user_key) if record else None
    client = tenant.store.clients.get(record.client_id) if record else None
    if record is None or user is None or client is None:
        response = flask.jsonify(error="invalid_token",
                                 error_description="The request has an invalid parameter : "
                                                   "access_token")
        response.status_code = 400
        return response
    flavour: Amazon = tenant.flavour  # type: ignore[assignment]
    answer = {"iss": flavour.issuer, "user_id": user.sub, "aud": record.client_id,
              "app_id": flavour.app_id(client),
              "exp": max(int(record.issued_at + record.expires_in - tenant.now()), 0),
              "iat": int(record.issued_at)}
    if "tokeninfo_other_app" in tenant.faults:
        answer.update(aud=ANOTHER_APP[0], app_id=ANOTHER_APP[1])
    # One field wrong at a time: the right client, but of another security profile;
    # an answer not from Amazon; a token with no time left.
    if "tokeninfo_other_app_id" in tenant.faults:
        answer["app_id"] = ANOTHER_APP[1]
    if "tokeninfo_other_issuer" in tenant.faults:
        answer["iss"] = "https://www.amazon.invalid"
    if "tokeninfo_expired" in tenant.faults:
        answer["exp"] = 0
    return flask.jsonify(answer)


def profile(tenant: Tenant) -> flask.Response:
    """``GET /user/profile`` with ``Authorization: Bearer``."""
    record = tenant.bearer_token(bearer_value())
    user = tenant.user_by_key(record.user_key) if record else None
    if record is None or user is None:
        return invalid_token_response("The request has an invalid parameter : access_token")
    flavour: Amazon = tenant.flavour  # type: ignore[assignment]
    answer = flavour.profile_of(user, record.scope)
    if "userinfo_other_sub" in tenant.faults:
        answer["user_id"] = flavour.make_sub("someone-else")
    return flask.jsonify(answer)
