"""``make bench``'s harness (bench/run.py) run end to end in its --quick mode.

It starts its own stand-ins, Redis and gunicorns on free loopback ports; this
test reads only what it writes (report.json, report.md) and checks what the
issue asks of a run: the peers measured beside ours, rounds rotated with the
load average beside each, ratios per round, the targets judged, and a
sign-out on one instance of ours seen by the other on its next request.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, require

PAGES = ["account", "account_nocache", "account_rendering", "account_visitors",
         "quickstart_cookie", "quickstart_redis", "bare", "hello", "hello_signed_in"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require(shutil.which("redis-server") is not None,
            "redis-server missing: the harness starts its own (make system-deps)")
    results = tmp_path_factory.mktemp("bench-results")
    readme = (ROOT / "README.md").read_bytes()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                           "--no-readme", "--results", str(results)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (ROOT / "README.md").read_bytes() == readme, "--no-readme changed the README"
    return json.loads((results / "report.json").read_text()), \
        (results / "report.md").read_text(), done.stdout


def test_every_page_is_loaded_in_every_round_in_a_rotated_order(run):
    report, _, _ = run
    rows = report["page_rates"]["rounds"]
    assert [row["order"] for row in rows] == [PAGES, PAGES[1:] + PAGES[:1]]
    for row in rows:
        assert len(row["loadavg"]) == 3
        assert sorted(row["rps"]) == sorted(PAGES) and all(row["rps"][p] > 0 for p in PAGES)
    assert report["page_rates"]["non_2xx"] == {}, "a page answered other than 200 under load"


def test_ratios_are_taken_within_a_round(run):
    report, _, _ = run
    rows, ratio = report["page_rates"]["rounds"], report["page_rates"]["ratios"]["account/bare"]
    per_round = sorted(row["rps"]["account"] / row["rps"]["bare"] for row in rows)
    assert ratio["min"] == round(per_round[0], 3) and ratio["max"] == round(per_round[-1], 3)


def test_the_cookie_each_app_makes_its_visitor_send(run):
    report, _, _ = run
    cookies = report["page_rates"]["cookie_bytes"]
    assert cookies["bare"] == 0 and cookies["hello"] == 0
    assert cookies["account"] < 100 and cookies["quickstart_redis"] < 100
    assert 0 < cookies["account_visitors"] < 100
    assert cookies["quickstart_cookie"] > 1000, "the quickstart's cookie carries the tokens"


def test_the_machine_and_the_targets_head_the_report(run):
    report, markdown, stdout = run
    machine = report["machine"]
    assert machine["cores"] == os.cpu_count() and machine["python"] and machine["cpu"]
    assert stdout.startswith("machine: ")
    targets = report["targets"]
    assert [t["target"].split()[0] for t in targets] == ["1.", "1.", "1.", "2.", "2.", "2.", "2.",
                                                         "2.", "3."]
    for target in targets:
        assert target["met"] in (True, False) and target["threshold"]
        assert target["min"] <= target["median"] <= target["max"]
    assert markdown.index("## Targets") < markdown.index("## Page rates")


def test_a_sign_out_on_one_instance_is_seen_by_the_other_at_once(run):
    report, _, _ = run
    seen = report["near_cache"]["sign_out_seen"]
    assert seen["trials"] > 0
    assert seen["first_request_signed_out"] == seen["trials"], seen


def test_memory_is_read_for_ours_and_both_quickstarts(run):
    report, _, _ = run
    memory = report["memory"]
    assert sorted(memory) == ["account", "quickstart_cookie", "quickstart_redis"]
    for row in memory.values():
        assert row["failed"] == 0
        sizes = list(row["workers_mib"].values())
        assert len(sizes) == 3 and all(len(s) == 2 and min(s) > 10 for s in sizes)


def test_the_sign_in_is_paired_with_the_quickstarts(run):
    report, _, _ = run
    paired = report["signin_paired"]
    assert paired["pairs"] > 0 and paired["ratio"]["n"] == paired["pairs"]
    assert paired["quickstart_ms"]["median"] > 0 and paired["ours_ms"]["median"] > 0


def test_the_sign_in_is_paired_again_with_the_provider_at_each_distance(run):
    """Through the far provider (bench/distance.py), at every distance of the run,
    then the farthest with an idle timeout shorter than a sign-in. Kept, ours
    keeps its connection to the provider, so its sign-in opens only the
    browser's, where the quickstart's opens one more for its token request;
    with the timeout both open that one."""
    report, _, _ = run
    far = report["signin_far"]
    assert [(r["one_way_ms"], r.get("idle_timeout_s")) for r in far["runs"]] == [
        (0.0, None), (1.0, None), (10.0, None), (10.0, 0.05)]
    for paired in far["runs"]:
        assert paired["pairs"] > 0 and paired["ratio"]["n"] == paired["pairs"]
    assert far["connections_per_sign_in"] == {"kept": {"ours": 1, "quickstart": 2},
                                              "idle_timeout": {"ours": 2, "quickstart": 2}}
    # 10 ms each way: a sign-in waits at least four round trips (the browser's
    # handshake, the authorize page, the sign-in POST, the token request), one
    # more with a new connection for the token request (its handshake).
    kept, idle = far["runs"][2], far["runs"][3]
    assert kept["ours_ms"]["min"] >= 4 * 20
    assert kept["quickstart_ms"]["min"] >= 5 * 20
    assert idle["ours_ms"]["min"] >= 5 * 20
