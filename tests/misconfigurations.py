"""Every misconfiguration the stand-ins can be given, per provider, and the verdict it must get.

Shared by the probe, ``fedlab check`` and diagnostics-page tests, so the three
cover the same cells: a provider kind that cannot have a misconfiguration
(Google, Facebook and Amazon have no sign-out redirect; Facebook and Amazon have
no discovery)
has no cell for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: The provider of kind ``oidc``: config/oidc.toml's (the demo has none).
OIDC_PROVIDER = "corp"

#: Each provider's registration at the stand-ins: (tenant, client id).
CLIENTS = {
    "cognito": ("cognito", "fedlab-cognito-client"),
    "cognito-google": ("cognito", "fedlab-cognito-google-client"),
    "cognito-amazon": ("cognito", "fedlab-cognito-amazon-client"),
    "cognito-apple": ("cognito", "fedlab-cognito-apple-client"),
    "auth0": ("auth0", "fedlab-auth0-client"),
    "google": ("google", "fedlab-google-client.apps.googleusercontent.com"),
    "facebook": ("facebook", "100000000000001"),
    "amazon": ("amazon", "amzn1.application-oa2-client.fedlab0demo0000000000000000000"),
    "apple": ("apple", "com.fedlab.demo.web"),
    OIDC_PROVIDER: ("oidc", "fedlab-oidc-client"),
}

_KINDS = ("cognito", "auth0", "google", "facebook", "amazon", OIDC_PROVIDER)
#: Plain OAuth 2, no discovery: the first call is the authorization page.
_NO_DISCOVERY = ("facebook", "amazon")
_DISCOVERY = ("cognito", "auth0", "google", "apple", OIDC_PROVIDER)
#: (misconfiguration, provider), for every provider whose kind can have it.
CELLS = [
    *(("callback", p) for p in ("cognito", "cognito-google", "cognito-amazon", "cognito-apple",
                                "auth0", "google", "facebook", "amazon", "apple",
                                OIDC_PROVIDER)),
    *(("sign_out", p) for p in ("cognito", "auth0", OIDC_PROVIDER)),
    *(("secret", p) for p in (*_KINDS, "apple")),
    *(("issuer", p) for p in _DISCOVERY),
    *(("clock", p) for p in _DISCOVERY),
    *(("down", p) for p in (*_KINDS, "apple")),
]
SKEW_SECONDS = 900

#: A P-256 key Apple's stand-in has never been given (the demo registers another).
UNREGISTERED_KEY = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()

#: Cells made on the site's side, as create_app overrides: Apple's client secret is a
#: JWT the site signs, so no stand-in client setting makes it wrong; a private key the
#: console never registered does, as signing with the wrong key does at Apple.
_APP_SIDE = {
    ("secret", "apple"): {"providers": {"apple": {"private_key": UNREGISTERED_KEY}}},
}


def app_overrides(what: str, provider: str) -> dict[str, Any]:
    """The create_app overrides the app of cell (``what``, ``provider``) is built with
    (none for most: :func:`misconfigure` sets the stand-in). Build the app with them
    before :func:`misconfigure`."""
    return _APP_SIDE.get((what, provider), {})


def app_environment(what: str, provider: str) -> dict[str, str]:
    """:func:`app_overrides` as ``FEDLAB_*`` variables, for an app the CLI builds."""
    def flat(prefix: str, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return {k: v for key, sub in value.items()
                    for k, v in flat(f"{prefix}{key.upper().replace('-', '_')}__", sub).items()}
        return {prefix.removesuffix("__"): str(value)}

    return flat("FEDLAB_", app_overrides(what, provider))


@dataclass(frozen=True)
class Expected:
    """The verdict a misconfiguration must get: which probe fails, with which catalogue
    entry, and the evidence key that shows it (the provider's own words, or the value)."""

    probe: str
    error: str
    evidence: str


def misconfigure(control: Callable[..., Any], what: str, provider: str) -> Expected:
    """Set ``what`` on the stand-in that plays ``provider`` (an app-side cell was set
    when the app was built with :func:`app_overrides`); the verdict it must get."""
    tenant, client_id = CLIENTS[provider]
    if what == "callback":
        control("POST", "clients", tenant=tenant, client_id=client_id,
                redirect_uris=["https://elsewhere.example/callback"])
        return Expected("callback", "redirect_mismatch", "provider_says")
    if what == "sign_out":
        control("POST", "clients", tenant=tenant, client_id=client_id,
                logout_uris=["https://elsewhere.example/"])
        return Expected("sign_out", "signout_mismatch", "provider_says")
    if what == "secret":
        if (what, provider) not in _APP_SIDE:  # else the app was built with the wrong key
            control("POST", "clients", tenant=tenant, client_id=client_id,
                    client_secret="not-the-one-the-app-has")
        return Expected("client_secret", "token_request_failed", "provider_says")
    if what == "issuer":
        control("POST", "faults", tenant=tenant, fault="discovery_other_issuer")
        return Expected("discovery", "discovery_issuer_mismatch", "issuer")
    if what == "clock":
        control("POST", "clock", tenant=tenant, skew_seconds=SKEW_SECONDS)
        return Expected("clock", "id_token_rejected", "difference_seconds")
    if what == "down":
        control("POST", "faults", tenant=tenant, fault="down")
        # Facebook and Amazon have no discovery: the first call is the authorization page.
        probe = "callback" if provider in _NO_DISCOVERY else "discovery"
        return Expected(probe, "provider_bad_response", "status")
    raise ValueError(f"unknown misconfiguration {what!r}")


#: Test ids: misconfiguration-provider.
CELL_IDS = [f"{what}-{provider}" for what, provider in CELLS]
