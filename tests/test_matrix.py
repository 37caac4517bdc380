"""The redirect matrix and its warnings: the values sign-in really sends, the classic mistakes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from webapp import matrix
from webapp.config import settings
from webapp.providers import registry

from .conftest import PROVIDERS, make_app

#: Hosts these tests open the site at; a deployment there would list them in trusted_hosts.
ELSEWHERE = ["10.0.0.5", "fedlab.example", ".fedlab.example", "somewhere.example"]


@pytest.fixture(scope="module")
def elsewhere_app(config_dir, tmp_path_factory):
    """The demo app, also answering at the hosts of ELSEWHERE."""
    return make_app(config_dir, tmp_path_factory.mktemp("elsewhere"), trusted_hosts=ELSEWHERE)


def codes(app, base_url: str, headers: dict[str, str] | None = None) -> list[str]:
    with app.test_request_context(base_url=base_url, headers=headers or {}):
        return [w.code for w in matrix.warnings(settings(app))]


def test_one_row_per_demo_provider(live_app, app_url):
    providers = registry.providers(live_app)
    with live_app.test_request_context(base_url=app_url):
        rows = matrix.rows(providers)
    assert [r.name for r in rows] == list(PROVIDERS)
    for row in rows:
        provider = providers[row.name]
        assert row.kind == provider.kind
        assert row.display_name == provider.display_name
        assert row.client_id == provider.client_id
        assert row.callback_url == f"{app_url}/auth/{row.name}/callback"
        assert row.origin == app_url
        assert row.anchor == f"provider-{row.name}"
        assert row.console == provider.CONSOLE
        assert {"callback", "sign_out", "origin"} <= set(row.console) <= {
            "callback", "sign_out", "origin", "backchannel_logout"}
        if row.console["sign_out"] is None:
            assert row.sign_out_url is None
        else:
            assert row.sign_out_url == f"{app_url}/"
    by_name = {r.name: r for r in rows}
    assert by_name["google"].sign_out_url is None
    assert by_name["facebook"].sign_out_url is None
    assert by_name["cognito"].sign_out_url == by_name["auth0"].sign_out_url == app_url + "/"


@pytest.mark.parametrize("name", PROVIDERS)
def test_callback_url_is_what_sign_in_sends(live_app, app_url, control, name):
    response = requests.get(f"{app_url}/auth/{name}/login", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    sent = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"]
    with live_app.test_request_context(base_url=app_url):
        row = next(r for r in matrix.rows(registry.providers(live_app)) if r.name == name)
    assert sent == [row.callback_url]


def test_callback_url_follows_external_url(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example")
    with app.test_request_context(base_url="http://10.0.0.5:8000"):
        rows = matrix.rows(registry.providers(app))
    assert rows[0].callback_url == "https://fedlab.example/auth/cognito/callback"
    assert rows[0].sign_out_url == "https://fedlab.example/"
    assert rows[0].origin == "https://fedlab.example"


def test_cognito_google_row_names_the_idpresponse_url_to_register_at_google(live_app, app_url):
    providers = registry.providers(live_app)
    hosted = providers["cognito-google"].settings["hosted_ui_url"]
    with live_app.test_request_context(base_url=app_url):
        rows = {r.name: r for r in matrix.rows(providers)}
    upstream = rows["cognito-google"].upstream
    assert upstream[0].value == f"{hosted}/oauth2/idpresponse"
    assert "Google Cloud console" in upstream[0].where
    assert "Authorized redirect URIs" in upstream[0].where
    assert rows["cognito-google"].upstream_provider == "Google"
    # Plain Cognito (its own users) and the direct providers have nothing upstream.
    for name in ("cognito", "auth0", "google", "facebook"):
        assert rows[name].upstream == ()
        assert rows[name].upstream_provider is None


def test_real_domain_idpresponse(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, providers={"cognito-google": {"hosted_ui_url": ""}},
                   trusted_hosts=ELSEWHERE)
    with app.test_request_context(base_url="https://fedlab.example"):
        row = next(r for r in matrix.rows(registry.providers(app)) if r.name == "cognito-google")
    assert row.upstream[0].value == (
        "https://fedlab-demo.auth.us-east-1.amazoncognito.com/oauth2/idpresponse")


def test_warnings_have_every_field(live_app, app_url):
    with live_app.test_request_context(base_url="http://127.0.0.1:1"):
        found = matrix.warnings(settings(live_app))
    assert found
    for warning in found:
        assert isinstance(warning.severity, matrix.Severity)
        assert all(isinstance(v, str) and v
                   for v in (warning.code, warning.title, warning.detail, warning.fix))


# -- http on a host other than loopback

@pytest.mark.parametrize("base_url", ["http://10.0.0.5:8000", "http://fedlab.example"])
def test_http_on_a_real_host_is_flagged(elsewhere_app, base_url):
    assert "http_not_loopback" in codes(elsewhere_app, base_url)


# [::1] is loopback to the warning too, but werkzeug cannot trust an IPv6 Host.
@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://127.0.0.1:8000",
                                      "https://fedlab.example"])
def test_http_on_loopback_or_https_is_fine(elsewhere_app, base_url):
    assert "http_not_loopback" not in codes(elsewhere_app, base_url)


def test_http_external_url_is_flagged_whatever_the_request(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="http://fedlab.example")
    assert "http_not_loopback" in codes(app, "http://fedlab.example")


# -- localhost vs 127.0.0.1

def test_127_when_localhost_is_registered(live_app, app_url):
    port = urlsplit(app_url).port
    with live_app.test_request_context(base_url=f"http://127.0.0.1:{port}"):
        found = {w.code: w for w in matrix.warnings(settings(live_app))}
    warning = found["loopback_host_mismatch"]
    assert "127.0.0.1" in warning.title and "localhost" in warning.title
    assert "per host name" in warning.detail
    assert app_url in warning.detail  # the registered form, from standins.app_origins
    assert app_url in warning.fix


@pytest.mark.parametrize("host", ["127.0.0.2", "127.1", "app.localhost", "localhost.",
                                  "0x7f.0.0.1"])
def test_every_loopback_spelling_the_guard_knows_is_a_mixup(live_app, app_url, host):
    """The warning and the redirect (webapp/guards.py) read "loopback" alike."""
    port = urlsplit(app_url).port
    with live_app.test_request_context(base_url=f"http://{host}:{port}"):
        found = {w.code: w for w in matrix.warnings(settings(live_app))}
    assert app_url in found["loopback_host_mismatch"].detail
    assert "http_not_loopback" not in found


def test_localhost_when_localhost_is_registered(live_app, app_url):
    assert "loopback_host_mismatch" not in codes(live_app, app_url)


def test_localhost_when_127_is_registered(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, standins={"app_origins": ["http://127.0.0.1:8000"]})
    with app.test_request_context(base_url="http://localhost:8000"):
        found = {w.code: w for w in matrix.warnings(settings(app))}
    assert "http://127.0.0.1:8000" in found["loopback_host_mismatch"].detail
    assert "loopback_host_mismatch" not in codes(app, "http://127.0.0.1:8000")


def test_registered_form_from_external_url(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, standins={"app_origins": []},
                   external_url="http://localhost:8000")
    with app.test_request_context(base_url="http://127.0.0.1:8000"):
        found = {w.code: w for w in matrix.warnings(settings(app))}
    assert "http://localhost:8000" in found["loopback_host_mismatch"].detail
    assert "loopback_host_mismatch" not in codes(app, "http://localhost:8000")


def test_real_host_is_not_a_loopback_mixup(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example")
    assert "loopback_host_mismatch" not in codes(app, "https://fedlab.example")


# -- external_url and where the request arrived

@pytest.mark.parametrize("base_url", ["http://fedlab.example", "https://www.fedlab.example",
                                      "https://fedlab.example:8443", "http://localhost:8000"])
def test_request_elsewhere_than_external_url(config_dir, tmp_path, base_url):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example",
                   trusted_hosts=ELSEWHERE)
    with app.test_request_context(base_url=base_url):
        found = {w.code: w for w in matrix.warnings(settings(app))}
    assert "https://fedlab.example" in found["external_url_mismatch"].detail
    assert "arrived at" in found["external_url_mismatch"].detail


def test_request_at_external_url(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example/")
    assert codes(app, "https://fedlab.example") == ["sessions_on_one_machine"]


def test_no_external_url_no_mismatch(elsewhere_app):
    assert "external_url_mismatch" not in codes(elsewhere_app, "http://somewhere.example")


# -- proxies

@pytest.mark.parametrize("headers", [{"X-Forwarded-Proto": "https"},
                                     {"X-Forwarded-Host": "fedlab.example"}])
def test_forwarded_headers_without_trusted_proxies(live_app, app_url, headers):
    with live_app.test_request_context(base_url=app_url, headers=headers):
        found = {w.code: w for w in matrix.warnings(settings(live_app))}
    warning = found["proxy_not_trusted"]
    assert "trusted_proxies" in warning.fix
    assert "FEDLAB_TRUSTED_PROXIES" in warning.fix
    assert ("https" in warning.detail) == ("X-Forwarded-Proto" in headers)


def test_no_forwarded_headers(live_app, app_url):
    found = codes(live_app, app_url)
    assert "proxy_not_trusted" not in found and "proxy_https_hidden" not in found


def test_https_hidden_behind_too_few_trusted_proxies(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, trusted_proxies=1, trusted_hosts=ELSEWHERE)
    # Two proxies, one trusted: ProxyFix took the inner hop's "http".
    found = codes(app, "http://fedlab.example", {"X-Forwarded-Proto": "https, http"})
    assert "proxy_https_hidden" in found
    assert "proxy_not_trusted" not in found


def test_trusted_proxy_with_https_seen(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, trusted_proxies=1, trusted_hosts=ELSEWHERE)
    found = codes(app, "https://fedlab.example", {"X-Forwarded-Proto": "https"})
    assert "proxy_https_hidden" not in found and "proxy_not_trusted" not in found


def test_trusted_proxy_over_real_http(config_dir, tmp_path):
    """Through the app's real ProxyFix: with the header honoured, no warning."""
    app = make_app(config_dir, tmp_path, trusted_proxies=1, trusted_hosts=ELSEWHERE)
    seen = {}

    @app.get("/_warnings")
    def show() -> str:
        seen["codes"] = [w.code for w in matrix.warnings(settings(app))]
        return ""

    app.test_client().get("/_warnings", base_url="http://fedlab.example",
                          headers={"X-Forwarded-Proto": "https"})
    assert "proxy_https_hidden" not in seen["codes"]
    assert "http_not_loopback" not in seen["codes"]


# -- sessions and cookies

def test_file_sessions_are_one_machine_only(live_app, app_url):
    with live_app.test_request_context(base_url=app_url):
        found = {w.code: w for w in matrix.warnings(settings(live_app))}
    assert "redis" in found["sessions_on_one_machine"].fix
    assert "SECRET_KEY" in found["sessions_on_one_machine"].fix


def test_redis_sessions_are_shared(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, session={"type": "redis"})
    assert "sessions_on_one_machine" not in codes(app, "http://localhost:8000")


def test_samesite_strict_breaks_the_callback(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path)
    assert "cookie_samesite_strict" not in codes(app, "http://localhost:8000")
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    with app.test_request_context(base_url="http://localhost:8000"):
        found = {w.code: w for w in matrix.warnings(settings(app))}
    assert "cross-site" in found["cookie_samesite_strict"].detail
    assert "Lax" in found["cookie_samesite_strict"].fix


def test_secure_cookie_over_plain_http(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "cookie_secure_over_http" in codes(app, "http://fedlab.example")
    assert "cookie_secure_over_http" not in codes(app, "https://fedlab.example")


def test_plain_http_cookie_over_plain_http(live_app, app_url):
    assert live_app.config["SESSION_COOKIE_SECURE"] is False
    assert "cookie_secure_over_http" not in codes(live_app, app_url)


def test_behind_a_tls_proxy_without_external_url(config_dir, tmp_path):
    """trusted_proxies = 1 and no external_url: the visitor used https, yet the
    cookie is not Secure and there is no HSTS; the diagnostics page says so."""
    app = make_app(config_dir, tmp_path, trusted_proxies=1, trusted_hosts=ELSEWHERE)
    page = app.test_client().get("/diagnostics", base_url="http://fedlab.example",
                                 headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200
    assert 'data-warning="cookie_not_secure"' in page.text
    assert "external_url" in page.text
    assert "Strict-Transport-Security" not in page.headers
    assert "Secure" not in page.headers.get("Set-Cookie", "")


def test_behind_a_tls_proxy_with_external_url(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, trusted_proxies=1,
                   external_url="https://fedlab.example")
    page = app.test_client().get("/diagnostics", base_url="http://fedlab.example",
                                 headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200 and "cookie_not_secure" not in page.text
    assert "Strict-Transport-Security" in page.headers


def test_every_check_is_registered_once():
    """A check written but not listed in matrix.CHECKS would never warn."""
    import inspect

    checks = [f for _, f in inspect.getmembers(matrix, inspect.isfunction)
              if f.__module__ == matrix.__name__
              and inspect.signature(f).return_annotation == "Mistake | None"]
    assert len(checks) == 9
    assert sorted(checks, key=id) == sorted(matrix.CHECKS, key=id)
