"""The picture of a sign-in is kept in the visitor's server-side session: whatever
the browser sends (150 made-up query names on the callback, on /credentials), the
record keeps at most ``MAX_NAMES`` names a step and ``MAX_STEPS`` steps a list."""

from __future__ import annotations

import msgspec

from webapp.steps import MAX_NAMES, MAX_STEPS, MAX_TEXT

from .browser import Browser
from .flows import stop_at_callback
from .test_sessions import session_cookie

MADE_UP = "&".join(f"made-up-{n}=1" for n in range(150))


def test_made_up_query_names_are_bounded_in_the_record(app, app_url, control, aws_control):
    browser = Browser()
    callback = stop_at_callback(browser, app_url, "cognito")
    page = browser.get(f"{callback}&{MADE_UP}")
    assert page.url == f"{app_url}/account"
    assert browser.get(f"{app_url}/credentials?{MADE_UP}").status_code == 200
    picture = msgspec.msgpack.decode(
        app.session_interface.read(session_cookie(browser).value)["sign_in_picture"])
    for kind in ("sign_in", "credentials"):
        made = picture[kind]
        assert 0 < len(made) <= MAX_STEPS
        assert any("made-up-0" in step["params"] for step in made), kind
        for step in made:
            assert len(step["params"]) <= MAX_NAMES, (kind, step["what"])
            assert all(len(name) <= MAX_TEXT for name in step["params"])
