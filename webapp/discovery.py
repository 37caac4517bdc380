"""Provider metadata and signing keys, cached per process with a bounded life.

authlib caches discovery and keys forever per registered client and never
compares discovery's ``issuer`` with the one configured; this module is the one
place that fetches them, checks them, and lets them expire, so a rotated key or
a moved endpoint is picked up without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from . import steps
from .connections import KeptAdapter
from .errors import FedlabError
from .providers import Provider

#: How long discovery and keys are trusted before they are read again.
METADATA_TTL = 3600.0
KEYS_TTL = 3600.0
#: A forced key refetch (unknown ``kid``) happens at most this often per provider.
MIN_KEY_REFETCH_INTERVAL = 5.0


@dataclass
class _Entry:
    metadata: dict[str, Any] | None = None
    metadata_at: float = 0.0
    keys: dict[str, Any] | None = None
    keys_at: float = 0.0
    forced_at: float = 0.0


class MetadataCache:
    """Discovery documents and JWKS of one app's providers, and the app's
    connections to them (:attr:`adapter`)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.adapter = KeptAdapter()
        self._http = requests.Session()
        # One session serves every visitor's calls: a cookie a provider (or its
        # load balancer) sets while answering for one must not go out with the
        # next visitor's calls. No domain is allowed to set one.
        self._http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.mount(self._http)

    def mount(self, session: requests.Session) -> None:
        """Send ``session``'s requests over this app's pooled connections."""
        session.mount("https://", self.adapter)
        session.mount("http://", self.adapter)

    def _entry(self, provider: Provider) -> _Entry:
        with self._lock:
            return self._entries.setdefault(provider.name, _Entry())

    def metadata(self, provider: Provider) -> dict[str, Any]:
        """Return the provider's endpoints: discovery merged under fixed ones."""
        if provider.issuer is None:
            return dict(provider.endpoints)
        entry = self._entry(provider)
        now = time.time()
        if entry.metadata is None or now - entry.metadata_at > METADATA_TTL:
            document = self.fetch_json(provider, provider.discovery_url or "", "discovery")
            check_discovery(provider, document)
            entry.metadata, entry.metadata_at = document, now
        return {**entry.metadata, **provider.endpoints}

    def keys(self, provider: Provider, *, force: bool = False) -> dict[str, Any]:
        """Return the JWKS from the provider's ``jwks_uri``, and nowhere else."""
        entry = self._entry(provider)
        now = time.time()
        stale = entry.keys is None or now - entry.keys_at > KEYS_TTL
        # A token with an unknown kid may mean the keys rotated: read them again,
        # but not for every such token, or a flood of them becomes a flood of fetches.
        force = force and now - entry.forced_at >= MIN_KEY_REFETCH_INTERVAL
        if force:
            entry.forced_at = now
        if not (stale or force):
            steps.note(steps.Step(source=steps.SITE, target=steps.SITE, what="keys",
                                  note=f"from the cache, {round(now - entry.keys_at)} s old",
                                  outcome="cached"))
        if stale or force:
            uri = self.metadata(provider).get("jwks_uri")
            if not uri:
                raise FedlabError("discovery_invalid", provider=provider.name,
                                  detail="discovery has no jwks_uri")
            document = self.fetch_json(provider, uri, "keys")
            if not isinstance(document.get("keys"), list):
                raise FedlabError("provider_bad_response", provider=provider.name,
                                  endpoint="keys", detail="the JWKS has no 'keys' list")
            entry.keys, entry.keys_at = document, now
        assert entry.keys is not None
        return entry.keys

    def clear(self) -> None:
        """Forget every document: the next use reads them again."""
        with self._lock:
            self._entries.clear()

    def request(self, method: str, url: str, *, endpoint: str = "",
                **kwargs: Any) -> requests.Response:
        """Send one request on this app's pooled connections, always with a timeout.

        The request is noted for the picture of the sign-in (:mod:`webapp.steps`)
        as ``endpoint``, with the names it carried and never their values."""
        started = time.perf_counter()
        outcome = ""
        try:
            response = self._http.request(method, url, timeout=self.timeout, **kwargs)
            outcome = str(response.status_code)
            return response
        except requests.RequestException as e:
            outcome = type(e).__name__
            raise
        finally:
            names = [*steps.query_names(url), *(kwargs.get("params") or {}),
                     *steps.form_names(kwargs.get("data")),
                     *steps.authorization_name(kwargs.get("headers"), kwargs.get("auth"))]
            steps.note(steps.Step(
                source=steps.SITE, target=steps.PROVIDER, what=endpoint or method,
                method=method, path=steps.path_of(url), params=steps.unique(names),
                ms=round((time.perf_counter() - started) * 1000), outcome=outcome))

    @contextmanager
    def errors_explained(self, provider: Provider, endpoint: str,
                         timeout: float | None = None) -> Iterator[None]:
        """Turn a transport failure talking to ``provider`` into its catalogue entry
        (``timeout``: the call's own, where it was not the app's)."""
        try:
            yield
        except requests.JSONDecodeError:  # a RequestException too, but not a transport one
            raise FedlabError("provider_bad_response", provider=provider.name,
                              endpoint=endpoint, detail="the answer is not JSON") from None
        except requests.HTTPError as e:  # an answer (authlib raises on 5xx), not a failure
            status = e.response.status_code if e.response is not None else "error"
            raise FedlabError("provider_bad_response", provider=provider.name,
                              endpoint=endpoint, detail=f"HTTP {status}") from None
        except requests.Timeout:
            raise FedlabError("provider_timeout", provider=provider.name, endpoint=endpoint,
                              seconds=self.timeout if timeout is None else timeout) from None
        except requests.RequestException as e:
            raise FedlabError("provider_unreachable", provider=provider.name,
                              endpoint=endpoint, detail=type(e).__name__) from None

    def fetch_json(self, provider: Provider, url: str, endpoint: str) -> dict[str, Any]:
        with self.errors_explained(provider, endpoint):
            response = self.request("GET", url, endpoint=endpoint)
        if response.status_code != 200:
            raise FedlabError("provider_bad_response", provider=provider.name, endpoint=endpoint,
                              detail=f"HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise FedlabError("provider_bad_response", provider=provider.name, endpoint=endpoint,
                              detail="the answer is not a JSON object")
        return document


def check_discovery(provider: Provider, document: dict[str, Any]) -> None:
    """Refuse a discovery document that speaks for another issuer (OIDC Discovery 4.3)."""
    if document.get("issuer") != provider.issuer:
        raise FedlabError("discovery_issuer_mismatch", provider=provider.name,
                          expected=provider.issuer, got=str(document.get("issuer")))
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise FedlabError("discovery_invalid", provider=provider.name,
                              detail=f"discovery has no {key}")
