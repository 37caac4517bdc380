"""Times on pages: UTC in the markup, local once the script runs, distance in words."""

from __future__ import annotations

import pytest
from flask import render_template_string

from webapp.timewords import duration, iso_time, relative_time, utc_time
from webapp.tokens import claim_rows as claims


@pytest.mark.parametrize(("offset", "words"), [
    (54 * 60 + 20, "in 54 min"), (-3 * 60, "3 min ago"), (2, "now"), (40, "in 40 s"),
    (2 * 3600 + 5 * 60, "in 2 h 5 min"), (-3 * 86400, "3 days ago"), (3600, "in 1 h"),
])
def test_distance_from_now_in_words(offset, words):
    assert relative_time(1_000_000 + offset, now=1_000_000) == words


@pytest.mark.parametrize(("seconds", "words"), [
    (0.0123, "12 ms"), (0.85, "850 ms"), (12.4, "12 s"), (61, "1 min"), (7500, "2 h 5 min"),
])
def test_durations_in_words(seconds, words):
    assert duration(seconds) == words


def test_the_macro_writes_utc_for_the_script_and_the_distance_for_everyone(app):
    with app.test_request_context():
        html = render_template_string(
            '{% from "macros.html" import time_at %}{{ time_at(0) }}')
    assert ('<time datetime="1970-01-01T00:00:00Z" data-epoch="0">'
            "1970-01-01 00:00 UTC</time>") in html
    assert 'class="relative"' in html and "ago" in html


@pytest.mark.parametrize("value", [1e12, 1_700_000_000_000, float("inf"), float("nan"), -1e20])
def test_a_number_that_is_no_time_is_shown_as_the_number(app, value):
    """A provider that sends milliseconds (1e12 is the year 33 658) or a number no
    datetime holds: the page shows the number, and does not fail."""
    with app.test_request_context():
        html = render_template_string(
            '{% from "macros.html" import time_at %}{{ time_at(v) }}', v=value)
    assert html.strip() == str(value) and "<time" not in html
    assert iso_time(value) == utc_time(value) == str(value)
    assert relative_time(value) == ""


@pytest.mark.parametrize("name", ["auth_time", "nbf", "updated_at", "exp", "iat"])
def test_a_token_s_time_claim_in_milliseconds_is_shown_as_its_number(name):
    rows = {c.name: c for c in claims({name: 1_700_000_000_000, "sub": "x"})}
    assert rows[name].moment is None and rows[name].text == "1700000000000"
    assert claims({name: 1_700_000_000})[0].moment == 1_700_000_000
