"""Where each lane, arrow and line of text of the sign-in picture goes.

The picture is drawn on the server as inline SVG: the CSP allows no script,
so the geometry is computed here, in user units of the SVG's ``viewBox``, and
the template only writes it out. The lanes stand on the left, each step is
one row with its arrow between two lanes, and its words (method, path, the
parameter names, duration, outcome, the checks passed) stand to the right of
the lanes, wrapped, so a long list of names never runs across another lane.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .steps import BROWSER, LANES, POOL, PROVIDER, SITE, STS, Picture, Step

LANE_X0 = 70
LANE_GAP = 120
TEXT_X = LANE_X0 + LANE_GAP * (len(LANES) - 1) + 60
WIDTH = TEXT_X + 520
HEADER = 56
LINE = 16
ROW_PAD = 14
SECTION = 34
#: Characters per line of a step's words.
WRAP = 64


@dataclass(frozen=True)
class Lane:
    key: str
    title: str
    x: int


@dataclass(frozen=True)
class Row:
    """One step: its number, arrow and words."""

    number: int
    step: Step
    source: Lane
    target: Lane
    top: int
    #: The arrow's height (a self-step is a loop from and back to its lane).
    y: int
    lines: tuple[str, ...]
    #: The words, as the ordered list says them.
    sentence: str

    @property
    def loop(self) -> bool:
        return self.source.key == self.target.key


@dataclass(frozen=True)
class Section:
    title: str
    y: int
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Diagram:
    text_x: int
    width: int
    height: int
    lanes: tuple[Lane, ...]
    sections: tuple[Section, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for section in self.sections for row in section.rows)


def lanes_of(picture: Picture) -> dict[str, Lane]:
    titles = {BROWSER: "Browser", SITE: "This site", PROVIDER: picture.provider_name,
              POOL: "Identity pool", STS: "STS"}
    return {key: Lane(key, titles[key], LANE_X0 + LANE_GAP * i) for i, key in enumerate(LANES)}


def words(step: Step) -> tuple[str, ...]:
    """What a step's row says, line by line."""
    head = step.what
    if step.method or step.path:
        head += f": {step.method} {step.path}".rstrip()
    facts = [f"{step.ms} ms" if step.ms is not None else "", step.outcome]
    head = f"{head} ({', '.join(f for f in facts if f)})" if any(facts) else head
    lines = textwrap.wrap(head, WRAP, break_on_hyphens=False)
    if step.params:
        lines += textwrap.wrap("carried: " + ", ".join(step.params), WRAP)
    if step.checks:
        lines += textwrap.wrap("passed: " + "; ".join(step.checks), WRAP)
    if step.note:
        lines += textwrap.wrap(step.note, WRAP)
    return tuple(lines)


def layout(picture: Picture) -> Diagram:
    """The diagram of ``picture``: the sign-in's steps, then the credentials request's."""
    lanes = lanes_of(picture)
    y = HEADER
    number = 0
    sections = []
    parts = [(f"Sign-in with {picture.provider_name}", picture.sign_in)]
    if picture.credentials:
        parts.append(("Credentials request", picture.credentials))
    for title, made in parts:
        section_y = y + 22
        y += SECTION
        rows = []
        for step in made:
            number += 1
            lines = words(step)
            height = max(2 * LINE, len(lines) * LINE) + ROW_PAD
            source = lanes.get(step.source, lanes[SITE])
            target = lanes.get(step.target, lanes[SITE])
            rows.append(Row(number, step, source, target, top=y, y=y + LINE,
                            lines=lines, sentence=" ".join(lines)))
            y += height
        sections.append(Section(title, section_y, tuple(rows)))
    return Diagram(TEXT_X, WIDTH, y + 10, tuple(lanes.values()), tuple(sections))
