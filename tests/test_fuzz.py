"""Arbitrary input on every way in: the callback query, every form, every path parameter.

Whatever arrives, the app must answer with a page of its own (never a 500) and
never echo the input unescaped: each generated value may carry a markup marker
(``<script>``, ``"><img``, ...) that must not appear raw in any response body.
Most cases use Flask's test client on the suite's app (fast); a few go over real
HTTP. The runs are derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.guards import MAX_REQUEST_BYTES

from .conftest import PROVIDERS
from .flows import sign_in

MARKERS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><b>fuzz</b>",
)
FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=15)

#: Text of every kind: unicode, control characters, surrogates excluded (not encodable).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
marked = st.builds(lambda a, m, b: a + m + b, any_text, st.sampled_from(MARKERS), any_text)
huge = st.builds(lambda c, n: c * n, st.sampled_from(["A", "é", "%", "<", "\x00"]),
                 st.integers(10_000, 100_000))
value = st.one_of(any_text, marked, huge, st.sampled_from(["", " ", "\r\n", "..", "/", "%00"]))


def check(response: Any, *values: Any) -> None:
    """No 500, and no marker from the input back in the body as it was sent."""
    body = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    status = response.status_code
    assert status < 500 or status in (502, 503, 504), (status, body[:600])
    assert "Traceback" not in body
    sent = " ".join(str(v) for v in values)
    for marker in MARKERS:
        if marker in sent:
            assert marker not in body, marker


def too_large(response: Any) -> bool:
    """A body over the app's limit gets the 413 page whatever it holds (test_guards)."""
    if (response.request.content_length or 0) <= MAX_REQUEST_BYTES:
        return False
    assert response.status_code == 413
    return True


def cookies_from(browser, client, app_url: str) -> None:
    """Give the test client the live browser's cookies for the app: its session."""
    host = urlsplit(app_url).hostname
    for cookie in browser.http.cookies:
        if cookie.domain.lstrip(".") in (host, f"{host}.local") or not cookie.domain:
            client.set_cookie(cookie.name, cookie.value)


def csrf_of(client, path: str | None = None) -> str:
    """A valid CSRF token from one of the app's pages (a form's, or the upload script's):
    ``path``'s, else the first of the account page (signed in: its sign-out form) and the
    credentials page (signed out: "Continue as guest") that has one."""
    if getattr(client, "fuzz_csrf", None):  # one per session: fetch it once
        return client.fuzz_csrf
    found = None
    for where in [path] if path else ["/account", "/credentials"]:
        page = client.get(where).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
            r'data-csrf="([^"]+)"', page)
        if found:
            break
    assert found, f"no CSRF token on {path or 'the account or credentials page'}"
    client.fuzz_csrf = found.group(1)
    return client.fuzz_csrf


@pytest.fixture
def signed_in_client(app, browser, app_url, control, aws_control):
    """A test client holding a signed-in session (made over real HTTP) with AWS credentials."""
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    assert browser.get(f"{app_url}/credentials").status_code == 200
    client = app.test_client()
    cookies_from(browser, client, app_url)
    assert client.get("/account").status_code == 200
    return client


# -- the callback --------------------------------------------------------------


@FUZZ
@given(provider=st.sampled_from(PROVIDERS), code=st.none() | value, state=st.none() | value,
       error=st.none() | value, description=st.none() | value, iss=st.none() | value,
       real_state=st.booleans())
def test_the_callback_takes_any_query(app, control, provider, code, state, error, description,
                                      iss, real_state):
    client = app.test_client()
    if real_state:  # a sign-in really pending, so the checks past the state run too
        started = client.get(f"/auth/{provider}/login")
        assert started.status_code == 302, started.get_data(as_text=True)[:400]
        state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    query = {k: v for k, v in {"code": code, "state": state, "error": error,
                               "error_description": description, "iss": iss}.items()
             if v is not None}
    response = client.get(f"/auth/{provider}/callback", query_string=query)
    check(response, *query.values())
    assert client.get("/account").status_code == 401  # nobody got signed in


@FEW
@given(code=value, state=value, error=st.none() | value, description=value)
def test_the_callback_over_real_http(app_url, control, code, state, error, description):
    params = {"code": code, "state": state, "error_description": description}
    if error is not None:
        params["error"] = error
    response = requests.get(f"{app_url}/auth/google/callback", params=params, timeout=15)
    check(response, *params.values())


# -- where a sign-in returns to ---------------------------------------------------

#: ``next`` values that try to leave the site, or to land somewhere odd.
OFF_SITE = ("https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil",
            "/%2F%2Fevil.example", "http:/evil.example", "javascript:alert(1)",
            " //evil.example", "/\t/evil.example", "///evil.example", "https:evil.example",
            "/auth/google/login?next=//evil.example", "/static/../../etc/passwd")
next_value = st.one_of(value, st.sampled_from(OFF_SITE),
                       st.builds(lambda a, b: a + b, st.sampled_from(OFF_SITE), any_text))


def assert_local(target: str) -> None:
    """A path of this site: no scheme or host, not scheme-relative, no backslash."""
    parts = urlsplit(target)
    assert target.startswith("/") and not target.startswith("//"), target
    assert not parts.scheme and not parts.netloc and "\\" not in target, target
    assert not any(ord(c) < 0x20 for c in target), target


@FUZZ
@given(provider=st.sampled_from(PROVIDERS), target=next_value)
def test_login_takes_any_next_and_keeps_only_a_local_path(app, control, provider, target):
    client = app.test_client()
    response = client.get(f"/auth/{provider}/login", query_string={"next": target})
    check(response, target)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    with client.session_transaction() as session:
        [pending] = session["pending"].values()
    assert_local(pending["next"])


@FEW
@given(target=st.one_of(st.sampled_from(OFF_SITE), next_value))
def test_a_sign_in_with_any_next_lands_on_the_site(app_url, control, target):
    from .browser import Browser

    visitor = Browser()
    page = visitor.get(f"{app_url}/auth/auth0/login", params={"next": target},
                       allow_redirects=False)
    check(page, target)
    landed = sign_in(visitor, app_url, "auth0", next_path=target)
    check(landed, target)
    assert landed.url.startswith(app_url + "/"), landed.url
    assert_local(landed.url[len(app_url):])


# -- forms ---------------------------------------------------------------------


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["next", "csrf", "provider", "x", "key"]), value,
                              max_size=3))
def test_sign_out_takes_any_body(app, control, fields):
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/auth/signout", data={**fields, "csrf_token": token})
    check(response, *fields.values())
    assert too_large(response) or response.status_code in (302, 303)


@pytest.mark.parametrize("path", ["/auth/refresh", "/account/userinfo"])
@FEW
@given(fields=st.dictionaries(st.sampled_from(["next", "provider", "sub", "x"]), value,
                              max_size=3))
def test_signed_in_forms_take_any_body(signed_in_client, path, fields):
    token = csrf_of(signed_in_client)
    response = signed_in_client.post(path, data={**fields, "csrf_token": token})
    check(response, *fields.values())
    assert too_large(response) or response.status_code == 302
    assert signed_in_client.get("/account").status_code == 200


@FEW
@given(choice=st.sampled_from(["keep", "drop"]) | value)
def test_guest_move_takes_any_choice(signed_in_client, choice):
    token = csrf_of(signed_in_client)
    response = signed_in_client.post("/credentials/guest-move",
                                     data={"choice": choice, "csrf_token": token})
    check(response, choice)
    assert too_large(response) or response.status_code == (
        302 if choice in ("keep", "drop") else 400)
    assert signed_in_client.get("/credentials").status_code == 200


@FEW
@given(role_arn=value | st.sampled_from([
    "arn:aws:iam::123456789012:role/fedlab-readers",
    "arn:aws:iam::123456789012:role/<script>alert(1)</script>"]))
def test_role_choice_takes_any_value(signed_in_client, role_arn):
    """Only an IAM role's shape reaches the pool (Google's Rules mapping refuses any
    CustomRoleArn), and an empty choice gives the mapping's own role back."""
    token = csrf_of(signed_in_client)
    response = signed_in_client.post("/credentials/role",
                                     data={"role_arn": role_arn, "csrf_token": token})
    check(response, role_arn)
    shaped = re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", role_arn.strip())
    assert too_large(response) or response.status_code == (
        302 if not role_arn.strip() else 403 if shaped else 400)
    assert signed_in_client.get("/credentials").status_code == 200


@FEW
@given(fields=st.dictionaries(st.sampled_from(["identity_id", "next", "x"]), value,
                              max_size=3))
def test_guest_takes_any_body(app, control, aws_control, fields):
    client = app.test_client()
    token = csrf_of(client, "/credentials")
    response = client.post("/credentials/guest", data={**fields, "csrf_token": token})
    check(response, *fields.values())


@FUZZ
@given(level=st.sampled_from(["public", "protected", "private"]) | value,
       key=value | st.sampled_from(["{prefix}notes.txt", "{prefix}", "{prefix}../x"]),
       owner=st.none() | value | st.just("{identity}") | st.just("{identity}\n"))
def test_delete_takes_any_key_and_owner(signed_in_client, level, key, owner):
    identity = identity_of(signed_in_client)
    prefix = f"{level}/{identity}/" if level != "public" else "public/"
    key = key.replace("{prefix}", prefix)
    data = {"key": key, "csrf_token": csrf_of(signed_in_client)}
    if owner is not None:
        data["owner"] = owner.replace("{identity}", identity)
    response = signed_in_client.post(f"/storage/{quote(level, safe='')}/delete", data=data)
    check(response, *data.values())
    if response.status_code in (301, 302, 303):
        assert "\n" not in response.headers["Location"]


@FUZZ
@given(level=st.sampled_from(["protected", "private"]), name=value,
       owner=value | st.sampled_from(["{identity}", "{identity}\n", "x\r\nSet-Cookie: a=b",
                                      "x&level=public#frag"]))
def test_delete_of_a_valid_key_takes_any_owner(signed_in_client, level, name, owner):
    identity = identity_of(signed_in_client)
    owner = owner.replace("{identity}", identity)
    data = {"key": f"{level}/{identity}/notes.txt", "owner": owner,
            "csrf_token": csrf_of(signed_in_client)}
    response = signed_in_client.post(f"/storage/{level}/delete", data=data)
    check(response, owner)
    if response.status_code in (301, 302, 303):
        location = response.headers["Location"]
        assert "\n" not in location and "\r" not in location
        assert urlsplit(location).path == f"/storage/{level}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | value,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8)


@FUZZ
@given(body=st.one_of(
    st.fixed_dictionaries({"name": json_values, "type": json_values}),
    st.fixed_dictionaries({"name": value, "type": st.sampled_from(["text/plain", "image/png"])}),
    json_values), level=st.sampled_from(["public", "protected", "private"]))
def test_upload_takes_any_json(signed_in_client, body, level):
    token = csrf_of(signed_in_client, f"/storage/{level}")
    response = signed_in_client.post(f"/storage/{level}/upload", json=body,
                                     headers={"X-CSRFToken": token})
    check(response, body)
    assert too_large(response) or response.status_code in (200, 400, 403)


@FEW
@given(raw=st.binary(max_size=2000) | value.map(lambda s: s.encode("utf-8", "replace")))
def test_upload_takes_any_bytes(signed_in_client, raw):
    token = csrf_of(signed_in_client, "/storage/private")
    response = signed_in_client.post("/storage/private/upload", data=raw,
                                     headers={"X-CSRFToken": token,
                                              "Content-Type": "application/json"})
    check(response, raw.decode("utf-8", "replace"))
    assert response.status_code == 400


@settings(FUZZ, max_examples=5)
@given(fields=st.dictionaries(st.sampled_from(["provider", "probe", "url", "x"]), value,
                              max_size=3))
def test_diagnostics_probes_take_any_body(app, browser, app_url, control, aws_control, fields):
    # An operator (the demo's: alice at the Cognito stand-in): nobody else may run them.
    assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
    client = app.test_client()
    cookies_from(browser, client, app_url)
    token = csrf_of(client, "/diagnostics")
    response = client.post("/diagnostics/probes", data={**fields, "csrf_token": token})
    if too_large(response):
        return
    check(response, *fields.values())
    assert response.status_code == 200


# -- path parameters -------------------------------------------------------------


@FUZZ
@given(name=value)
def test_any_provider_name(app, control, name):
    client = app.test_client()
    for path in (f"/auth/{quote(name, safe='')}/login", f"/auth/{quote(name, safe='')}/callback"):
        check(client.get(path), name)


def identity_of(client) -> str:
    page = client.get("/credentials").get_data(as_text=True)
    return re.search(r'class="identity-id">([^<]*)<', page).group(1)


@FUZZ
@given(level=value | st.sampled_from(["public", "protected", "private"]),
       owner=st.none() | value, after=st.none() | value,
       page=st.sampled_from(["", "/download"]), key=st.none() | value)
def test_any_storage_level_owner_key_and_after(signed_in_client, level, owner, after, page,
                                               key):
    query = {k: v for k, v in {"owner": owner, "after": after, "key": key}.items()
             if v is not None}
    response = signed_in_client.get(f"/storage/{quote(level, safe='')}{page}",
                                    query_string=query)
    check(response, level, *query.values())


@FEW
@given(level=value, owner=value, after=value)
def test_storage_parameters_over_real_http(browser, app_url, control, aws_control, level,
                                           owner, after):
    if not getattr(browser, "_fuzz_signed_in", False):
        sign_in(browser, app_url, "auth0")
        browser._fuzz_signed_in = True
    response = browser.get(f"{app_url}/storage/{quote(level, safe='')}",
                           params={"owner": owner, "after": after})
    check(response, level, owner, after)
