"""Fast, reproducible bulk seeder for benchmarks: realistic payments and refunds written in big batches.

Rows go straight into the ``payment`` and ``refund`` tables with executemany (no ORM objects). The triggers that
keep the summaries (and, on SQLite, the FTS5 text index) exact row by row are off during the load and every table
they keep is rebuilt from the rows afterwards with the migrations' own SQL, in the same transaction: a failure
rolls back to the triggers as they were (PostgreSQL and SQLite DDL are both transactional). Shared by
``bench/analytics.py``, ``bench/search.py`` and ``bench/pages.py``.
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
SQLITE_CACHE_KIB = 1_048_576  # 1 GB page cache while seeding: the payment indexes of 5M rows stay mostly in memory

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


def seed_payments(engine: Engine, n: int, *, seed: int = 1, days: int = 365, refunds_ratio: float = 0.03,
                  through_triggers: bool = False) -> None:
    """Insert ``n`` payments spread over the last ``days`` Kuwait days, and refunds on ``refunds_ratio`` of them.

    Deterministic for a given ``seed`` and day; ids continue after the largest existing id and order ids embed
    the seed, so a second batch into the same database needs another seed. ``through_triggers``: every row goes
    through the summary triggers instead of the bulk rebuild (the tests compare the two; 9 minutes at 1M on SQLite).
    """
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # naive UTC inside: cheaper to format
    with engine.begin() as conn:
        sqlite_triggers: list[str] = []
        dialect, bulk = conn.dialect.name, not through_triggers
        if dialect == "sqlite":
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")  # page cache for the index inserts
        if dialect == "sqlite" and bulk:  # summaries and FTS rebuilt in one pass below instead of row by row
            sqlite_triggers = _drop_sqlite_triggers(conn)
        if dialect == "postgresql" and bulk:  # summaries rebuilt in one pass below instead of row by row
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
        if dialect == "sqlite" and bulk:  # same transaction: the triggers are never left off
            _refill_sqlite(conn)
            for ddl in sqlite_triggers:
                conn.exec_driver_sql(ddl)
        if dialect == "postgresql" and bulk:  # same transaction: the triggers are never left off
            _refill_summaries(conn)
            conn.exec_driver_sql("ALTER TABLE payment ENABLE TRIGGER USER")
        if dialect == "postgresql":
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
    _latest_customer_details(conn)
    search = _migration("0011_pg_search")
    for table in ("payment_search_daily", "payment_search_amounts", "payment_search_hours"):
        conn.exec_driver_sql(f"DELETE FROM {table}")
    for fill in search._FILL:
        conn.exec_driver_sql(fill)


def sqlite_payment_triggers() -> dict[str, str]:
    """Name → ``CREATE TRIGGER`` of every SQLite trigger on ``payment``, as the migrations define them: 0001's
    search summaries and FTS index, 0003's customer summary, 0006's hourly summary, 0013's deposited money."""
    ddl = [create for _, create in _migration("0001_baseline")._search_ddl()]
    ddl += _migration("0003_customers_and_saved_cards")._SQLITE_TRIGGERS.values()
    ddl += _migration("0006_page_indexes")._hours_ddl()
    ddl += [create for create in _migration("0013_settlement_deposited").ddl() if " ON payment " in create]
    triggers = [create for create in ddl if create.startswith("CREATE TRIGGER")]
    return {create.split()[2]: create for create in triggers}


def _drop_sqlite_triggers(conn: Connection) -> list[str]:
    """Drop the triggers on ``payment`` (inside the caller's transaction); their DDL to create them again.

    Refuses when the database's triggers are not exactly the migrations' (another version of the schema): the
    rebuild below would then not be what those triggers keep."""
    expected = sqlite_payment_triggers()
    stored: dict[str, str] = dict(conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'payment'").all())
    if stored != expected:
        differ = sorted(set(stored) ^ set(expected)) or sorted(n for n in stored if stored[n] != expected[n])
        raise RuntimeError(f"the triggers on payment are not the migrations' ({', '.join(differ)}): "
                           "bring the database to the newest migration first")
    for name in expected:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    return list(expected.values())


def _refill_sqlite(conn: Connection) -> None:
    """SQLite, after a load with the payment triggers dropped: every table they keep rebuilt from the rows with the
    migrations' own SQL — 0001's daily, amount and day-id summaries and FTS index (``_populate``), 0006's hourly
    summary, 0003's customer summary (whose own triggers keep ``customer_name`` and its FTS index), 0013's
    deposited money per day."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    kept = ("payment_search_daily", "payment_search_amounts", "payment_search_day_ids", "payment_search_hours",
            "customer_summary", "settlement_deposited")
    for table in kept:
        conn.exec_driver_sql(f"DELETE FROM {table}")
    with Operations.context(MigrationContext.configure(conn)):  # _populate speaks through alembic's ``op``
        _migration("0001_baseline")._populate(
            {"payment_search_daily", "payment_search_amounts", "payment_search_day_ids", "payment_fts"})
    hours_fill = _migration("0006_page_indexes")._hours_ddl()[-1]
    assert hours_fill.startswith("INSERT INTO payment_search_hours"), hours_fill
    conn.exec_driver_sql(hours_fill)
    conn.exec_driver_sql(_migration("0003_customers_and_saved_cards")._BACKFILL)
    _latest_customer_details(conn)
    conn.exec_driver_sql(_migration("0013_settlement_deposited").fill())


def _latest_customer_details(conn: Connection) -> None:
    """After 0003's backfill: each customer's name and e-mail as the triggers keep them, the latest ones given.

    The backfill takes ``MAX(customer_name)``; the triggers keep the name (and e-mail) of the newest payment that
    has one — at 200,000 bench payments they differ for half of the 636 customers who paid more than once."""
    key = _migration("0003_customers_and_saved_cards")._key("p")
    for column, value in (("name", "p.customer_name"), ("email", "lower(p.customer_email)")):
        conn.exec_driver_sql(
            f"UPDATE customer_summary SET {column} = latest.value FROM (SELECT k, value FROM (SELECT {key} AS k, "
            f"{value} AS value, row_number() OVER (PARTITION BY {key} ORDER BY p.id DESC) AS rn FROM payment p "
            f"WHERE {value} IS NOT NULL) ranked WHERE rn = 1) latest WHERE latest.k = customer_summary.key "
            f"AND customer_summary.n_payments > 1 AND customer_summary.{column} IS DISTINCT FROM latest.value")


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
