"""Cognito's ``identity_provider``: sign in at Google, Facebook, Amazon or an
OIDC provider, come back to ``/oauth2/idpresponse``, then finish as Cognito.

This is a genuine round trip: the browser is redirected to the other
stand-in's authorize endpoint under an internal client that Cognito registers
there (redirect URI ``B/cognito/oauth2/idpresponse``), and the code is
exchanged over that provider's real token endpoint (in-process, through the
WSGI app, so its call counts and faults apply). Cognito then creates a user of
its own (``Google_<sub>``, an ``identities`` claim, the
``{pool}_{provider}`` group), signs them in with its own cookie, and resumes
the app's original authorize request.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import flask
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import pages, views
from .store import Client, User

if TYPE_CHECKING:
    from .tenant import Tenant

#: Cognito's provider names, and the stand-in tenant each one goes to.
SOCIAL_PROVIDERS = {"Google": "google", "Facebook": "facebook", "LoginWithAmazon": "amazon",
                    "SignInWithApple": "apple"}
#: Any other name (except COGNITO) is taken as an OIDC provider, served by the oidc stand-in.
OIDC_TENANT = "oidc"


@dataclass(frozen=True)
class Pending:
    provider: str
    peer: str
    resume_url: str
    client_id: str
    redirect_uri: str
    state: str | None
    #: How the app asked for its answer: an error from the other provider goes
    #: back to the app the same way Cognito's own answer would.
    response_mode: str = "query"


class FederationError(Exception):
    pass


class Federation:
    """Cognito's federation state: its internal client and the sign-ins in flight."""

    def __init__(self, cognito: Tenant, peers: dict[str, Tenant]) -> None:
        self.cognito = cognito
        self.peers = peers
        self.client = Client(
            client_id=f"cognito-{cognito.settings.user_pool_id}",
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=[f"{cognito.settings.base_url}/cognito/oauth2/idpresponse"],
            logout_uris=[],
            internal=True,
        )
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        for name in (*SOCIAL_PROVIDERS.values(), OIDC_TENANT):
            if name in peers:
                peers[name].register_internal_client(self.client)

    def start(self, pending: Pending) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[key] = pending
        return key

    def finish(self, key: str) -> Pending | None:
        with self._lock:
            return self._pending.pop(key, None)


def redirect_to_identity_provider(cognito: Tenant) -> flask.Response | None:
    args = flask.request.args
    provider = args.get("identity_provider", "")
    if not provider or provider.upper() == "COGNITO":
        return None
    federation: Federation = cognito.federation
    peer_name = SOCIAL_PROVIDERS.get(provider, OIDC_TENANT)
    peer = federation.peers[peer_name]
    resume = {k: v for k, v in args.items(multi=True) if k != "identity_provider"}
    key = federation.start(Pending(
        provider=provider,
        peer=peer_name,
        resume_url=flask.request.base_url + "?" + urlencode(list(resume.items())),
        client_id=args.get("client_id", ""),
        redirect_uri=args.get("redirect_uri", ""),
        state=args.get("state"),
        response_mode=args.get("response_mode", "query"),
    ))
    params = {
        "client_id": federation.client.client_id,
        "redirect_uri": federation.client.redirect_uris[0],
        "response_type": "code",
        "scope": peer.flavour.federation_scope,
        "state": key,
    }
    if peer.flavour.federation_response_mode != "query":
        params["response_mode"] = peer.flavour.federation_response_mode
    query = urlencode(params)
    return flask.redirect(f"{peer.flavour.authorize_url()}?{query}")


def idp_response(cognito: Tenant) -> flask.Response:
    federation: Federation = cognito.federation
    # Apple posts its answer (form_post), with the name in ``user`` the first time.
    args = flask.request.values
    pending = federation.finish(args.get("state", ""))
    if pending is None:
        return cognito.flavour.error_page("bad_request", error="unknown or used state")
    if args.get("error"):
        return _back_to_app(cognito, pending, args["error"], args.get("error_description", ""))
    peer = federation.peers[pending.peer]
    try:
        identity = _exchange(federation, peer, args.get("code", ""))
        identity["name"] = identity["name"] or peer.flavour.federated_name(args)
    except FederationError as problem:
        return _back_to_app(cognito, pending, "invalid_request", str(problem))
    user = _federated_user(cognito, pending, peer, identity)
    session = pages.new_login(user.key, int(cognito.now()))
    cognito.store.consents.add((user.key, pending.client_id))
    response = flask.redirect(pending.resume_url)
    pages.write_login(response, flask.current_app.config["STANDINS_SECRET"], cognito.name,
                      session)
    return response


def _back_to_app(cognito: Tenant, pending: Pending, error: str,
                 description: str) -> flask.Response:
    params = {"error": error, "error_description": description}
    if pending.state is not None:
        params["state"] = pending.state
    return views.in_response_mode(flask.redirect(f"{pending.redirect_uri}?{urlencode(params)}"),
                                  pending.redirect_uri, pending.response_mode,
                                  cognito.flavour.branding)


def _exchange(federation: Federation, peer: Tenant, code: str) -> dict[str, Any]:
    """Redeem ``code`` at ``peer`` through its real HTTP endpoints; return sub, email, name.

    A provider with a protocol of its own redeems it in its flavour's
    ``federated_identity``; an OpenID Connect one here: the id token, checked, then
    userinfo when the flavour says Cognito reads it."""
    http = flask.current_app.test_client()
    client = federation.client
    if (identity := peer.flavour.federated_identity(http, client, code)) is not None:
        return identity
    token = http.post(peer.flavour.paths()["token"], data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": client.redirect_uris[0],
        "client_id": client.client_id,
        "client_secret": peer.flavour.federation_client_secret(client),
    })
    if token.status_code != 200:
        raise FederationError(f"{peer.flavour.brand} refused the code")
    jwks = http.get(peer.flavour.paths()["jwks"])
    try:
        keys = KeySet.import_key_set(jwks.get_json())
        claims = jwt.decode(token.get_json()["id_token"], keys, algorithms=["RS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": peer.issuer},
            aud={"essential": True, "value": client.client_id},
            sub={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError, KeyError, TypeError) as problem:
        raise FederationError(f"Invalid id_token from {peer.flavour.brand}") from problem
    if ("email" not in claims or "name" not in claims) and peer.flavour.federation_reads_userinfo:
        # Cognito reads an OIDC provider's userinfo too: a provider may keep the
        # profile there (OpenID Connect Core 5.4).
        info = http.get(peer.flavour.paths()["userinfo"], headers={
            "Authorization": f"Bearer {token.get_json()['access_token']}"})
        if info.status_code == 200 and info.get_json().get("sub") == claims["sub"]:
            claims = {**info.get_json(), **claims}
    return {"sub": claims["sub"], "email": claims.get("email", ""),
            "name": claims.get("name", "")}


def _federated_user(cognito: Tenant, pending: Pending, peer: Tenant,
                    identity: dict[str, Any]) -> User:
    username = f"{pending.provider}_{identity['sub']}"
    with cognito.store.lock:
        user = cognito.store.users.get(username)
        if user is None:
            social = pending.provider in SOCIAL_PROVIDERS
            user = User(
                key=username,
                sub=cognito.flavour.make_sub(username),
                username=username,
                email=identity["email"],
                name=identity["name"],
                groups=(f"{cognito.settings.user_pool_id}_{pending.provider}",),
                extra_claims={"identities": [{
                    "userId": identity["sub"],
                    "providerName": pending.provider,
                    "providerType": pending.provider if social else "OIDC",
                    "issuer": None if social else peer.issuer,
                    "primary": "true",
                    "dateCreated": str(int(time.time() * 1000)),
                }]},
            )
            cognito.store.users[username] = user
    return user
