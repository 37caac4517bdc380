"""Live probes against the stand-ins: every verdict of every probe, for every kind."""

from __future__ import annotations

import pytest

from webapp import probes
from webapp.urls import external_url

from .conftest import PROVIDERS, make_app

KINDS = {"cognito": "cognito", "auth0": "auth0", "google": "google", "facebook": "facebook"}


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


CLIENT_IDS = {"cognito": "fedlab-cognito-client", "auth0": "fedlab-auth0-client",
              "google": "fedlab-google-client.apps.googleusercontent.com",
              "facebook": "100000000000001"}


@pytest.mark.parametrize("provider", list(KINDS))
def test_an_unregistered_callback_is_refused_with_the_providers_words(live_app, app_url,
                                                                     control, provider):
    control("POST", "clients", tenant=KINDS[provider], client_id=CLIENT_IDS[provider],
            redirect_uris=["https://elsewhere.example/callback"])
    verdict = run(live_app, app_url)[(provider, "callback")]
    assert verdict.status == "fail" and verdict.error == "redirect_mismatch"
    assert verdict.evidence["provider_says"]


@pytest.mark.parametrize("provider", ["cognito", "auth0"])
def test_an_unregistered_sign_out_url_is_refused(live_app, app_url, control, provider):
    control("POST", "clients", tenant=provider, client_id=CLIENT_IDS[provider],
            logout_uris=["https://elsewhere.example/"])
    verdict = run(live_app, app_url)[(provider, "sign_out")]
    assert verdict.status == "fail" and verdict.error == "signout_mismatch"


@pytest.mark.parametrize("provider", list(KINDS))
def test_a_wrong_client_secret_is_told_from_a_right_one(live_app, app_url, control, provider):
    control("POST", "clients", tenant=KINDS[provider], client_id=CLIENT_IDS[provider],
            client_secret="not-the-one-the-app-has")
    verdict = run(live_app, app_url)[(provider, "client_secret")]
    assert verdict.status == "fail" and verdict.error == "token_request_failed"


@pytest.mark.parametrize("provider", ["cognito", "auth0", "google"])
def test_a_wrong_issuer_fails_discovery(live_app, app_url, control, provider):
    control("POST", "faults", tenant=provider, fault="discovery_other_issuer")
    verdict = run(live_app, app_url)[(provider, "discovery")]
    assert verdict.status == "fail" and verdict.error == "discovery_issuer_mismatch"
    assert verdict.evidence["issuer"] != verdict.evidence["expected_issuer"]


@pytest.mark.parametrize("provider", ["cognito", "auth0", "google"])
def test_a_skewed_clock_is_measured(live_app, app_url, control, provider):
    control("POST", "clock", tenant=provider, skew_seconds=600)
    verdict = run(live_app, app_url)[(provider, "clock")]
    assert verdict.status == "fail"
    assert 590 <= verdict.evidence["difference_seconds"] <= 610


@pytest.mark.parametrize("provider", list(KINDS))
def test_a_provider_that_is_down(live_app, app_url, control, provider):
    control("POST", "faults", tenant=KINDS[provider], fault="down")
    verdicts = run(live_app, app_url)
    first = verdicts[(provider, "discovery")] if provider != "facebook" else \
        verdicts[(provider, "callback")]
    # An outage, not a refused registration (Facebook's 503 is no "URL Blocked").
    assert first.status == "fail" and first.error == "provider_bad_response"
    assert first.evidence["status"] == 503


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


def test_an_unreachable_identity_pool_is_not_told_as_missing_a_provider(config_dir, tmp_path,
                                                                        app_url, control):
    # Nothing listens on port 1 of loopback: the connection is refused.
    other = make_app(config_dir, tmp_path,
                     aws={"cognito_identity_endpoint": "http://127.0.0.1:1"})
    verdict = run(other, app_url)[("auth0", "identity_pool")]
    assert verdict.status == "fail" and verdict.error == "aws_unreachable"
    assert verdict.summary.startswith("Could not ask the identity pool")
