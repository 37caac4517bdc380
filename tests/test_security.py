"""Security headers on every response, a CSP the templates can live with, CSRF on every POST."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from werkzeug.routing import Rule

from webapp import security
from webapp.aws import botocore_session

from .conftest import ROOT, make_app
from .flows import sign_in

CSP_FIXED = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
    "frame-ancestors": "'none'", "base-uri": "'none'",
}


def csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", ["/", "/account", "/diagnostics", "/static/style.css",
                                  "/nowhere", "/healthz", "/auth/google/callback"])
def test_every_response_has_the_headers(app, path):
    response = app.test_client().get(path)
    response.close()  # a static file's handle
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    directives = csp(response)
    for name, value in CSP_FIXED.items():
        assert " ".join(directives[name]) == value
    # Plain http (the demo): no HSTS, which would pin a host name to https.
    assert "Strict-Transport-Security" not in response.headers


def test_connect_src_names_the_s3_endpoint_and_form_action_the_providers(app, servers,
                                                                       standins_url):
    directives = csp(app.test_client().get("/"))
    # upload.js POSTs the file to the (stand-in) S3 front, not to this site.
    assert directives["connect-src"] == ["'self'", f"http://127.0.0.1:{servers[3].port}"]
    # Sign-out's POST is answered by a redirect to the provider's own sign-out page.
    assert directives["form-action"] == ["'self'", standins_url]


def test_img_src_adds_only_the_origins_the_providers_serve_pictures_from(app, standins_url):
    """The header shows the visitor's picture: from the stand-ins (a lab provider's own
    origin) and from the hosts the configured kinds name (Google's, through Cognito
    too; Auth0's Gravatar and avatar CDN; Facebook's), each once; no wildcard."""
    directives = csp(app.test_client().get("/"))
    assert directives["img-src"] == [
        "'self'", "data:", standins_url, "https://lh3.googleusercontent.com",
        "https://s.gravatar.com", "https://cdn.auth0.com",
        "https://platform-lookaside.fbsbx.com"]


def csp_allows(sources: list[str], url: str) -> bool:
    """CSP Level 3's source matching, for https sources: an origin alone allows every
    path on it; with a path, one ending in "/" allows paths under it, and any other
    that path only."""
    target = urlsplit(url)
    for source in sources:
        parts = urlsplit(source)
        if (parts.scheme, parts.netloc) != (target.scheme, target.netloc):
            continue
        path = parts.path
        if not path or (path.endswith("/") and target.path.startswith(path)) \
                or target.path == path:
            return True
    return False


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
@pytest.mark.parametrize("bucket", ["fedlab-files", "files.fedlab.example"])
def test_for_aws_itself_connect_src_allows_the_upload_url_and_no_other_bucket(
        config_dir, tmp_path, bucket, region):
    """What boto3 itself gives the browser to post to (the bucket's host, or path
    style for a name with dots) is allowed; an attacker's bucket, on its own host or
    path style on S3's, is not, so an injected script cannot send data there."""
    pool = f"{region}:0f3c0c2e-7d55-4d8e-9a57-1c2f3e4d5a6b"
    app = make_app(config_dir, tmp_path, aws={"bucket": bucket, "region": region,
                                              "identity_pool_id": pool, "s3_endpoint": ""})
    sources = csp(app.test_client().get("/"))["connect-src"]
    # boto3 as a visitor's client is made, and as no file of this machine changes it.
    s3 = boto3.Session(botocore_session=botocore_session()).client(
        "s3", region_name=region, aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="example", config=Config(signature_version="s3v4"))
    upload = s3.generate_presigned_post(bucket, "private/someone/notes.txt")["url"]
    assert csp_allows(sources, upload), (sources, upload)
    if "." not in bucket:  # where S3 may redirect a new bucket's upload, for a day
        assert csp_allows(sources, f"https://{bucket}.s3.{region}.amazonaws.com/")
    for elsewhere in ("https://attacker-bucket.s3.amazonaws.com/",
                      f"https://attacker-bucket.s3.{region}.amazonaws.com/",
                      f"https://s3.{region}.amazonaws.com/attacker-bucket",
                      "https://s3.amazonaws.com/attacker-bucket",
                      f"https://s3.{region}.amazonaws.com/{bucket}-not"):
        assert not csp_allows(sources, elsewhere), (sources, elsewhere)


def test_without_a_pool_or_bucket_no_s3_source_is_allowed(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, aws={"identity_pool_id": "", "s3_endpoint": ""})
    assert csp(app.test_client().get("/"))["connect-src"] == ["'self'"]


def test_real_providers_origins_in_form_action(config_dir, tmp_path):
    from webapp.providers import build

    providers = [
        build("cognito", {"kind": "cognito", "client_id": "c", "client_secret": "s",
                          "region": "us-east-1", "user_pool_id": "us-east-1_X",
                          "domain": "me.auth.us-east-1.amazoncognito.com"}),
        build("auth0", {"kind": "auth0", "client_id": "c", "client_secret": "s",
                        "domain": "me.us.auth0.com"}),
        build("corp", {"kind": "oidc", "client_id": "c", "client_secret": "s",
                       "issuer": "https://login.example.com/realms/corp"}),
    ]
    assert security.provider_origins(providers) == [
        "https://me.auth.us-east-1.amazoncognito.com",
        "https://cognito-idp.us-east-1.amazonaws.com",
        "https://me.us.auth0.com", "https://login.example.com"]


def test_hsts_only_when_the_site_is_https(config_dir, tmp_path):
    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example.com")
    response = app.test_client().get("/", base_url="https://fedlab.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_callback_sends_no_referrer_other_pages_only_their_origin(app):
    client = app.test_client()
    callback = client.get("/auth/google/callback?code=c&state=s")
    assert callback.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize(("path", "no_store"), [
    ("/account", True), ("/credentials", True), ("/auth/google/callback", True),
    ("/auth/google/login", True), ("/storage/private", True), ("/", False),
    ("/diagnostics", False),
])
def test_pages_with_tokens_or_credentials_are_not_stored(app, path, no_store):
    response = app.test_client().get(path)
    assert (response.headers.get("Cache-Control") == "no-store") is no_store


@pytest.mark.parametrize("path", ["/", "/diagnostics", "/nowhere", "/account/sign-in",
                                  "/storage/public"])
def test_every_page_shown_to_a_signed_in_visitor_is_not_stored(browser, app_url, path):
    """The header on every page (error pages too) shows who is signed in: no
    page a signed-in visitor sees may be kept by a browser or a shared cache;
    static files show no one and stay cacheable."""
    sign_in(browser, app_url, "google")
    assert browser.get(f"{app_url}{path}").headers.get("Cache-Control") == "no-store"
    style = browser.get(f"{app_url}/static/style.css")
    assert style.status_code == 200 and style.headers.get("Cache-Control") != "no-store"


def test_every_page_shown_to_a_guest_is_not_stored(browser, app_url, aws_control):
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    assert 'data-aws-state="guest"' in page.text
    for path in ("/", "/diagnostics", "/nowhere"):
        assert browser.get(f"{app_url}{path}").headers.get("Cache-Control") == "no-store"


def test_the_picture_of_the_sign_in_is_not_stored_even_signed_out(app):
    response = app.test_client().get("/account/sign-in")
    assert response.headers.get("Cache-Control") == "no-store"


def test_no_template_needs_inline_script_or_style():
    """script-src and style-src 'self' block these; the templates must not rely on them."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style\b|"
                        r"javascript:", re.IGNORECASE)
    found = [f"{path.relative_to(ROOT)}: {m.group(0)}"
             for path in sorted((ROOT / "templates").rglob("*.html"))
             for m in inline.finditer(path.read_text())]
    assert found == []


def sample_values(rule: Rule) -> dict[str, str]:
    return {arg: {"level": "private", "name": "google"}.get(arg, "x") for arg in rule.arguments}


#: The routes a POST reaches without a CSRF token: the callback, which a
#: form_post provider's page posts to from its own site (the state is its CSRF
#: check; tests/test_form_post.py sees what that POST may do), and the
#: back-channel logout, which a provider's server posts with no browser or
#: cookie (the signed logout token is its authentication; tests/test_backchannel.py).
CSRF_EXEMPT = {"auth.callback", "auth.backchannel_logout"}


def test_every_post_refuses_a_request_without_a_csrf_token(app):
    """Walk the URL map: every rule that accepts POST, but the two exempt ones,
    says csrf_failed without a token."""
    posts = [rule for rule in app.url_map.iter_rules()
             if "POST" in (rule.methods or ()) and rule.endpoint not in CSRF_EXEMPT]
    assert {rule.endpoint for rule in posts} >= {"auth.signout", "auth.refresh",
                                                 "credentials.guest", "storage.upload",
                                                 "storage.delete", "diagnostics.probes"}
    client = app.test_client()
    client.get("/")  # a session, as a real visitor would have
    for rule in posts:
        path = rule.build(sample_values(rule))[1]
        response = client.post(path, data={"key": "x"})
        assert response.status_code == 400, rule.rule
        assert b'data-error="csrf_failed"' in response.data, rule.rule
        json_post = client.post(path, json={"name": "x"}, headers={"X-CSRFToken": "forged"})
        assert json_post.status_code == 400 and b"csrf_failed" in json_post.data, rule.rule
