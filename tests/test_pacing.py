"""The buttons that spend the site's own AWS quota are paced per session: a press
inside the interval makes no AWS call and shows the last result with a notice."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from webapp import pacing

from .browser import Browser
from .flows import sign_in

#: Each button, the section of the page its result is in, and a call it makes.
BUTTONS = {
    "Federate as a developer identity": ('<ol class="developer-calls">',
                                         "GetOpenIdTokenForDeveloperIdentity"),
    "Compare with the basic flow": ('<ol class="classic-calls">', "GetOpenIdToken"),
    "Ask the pool": ('data-source="DescribeIdentity"', "DescribeIdentity"),
}


@pytest.fixture(autouse=True)
def long_interval(monkeypatch):
    """An interval no test run outlasts, so "inside the interval" is not a race."""
    monkeypatch.setattr(pacing, "MIN_INTERVAL", 600)


def notice(page) -> str:
    found = re.search(r'<p class="notice" role="status">(.*?)</p>', page.text, re.S)
    return found.group(1) if found else ""


@pytest.mark.parametrize("button", BUTTONS)
def test_a_repeat_inside_the_interval_shows_the_last_result_and_calls_nothing(
        browser, app_url, control, aws_control, button):
    shown, operation = BUTTONS[button]
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    first = browser.click(page, button)
    assert first.status_code == 200 and shown in first.text, first.text[:1500]
    made = aws_control("identity", "GET", "calls")
    assert made.get(operation) == 1
    assert "pressed less than" not in notice(first)

    again = browser.click(first, button)
    assert again.status_code == 200
    assert aws_control("identity", "GET", "calls") == made  # no AWS call at all
    assert f"“{button}” was pressed less than 600 seconds ago" in notice(again)
    # The last press's result, as it was (its calls' timings included).
    section = first.text.index(shown)
    assert shown in again.text
    assert again.text[again.text.index(shown):][:400] == first.text[section:][:400]

    # Another session is not held back by this one's presses.
    other = Browser()
    sign_in(other, app_url, "google", user="bob")
    theirs = other.click(other.get(f"{app_url}/credentials"), button)
    assert theirs.status_code == 200 and "pressed less than" not in notice(theirs)
    assert aws_control("identity", "GET", "calls")[operation] == 2


@pytest.mark.parametrize("store", ["redis", "files"])
def test_parallel_presses_in_one_session_make_one_call(browser, app_url, control,
                                                       aws_control, swap_app, store):
    """Each parallel request reads its own copy of the session: the mark is kept beside
    the sessions (in Redis, or in this process for the file store), so only one of
    them gets through."""
    if store == "files":
        swap_app()  # the demo's configuration: sessions in files
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    token = browser.csrf(page)
    aws_control("identity", "DELETE", "calls")

    def press(_: int) -> int:
        return browser.post(f"{app_url}/credentials/developer",
                            data={"csrf_token": token}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(press, range(6))) == [200] * 6
    assert aws_control("identity", "GET", "calls")["GetOpenIdTokenForDeveloperIdentity"] == 1
