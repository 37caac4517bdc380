"""OpenID Connect Back-Channel Logout 1.0: logout tokens end sessions, bad ones are refused.

Observed from outside: the answers of ``/auth/<name>/backchannel-logout`` to
tokens the stand-ins make (their control API), the browsers' next pages, the
session records in the store, the stand-ins' discovery documents and the
deliveries they report.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from webapp import signals

from .browser import Browser
from .conftest import fail_deleting
from .flows import sign_in
from .test_sessions import session_cookie

AUTH0 = {"tenant": "auth0", "client_id": "fedlab-auth0-client"}
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def signed_in(app, app_url: str, user: str = "alice",
              provider: str = "auth0") -> tuple[Browser, str]:
    """A browser signed in as ``user``, and its session id."""
    browser = Browser()
    page = sign_in(browser, app_url, provider, user)
    assert page.url == f"{app_url}/account", page.text[:300]
    return browser, session_cookie(browser).value


def provider_sid(app, sid: str) -> str:
    """The provider session (the id token's ``sid``) the app's session began in."""
    return app.session_interface.read(sid)["auth"]["claims"]["sid"]


def made(control, send: bool = False, **body: Any) -> dict[str, Any]:
    """A logout token the Auth0 stand-in made (and sent, with ``send``)."""
    return control("POST", "backchannel-logout", **{**AUTH0, "send": send, **body})


def post(app_url: str, token: str, provider: str = "auth0", **kwargs: Any) -> requests.Response:
    return requests.post(f"{app_url}/auth/{provider}/backchannel-logout",
                         data={"logout_token": token}, timeout=10, **kwargs)


def assert_refused(response: requests.Response, words: str) -> None:
    """Section 2.8: 400, an OAuth error object as JSON, not cached, no cookie."""
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "invalid_request"
    assert words in body["error_description"], body


def assert_accepted(response: requests.Response) -> None:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert response.content == b""


def alive(app_url: str, browser: Browser) -> bool:
    return browser.get(f"{app_url}/account").status_code == 200


# -- each rule of section 2.6, alone, refuses the token --------------------------------

NOW = int(time.time())

#: (what differs from a valid token, what the refusal says). Each is the only fault.
REFUSALS = {
    # The signature and its key: as an id token's (2.6 step 2-3).
    "bad_signature": ({"faults": ["bad_signature"]}, "signature"),
    "unknown_kid": ({"faults": ["unknown_kid"]}, "kid"),
    "alg_none": ({"faults": ["alg_none"]}, "alg"),
    "hs256_with_the_public_key": ({"faults": ["hs256_public_key"]}, "alg"),
    "key_offered_in_the_header": ({"header": {"signer": "stray", "embed": "jwk"}}, "kid"),
    # python-jose ignores crit; a critical extension this site does not implement.
    "crit": ({"header": {"set": {"crit": ["urn:example:ext"], "urn:example:ext": True}}},
             "crit"),
    # Another kind of token of the same issuer (RFC 8725 3.11).
    "typ_at_jwt": ({"header": {"set": {"typ": "at+jwt"}}}, "typ"),
    # iss, aud, iat, exp as in an id token (2.6 step 4).
    "wrong_iss": ({"claims": {"iss": "https://issuer.invalid/"}}, "iss"),
    "wrong_aud": ({"claims": {"aud": "another-client"}}, "aud"),
    "several_aud_no_azp": ({"claims": {"aud": ["fedlab-auth0-client", "another"]}}, "azp"),
    "missing_iat": ({"claims": {"iat": None}}, "iat"),
    "future_iat": ({"claims": {"iat": NOW + 3600, "exp": NOW + 3720}}, "future"),
    "too_old": ({"claims": {"iat": NOW - 3600, "exp": NOW + 3600}}, "old"),
    "missing_exp": ({"claims": {"exp": None}}, "exp"),
    "expired": ({"claims": {"iat": NOW - 400, "exp": NOW - 280}}, "expired"),
    # jti (2.4: required).
    "missing_jti": ({"claims": {"jti": None}}, "jti"),
    # events (2.6 step 6).
    "missing_events": ({"claims": {"events": None}}, "events"),
    "events_without_the_member": (
        {"claims": {"events": {"http://schemas.openid.net/event/other": {}}}}, EVENT),
    "member_not_an_object": ({"claims": {"events": {EVENT: "logout"}}}, "JSON object"),
    "events_a_list": ({"claims": {"events": [EVENT]}}, "events"),
    # sub or sid (2.6 step 5), each a string.
    "neither_sub_nor_sid": ({"claims": {"sub": None, "sid": None}}, "sub claim, a sid claim"),
    "sid_not_a_string": ({"claims": {"sid": 42}}, "sid"),
    # nonce (2.6 step 7): what an id token has and a logout token must not.
    "nonce": ({"claims": {"nonce": "n-0S6_WzA2Mj"}}, "nonce"),
}


@pytest.mark.parametrize("fault", REFUSALS)
def test_each_rule_alone_refuses_the_token_and_ends_nothing(fault, app, app_url, control):
    browser, sid = signed_in(app, app_url)
    change, words = REFUSALS[fault]
    token = made(control, user="alice", **change)["logout_token"]
    assert_refused(post(app_url, token), words)
    assert alive(app_url, browser)
    assert app.session_interface.read(sid) is not None


def test_the_same_token_without_its_fault_is_accepted(app, app_url, control):
    """The refusals above are each the rule's: an unchanged token ends the session."""
    browser, sid = signed_in(app, app_url)
    assert_accepted(post(app_url, made(control, user="alice")["logout_token"]))
    assert not alive(app_url, browser)
    assert app.session_interface.read(sid) is None


def test_a_jti_is_used_once(app, app_url, control):
    token = made(control, user="alice")["logout_token"]
    assert_accepted(post(app_url, token))
    assert_refused(post(app_url, token), "already used")


def test_an_id_token_is_not_a_logout_token(app, app_url, control):
    """Same issuer, keys and audience: it lacks the events claim (and has a nonce)."""
    _, sid = signed_in(app, app_url)
    id_token = app.session_interface.read(sid)["auth"]["tokens"]["id_token"]
    assert_refused(post(app_url, id_token), "events")
    assert app.session_interface.read(sid) is not None


def test_an_encrypted_token_is_refused(app_url):
    assert_refused(post(app_url, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), "encrypted")


# -- the request (2.5) --------------------------------------------------------------------

@pytest.mark.parametrize("request_kwargs, words", [
    ({"json": {"logout_token": "x.y.z"}}, "x-www-form-urlencoded"),
    ({"data": {"token": "x.y.z"}}, "exactly one logout_token"),
    ({"data": [("logout_token", "a.b.c"), ("logout_token", "a.b.c")]}, "exactly one"),
    ({"data": {"logout_token": "x" * 20000}}, "at most"),
])
def test_only_one_bounded_form_parameter_is_taken(request_kwargs, words, app_url):
    response = requests.post(f"{app_url}/auth/auth0/backchannel-logout", timeout=10,
                             **request_kwargs)
    assert_refused(response, words)


@pytest.mark.parametrize("name", ["google", "facebook", "no-such-provider"])
def test_providers_that_send_no_logout_tokens_have_no_endpoint(name, app_url):
    assert_refused(post(app_url, "a.b.c", provider=name), "no provider")


def test_the_endpoint_opens_no_session_even_with_a_cookie(app, app_url, control):
    """A cookie sent along (no provider sends one) is not read: the session it
    names ends through the index like any other, and no cookie is set or removed
    (an opened session, ended as this request's own, would be dropped with a
    Set-Cookie). No CSRF token is asked for."""
    browser, sid = signed_in(app, app_url, "alice")
    response = post(app_url, made(control, user="alice", sid=None)["logout_token"],
                    cookies={"fedlab": sid})
    assert_accepted(response)
    assert not alive(app_url, browser) and app.session_interface.read(sid) is None


# -- what a valid token ends (2.7) --------------------------------------------------------

def test_by_sub_every_session_of_that_person_and_no_one_elses(app, app_url, control):
    alice_one, _ = signed_in(app, app_url, "alice")
    alice_two, _ = signed_in(app, app_url, "alice")
    bob, _ = signed_in(app, app_url, "bob")
    assert_accepted(post(app_url, made(control, user="alice", sid=None)["logout_token"]))
    assert not alive(app_url, alice_one) and not alive(app_url, alice_two)
    assert alive(app_url, bob)


def test_by_sid_only_the_sessions_of_that_provider_session(app, app_url, control):
    alice_one, first = signed_in(app, app_url, "alice")
    alice_two, second = signed_in(app, app_url, "alice")  # another browser: another sid
    assert provider_sid(app, first) != provider_sid(app, second)
    token = made(control, sid=provider_sid(app, first))["logout_token"]
    assert "sub" not in made(control, sid="x")["claims"]
    assert_accepted(post(app_url, token))
    assert not alive(app_url, alice_one)
    assert alive(app_url, alice_two)


def test_by_sub_and_sid_only_that_person_in_that_provider_session(app, app_url, control):
    alice_one, first = signed_in(app, app_url, "alice")
    alice_two, _ = signed_in(app, app_url, "alice")
    bob, _ = signed_in(app, app_url, "bob")
    # Bob's subject with Alice's provider session names no one: nothing ends.
    assert_accepted(post(app_url, made(control, user="bob", sid=provider_sid(app, first))
                         ["logout_token"]))
    assert alive(app_url, alice_one) and alive(app_url, alice_two) and alive(app_url, bob)
    assert_accepted(post(app_url, made(control, user="alice", sid=provider_sid(app, first))
                         ["logout_token"]))
    assert not alive(app_url, alice_one)
    assert alive(app_url, alice_two) and alive(app_url, bob)


def test_the_event_is_logged_without_the_token(app, app_url, control, live_app):
    seen: list[tuple[str, dict]] = []

    def receive(sender, **details):
        seen.append(("accepted", details))

    def refused(sender, **details):
        seen.append(("refused", details))

    signed_in(app, app_url, "alice")
    token = made(control, user="alice", sid=None)["logout_token"]
    with signals.backchannel_logout.connected_to(receive, sender=live_app), \
            signals.backchannel_logout_refused.connected_to(refused, sender=live_app):
        post(app_url, token)
        post(app_url, token)
    assert seen[0][0] == "accepted" and seen[0][1]["provider"] == "auth0"
    assert seen[0][1]["names"] == "sub" and seen[0][1]["sessions_ended"] >= 1
    assert seen[1] == ("refused", {"provider": "auth0", "reason": "jti"})
    assert token not in repr(seen)


# -- the stand-ins: discovery, and logout tokens when the visitor signs out there --------

@pytest.mark.parametrize("tenant, supported", [("auth0", True), ("oidc", True),
                                               ("google", False), ("cognito", False)])
def test_the_stand_ins_discovery_says_who_sends_logout_tokens(tenant, supported, standins_url):
    paths = {"auth0": "/auth0", "oidc": "/oidc", "google": "/google",
             "cognito": "/cognito-idp/us-east-1_FedLab"}
    document = requests.get(f"{standins_url}{paths[tenant]}/.well-known/openid-configuration",
                            timeout=10).json()
    assert document.get("backchannel_logout_supported", False) is supported
    assert document.get("backchannel_logout_session_supported", False) is supported


def test_signing_out_at_auth0_ends_the_session_here(app, app_url, control, standins_url):
    """The visitor signs out at the provider, not here: its logout token ends the
    session, and the delivery is the stand-in's record."""
    browser, sid = signed_in(app, app_url, "alice")
    other, _ = signed_in(app, app_url, "bob")
    page = browser.get(f"{standins_url}/auth0/v2/logout",
                       params={"client_id": AUTH0["client_id"]})
    assert page.status_code == 200
    deliveries = [e for e in control("GET", "events") if e["event"] == "backchannel_logout"]
    assert [(e["client_id"], e["status"]) for e in deliveries] == [(AUTH0["client_id"], 200)]
    assert not alive(app_url, browser) and app.session_interface.read(sid) is None
    assert alive(app_url, other)


def test_signing_out_at_the_oidc_provider_ends_the_session_here(swap_app, app_url, control,
                                                                 standins_url):
    app = swap_app(config_file="oidc.toml")
    browser, sid = signed_in(app, app_url, "alice", provider="corp")
    page = browser.get(f"{standins_url}/oidc/end_session",
                       params={"client_id": "fedlab-oidc-client"})
    page = browser.click(page, "Yes, sign me out")
    assert page.status_code == 200
    deliveries = [e for e in control("GET", "events") if e["event"] == "backchannel_logout"]
    assert [(e["client_id"], e["status"]) for e in deliveries] == [("fedlab-oidc-client", 200)]
    assert not alive(app_url, browser) and app.session_interface.read(sid) is None


def test_on_demand_delivery_reports_the_sites_answer(app, app_url, control):
    browser, _ = signed_in(app, app_url, "alice")
    delivery = made(control, send=True, user="alice")["delivery"]
    assert delivery["uri"] == f"{app_url}/auth/auth0/backchannel-logout"
    assert delivery["status"] == 200 and delivery["cache_control"] == "no-store"
    assert not alive(app_url, browser)
    refused = made(control, send=True, user="alice", claims={"nonce": "x"})["delivery"]
    assert refused["status"] == 400 and refused["body"]["error"] == "invalid_request"


# -- the diagnostics: the URL to register, and a probe of it -------------------------------

def matrix_rows(app, app_url: str):
    from webapp import matrix
    from webapp.providers import registry

    with app.test_request_context("/", base_url=app_url):
        return {row.name: row for row in matrix.rows(registry.providers(app))}


def probe(app, app_url: str, backchannel_urls: dict[str, str] | None = None):
    from webapp import probes
    from webapp.config import settings
    from webapp.providers import registry

    rows = matrix_rows(app, app_url)
    urls = backchannel_urls or {name: row.backchannel_logout_url for name, row in rows.items()}
    with app.test_request_context("/", base_url=app_url):
        verdicts = probes.run_probes(settings(app), registry.providers(app),
                                     {n: r.callback_url for n, r in rows.items()},
                                     app_url + "/", timeout=3.0, backchannel_urls=urls)
    return {(v.provider, v.probe): v for v in verdicts}


def test_the_matrix_shows_the_url_to_register_where_the_provider_sends_tokens(app, app_url):
    rows = matrix_rows(app, app_url)
    assert rows["auth0"].backchannel_logout_url == f"{app_url}/auth/auth0/backchannel-logout"
    assert "Back-Channel Logout URI" in rows["auth0"].console["backchannel_logout"]
    for name in ("cognito", "cognito-google", "google", "facebook"):
        assert rows[name].backchannel_logout_url is None
    page = requests.get(f"{app_url}/diagnostics", timeout=10).text
    section = page.split('id="provider-auth0"')[1].split("</section>")[0]
    assert 'data-register="backchannel_logout"' in section
    assert f"{app_url}/auth/auth0/backchannel-logout" in section
    google = page.split('id="provider-google"')[1].split("</section>")[0]
    assert 'data-register="backchannel_logout"' not in google


def test_the_demo_registers_that_url_at_the_stand_ins(app, app_url, control):
    """What the matrix says is what the stand-in client holds: a logout token sent
    on demand reaches this site."""
    delivery = made(control, send=True, user="alice", sid=None)["delivery"]
    assert delivery["uri"] == matrix_rows(app, app_url)["auth0"].backchannel_logout_url


def test_the_probe_passes_when_the_url_answers_and_discovery_says_so(app, app_url, control):
    verdicts = probe(app, app_url)
    verdict = verdicts[("auth0", "backchannel_logout")]
    assert verdict.status == "pass", verdict
    assert verdict.evidence["status"] == 400 and verdict.evidence["backchannel_logout_supported"]
    assert not [key for key in verdicts if key[1] == "backchannel_logout" and key[0] != "auth0"]


def test_the_probe_warns_when_discovery_does_not_say_so(app, app_url, control):
    control("POST", "faults", tenant="auth0", fault="backchannel_unsupported")
    verdict = probe(app, app_url)[("auth0", "backchannel_logout")]
    assert verdict.status == "warn" and "backchannel_logout_supported" in verdict.summary


@pytest.mark.parametrize("where", ["nothing_listens", "not_the_endpoint"])
def test_the_probe_fails_when_the_url_does_not_answer_as_the_specification_says(
        where, app, app_url, control):
    from .conftest import free_port

    url = {"nothing_listens": f"http://127.0.0.1:{free_port()}/auth/auth0/backchannel-logout",
           "not_the_endpoint": f"{app_url}/auth/auth0/callback"}[where]
    verdict = probe(app, app_url, {"auth0": url})[("auth0", "backchannel_logout")]
    assert verdict.status == "fail" and verdict.error == "backchannel_logout_unreachable"
    assert verdict.evidence["url"] == url


def test_an_algorithm_that_is_not_a_name_is_refused_not_a_server_error(app, app_url):
    """A header's ``alg`` as a list or an object (unhashable): 400 as for any bad
    token, never a 500. The token needs no signature to be refused."""
    import base64
    import json

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    for alg in (["RS256"], {"a": 1}, None, 5):
        token = f"{part({'alg': alg})}.{part({'iss': 'x'})}.c2ln"
        assert_refused(post(app_url, token), "alg")


def test_a_store_failure_while_ending_leaves_the_token_usable_again(app, app_url, control,
                                                                    monkeypatch):
    """The answer to a store failure asks the provider to send the token again: that
    retry is not refused as a replay, and it ends the session. (The store fails only
    where the sessions are deleted: after the jti was taken.)"""
    browser, sid = signed_in(app, app_url)
    heal = fail_deleting(monkeypatch, app, app.session_interface.store_id(sid))
    token = made(control, user="alice")["logout_token"]
    first = post(app_url, token)
    assert first.status_code == 400 and first.json()["error"] == "temporarily_unavailable"
    heal()
    assert alive(app_url, browser)
    assert_accepted(post(app_url, token))
    assert not alive(app_url, browser)
    # And now it is used.
    assert_refused(post(app_url, token), "already used")


def test_keys_that_cannot_be_read_ask_for_the_token_again(swap_app, app_url, control):
    """The provider's keys do not answer: the token cannot be checked, so the answer
    asks for it again (400 temporarily_unavailable, section 2.8), and the same token,
    sent again once they answer, is taken: it was not used up by the failed try."""
    token = made(control, user="alice")["logout_token"]
    control("POST", "faults", tenant="auth0", fault="down", endpoint="jwks")
    swap_app()  # a process that has not read the keys yet
    first = post(app_url, token)
    assert first.status_code == 400 and first.json()["error"] == "temporarily_unavailable"
    assert first.headers["Cache-Control"] == "no-store"
    control("DELETE", "faults")
    assert_accepted(post(app_url, token))


def test_a_body_the_whole_site_refuses_is_answered_before_the_endpoint_reads_it(app, app_url):
    """Over the site's 32 KiB, or sent in chunks: refused by the request guards (413,
    411) as on every route, before the endpoint reads a byte; over its own 16 KiB but
    within the site's: its 400 as JSON."""
    big = post(app_url, "x" * 40_000)
    assert big.status_code == 413 and big.headers["Cache-Control"] == "no-store"
    chunked = requests.post(f"{app_url}/auth/auth0/backchannel-logout", timeout=10,
                            data=iter([b"logout_token=", b"x"]),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 411 and chunked.headers["Cache-Control"] == "no-store"
    for answer in (big, chunked):
        assert "Set-Cookie" not in answer.headers
    assert_refused(post(app_url, "x" * 20_000), "16")
