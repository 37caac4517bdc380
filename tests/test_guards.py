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

import requests

from webapp.guards import MAX_REQUEST_BYTES, refuse_foreign_host

from .conftest import make_app
from .flows import sign_in
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
    assert app.before_request_funcs[None][0] is refuse_foreign_host
    refused = app.test_client().post("/auth/signout", base_url="http://attacker.example")
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert b"This site does not answer to that address" in refused.data
    assert b"attacker.example" not in refused.data


def test_the_known_hosts_are_served(app_url, live_app):
    port = urlsplit(app_url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        status, answer = raw_request(app_url, f"GET / HTTP/1.1\r\nHost: {host}")
        assert status == 200, answer[:300]


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
