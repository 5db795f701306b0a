"""Issue 15's figures side by side: search, analytics and pages in one run, each beside the machine's load.

    .venv/bin/python -m bench.together --sqlite data/bench/souq-1000000.db \\
        --postgres postgresql+psycopg://souq:souq@localhost/souq_perf15_1m [--sessions 1,5,20] [--logs DIR]

In the browser rounds two people use Chromium and the round's other sessions are colleagues over the websocket
(``bench/colleagues.py``): twenty Chromiums do not fit beside the app on two cores.

Runs, one after the other (never two at once): ``bench.search`` and ``bench.analytics`` on the SQLite file and,
if given, on PostgreSQL; then ``bench.pages`` server side and in the browser on the SQLite file. Each child's whole
output goes to ``--logs`` (default a new temporary directory); this prints the load average (1 minute) before and
after each, its ``RESULT`` figures, and at the end one table of every target with "met" or "MISSED".
The databases must exist already (``--reuse``): seeding is not what is being measured.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


@dataclass
class Run:
    """One child benchmark: its name, command and what it printed."""

    name: str
    args: list[str]
    results: dict[str, str] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0
    seconds: float = 0.0
    returncode: int = 0


@dataclass(frozen=True)
class Target:
    what: str
    run: str
    key: str
    limit: float
    unit: str


TARGETS = (
    Target("search worst p95, SQLite", "search sqlite", "p95_ms_worst", 30, "ms"),
    Target("search worst p95, PostgreSQL", "search postgresql", "p95_ms_worst", 30, "ms"),
    Target("report() 365 days, SQLite", "analytics sqlite", "report_365d_ms", 150, "ms"),
    Target("report() 365 days, PostgreSQL", "analytics postgresql", "report_365d_ms", 150, "ms"),
    Target("page run, server side, worst warm p95", "pages server", "server_page_p95_ms_worst", 150, "ms"),
    Target("server memory, page runs (peak RSS)", "pages server", "server_rss_mb", 350, "MB"),
    Target("browser: worst page p95 (all rounds)", "pages browser", "page_p95_ms_worst", 1000, "ms"),
    Target("browser: worst Analytics step p95", "pages browser", "analytics_p95_ms_worst", 1500, "ms"),
    Target("browser: log-in p95 (all rounds)", "pages browser", "login_p95_ms", 2500, "ms"),
)


def parse_results(output: str) -> dict[str, str]:
    """Every ``key=value`` of the output's ``RESULT`` lines; a later line's key wins (the overall figures)."""
    found: dict[str, str] = {}
    for line in RESULT.findall(output):
        for pair in line.split():
            key, _, value = pair.partition("=")
            if value:
                found[key] = value
    return found


def load1() -> float:
    return os.getloadavg()[0]


def run(child: Run, logs: Path) -> None:
    log = logs / (child.name.replace(" ", "-") + ".log")
    child.load_before = load1()
    started = time.perf_counter()
    print(f"\n== {child.name}: {' '.join(child.args)}  (load {child.load_before:.2f}; log {log})", flush=True)
    proc = subprocess.run([sys.executable, "-m", *child.args], cwd=ROOT, capture_output=True, text=True)
    child.seconds = time.perf_counter() - started
    child.load_after, child.returncode = load1(), proc.returncode
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    child.results = parse_results(proc.stdout)
    for line in RESULT.findall(proc.stdout):
        print(f"   RESULT {line}")
    print(f"   {child.seconds:.0f} s, exit {proc.returncode}, load {child.load_before:.2f} → {child.load_after:.2f}",
          flush=True)


def plan(args: argparse.Namespace) -> list[Run]:
    sqlite, rows = str(args.sqlite), str(args.rows)
    runs = [Run("search sqlite", ["bench.search", "--rows", rows, "--db", sqlite, "--reuse"]),
            Run("analytics sqlite", ["bench.analytics", "--rows", rows, "--db", sqlite, "--reuse"])]
    if args.postgres:
        runs += [Run("search postgresql", ["bench.search", "--rows", rows, "--url", args.postgres, "--reuse"]),
                 Run("analytics postgresql", ["bench.analytics", "--rows", rows, "--url", args.postgres, "--reuse"])]
    data_dir = str(args.sqlite.parent)
    runs.append(Run("pages server", ["bench.pages", "--rows", rows, "--data-dir", data_dir, "--mode", "server"]))
    if args.sessions:
        runs.append(Run("pages browser", ["bench.pages", "--rows", rows, "--data-dir", data_dir, "--mode", "browser",
                                          "--sessions", args.sessions, *args.browser_args]))
    return runs


def verdicts(runs: list[Run]) -> list[str]:
    by_name = {r.name: r for r in runs}
    lines = [f"{'target':42} {'measured':>10} {'limit':>8}  verdict   load during"]
    for target in TARGETS:
        child = by_name.get(target.run)
        if child is None:
            continue
        value = child.results.get(target.key)
        if value is None:
            lines.append(f"{target.what:42} {'—':>10} {target.limit:>6.0f} {target.unit}  NO FIGURE (exit "
                         f"{child.returncode}; see its log)")
            continue
        verdict = "met" if float(value) <= target.limit else "MISSED"
        lines.append(f"{target.what:42} {float(value):>8.1f} {target.unit} {target.limit:>5.0f} {target.unit}  "
                     f"{verdict:8}  {child.load_before:.2f} → {child.load_after:.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", type=Path, required=True, help="a seeded SQLite file (bench/pages.py's data dir)")
    parser.add_argument("--postgres", help="a seeded PostgreSQL URL (the same number of payments)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sessions", default="1,5,20", help="browser rounds; empty: no browser")
    parser.add_argument("--browser-arg", dest="browser_args", action="append",
                        help="passed on to bench.pages in browser mode (repeatable; default --browsers=2: two "
                             "people in Chromium, the round's other sessions colleagues over the websocket)")
    parser.add_argument("--logs", type=Path, help="where each child's output goes (default: a new temporary dir)")
    args = parser.parse_args()
    args.browser_args = args.browser_args or ["--browsers=2"]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-together-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"bench.together: {os.cpu_count()} CPUs, load {load1():.2f} at the start; logs in {logs}", flush=True)
    runs = plan(args)
    for child in runs:
        run(child, logs)
    print("\n" + "\n".join(verdicts(runs)))
    print(f"\nload average at the end: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return max(r.returncode for r in runs)


if __name__ == "__main__":
    sys.exit(main())
