"""Benchmark: what each browser session costs the server's memory, at a million payments.

    .venv/bin/python -m bench.session_memory --seed-from /work/perfdata/pay-1000000.db [--sessions 1,5,10,20]
        [--env MALLOC_ARENA_MAX=] [--trace] [--ttl 120] [--parallel 5]

Starts the app (``streamlit run streamlit_app.py`` under :mod:`bench.server_probe`) on the database of
``bench/pages.py`` (``--rows``, ``--data-dir``, ``--seed-from`` as there) with the demo's local OpenID provider, and
opens sessions with one headless Chromium: a browser context each (half finance, half admin), which logs in,
visits every page it may open once through the sidebar and then stays open. After each batch (the total open is
1, 5, 10, 20 …) it prints the server's RSS, anonymous RSS, what ``malloc`` holds free, and the RSS once that free
memory is handed back (``malloc_trim``); "per session" is the growth since no session over the sessions open
(the first session's one-off warm-up included: compare batches). Then it closes every context, waits for
Streamlit to drop the disconnected sessions (``server.disconnectedSessionTTL``, ``--ttl``) and prints the same again.

``--env`` passes environment variables to the app; ``KEY=`` removes one the app is started with
(``--env MALLOC_ARENA_MAX=`` measures without ``dashboard.demo.SERVER_ENV``'s setting); ``--trace`` starts it with
``PYTHONTRACEMALLOC`` and prints the Python allocations that grew most between the first and the last batch,
grouped by traceback (slow; for naming what a session keeps, not for the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pages import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    FINANCE,
    IDLE,
    ROOT,
    Stack,
    app_stack,
    load,
    pages_of,
    prepare_database,
)


@contextmanager
def probed_app(db: Path, work: Path, extra_env: dict[str, str], ttl: int) -> Iterator[Stack]:
    """The app on ``db`` as :func:`bench.pages.app_stack` starts it, under :mod:`bench.server_probe`."""
    from services.db import sqlite_url

    with app_stack(sqlite_url(db), work, launcher=("bench.server_probe",),
                   extra_env=extra_env | {"SOUQ_BENCH_PROBE_OUT": str(work / "probe.json")},
                   flags=("--server.disconnectedSessionTTL", str(ttl))) as stack:
        yield stack


def status_mb(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


def probe(stack: Stack, work: Path) -> dict[str, Any]:
    """Ask the server what it holds (SIGUSR1), wait for the answer."""
    out = work / "probe.json"
    out.unlink(missing_ok=True)
    os.kill(stack.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not out.exists() or not out.stat().st_size:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not answer the probe")
        time.sleep(0.2)
    time.sleep(0.2)
    return dict(json.loads(out.read_text()))


def measure(stack: Stack, work: Path, label: str, opened: int, baseline: list[float]) -> dict[str, Any]:
    """Print one line: RSS, anonymous RSS, malloc's free-but-held bytes; then trim and print RSS again."""
    before = status_mb(stack.pid)
    seen = probe(stack, work)
    os.kill(stack.pid, signal.SIGUSR2)  # gc + malloc_trim
    time.sleep(2)
    after = status_mb(stack.pid)
    if not baseline:
        baseline += [before["RssAnon"], after["RssAnon"]]
    per = ""
    if opened:
        per = (f"; per session {(before['RssAnon'] - baseline[0]) / opened:5.1f} MB anon, "
               f"{(after['RssAnon'] - baseline[1]) / opened:5.1f} MB after trim")
    arenas = {k: v / 1e6 for k, v in seen["arenas"].items()}
    print(f"{label:28} RSS {before['VmRSS']:5.0f} MB (anon {before['RssAnon']:4.0f} + file {before['RssFile']:3.0f});"
          f" malloc in use {arenas['in_use']:4.0f} MB (SQLite {arenas['sqlite']:3.0f}),"
          f" free held {arenas['free_held']:4.0f} MB;"
          f" after trim RSS {after['VmRSS']:4.0f} (anon {after['RssAnon']:4.0f}){per}; sessions {seen['sessions']};"
          f" peak {before['VmHWM']:4.0f}; {load()}", flush=True)
    print(f"{'':28} live objects: {seen['types']}" + (f"; traced {seen['traced_mb']:.0f} MB" if "traced_mb" in seen
                                                       else ""), flush=True)
    for type_name, chains in seen.get("holders", {}).items():
        for chain in chains:
            print(f"{'':28} {type_name} held by: " + " <- ".join(chain), flush=True)
    return seen


async def open_session(browser: Any, stack: Stack, email: str) -> Any:
    """A person logs in and visits every page once; the context is returned open."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(300_000)
    page = await context.new_page()
    await page.goto(stack.app)
    await page.get_by_role("button", name="Log in with your company account").click()
    await page.get_by_role("button", name=email, exact=True).click()
    await page.locator(IDLE).wait_for()
    nav = page.get_by_test_id("stSidebarNav")
    for spec in pages_of(email):
        await nav.get_by_role("link", name=spec.title, exact=True).click()
        await page.wait_for_url(re.compile(f"/{spec.url_path}"))
        await page.locator(IDLE).wait_for()
        await page.wait_for_function("!document.querySelector('[data-stale=\"true\"]')", timeout=300_000)
    return context


async def run(stack: Stack, work: Path, batches: list[int], ttl: int, parallel: int, trace: bool) -> None:
    from playwright.async_api import async_playwright

    baseline: list[float] = []
    measure(stack, work, "no session", 0, baseline)
    first_snapshot = work / "first.snapshot"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts: list[Any] = []
        gate = asyncio.Semaphore(parallel)

        async def one(i: int) -> Any:
            async with gate:
                return await open_session(browser, stack, FINANCE if i % 2 == 0 else ADMIN)

        for total in batches:
            started = time.perf_counter()
            contexts += await asyncio.gather(*(one(i) for i in range(len(contexts), total)))
            await asyncio.sleep(3)
            print(f"\n{total} session(s) open ({time.perf_counter() - started:.0f} s for this batch)", flush=True)
            measure(stack, work, f"{total} open", total, baseline)
            if trace and total == batches[0]:
                (work / "probe.json.snapshot").rename(first_snapshot)
        if trace:
            _print_growth(first_snapshot, work / "probe.json.snapshot", batches[-1] - batches[0])
        for context in contexts:
            await context.close()
        await browser.close()
    print(f"\nall closed; waiting {ttl + 15} s for Streamlit to drop the disconnected sessions", flush=True)
    measure(stack, work, "closed, at once", 0, baseline)
    await asyncio.sleep(ttl + 15)
    measure(stack, work, "closed, after the TTL", 0, baseline)


def _print_growth(first: Path, last: Path, sessions: int) -> None:
    old = tracemalloc.Snapshot.load(str(first))
    new = tracemalloc.Snapshot.load(str(last))
    print(f"\nPython allocations that grew most over {sessions} more sessions (tracemalloc, by traceback):")
    for stat in new.compare_to(old, "traceback")[:15]:
        print(f"  {stat.size_diff / 1e6:+7.2f} MB {stat.count_diff:+7d} blocks "
              f"(= {stat.size_diff / max(sessions, 1) / 1e3:7.0f} kB a session)")
        for line in stat.traceback.format()[-12:]:
            print(f"      {line}")
    total = sum(s.size_diff for s in new.compare_to(old, "filename"))
    print(f"  all Python allocations: {total / 1e6:+.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--seed-from", type=Path, help="copy this bench/seed.py SQLite file instead of seeding")
    parser.add_argument("--sessions", default="1,5,10,20", help="total sessions open after each batch")
    parser.add_argument("--parallel", type=int, default=5, help="sessions logging in and clicking at once")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the app's environment")
    parser.add_argument("--ttl", type=int, default=120, help="server.disconnectedSessionTTL in seconds")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the server; print what grew")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    if args.trace:
        extra["PYTHONTRACEMALLOC"] = "25"
    print(f"bench/session_memory.py at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; app env {extra or 'as is'}; {load()}",
          flush=True)
    db = prepare_database(args.data_dir, args.rows, seed_from=args.seed_from)
    with tempfile.TemporaryDirectory(prefix="bench-sessmem-") as tmp, \
            probed_app(db, Path(tmp), extra, args.ttl) as stack:
        print(f"app pid {stack.pid} at {stack.app}", flush=True)
        asyncio.run(run(stack, Path(tmp), [int(s) for s in args.sessions.split(",")], args.ttl, args.parallel,
                        args.trace))
    print(f"\nload average at the end: {load()}")


if __name__ == "__main__":
    main()
