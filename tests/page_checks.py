"""What every page must be, checked in Chromium: accessible (axe-core finds no
violation), usable at a phone's width (no horizontal scroll at 320 px, no label
cut mid-word at 375 px), and photographed at 375 px and 1280 px for the README's
tour.

``inspect_page(page, name)`` runs all three on the page Playwright is showing;
the browser tests call it on every page of the site and of the stand-ins,
signed out, as a guest and signed in.
"""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

from .conftest import ROOT

#: Where the screenshots go (``<name>-375.png``, ``<name>-1280.png``); the README
#: names this folder. Not committed: ``make test`` writes it anew.
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = (375, 1280)
NARROWEST = 320
HEIGHT = 900
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

_axe = Axe()
#: The names written in this test session: one page photographed under one name, so the
#: README's tour never shows whichever of two tests happened to run last.
_written: set[str] = set()


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page, one readable line each (rule, impact,
    the first offending elements), so a failure says what to fix."""
    results = _axe.run(page)
    lines = []
    for violation in results.response["violations"]:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} "
                     f"-- {targets}")
    return lines


def horizontal_overflow(page, width: int = NARROWEST) -> int:
    """How many CSS pixels the page is wider than a ``width``-px viewport (0: none)."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth")


#: Where a word must never be cut in two at a phone's width: labels, headings,
#: buttons; not values (ids, ARNs, URLs), which may break anywhere not to widen it.
LABELS = "th, dt, label, summary, button, .button, h1, h2, h3, nav a"


def split_words(page, width: int = WIDTHS[0]) -> list[str]:
    """The words of labels (:data:`LABELS`, outside ``code``) that a ``width``-px
    viewport cuts across two lines: a column squeezed until "Identity" reads
    "Iden / tity". A word is letters only, so a break at a hyphen is no cut."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    return page.evaluate("""(selector) => {
      const cut = [];
      for (const element of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          if (node.parentElement.closest("code, pre")) continue;
          for (const match of node.data.matchAll(/[A-Za-z]{2,}/g)) {
            const range = document.createRange();
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            if (tops.size > 1) cut.push(`${element.tagName.toLowerCase()}: ${match[0]}`);
          }
        }
      }
      return cut;
    }""", LABELS)


def screenshot(page, name: str) -> list[Path]:
    """Full-page screenshots of the page at each of :data:`WIDTHS`."""
    assert NAME.fullmatch(name), name
    assert name not in _written, f"a second screenshot named {name!r} in this run"
    _written.add(name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    return paths


def inspect_page(page, name: str) -> None:
    """axe-core at 1280 and 375 px, no horizontal scroll at 320 px, no label cut
    mid-word at 375 px, and the screenshots; the viewport is left at 1280 px."""
    problems = []
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": HEIGHT})
        problems += [f"at {width} px: {v}" for v in axe_violations(page)]
    overflow = horizontal_overflow(page)
    if overflow > 0:
        problems.append(f"at {NARROWEST} px the page scrolls sideways by {overflow} px")
    problems += [f"at {WIDTHS[0]} px a word is cut across lines: {cut}"
                 for cut in split_words(page)]
    screenshot(page, name)
    page.set_viewport_size({"width": 1280, "height": HEIGHT})
    assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
