"""Benchmark: transaction search at a million payments, against the naive way (pandas, loaded once) in one run.

    .venv/bin/python -m bench.search --rows 1000000 --db /tmp/search-bench.db [--reuse] [--repeat 30]

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
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from services.db import create_schema, make_engine, sqlite_url
from services.permissions import Actor, Role
from services.search import SearchFilter, ensure_search_support, kuwait_today, preset_range, search
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


def seed(db: Path, rows: int) -> float:
    """A fresh database with ``rows`` payments; returns seconds taken."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(sqlite_url(db))
    create_schema(engine)
    started = time.perf_counter()
    from bench.seed import seed_payments

    seed_payments(engine, rows)
    engine.dispose()
    return time.perf_counter() - started


def existing_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM payment").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def samples(db: Path) -> dict[str, Any]:
    """Real values to look for: a random payment's phone, e-mail and ids."""
    with sqlite3.connect(db) as conn:
        top = conn.execute("SELECT max(id) FROM payment").fetchone()[0]
        rng = random.Random(5)
        for _ in range(1000):
            row = conn.execute(
                "SELECT customer_phone, customer_email, order_id, track_id, payment_id, reference, customer_name "
                "FROM payment WHERE id = ? AND payment_id IS NOT NULL AND track_id IS NOT NULL",
                (rng.randrange(1, top + 1),)).fetchone()
            if row:
                break
    keys = ("phone", "email", "order_id", "track_id", "payment_id", "reference", "name")
    return dict(zip(keys, row, strict=True))


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


def load_frame(db: Path) -> pd.DataFrame:
    """Every payment in a DataFrame, newest first (the naive way's one-off cost)."""
    with sqlite3.connect(db) as conn:
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
    parser.add_argument("--reuse", action="store_true", help="keep an existing database with enough rows")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per shape (search)")
    parser.add_argument("--naive-repeat", type=int, default=3, help="timed runs per shape (pandas)")
    parser.add_argument("--export", action="store_true", help="also time a CSV export of every payment")
    args = parser.parse_args()

    have = existing_rows(args.db)
    if args.reuse and have >= args.rows:
        print(f"reusing {args.db} ({have:,} payments)")
    else:
        print(f"seeding {args.rows:,} payments into {args.db} …", flush=True)
        print(f"  seeded in {seed(args.db, args.rows):.1f} s")
    rows = existing_rows(args.db)
    engine = make_engine(sqlite_url(args.db))
    started = time.perf_counter()
    created = ensure_search_support(engine)
    print(f"search support (daily summary, FTS5 index, covering indexes): "
          f"{'built' if created else 'present'} in {time.perf_counter() - started:.1f} s; "
          f"database {os.path.getsize(args.db) / 1e6:,.0f} MB", flush=True)
    if args.export:  # before pandas, so that the peak-memory figure is the export's own
        export_all(engine)
    started = time.perf_counter()
    frame = load_frame(args.db)
    load_ms = (time.perf_counter() - started) * 1000
    print(f"naive: load every payment into pandas ({load_ms / 1000:.1f} s, "
          f"{frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB), then filter; a search the naive way costs the "
          f"load plus the filter (the 'filter' column alone is pandas on a frame already in memory)\n", flush=True)

    today = kuwait_today()
    header = (f"{'shape':36} {'matches':>10} {'total KWD':>15} {'p50 ms':>7} {'p95 ms':>7} {'cpu p95':>7} "
              f"{'filter ms':>9} {'naive ms':>9} {'speedup':>8}  note")
    print(header)
    print("-" * len(header))
    worst_p95, min_speedup = 0.0, float("inf")
    for shape in shapes(samples(args.db), today):
        def ours(shape: Shape = shape) -> Any:
            return search(engine, ACTOR, shape.flt, sort=shape.sort, descending=shape.descending, page=shape.page,
                          page_size=PAGE)

        def pandas_way(shape: Shape = shape) -> tuple[int, int, list[int]]:
            return naive(frame, shape)

        times, cpu, page = timed(ours, args.repeat)
        naive_times, _, (count, amount, ids) = timed(pandas_way, args.naive_repeat)
        p50, p95_ms, filter_p50 = statistics.median(times), p95(times), statistics.median(naive_times)
        naive_ms = load_ms + filter_p50
        speedup = naive_ms / p50
        worst_p95, min_speedup = max(worst_p95, p95_ms), min(min_speedup, speedup)
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
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs); "
          f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"RESULT p95_ms_worst={worst_p95:.2f} speedup_vs_naive_min={min_speedup:.1f} rows={rows}")


if __name__ == "__main__":
    main()
