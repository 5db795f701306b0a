"""The settlement figures read from the summaries (SQLite with its search support) equal, to the fils, the ones
summed from every payment (the reference: :func:`services.settlements.report.exact_payments`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services import settlements
from services.db import read_engine, session_scope
from services.demo import seed_payments
from services.models import Deposit, PaymentStatus
from services.permissions import Role
from services.search import support
from services.settlements import report
from tests.factories import make_db, make_payment, make_refund, make_staff

ANCHOR = date(2026, 11, 26)  # a Thursday
UNTIL = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def _deposit(engine: Engine, payment_pk: int | None, *, deposited: bool) -> None:
    assert payment_pk is not None
    with session_scope(engine) as session:
        session.merge(Deposit(payment_pk=payment_pk, deposited=deposited, checked_at=UTC_NOON, checks=1,
                              deposited_at=UTC_NOON if deposited else None))


UTC_NOON = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_db(Path(tmp_path_factory.mktemp("settle-summary")))
    seed_payments(engine, ANCHOR, count=1200, days=60, until=UNTIL, deposit_invoice_base="http://sandbox.test")
    # Edges the demo does not make: either side of Kuwait midnight (21:00 UTC), no method, every status,
    # a deposit row that says "not yet", and "Yes" rows for payments that are not paid (never counted).
    edges = [make_payment(engine, amount_fils=amount, method=method, created_at=at) for amount, method, at in (
        (1_001, "knet", datetime(2026, 11, 22, 20, 59, 59, tzinfo=UTC)),
        (2_003, "knet", datetime(2026, 11, 22, 21, 0, 0, tzinfo=UTC)),
        (3_007, None, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        (4_013, "cc", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)))]
    for edge in edges:
        _deposit(engine, edge.id, deposited=edge.amount_fils != 4_013)
    for status in (PaymentStatus.FAILED, PaymentStatus.PENDING, PaymentStatus.CANCELLED):
        other = make_payment(engine, amount_fils=5_017, status=status,
                             created_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC))
        _deposit(engine, other.id, deposited=True)
    make_refund(engine, edges[2], amount_fils=1_000, state="refunded",
                created_at=datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    support.ensure_search_support(engine)
    yield engine
    support._ready.discard(engine)


def _groups(rows: list[report.PaymentGroup]) -> Counter[tuple[str, str, bool, str]]:
    """(day, family, deposited) → payments and fils, zero groups left out (the summary may hold empty keys)."""
    out: Counter[tuple[str, str, bool, str]] = Counter()
    for day, family, deposited, count, amount in rows:
        out[(day, family or "", deposited, "n")] += count
        out[(day, family or "", deposited, "fils")] += amount
    return +out


@pytest.mark.parametrize(("lo", "hi"), [("2026-11-10", "2026-11-26"), ("2026-11-22", "2026-11-23"),
                                        ("2026-11-23", "2026-11-23"), ("2026-09-01", "2026-11-30"),
                                        ("2027-01-01", "2027-01-31")])
def test_summarised_groups_equal_the_payments_own(engine: Engine, lo: str, hi: str) -> None:
    with read_engine(engine).connect() as conn:
        exact = report.exact_payments(conn, lo, hi)
        summarised = report.summarised_payments(conn, lo, hi)
    assert _groups(summarised) == _groups(exact)
    if (lo, hi) == ("2026-11-10", "2026-11-26"):
        assert any(deposited for _, _, deposited, n, _ in exact if n)  # something deposited, something pending
        assert any(not deposited for _, _, deposited, n, _ in exact if n)


def _figures(engine: Engine, first: date, last: date) -> list[tuple[object, ...]]:
    finance = make_staff(engine, Role.FINANCE)
    got = settlements.settlement_between(engine, finance, first, last, overdue_after=2, today=ANCHOR)
    return [(d.day, d.payments, d.captured_fils, d.refunds_fils, d.pending_fils, d.pending_payments,
             d.overdue_payments, d.overdue_fils, d.deposited_fils, d.state, tuple(sorted(d.expected_by_family.items())))
            for d in got.days]


def test_the_page_figures_are_the_same_either_way(engine: Engine) -> None:
    first, last = ANCHOR - timedelta(days=40), ANCHOR + timedelta(days=3)
    assert support.has_support(engine)
    summarised = _figures(engine, first, last)
    support._ready.discard(engine)
    try:
        exact = _figures(engine, first, last)
    finally:
        support.ensure_search_support(engine)
    assert summarised == exact
    states = {row[9] for row in exact}
    assert {"deposited", "overdue", "pending"} <= states  # the comparison covers each kind of day


def _same_either_way(engine: Engine) -> None:
    with read_engine(engine).connect() as conn:
        assert _groups(report.summarised_payments(conn, "2026-01-01", "2026-12-31")) == \
            _groups(report.exact_payments(conn, "2026-01-01", "2026-12-31"))


def test_the_deposited_summary_follows_every_change(tmp_path: Path) -> None:
    """Each trigger of migration 0013: a "Yes" arriving or removed, a paid payment changing under a "Yes"."""
    engine = make_db(tmp_path)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    a, b, c = (make_payment(engine, amount_fils=amount, method="knet", created_at=at)
               for amount in (1_000, 2_000, 4_000))
    pending = make_payment(engine, amount_fils=8_000, status=PaymentStatus.PENDING, created_at=at)
    _deposit(engine, a.id, deposited=False)
    _deposit(engine, b.id, deposited=True)  # insert, "Yes"
    _deposit(engine, pending.id, deposited=True)  # a "Yes" for a payment not paid (yet) is not counted
    _same_either_way(engine)
    changes = [
        "UPDATE deposit SET deposited = 1 WHERE payment_pk = :a",  # "not yet" becomes "Yes"
        "UPDATE payment SET amount_fils = 2500 WHERE id = :b",
        "UPDATE payment SET method_family = 'card', method = 'cc' WHERE id = :b",
        "UPDATE payment SET local_day = '2026-11-24', created_at = '2026-11-24 10:00:00.000000' WHERE id = :b",
        "UPDATE payment SET status = 'paid' WHERE id = :pending",  # its earlier "Yes" now counts
        "UPDATE payment SET status = 'failed' WHERE id = :a",  # and stops counting when no longer paid
        "DELETE FROM deposit WHERE payment_pk = :b",
        "INSERT INTO deposit (payment_pk, deposited, checked_at, checks) VALUES (:c, 1, '2026-11-26', 1)",
        "DELETE FROM deposit WHERE payment_pk = :c",
        "DELETE FROM payment WHERE id = :c",
    ]
    ids = {"a": a.id, "b": b.id, "c": c.id, "pending": pending.id}
    with read_engine(engine).connect() as conn:
        before = conn.execute(text("SELECT * FROM settlement_deposited ORDER BY 1, 2")).all()
    for change in changes:
        with engine.begin() as conn:
            conn.execute(text(change), {k: v for k, v in ids.items() if f":{k}" in change})
        _same_either_way(engine)
    with read_engine(engine).connect() as conn:
        assert conn.execute(text("SELECT * FROM settlement_deposited ORDER BY 1, 2")).all() != before


def test_upgrading_to_0013_fills_the_summary_from_the_deposits_already_there(engine: Engine) -> None:
    from services import migrate

    before = _groups_of(engine)
    assert any(deposited for _, _, deposited, _ in before)
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012")
    with read_engine(engine).connect() as conn:
        assert "settlement_deposited" not in {n for (n,) in conn.execute(text("SELECT name FROM sqlite_master"))}
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert _groups_of(engine) == before


def _groups_of(engine: Engine) -> Counter[tuple[str, str, bool, str]]:
    with read_engine(engine).connect() as conn:
        return _groups(report.summarised_payments(conn, "2026-01-01", "2026-12-31"))


@pytest.mark.parametrize("limit", [3, 500])
@pytest.mark.parametrize("deposit_day", [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 29)])
def test_a_day_s_payments_are_the_newest_paid_ones_of_its_capture_days(engine: Engine, deposit_day: date,
                                                                       limit: int) -> None:
    from sqlmodel import Session, select

    from services.models import Payment

    days = {d.isoformat() for d in settlements.capture_days(deposit_day)}
    with Session(engine) as session:
        every = session.exec(select(Payment)).all()
    newest = sorted((p for p in every if p.status == PaymentStatus.PAID and p.local_day in days),
                    key=lambda p: p.created_at, reverse=True)[:limit]
    got = report.day_payments(engine, deposit_day, today=ANCHOR, overdue_after=2, limit=limit)
    assert sorted(line.id for line in got) == sorted(int(p.id or 0) for p in newest)
    assert len(got) == min(limit, len([p for p in every if p.status == PaymentStatus.PAID and p.local_day in days]))
    amounts = {line.amount_fils for line in got}
    if deposit_day == date(2026, 11, 23) and limit == 500:  # Sunday's last second (Kuwait) is in, Monday's first not
        assert 1_001 in amounts and 2_003 not in amounts
    if deposit_day == date(2026, 11, 24) and limit == 500:  # Monday's first second, and a payment without a method
        assert {2_003, 3_007} <= amounts and 1_001 not in amounts
