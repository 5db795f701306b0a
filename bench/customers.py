"""Benchmark: the customers list, search box and one customer's page at a million payments.

    .venv/bin/python -m bench.customers --rows 1000000 --db /tmp/customers-bench.db [--reuse] [--repeat 20]

Seeds with ``bench/seed.py`` (payments go through the ``customer_summary`` triggers, so the seeding time includes
keeping the summary), then times each page shape several times and prints p50/p95 in ms. The last line is
``RESULT p95_ms_worst=<ms> rows=<n> customers=<n> seed_s=<s>``. It also checks that the summary equals a
GROUP BY over the payments (sampled customers), and that the name search returns exactly what a scan of every
customer with the same rule returns, so a fast but wrong answer cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services import customers
from services.db import create_schema, make_engine, session_scope, sqlite_url
from services.models import Staff
from services.permissions import Actor, Role

ACTOR = Actor("bench@shop.test", Role.FINANCE)
VIEWER = Actor("viewer@shop.test", Role.VIEWER)


def seed(db: Path, rows: int) -> float:
    """A fresh database with ``rows`` payments; seconds taken."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(sqlite_url(db))
    create_schema(engine)
    started = time.perf_counter()
    from bench.seed import seed_payments

    seed_payments(engine, rows)
    engine.dispose()
    return time.perf_counter() - started


def _staff(db: Path) -> None:
    engine = make_engine(sqlite_url(db))
    with session_scope(engine) as session:
        for actor in (ACTOR, VIEWER):
            if session.get(Staff, actor.email) is None:
                session.add(Staff(email=actor.email, role=actor.role))
    engine.dispose()


def _time(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    return statistics.median(runs), runs[max(0, int(len(runs) * 0.95) - 1)]


def _check_summary(db: Path, sample: list[str]) -> None:
    """The trigger-kept summary equals a GROUP BY over the payments for ``sample`` customers."""
    with sqlite3.connect(db) as conn:
        for key in sample:
            want = conn.execute(
                "SELECT count(*), sum(status = 'paid'), sum(CASE WHEN status = 'paid' THEN amount_fils ELSE 0 END), "
                "sum(refunded_fils) FROM payment WHERE customer_phone = ?", (key,)).fetchone()
            got = conn.execute("SELECT n_payments, n_paid, captured_fils, refunded_fils FROM customer_summary "
                               "WHERE key = ?", (key,)).fetchone()
            assert tuple(want) == tuple(got), (key, want, got)


def _check_name_search(db: Path, engine: Any, query: str) -> None:
    """The indexed name search returns exactly what a scan of every customer with the same rule returns."""
    from services.customers.names import matches
    from services.customers.search_box import parse_query

    wanted = parse_query(query).name_words
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, name, last_paid_at FROM customer_summary WHERE name IS NOT NULL").fetchall()
    hits = sorted(((at or "", key) for key, name, at in rows if matches(name, wanted)), reverse=True)[:20]
    got = [r.key for r in customers.find_customers(engine, ACTOR, query=query)]
    assert got == [key for _, key in hits], (query, got[:3], hits[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/customers-bench.db"))  # noqa: S108 - a bench file
    parser.add_argument("--reuse", action="store_true", help="keep an existing database with enough rows")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    seed_s = 0.0
    have = 0
    if args.reuse and args.db.exists():
        with sqlite3.connect(args.db) as conn:
            have = int(conn.execute("SELECT count(*) FROM payment").fetchone()[0])
    if have < args.rows:
        seed_s = seed(args.db, args.rows)
        print(f"seeded {args.rows:,} payments in {seed_s:.1f} s (customer summary kept by triggers)")
    _staff(args.db)
    engine = make_engine(sqlite_url(args.db))
    with sqlite3.connect(args.db) as conn:
        n_customers = int(conn.execute("SELECT count(*) FROM customer_summary").fetchone()[0])
        sample = [r[0] for r in conn.execute("SELECT key FROM customer_summary ORDER BY n_paid DESC, key LIMIT 5")]
        deep = max(1, n_customers // 25 // 2)
    _check_summary(args.db, sample)
    for query in ("Noura", "nou sab", "al"):
        _check_name_search(args.db, engine, query)
    key = sample[0]
    shapes: dict[str, Callable[[], Any]] = {
        "list by last purchase, page 1": lambda: customers.list_customers(engine, ACTOR, sort="last_purchase"),
        "list by lifetime value, page 1": lambda: customers.list_customers(engine, ACTOR, sort="lifetime_value"),
        "list by purchases, page 1": lambda: customers.list_customers(engine, ACTOR, sort="purchases"),
        f"list by lifetime value, page {deep:,}": lambda: customers.list_customers(
            engine, ACTOR, sort="lifetime_value", page=deep, page_size=25),
        "list as viewer (masked), page 1": lambda: customers.list_customers(engine, VIEWER, sort="last_purchase"),
        "search by phone (any format)": lambda: customers.find_customers(engine, ACTOR, query=key[4:]),
        "search by name": lambda: customers.find_customers(engine, ACTOR, query="Noura"),
        "search by name start, broad ('al')": lambda: customers.find_customers(engine, ACTOR, query="al"),
        "search by two word starts ('nou sab')": lambda: customers.find_customers(engine, ACTOR, query="nou sab"),
        "search by name, no match ('zz')": lambda: customers.find_customers(engine, ACTOR, query="zz"),
        "one customer's page": lambda: customers.customer_profile(engine, ACTOR, key=key),
    }
    worst = 0.0
    for name, call in shapes.items():
        p50, p95 = _time(call, args.repeat)
        worst = max(worst, p95)
        print(f"{name:<40} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
    print(f"RESULT p95_ms_worst={worst:.1f} rows={args.rows} customers={n_customers} seed_s={seed_s:.1f}")


if __name__ == "__main__":
    main()
