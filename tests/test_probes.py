"""Live probes against the stand-ins: every verdict of every probe, for every kind."""

from __future__ import annotations

import pytest

from webapp import probes
from webapp.urls import external_url

from .conftest import PROVIDERS, make_app
from .misconfigurations import CELL_IDS, CELLS, CLIENTS, OIDC_PROVIDER, SKEW_SECONDS, misconfigure


def run(app, app_url, timeout=3.0):
    config = app.config["FEDLAB"]
    with app.test_request_context("/", base_url=app_url):
        callbacks = {name: external_url("auth.callback", name=name)
                     for name in config["providers"]}
        verdicts = probes.run_probes(config, callbacks, app_url + "/", timeout=timeout)
    return {(v.provider, v.probe): v for v in verdicts}


def test_the_demo_configuration_passes_every_probe(live_app, app_url, control, aws_control):
    verdicts = run(live_app, app_url)
    failed = {k: v.summary for k, v in verdicts.items() if v.status == "fail"}
    assert not failed
    for provider in PROVIDERS:
        assert verdicts[(provider, "callback")].status == "pass"
        assert verdicts[(provider, "client_secret")].status == "pass"
        assert verdicts[(provider, "identity_pool")].status == "pass"
    for provider in ("cognito", "auth0", "google"):
        assert verdicts[(provider, "discovery")].status == "pass"
        assert verdicts[(provider, "keys")].evidence["count"] >= 1
        assert verdicts[(provider, "clock")].status == "pass"
    assert verdicts[("cognito", "sign_out")].status == "pass"
    assert verdicts[("auth0", "sign_out")].status == "pass"
    assert verdicts[("google", "sign_out")].status == "skip"
    assert verdicts[("facebook", "sign_out")].status == "skip"


CLIENT_IDS = {name: client_id for name, (_, client_id) in CLIENTS.items()}


@pytest.fixture
def app_for(live_app, config_dir, tmp_path):
    """The app configured with ``provider``: the demo's, or config/oidc.toml's for the
    provider of kind oidc."""
    def pick(provider: str):
        if provider == OIDC_PROVIDER:
            return make_app(config_dir, tmp_path, "oidc.toml")
        return live_app

    return pick


@pytest.mark.parametrize(("what", "provider"), CELLS, ids=CELL_IDS)
def test_each_misconfiguration_gets_its_verdict_with_evidence(app_for, app_url, control,
                                                              aws_control, what, provider):
    expected = misconfigure(control, what, provider)
    verdicts = run(app_for(provider), app_url)
    verdict = verdicts[(provider, expected.probe)]
    assert verdict.status == "fail" and verdict.error == expected.error, verdict
    assert verdict.evidence[expected.evidence]
    if what == "issuer":
        assert verdict.evidence["issuer"] != verdict.evidence["expected_issuer"]
    if what == "clock":
        assert abs(verdict.evidence["difference_seconds"] - SKEW_SECONDS) <= 10
    if what == "down":
        assert verdict.evidence["status"] == 503
    # Only that provider fails; a fault of the whole tenant fails the tenant's other
    # app clients too (cognito-google).
    failed = {name for (name, _), v in verdicts.items() if v.status == "fail"}
    tenant = CLIENTS[provider][0]
    allowed = ({name for name, (t, _) in CLIENTS.items() if t == tenant}
               if what in ("issuer", "clock", "down") else {provider})
    assert provider in failed and failed <= allowed


def test_the_oidc_kind_passes_every_probe_with_its_end_session(app_for, app_url, control):
    verdicts = run(app_for(OIDC_PROVIDER), app_url)
    assert {v.status for v in verdicts.values()} == {"pass"}, verdicts
    # The plain OIDC tenant asks the visitor to confirm, as oidc-provider does: a
    # 200 page with a form, for a registered return URL only.
    sign_out = verdicts[(OIDC_PROVIDER, "sign_out")]
    assert sign_out.evidence["status"] == 200 and "confirm" in sign_out.summary


def test_a_slow_provider_is_cut_off_at_the_timeout(live_app, app_url, control):
    control("POST", "faults", tenant="google", fault="slow", seconds=3)
    verdict = run(live_app, app_url, timeout=0.5)[("google", "discovery")]
    assert verdict.status == "fail" and verdict.error == "provider_timeout"


def test_a_provider_missing_from_the_identity_pool(live_app, app_url, control, aws_control,
                                                   pool_with):
    pool_with("drop_auth0")
    verdict = run(live_app, app_url)[("auth0", "identity_pool")]
    assert verdict.status == "fail" and verdict.error == "identity_provider_not_configured"


def test_an_identity_pool_that_is_down_is_not_told_as_missing_a_provider(live_app, app_url,
                                                                         control, aws_control):
    aws_control("identity", "POST", "faults", fault="down")
    verdicts = run(live_app, app_url)
    for provider in PROVIDERS:
        verdict = verdicts[(provider, "identity_pool")]
        assert verdict.status == "fail" and verdict.error == "aws_error"
        assert verdict.summary.startswith("Could not ask the identity pool")
    assert aws_control("identity", "GET", "calls")["GetId"] == len(PROVIDERS)  # no retries


def test_a_wrong_identity_pool_id_is_told_as_such(config_dir, tmp_path, app_url, control,
                                                  aws_control):
    wrong = "us-east-1:00000000-0000-4000-8000-000000000000"
    other = make_app(config_dir, tmp_path, aws={"identity_pool_id": wrong})
    verdict = run(other, app_url)[("google", "identity_pool")]
    assert verdict.status == "fail" and verdict.error == "identity_pool_not_found"
    assert wrong in verdict.summary and "does not take" not in verdict.summary


def test_an_unreachable_identity_pool_is_not_told_as_missing_a_provider(config_dir, tmp_path,
                                                                        app_url, control):
    # Nothing listens on port 1 of loopback: the connection is refused.
    other = make_app(config_dir, tmp_path,
                     aws={"cognito_identity_endpoint": "http://127.0.0.1:1"})
    verdict = run(other, app_url)[("auth0", "identity_pool")]
    assert verdict.status == "fail" and verdict.error == "aws_unreachable"
    assert verdict.summary.startswith("Could not ask the identity pool")
