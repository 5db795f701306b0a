"""Benchmark: what a person waits for on every page, at a million payments.

    .venv/bin/python -m bench.pages --rows 1000000 [--mode server|browser|both] [--sessions 1,5,20]
    .venv/bin/python -m bench.pages --rows 100000 --mode server --repeat 10      # quick profiling
    .venv/bin/python -m bench.pages --url postgresql+psycopg://souq:souq@localhost/souq_perf15_1m --mode server

``--url`` (PostgreSQL): a database already holding ``bench/seed.py``'s payments (``bench.search --url`` seeds
one); it is brought to the newest migration and gets the demo staff and links once (a database with link
payments already is used as it is), then ANALYZE.

The database (``--data-dir``, default ``data/bench``) is seeded once per size with ``bench/seed.py`` plus the
demo staff and one payment link in ten, then reused (``souq-<rows>.db``; ``--reseed`` forces a new one); the
seeding time is printed the first time.

- ``--mode server`` (no browser): each page the finance user and the admin may open is run with Streamlit's
  AppTest in this process, logged in: ``cold`` with every cache cleared, ``first`` a new session (process caches
  warm, what the next colleague sees), ``warm`` reruns of the same session (a click). The figures are whole
  script runs, server side; peak memory is this process's max RSS.
- ``--mode browser``: starts the app (``streamlit run streamlit_app.py``) on that database with the demo's local
  OpenID provider, and drives Debian's headless Chromium with 1, 5 and 20 concurrent sessions (a browser
  context each; half finance, half admin). Timed: the log-in round trip (click on the company log-in button to
  the first page finished), the first and the second visit of every page through the sidebar, applying a text
  filter on Transactions, opening a payment (its row in that list: the payment's panel), opening a payment from a
  link (a new page load of Refunds with its order id, as a colleague's link is opened), a name search on
  Customers and the first customer it found (server mode runs the search and one customer's page as well), and
  switching the Analytics period. A step is done when its heading is shown and the script has stopped running.
  Server memory: the app's peak RSS.
  People pause before each timed step (``--think``, default 2–6 s drawn from a seeded range; never timed;
  ``--think 0``: click the instant a page is done) and log in spread over ``--stagger`` seconds (default 3 s a
  person, at most 60). Each round prints the CPU seconds it used: the app's process tree, Chromium's processes
  (by kind), Playwright's driver and this bench, and everyone else on the machine (``bench/cpu.py``), beside the
  wall time, the load and the server's RSS. ``--frontend`` adds each step's renderer main-thread time (CDP) and
  the app's and Chromium's CPU during it; ``--chromium-flag`` tries extra Chromium flags.

Last lines: ``RESULT`` lines — worst page p95, log-in p95, server RSS — and the load average beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import text

from bench import colleagues, cpu

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
CLOSED_GATEWAY = "http://127.0.0.1:9/api/v1/"  # nobody listens: the pages' gateway calls fail at once
FINANCE, ADMIN = "finance@souq.demo", "admin@souq.demo"
LINK_SHARE = 10  # one payment in ten was made through a payment link
TARGET_PAGE_MS, TARGET_ANALYTICS_MS, TARGET_LOGIN_MS, TARGET_SERVER_MS, TARGET_RSS_MB = 1000, 1500, 2500, 150, 350


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} ({os.cpu_count()} CPUs)"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- the database -------------------------------------------------------------------------------------------------

def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM payment").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def prepare_database(data_dir: Path, rows: int, *, reseed: bool = False, seed_from: Path | None = None) -> Path:
    """``data_dir/souq-<rows>.db`` with ``rows`` payments, the demo staff and links; seeded once, then reused.

    ``seed_from``: a copy of that SQLite file (``bench/seed.py``'s payments, at any migration) stands in for the
    seeding: it is brought to the newest migration and gets the staff and links (28 s at a million payments
    instead of ~9 minutes of seeding)."""
    from bench.seed import seed_payments
    from services.db import create_schema, make_engine, sqlite_url
    from services.search import optimize_search

    db = data_dir / f"souq-{rows}.db"
    if not reseed and count_rows(db) >= rows:
        print(f"database: reusing {db} ({count_rows(db):,} payments)", flush=True)
        return db
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if seed_from is not None:
        if count_rows(seed_from) < rows:
            raise SystemExit(f"{seed_from} has {count_rows(seed_from):,} payments, fewer than {rows:,}")
        print(f"database: copying {seed_from} to {db} … ({load()})", flush=True)
        shutil.copyfile(seed_from, db)
        engine = make_engine(sqlite_url(db))
        create_schema(engine)
    else:
        print(f"database: seeding {rows:,} payments into {db} … ({load()})", flush=True)
        engine = make_engine(sqlite_url(db))
        create_schema(engine)
        seed_payments(engine, rows)
    add_staff_and_links(engine)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    optimize_search(engine)
    engine.dispose()
    print(f"  seeded in {seeded:.1f} s, search index optimised and ANALYZE in {time.perf_counter() - started:.1f} s;"
          f" {db.stat().st_size / 1e6:,.0f} MB ({load()})", flush=True)
    return db


def prepare_url(url: str) -> None:
    """A database by URL holding ``bench/seed.py``'s payments: at the newest migration, with the staff and links
    (added once: a database that has link payments is taken as it is)."""
    from services.db import create_schema, make_engine
    from services.search import optimize_search

    engine = make_engine(url)
    started = time.perf_counter()
    create_schema(engine)
    migrated = time.perf_counter() - started
    with engine.connect() as conn:
        has_links = conn.execute(text("SELECT EXISTS (SELECT 1 FROM payment WHERE source = 'link')")).scalar_one()
    rows = count_url_rows(url)
    if not rows:
        raise SystemExit(f"{engine.url.render_as_string(hide_password=True)} has no payments: seed it first")
    if has_links:
        print(f"database: reusing {engine.url.render_as_string(hide_password=True)} ({rows:,} payments, staff and "
              f"links present; migrations {migrated:.1f} s)", flush=True)
    else:
        print(f"database: adding the staff and links to {engine.url.render_as_string(hide_password=True)} "
              f"({rows:,} payments; migrations {migrated:.1f} s) … ({load()})", flush=True)
        started = time.perf_counter()
        add_staff_and_links(engine)
        optimize_search(engine)  # ANALYZE
        if engine.dialect.name == "postgresql":
            # the links' UPDATE cleared the visibility map of the pages it touched: without VACUUM the index-only
            # scans (deep pages, totals) read the table again, and a later bench.search on this database slows
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) payment"))
        print(f"  staff, links, ANALYZE and VACUUM in {time.perf_counter() - started:.1f} s ({load()})", flush=True)
    engine.dispose()


def count_url_rows(url: str) -> int:
    from services.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM payment")).scalar_one())
    finally:
        engine.dispose()


def add_staff_and_links(engine: Any) -> None:
    """The demo staff, and one payment in ten made through a link by someone on the staff."""
    from services.demo import seed_staff

    seed_staff(engine)
    creators = ("sales@souq.demo", FINANCE, ADMIN)
    with engine.begin() as conn:
        for i, email in enumerate(creators):
            conn.execute(text("UPDATE payment SET source = 'link', created_by = :email, link_state = 'active' "
                              "WHERE id % :every = :rest"),
                         {"email": email, "every": LINK_SHARE * len(creators), "rest": i * LINK_SHARE})


def app_env(url: str) -> dict[str, str]:
    from dashboard.demo import SERVER_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUQ_")}
    env.update(SOUQ_ENVIRONMENT="demo", SOUQ_DATABASE_URL=url, SOUQ_GATEWAY_URL=CLOSED_GATEWAY,
               SOUQ_GATEWAY_TOKEN="jtest123", SOUQ_ADMINS=ADMIN, SOUQ_BACKGROUND_SYNC="false",
               PYTHONUNBUFFERED="1", **SERVER_ENV)
    return env


def pages_of(email: str) -> list[Any]:
    from dashboard.navigation import pages_for
    from services.demo import DEMO_USERS
    from services.permissions import Actor

    role = next(u.role for u in DEMO_USERS if u.email == email)
    assert role is not None
    return pages_for(Actor(email, role))


def _one_row(url: str, sql: str) -> Any:
    from services.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).one()
    finally:
        engine.dispose()


def sample_customer(url: str) -> tuple[str, str]:
    """A named customer with many purchases: (key, name) for the Customers page's "one customer" step."""
    key, name = _one_row(url, "SELECT key, name FROM customer_summary WHERE name IS NOT NULL "
                              "ORDER BY n_paid DESC, key DESC LIMIT 1")
    return str(key), str(name)


def sample_order(url: str) -> str:
    return str(_one_row(url, "SELECT order_id FROM payment WHERE status = 'paid' ORDER BY id DESC LIMIT 1 "
                             "OFFSET 100")[0])


# --- server side: AppTest -----------------------------------------------------------------------------------------

def server_mode(url: str, repeat: int, profile: str | None = None, only: str | None = None) -> dict[str, float]:
    """Time whole script runs of every page with AppTest, as the finance user and the admin."""
    import logging

    import streamlit as st
    import streamlit.testing.v1.app_test as app_test_module
    import streamlit.testing.v1.local_script_runner as runner_module
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime found" on every AppTest
    # A server compiles each page once (one ScriptCache per process); AppTest makes a new cache per run and would
    # charge every rerun with parsing and compiling the page again.
    shared_cache = ScriptCache()
    app_test_module.ScriptCache = lambda: shared_cache  # type: ignore[assignment,misc]
    runner_module.ScriptCache = lambda: shared_cache  # type: ignore[assignment,misc]

    os.environ.update(app_env(url))
    order = sample_order(url)
    customer, _ = sample_customer(url)
    # (title suffix, query parameters, session state) per page: a payment; one customer and a name search
    extra: dict[str, list[tuple[str, dict[str, str], dict[str, str]]]] = {
        "pages/refunds.py": [("a payment", {"payment": order}, {})],
        "pages/customers.py": [("one customer", {"c": customer}, {}), ("search", {}, {"cust_query": "noura"})],
    }
    from dashboard.startup import freeze_start_up_heap

    # What the server does at start-up after its warm-up imports (dashboard.startup.warm_up): without it every
    # eleventh rerun or so carried a full cycle collection of the whole heap (110-200 ms at 1,000,000 payments).
    # The warm-up itself is not run here: it imports dashboard.lang, whose language look-up is only cheap once
    # app.py has set the run's language, and these pages run without app.py.
    freeze_start_up_heap()
    print(f"\nserver side (AppTest, this process), {repeat} warm reruns per page; {load()}")
    header = f"{'user':8} {'page':28} {'cold ms':>8} {'first ms':>8} {'warm p50':>8} {'warm p95':>8}  note"
    print(header + "\n" + "-" * len(header), flush=True)
    worst = 0.0
    for email in (FINANCE, ADMIN):
        for spec in pages_of(email):
            variants: list[tuple[str, dict[str, str], dict[str, str]]] = [(spec.title, {}, {})]
            variants += [(f"{spec.title} ({what})", query, state) for what, query, state in extra.get(spec.path, [])]
            for title, query, state in variants:
                if only and only not in title.lower():
                    continue

                def fresh(query: dict[str, str] = query, state: dict[str, str] = state, path: str = spec.path,
                          email: str = email) -> Any:
                    at = AppTest.from_file(str(ROOT / path), default_timeout=120)
                    at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0]}
                    for key, value in query.items():
                        at.query_params[key] = value
                    for key, value in state.items():
                        at.session_state[key] = value
                    return at

                st.cache_data.clear()
                cold_at = fresh()
                cold = _time_ms(cold_at.run)
                first = _time_ms(fresh().run)
                if profile and profile in title.lower():
                    _profile(cold_at, repeat)
                warm = [_time_ms(cold_at.run) for _ in range(repeat)]
                errors = [e.value for e in cold_at.exception] if cold_at.exception else []
                worst = max(worst, p95(warm))
                note = f"ERROR {errors[0][:60]}" if errors else ""
                print(f"{email.split('@')[0]:8} {title:28} {cold:8.0f} {first:8.0f} {statistics.median(warm):8.0f} "
                      f"{p95(warm):8.0f}  {note}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nserver side: worst warm p95 {worst:.0f} ms (target {TARGET_SERVER_MS}); peak RSS {rss:.0f} MB "
          f"(target {TARGET_RSS_MB}); now {rss_mb(os.getpid())[0]:.0f} MB = {memory_split(os.getpid())}; {load()}")
    return {"server_page_p95_ms_worst": worst, "server_rss_mb": rss}


def _profile(at: Any, repeat: int) -> None:
    """cProfile of ``repeat`` warm reruns (the script runs in its own thread), the 35 costliest calls."""
    import cProfile
    import pstats
    import threading

    profilers: list[cProfile.Profile] = []

    def start(*_: Any) -> None:  # first event in a new thread: profile that thread from here on
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start)
    try:
        for _ in range(repeat):
            at.run()
    finally:
        threading.setprofile(None)
    for profiler in profilers:
        profiler.disable()
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    stats.sort_stats("cumulative").print_stats(35)


def _time_ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# --- browser ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stack:
    app: str
    pid: int


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def app_stack(url: str, work: Path, *, launcher: tuple[str, ...] = ("streamlit",),
              extra_env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> Iterator[Stack]:
    """The app on ``url`` with the demo's local OpenID provider (no gateway: its calls fail at once).

    ``launcher`` is the module that runs ``streamlit run`` (``bench.server_probe`` wraps it); ``extra_env`` is
    merged into the app's environment (``KEY=""`` unsets KEY); ``flags`` are more Streamlit options."""
    import logging

    from dashboard.demo import _stop_process, _wait_until, write_secrets

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the provider's access log
    port = free_port()
    with ExitStack() as stack:
        oidc = stack.enter_context(oidc_process(work))
        secrets_path = work / "secrets.toml"
        write_secrets(secrets_path, app_port=port, oidc_url=oidc)
        extra = extra_env or {}
        env = {k: v for k, v in (app_env(url) | extra).items() if v or k not in extra}
        env["SOUQ_PUBLIC_URL"] = f"http://localhost:{port}"
        cmd = [sys.executable, "-m", *launcher, "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
               "--server.address", "localhost", "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--secrets.files", str(secrets_path), *flags]
        log = stack.enter_context((work / "app.log").open("wb"))
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stack.callback(_stop_process, proc)
        _wait_until(f"http://localhost:{port}/_stcore/health", "The dashboard", proc, timeout=300)
        yield Stack(f"http://localhost:{port}", proc.pid)


#: The demo's OpenID provider, run until killed (``python -c``; its port is the first argument).
_OIDC_MAIN = """
import sys, threading, warnings
warnings.simplefilter("ignore")
from dashboard.demo import _oidc_provider
with _oidc_provider(int(sys.argv[1])):
    threading.Event().wait()
"""


@contextmanager
def oidc_process(work: Path) -> Iterator[str]:
    """The demo's local OpenID provider in a process of its own. In this process's thread (as the demo runs it)
    it shared the GIL with 20 sessions' Playwright traffic: at 20 sessions the app's token exchanges with it
    timed out (httpx ConnectTimeout/ReadTimeout, "OAuth token exchange failed") and people landed back on the
    log-in page."""
    from dashboard.demo import _stop_process, _wait_until

    port = free_port()
    with (work / "oidc.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", _OIDC_MAIN, str(port)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://localhost:{port}"
            _wait_until(f"{url}/.well-known/openid-configuration", "The OpenID provider", proc, timeout=120)
            yield url
        finally:
            _stop_process(proc)


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of ``pid`` in MB (from /proc)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def memory_split(pid: int) -> str:
    """Anonymous memory (the process's own) and file-backed memory (SQLite's mmap of the database and the mapped
    code: pages of the OS cache, shared and reclaimable) of ``pid``, as /proc reports them; PSS counts a page the
    process maps twice (two connections mapping one database page) once."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    anon, file = (int(fields[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    pss = ""
    if rollup.exists():
        sizes = dict(line.split(":", 1) for line in rollup.read_text().splitlines()[1:] if ":" in line)
        pss = f"; PSS {int(sizes['Pss'].split()[0]) / 1024:.0f} MB"
    return f"{anon:.0f} MB anonymous + {file:.0f} MB file-backed (mapped database and code){pss}"


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


async def _done(page: Any, heading: str | re.Pattern[str]) -> None:
    """The step is done: its heading is visible, the script run has finished (nothing stale left) and every chart
    on the page has been drawn (plotly draws after the run: without this its drawing was timed in the next step)."""
    await page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    await page.locator(IDLE).wait_for(timeout=120_000)
    await page.wait_for_function("!document.querySelector('[data-stale=\"true\"]')", timeout=120_000)
    await page.wait_for_function(CHARTS_DRAWN, timeout=120_000)


CHARTS_DRAWN = """() => [...document.querySelectorAll('.stPlotlyChart')]
    .every(chart => chart.querySelector('.js-plotly-plot .main-svg'))"""


class Stopwatch:
    """Times a step; with ``--frontend`` also what the page's renderer main thread did meanwhile (Chromium's
    Performance domain: task, script, layout and style time) and the CPU seconds the app and Chromium used
    (from /proc; with one session these are that step's own), kept in ``FRONTEND`` under the step's name."""

    KEYS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")

    def __init__(self, times: dict[str, list[float]], cdp: Any, app_pid: int) -> None:
        self.times, self.cdp, self.app_pid = times, cdp, app_pid

    async def _metrics(self) -> dict[str, float]:
        if self.cdp is None:
            return {}
        got = await self.cdp.send("Performance.getMetrics")
        found = {m["name"]: float(m["value"]) for m in got["metrics"] if m["name"] in self.KEYS}
        used = cpu.split(self.app_pid)
        return {**found, "app": used["app"], "browser": used["browser"]}

    async def start(self) -> tuple[float, dict[str, float]]:
        metrics = await self._metrics()
        return time.perf_counter(), metrics

    async def stop(self, step: str, started: tuple[float, dict[str, float]]) -> None:
        self.times[step].append((time.perf_counter() - started[0]) * 1000)
        if self.cdp is not None:
            after = await self._metrics()
            # a navigation starts a new document, whose counters start at zero
            delta = {k: after[k] - started[1].get(k, 0.0) if after[k] >= started[1].get(k, 0.0) else after[k]
                     for k in after}
            FRONTEND.setdefault(step, []).append(delta)


#: step → renderer main-thread seconds per occurrence (``--frontend``), printed after the round
FRONTEND: dict[str, list[dict[str, float]]] = {}


async def _cdp(context: Any, page: Any) -> Any:
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    return cdp


@dataclass(frozen=True)
class Pace:
    """How a person moves: ``think`` (low, high) seconds drawn before every timed step (never timed), and when
    this person starts (``delay`` seconds after the round)."""
    think: tuple[float, float]
    delay: float
    rng: random.Random
    frontend: bool = False  # record the renderer's main-thread time per step (CDP)

    async def pause(self) -> None:
        low, high = self.think
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high))


def parse_think(text: str) -> tuple[float, float]:
    """``"2-6"`` → (2, 6); ``"3"`` → (3, 3); ``"0"`` → no think time."""
    low, dash, high = text.partition("-")
    if dash and not high:
        raise argparse.ArgumentTypeError(f"think time {text!r}: want LOW-HIGH seconds, 0 <= LOW <= HIGH")
    pair = (float(low), float(high or low))
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"think time {text!r}: want LOW-HIGH seconds, 0 <= LOW <= HIGH")
    return pair


async def session(browser: Any, stack: Stack, email: str, order: str, times: dict[str, list[float]],
                  pace: Pace) -> None:
    """One person: log in, visit every page twice, filter, open a payment (from the list, then from a link), switch
    the analytics period.

    Before every timed step the person thinks (``pace``); the clock starts at the click, after the pause."""
    await asyncio.sleep(pace.delay)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(180_000)  # 20 sessions on two cores: a first load can take minutes, not a failure
    context.set_default_navigation_timeout(180_000)
    page = await context.new_page()
    watch = Stopwatch(times, await _cdp(context, page) if pace.frontend else None, stack.pid)
    try:
        await page.goto(stack.app)
        await page.get_by_role("button", name="Log in with your company account").wait_for(timeout=120_000)
        await pace.pause()
        started = await watch.start()
        await page.get_by_role("button", name="Log in with your company account").click()
        await page.get_by_role("button", name=email, exact=True).click()
        specs = pages_of(email)
        await _done(page, heading(specs[0]))
        await watch.stop("log-in round trip", started)
        nav = page.get_by_test_id("stSidebarNav")
        for visit in ("first", "warm"):
            for spec in specs:
                await pace.pause()
                started = await watch.start()
                await nav.get_by_role("link", name=spec.title, exact=True).click()
                await page.wait_for_url(re.compile(f"/{spec.url_path}"), timeout=120_000)
                await _done(page, heading(spec))
                await watch.stop(f"{spec.title} ({visit})", started)
        if any(s.path == "pages/transactions.py" for s in specs):
            await nav.get_by_role("link", name="Transactions", exact=True).click()
            await _done(page, "Transactions")
            await page.get_by_role("textbox", name="Search text").fill("noura")
            await pace.pause()
            started = await watch.start()
            await page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Search", exact=True).click()
            await page.wait_for_url(re.compile(r"q=noura"), timeout=120_000)
            await _done(page, "Transactions")
            await watch.stop("apply a filter (text)", started)
            await pace.pause()
            started = await watch.start()
            await _pick_first_row(page, "tx_table", ".st-key-tx_detail")
            await _done(page, re.compile("^Payment "))
            await watch.stop("open a payment", started)
        if any(s.path == "pages/refunds.py" for s in specs):
            await pace.pause()
            started = await watch.start()
            await page.goto(f"{stack.app}/refunds?payment={order}")
            await _done(page, f"Payment {order}")
            await watch.stop("open a payment from a link", started)
        if any(s.path == "pages/customers.py" for s in specs):
            await nav.get_by_role("link", name="Customers", exact=True).click()
            await _done(page, "Customers")
            await pace.pause()
            started = await watch.start()
            await page.get_by_role("textbox", name="Find a customer").fill("noura")
            await page.keyboard.press("Enter")
            await page.get_by_role("button", name=re.compile("^Noura")).first.wait_for(timeout=120_000)
            await _done(page, "Customers")
            await watch.stop("search customers (name)", started)
            first_hit = page.get_by_role("button", name=re.compile("^Noura")).first
            name = (await first_hit.inner_text()).split(" · ")[0].strip()
            await pace.pause()
            started = await watch.start()
            await first_hit.click()
            await _done(page, name)
            await watch.stop("open a customer", started)
        if any(s.path == "pages/analytics.py" for s in specs):
            await nav.get_by_role("link", name="Analytics", exact=True).click()
            await _done(page, "Analytics")
            await page.get_by_test_id("stSelectbox").filter(has_text="Period").click()
            await pace.pause()
            started = await watch.start()
            await page.get_by_role("option", name="Last 90 days").click()
            await page.wait_for_url(re.compile(r"period=last_90_days"), timeout=120_000)
            await _done(page, "Analytics")
            await watch.stop("switch analytics period", started)
    except Exception as exc:
        times["errors"].append(1)
        shot = Path(tempfile.gettempdir()) / f"bench-pages-error-{email}-{time.time():.0f}.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"  session {email}: {type(exc).__name__}: {str(exc)[:200]} (screenshot {shot})", flush=True)
    finally:
        await context.close()


async def _pick_first_row(page: Any, table_key: str, shows: str) -> None:
    """Click the first row of a selectable ``st.dataframe`` (a canvas: by position, on row 1's marker under the
    35 px header) and wait until ``shows`` appears; a click lost to a re-render is repeated (counted in the time)."""
    for attempt in range(3):
        await page.locator(f".st-key-{table_key}").first.click(position={"x": 12, "y": 35 + 17})
        try:
            await page.locator(shows).first.wait_for(timeout=30_000 if attempt < 2 else 120_000)
            return
        except Exception:
            if attempt == 2:
                raise


_HEADINGS = {"pages/links.py": "Payment links", "pages/webhooks.py": "Webhook inbox", "pages/audit.py": "Audit log",
             "pages/staff.py": "Staff & roles"}


def heading(spec: Any) -> str:
    """The heading a page shows once it is done (the sidebar's title where they differ)."""
    return _HEADINGS.get(spec.path, spec.title)


@dataclass(frozen=True)
class RoundPlan:
    think: tuple[float, float]  # seconds before each timed step; (0, 0): click the instant a page is done
    stagger: float | None  # the log-ins are spread evenly over this many seconds; None: see ``window``
    seed: int
    chromium_args: tuple[str, ...]
    frontend: bool = False
    browsers: int | None = None  # people in Chromium per round; the rest are colleagues (bench/colleagues.py)

    def in_browser(self, sessions: int) -> int:
        return sessions if self.browsers is None else min(self.browsers, sessions)

    def window(self, sessions: int) -> float:
        """Seconds over which this round's log-ins are spread. By default 3 s a person (at most a minute) with think
        time, none without: a log-in costs Chromium ~2 and the app ~1 CPU-second, so 20 of them within 10 s
        asked 3× what two cores give, and the app's token exchanges with the OpenID provider timed out (httpx
        ConnectTimeout: nine of twenty people back on the log-in page, at load 40–60)."""
        if self.stagger is not None:
            return self.stagger
        return min(60.0, 3.0 * sessions) if self.think[1] > 0 else 0.0

    def paces(self, sessions: int) -> list[Pace]:
        return [Pace(self.think, self.window(sessions) * i / sessions, random.Random(f"{self.seed}-{sessions}-{i}"),
                     self.frontend) for i in range(sessions)]


COLLEAGUE_TIMES: dict[str, list[float]] = defaultdict(list)  # this round's colleagues' steps (server's share)


def colleague_steps(email: str, order: str, customer: tuple[str, str]) -> list[colleagues.Step]:
    """What a person in Chromium does (``session``), as the requests a browser sends: every page twice, the text
    filter, a payment, a customer and the 90-day analytics period by their query strings."""
    specs = pages_of(email)
    steps = [colleagues.Step(f"{spec.title} ({visit})", spec.url_path) for visit in ("first", "warm") for spec in specs]
    paths = {spec.path: spec.url_path for spec in specs}
    extra = (("pages/transactions.py", "apply a filter (text)", "q=noura"),
             ("pages/refunds.py", "open a payment from a link", f"payment={quote(order)}"),
             ("pages/customers.py", "open a customer", f"c={quote(customer[0])}"),
             ("pages/analytics.py", "switch analytics period", "period=last_90_days"))
    return steps + [colleagues.Step(name, paths[path], query) for path, name, query in extra if path in paths]


async def signed_in_cookies(browser: Any, stack: Stack, email: str) -> dict[str, str]:
    """Log ``email`` in once in a browser context and keep its cookies for the colleagues of that role."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(stack.app)
        await page.get_by_role("button", name="Log in with your company account").click()
        await page.get_by_role("button", name=email, exact=True).click()
        specs = pages_of(email)
        await _done(page, heading(specs[0]))
        return colleagues.cookie_header(await context.cookies())
    finally:
        await context.close()


async def browser_round(stack: Stack, sessions: int, order: str, customer: tuple[str, str],
                        plan: RoundPlan) -> tuple[dict[str, list[float]], dict[str, float], float]:
    """The round's step times, the CPU seconds it used (``cpu.split`` differences) and the browser's peak RSS
    (MB, summed over its processes, sampled each second)."""
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = defaultdict(list)
    before = cpu.split(stack.pid)
    peak_browser_mb = 0.0
    kinds: dict[int, tuple[str, float]] = {}

    async def watch() -> None:
        nonlocal peak_browser_mb
        while True:
            peak_browser_mb = max(peak_browser_mb, cpu.tree_rss_mb(cpu.browser_pids(stack.pid)))
            cpu.browser_by_kind(stack.pid, kinds)
            await asyncio.sleep(1)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *plan.chromium_args])
        watcher = asyncio.create_task(watch())
        users = [FINANCE if i % 2 == 0 else ADMIN for i in range(sessions)]
        people = plan.in_browser(sessions)
        cookies = {email: await signed_in_cookies(browser, stack, email) for email in set(users[people:])}

        async def colleague(email: str, pace: Pace) -> None:
            await asyncio.sleep(pace.delay)
            await colleagues.colleague(stack.app, cookies[email], colleague_steps(email, order, customer),
                                       pace.pause, COLLEAGUE_TIMES)

        await asyncio.gather(*(session(browser, stack, email, order, times, pace) if i < people
                               else colleague(email, pace)
                               for i, (email, pace) in enumerate(zip(users, plan.paces(sessions), strict=True))))
        watcher.cancel()
        after = cpu.split(stack.pid)  # before closing: Chromium's processes still in the tree
        cpu.browser_by_kind(stack.pid, kinds)
        print("  Chromium CPU s by process kind (own threads, sampled each second): "
              + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.by_kind(kinds).items())))
        await browser.close()
    return times, {k: after[k] - before[k] for k in before}, peak_browser_mb


def colleague_table(count: int) -> tuple[float, int]:
    """Print the colleagues' step times (request to script finished: the server's share of a step) and forget
    them; their worst p95 and their failures."""
    errors = len(COLLEAGUE_TIMES.pop("errors", []))
    worst = 0.0
    if count:
        print(f"\n{count} colleague(s) over the websocket: request → script finished (no rendering), {errors} failed")
        for name, values in COLLEAGUE_TIMES.items():
            print(f"  {name:38} {len(values):3} {statistics.median(values):8.0f} {p95(values):8.0f} "
                  f"{max(values):8.0f}")
            worst = max(worst, p95(values))
    COLLEAGUE_TIMES.clear()
    return worst, errors


def browser_mode(url: str, rounds: list[int], plan: RoundPlan) -> dict[str, float]:
    order = sample_order(url)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as work, app_stack(url, Path(work)) as stack:
        print(f"\nbrowser: app pid {stack.pid} at {stack.app}; RSS at start {rss_mb(stack.pid)[0]:.0f} MB; {load()}"
              f"\n  think {plan.think[0]:g}-{plan.think[1]:g} s before each timed step (not timed), seed {plan.seed}; "
              f"extra Chromium flags: {' '.join(plan.chromium_args) or 'none'}", flush=True)
        for sessions in rounds:
            started = time.perf_counter()
            times, used, browser_mb = asyncio.run(browser_round(stack, sessions, order, sample_customer(url), plan))
            now_rss, peak_rss = rss_mb(stack.pid)
            errors = len(times.pop("errors", []))
            took = time.perf_counter() - started
            ours = used["app"] + used["browser"] + used["driver"] + used["bench"]
            others = max(0.0, used["machine"] - ours)
            print(f"\n{sessions} concurrent session(s) (half finance, half admin; {plan.in_browser(sessions)} in "
                  f"Chromium, {sessions - plan.in_browser(sessions)} colleagues over the websocket), "
                  f"think {plan.think[0]:g}-{plan.think[1]:g} s, log-ins over {plan.window(sessions):g} s: "
                  f"wall {took:.0f} s, "
                  f"{errors} failed; {load()}"
                  f"\n  CPU s during the round: app {used['app']:.1f}, browser {used['browser']:.1f} (Chromium, "
                  f"peak {browser_mb:.0f} MB RSS), driver {used['driver']:.1f}, bench {used['bench']:.1f}; "
                  f"others on the machine {others:.1f}; of {took * (os.cpu_count() or 1):.0f} core-seconds"
                  f"\n  server RSS {now_rss:.0f} MB (peak {peak_rss:.0f}; {memory_split(stack.pid)})")
            header = f"{'what a person waits for':40} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
            print(header + "\n" + "-" * len(header))
            page_p95 = analytics_p95 = 0.0  # the Analytics steps have their own target (1.5 s, not 1.0 s)
            for name, values in times.items():
                print(f"{name:40} {len(values):3} {statistics.median(values):8.0f} {p95(values):8.0f} "
                      f"{max(values):8.0f}")
                if "analytics" in name.lower():
                    analytics_p95 = max(analytics_p95, p95(values))
                elif name != "log-in round trip":
                    page_p95 = max(page_p95, p95(values))
            if FRONTEND:
                print("\nper step, median ms: renderer main thread (CDP Performance) task / script / layout / "
                      "style; CPU used meanwhile by the app / all of Chromium")
                for name, deltas in FRONTEND.items():
                    med = {k: statistics.median(d.get(k, 0.0) for d in deltas) * 1000
                           for k in (*Stopwatch.KEYS, "app", "browser")}
                    print(f"  {name:40} {med['TaskDuration']:6.0f} {med['ScriptDuration']:6.0f} "
                          f"{med['LayoutDuration']:6.0f} {med['RecalcStyleDuration']:6.0f}   {med['app']:6.0f} "
                          f"{med['browser']:6.0f}")
                FRONTEND.clear()
            colleague_p95, colleague_errors = colleague_table(sessions - plan.in_browser(sessions))
            errors += colleague_errors
            login = p95(times.get("log-in round trip", [0.0]))
            results[f"page_p95_ms_worst_{sessions}"] = page_p95
            results[f"analytics_p95_ms_worst_{sessions}"] = analytics_p95
            results[f"login_p95_ms_{sessions}"] = login
            results[f"errors_{sessions}"] = errors
            print(f"RESULT sessions={sessions} think_s={plan.think[0]:g}-{plan.think[1]:g} "
                  f"in_browser={plan.in_browser(sessions)} colleagues={sessions - plan.in_browser(sessions)} "
                  f"page_p95_ms_worst={page_p95:.0f} analytics_p95_ms_worst={analytics_p95:.0f} "
                  f"login_p95_ms={login:.0f} colleague_step_p95_ms_worst={colleague_p95:.0f} wall_s={took:.0f} "
                  f"cpu_app_s={used['app']:.1f} cpu_browser_s={used['browser']:.1f} "
                  f"cpu_driver_bench_s={used['driver'] + used['bench']:.1f} cpu_others_s={others:.1f} "
                  f"load1={os.getloadavg()[0]:.2f} server_rss_mb={now_rss:.0f} server_peak_rss_mb={peak_rss:.0f} "
                  f"errors={errors}", flush=True)
        results["server_peak_rss_mb"] = rss_mb(stack.pid)[1]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--reseed", action="store_true", help="seed a new database even if one exists")
    parser.add_argument("--seed-from", type=Path, help="copy this bench/seed.py SQLite file instead of seeding")
    parser.add_argument("--url", help="a seeded database by URL (PostgreSQL) instead of a SQLite file")
    parser.add_argument("--mode", choices=("server", "browser", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=10, help="warm reruns per page (server mode)")
    parser.add_argument("--profile", help="cProfile the warm reruns of the page whose title contains this")
    parser.add_argument("--only", help="server mode: only the pages whose title contains this")
    parser.add_argument("--sessions", default="1,5,20", help="concurrent browser sessions, one round each")
    parser.add_argument("--think", type=parse_think, default=(2.0, 6.0), metavar="LOW-HIGH",
                        help="seconds a person pauses before each timed step, drawn uniformly (seeded); the pause "
                             "is never timed; 0: click the instant a page is done (default 2-6)")
    parser.add_argument("--stagger", type=float, help="spread the log-ins evenly over this many seconds "
                                                      "(default 3 s a person, at most 60; 0 with --think 0)")
    parser.add_argument("--seed", type=int, default=15, help="seed of the think times")
    parser.add_argument("--frontend", action="store_true",
                        help="also record what each step cost the page's renderer (main-thread time, via CDP)")
    parser.add_argument("--chromium-flag", action="append", default=[], metavar="FLAG",
                        help="an extra Chromium flag, e.g. --renderer-process-limit=2 (repeatable)")
    parser.add_argument("--browsers", type=int, help="people in Chromium per round (default: every session); the "
                        "round's other sessions are colleagues driven over the websocket (bench/colleagues.py)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"bench/pages.py at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {load()}", flush=True)
    from services.db import sqlite_url

    if args.url:
        prepare_url(args.url)
        url = args.url
    else:
        url = sqlite_url(prepare_database(args.data_dir, args.rows, reseed=args.reseed, seed_from=args.seed_from))
    results: dict[str, float] = {}
    if args.mode in ("server", "both"):
        results.update(server_mode(url, args.repeat, args.profile and args.profile.lower(),
                                   args.only and args.only.lower()))
    if args.mode in ("browser", "both"):
        plan = RoundPlan(args.think, args.stagger, args.seed, tuple(args.chromium_flag), args.frontend, args.browsers)
        results.update(browser_mode(url, [int(s) for s in args.sessions.split(",")], plan))
    rows = count_url_rows(url)
    print(f"\nload average at the end: {load()}")
    if "server_page_p95_ms_worst" in results:
        print(f"RESULT server_page_p95_ms_worst={results['server_page_p95_ms_worst']:.0f} "
              f"server_rss_mb={results['server_rss_mb']:.0f} rows={rows}")
    browser = [k for k in results if k.startswith("page_p95_ms_worst_")]
    if browser:
        worst_page = max(results[k] for k in browser)
        worst_login = max(results[k] for k in results if k.startswith("login_p95_ms_"))
        worst_analytics = max(results[k] for k in results if k.startswith("analytics_p95_ms_worst_"))
        print(f"RESULT page_p95_ms_worst={worst_page:.0f} analytics_p95_ms_worst={worst_analytics:.0f} "
              f"login_p95_ms={worst_login:.0f} "
              f"server_rss_mb={results['server_peak_rss_mb']:.0f} rows={rows}")


if __name__ == "__main__":
    main()
