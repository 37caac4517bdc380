"""Before any view: a body over the limit gets 413, a Host the site does not know gets 400.

Raw HTTP on a socket, so the test sends exactly the Host header and body it
means (a client library would fix them up). ``test_serve.py`` does the same
against gunicorn.
"""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import urlsplit

import pytest
import requests

from webapp.guards import MAX_REQUEST_BYTES, guard_request

from .conftest import make_app
from .flows import sign_in, through_provider
from .test_sessions import session_cookie

#: More than the app's limit (32 KiB), far less than what the attacks sent.
LARGE = 200 * 1024


def raw_request(url: str, head: str, body: bytes = b"", timeout: float = 15) -> tuple[int, str]:
    """Send ``head`` (request line and headers, without the blank line) and
    ``body``; return the status and the whole answer as text."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
        answer = read_answer(sock)
    return int(answer.split(" ", 2)[1]), answer


def read_answer(sock: socket.socket) -> str:
    """Read one response: its headers, then Content-Length bytes of body (or to the end)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while length is None or len(body) < length:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_an_unknown_host_gets_a_clear_400(app_url, live_app):
    status, answer = raw_request(app_url, "GET /account HTTP/1.1\r\nHost: attacker.example")
    assert status == 400, answer[:300]
    assert "This site does not answer to that address" in answer
    assert "trusted_hosts" in answer and "Traceback" not in answer
    # The page is the catalogue's, with the site's own (relative) links.
    assert 'href="/static/style.css"' in answer and "attacker.example" not in answer


def test_a_forwarded_host_is_checked_too(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, trusted_proxies=1,
                   external_url="https://fedlab.example.com")
    client = app.test_client()
    ok = client.get("/", base_url="http://10.0.0.7:8000",
                    headers={"X-Forwarded-Host": "fedlab.example.com",
                             "X-Forwarded-Proto": "https"})
    assert ok.status_code == 200
    refused = client.get("/", base_url="http://10.0.0.7:8000",
                         headers={"X-Forwarded-Host": "attacker.example",
                                  "X-Forwarded-Proto": "https"})
    assert refused.status_code == 400
    assert b"This site does not answer to that address" in refused.data


def test_the_host_is_checked_before_any_other_step(config_dir, tmp_path):
    """Flask binds its URL adapter to any Host; the check comes before anything
    that could build a URL from it, CSRF's check included."""
    app = make_app(config_dir, tmp_path)
    # The loopback redirect comes first: its target is configuration, never the Host.
    assert app.before_request_funcs[None][0] is guard_request
    refused = app.test_client().post("/auth/signout", base_url="http://attacker.example")
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert b"This site does not answer to that address" in refused.data
    assert b"attacker.example" not in refused.data


def test_the_registered_host_is_served(app_url, live_app):
    port = urlsplit(app_url).port
    status, answer = raw_request(app_url, f"GET / HTTP/1.1\r\nHost: localhost:{port}")
    assert status == 200, answer[:300]


def test_any_loopback_name_is_served_when_none_is_registered(config_dir, tmp_path):
    """Nothing says which name the providers know: no redirect (diagnostics warns)."""
    app = make_app(config_dir, tmp_path, standins={"app_origins": []})
    client = app.test_client()
    for base in ("http://localhost:8000", "http://127.0.0.1:8000"):
        assert client.get("/", base_url=base).status_code == 200, base


# -- the 127.0.0.1 trap: another loopback name than the registered one


def header(answer: str, name: str) -> str | None:
    head = answer.split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


#: Spellings of this machine other than the registered "localhost".
OTHER_LOOPBACK = ["127.0.0.1", "127.0.0.2", "127.1", "2130706433", "0x7f.0.0.1", "[::1]",
                  "0.0.0.0", "localhost.", "app.localhost"]  # noqa: S104


@pytest.mark.parametrize("host", OTHER_LOOPBACK)
def test_a_sign_in_at_another_loopback_name_is_sent_to_the_registered_origin(
        app_url, live_app, control, host):
    """Before a sign-in starts: no session, no visit to the provider, the same
    path and query at the registered origin."""
    before = control("GET", "calls")["google"].get("authorize", 0)
    port = urlsplit(app_url).port
    path = "/auth/google/login?next=%2Fstorage%2Fprivate&x=%C3%A9"
    status, answer = raw_request(app_url, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}")
    assert status == 302, answer[:300]
    assert header(answer, "Location") == app_url + path
    assert header(answer, "Set-Cookie") is None
    assert control("GET", "calls")["google"].get("authorize", 0) == before


@pytest.mark.parametrize("path", ["/storage%3Fa=1", "/%2F%2Fevil.example/x",
                                  "/account%0d%0aSet-Cookie:%20x=1", "/a%20b?q=%2F%3F&r=%23"])
def test_the_registered_origin_gets_the_address_as_it_was_sent(app_url, live_app, path):
    """The escapes are part of the address: rebuilt from the decoded path, %3F would
    become a query, %2F a separator, and %0d%0a a line break dropped."""
    port = urlsplit(app_url).port
    status, answer = raw_request(app_url, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}")
    assert status == 302, answer[:300]
    assert header(answer, "Location") == app_url + path
    assert header(answer, "Set-Cookie") is None


def test_head_is_sent_too_and_the_target_is_never_the_requests(app_url, live_app):
    port = urlsplit(app_url).port
    for request_line in ("HEAD /account HTTP/1.1", "GET //evil.example/x HTTP/1.1"):
        status, answer = raw_request(
            app_url, f"{request_line}\r\nHost: 127.0.0.1:{port}\r\n"
            "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https")
        assert status == 302, answer[:300]
        location = urlsplit(header(answer, "Location"))
        assert f"{location.scheme}://{location.netloc}" == app_url, location


def test_a_post_at_another_loopback_name_is_refused_naming_the_registered_origin(
        app_url, live_app, browser, control):
    """Its CSRF token and cookie belong to the other name; nothing is done, and the
    form is not re-sent to another origin."""
    account = sign_in(browser, app_url, "google")
    assert account.url == f"{app_url}/account"
    port = urlsplit(app_url).port
    cookie = session_cookie(browser)
    cookie = f"{cookie.name}={cookie.value}"
    status, answer = raw_request(
        app_url, f"POST /auth/signout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 0")
    assert status == 400, answer[:300]
    assert header(answer, "Location") is None
    assert 'data-error="other_loopback_host"' in answer and app_url in answer
    assert "Traceback" not in answer
    assert browser.get(f"{app_url}/account").status_code == 200  # still signed in


def test_health_checks_answer_at_any_loopback_name(app_url, live_app):
    port = urlsplit(app_url).port
    for path in ("/healthz", "/readyz"):
        status, answer = raw_request(app_url, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}")
        assert status == 200, answer[:300]


@pytest.mark.parametrize("external_url", ["http://localhost:8000",
                                          "https://fedlab.example.com"])
def test_no_redirect_with_external_url(config_dir, tmp_path, external_url):
    """Its callbacks never follow the Host, and a proxy in front may send its own
    (Host: 127.0.0.1:<port>, as tests/test_scale_out.py's balancer does): a redirect
    would loop. The diagnostics' external_url_mismatch explains instead."""
    app = make_app(config_dir, tmp_path, external_url=external_url)
    answer = app.test_client().get("/", base_url="http://127.0.0.1:8000")
    assert answer.status_code == 200 and "Location" not in answer.headers


def test_opened_at_127_a_visitor_lands_signed_in(app_url, live_app, browser, control):
    """What werkzeug's start-up line leads to: 127.0.0.1, the registered name being
    localhost. The sign-in ends signed in at the registered origin."""
    origin = app_url.replace("://localhost:", "://127.0.0.1:")
    home = browser.get(f"{origin}/")
    assert home.url == f"{app_url}/"
    page = through_provider(browser, browser.get(f"{origin}/auth/cognito/login"), app_url)
    assert page.url == f"{app_url}/account", page.text[:300]
    assert 'data-state="signed_in"' in page.text


def test_external_url_names_the_host(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example.com",
                   trusted_hosts=["www.fedlab.example.com"])
    client = app.test_client()
    for base in ("https://fedlab.example.com", "https://www.fedlab.example.com",
                 "http://localhost:8000"):
        assert client.get("/", base_url=base).status_code == 200, base
    refused = client.get("/auth/google/login", base_url="https://fedlab.example.org")
    assert refused.status_code == 400 and "Location" not in refused.headers


def test_health_checks_answer_any_host(app_url, live_app):
    """A load balancer's health check names the instance by its address."""
    for path in ("/healthz", "/readyz"):
        status, answer = raw_request(app_url, f"GET {path} HTTP/1.1\r\nHost: 10.1.2.3:8000")
        assert status == 200, answer[:300]


def test_a_large_body_gets_a_clear_413(app_url, browser):
    page = browser.get(f"{app_url}/")
    response = browser.post(f"{app_url}/auth/signout",
                            files={"csrf_token": (None, "x"), "f": ("big", b"x" * LARGE)})
    assert response.status_code == 413, response.text[:300]
    assert "The request was too large" in response.text and "32 KiB" in response.text
    assert "Traceback" not in response.text
    assert page.status_code == 200


def test_a_large_json_body_gets_413(app_url):
    response = requests.post(f"{app_url}/storage/public/upload", data=b"[" + b"1," * LARGE,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert "The request was too large" in response.text


def test_small_requests_are_not_affected(app_url, browser, control):
    """A form of a few KiB is well under the limit."""
    response = browser.post(f"{app_url}/auth/signout", data={"csrf_token": "x" * 4096})
    assert response.status_code == 400 and "The request was too large" not in response.text


def chunked(body: bytes, size: int = 16 * 1024) -> bytes:
    """``body`` in Transfer-Encoding: chunked, as a script (never a browser) sends it."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def oversize_upload_request(url: str, browser) -> tuple[str, bytes]:
    """The head and chunked body of an upload request: 32 KiB of valid JSON (the
    limit exactly), then 140 KB more. Read up to the limit and no further, it
    is a well-formed upload request."""
    listing = browser.get(f"{url}/storage/public")
    upload_csrf = re.search(r'data-csrf="([^"]+)"', listing.text).group(1)
    cookie = session_cookie(browser)
    head = (f"POST /storage/public/upload HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n"
            f"Cookie: {cookie.name}={cookie.value}\r\nX-CSRFToken: {upload_csrf}\r\n"
            f"Referer: {url}/storage/public\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked")
    start = b'{"name": "notes.txt", "type": "text/plain", "pad": "'
    valid = start + b"x" * (MAX_REQUEST_BYTES - len(start) - 2) + b'"}'
    assert len(valid) == MAX_REQUEST_BYTES and json.loads(valid)
    return head, chunked(valid + b"\x00garbage" * (140_000 // 8))


def test_a_chunked_body_gets_a_clear_411(app_url, browser, control, aws_control):
    """Its size is known only by reading it, and the read would stop quietly at
    the limit: the view would grant an upload on the cut-off part."""
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"
    head, body = oversize_upload_request(app_url, browser)
    status, answer = raw_request(app_url, head, body)
    assert status == 411, answer[:500]
    assert "The request did not say how large it was" in answer
    assert '"fields"' not in answer and "Traceback" not in answer
    # The control: the same request, the JSON alone and with its length, is granted.
    granted = browser.post(f"{app_url}/storage/public/upload",
                           data=json.dumps({"name": "notes.txt", "type": "text/plain"}),
                           headers={"X-CSRFToken": head.split("X-CSRFToken: ")[1].split()[0],
                                    "Content-Type": "application/json"})
    assert granted.status_code == 200 and "fields" in granted.json(), granted.text[:300]
