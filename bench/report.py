"""The benchmark report: the issue's targets with their figures, then the detail.

``targets(report)`` turns a run's figures (report.json) into the Targets table,
each target's ratio (median), spread (min-max), threshold and whether it is met;
``markdown(report)`` writes report.md from the same figures. bench/quote.py puts
a summary of the same run into the README.
"""

from __future__ import annotations

import statistics

#: The page-rate targets, by name: what each loads (bench/run.py builds them).
PAGES = {
    "account": "our /account, Redis sessions, near cache and page cache on",
    "account_nocache": "our /account, Redis sessions, near cache off, page cache on",
    "account_rendering": "our /account, near cache on, page cache off (rendered every view)",
    "account_visitors": ("our /account, both caches on, more visitors in turn than the "
                         "page cache keeps"),
    "quickstart_cookie": "Auth0 quickstart /, cookie session",
    "quickstart_redis": "the same quickstart on flask-session + Redis",
    "bare": "bare Flask route",
    "hello": "our /bench/hello, no cookie",
    "hello_signed_in": "our /bench/hello, the visitor's cookie",
}
#: The ratios taken within each round: name -> (numerator, denominator).
RATIOS = {
    "account/quickstart_cookie": ("account", "quickstart_cookie"),
    "account/bare": ("account", "bare"),
    "account_nocache/quickstart_cookie": ("account_nocache", "quickstart_cookie"),
    "account_nocache/bare": ("account_nocache", "bare"),
    "account/account_nocache": ("account", "account_nocache"),
    "account_rendering/quickstart_cookie": ("account_rendering", "quickstart_cookie"),
    "account_rendering/bare": ("account_rendering", "bare"),
    "account/account_rendering": ("account", "account_rendering"),
    "account_visitors/quickstart_cookie": ("account_visitors", "quickstart_cookie"),
    "account_visitors/bare": ("account_visitors", "bare"),
    "quickstart_cookie/bare": ("quickstart_cookie", "bare"),
    "quickstart_redis/bare": ("quickstart_redis", "bare"),
    "hello/bare": ("hello", "bare"),
    "hello_signed_in/bare": ("hello_signed_in", "bare"),
}
MEMORY_LIMIT_MIB = 10.0


def _row(target: str, figure: dict | None, threshold: str, met: bool | None,
         unit: str = "x") -> dict:
    return {"target": target, "median": figure and figure["median"],
            "min": figure and figure["min"], "max": figure and figure["max"],
            "unit": unit, "threshold": threshold,
            "met": None if met is None or figure is None else bool(met)}


def targets(report: dict) -> list[dict]:
    """The issue's targets 1-3, each measured in this run."""
    rows = []
    rates = report.get("page_rates")
    if rates:
        r = rates["ratios"]
        rows.append(_row("1. /account (both caches on, one visitor) ÷ quickstart "
                         "cookie-session page", r["account/quickstart_cookie"], ">= 1.0",
                         r["account/quickstart_cookie"]["median"] >= 1.0))
        rows.append(_row("1. /account (both caches on, one visitor) ÷ bare route",
                         r["account/bare"], ">= 0.6", r["account/bare"]["median"] >= 0.6))
    seen = (report.get("near_cache") or {}).get("sign_out_seen")
    if seen:
        share = seen["first_request_signed_out"] / seen["trials"]
        rows.append(_row("1. sign-out on one instance seen by another on its next request "
                         f"(share of {seen['trials']} trials)",
                         {"median": round(share, 3), "min": round(share, 3),
                          "max": round(share, 3)}, "= 1", share == 1.0, unit=""))
    paired = report.get("signin_paired")
    if paired:
        rows.append(_row(f"2. sign-in time ÷ quickstart's, paired ({paired['pairs']} pairs), "
                         "the provider on loopback over plain HTTP (the lab)",
                         paired["ratio"], "<= 1.0", paired["ratio"]["median"] <= 1.0))
    for run in (report.get("signin_far") or {}).get("runs", []):
        rows.append(_row(f"2. the same, the provider over HTTPS {distance(run)}",
                         run["ratio"], "<= 1.0", run["ratio"]["median"] <= 1.0))
    memory = report.get("memory")
    if memory and "account" in memory:
        growth = memory["account"]["growth_mib"]
        figure = {"median": round(statistics.median(growth), 2), "min": min(growth),
                  "max": max(growth)}
        rows.append(_row(f"3. worker RSS growth over {memory['account']['steps'][-1]:,} sign-ins, "
                         "ours (MiB, per worker)", figure, f"<= {MEMORY_LIMIT_MIB:g}",
                         max(growth) <= MEMORY_LIMIT_MIB, unit=" MiB"))
    return rows


def distance(run: dict) -> str:
    """How far away the provider was, in words."""
    one_way = run["one_way_ms"]
    if run.get("idle_timeout_s"):
        return (f"{one_way:g} ms away each way, ending connections idle for "
                f"{run['idle_timeout_s'] * 1000:g} ms (each worker's before its next sign-in)")
    if not one_way:
        return "on loopback (TLS and kept connections alone)"
    return f"{one_way:g} ms away each way ({2 * one_way:g} ms round trip)"


def difference(paired: dict) -> str:
    """Ours minus the quickstart's, per pair (ms), where the run measured it."""
    d = paired.get("difference_ms")
    return f", ours minus the quickstart's {d['median']:+.1f} ms ({d['min']:+.1f} to " \
        f"{d['max']:+.1f})" if d else ""


def far_lines(report: dict) -> list[str]:
    far = report["signin_far"]
    lines = []
    for run in far["runs"]:
        lines.append(f"- The provider {distance(run)}: ours {_span(run['ours_ms'], 1)} ms, "
                     f"the quickstart's {_span(run['quickstart_ms'], 1)} ms; per pair, ratio "
                     f"{_span(run['ratio'], 2)}{difference(run)}.")
    opened = far.get("connections_per_sign_in") or {}
    for how, words in (("kept", "keeping connections"),
                       ("idle_timeout", "ending idle connections")):
        if how in opened:
            lines.append(f"- Connections one sign-in opened to the provider {words}, the "
                         f"browser's included (a TLS handshake each): ours "
                         f"{opened[how]['ours']}, the quickstart's {opened[how]['quickstart']}.")
    return lines


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "**not met**")


def figure(row: dict) -> tuple[str, str]:
    if row["median"] is None:
        return "-", "-"
    unit = row["unit"]
    return f"{row['median']:.2f}{unit}", f"{row['min']:.2f}-{row['max']:.2f}"


def targets_table(rows: list[dict]) -> list[str]:
    lines = ["| target | measured (median) | spread (min-max) | threshold | verdict |",
             "|---|---:|---:|---|---|"]
    for row in rows:
        median, span = figure(row)
        lines.append(f"| {row['target']} | {median} | {span} | {row['threshold']} | "
                     f"{verdict(row['met'])} |")
    return lines


def machine_line(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    return (f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, load client "
            f"{m['load_client']} on the same cores; every app under gunicorn "
            f"-w {s['workers']} --threads {s['threads']} -k gthread; "
            f"{s['rounds']} rounds of {s['seconds']:g} s per target, "
            f"{s['connections']} connections"
            + (f"; {s['visitors']} visitors take turns on the many-visitors page"
               if s.get("visitors") else ""))


def _span(v: dict, digits: int = 0) -> str:
    return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}-{v['max']:.{digits}f})"


def rates_table(report: dict) -> list[str]:
    rates = report["page_rates"]
    lines = ["| page | req/s, median (min-max) | ÷ bare, same round "
             "| ÷ quickstart's page, same round | cookie sent |",
             "|---|---:|---:|---:|---:|"]
    for name, what in PAGES.items():
        if name not in rates["rps"]:  # a run from before this page was measured
            continue
        rps = rates["rps"][name]
        ratio = rates["ratios"].get(f"{name}/bare")
        peer = rates["ratios"].get(f"{name}/quickstart_cookie")
        cookie = rates["cookie_bytes"].get(name)
        lines.append(f"| {what} | {_span(rps)} | "
                     f"{_span(ratio, 2) if ratio else '1' if name == 'bare' else '-'} | "
                     f"{_span(peer, 2) if peer else '1' if name == 'quickstart_cookie' else '-'}"
                     f" | {f'{cookie:,} B' if cookie else 'none'} |")
    return lines


def memory_table(report: dict) -> list[str]:
    memory = report["memory"]
    steps = list(next(iter(memory.values()))["workers_mib"])
    lines = ["| app | " + " | ".join(f"workers' RSS, {s} (MiB)" for s in steps)
             + " | growth (MiB) |", "|---|" + "---:|" * (len(steps) + 1)]
    for name, row in memory.items():
        lines.append(f"| {PAGES.get(name, name)} | "
                     + " | ".join(", ".join(f"{x:.1f}" for x in row["workers_mib"][s])
                                  for s in steps)
                     + " | " + ", ".join(f"{x:+.1f}" for x in row["growth_mib"]) + " |")
    return lines


def near_cache_lines(report: dict) -> list[str]:
    near = report.get("near_cache") or {}
    lines = []
    ratio = report.get("page_rates", {}).get("ratios", {}).get("account/account_nocache")
    if ratio:
        lines.append(f"- /account with the near cache ÷ without, same round: {_span(ratio, 2)}.")
    seen = near.get("sign_out_seen")
    if seen:
        ms = seen["sign_out_to_signed_out_ms"]
        lines.append(
            f"- Sign-out on instance A (near cache off), instance B (near cache on, the "
            f"session viewed there first, its last view served from B's copy with no Redis "
            f"GET in {seen['trials'] - seen.get('trials_without_a_copy', 0)} of "
            f"{seen['trials']} trials): B's first request after the sign-out, with the "
            f"session id the browser had, was signed out in "
            f"{seen['first_request_signed_out']} of {seen['trials']} trials; from "
            f"sending the sign-out to B's signed-out answer "
            + (f"{ms['median']:.1f} ms ({ms['min']:.1f}-{ms['max']:.1f})" if ms else "never")
            + f"; still signed in after {seen['wait_s']:g} s: "
            f"{seen['still_signed_in_after_wait']}.")
    churn = near.get("under_churn")
    if churn:
        lines.append(
            f"- While another client signs in and out on instance A "
            f"({churn['cycles_per_s']:.1f} sign-in/sign-out cycles a second, paced at "
            f"{churn.get('paced_per_s', '-')} so it weighs alike on both sides, each writing and "
            f"deleting a session record, so every tracking connection is told): /account "
            f"with the near cache {_span(churn['rps']['account'])} req/s, without "
            f"{_span(churn['rps']['account_nocache'])}; with ÷ without, same round: "
            f"{_span(churn['ratio'], 2)} ({churn['rounds_count']} rounds).")
    return lines


def rounds_table(rows: list[dict]) -> list[str]:
    names = list(rows[0]["rps"])
    lines = ["| round | load avg (1, 5, 15 min) | order | " + " | ".join(names) + " |",
             "|---:|---|---|" + "---:|" * len(names)]
    for row in rows:
        lines.append(f"| {row['round']} | {', '.join(f'{x:.2f}' for x in row['loadavg'])} | "
                     f"{', '.join(row['order'])} | "
                     + " | ".join(f"{row['rps'][n]:.0f}" for n in names) + " |")
    return lines


def markdown(report: dict) -> str:
    lines = ["# Benchmark report", "",
             f"Machine: {machine_line(report)}. {report['machine']['system']}. "
             f"Run of {report.get('generated', '?')}, took {report['seconds']:.0f} s.", "",
             "## Targets", ""]
    lines += targets_table(report.get("targets") or targets(report))
    if report.get("page_rates"):
        rates = report["page_rates"]
        lines += ["", "## Page rates", "", *rates_table(report)]
        lines += ["", "Ratios within each round, then min/median/max over the rounds:", "",
                  "| ratio | median (min-max) |", "|---|---:|"]
        lines += [f"| {k} | {_span(v, 2)} |" for k, v in rates["ratios"].items()]
        lines += ["", f"Redis commands during the /account loads: "
                  f"{rates['redis_commands_during_account']}.", "", "Each round:", ""]
        lines += rounds_table(rates["rounds"])
        if rates.get("non_2xx"):
            lines += ["", f"Non-2xx answers: {rates['non_2xx']}"]
    if report.get("near_cache") or report.get("page_rates"):
        lines += ["", "## Near cache (session.client_cache)", "", *near_cache_lines(report)]
    paired = report.get("signin_paired")
    if paired:
        lines += ["", f"## Sign-in, paired ({paired['pairs']} pairs, alternating which goes "
                  "first, /login to the landing page at the client)", "",
                  f"Ours {_span(paired['ours_ms'], 1)} ms, the quickstart's "
                  f"{_span(paired['quickstart_ms'], 1)} ms; per pair, ratio "
                  f"{_span(paired['ratio'], 2)}{difference(paired)}."]
    if report.get("signin_far"):
        lines += ["", "## Sign-in, paired, with the provider at a distance (bench/distance.py: "
                  "the stand-ins behind HTTPS that keeps connections, and a delay each way; "
                  f"{report['signin_far']['runs'][0]['pairs']} pairs at each distance)", "",
                  *far_lines(report)]
    if report.get("memory"):
        m = next(iter(report["memory"].values()))
        lines += ["", "## Worker memory (each sign-in followed by one view of the signed-in "
                  f"page; {m['warm_signins']} sign-ins as warm-up)", "", *memory_table(report)]
        failed = {k: v["failed"] for k, v in report["memory"].items() if v["failed"]}
        if failed:
            lines += ["", f"Failed sign-ins: {failed}"]
    lines += ["", *other_sections(report)]
    return "\n".join(lines).rstrip() + "\n"


def other_sections(report: dict) -> list[str]:
    """The measurements kept from earlier rounds (issue 6)."""
    lines = []
    timing = report.get("signin_time")
    if timing:
        lines += ["## Sign-in time in the app", "",
                  f"{timing['signins']} sign-ins ({', '.join(timing['providers'])}): the "
                  f"callback {timing['callback_ms']['median']} ms median "
                  f"(p95 {timing['callback_ms']['p95']}), of which outbound calls "
                  f"{timing['outbound_ms']['median']} ms; in the app "
                  f"{timing['in_app_ms']['median']} ms (p95 {timing['in_app_ms']['p95']}). "
                  f"Outbound calls per callback: {timing['outbound_calls_seen']}.", ""]
    calls = report.get("outbound_calls")
    if calls:
        lines += ["## Outbound calls per sign-in (at the stand-ins, after a warm-up)", ""]
        for provider, row in calls.items():
            batched = row["operations_in_batches"]
            lines.append(f"- {provider}: {row['per_signin']:g} — {row['by_endpoint']}"
                         + (f" (inside the batch request: {batched})" if batched else "")
                         + f"; discovery and keys fetched during the run: "
                         f"{row['metadata_fetches_in_run'] or 0}")
        lines.append("")
    creds = report.get("credentials")
    if creds:
        lines += ["## Credentials", "",
                  f"Federating (the first view after a sign-in, {creds['federate_ms']['n']} "
                  f"sign-ins): {_span(creds['federate_ms'], 1)} ms, AWS calls "
                  f"{creds['calls_first_view']}; later views {_span(creds['later_view_ms'], 1)}"
                  f" ms, AWS calls {creds['calls_later_views'] or 0}.", ""]
    s3 = report.get("storage")
    if s3:
        b = s3["bytes"]
        lines += ["## S3", "",
                  f"First listing page of {s3['objects']:,} objects "
                  f"{_span(s3['first_page_ms'], 1)} ms ({s3['views']} views), of which the app "
                  f"{s3['app_part_ms']:.1f} ms; one-object listing "
                  f"{_span(s3['one_object_page_ms'], 1)} ms. Upload and download of "
                  f"{b['object_bytes']:,} bytes: the app answered {b['app_response_bytes']:,} "
                  f"bytes holding {b['object_chunks_in_app_responses']} chunks of the object.", ""]
    size = report.get("sizes")
    if size:
        lines += ["## Sizes (ours, Redis store)", "",
                  "| provider | cookie bytes | stored bytes after sign-in | after credentials |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {p} | {r['set_cookie_header_bytes']} | {r['stored_bytes_after_signin']} | "
                  f"{r['stored_bytes_after_credentials']} |" for p, r in size.items()]
    return lines
