"""Benchmark: transaction search at a million payments, against the naive way (pandas, loaded once) in one run.

    .venv/bin/python -m bench.search --rows 1000000 --db /tmp/search-bench.db [--reuse] [--repeat 30]
    .venv/bin/python -m bench.search --rows 1000000 --url postgresql+psycopg://souq:souq@localhost/souq_bench --reuse

Before timing it prints which database it measures (SQLite version or PostgreSQL), whether ``ANALYZE`` statistics
exist and how many segments the FTS5 index has (``--optimize`` merges them and runs ``ANALYZE`` first, as
``services.search.optimize_search`` does after a bulk load); after the table, the query plans (``EXPLAIN QUERY
PLAN`` / ``EXPLAIN``) of the slowest shapes (``--plans``: of every shape).

For each query shape it times ``services.search.search`` (a page of 50 plus the count and amount of the whole
filtered set) and the same question answered the naive way: load every payment into pandas, then filter, count,
sum, sort and slice. The load is timed once and added to each shape's filter time; the filter time alone (a frame
kept in memory) is printed too. The last line is ``RESULT p95_ms_worst=<ms> speedup_vs_naive_min=<x> rows=<n>``
(p95 of wall-clock time; the CPU-time p95 column shows how much of it was waiting for a busy machine).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.seed import enrol
from services.db import create_schema, make_engine, read_engine, sqlite_url
from services.permissions import Actor, Role
from services.search import (
    SearchFilter,
    ensure_search_support,
    kuwait_today,
    optimize_search,
    preset_range,
    search,
    search_health,
)
from services.search.query import ORDER_KEYS
from services.search.support import words
from services.timeutil import kuwait_day_bounds

PAGE = 50
ACTOR = Actor("bench@shop.test", Role.FINANCE)
#: The search's sort keys, for pandas to order ties the same way.
SORT_KEYS = {sort: list(keys) for sort, keys in ORDER_KEYS.items()}


@dataclass(frozen=True)
class Shape:
    name: str
    flt: SearchFilter
    sort: str = "created_at"
    descending: bool = True
    page: int = 1


def seed(url: str, rows: int) -> float:
    """A fresh database with ``rows`` payments (SQLite: a new file; PostgreSQL: a new public schema); seconds."""
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.removeprefix('sqlite:///')}{suffix}").unlink(missing_ok=True)
    else:
        with make_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    from bench.seed import seed_payments

    seed_payments(engine, rows)
    engine.dispose()
    return time.perf_counter() - started


def existing_rows(url: str) -> int:
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0
    try:
        with make_engine(url).connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM payment")).scalar_one())
    except Exception:
        return 0


def samples(engine: Engine) -> dict[str, Any]:
    """Real values to look for: a random payment's phone, e-mail and ids."""
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM payment")).scalar_one()
        rng = random.Random(5)
        for _ in range(1000):
            row = conn.execute(text(
                "SELECT customer_phone, customer_email, order_id, track_id, payment_id, reference, customer_name "
                "FROM payment WHERE id = :id AND payment_id IS NOT NULL AND track_id IS NOT NULL"),
                {"id": rng.randrange(1, top + 1)}).first()
            if row:
                break
    keys = ("phone", "email", "order_id", "track_id", "payment_id", "reference", "name")
    return dict(zip(keys, row or (), strict=True))


class StatementLog:
    """The SQL a search runs (captured from the read engine), to print its query plans."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.active = engine, False
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.active:
            self.seen.append((statement, parameters))

    def capture(self, fn: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.seen, self.active = [], True
        try:
            fn()
        finally:
            self.active = False
        return self.seen


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN`` (PostgreSQL) of each statement, one compact line each."""
    out = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            if engine.dialect.name == "sqlite":
                cur.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                out.append(" / ".join(str(r[3]) for r in cur.fetchall()))
            else:
                cur.execute(f"EXPLAIN {statement}", parameters)
                out.append(" / ".join(str(r[0]).strip() for r in cur.fetchall()))
    finally:
        raw.close()
    return out


def shapes(sample: dict[str, Any], today: date) -> list[Shape]:
    week, month = preset_range("last_7_days", today), preset_range("this_month", today)
    last30 = (today - timedelta(days=29), today)
    year = (today - timedelta(days=364), today)
    family_name = sample["name"].split()[-1]
    return [
        Shape("no filter, newest first", SearchFilter()),
        Shape("date: today", SearchFilter(day_from=today, day_to=today)),
        Shape("date: last 7 days", SearchFilter(day_from=week[0], day_to=week[1])),
        Shape("date: this month", SearchFilter(day_from=month[0], day_to=month[1])),
        Shape("date: last 365 days", SearchFilter(day_from=year[0], day_to=year[1])),
        Shape("status: paid", SearchFilter(statuses={"paid"})),
        Shape("status: pending", SearchFilter(statuses={"pending"})),
        Shape("family: wallet", SearchFilter(families={"wallet"})),
        Shape("method: apple_pay", SearchFilter(methods={"apple_pay"})),
        Shape("amount: exactly 12.500", SearchFilter(amount_min=12_500, amount_max=12_500)),
        Shape("amount: 10-20 KWD", SearchFilter(amount_min=10_000, amount_max=20_000)),
        Shape("amount: >= 100 KWD", SearchFilter(amount_min=100_000)),
        Shape("phone", SearchFilter(phone=sample["phone"])),
        Shape("email (other case)", SearchFilter(email=sample["email"].upper())),
        Shape("order id", SearchFilter(order_id=sample["order_id"])),
        Shape("track id", SearchFilter(track_id=sample["track_id"])),
        Shape("payment id", SearchFilter(payment_id=sample["payment_id"])),
        Shape("reference", SearchFilter(reference=sample["reference"])),
        Shape("text: first name (10% match)", SearchFilter(text="noura")),
        Shape("text: first + family name", SearchFilter(text=f"noura {family_name}")),
        Shape("text: e-mail", SearchFilter(text=sample["email"])),
        Shape("text: order id", SearchFilter(text=sample["order_id"])),
        Shape("paid + last 7 days", SearchFilter(statuses={"paid"}, day_from=week[0], day_to=week[1])),
        Shape("knet + paid + this month", SearchFilter(families={"knet"}, statuses={"paid"}, day_from=month[0],
                                                       day_to=month[1])),
        Shape("wallet + failed + >= 20 KWD", SearchFilter(families={"wallet"}, statuses={"failed"},
                                                          amount_min=20_000)),
        Shape("10-20 KWD + last 30 days", SearchFilter(amount_min=10_000, amount_max=20_000, day_from=last30[0],
                                                       day_to=last30[1])),
        Shape("phone + paid", SearchFilter(phone=sample["phone"], statuses={"paid"})),
        Shape("text + this month", SearchFilter(text="noura", day_from=month[0], day_to=month[1])),
        Shape("text + paid (broad)", SearchFilter(text="ahmad", statuses={"paid"})),
        Shape("deep page 2,000", SearchFilter(), page=2_000),
        Shape("deep page 2,000, paid", SearchFilter(statuses={"paid"}), page=2_000),
        Shape("sort amount, highest first", SearchFilter(), sort="amount"),
        Shape("sort status, page 500", SearchFilter(), sort="status", descending=False, page=500),
        Shape("sort amount asc, wallet, page 100", SearchFilter(families={"wallet"}), sort="amount",
              descending=False, page=100),
    ]


def load_frame(engine: Engine) -> pd.DataFrame:
    """Every payment in a DataFrame, newest first (the naive way's one-off cost)."""
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            "SELECT id, created_at, order_id, track_id, payment_id, reference, amount_fils, status, method, "
            "method_family, customer_name, customer_phone, customer_email, description, created_by FROM payment",
            conn)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["haystack"] = (frame["customer_name"].fillna("") + " " + frame["customer_email"].fillna("") + " "
                         + frame["description"].fillna("") + " " + frame["order_id"] + " "
                         + frame["track_id"].fillna("") + " " + frame["payment_id"].fillna("") + " "
                         + frame["reference"].fillna("")).str.lower()
    return frame.sort_values(SORT_KEYS["created_at"], ascending=False, na_position="last", ignore_index=True)


def naive(frame: pd.DataFrame, shape: Shape) -> tuple[int, int, list[int]]:
    """The same answer from the frame: mask, count, sum, sort, slice."""
    flt = shape.flt
    mask = pd.Series(True, index=frame.index)
    if flt.day_from:
        mask &= frame["created_at"] >= kuwait_day_bounds(flt.day_from)[0]
    if flt.day_to:
        mask &= frame["created_at"] < kuwait_day_bounds(flt.day_to)[1]
    for column, values in (("status", flt.statuses), ("method_family", flt.families), ("method", flt.methods)):
        if values:
            mask &= frame[column].isin(list(values))
    if flt.amount_min is not None:
        mask &= frame["amount_fils"] >= flt.amount_min
    if flt.amount_max is not None:
        mask &= frame["amount_fils"] <= flt.amount_max
    for column, value in (("customer_phone", flt.phone), ("order_id", flt.order_id), ("track_id", flt.track_id),
                          ("payment_id", flt.payment_id), ("reference", flt.reference),
                          ("created_by", flt.created_by)):
        if value:
            mask &= frame[column] == value
    if flt.email:
        mask &= frame["customer_email"].str.lower() == flt.email
    if flt.text:
        for tokens in words(flt.text):
            for token in tokens:
                mask &= frame["haystack"].str.contains(token, regex=False)
    hits = frame[mask]
    if shape.sort != "created_at" or not shape.descending:  # SQL puts NULL first ascending, last descending
        hits = hits.sort_values(SORT_KEYS[shape.sort], ascending=not shape.descending,
                                na_position="last" if shape.descending else "first")
    page = min(shape.page, max(1, -(-len(hits) // PAGE)))  # past the end: the last page, as the search does
    start = (page - 1) * PAGE
    return len(hits), int(hits["amount_fils"].sum()), hits["id"].iloc[start:start + PAGE].tolist()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall-clock and CPU milliseconds of ``repeat`` calls after one warm-up call (whose value is returned)."""
    result = fn()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu, result


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def export_all(engine: Any) -> None:
    """Stream a CSV of every payment; report time, size and how much the process's peak memory grew."""
    from services.search.export import export_csv

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, size, lines = time.perf_counter(), 0, 0
    for chunk in export_csv(engine, Actor("bench@shop.test", Role.ADMIN), SearchFilter()):
        size += len(chunk)
        lines += chunk.count("\n")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"export: {lines - 1:,} rows, {size / 1e6:,.0f} MB of CSV in {time.perf_counter() - started:.1f} s; "
          f"peak memory (max RSS) grew by {grown / 1024:.0f} MB\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "souq-search-bench.db")
    parser.add_argument("--url", help="a database URL instead of --db (PostgreSQL: its public schema is replaced)")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database with enough rows")
    parser.add_argument("--optimize", action="store_true",
                        help="merge the FTS5 index and run ANALYZE first (services.search.optimize_search)")
    parser.add_argument("--plans", action="store_true", help="print the query plans of every shape")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per shape (search)")
    parser.add_argument("--naive-repeat", type=int, default=3, help="timed runs per shape (pandas)")
    parser.add_argument("--export", action="store_true", help="also time a CSV export of every payment")
    args = parser.parse_args()
    url = args.url or sqlite_url(args.db)

    have = existing_rows(url)
    if args.reuse and have >= args.rows:
        print(f"reusing {engine_name(url)} ({have:,} payments)")
    else:
        print(f"seeding {args.rows:,} payments into {engine_name(url)} …", flush=True)
        print(f"  seeded in {seed(url, args.rows):.1f} s")
    rows = existing_rows(url)
    engine = make_engine(url)
    started = time.perf_counter()
    created = ensure_search_support(engine)
    size = f"; database {os.path.getsize(args.db) / 1e6:,.0f} MB" if url.startswith("sqlite") else ""
    print(f"schema at head (search support from migration 0001): "
          f"{'migrated' if created else 'present'} in {time.perf_counter() - started:.1f} s{size}", flush=True)
    if args.optimize:
        started = time.perf_counter()
        optimize_search(engine)
        print(f"optimize_search (FTS5 merge, ANALYZE) in {time.perf_counter() - started:.1f} s")
    health = search_health(engine)
    print("measuring: " + ", ".join(f"{k}={v}" for k, v in health.items()), flush=True)
    actor = enrol(engine, ACTOR)
    if args.export:  # before pandas, so that the peak-memory figure is the export's own
        export_all(engine)
    started = time.perf_counter()
    frame = load_frame(engine)
    load_ms = (time.perf_counter() - started) * 1000
    print(f"naive: load every payment into pandas ({load_ms / 1000:.1f} s, "
          f"{frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB), then filter; a search the naive way costs the "
          f"load plus the filter (the 'filter' column alone is pandas on a frame already in memory)\n", flush=True)

    today = kuwait_today()
    log = StatementLog(read_engine(engine))
    header = (f"{'shape':36} {'matches':>10} {'total KWD':>15} {'p50 ms':>7} {'p95 ms':>7} {'cpu p95':>7} "
              f"{'filter ms':>9} {'naive ms':>9} {'speedup':>8}  note")
    print(f"{os.getloadavg()[0]:.2f} load average at the start ({os.cpu_count()} CPUs)")
    print(header)
    print("-" * len(header))
    worst_p95, min_speedup = 0.0, float("inf")
    measured: list[tuple[float, str, list[tuple[str, Any]]]] = []
    for shape in shapes(samples(engine), today):
        def ours(shape: Shape = shape) -> Any:
            return search(engine, actor, shape.flt, sort=shape.sort, descending=shape.descending, page=shape.page,
                          page_size=PAGE)

        def pandas_way(shape: Shape = shape) -> tuple[int, int, list[int]]:
            return naive(frame, shape)

        statements = log.capture(ours)
        times, cpu, page = timed(ours, args.repeat)
        naive_times, _, (count, amount, ids) = timed(pandas_way, args.naive_repeat)
        p50, p95_ms, filter_p50 = statistics.median(times), p95(times), statistics.median(naive_times)
        naive_ms = load_ms + filter_p50
        speedup = naive_ms / p50
        worst_p95, min_speedup = max(worst_p95, p95_ms), min(min_speedup, speedup)
        measured.append((p95_ms, shape.name, statements))
        note = ""
        if not page.totals_exact:
            note = "amounts not summed: too many text matches" + ("" if page.count_exact else "; count is a floor")
        elif shape.flt.text is None and (page.total_count, page.total_amount_fils) != (count, amount):
            note = f"MISMATCH with pandas: {count} / {amount}"
        elif shape.flt.text is None and [r.id for r in page.rows] != ids:
            note = "MISMATCH: page rows differ from pandas"
        amount_text = f"{page.total_amount_fils / 1000:,.3f}" if page.totals_exact else "—"
        print(f"{shape.name:36} {page.total_count:>10,} {amount_text:>15} {p50:7.2f} {p95_ms:7.2f} "
              f"{p95(cpu):7.2f} {filter_p50:9.1f} {naive_ms:9.0f} {speedup:7.0f}x  {note}", flush=True)
    shown = sorted(measured, reverse=True) if args.plans else sorted(measured, reverse=True)[:3]
    print(f"\nquery plans ({'every shape' if args.plans else 'the three slowest shapes'}, slowest first):")
    for p95_ms, name, statements in shown:
        print(f"  {name} (p95 {p95_ms:.1f} ms):")
        for line in plans(read_engine(engine), statements):
            print(f"    {line}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs); "
          f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; " + ", ".join(f"{k}={v}" for k, v in health.items()))
    print(f"RESULT p95_ms_worst={worst_p95:.2f} speedup_vs_naive_min={min_speedup:.1f} rows={rows} "
          f"db={health['dialect']} analyzed={health['analyzed']} fts_segments={health.get('fts_segments')}")


def engine_name(url: str) -> str:
    return make_engine(url).url.render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
