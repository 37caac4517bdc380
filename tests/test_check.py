"""``fedlab check``: the matrix and the probes on the command line, text and JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from webapp import policies
from webapp.cli import main
from webapp.config import settings

from .conftest import PROVIDERS
from .misconfigurations import CELL_IDS, CELLS, OIDC_PROVIDER, app_environment, misconfigure
from .test_probes import CLIENT_IDS, OTHER_POOL


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


@pytest.mark.parametrize(("what", "provider"), CELLS, ids=CELL_IDS)
def test_each_misconfiguration_fails_check_with_evidence(check_env, monkeypatch, config_dir,
                                                         capsys, app, app_url, control,
                                                         aws_control, what, provider):
    if provider == OIDC_PROVIDER:
        monkeypatch.setenv("FEDLAB_CONFIG", str(config_dir / "oidc.toml"))
    for name, value in app_environment(what, provider).items():
        monkeypatch.setenv(name, value)
    expected = misconfigure(control, what, provider)
    code, report = check_json(capsys, app_url)
    verdict = next(v for v in report["verdicts"]
                   if v["provider"] == provider and v["probe"] == expected.probe)
    assert code == 1 and not report["ok"]
    assert verdict["status"] == "fail" and verdict["error"] == expected.error
    assert verdict["evidence"][expected.evidence]


def test_the_oidc_configuration_passes_check_with_its_end_session(check_env, monkeypatch,
                                                                  config_dir, capsys, app,
                                                                  app_url, control):
    monkeypatch.setenv("FEDLAB_CONFIG", str(config_dir / "oidc.toml"))
    code, report = check_json(capsys, app_url)
    assert code == 0 and report["ok"], report["verdicts"]
    row = report["rows"][0]
    assert (row["name"], row["kind"]) == (OIDC_PROVIDER, "oidc")
    assert row["sign_out_url"] == f"{app_url}/"
    assert "post_logout_redirect_uris" in row["console"]["sign_out"]
    sign_out = next(v for v in report["verdicts"] if v["probe"] == "sign_out")
    assert sign_out["status"] == "pass"
    # Its confirmation page was told apart from the 400 for an unregistered return URL.
    assert (sign_out["evidence"]["status"], sign_out["evidence"]["unregistered_status"]) == (
        200, 400)


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


def test_a_date_header_no_parser_reads_skips_the_clock_and_the_report_is_whole(
        check_env, app, app_url, control, aws_control):
    """A provider's edge sends a broken Date: its clock cannot be compared (skip), and
    every other verdict, that provider's and the others', is still printed."""
    control("POST", "faults", tenant="google", fault="bad_date")
    result = subprocess.run([sys.executable, "-m", "webapp.cli", "check", "--json",
                             "--base-url", app_url],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, **check_env})
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    report = json.loads(result.stdout)
    verdicts = {(v["provider"], v["probe"]): v for v in report["verdicts"]}
    clock = verdicts[("google", "clock")]
    assert clock["status"] == "skip" and clock["evidence"]["provider_date"] == "not a date"
    assert verdicts[("google", "callback")]["status"] == "pass"
    assert {p for p, _ in verdicts} >= set(PROVIDERS)
    assert result.returncode == 0 and report["ok"], report["verdicts"]


def test_a_probe_that_stops_on_its_own_error_costs_only_its_own_verdict(
        check_env, monkeypatch, capsys, app, app_url, control, aws_control, caplog):
    """Whatever a provider's answer makes a probe trip over, the report is printed:
    that probe fails saying so, the log has the error, every other verdict stands,
    the same provider's included."""
    from webapp import probes

    def broken(name, response):
        raise KeyError("something no probe foresaw")

    monkeypatch.setattr(probes, "probe_clock", broken)
    code, report = check_json(capsys, app_url)
    by = {(v["provider"], v["probe"]): v for v in report["verdicts"]}
    failed = {key for key, v in by.items() if v["status"] == "fail"}
    assert code == 1 and failed and {probe for _, probe in failed} == {"clock"}
    assert "stopped on an error of its own (KeyError)" in by[("google", "clock")]["summary"]
    for probe in ("discovery", "keys", "callback", "client_secret"):
        assert by[("google", probe)]["status"] == "pass", by[("google", probe)]
    assert {p for p, probe in by if probe == "identity_pool"} == set(PROVIDERS)
    assert "probe clock of google stopped on an error" in caplog.text


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


def test_check_warns_of_a_proxy_without_external_url(check_env, monkeypatch, capsys, app,
                                                    control, aws_control):
    monkeypatch.setenv("FEDLAB_TRUSTED_PROXIES", "1")
    main(["check", "--json"])
    report = json.loads(capsys.readouterr().out)
    warning = next(w for w in report["warnings"] if w["code"] == "cookie_not_secure")
    assert "external_url" in warning["fix"]


# -- the identity pool's own settings and roles ---------------------------------------------

def pool_verdicts(report: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for verdict in report["verdicts"]:
        if verdict["provider"] == "identity-pool":
            found.setdefault(verdict["probe"], []).append(verdict)
    return found


def test_check_passes_the_demo_pools_settings_and_roles(check_env, capsys, app, app_url,
                                                       control, aws_control):
    """Everything passes but the basic flow, which the demo offers in a pool with role
    mappings to show AWS refusing it: a warning, which fails nothing."""
    code, report = check_json(capsys, app_url)
    assert code == 0 and report["ok"]
    found = pool_verdicts(report)
    assert sorted(found) == ["classic_flow", "developer_provider", "role_trust"]
    assert [(v["status"], v["error"]) for v in found["classic_flow"]] == [
        ("warn", "pool_classic_flow_mapped")]
    assert {v["status"] for probe in ("developer_provider", "role_trust")
            for v in found[probe]} == {"pass"}
    roles = {v["evidence"]["role"] for v in found["role_trust"]}
    # fedlab-readers too: the readers group's, given through Cognito's Token mappings.
    assert roles == {"fedlab-authenticated", "fedlab-guest", "fedlab-admins", "fedlab-readers"}


@pytest.mark.parametrize("mistake", ["role_trust", "developer_provider", "classic_flow"])
def test_each_pool_mistake_fails_check(check_env, monkeypatch, capsys, app, app_url, control,
                                       aws_control, role_trust, pool_admin, mistake):
    """A mapped role trusting another pool; a developer provider name the pool does not
    know; the basic flow on at the site, off at the pool: each fails `fedlab check`,
    in JSON and in its text, with the catalogue's entry."""
    pool_id = settings(app).aws.identity_pool_id
    if mistake == "role_trust":
        role_trust("fedlab-admins", policies.trust_policy(OTHER_POOL, "authenticated"))
        expected = "role_trust_mismatch"
    elif mistake == "developer_provider":
        monkeypatch.setenv("FEDLAB_AWS__DEVELOPER_PROVIDER_NAME", "login.elsewhere.example")
        expected = "pool_developer_provider_mismatch"
    else:
        pool = pool_admin.describe_identity_pool(IdentityPoolId=pool_id)
        pool.pop("ResponseMetadata")
        pool_admin.update_identity_pool(**{**pool, "AllowClassicFlow": False})
        expected = "pool_classic_flow_off"
    code, report = check_json(capsys, app_url)
    failed = [v for v in report["verdicts"] if v["status"] == "fail"]
    assert code == 1 and not report["ok"]
    assert [(v["provider"], v["probe"], v["error"]) for v in failed] == [
        ("identity-pool", mistake, expected)]
    if mistake == "role_trust":
        assert failed[0]["evidence"]["role"] == "fedlab-admins"
        assert failed[0]["evidence"]["aud"] == [OTHER_POOL]
    assert main(["check", "--base-url", app_url]) == 1
    text = capsys.readouterr().out
    assert "[identity-pool]" in text
    assert re.search(rf"FAIL {mistake} +{re.escape(failed[0]['summary'])}", text)


def test_check_without_the_sites_identity_says_the_pool_checks_could_not_run(
        check_env, monkeypatch, capsys, app, app_url, control, aws_control):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, report = check_json(capsys, app_url)
    assert code == 0 and report["ok"]  # not a failure of the pool
    found = pool_verdicts(report)
    assert sorted(found) == ["classic_flow", "developer_provider", "role_trust"]
    for [verdict] in found.values():
        assert verdict["status"] == "skip"
        assert verdict["error"] == "site_credentials_missing"
        assert verdict["summary"].startswith("Could not run")
    assert not aws_control("identity", "GET", "calls").get("DescribeIdentityPool")

