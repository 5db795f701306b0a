"""Fast, reproducible bulk seeder for benchmarks: realistic payments and refunds written in big batches.

Rows go straight into the ``payment`` and ``refund`` tables with executemany (no ORM objects), so a million
payments take well under a minute on SQLite. Shared by ``bench/analytics.py`` and ``bench/search.py``.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.engine import Connection, Engine

from services.analytics import COUNTED_REFUND_STATES
from services.db import session_scope
from services.models import METHOD_FAMILY, Payment, Refund, Staff
from services.permissions import Actor
from services.refund_state import refund_status

BATCH = 20_000

# Method mix of a typical Kuwaiti web shop: KNET dominates, wallets grow (market-notes.md §3.2).
_METHODS = ("knet", "card", "amex", "apple_pay", "apple_pay_knet", "google_pay", "samsung_pay")
_METHOD_WEIGHTS = (52, 14, 2, 17, 7, 5, 3)
_STATUSES = ("paid", "failed", "cancelled", "pending", "expired")
_STATUS_WEIGHTS = (80, 9, 5, 2, 4)
_RESULTS = {"paid": "CAPTURED", "failed": "NOT CAPTURED", "cancelled": "CANCELED", "pending": None, "expired": None}
# Orders per Kuwait hour of day (0..23): quiet before dawn, busy in the evening.
_HOUR_WEIGHTS = (4, 3, 2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 7, 7, 8, 9, 10, 12, 13, 13, 11, 7)
_REFUND_STATES = ("refunded", "initiated", "pending_approval", "rejected", "cancelled", "failed", "sending",
                  "uncertain")
_REFUND_STATE_WEIGHTS = (70, 14, 4, 3, 3, 3, 2, 1)
_REFUND_REASONS = ("customer_request", "duplicate", "out_of_stock", "other")
_NAMES = ("Ahmad", "Fatima", "Mohammad", "Noura", "Abdullah", "Maryam", "Yousef", "Sara", "Khaled", "Dana")
_FAMILY_NAMES = ("Al-Sabah", "Al-Mutairi", "Al-Ajmi", "Al-Enezi", "Al-Rashidi", "Al-Kandari", "Al-Shammari")
_PRODUCTS = ("Abaya", "Oud perfume", "Dates box", "Phone case", "Gift card", "Sneakers", "Coffee beans")
_KUWAIT_OFFSET = timedelta(hours=3)  # Asia/Kuwait is UTC+3 all year

PAYMENT_COLUMNS = (
    "id", "order_id", "track_id", "upay_order_id", "payment_id", "reference", "amount_fils", "currency", "status",
    "result", "method", "method_family", "customer_name", "customer_phone", "customer_email", "description",
    "language", "source", "created_at", "local_day", "paid_at", "updated_at", "refunded_fils", "webhook_received",
)
REFUND_COLUMNS = (
    "id", "payment_pk", "idempotency_key", "amount_fils", "currency", "reason", "state", "requested_by",
    "approved_by", "decided_at", "gateway_order_id", "gateway_refund_order_id", "error", "created_at", "local_day",
    "sent_at", "refunded_at", "updated_at",
)
_MONEY_OUT = COUNTED_REFUND_STATES  # refunds whose money has left (or is leaving) the shop


def seed_payments(engine: Engine, n: int, *, seed: int = 1, days: int = 365, refunds_ratio: float = 0.03) -> None:
    """Insert ``n`` payments spread over the last ``days`` Kuwait days, and refunds on ``refunds_ratio`` of them.

    Deterministic for a given ``seed`` and day; ids continue after the largest existing id and order ids embed
    the seed, so a second batch into the same database needs another seed.
    """
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # naive UTC inside: cheaper to format
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB page cache for the index inserts
        if conn.dialect.name == "postgresql":  # summaries rebuilt in one pass below instead of row by row
            conn.exec_driver_sql("ALTER TABLE payment DISABLE TRIGGER USER")
        first_payment, first_refund = _next_id(conn, Payment), _next_id(conn, Refund)
        paid: list[tuple[int, int, datetime]] = []
        rows = _payment_rows(rng, n, seed=seed, days=days, now=now, first_id=first_payment)
        status_at, amount_at, created_at = (PAYMENT_COLUMNS.index(c) for c in ("status", "amount_fils", "created_at"))
        for batch in _batches(rows, BATCH):
            _insert(conn, Payment.__table__, PAYMENT_COLUMNS, batch)  # type: ignore[attr-defined]
            paid.extend((row[0], row[amount_at], row[created_at]) for row in batch if row[status_at] == "paid")
        refunds, refunded = _refund_rows(rng, paid, seed=seed, ratio=refunds_ratio, now=now, first_id=first_refund)
        for batch in _batches(iter(refunds), BATCH):
            _insert(conn, Refund.__table__, REFUND_COLUMNS, batch)  # type: ignore[attr-defined]
        if refunded:
            table = Payment.__table__  # type: ignore[attr-defined]
            amounts = {pk: amount for pk, amount, _ in paid}
            conn.execute(  # the refund state as the ledger keeps it (services.refund_state)
                table.update().where(table.c.id == bindparam("pk")).values(refunded_fils=bindparam("fils"),
                                                                          refund_state=bindparam("state")),
                [{"pk": pk, "fils": fils, "state": refund_status("paid", amounts[pk], fils)}
                 for pk, fils in refunded.items()],
            )
        if conn.dialect.name == "postgresql":  # same transaction: the triggers are never left off
            _refill_summaries(conn)
            conn.exec_driver_sql("ALTER TABLE payment ENABLE TRIGGER USER")
            for name in ("payment", "refund"):  # the rows came with their ids: move the sequences past them
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)")
    if engine.dialect.name == "sqlite":
        # One huge transaction leaves every page in the WAL; fold it back as a long-running database would have.
        # Outside any transaction (the engine's "begin" hook would wrap SQLAlchemy statements in one).
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()


def _migration(name: str) -> Any:
    """A module of ``migrations/versions`` (their file names start with a digit: loaded by path)."""
    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refill_summaries(conn: Connection) -> None:
    """PostgreSQL, after a load with the payment triggers off: every trigger-kept summary rebuilt from the rows,
    with the migrations' own SQL (0003's customer summary, 0011's search summaries)."""
    conn.exec_driver_sql("DELETE FROM customer_summary")
    conn.exec_driver_sql(_migration("0003_customers_and_saved_cards")._BACKFILL)
    search = _migration("0011_pg_search")
    for table in ("payment_search_daily", "payment_search_amounts", "payment_search_hours"):
        conn.exec_driver_sql(f"DELETE FROM {table}")
    for fill in search._FILL:
        conn.exec_driver_sql(fill)


def enrol(engine: Engine, actor: Actor) -> Actor:
    """Put the benchmark's actor on the staff list (services re-check every caller against it); idempotent."""
    with session_scope(engine) as session:
        if session.get(Staff, actor.email) is None:
            session.add(Staff(email=actor.email, name="Benchmark", role=actor.role, added_by="bench"))
    return actor


def _insert(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Executemany; on SQLite straight to the driver, datetimes in the exact text SQLAlchemy stores there.

    The SQLite shortcut skips SQLAlchemy's per-value bind processing, which costs as much as the insert itself.
    """
    if conn.dialect.name == "sqlite":
        values = [tuple(v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v for v in row)
                  for row in rows]
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        conn.exec_driver_sql(sql, values)
        return
    if conn.dialect.name == "postgresql":  # COPY: several times faster than executemany (triggers still fire)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in row))
        return
    conn.execute(insert(table), [
        {c: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for c, v in zip(columns, row, strict=True)}
        for row in rows
    ])


def _next_id(conn: Connection, model: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(model.__table__.c.id), 0))).scalar_one()) + 1


def _batches(rows: Iterator[tuple[Any, ...]], size: int) -> Iterable[list[tuple[Any, ...]]]:
    while batch := list(islice(rows, size)):
        yield batch


def _payment_rows(rng: random.Random, n: int, *, seed: int, days: int, now: datetime,
                  first_id: int) -> Iterator[tuple[Any, ...]]:
    """Payments in created_at order (index-friendly), with Kuwait-hour and weekday patterns; naive UTC times."""
    methods = rng.choices(_METHODS, _METHOD_WEIGHTS, k=n)
    statuses = rng.choices(_STATUSES, _STATUS_WEIGHTS, k=n)
    hours = rng.choices(range(24), _HOUR_WEIGHTS, k=n)
    rand = rng.random
    first_day = (now + _KUWAIT_OFFSET).date() - timedelta(days=days - 1)
    first_midnight_utc = datetime(first_day.year, first_day.month, first_day.day) - _KUWAIT_OFFSET
    # Fridays (weekday 4) are quieter: a day off for many.
    day_weights = [0.7 if (first_day + timedelta(days=d)).weekday() == 4 else 1.0 for d in range(days)]
    picked = rng.choices(range(days), day_weights, k=n)
    offsets = sorted(picked[i] * 86400 + hours[i] * 3600 + int(rand() * 3600) for i in range(n))
    for i, offset in enumerate(offsets):
        created = first_midnight_utc + timedelta(seconds=offset)
        if created > now:  # today's later hours have not happened yet
            created = now - timedelta(seconds=1 + int(rand() * 3600))
        status = statuses[i]
        # Hosted-page links that were never paid often have no method yet.
        method = methods[i] if status in ("paid", "failed", "cancelled") or rand() < 0.4 else None
        first = _NAMES[int(rand() * len(_NAMES))]
        pk = first_id + i
        is_paid = status == "paid"
        yield (
            pk, f"B{seed}-{pk:09d}", f"T{seed}{pk:012d}" if method else None,
            f"UP{seed}{pk:010d}" if is_paid else None, f"{10**14 + int(rand() * 9 * 10**14)}" if is_paid else None,
            f"INV-{pk:08d}", _amount(rng), "KWD", status, _RESULTS[status], method, METHOD_FAMILY.get(method or ""),
            f"{first} {_FAMILY_NAMES[pk % len(_FAMILY_NAMES)]}", f"+965{'569'[pk % 3]}{int(rand() * 10**7):07d}",
            f"{first.lower()}{pk}@mail.test", _PRODUCTS[pk % len(_PRODUCTS)], "ar" if rand() < 0.35 else "en",
            "bench", created, (created + _KUWAIT_OFFSET).date().isoformat(),
            created + timedelta(seconds=20 + int(rand() * 600)) if is_paid else None, created, 0, status != "pending",
        )


def _amount(rng: random.Random) -> int:
    """A ticket in fils: mostly 2–60 KWD, a long tail to a few hundred, in steps of 250 fils."""
    kwd = min(rng.lognormvariate(2.8, 0.9), 900.0)
    return max(250, int(kwd * 4) * 250)


def _refund_rows(rng: random.Random, paid: list[tuple[int, int, datetime]], *, seed: int, ratio: float,
                 now: datetime, first_id: int) -> tuple[list[tuple[Any, ...]], dict[int, int]]:
    """Refunds (full or partial) on a sample of paid payments, made 1 hour to 7 days after the payment."""
    count = min(len(paid), round(len(paid) * ratio))
    chosen = sorted(rng.sample(paid, count), key=lambda item: item[2])
    states = rng.choices(_REFUND_STATES, _REFUND_STATE_WEIGHTS, k=count)
    rows: list[tuple[Any, ...]] = []
    refunded: dict[int, int] = {}
    for i, (pk, amount, created) in enumerate(chosen):
        at = min(now, created + timedelta(seconds=rng.randrange(3600, 7 * 86400)))
        fils = amount if rng.random() < 0.6 else max(1, amount * rng.randrange(10, 91) // 100)
        state = states[i]
        rid = first_id + i
        sent = state in ("refunded", "initiated", "failed", "uncertain", "sending")
        rows.append((
            rid, pk, f"bench-{seed}-{rid}", fils, "KWD", rng.choice(_REFUND_REASONS), state, "finance@shop.test",
            "admin@shop.test" if state not in ("pending_approval", "rejected") else None,
            at if state != "pending_approval" else None, f"UP{seed}{pk:010d}" if sent else None,
            f"R{seed}{rid:010d}" if state in _MONEY_OUT else None,
            "declined by the gateway" if state == "failed" else None, at, (at + _KUWAIT_OFFSET).date().isoformat(),
            at if sent else None, min(now, at + timedelta(days=1)) if state == "refunded" else None, at,
        ))
        if state in _MONEY_OUT:
            refunded[pk] = refunded.get(pk, 0) + fils
    return rows, refunded
