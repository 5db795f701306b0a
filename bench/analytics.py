"""Benchmark the analytics page's queries on a large SQLite cache, against the naive pandas way.

    .venv/bin/python -m bench.analytics --rows 1000000 --db /tmp/analytics-bench.db [--reuse] [--no-index]
    .venv/bin/python -m bench.analytics --rows 1000000 --url postgresql+psycopg://souq:souq@localhost/souq_bench --reuse

Seeds ``--rows`` payments over a year (bench/seed.py) into a fresh file (``--reuse`` keeps an existing one), then
times (median of several runs after a warm-up):
1. the plain SQL over ``payment`` (what PostgreSQL runs) with the proposed covering index (``--no-index``: without);
2. the service calls as the page makes them on SQLite, reading the search's trigger-kept daily summary;
3. the same figures computed the naive way: the tables read with pandas.read_sql, then filtered/grouped in pandas.
The last line is ``RESULT series_90d_ms=… page_queries_ms=… speedup_vs_naive=… rows=…`` (from 2 and 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select, text

from bench.seed import enrol, seed_payments
from services import analytics
from services.analytics import queries
from services.db import create_schema, make_engine, read_engine, sqlite_url
from services.models import Payment
from services.permissions import Actor, Role
from services.timeutil import to_kuwait, utcnow

TARGET_SERIES_MS = 50.0
TARGET_PAGE_MS = 300.0
ACTOR = Actor("bench@shop.test", Role.VIEWER)


def timed(fn: Callable[[], Any], runs: int) -> float:
    """Median wall time in ms over ``runs`` calls, after one warm-up call."""
    return timed_both(fn, runs)[0]


def timed_both(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this thread in ms over ``runs`` calls, after one warm-up call (on a
    shared machine the CPU time is the work itself; on PostgreSQL the server's share is not in it)."""
    fn()
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.thread_time()
        fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.thread_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def naive(engine: Any, period: analytics.Period, now: datetime) -> dict[str, Any]:
    """What a first draft would do: read the tables into pandas, then filter and group there.

    While the period's last day runs, the previous period counts only up to the same moment (as the page does).
    """
    payments = pd.read_sql("SELECT id, created_at, local_day, status, method, method_family, amount_fils "
                           "FROM payment", engine)
    refunds = pd.read_sql("SELECT payment_pk, created_at, local_day, state, amount_fils FROM refund", engine)
    before = analytics.previous_period(period)
    running = period.end_day == to_kuwait(now).date()
    cut = pd.Timestamp(now - timedelta(days=period.days)) if running else None
    out: dict[str, Any] = {}
    for name, span in (("current", period), ("previous", before)):
        start, end = span.day_keys()
        rows = payments[(payments.local_day >= start) & (payments.local_day <= end)]
        counted = refunds[(refunds.local_day >= start) & (refunds.local_day <= end)
                          & refunds.state.isin(analytics.COUNTED_REFUND_STATES)]
        if name == "previous" and cut is not None:
            rows = rows[pd.to_datetime(rows.created_at, utc=True) < cut]
            counted = counted[pd.to_datetime(counted.created_at, utc=True) < cut]
        paid = rows[rows.status == "paid"]
        out[name] = {"gross": int(paid.amount_fils.sum()), "captured": len(paid), "payments": len(rows),
                     "refunded": int(counted.amount_fils.sum())}
        if name == "current":
            out["series"] = paid.groupby(["local_day", "method_family"]).amount_fils.agg(["count", "sum"])
            out["success"] = rows[rows.status.isin(["paid", "failed", "cancelled"])].groupby(
                ["local_day", "method", "status"]).size()
            local = pd.to_datetime(paid.created_at, utc=True) + pd.Timedelta(hours=3)
            out["heat"] = paid.groupby([local.dt.day_of_week, local.dt.hour]).size()
            joined = counted.merge(payments[["id", "method"]], left_on="payment_pk", right_on="id")
            out["refunds"] = joined.groupby("method").amount_fils.agg(["count", "sum"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="payments to seed (default 1,000,000)")
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "souq-analytics-bench.db",
                        help="SQLite file")
    parser.add_argument("--url", help="a database URL instead of --db (PostgreSQL: seeded into an empty schema)")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database file instead of re-seeding")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per query (median reported)")
    parser.add_argument("--naive-runs", type=int, default=3, help="timed runs of the pandas baseline")
    parser.add_argument("--no-index", action="store_true", help="plain SQL without the proposed covering index")
    args = parser.parse_args(argv)

    if not args.reuse and not args.url:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(args.url or sqlite_url(args.db))
    create_schema(engine)
    actor = enrol(engine, ACTOR)
    print(f"{engine.url.render_as_string(hide_password=True)}; load average {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    with engine.connect() as conn:
        existing = conn.execute(select(func.count()).select_from(Payment.__table__)).scalar_one()  # type: ignore[attr-defined]
    if existing == 0:
        start = time.perf_counter()
        seed_payments(engine, args.rows, seed=1, days=365)
        print(f"seeded {args.rows:,} payments in {time.perf_counter() - start:.1f} s")
    else:
        print(f"reusing {args.db} with {existing:,} payments")
    rows = existing or args.rows
    today = analytics.kuwait_today()
    period = analytics.period_for("last_90_days", today)
    before = analytics.previous_period(period)
    flt = analytics.AnalyticsFilter()
    print(f"period {period.label()} (previous {before.label()}); medians of {args.runs} runs after a warm-up")
    reader = read_engine(engine)

    def sql(fn: Callable[..., Any], start_day: Any, end_day: Any, **kw: Any) -> Callable[[], Any]:
        def run() -> Any:
            with reader.connect() as conn:
                return fn(conn, start_day, end_day, flt, **kw)
        return run

    # 1. Plain SQL over ``payment`` (what PostgreSQL runs), with or without the proposed covering index.
    if args.no_index:
        with engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS {analytics.ANALYTICS_INDEX_NAME}"))
        print("1. plain SQL WITHOUT the proposed covering index:")
    else:
        start = time.perf_counter()
        created = analytics.ensure_indexes(engine)
        took = f" (created in {time.perf_counter() - start:.1f} s)" if created else ""
        print(f"1. plain SQL with {analytics.ANALYTICS_INDEX_NAME}{analytics.ANALYTICS_INDEX_COLUMNS}{took}:")
    plain = {
        "daily aggregate, 90 d + previous 90 d": sql(queries.daily_rows, before.start_day, period.end_day),
        "refunds aggregate, 90 d + previous 90 d": sql(queries.refund_rows, before.start_day, period.end_day),
        "hour-of-day aggregate, 90 d": sql(queries.hour_rows, period.start_day, period.end_day),
        "daily aggregate, 90 d only (the series)": sql(queries.daily_rows, period.start_day, period.end_day),
    }
    plain_ms = {name: timed(fn, args.runs) for name, fn in plain.items()}
    for name, ms in plain_ms.items():
        print(f"  {name:<48} {ms:8.1f} ms")
    print(f"  {'= page queries on plain SQL (first three)':<48} {sum(list(plain_ms.values())[:3]):8.1f} ms")

    # 2. As the app runs on SQLite: the search's trigger-kept daily summary + covering indexes, read-only engine.
    start = time.perf_counter()
    queries.prepare(engine)
    print(f"2. as the page runs (shared search support ready in {time.perf_counter() - start:.1f} s):")
    wallet = analytics.AnalyticsFilter(family="wallet")
    figures = {} if engine.dialect.name != "sqlite" else {  # the summary tables exist on SQLite only
        "summary daily rows, 90 d + previous 90 d": sql(queries.daily_rows, before.start_day, period.end_day,
                                                        summary=True),
    }
    figures |= {
        "family_series() 90 d (the series)": lambda: analytics.family_series(engine, actor, period),
        "kpis() 90 d": lambda: analytics.kpis(engine, actor, period),
        "hour_weekday() 90 d": lambda: analytics.hour_weekday(engine, actor, period),
        "report() 90 d, wallet filter": lambda: analytics.report(engine, actor, period, filters=wallet),
        "report() 30 d (page default)": lambda: analytics.report(engine, actor, analytics.period_for(
            "last_30_days", today)),
        "report() 365 d (weekly buckets)": lambda: analytics.report(engine, actor, analytics.Period(
            today - timedelta(days=364), today)),
        "report() 90 d = all page queries": lambda: analytics.report(engine, actor, period),
    }
    results, cpu = {}, {}
    for name, fn in figures.items():
        results[name], cpu[name] = timed_both(fn, args.runs)
        print(f"  {name:<48} {results[name]:8.1f} ms   (CPU {cpu[name]:6.1f} ms)")
    series_ms = results["family_series() 90 d (the series)"]
    page_ms = results["report() 90 d = all page queries"]

    # 3. The naive way, checked to give the same totals.
    now = utcnow()
    report = analytics.report(engine, actor, period, now=now)
    baseline = naive(engine, period, now)
    same = (baseline["current"]["gross"], baseline["current"]["captured"], baseline["current"]["refunded"],
            baseline["previous"]["gross"]) == (report.kpis.gross_fils, report.kpis.captured,
                                               report.kpis.refunded_fils, report.comparison.previous.gross_fils)
    naive_ms = timed(lambda: naive(engine, period, now), args.naive_runs)
    print(f"3. naive pandas (read_sql + filter/group)          {naive_ms:8.1f} ms; same totals: {same}")
    print(f"targets: series {series_ms:.1f} ≤ {TARGET_SERIES_MS:.0f} ms "
          f"{'OK' if series_ms <= TARGET_SERIES_MS else 'MISSED'}; page {page_ms:.1f} ≤ {TARGET_PAGE_MS:.0f} ms "
          f"{'OK' if page_ms <= TARGET_PAGE_MS else 'MISSED'}")
    year_ms = results["report() 365 d (weekly buckets)"]
    print(f"load average at the end {os.getloadavg()[0]:.2f}; measured {utcnow():%Y-%m-%d %H:%M} UTC")
    print(f"RESULT series_90d_ms={series_ms:.1f} page_queries_ms={page_ms:.1f} report_365d_ms={year_ms:.1f} "
          f"report_365d_cpu_ms={cpu['report() 365 d (weekly buckets)']:.1f} "
          f"speedup_vs_naive={naive_ms / page_ms:.1f} rows={rows} db={engine.dialect.name}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
