"""The bench seeder's bulk path (triggers off, summaries rebuilt with the migrations' SQL) leaves exactly what the
row triggers would have: the same summary rows and text-index matches, and the triggers themselves back in place.

The reference database gets the very same payment and refund rows, inserted one by one through the triggers, so
the comparison does not depend on the clock or the random draw. PostgreSQL runs when SOUQ_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, select, text
from sqlalchemy.engine import Connection, Engine

import bench.seed
from bench.seed import seed_payments, sqlite_payment_triggers
from tests.factories import make_db
from tests.postgres import postgres_database

N = 3_000
SUMMARIES = {
    "payment_search_daily": "day, status, method, family",
    "payment_search_amounts": "amount, status, method, family",
    "payment_search_hours": "hour, method, family",
    "customer_summary": "key",
    "customer_name": "key",
}
SQLITE_ONLY = {"payment_search_day_ids": "day"}
#: Words and prefixes as the search box sends them to FTS5 (names, products, an id prefix, an e-mail part).
FTS_QUERIES = ('"noura"', '"al" "sabah"', '"abaya"', '"oud"*', '"b5"*', '"mail"', '"ahm"*', '"inv" "0000004"*')


def _copy_through_triggers(source: Engine, target: Engine) -> None:
    """Every payment, then every refund, of ``source`` inserted into ``target`` row by row (the triggers fire)."""
    for name in ("payment", "refund"):
        table = Table(name, MetaData(), autoload_with=source)
        columns = [c for c in table.c if c.computed is None]  # PostgreSQL computes search_text itself
        with source.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(*columns).order_by(table.c.id))]
        with target.begin() as conn:
            for row in rows:
                conn.execute(table.insert(), row)
    if target.dialect.name == "postgresql":
        with target.begin() as conn:
            for name in ("payment", "refund"):
                top = f"SELECT max(id) + 1 FROM {name}"  # noqa: S608 (the two table names above)
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), ({top}), false)")


def _summaries(conn: Connection) -> dict[str, list[Any]]:
    tables = {**SUMMARIES, **(SQLITE_ONLY if conn.dialect.name == "sqlite" else {})}
    columns = {"customer_name": "key, words"}
    found = {t: [tuple(r) for r in conn.exec_driver_sql(
                 f"SELECT {columns.get(t, '*')} FROM {t} ORDER BY {key}")]  # noqa: S608 (the constants above)
             for t, key in tables.items()}
    if conn.dialect.name == "sqlite":
        for query in FTS_QUERIES:
            found[f"fts {query}"] = [r[0] for r in conn.execute(
                text("SELECT rowid FROM payment_fts WHERE payment_fts MATCH :q ORDER BY rowid"), {"q": query})]
            found[f"names {query}"] = [r[0] for r in conn.execute(  # customers by key: their ids differ
                text("SELECT key FROM customer_name WHERE id IN (SELECT rowid FROM customer_name_fts "
                     "WHERE customer_name_fts MATCH :q) ORDER BY key"), {"q": query})]
    return found


def _triggers(conn: Connection) -> list[tuple[Any, ...]]:
    """The schema objects that must come back unchanged: SQLite's whole catalogue, PostgreSQL's triggers."""
    if conn.dialect.name == "sqlite":
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")]
    return [tuple(r) for r in conn.exec_driver_sql(
        "SELECT tgrelid::regclass::text, tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE NOT tgisinternal ORDER BY 1, 2")]


def _one_more_payment(engine: Engine) -> None:
    """A new paid payment of a customer already there (through the triggers), the same in both databases."""
    payment = Table("payment", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        columns = [c for c in payment.c if c.computed is None]
        row = dict(conn.execute(select(*columns).where(payment.c.status == "paid").order_by(payment.c.id.desc())
                                .limit(1)).one()._mapping)
        row.update(id=row["id"] + 10_000, order_id="EXTRA-1", reference="INV-EXTRA-1", track_id="TEXTRA1",
                   upay_order_id="UPEXTRA1", payment_id="999", customer_name="Zainab Extra", amount_fils=12_345,
                   refunded_fils=0, refund_state=None)
        conn.execute(payment.insert(), row)


def _repeat_customers(engine: Engine, count: int = 25) -> None:
    """Payments of customers already there under another name and e-mail (sorting before theirs): the summary
    keeps the newest ones, as the triggers do, not the largest."""
    payment = Table("payment", MetaData(), autoload_with=engine)
    columns = [c for c in payment.c if c.computed is None]
    with engine.begin() as conn:
        top = conn.execute(select(payment.c.id).order_by(payment.c.id.desc()).limit(1)).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(select(*columns).where(payment.c.status == "paid")
                                                       .order_by(payment.c.id).limit(count))]
        for i, row in enumerate(rows, start=1):
            pk = top + i
            row.update(id=pk, order_id=f"REPEAT-{pk}", reference=f"INV-R{pk}", track_id=None, upay_order_id=None,
                       payment_id=None, customer_name="Aisha Repeat", customer_email=f"AA{i}@repeat.test",
                       refunded_fils=0, refund_state=None)
            conn.execute(payment.insert(), row)


def _compare(bulk: Engine, reference: Engine) -> None:
    with bulk.connect() as conn:
        before = _triggers(conn)
    seed_payments(bulk, N, seed=5, days=40, refunds_ratio=0.2)
    _repeat_customers(bulk)
    seed_payments(bulk, 500, seed=6, days=40)  # the second rebuild covers the repeat customers' payments
    with bulk.connect() as conn:
        assert _triggers(conn) == before  # every trigger back, exactly as it was (and enabled)
    _copy_through_triggers(bulk, reference)
    with bulk.connect() as fast, reference.connect() as slow:
        got, expected = _summaries(fast), _summaries(slow)
    assert len(expected["customer_summary"]) > 2_000 and len(expected["payment_search_daily"]) > 100
    assert sum(r[4] for r in expected["customer_summary"]) == N + 25 + 500  # every payment counted once
    assert sum(r[1] == "Aisha Repeat" and r[4] > 1 for r in expected["customer_summary"]) == 25
    assert any(row[7] > 0 for row in expected["customer_summary"])  # refunds reached the customer summary
    for name in expected:
        assert got[name] == expected[name], name
    if bulk.dialect.name == "sqlite":
        assert all(expected[f"fts {q}"] for q in FTS_QUERIES)  # each query finds something
    for engine in (bulk, reference):  # the triggers work again on the bulk-loaded database
        _one_more_payment(engine)
    with bulk.connect() as fast, reference.connect() as slow:
        after, expected_after = _summaries(fast), _summaries(slow)
    assert after != got
    for name in expected_after:
        assert after[name] == expected_after[name], name


def test_sqlite_bulk_seed_equals_the_triggers(tmp_path) -> None:
    _compare(make_db(tmp_path, "bulk.db"), make_db(tmp_path, "rows.db"))


def test_sqlite_triggers_are_the_migrations(tmp_path) -> None:
    """The seeder drops and re-creates exactly the triggers the migrations put on ``payment``."""
    with make_db(tmp_path).connect() as conn:
        stored: dict[str, str] = dict(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'payment'").all())
    assert stored == sqlite_payment_triggers()
    assert len(stored) == 17  # 0001: 9, 0003: 3, 0006: 3, 0013: 2


def test_sqlite_failed_seed_leaves_the_triggers(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_db(tmp_path)
    with engine.connect() as conn:
        before = _triggers(conn)

    def broken(conn: Connection) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(bench.seed, "_refill_sqlite", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_payments(engine, 500, seed=2, days=10)
    with engine.connect() as conn:
        assert _triggers(conn) == before
        assert conn.exec_driver_sql("SELECT count(*) FROM payment").scalar_one() == 0


@pytest.fixture
def pg_pair() -> Iterator[tuple[Engine, Engine]]:
    with postgres_database("seed_bulk") as bulk, postgres_database("seed_rows") as rows:
        yield bulk, rows


@pytest.mark.postgres
def test_postgres_bulk_seed_equals_the_triggers(pg_pair: tuple[Engine, Engine]) -> None:
    _compare(*pg_pair)
