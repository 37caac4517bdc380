"""authlib as the OAuth client, with the gaps in its defaults closed.

Each app gets its own authlib ``OAuth`` registry (authlib keeps clients on the
registry object, so a module-level one would leak one app's clients into
another). Views never use authlib directly: :class:`ProviderClient` wraps the
registered client for one request with metadata from :mod:`webapp.discovery`
(authlib would cache it forever and never check its issuer), PKCE S256 always,
bounded timeouts, and errors turned into catalogue entries.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from . import steps
from .config import settings
from .discovery import MetadataCache
from .errors import FedlabError
from .providers import Provider, registry
from .providers.answers import answer_json
from .records import AuthorizationRequest

EXTENSION = "fedlab.oauth"


def init_app(app: Flask) -> None:
    """Register every configured provider on a registry owned by ``app``."""
    authlib_clients = OAuth()
    authlib_clients.init_app(app)
    timeout = settings(app).http_timeout
    cache = MetadataCache(timeout)

    def prepare(session: Any) -> None:
        """authlib's hook on each OAuth session it makes (one per authorization
        URL and per token request): send it over the app's kept-alive
        connections, and note its token exchange."""
        cache.mount(session)
        session.register_compliance_hook("access_token_response", token_exchange_noted)

    for provider in registry.providers(app).values():
        authlib_clients.register(
            provider.name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            client_kwargs={
                "scope": provider.scope,
                # authlib sends PKCE only when asked; RFC 9700 2.1.1 wants it always.
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": provider.token_auth_method,
                "default_timeout": timeout,
            },
            client_auth_methods=list(provider.client_auth_methods),
            access_token_params={"method": provider.token_request_method},
            compliance_fix=prepare,
        )
    app.extensions[EXTENSION] = (authlib_clients, cache)


def token_exchange_noted(response: requests.Response) -> requests.Response:
    """Note the token request ``response`` answers, as it went on the wire, for the
    picture of the sign-in (names only: the form's fields, the query's, and the
    client authentication's, ``Authorization: Basic`` or the ``client_secret``
    field); the response goes on to authlib unchanged."""
    sent = response.request
    names = [*steps.query_names(sent.url or ""), *steps.form_names(sent.body),
             *steps.authorization_name(sent.headers)]
    steps.note(steps.Step(
        source=steps.SITE, target=steps.PROVIDER, what="token", method=sent.method or "",
        path=steps.path_of(sent.url or ""), params=steps.unique(names),
        ms=round(response.elapsed.total_seconds() * 1000), outcome=str(response.status_code)))
    return response


def client_for(provider: Provider) -> ProviderClient:
    authlib_clients, cache = current_app.extensions[EXTENSION]
    return ProviderClient(provider, authlib_clients.create_client(provider.name), cache)


class ProviderClient:
    """One provider's endpoints for the duration of a request."""

    def __init__(self, provider: Provider, client: Any, cache: MetadataCache) -> None:
        self.provider = provider
        self.cache = cache
        self._client = client

    @property
    def metadata(self) -> dict[str, Any]:
        return self.cache.metadata(self.provider)

    def keys(self, *, force: bool = False) -> dict[str, Any]:
        return self.cache.keys(self.provider, force=force)

    def _bind(self) -> Any:
        # Hand authlib the checked metadata; a new dict each time, so a request
        # never sees another's half-written copy.
        self._client.server_metadata = self.metadata
        return self._client

    def authorization_url(self, redirect_uri: str) -> AuthorizationRequest:
        """The authorization request: its URL, and its state, PKCE verifier and
        (for OpenID Connect) nonce.

        authlib draws state, nonce and verifier from ``secrets``; the caller keeps
        them server-side, bound to this browser's session, for one use.
        """
        client = self._bind()
        if not client.server_metadata.get("authorization_endpoint"):
            raise FedlabError("discovery_invalid", provider=self.provider.name,
                              detail="no authorization endpoint")
        params = dict(self.provider.authorize_params)
        if self.provider.ID_TOKEN_WITHOUT_OPENID and "openid" not in self.provider.scopes:
            # authlib adds a nonce only for the openid scope; this provider's id token
            # comes without it, and its nonce is what binds the token to this sign-in.
            params["nonce"] = generate_token(20)
        made = client.create_authorization_url(redirect_uri, **params)
        return AuthorizationRequest(url=made["url"], state=made["state"],
                                    code_verifier=made["code_verifier"],
                                    nonce=made.get("nonce") or params.get("nonce"))

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str,
                      timeout: float | None = None) -> dict[str, Any]:
        """The code exchange; ``timeout`` (seconds) instead of the app's ``http_timeout``
        for a caller with a bound of its own (the live checks)."""
        return self._token_request(
            "token", timeout, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """RFC 6749 section 6: the refresh asks for no scope, so it gets the granted one.

        authlib would add the configured ``scope`` to every grant but the code
        exchange; a provider that granted less (a scope it does not offer,
        ``offline_access`` without consent) then refuses the refresh with
        ``invalid_scope``. An explicit ``None`` keeps authlib from adding it.
        """
        return self._token_request(
            "token", None, grant_type="refresh_token", refresh_token=refresh_token, scope=None
        )

    def _token_request(self, endpoint: str, timeout: float | None,
                       **params: Any) -> dict[str, Any]:
        client = self._bind()
        if timeout is not None:
            params["timeout"] = timeout  # requests' own, which authlib passes on
        try:
            with self.cache.errors_explained(self.provider, endpoint, timeout):
                token = client.fetch_access_token(**params)
        except OAuthError as e:
            error, description = e.error, e.description or ""
            if isinstance(error, dict):  # Graph's {"error": {"type", "message"}}
                error, description = error.get("type"), error.get("message", "")
            raise FedlabError("token_request_failed", provider=self.provider.name,
                              error=error, description=description) from None
        except ValueError:
            raise FedlabError("provider_bad_response", provider=self.provider.name,
                              endpoint=endpoint, detail="the answer is not JSON") from None
        # authlib returns an OAuth2Token (a dict subclass); keep plain types only,
        # which every session serializer accepts.
        return {k: v for k, v in dict(token).items() if isinstance(v, str | int | float)}

    def get_json(self, url: str, endpoint: str, *, access_token: str | None = None,
                 params: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        response = self.call("GET", url, endpoint, headers=headers, params=params)
        return answer_json(self.provider, endpoint, response.status_code, response.content)

    def call(self, method: str, url: str, endpoint: str, **kwargs: Any) -> requests.Response:
        """Send one request with the configured timeout; failures become catalogue errors."""
        with self.cache.errors_explained(self.provider, endpoint):
            return self.cache.request(method, url, endpoint=endpoint, **kwargs)
