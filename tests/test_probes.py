"""Live probes against the stand-ins: every verdict of every probe, for every kind."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.wrappers import Request, Response

from webapp import policies, probes
from webapp.config import settings
from webapp.errors import CATALOGUE
from webapp.providers import registry
from webapp.urls import external_url

from .conftest import PROVIDERS, LiveServer, make_app
from .flows import sign_in
from .misconfigurations import (
    CELL_IDS,
    CELLS,
    CLIENTS,
    OIDC_PROVIDER,
    SKEW_SECONDS,
    app_overrides,
    misconfigure,
)


def run(app, app_url, timeout=3.0):
    providers = registry.providers(app)
    with app.test_request_context("/", base_url=app_url):
        callbacks = {name: external_url("auth.callback", name=name) for name in providers}
        verdicts = probes.run_probes(settings(app), providers, callbacks, app_url + "/",
                                     timeout=timeout)
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
    provider of kind oidc; built with ``overrides`` if any."""
    def pick(provider: str, **overrides):
        if provider == OIDC_PROVIDER:
            return make_app(config_dir, tmp_path, "oidc.toml", **overrides)
        return make_app(config_dir, tmp_path, **overrides) if overrides else live_app

    return pick


@pytest.mark.parametrize(("what", "provider"), CELLS, ids=CELL_IDS)
def test_each_misconfiguration_gets_its_verdict_with_evidence(app_for, app_url, control,
                                                              aws_control, what, provider):
    app = app_for(provider, **app_overrides(what, provider))
    expected = misconfigure(control, what, provider)
    verdicts = run(app, app_url)
    verdict = verdicts[(provider, expected.probe)]
    assert verdict.status == "fail" and verdict.error == expected.error, verdict
    assert verdict.evidence[expected.evidence]
    if what == "issuer":
        assert verdict.evidence["issuer"] != verdict.evidence["expected_issuer"]
    if what == "secret":  # refused as the client (invalid_client, or the provider's word
        # for it), not merely "did not answer as expected"
        assert verdict.summary == "The client secret or authentication method is refused."
    if what == "clock":
        assert abs(verdict.evidence["difference_seconds"] - SKEW_SECONDS) <= 10
    if what == "down":
        assert verdict.evidence["status"] == 503
    # Only that provider fails; a fault of the whole tenant fails the tenant's other
    # app clients too (cognito-google, cognito-amazon).
    failed = {name for (name, _), v in verdicts.items() if v.status == "fail"}
    tenant = CLIENTS[provider][0]
    allowed = ({name for name, (t, _) in CLIENTS.items() if t == tenant}
               if what in ("issuer", "clock", "down") else {provider})
    assert provider in failed and failed <= allowed


def test_the_oidc_kind_passes_every_probe_with_its_end_session(app_for, app_url, control):
    verdicts = run(app_for(OIDC_PROVIDER), app_url)
    assert {v.status for v in verdicts.values()} == {"pass"}, verdicts
    # The plain OIDC tenant asks the visitor to confirm, as oidc-provider does: a
    # 200 page with a form, for a registered return URL only; an unregistered one on
    # the same origin, asked once more, gets its 400 invalid_request.
    sign_out = verdicts[(OIDC_PROVIDER, "sign_out")]
    assert sign_out.evidence["status"] == 200 and "confirm" in sign_out.summary
    unregistered = sign_out.evidence["unregistered_url"]
    assert unregistered.startswith(f"{app_url}/") and unregistered != f"{app_url}/"
    assert sign_out.evidence["unregistered_status"] == 400
    assert control("GET", "calls")["oidc"]["logout"] == 2


def test_a_slow_provider_is_cut_off_at_the_timeout(live_app, app_url, control):
    control("POST", "faults", tenant="google", fault="slow", seconds=3)
    verdict = run(live_app, app_url, timeout=0.5)[("google", "discovery")]
    assert verdict.status == "fail" and verdict.error == "provider_timeout"


def test_a_slow_token_endpoint_is_cut_off_at_the_probes_timeout(live_app, app_url, control):
    """The client-secret probe's token request waits the probe's timeout (0.5 s
    here), not the sign-in's (5 s): a token endpoint that answers after 3 s fails."""
    control("POST", "faults", tenant="google", fault="slow", endpoint="token", seconds=3)
    verdicts = run(live_app, app_url, timeout=0.5)
    assert verdicts[("google", "discovery")].status == "pass"
    verdict = verdicts[("google", "client_secret")]
    assert verdict.status == "fail" and verdict.error == "provider_timeout", verdict
    assert verdict.evidence["seconds"] == 0.5


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


# -- the sign-out probe against end-session endpoints the stand-ins do not play -----------

REGISTERED = "registered"
CONFIRM_PAGE = ('<!DOCTYPE html><html><head><title>Sign out?</title></head><body>'
                '<h1>Do you want to sign out?</h1><form method="post" action="{action}">'
                '<input type="hidden" name="xsrf" value="x">{carried}'
                '<button name="logout" value="yes">Yes, sign me out</button></form>'
                '</body></html>')


def confirm_page(action: str, carried: str = "") -> Response:
    return Response(CONFIRM_PAGE.format(action=action, carried=carried),
                    content_type="text/html; charset=utf-8")


def same_login_page(target: str, registered: str) -> Response:
    """Every sign-out request, whatever its return URL, meets a sign-in form first."""
    return confirm_page("/login")


def same_page_carrying_the_url(target: str, registered: str) -> Response:
    """A confirmation page for any return URL, which it carries along (in the form's
    query and a hidden field): the pages differ only by the URL."""
    query = urlencode({"post_logout_redirect_uri": target})
    return confirm_page(f"/end_session?{query}",
                        f'<input type="hidden" name="post_logout_redirect_uri" value="{target}">')


def confirms_registered_only(target: str, registered: str) -> Response:
    """oidc-provider's way: a confirmation page posting to /end_session/confirm for a
    registered URL, 400 invalid_request for any other."""
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response('{"error": "invalid_request", "error_description": '
                    '"post_logout_redirect_uri not registered"}', status=400,
                    content_type="application/json")


def error_page_for_unregistered(target: str, registered: str) -> Response:
    """An error page without the confirmation's form, answered 200."""
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response("<html><body><h1>Invalid post_logout_redirect_uri</h1></body></html>",
                    content_type="text/html")


def redirects_unregistered_elsewhere(target: str, registered: str) -> Response:
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response(status=302, headers={"Location": "/error?error=invalid_request"})


def redirects_to_any(target: str, registered: str) -> Response:
    return Response(status=302, headers={"Location": target})


def redirects_unregistered_to_itself(target: str, registered: str) -> Response:
    """A confirmation page for ours, and any other return URL followed at once."""
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response(status=302, headers={"Location": target})


class EndSessionProvider:
    """A small OpenID Provider whose end-session endpoint answers as ``answer`` says.

    Discovery, one key, and ``/end_session``, which records every
    ``post_logout_redirect_uri`` it is asked for; no sign-in (the probes of the
    callback and the client secret fail against it, and are not looked at here).
    """

    def __init__(self, answer: Callable[[str, str], Response], registered: str) -> None:
        self.answer = answer
        self.registered = registered
        self.return_urls: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        base = request.host_url.rstrip("/")
        if request.path == "/.well-known/openid-configuration":
            response = Response(json.dumps({
                "issuer": base, "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                "end_session_endpoint": f"{base}/end_session"}),
                content_type="application/json")
        elif request.path == "/jwks":
            response = Response(json.dumps({"keys": [{"kty": "RSA", "alg": "RS256",
                                                      "kid": "k", "n": "AQAB", "e": "AQAB"}]}),
                                content_type="application/json")
        elif request.path == "/end_session":
            target = request.args.get("post_logout_redirect_uri", "")
            self.return_urls.append(target)
            response = self.answer(target, self.registered)
        else:
            response = Response("not here", status=404)
        return response(environ, start_response)


@pytest.fixture
def end_session_provider(config_dir, tmp_path, app_url):
    """``(provider, app)``: the provider answering as the test sets, and an app with
    config/oidc.toml's provider pointed at it."""
    server = LiveServer("127.0.0.1")
    provider = EndSessionProvider(same_login_page, f"{app_url}/")
    server.app = provider
    issuer = f"http://127.0.0.1:{server.port}"
    app = make_app(config_dir, tmp_path, "oidc.toml",
                   providers={OIDC_PROVIDER: {"issuer": issuer}})
    yield provider, app
    server.stop()


def refuses_the_pace_for_unregistered(target: str, registered: str) -> Response:
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response("Too Many Requests", status=429)


def forbids_unregistered(target: str, registered: str) -> Response:
    if target == registered:
        return confirm_page("/end_session/confirm")
    return Response("<html><body>Forbidden</body></html>", status=403,
                    content_type="text/html")


@pytest.mark.parametrize(("answer", "status", "error"), [
    # The same page for any URL: a sign-in page (ours unregistered), or a wildcard
    # registration (both allowed): the probe cannot tell, and says so.
    (same_login_page, "warn", None),
    (same_page_carrying_the_url, "warn", None),
    # Any URL followed: nothing is checked.
    (redirects_unregistered_to_itself, "fail", "signout_mismatch"),
])
def test_a_sign_out_page_shown_for_any_return_url_is_not_a_pass(end_session_provider, app_url,
                                                               answer, status, error):
    provider, app = end_session_provider
    provider.answer = answer
    verdict = run(app, app_url)[(OIDC_PROVIDER, "sign_out")]
    assert verdict.status == status and verdict.error == error, verdict
    # Asked twice: our return URL, then one on the same origin nobody registered.
    ours, unregistered = provider.return_urls
    assert ours == f"{app_url}/"
    assert unregistered.startswith(f"{app_url}/") and unregistered != ours
    assert verdict.evidence["unregistered_url"] == unregistered
    # The evidence says both got the same answer: our 200 page, and that again (or a
    # redirect to the unregistered URL itself).
    assert verdict.evidence["status"] == 200 and verdict.evidence["same_answer"]
    assert "unregistered return URL" in verdict.summary


@pytest.mark.parametrize("answer", [refuses_the_pace_for_unregistered, forbids_unregistered])
def test_a_refusal_of_the_asker_for_the_unregistered_url_is_no_pass(end_session_provider,
                                                                    app_url, answer):
    """429 or 403 for the unregistered URL refuses the asker, not the URL: not known."""
    provider, app = end_session_provider
    provider.answer = answer
    verdict = run(app, app_url)[(OIDC_PROVIDER, "sign_out")]
    assert verdict.status == "warn", verdict
    assert "is not known" in verdict.summary
    assert len(provider.return_urls) == 2


@pytest.mark.parametrize(("answer", "status"), [(confirms_registered_only, 400),
                                                (error_page_for_unregistered, 200),
                                                (redirects_unregistered_elsewhere, 302)])
def test_a_confirmation_for_ours_only_is_a_pass(end_session_provider, app_url, answer, status):
    provider, app = end_session_provider
    provider.answer = answer
    verdict = run(app, app_url)[(OIDC_PROVIDER, "sign_out")]
    assert verdict.status == "pass", verdict
    assert len(provider.return_urls) == 2
    assert verdict.evidence["status"] == 200
    assert verdict.evidence["unregistered_status"] == status


def test_a_redirect_back_is_decisive_without_a_second_request(end_session_provider, app_url):
    provider, app = end_session_provider
    provider.answer = redirects_to_any
    verdict = run(app, app_url)[(OIDC_PROVIDER, "sign_out")]
    assert verdict.status == "pass", verdict
    assert provider.return_urls == [f"{app_url}/"]


# -- the identity pool's own settings and roles, read with the site's own AWS identity -----

OTHER_POOL = "us-east-1:00000000-0000-4000-8000-000000000000"


@pytest.fixture
def operator(swap_app, browser, app_url) -> Callable[..., str]:
    """``operator(**overrides)``: serve an app of its own (``aws`` overrides, live checks
    runnable at once), sign alice, the demo's operator, in, run the live checks as she
    would, and return the page."""
    def run_checks(**aws: Any) -> str:
        swap_app(diagnostics={"probe_interval": 0}, aws=aws)
        assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
        page = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
        assert page.status_code == 200
        return page.text

    return run_checks


def pool_rows(page: str) -> dict[str, list[tuple[str, str]]]:
    """The identity pool's rows of the verdicts table: probe -> [(status, row html)]."""
    rows: dict[str, list[tuple[str, str]]] = {}
    for probe, status, row in re.findall(
            r'<tr class="verdict[^"]*" data-probe="([^"]*)"\s+data-provider="identity-pool" '
            r'data-status="([^"]*)">(.*?)</tr>', page, re.S):
        rows.setdefault(probe, []).append((status, html.unescape(row)))
    return rows


def role_row(page: str, role: str) -> tuple[str, str]:
    found = [(s, row) for s, row in pool_rows(page).get("role_trust", [])
             if f"<dd>{role}</dd>" in row]
    assert len(found) == 1, pool_rows(page)
    return found[0]


def test_the_demo_pools_settings_and_roles_as_the_checks_see_them(operator, control,
                                                                   aws_control):
    page = operator()
    rows = pool_rows(page)
    assert [s for s, _ in rows["developer_provider"]] == ["pass"]
    assert "login.fedlab.demo" in rows["developer_provider"][0][1]
    # The demo offers the basic flow in a pool with role mappings, to show AWS refusing it.
    assert [s for s, _ in rows["classic_flow"]] == ["warn"]
    # The authenticated role (also rule 1 of Auth0's mapping), the guest role, and the
    # admins role of Google's rule 1 and Auth0's rule 2: each read with iam:GetRole.
    assert {s for s, _ in rows["role_trust"]} == {"pass"}
    for role in ("fedlab-authenticated", "fedlab-guest", "fedlab-admins", "fedlab-readers"):
        assert "trusts this pool" in role_row(page, role)[1]
    admins = role_row(page, "fedlab-admins")[1]
    assert "rule 1 of the role mapping for accounts.google.com" in admins
    assert "rule 2 of the role mapping for fedlab-demo.us.auth0.com" in admins
    # The groups' roles, which Cognito's Token mapping takes from the token.
    assert "the admins group's role" in admins
    assert "the readers group's role" in role_row(page, "fedlab-readers")[1]
    calls = aws_control("identity", "GET", "calls")
    # GetIdentityPoolRoles: the roles' trust, and the basic flow's mappings.
    assert calls["DescribeIdentityPool"] == 1 and calls["GetIdentityPoolRoles"] == 2


def test_a_mapped_role_trusting_another_pool_fails_naming_it_and_the_fix(operator, role_trust,
                                                                         control, aws_control,
                                                                         app):
    pool_id = settings(app).aws.identity_pool_id
    role_trust("fedlab-admins", policies.trust_policy(OTHER_POOL, "authenticated"))
    page = operator()
    status, row = role_row(page, "fedlab-admins")
    assert status == "fail"
    assert 'data-error="role_trust_mismatch"' in row
    assert f"names another pool in its cognito-identity.amazonaws.com:aud condition " \
           f"({OTHER_POOL}), not this one ({pool_id})" in row
    assert (f"StringEquals cognito-identity.amazonaws.com:aud = {pool_id}" in row
            and "--role-name fedlab-admins" in row)
    assert html.unescape(str(CATALOGUE["role_trust_mismatch"].fix)) in row
    # The roles that trust this pool still pass.
    assert role_row(page, "fedlab-authenticated")[0] == "pass"
    assert role_row(page, "fedlab-guest")[0] == "pass"


def test_a_group_role_trusting_another_pool_fails_though_the_pool_does_not_list_it(
        operator, role_trust, control, aws_control, app):
    """fedlab-readers comes only from the readers group, through Cognito's Token mapping:
    GetIdentityPoolRoles never names it, yet bob's credentials need its trust."""
    pool_id = settings(app).aws.identity_pool_id
    role_trust("fedlab-readers", policies.trust_policy(OTHER_POOL, "authenticated"))
    status, row = role_row(operator(), "fedlab-readers")
    assert status == "fail" and 'data-error="role_trust_mismatch"' in row
    assert f"names another pool in its cognito-identity.amazonaws.com:aud condition " \
           f"({OTHER_POOL}), not this one ({pool_id})" in row
    assert ("the readers group's role, as a token gives it under the Token role mappings "
            "for cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-amazon-"
            "client, cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-apple-"
            "client, cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-client, "
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-google-client"
            ) in row
    assert "--role-name fedlab-readers" in row


def test_a_group_role_iam_lacks_is_a_warning(operator, monkeypatch, control, aws_control):
    """A mapped role IAM has not (one the site knows of, its stack never made): only a
    group naming it would be refused, so the check warns rather than fails."""
    auditors = policies.MappedRole("auditors", "fedlab-auditors", "Read the logs",
                                   policies.reader_statements)
    monkeypatch.setattr(policies, "MAPPED_ROLES", (*policies.MAPPED_ROLES, auditors))
    status, row = role_row(operator(), "fedlab-auditors")
    assert status == "warn" and "data-error" not in row
    assert "IAM has no role fedlab-auditors (the auditors group's role" in row
    assert role_row(operator(), "fedlab-readers")[0] == "pass"


def test_a_pool_role_of_another_account_fails_though_a_role_has_its_name(
        operator, pool_admin, control, aws_control, app):
    """IAM's GetRole finds fedlab-authenticated by name; the pool names another
    account's role of that name, which it cannot assume."""
    pool_id = settings(app).aws.identity_pool_id
    before = pool_admin.get_identity_pool_roles(IdentityPoolId=pool_id)
    elsewhere = "arn:aws:iam::999999999999:role/fedlab-authenticated"
    pool_admin.set_identity_pool_roles(
        IdentityPoolId=pool_id, Roles={**before["Roles"], "authenticated": elsewhere},
        RoleMappings=before["RoleMappings"])
    try:
        rows = [(s, row) for s, row in pool_rows(operator())["role_trust"]
                if "<dd>fedlab-authenticated</dd>" in row]
    finally:
        pool_admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=before["Roles"],
                                           RoleMappings=before["RoleMappings"])
    # Two roles of one name: the pool's (another account's) and Auth0's rule 1's.
    [(status, row)] = [(s, row) for s, row in rows if elsewhere in row]
    assert status == "fail" and 'data-error="identity_pool_roles_invalid"' in row
    assert (f"The pool gives the role {elsewhere} (the pool's authenticated role), but this "
            f"account's role fedlab-authenticated is {before['Roles']['authenticated']}") in row
    [(status, row)] = [(s, row) for s, row in rows if elsewhere not in row]
    assert status == "pass" and "rule 1 of the role mapping for fedlab-demo.us.auth0.com" in row


def test_a_role_trusting_any_pool_fails(operator, role_trust, control, aws_control):
    """No aud condition at all: any pool's identities could assume the guest role."""
    document = policies.trust_policy("x", "unauthenticated")
    del document["Statement"][0]["Condition"]["StringEquals"]
    role_trust("fedlab-guest", document)
    status, row = role_row(operator(), "fedlab-guest")
    assert status == "fail" and "has no cognito-identity.amazonaws.com:aud condition" in row


def test_a_statement_for_this_pool_without_amr_fails_whatever_another_statement_requires(
        operator, role_trust, control, aws_control, app):
    """IAM allows what any one statement allows: this pool's statement with no amr lets
    its guests assume the admins' role, though another statement (another pool's)
    requires authenticated identities. Each statement is judged on its own."""
    pool_id = settings(app).aws.identity_pool_id
    loose = policies.trust_policy(pool_id, "authenticated")
    del loose["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
    document = {**loose, "Statement": [
        *loose["Statement"], *policies.trust_policy(OTHER_POOL, "authenticated")["Statement"]]}
    role_trust("fedlab-admins", document)
    status, row = role_row(operator(), "fedlab-admins")
    assert status == "fail" and 'data-error="role_trust_mismatch"' in row
    assert ("has a statement for this pool with no cognito-identity.amazonaws.com:amr "
            "condition: any of its identities, guests too, could assume it") in row


def test_another_pools_statement_beside_a_strict_one_for_this_pool_fails(
        operator, role_trust, control, aws_control, app):
    """A role shared with another pool is that pool's to give on its own terms (here
    to its guests), however strict this pool's statement is."""
    pool_id = settings(app).aws.identity_pool_id
    document = policies.trust_policy(pool_id, "authenticated")
    document["Statement"] += policies.trust_policy(OTHER_POOL, "unauthenticated")["Statement"]
    role_trust("fedlab-admins", document)
    status, row = role_row(operator(), "fedlab-admins")
    assert status == "fail" and 'data-error="role_trust_mismatch"' in row
    assert f"also lets identities of another pool assume it ({OTHER_POOL}" in row


def test_a_broken_date_header_leaves_the_live_checks_page_whole(operator, control,
                                                                aws_control):
    """The page run of the checks with one provider's edge sending a Date no parser
    reads: the page is served, that clock skipped, every other row there."""
    control("POST", "faults", tenant="google", fault="bad_date")
    page = operator()
    rows = dict(((provider, probe), status) for probe, provider, status in re.findall(
        r'<tr class="verdict[^"]*" data-probe="([^"]*)"\s+data-provider="([^"]*)" '
        r'data-status="([^"]*)"', page))
    assert rows[("google", "clock")] == "skip"
    assert rows[("google", "callback")] == "pass" and rows[("auth0", "clock")] == "pass"


def test_a_developer_provider_name_the_pool_does_not_know_fails_naming_both(operator, control,
                                                                            aws_control):
    page = operator(developer_provider_name="login.elsewhere.example")
    [(status, row)] = pool_rows(page)["developer_provider"]
    assert status == "fail" and 'data-error="pool_developer_provider_mismatch"' in row
    assert ("aws.developer_provider_name is login.elsewhere.example, but the pool's "
            "DeveloperProviderName is login.fedlab.demo") in row
    assert html.unescape(CATALOGUE["pool_developer_provider_mismatch"].fix) in row


def test_classic_flow_on_at_the_site_and_off_at_the_pool_fails(operator, pool_admin, control,
                                                               aws_control, app):
    pool_id = settings(app).aws.identity_pool_id
    pool = pool_admin.describe_identity_pool(IdentityPoolId=pool_id)
    pool.pop("ResponseMetadata")
    pool_admin.update_identity_pool(**{**pool, "AllowClassicFlow": False})
    [(status, row)] = pool_rows(operator())["classic_flow"]
    assert status == "fail" and 'data-error="pool_classic_flow_off"' in row
    assert "the pool's AllowClassicFlow is off" in row
    # Off at the site too: nothing is offered that the pool refuses.
    [(status, row)] = pool_rows(operator(classic_flow=False))["classic_flow"]
    assert status == "pass"


def test_classic_flow_offered_in_a_pool_with_role_mappings_warns_with_the_fix(
        operator, control, aws_control):
    """The demo's pool allows the basic flow and the site offers it, but the pool has
    role mappings, where AWS refuses it: a warning naming them, why, and the fix."""
    [(status, row)] = pool_rows(operator())["classic_flow"]
    assert status == "warn" and 'data-error="pool_classic_flow_mapped"' in row
    assert ("the pool has role mappings (for accounts.google.com, "
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-amazon-client, "
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-apple-client, "
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:fedlab-cognito-client, "
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab:"
            "fedlab-cognito-google-client, fedlab-demo.us.auth0.com)") in row
    assert "AWS refuses GetOpenIdToken in any pool with role mappings" in row
    assert "Set aws.classic_flow = false, or use a pool without role mappings" in row
    assert html.unescape(CATALOGUE["pool_classic_flow_mapped"].fix) in row
    # Off at the site: nothing offered that AWS refuses, and no mappings need reading.
    aws_control("identity", "DELETE", "calls")
    [(status, row)] = pool_rows(operator(classic_flow=False))["classic_flow"]
    assert status == "pass"
    assert aws_control("identity", "GET", "calls")["GetIdentityPoolRoles"] == 1  # role trust


def test_classic_flow_offered_in_a_pool_without_role_mappings_passes(
        operator, no_role_mappings, control, aws_control):
    page = operator()
    [(status, row)] = pool_rows(page)["classic_flow"]
    assert status == "pass" and "data-error" not in row
    # No mapping takes a role from a token: no group's role can be given, none is read.
    assert not [r for _, r in pool_rows(page)["role_trust"] if "group's role" in r]
    assert "allows the basic (classic) flow, which the site offers, and has no role " \
           "mappings" in row


def test_without_the_sites_own_identity_the_pool_checks_say_they_could_not_run(
        operator, monkeypatch, control, aws_control):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here
    page = operator()
    rows = pool_rows(page)
    assert sorted(rows) == ["classic_flow", "developer_provider", "role_trust"]
    for probe, found in rows.items():
        [(status, row)] = found
        assert status == "skip", probe
        assert "Could not run" in row and "This says nothing about the pool" in row
        assert 'data-error="site_credentials_missing"' in row
    calls = aws_control("identity", "GET", "calls")
    assert not calls.get("DescribeIdentityPool") and not calls.get("GetIdentityPoolRoles")
    # The visitors' checks of the pool (unsigned GetId) still ran.
    assert re.search(r'data-probe="identity_pool"\s+data-provider="google" data-status="pass"',
                     page)
