"""Sign in with Apple (kind ``apple``) and Apple through the Cognito Hosted UI
(``cognito-apple``), against the Apple stand-in, seen from outside: the pages, the
303 of the form_post bounce, the session store on disk, the calls and events the
stand-ins recorded, and (at the end) Chromium against ``fedlab demo``."""

from __future__ import annotations

import json
import pathlib
import re
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import webapp.providers.apple_client_secret as client_secret_module
from webapp.config import ConfigError
from webapp.providers import build

from .browser import Browser, forms
from .flows import sign_in
from .test_demo import demo  # noqa: F401 - the fixture that runs `fedlab demo`

KEY = ec.generate_private_key(ec.SECP256R1())


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def store_files(tmp_path: pathlib.Path) -> dict[str, bytes]:
    """The session store on disk (swap_app's app keeps it under tmp_path)."""
    return {str(p): p.read_bytes() for p in (tmp_path / "sessions").rglob("*") if p.is_file()}


def secrets_seen(control) -> list[dict]:
    """The client secrets the Apple stand-in checked, in order."""
    return [e for e in control("GET", "events") if e.get("event") == "client_secret"]


@pytest.fixture
def apple(swap_app, control):
    """The demo's app on a session store of this test's own; the stand-ins reset, so
    each person's first authorization is again a first."""
    return swap_app()


def test_the_first_sign_in_keeps_the_name_server_side_and_shows_it(apple, browser, app_url,
                                                                    tmp_path):
    page = sign_in(browser, app_url, "apple", user="bob", post_form=False)
    [form] = forms(page.text)
    assert form.action == f"{app_url}/auth/apple/callback"
    assert set(form.fields) == {"code", "state", "user"}
    assert json.loads(form.fields["user"])["name"] == {"firstName": "Bob",
                                                       "lastName": "Example"}
    before = store_files(tmp_path)
    bounce = browser.click(page, "Continue", follow=False)
    assert bounce.status_code == 303 and "Set-Cookie" not in bounce.headers
    location = bounce.headers["Location"]
    assert [k for k, _ in parse_qsl(urlsplit(location).query)] == ["code", "state"]
    for leaked in ("user", "Bob", "firstName"):
        assert leaked not in location
    # The POST kept the field, sealed, as one new record of the store.
    kept = {p: v for p, v in store_files(tmp_path).items() if p not in before}
    assert len(kept) == 1 and b"Bob" not in next(iter(kept.values()))
    account = browser.get(urljoin(bounce.url, location))
    assert account.url == f"{app_url}/account"
    assert "<th>Name</th><td>Bob Example</td>" in account.text
    assert "bob@example.com" in account.text
    # The GET took the record: read once.
    assert not set(kept) & set(store_files(tmp_path))


def test_only_the_browser_whose_state_it_is_takes_the_name(apple, browser, app_url):
    """Another browser sent to the same callback URL is refused (state_mismatch) and
    takes nothing: the name is still there for the sign-in it belongs to."""
    page = sign_in(browser, app_url, "apple", user="bob", post_form=False)
    bounce = browser.click(page, "Continue", follow=False)
    callback = urljoin(bounce.url, bounce.headers["Location"])
    stranger = Browser().get(callback)
    assert stranger.status_code == 400 and 'data-error="state_mismatch"' in stranger.text
    account = browser.get(callback)
    assert "<th>Name</th><td>Bob Example</td>" in account.text


def test_a_returning_person_gets_no_name_and_the_email_is_always_the_id_tokens(
        apple, browser, app_url):
    forged = json.dumps({"name": {"firstName": "Alice", "lastName": "Example"},
                         "email": "mallory@evil.example"})
    page = sign_in(browser, app_url, "apple", post_form=False)
    account = browser.click(page, "Continue", user=forged)
    assert "<th>Name</th><td>Alice Example</td>" in account.text
    assert "alice@example.com" in account.text and "mallory" not in account.text
    browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(account)})
    # Apple posts the name only when the person first authorizes the app.
    page = sign_in(browser, app_url, "apple", post_form=False)
    assert set(forms(page.text)[0].fields) == {"code", "state"}
    account = browser.click(page, "Continue")
    assert account.url == f"{app_url}/account"
    assert "<th>Name</th><td>—</td>" in account.text


def test_a_user_field_over_its_length_is_refused(apple, browser, app_url):
    page = sign_in(browser, app_url, "apple", post_form=False)
    answer = browser.click(page, "Continue", follow=False, user="x" * 1025)
    assert answer.status_code == 400 and 'data-error="bad_request"' in answer.text
    assert "Location" not in answer.headers


def test_a_private_relay_address_is_shown_and_false_stays_false(apple, browser, app_url):
    """carol chose Hide My Email; alice did not, and her ``is_private_email`` is the
    string "false", which must not read as true."""
    carol = sign_in(browser, app_url, "apple", user="carol")
    assert re.search(r"[0-9]+@privaterelay\.appleid\.com", carol.text)
    assert "<th>Private relay</th>" in carol.text
    assert "(verified)" in carol.text  # email_verified is the string "true"
    browser.http.cookies.clear()  # another visitor (the stand-in remembers carol)
    alice = sign_in(browser, app_url, "apple")
    assert "alice@example.com" in alice.text and "<th>Private relay</th>" not in alice.text
    assert "<th>Real user status</th><td>likely a real person</td>" in alice.text


def test_cancelling_at_apple_is_access_denied(apple, browser, app_url):
    page = sign_in(browser, app_url, "apple", consent="Deny", post_form=False)
    assert forms(page.text)[0].fields["error"] == "user_cancelled_authorize"
    answer = browser.click(page, "Continue")
    assert answer.status_code == 400 and 'data-error="access_denied"' in answer.text


def test_a_nonce_goes_with_every_request_without_the_openid_scope(apple, browser, app_url):
    first = browser.get(f"{app_url}/auth/apple/login", allow_redirects=False)
    query = dict(parse_qsl(urlsplit(first.headers["Location"]).query))
    assert query["scope"] == "name email" and query["response_mode"] == "form_post"
    assert len(query["nonce"]) >= 20 and query["code_challenge_method"] == "S256"


def test_the_client_secret_is_kept_and_renewed_when_its_lifetime_runs_low(
        swap_app, control, browser, app_url, monkeypatch):
    swap_app(providers={"apple": {"secret_lifetime": 60}})
    for _ in range(2):
        assert sign_in(browser, app_url, "apple").url == f"{app_url}/account"
        browser.http.cookies.clear()
    first, again = secrets_seen(control)
    assert first["accepted"] and again["accepted"]
    assert again["iat"] == first["iat"]  # the same secret, kept
    # 50 of its 60 seconds gone: less than a quarter left, so a new one is minted.
    later = time.time() + 50
    monkeypatch.setattr(client_secret_module, "time", SimpleNamespace(time=lambda: later))
    assert sign_in(browser, app_url, "apple").url == f"{app_url}/account"
    renewed = secrets_seen(control)[-1]
    assert renewed["accepted"] and renewed["iat"] >= first["iat"] + 49


def test_the_secrets_lifetime_may_come_from_the_environment(swap_app, control, browser,
                                                            app_url, monkeypatch):
    """Environment values are text: "60" is sixty seconds, as in the file, so the
    secret is renewed 50 s on (the default lifetime would keep it for days)."""
    monkeypatch.setenv("FEDLAB_PROVIDERS__APPLE__SECRET_LIFETIME", "60")
    swap_app()
    assert sign_in(browser, app_url, "apple").url == f"{app_url}/account"
    browser.http.cookies.clear()
    later = time.time() + 50
    monkeypatch.setattr(client_secret_module, "time", SimpleNamespace(time=lambda: later))
    assert sign_in(browser, app_url, "apple").url == f"{app_url}/account"
    first, renewed = secrets_seen(control)
    assert renewed["accepted"] and renewed["iat"] >= first["iat"] + 49


def test_a_key_apple_does_not_know_is_invalid_client(swap_app, control, browser, app_url):
    swap_app(providers={"apple": {"private_key": pem(KEY)}})
    answer = sign_in(browser, app_url, "apple")
    assert answer.status_code == 502 or 'data-error="token_request_failed"' in answer.text
    assert "invalid_client" in answer.text
    [seen] = secrets_seen(control)
    assert seen["accepted"] is False and "signature" in seen["problem"]


def test_signing_out_revokes_the_refresh_token_and_names_apples_session(apple, browser,
                                                                         app_url, control):
    account = sign_in(browser, app_url, "apple")
    home = browser.post(f"{app_url}/auth/signout", data={"csrf_token": browser.csrf(account)})
    assert 'data-state="signed_out"' in home.text
    assert "Apple ID stays signed in" in home.text
    revoked = [e for e in control("GET", "events") if e.get("event") == "revoke"]
    assert revoked == [{**revoked[0], "tenant": "apple", "token_type": "refresh_token"}]


def test_through_cognito_the_hosted_ui_federates_to_apple(apple, browser, app_url, control):
    control("DELETE", "calls")
    account = sign_in(browser, app_url, "cognito-apple")
    assert account.url == f"{app_url}/account", account.text[:500]
    calls = control("GET", "calls")
    assert calls["apple"]["authorize"] >= 1 and calls["apple"]["token"] == 1
    assert calls["cognito"]["idpresponse"] == 1
    # Cognito's user, made from Apple's id token and the name Apple posted.
    assert "<th>Name</th><td>Alice Example</td>" in account.text
    assert "SignInWithApple" in account.text
    # Cognito authenticated its own client with a JWT signed by its user pool's key.
    [seen] = secrets_seen(control)
    assert seen["accepted"] and seen["client_id"].startswith("cognito-")


# -- configuration -------------------------------------------------------------------------

TABLE = {"kind": "apple", "client_id": "com.example.web", "team_id": "TEAMID1234",
         "key_id": "KEYID12345", "private_key": pem(KEY)}


@pytest.mark.parametrize(("change", "message"), [
    ({"private_key": pem(rsa.generate_private_key(65537, 2048))},
     r"\.private_key: must be a P-256 \(prime256v1\) key for ES256, not RSAPrivateKey"),
    ({"private_key": pem(ec.generate_private_key(ec.SECP384R1()))},
     r"\.private_key: must be a P-256 .* not secp384r1"),
    ({"private_key": "not a key"}, r"\.private_key: not a PEM private key"),
    ({"private_key": None}, r"\.private_key: missing"),
    ({"secret_lifetime": 15777001}, r"\.secret_lifetime: seconds from 60 to 15777000"),
    ({"team_id": "short"}, r"\.team_id: missing or not ten letters and digits"),
    ({"key_id": None}, r"\.key_id: missing"),
])
def test_the_configuration_names_the_key_it_refuses(change, message):
    table = {k: v for k, v in {**TABLE, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=r"^providers\.apple" + message):
        build("apple", table)


def test_the_key_may_be_a_file_and_no_client_secret_is_asked(tmp_path):
    path = tmp_path / "AuthKey_KEYID12345.p8"
    path.write_text(pem(KEY))
    table = {k: v for k, v in TABLE.items() if k != "private_key"}
    provider = build("apple", {**table, "private_key_file": str(path)})
    assert provider.settings["key_id"] == "KEYID12345"
    assert "PRIVATE" not in repr(provider) and "PRIVATE" not in json.dumps(provider.settings)


# -- in Chromium, against `fedlab demo` ------------------------------------------------------


@pytest.mark.slow
def test_in_chromium_apple_signs_in_to_the_demo_federates_and_uses_s3(demo, tmp_path):  # noqa: F811
    """carol signs in with Apple by clicking: Apple's page posts its answer from its own
    site, so Chromium sends the SameSite=Lax cookie with the GET it is bounced to and
    not with the POST; her name (posted once) and relay address show; the identity
    pool takes Apple's id token under appleid.apple.com; S3 works with its credentials."""
    from .test_browser import (
        ARTIFACTS,
        chromium_browser,
        click_through_provider,
        csp_violations,
        delete_by_clicking,
        upload_by_clicking,
    )

    app_url, _ = demo
    callback = f"{app_url}/auth/apple/callback"
    with chromium_browser() as chromium:
        context = chromium.new_context()
        page = context.new_page()
        page.set_default_timeout(15000)
        violations = csp_violations(page)
        seen: list[tuple[str, dict[str, str]]] = []
        page.on("request", lambda r: seen.append((r.method, r.all_headers()))
                if r.url.startswith(callback) else None)
        try:
            page.goto(f"{app_url}/")
            click_through_provider(
                page, page.get_by_role("link", name="Sign in with Apple", exact=True),
                f"{app_url}/account", "carol")
            text = page.content()
            assert "<th>Name</th><td>Carol Example</td>" in text
            assert "@privaterelay.appleid.com" in text and "Private relay" in text
            [cookie] = [c for c in context.cookies(app_url)
                        if c["name"] in ("fedlab", "__Host-fedlab")]
            assert cookie["sameSite"] == "Lax" and cookie["httpOnly"] is True
            [(post, post_headers), (get, get_headers)] = seen
            assert post == "POST" and f"{cookie['name']}=" not in post_headers.get("cookie", "")
            assert get == "GET" and f"{cookie['name']}=" in get_headers.get("cookie", "")

            page.goto(f"{app_url}/credentials")
            assert page.locator(".logins-key").inner_text() == "appleid.apple.com"
            assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}",
                                page.locator(".identity-id").inner_text())

            sample = tmp_path / "apple-notes.txt"
            sample.write_bytes(b"signed in with Apple\n")
            upload_by_clicking(page, app_url, "private", sample)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "storage-apple.png"), full_page=True)
            delete_by_clicking(page, "apple-notes.txt")
            assert page.locator("a:has-text('apple-notes.txt')").count() == 0
        finally:
            context.close()
    assert violations == []
