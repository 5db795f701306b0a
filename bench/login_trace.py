"""Benchmark: where a log-in's time goes, request by request, in headless Chromium.

    .venv/bin/python -m bench.login_trace --db data/bench/souq-100000.db [--logins 3] [--pause 0] [--email …]

Starts the app on ``--db`` with the demo's local OpenID provider (as ``bench/pages.py --mode browser`` does) and
logs in ``--logins`` times, each in a new browser context, the first ``--pause`` seconds after the server answered
its health check (0: at once). For each it
prints the milliseconds since the click on the company log-in button at which each document, fetch and websocket
request was made and answered, when the provider's page showed, when the first page's heading showed and when its
script had finished; then ``RESULT`` with each log-in's total.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pages import CHROMIUM, CHROMIUM_ARGS, FINANCE, IDLE, _done, app_stack, pages_of
from services.db import sqlite_url


async def trace(app: str, email: str, logins: int) -> list[float]:
    from playwright.async_api import async_playwright

    totals: list[float] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in range(logins):
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await context.new_page()
            clicked: list[float] = []
            events: list[tuple[float, str]] = []

            def note(what: str, clicked: list[float] = clicked, events: list[tuple[float, str]] = events) -> None:
                if clicked:
                    events.append(((time.perf_counter() - clicked[0]) * 1000, what))

            def on_request(request: Any) -> None:
                if request.resource_type in ("document", "fetch", "xhr"):
                    note(f"request  {request.method} {request.url[:90]}")

            def on_response(response: Any) -> None:
                if response.request.resource_type == "document":
                    note(f"answered {response.status} {response.url[:90]}")

            page.on("request", on_request)
            page.on("response", on_response)
            page.on("websocket", lambda ws: note(f"websocket {ws.url[:60]}"))
            await page.goto(app)
            button = page.get_by_role("button", name="Log in with your company account")
            await button.wait_for(timeout=120_000)
            await page.locator(IDLE).wait_for(timeout=120_000)
            clicked.append(time.perf_counter())
            await button.click()
            await page.get_by_role("button", name=email, exact=True).wait_for(timeout=120_000)
            note("provider's page shown")
            await page.get_by_role("button", name=email, exact=True).click()
            heading = pages_of(email)[0].title
            await page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
            note(f"heading {heading!r} shown")
            await _done(page, heading)
            note("script finished")
            totals.append(events[-1][0])
            print(f"\nlog-in {n + 1} ({email}):")
            for at, what in events:
                print(f"  {at:7.0f} ms  {what}")
            await context.close()
        await browser.close()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a seeded SQLite file (bench/pages.py makes one)")
    parser.add_argument("--logins", type=int, default=3)
    parser.add_argument("--email", default=FINANCE)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between the server's start and log-in 1")
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load at the start {one:.2f}/{five:.2f} ({os.cpu_count()} CPUs)")
    url = sqlite_url(args.db)
    with tempfile.TemporaryDirectory(prefix="bench-login-") as work, app_stack(url, Path(work)) as stack:
        time.sleep(args.pause)
        totals = asyncio.run(trace(stack.app, args.email, args.logins))
    one, five, _ = os.getloadavg()
    print(f"\nload at the end {one:.2f}/{five:.2f}")
    print("RESULT " + " ".join(f"login_{i + 1}_ms={t:.0f}" for i, t in enumerate(totals)))


if __name__ == "__main__":
    main()
