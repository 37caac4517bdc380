"""The sign-in service's records survive the token responses providers really send."""

from __future__ import annotations

import time

import pytest

from webapp import sessions
from webapp.records import SignIn
from webapp.signin import stored_tokens

from .conftest import make_app


@pytest.mark.parametrize("token", [
    {"access_token": "a", "token_type": "Bearer", "scope": "openid email", "expires_in": 3600},
    # Twitch (and others) send the granted scope as a JSON array.
    {"access_token": "a", "token_type": "Bearer", "scope": ["openid", "email"],
     "expires_in": 3600},
    # "token_type": null, and no scope at all.
    {"access_token": "a", "token_type": None, "expires_in": 3600},
], ids=["string-scope", "list-scope", "null-token-type"])
def test_a_sign_in_from_an_unusual_token_response_holds_on_the_next_request(
        config_dir, tmp_path, token):
    """Stored, then read back by the next request: still signed in (a record the
    store refuses to read would sign the visitor out silently)."""
    app = make_app(config_dir, tmp_path)

    def sign_in_with_token():
        sessions.start(SignIn(provider="cognito", iss="https://issuer.example", sub="s",
                              claims={"sub": "s"}, tokens=stored_tokens(token),
                              signed_in_at=int(time.time())))
        return "ok"

    def who():
        auth = sessions.current_auth()
        return f"{auth.tokens.token_type} [{auth.tokens.scope}]" if auth else "signed out"

    app.add_url_rule("/_test/sign-in", view_func=sign_in_with_token)
    app.add_url_rule("/_test/who", view_func=who)
    client = app.test_client()
    assert client.get("/_test/sign-in", headers={"Host": "localhost"}).status_code == 200
    answer = client.get("/_test/who", headers={"Host": "localhost"}).text
    assert answer in ("Bearer [openid email]", "Bearer []")


def test_a_stored_sign_in_of_the_wrong_shape_is_logged_without_its_values(caplog):
    assert SignIn.load({"provider": "p", "iss": "i", "sub": "s", "claims": {},
                        "signed_in_at": 1,
                        "tokens": {"access_token": 12345678, "refresh_token": "RT-SECRET"}}) is None
    assert "wrong shape" in caplog.text
    assert "12345678" not in caplog.text and "RT-SECRET" not in caplog.text
