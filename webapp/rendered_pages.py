"""Pages kept as rendered for one session record, in each process.

The account page is the site's heaviest: a summary, the decoded tokens with
their claim tables, the userinfo answer, the history, three forms. Rendering it
costs more than all else a request does here (the hooks, opening the session).
Yet it is a function of the session record alone, given the app's settings: the
same record renders the same page, but for two things that move with the clock.

- The words "in 54 min", "3 min ago": written again into the kept page on each
  view (:func:`webapp.timewords.fill_relative`), as a new rendering would.
- The forms' CSRF tokens, signed when the page was rendered: Flask-WTF accepts
  them for an hour (``WTF_CSRF_TIME_LIMIT``), and a page is kept :data:`MAX_AGE`
  at most. They sign the same session's secret a new rendering would.

Why a kept page is never the wrong one: it is found by the store id and the
sealed record this request opened, from the store or from the near cache
(:mod:`webapp.session_cache`), which the store keeps true. Every write of a
record seals it anew (a fresh nonce), so any change to the session, by this
request or any other on any instance, makes a new record no kept page matches;
a session signed out anywhere has no record to open, and its request never
reaches the view. The view says when a page may not be kept (the account page
that explains a failed refresh: the explanation is for that view alone).

What it costs: at most ``session.page_cache`` pages per process (an account
page is 12-18 KB), one per session, each dropped after :data:`MAX_AGE`. They
hold what the page shows (names, e-mail, decoded claims), as the token views of
:mod:`webapp.tokens` already do in the same process; never a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Flask, current_app, request

from . import config, sessions, timewords
from .recent import Recent

EXTENSION = "fedlab_rendered_pages"
#: Seconds a page is kept: far below Flask-WTF's hour for its CSRF tokens, and
#: the session's touch interval, after which the record is rewritten anyway.
MAX_AGE = sessions.TOUCH_INTERVAL


@dataclass(frozen=True, slots=True)
class Kept:
    """A rendered page, cut around its relative times, and what it was made from."""

    record: bytes
    texts: tuple[str, ...]
    epochs: tuple[int, ...]
    made_at: float


class RenderedPages:
    """At most ``size`` rendered pages, least recently shown dropped first, each
    shown for ``max_age`` seconds at most and only with the record it was
    rendered from."""

    def __init__(self, size: int, max_age: float = MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self._pages: Recent[Hashable, Kept] = Recent(size)

    def get(self, key: Hashable, record: bytes) -> str | None:
        """The page kept under ``key`` for ``record``, its times' words as of now."""
        kept = self._pages.get(key)
        if kept is None:
            return None
        if kept.record != record or self.clock() - kept.made_at >= self.max_age:
            self._pages.discard(key, kept)
            return None
        return timewords.fill_relative(kept.texts, kept.epochs)

    def keep(self, key: Hashable, record: bytes, page: str) -> None:
        """Keep ``page``, rendered from ``record``, under ``key`` (replacing any
        page of an older record: one page per key)."""
        texts, epochs = timewords.relative_slots(page)
        self._pages.put(key, Kept(record, texts, epochs, self.clock()))

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app: Flask) -> None:
    """Keep pages when ``session.page_cache`` allows any."""
    size = config.settings(app).session.page_cache
    if size:
        app.extensions[EXTENSION] = RenderedPages(size)


def per_record(render: Callable[[], str]) -> str:
    """``render()``, or the page it gave for the same session record before.

    The key is the store id, the view and the script root (the page's links
    depend on it); the record is the one this request opened, while this
    request has not changed the session (:func:`webapp.sessions.record_as_read`).
    """
    pages: RenderedPages | None = current_app.extensions.get(EXTENSION)
    seen = sessions.record_as_read() if pages is not None else None
    if pages is None or seen is None:
        return render()
    store_id, record = seen
    key = (store_id, request.endpoint, request.script_root)
    page = pages.get(key, record)
    if page is None:
        page = render()
        # A page whose rendering changed the session (a notice shown once) would
        # never be matched again: the change is written as a new record.
        if sessions.record_as_read() == seen:
            pages.keep(key, record, page)
    return page
