"""Redirect targets: only this site's own pages."""

from __future__ import annotations

import pytest

from webapp.urls import external_url, safe_next_path


@pytest.mark.parametrize("target", [
    None, "", "account", "https://evil.example/account", "//evil.example", "///evil.example",
    "/\\evil.example", "/account\\..", "/account\r\nSet-Cookie: x=1", "/auth/google/login",
    "/auth/google/callback?code=x", "/static/style.css", "/nowhere", "/" + "a" * 600,
    "http://evil.example/", "javascript:alert(1)", " /account", "/%2F%2Fevil.example",
    "/%5Cevil.example", "/account\nX", "/account\rX", "/account\tX", "/account\x7f",
    # Each of these has a path that is a real page, so only the rule named refuses it:
    "//evil.example/account",  # another host
    "/storage/\\evil.example",  # a backslash
    "/account?\r\nSet-Cookie: x=1", "/account?x=\x7f",  # control characters
])
def test_unsafe_targets_fall_back_to_the_default(live_app, target):
    with live_app.test_request_context():
        assert safe_next_path(target) == "/account"


@pytest.mark.parametrize("target", ["/", "/account", "/account?tab=tokens"])
def test_local_pages_are_kept(live_app, target):
    with live_app.test_request_context():
        assert safe_next_path(target) == target


def test_external_url_prefers_the_configured_origin(config_dir, tmp_path):
    from .conftest import make_app

    app = make_app(config_dir, tmp_path, external_url="https://fedlab.example")
    with app.test_request_context(base_url="http://10.0.0.5:8000"):
        assert external_url("auth.callback", name="google") == (
            "https://fedlab.example/auth/google/callback")


def test_external_url_follows_the_request_otherwise(live_app):
    with live_app.test_request_context(base_url="http://localhost:8000"):
        assert external_url("auth.callback", name="google") == (
            "http://localhost:8000/auth/google/callback")
