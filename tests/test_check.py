"""``fedlab check``: the matrix and the probes on the command line, text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from webapp.cli import main

from .conftest import PROVIDERS
from .test_probes import CLIENT_IDS, KINDS


@pytest.fixture
def check_env(monkeypatch, config_dir, tmp_path):
    for name in list(os.environ):
        if name.startswith("FEDLAB_"):
            monkeypatch.delenv(name)
    env = {"FEDLAB_CONFIG": str(config_dir / "demo.toml"),
           "FEDLAB_SECRETS_FILE": str(config_dir / "secrets.toml"),
           "FEDLAB_SESSION__DIR": str(tmp_path / "sessions")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def check_json(capsys, app_url) -> tuple[int, dict]:
    code = main(["check", "--json", "--base-url", app_url])
    return code, json.loads(capsys.readouterr().out)


def test_check_passes_with_the_demo_configuration(check_env, capsys, app, app_url, control,
                                                  aws_control):
    code, report = check_json(capsys, app_url)
    failed = [v for v in report["verdicts"] if v["status"] == "fail"]
    assert code == 0 and report["ok"] and not failed
    assert {row["name"] for row in report["rows"]} == set(PROVIDERS)
    row = next(r for r in report["rows"] if r["name"] == "google")
    assert row["callback_url"] == f"{app_url}/auth/google/callback"
    assert "Authorized redirect URIs" in row["console"]["callback"]


@pytest.mark.parametrize("provider", list(KINDS))
@pytest.mark.parametrize(("misconfiguration", "probe", "error"), [
    ("callback", "callback", "redirect_mismatch"),
    ("secret", "client_secret", "token_request_failed"),
    ("down", "callback", None),
])
def test_each_misconfiguration_fails_check_with_evidence(check_env, capsys, app, app_url,
                                                         control, aws_control, provider,
                                                         misconfiguration, probe, error):
    tenant = KINDS[provider]
    if misconfiguration == "callback":
        control("POST", "clients", tenant=tenant, client_id=CLIENT_IDS[provider],
                redirect_uris=["https://elsewhere.example/cb"])
    elif misconfiguration == "secret":
        control("POST", "clients", tenant=tenant, client_id=CLIENT_IDS[provider],
                client_secret="wrong")
    else:
        control("POST", "faults", tenant=tenant, fault="down")
        probe = "callback" if provider == "facebook" else "discovery"
    code, report = check_json(capsys, app_url)
    verdict = next(v for v in report["verdicts"]
                   if v["provider"] == provider and v["probe"] == probe)
    assert code == 1 and not report["ok"]
    assert verdict["status"] == "fail" and verdict["evidence"]
    if error:
        assert verdict["error"] == error


@pytest.mark.parametrize("provider", ["cognito", "auth0", "google"])
@pytest.mark.parametrize(("misconfiguration", "probe", "error"), [
    ("issuer", "discovery", "discovery_issuer_mismatch"),
    ("clock", "clock", "id_token_rejected"),
])
def test_oidc_misconfigurations_fail_check(check_env, capsys, app, app_url, control,
                                           aws_control, provider, misconfiguration, probe,
                                           error):
    if misconfiguration == "issuer":
        control("POST", "faults", tenant=provider, fault="discovery_other_issuer")
    else:
        control("POST", "clock", tenant=provider, skew_seconds=900)
    code, report = check_json(capsys, app_url)
    verdict = next(v for v in report["verdicts"]
                   if v["provider"] == provider and v["probe"] == probe)
    assert code == 1 and verdict["status"] == "fail" and verdict["error"] == error


@pytest.mark.parametrize("provider", ["cognito", "auth0"])
def test_an_unregistered_sign_out_url_fails_check(check_env, capsys, app, app_url, control,
                                                  aws_control, provider):
    control("POST", "clients", tenant=provider, client_id=CLIENT_IDS[provider],
            logout_uris=["https://elsewhere.example/"])
    code, report = check_json(capsys, app_url)
    verdict = next(v for v in report["verdicts"]
                   if v["provider"] == provider and v["probe"] == "sign_out")
    assert code == 1 and verdict["error"] == "signout_mismatch"
    assert verdict["evidence"]["provider_says"]


def test_the_console_script_exits_non_zero_and_prints_the_providers_words(check_env, app,
                                                                         app_url, control,
                                                                         aws_control):
    control("POST", "clients", tenant="google", client_id=CLIENT_IDS["google"],
            redirect_uris=["https://elsewhere.example/cb"])
    result = subprocess.run([sys.executable, "-m", "webapp.cli", "check", "--base-url", app_url],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, **check_env})
    assert result.returncode == 1, result.stderr
    assert "FAIL callback" in result.stdout
    assert "redirect_uri_mismatch" in result.stdout


def test_a_slow_provider_is_not_told_as_missing_from_the_identity_pool(check_env, capsys, app,
                                                                       app_url, control,
                                                                       aws_control):
    # The pool checks a token by fetching the issuer's keys: a slow Google makes it slow.
    control("POST", "faults", tenant="google", fault="slow", seconds=3)
    started = time.monotonic()
    code = main(["check", "--json", "--base-url", app_url, "--timeout", "0.5"])
    elapsed = time.monotonic() - started
    report = json.loads(capsys.readouterr().out)
    print(f"\nfedlab check --timeout 0.5 with a slow provider: {elapsed:.2f} s")
    verdict = next(v for v in report["verdicts"]
                   if v["provider"] == "google" and v["probe"] == "identity_pool")
    assert code == 1
    assert verdict["status"] == "fail" and verdict["error"] == "aws_timeout"
    assert verdict["summary"].startswith("Could not ask the identity pool")
    assert "does not take" not in verdict["summary"]
    assert "0.5 seconds" in verdict["evidence"]["aws_says"]
