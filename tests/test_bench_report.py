"""The benchmark report and the README's quote of it (bench/report.py, bench/quote.py).

The README's Benchmarks figures are rewritten from bench/results/report.json by
every ``make bench``; these tests hold the README to the committed report, and
the Targets table to the issue's thresholds, by running the script as the
Makefile does and reading what it writes.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUOTE = ROOT / "bench" / "quote.py"
REPORT = ROOT / "bench" / "results" / "report.json"
BEGIN = "<!-- bench:begin"
END = "<!-- bench:end -->"


def quote(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(QUOTE), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def block(text: str) -> str:
    return text[text.index(BEGIN):text.index(END)]


def test_the_readme_quotes_the_committed_report():
    """A hand edit of the quoted figures, or a README left behind the latest
    ``make bench``, fails here: run ``make bench`` or ``bench/quote.py``."""
    checked = quote("--check")
    assert checked.returncode == 0, checked.stderr


def test_a_figure_edited_by_hand_is_caught(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    quoted = block(text)
    edited = quoted.replace("| 1 |", "| 1.0 |", 1).replace(" B |", " bytes |", 1)
    assert edited != quoted
    readme.write_text(text.replace(quoted, edited))
    checked = quote("--check", "--readme", str(readme))
    assert checked.returncode == 1
    assert "does not quote" in checked.stderr and "bytes |" in checked.stderr


def test_a_readme_without_the_block_is_caught(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    readme.write_text(text.replace(block(text), "").replace(END, ""))
    checked = quote("--check", "--readme", str(readme))
    assert checked.returncode == 1
    assert "no quoted benchmark block" in checked.stderr


def synthetic(account_to_quickstart: float, account_to_bare: float, signin: float,
              growth: float, signed_out_at_once: int) -> dict:
    """The committed report with its target figures replaced by these."""
    report = json.loads(REPORT.read_text())
    report.pop("targets", None)
    ratios = report["page_rates"]["ratios"]
    ratios["account/quickstart_cookie"] = {"median": account_to_quickstart, "min": 0.5,
                                           "max": 2.0, "n": 11}
    ratios["account/bare"] = {"median": account_to_bare, "min": 0.1, "max": 0.9, "n": 11}
    report["signin_paired"]["ratio"] = {"median": signin, "min": 0.8, "max": 1.3, "n": 30}
    for run in report["signin_far"]["runs"]:
        run["ratio"] = {"median": signin, "min": 0.8, "max": 1.3, "n": 30}
    report["memory"]["account"]["growth_mib"] = [1.0, growth]
    seen = report["near_cache"]["sign_out_seen"]
    seen["first_request_signed_out"] = min(signed_out_at_once, seen["trials"])
    return report


def rendered_targets(tmp_path, report: dict) -> list[tuple[str, str]]:
    """Rewrite a README copy from ``report``; each Targets row: target, verdict."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    written = quote("--readme", str(readme), "--report", str(path))
    assert written.returncode == 0, written.stderr
    rows = [line.split(" | ") for line in block(readme.read_text()).splitlines()
            if line.startswith(("| 1.", "| 2.", "| 3."))]
    return [(cells[0].lstrip("| "), cells[-1].rstrip(" |")) for cells in rows]


@pytest.mark.parametrize(("figures", "verdicts"), [
    ((1.05, 0.61, 0.97, 9.5, 99), ["met"] * 9),
    ((0.99, 0.59, 1.01, 10.5, 0), ["**not met**"] * 9),
])
def test_each_target_is_judged_against_its_threshold(tmp_path, figures, verdicts):
    got = rendered_targets(tmp_path, synthetic(*figures))
    assert [target.split()[0] for target, _ in got] == ["1.", "1.", "1.", "2.", "2.", "2.", "2.",
                                                        "2.", "3."], got
    assert [target for target, _ in got if "HTTPS" in target] == [
        "2. the same, the provider over HTTPS on loopback (TLS and kept connections alone)",
        "2. the same, the provider over HTTPS 1 ms away each way (2 ms round trip)",
        "2. the same, the provider over HTTPS 10 ms away each way (20 ms round trip)",
        "2. the same, the provider over HTTPS 10 ms away each way, ending connections idle "
        "for 50 ms (each worker's before its next sign-in)"], got
    assert [verdict for _, verdict in got] == verdicts, got


def test_each_distance_is_judged_on_its_own_figure(tmp_path):
    """The lab's sign-in and each distance's are rows of their own: a figure
    from one row never decides another's verdict."""
    report = synthetic(1.05, 0.61, 1.25, 9.5, 99)
    for run, ratio in zip(report["signin_far"]["runs"], (1.004, 0.93, 0.84, 1.02),
                          strict=True):
        run["ratio"] = {"median": ratio, "min": 0.7, "max": 1.4, "n": 30}
    got = [(target, verdict) for target, verdict in rendered_targets(tmp_path, report)
           if target.startswith("2.")]
    assert [verdict for _, verdict in got] == ["**not met**", "**not met**", "met", "met",
                                               "**not met**"], got
    rows = [line for line in block((tmp_path / "README.md").read_text()).splitlines()
            if line.startswith("| 2.")]
    assert [row.split(" | ")[1] for row in rows] == ["1.25x", "1.00x", "0.93x", "0.84x",
                                                     "1.02x"], rows


def test_the_quoted_block_says_which_run_it_is_and_on_what(tmp_path):
    report = json.loads(REPORT.read_text())
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    assert quote("--readme", str(readme)).returncode == 0
    quoted = block(readme.read_text())
    machine = report["machine"]
    assert report["generated"] in quoted
    assert f"{machine['cores']} cores ({machine['cpu']})" in quoted
    assert f"Python {machine['python']}" in quoted
    assert f"load client {machine['load_client']}" in quoted
    loads = [row["loadavg"][0] for row in report["page_rates"]["rounds"]]
    assert f"load average {min(loads):.1f}-{max(loads):.1f} over the rounds" in quoted
