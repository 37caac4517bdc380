"""An OpenID Provider nobody here wrote: panva's oidc-provider (OpenID Certified),
run with Node from ``tests/interop/oidc-provider`` (``npm ci`` there, done by
``make test``), and the app against it as a plain ``kind = "oidc"`` provider.

Each test module gets its own provider on a free loopback port and its own app
on another, so nothing is shared with the stand-ins or the other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from webapp import create_app
from webapp.demo import write_secrets

from ..conftest import LiveServer, require

SERVER_DIR = Path(__file__).resolve().parent / "oidc-provider"
#: The provider's name in the app's configuration (its callback is /auth/corp/callback).
PROVIDER = "corp"
CLIENT_ID = "fedlab-interop"
USER = "alice"
ACCOUNTS = {USER: {"email": "alice@example.com", "name": "Alice Example"}}
#: "phone" is a scope this provider does not offer: it grants less than asked, as providers do.
SCOPES = ["openid", "email", "profile", "phone", "offline_access"]
STARTUP_SECONDS = 20


@dataclass
class OpenIDProvider:
    """The running oidc-provider: its issuer and its two test-only routes."""

    issuer: str
    process: subprocess.Popen[str]

    def rotate_keys(self) -> dict[str, Any]:
        response = requests.post(f"{self.issuer}/_interop/rotate-keys", timeout=10)
        response.raise_for_status()
        return response.json()

    def token_requests(self) -> list[dict[str, Any]]:
        """The token requests it received (grant type, scope sent, outcome), oldest first."""
        response = requests.get(f"{self.issuer}/_interop/requests", timeout=10)
        response.raise_for_status()
        return response.json()

    def keys(self) -> list[dict[str, Any]]:
        discovery = requests.get(f"{self.issuer}/.well-known/openid-configuration",
                                 timeout=10).json()
        return requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]


@dataclass
class Site:
    """The app under test, configured for the provider, and the files it reads."""

    url: str
    app: Any
    config_file: Path
    secrets_file: Path
    provider: OpenIDProvider


def node_ready() -> None:
    """Node and the provider's packages, or a skip (a failure under CI)."""
    require(shutil.which("node") is not None, "node is not installed (apt-get install nodejs)")
    require((SERVER_DIR / "node_modules" / "oidc-provider").is_dir(),
            f"oidc-provider is not installed: run `npm ci` in {SERVER_DIR} (make test does)")


def start_provider(client: dict[str, Any]) -> OpenIDProvider:
    settings = {"client": client, "accounts": ACCOUNTS}
    process = subprocess.Popen(
        # localhost as the app listens on it (127.0.0.1), for the provider's own
        # requests to the app (back-channel logout), not ::1 first.
        ["node", "--dns-result-order=ipv4first", "server.mjs", json.dumps(settings)],
        cwd=SERVER_DIR, text=True,
        stdout=subprocess.PIPE, stderr=sys.stderr,
    )
    assert process.stdout is not None
    # The server prints its issuer once it listens; a server that dies prints nothing.
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=STARTUP_SECONDS)
        raise AssertionError(f"oidc-provider did not start (exit {process.returncode})")
    return OpenIDProvider(json.loads(line)["issuer"], process)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def write_config(folder: Path, secrets_file: Path, issuer: str, app_url: str) -> Path:
    """The app's configuration: one ``kind = "oidc"`` provider and nothing else."""
    config_file = folder / "interop.toml"
    config_file.write_text(
        f'secrets_file = "{secrets_file}"\n'
        f'external_url = "{app_url}"\n'
        f"[session]\n"
        f'dir = "{folder / "sessions"}"\n'
        f"[providers.{PROVIDER}]\n"
        f'kind = "oidc"\n'
        f'display_name = "oidc-provider (interop)"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'issuer = "{issuer}"\n'
        f"scopes = {json.dumps(SCOPES)}\n"
    )
    return config_file


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """oidc-provider with a client for the app, and the app served on loopback."""
    node_ready()
    folder = tmp_path_factory.mktemp("interop")
    server = LiveServer("127.0.0.1")
    app_url = f"http://localhost:{server.port}"
    # The client secret comes from the app's secrets file, as an operator would copy it.
    secrets_file = folder / "secrets.toml"
    write_secrets(secrets_file, {PROVIDER: {}})
    with secrets_file.open("rb") as f:
        client_secret = tomllib.load(f)["providers"][PROVIDER]["client_secret"]
    provider = start_provider({
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "redirect_uris": [f"{app_url}/auth/{PROVIDER}/callback"],
        "post_logout_redirect_uris": [f"{app_url}/"],
        "backchannel_logout_uri": f"{app_url}/auth/{PROVIDER}/backchannel-logout",
        "backchannel_logout_session_required": True,
        "token_endpoint_auth_method": "client_secret_basic",
    })
    try:
        config_file = write_config(folder, secrets_file, provider.issuer, app_url)
        server.app = create_app({"config_file": str(config_file)})
        yield Site(app_url, server.app, config_file, secrets_file, provider)
    finally:
        server.stop()
        stop(provider.process)


@pytest.fixture
def check_env(site: Site) -> dict[str, str]:
    """The environment `fedlab check` runs in: this site's files, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDLAB_")}
    return {**env, "FEDLAB_CONFIG": str(site.config_file),
            "FEDLAB_SECRETS_FILE": str(site.secrets_file)}

