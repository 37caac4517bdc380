"""The README's Benchmarks figures, rendered from bench/results/report.json.

    .venv/bin/python bench/quote.py            # rewrite the README's quoted block
    .venv/bin/python bench/quote.py --check    # exit 1 if it differs from report.json

``make bench`` rewrites the block between the two marker comments after every
run, so the README never holds older figures than the latest run; the check (a
test in ``make test``) catches a hand edit or a README left behind its report.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report as reporting

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REPORT = ROOT / "bench" / "results" / "report.json"
BEGIN = "<!-- bench:begin (bench/quote.py writes this block from bench/results/report.json) -->"
END = "<!-- bench:end -->"


def render(report: dict) -> str:
    """The quoted block: the machine, the targets, the page rates and the memory."""
    lines = [BEGIN, "",
             f"Run of {report.get('generated', 'bench/run.py')}: "
             f"{reporting.machine_line(report)}"
             + load_averages(report)
             + (" (a --quick run: too short to judge by)" if report["settings"].get("quick")
                else "") + ".", ""]
    lines += reporting.targets_table(report.get("targets") or reporting.targets(report))
    if report.get("page_rates"):
        lines += ["", *reporting.rates_table(report)]
    near = reporting.near_cache_lines(report)
    if near:
        lines += ["", "The near cache of session records:", "", *near]
    if report.get("memory"):
        lines += ["", *reporting.memory_table(report)]
    lines += ["", END]
    return "\n".join(lines)


def load_averages(report: dict) -> str:
    """The machine's 1-minute load average over the page-rate rounds: how busy
    the shared cores were while the figures were taken."""
    rows = (report.get("page_rates") or {}).get("rounds") or []
    if not rows:
        return ""
    loads = [row["loadavg"][0] for row in rows]
    return f"; load average {min(loads):.1f}-{max(loads):.1f} over the rounds"


def quoted(text: str) -> str | None:
    """The block between the markers in ``text``, markers included; None without them."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start:end + len(END)]


def rewrite(readme: Path, report: dict) -> None:
    text = readme.read_text()
    block = quoted(text)
    if block is None:
        raise SystemExit(f"{readme}: no {BEGIN!r} ... {END!r} block to rewrite")
    readme.write_text(text.replace(block, render(report)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="say whether the README's block matches, change nothing")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--report", type=Path, default=REPORT)
    options = parser.parse_args(argv)
    report = json.loads(options.report.read_text())
    if not options.check:
        rewrite(options.readme, report)
        return 0
    block, expected = quoted(options.readme.read_text()), render(report)
    if block == expected:
        return 0
    if block is None:
        print(f"{options.readme}: no quoted benchmark block ({BEGIN})", file=sys.stderr)
    else:
        sys.stderr.writelines(difflib.unified_diff(
            block.splitlines(keepends=True), expected.splitlines(keepends=True),
            f"{options.readme.name} (quoted)", f"rendered from {options.report.name}"))
        print(f"\n{options.readme.name} does not quote {options.report}: run "
              "`make bench` (or bench/quote.py after a run)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
