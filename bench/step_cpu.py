"""Benchmark: the app server's CPU per step, with colleagues clicking through their steps and no pause.

    .venv/bin/python -m bench.step_cpu --db data/bench/souq-1000000.db --colleagues 6 --rounds 5
    .venv/bin/python -m bench.step_cpu --db data/bench/souq-1000000.db --flag=--runner.postScriptGC=true
    .venv/bin/python -m bench.step_cpu --db … --py-spy /path/to/py-spy --profile /tmp/steps.txt

Starts the app (``bench.pages.app_stack``) on a seeded database, logs a finance and an admin user in once in
Chromium for their cookies, then N colleagues (``bench/colleagues.py``; half finance, half admin) send every step
of ``bench.pages.colleague_steps`` over the websocket, one after the other without thinking, for R rounds after
one warm-up round. Prints the app process's CPU seconds (from /proc) over the timed rounds divided by the steps,
the wall time, the server's RSS and each step's times. ``--flag`` passes a Streamlit option to the app (e.g. to
measure with Streamlit's collection after every run back on); ``--profile`` records the app with py-spy
(``--format raw``: one line per stack, for a flame graph or a count by frame).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import colleagues, pages
from bench.cpu import own_cpu_s


async def _nothing() -> None:
    """No think time between steps."""


async def _round(app: str, cookies: dict[str, dict[str, str]], users: list[str], order: str,
                 customer: tuple[str, str], times: dict[str, list[float]]) -> None:
    await asyncio.gather(*(colleagues.colleague(app, cookies[user], pages.colleague_steps(user, order, customer),
                                                _nothing, times) for user in users))


async def measure(url: str, count: int, rounds: int, flags: tuple[str, ...], py_spy: str | None,
                  profile: Path | None) -> None:
    from playwright.async_api import async_playwright

    order, customer = pages.sample_order(url), pages.sample_customer(url)
    with tempfile.TemporaryDirectory(prefix="bench-step-cpu-") as work, \
            pages.app_stack(url, Path(work), flags=flags) as stack:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=pages.CHROMIUM, args=pages.CHROMIUM_ARGS)
            cookies = {email: await pages.signed_in_cookies(browser, stack, email)
                       for email in (pages.FINANCE, pages.ADMIN)}
            await browser.close()
        users = [pages.FINANCE if i % 2 == 0 else pages.ADMIN for i in range(count)]
        await _round(stack.app, cookies, users, order, customer, defaultdict(list))  # warm-up, not counted
        spy = None
        if py_spy and profile:
            spy = subprocess.Popen([py_spy, "record", "-p", str(stack.pid), "-r", "100", "-f", "raw", "-o",
                                    str(profile), "--nonblocking"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(1)
        times: dict[str, list[float]] = defaultdict(list)
        cpu_before, wall_before = own_cpu_s(stack.pid), time.perf_counter()
        for _ in range(rounds):
            await _round(stack.app, cookies, users, order, customer, times)
        cpu, wall = own_cpu_s(stack.pid) - cpu_before, time.perf_counter() - wall_before
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
        errors = len(times.pop("errors", []))
        steps = sum(len(v) for v in times.values())
        now, peak = pages.rss_mb(stack.pid)
        print(f"{count} colleague(s) x {rounds} round(s), flags {' '.join(flags) or 'none'}: {steps} steps, "
              f"{errors} failed; app CPU {cpu:.1f} s, wall {wall:.1f} s, server RSS {now:.0f} MB (peak {peak:.0f}); "
              f"{pages.load()}")
        for name, values in sorted(times.items()):
            print(f"  {name:40} {len(values):4} {statistics.median(values):8.0f} {max(values):8.0f}")
        print(f"RESULT cpu_ms_per_step={1000 * cpu / max(steps, 1):.0f} steps={steps} wall_s={wall:.1f} "
              f"server_peak_rss_mb={peak:.0f} errors={errors} load1={os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="a seeded SQLite file (bench/pages.py's data dir)")
    parser.add_argument("--url", help="or a seeded database URL (PostgreSQL)")
    parser.add_argument("--colleagues", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flag", action="append", default=[], help="a Streamlit option for the app (repeatable)")
    parser.add_argument("--py-spy", help="py-spy's executable, to record the app while it is timed")
    parser.add_argument("--profile", type=Path, help="where py-spy writes its raw stacks")
    args = parser.parse_args()
    if not args.url and not args.db:
        parser.error("give --db or --url")
    url = args.url or f"sqlite:///{args.db}"
    flags = tuple(part for flag in args.flag for part in flag.split("=", 1))
    asyncio.run(measure(url, args.colleagues, args.rounds, flags, args.py_spy, args.profile))


if __name__ == "__main__":
    main()
