"""Times as pages show them: a moment in UTC (turned into the visitor's local time
by ``static/times.js``, which alone knows their zone) and how far it is from
now in words ("in 54 min", "3 min ago").

The words are written on the server, so a page reads right without script; the
script only translates the clock time. Templates use ``time_at`` of
``templates/macros.html`` (:func:`time_element`), which puts both in one
``<time>`` element.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from markupsafe import Markup, escape


def init_app(app: Flask) -> None:
    app.add_template_filter(iso_time)
    app.add_template_filter(utc_time)
    app.add_template_filter(relative_time)
    app.add_template_filter(duration)
    app.add_template_test(is_moment, "moment")
    app.add_template_global(time_element)


def moment(epoch: Any) -> datetime | None:
    """``epoch`` as a UTC time, or None when it is none: not a number (a boolean is
    none), not finite, or outside what a datetime holds (a provider that sends
    milliseconds, ``1e12``, is 33 658 AD). Such a value is shown as the number."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool) or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def is_moment(value: Any) -> bool:
    """Whether ``value`` is a time the pages can show (Jinja's ``is moment``)."""
    return moment(value) is not None


#: The machine-readable and the clock forms of a moment (``time.strftime`` on the
#: moment's fields: a quarter of ``datetime.strftime``'s cost, the same text).
ISO = "%Y-%m-%dT%H:%M:%SZ"
UTC_CLOCK = "%Y-%m-%d %H:%M UTC"


def time_element(epoch: Any, relative: bool = True) -> Markup:
    """A moment as pages show it: ``<time>`` with UTC on the server (the visitor's
    local time once ``static/times.js`` runs), then how far from now in words
    ("in 54 min"); not a time, the number as text.

    Written here rather than as a Jinja macro: the account page shows a dozen
    times, and a macro call per time was a tenth of the page's rendering; and
    with f-strings rather than ``Markup.format``, whose escaping formatter cost
    more than the rest together.
    """
    at = moment(epoch)
    if at is None:
        return escape(epoch)
    seconds, parts = int(epoch), at.timetuple()
    html = (f'<time datetime="{time.strftime(ISO, parts)}" data-epoch="{seconds}">'
            f"{time.strftime(UTC_CLOCK, parts)}</time>")
    if relative:
        # The words from the whole second the span carries, as static/times.js
        # and fill_relative do: all three say the same of the same moment.
        html += f" {RELATIVE_SPAN.format(seconds=seconds, words=escape(relative_time(seconds)))}"
    # Numbers and fixed formats, and the words escaped: nothing here is markup.
    return Markup(html)  # noqa: S704


#: How :func:`time_element` writes the words, and how :func:`relative_slots`
#: finds them again in a rendered page.
RELATIVE_SPAN = '<span class="relative" data-relative="{seconds}">({words})</span>'
RELATIVE = re.compile(r'(<span class="relative" data-relative="(-?\d+)">\()[^<]*(\)</span>)')


def relative_slots(html: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``html`` cut around the words :func:`time_element` wrote: the text between
    them, and the moment of each; :func:`fill_relative` puts words for another
    "now" back in. What makes a page kept as rendered (:mod:`webapp.rendered_pages`)
    read as if rendered at the moment it is shown."""
    texts, epochs, last = [], [], 0
    for match in RELATIVE.finditer(html):
        texts.append(html[last:match.end(1)])
        epochs.append(int(match.group(2)))
        last = match.start(3)
    texts.append(html[last:])
    return tuple(texts), tuple(epochs)


def fill_relative(texts: tuple[str, ...], epochs: tuple[int, ...],
                  now: float | None = None) -> str:
    """The page :func:`relative_slots` cut, with each moment's words as of ``now``."""
    now = time.time() if now is None else now
    parts = [texts[0]]
    for epoch, text in zip(epochs, texts[1:], strict=True):
        # Moments time_element wrote: times already; the words need no escaping.
        parts.append(distance_words(epoch - now))
        parts.append(text)
    return "".join(parts)


def iso_time(epoch: float) -> str:
    """The machine-readable form for ``<time datetime=...>``; not a time, the number."""
    at = moment(epoch)
    return time.strftime(ISO, at.timetuple()) if at else str(epoch)


def utc_time(epoch: float) -> str:
    """The clock time before the script makes it local: UTC, said so; not a time,
    the number."""
    at = moment(epoch)
    return time.strftime(UTC_CLOCK, at.timetuple()) if at else str(epoch)


def relative_time(epoch: float, now: float | None = None) -> str:
    """How far ``epoch`` is from ``now`` in words: "in 54 min", "3 min ago", "now";
    not a time, nothing."""
    if moment(epoch) is None:
        return ""
    return distance_words(epoch - (time.time() if now is None else now))


def distance_words(seconds: float) -> str:
    """``seconds`` from now in words: "in 54 min", "3 min ago", "now"."""
    seconds = round(seconds)
    if abs(seconds) < 5:
        return "now"
    words = duration(abs(seconds), coarse=True)
    return f"in {words}" if seconds > 0 else f"{words} ago"


def duration(seconds: float, *, coarse: bool = False) -> str:
    """A length of time in words: "850 ms", "12 s", "54 min", "2 h 5 min", "3 days".

    ``coarse`` drops the milliseconds (for distances from now, where a second is fine).
    """
    if seconds < 1 and not coarse:
        return f"{round(seconds * 1000)} ms"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"
