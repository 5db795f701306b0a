"""Totals remembered per snapshot (services/counts.py): the links and customers lists' totals equal a plain count of
the rows after every write (committed, in progress then committed, rolled back), and a total is not counted again
while nothing was written (counted statements, not time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import counts, customers
from services.db import read_engine
from services.links import LINK_STATUSES
from services.links.follow import display_status, list_links
from services.models import CustomerSummary, Payment
from services.permissions import Role
from services.timeutil import utcnow
from tests.factories import make_db, make_payment, make_staff

CREATORS = ("sara@shop.test", "omar@shop.test")
STATUSES = ("pending", "paid", "failed", "cancelled", "expired")
LINK_STATES = ("active", "uncertain", "rejected", "creating")


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    from tests.postgres import postgres_database

    with postgres_database("counts") as engine:
        yield engine


@pytest.fixture(autouse=True)
def _fresh() -> None:
    counts.forget()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(read_engine(engine), "before_cursor_execute", record)  # the services read through this one
    return seen


def _link(engine: Engine, n: int, *, by: str, status: str, link_state: str, expired: bool, verified: bool,
          phone: str) -> None:
    now = utcnow()
    make_payment(engine, order_id=f"L-{n}", status=status, source="link", link_state=link_state, created_by=by,
                 link_url="https://sandbox.test/x", method=None, customer_phone=phone,
                 expires_at=now + (timedelta(minutes=-5) if expired else timedelta(hours=1)),
                 verified_at=now if verified else None, created_at=now - timedelta(minutes=n))


def _reference_links(engine: Engine, status: str | None, creator: str | None) -> int:
    """What the list should count: every link, filtered in Python by the display rule."""
    with Session(engine) as session:
        rows = session.exec(select(Payment).where(col(Payment.source) == "link")).all()
    return sum(1 for p in rows if (creator is None or p.created_by == creator)
               and (status is None or display_status(p) == status))


def _reference_customers(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(CustomerSummary.key)).all())


def _check_totals(engine: Engine, admin: Any) -> None:
    for status in (None, *LINK_STATUSES):
        for creator in (None, *CREATORS):
            page = list_links(engine, admin, status=status, created_by=creator, mine_only=False)
            assert page.total == _reference_links(engine, status, creator), (status, creator)
    assert customers.list_customers(engine, admin).total == _reference_customers(engine)


link_specs = st.lists(st.tuples(st.sampled_from(CREATORS), st.sampled_from(STATUSES), st.sampled_from(LINK_STATES),
                                st.booleans(), st.booleans(), st.integers(0, 6)), min_size=1, max_size=4)


@pytest.mark.postgres
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(link_specs, min_size=1, max_size=3))
def test_totals_equal_a_plain_count_after_every_write_on_postgresql(pg: Engine, batches: list[Any]) -> None:
    admin = make_staff(pg, Role.ADMIN)
    _check_totals(pg, admin)
    for batch in batches:
        for by, status, state, expired, verified, customer in batch:
            n = int(pg.connect().execute(text("SELECT count(*) FROM payment")).scalar_one()) + 1
            _link(pg, n, by=by, status=status, link_state=state, expired=expired, verified=verified,
                  phone=f"+9655000{customer:04d}")
        _check_totals(pg, admin)
        _check_totals(pg, admin)  # the same totals again, now remembered


@pytest.mark.postgres
def test_a_write_in_progress_during_the_count_shows_once_committed(pg: Engine) -> None:
    admin = make_staff(pg, Role.ADMIN)
    before = list_links(pg, admin, mine_only=False).total
    with pg.connect() as other:
        other.execute(text("UPDATE payment SET source = 'gateway' WHERE id = (SELECT min(id) FROM payment "
                           "WHERE source = 'link')"))  # not committed yet: the count below must not see it
        assert list_links(pg, admin, mine_only=False).total == before == _reference_links(pg, None, None)
        other.commit()
    assert list_links(pg, admin, mine_only=False).total == before - 1 == _reference_links(pg, None, None)
    with pg.connect() as other:  # rolled back: nothing changed, the total stays right whether counted or not
        other.execute(text("UPDATE payment SET source = 'gateway' WHERE source = 'link'"))
        other.rollback()
    assert list_links(pg, admin, mine_only=False).total == before - 1


@pytest.mark.postgres
def test_an_unchanged_total_is_not_counted_again_on_postgresql(pg: Engine) -> None:
    admin = make_staff(pg, Role.ADMIN)
    _link(pg, 10_000, by=CREATORS[0], status="paid", link_state="active", expired=False, verified=False,
          phone="+96550009999")
    seen = _statements(pg)
    first = customers.list_customers(pg, admin).total
    counted = [s for s in seen if "count(" in s]
    assert len(counted) == 1 and "pg_current_snapshot" in counted[0]
    seen.clear()
    assert customers.list_customers(pg, admin).total == first
    assert not [s for s in seen if "count(" in s] and any("pg_current_snapshot" in s for s in seen)
    _link(pg, 10_001, by=CREATORS[0], status="paid", link_state="active", expired=False, verified=False,
          phone="+96550009998")  # a new customer
    seen.clear()
    assert customers.list_customers(pg, admin).total == first + 1 == _reference_customers(pg)
    assert len([s for s in seen if "count(" in s]) == 1


def test_sqlite_counts_every_time(tmp_path: Any) -> None:
    engine = make_db(tmp_path)
    admin = make_staff(engine, Role.ADMIN)
    for n in range(3):
        _link(engine, n, by=CREATORS[n % 2], status="paid", link_state="active", expired=False, verified=False,
              phone=f"+9655000{n:04d}")
    seen = _statements(engine)
    for _ in range(2):
        _check_totals(engine, admin)
    assert not any("pg_current_snapshot" in s for s in seen)
    # every list call counted (the references read with plain selects on the writing engine)
    assert len([s for s in seen if "count(" in s]) == 2 * ((len(LINK_STATUSES) + 1) * (len(CREATORS) + 1) + 1)


@pytest.mark.postgres
def test_a_transaction_that_wrote_counts_its_own_rows_and_remembers_nothing(pg: Engine) -> None:
    links = select(Payment).where(col(Payment.source) == "link")
    with Session(pg) as reader:
        before = counts.count_rows(reader, links)  # remembered with the snapshot every session now has
        assert counts.count_rows(reader, links) == before
    with Session(pg) as writer:
        writer.add(Payment(order_id="L-OWN", amount_fils=1_000, status="pending", source="link",
                           created_at=utcnow(), local_day="2026-11-27"))
        writer.flush()  # written, not committed: this transaction sees it, the remembered total does not
        assert counts.count_rows(writer, links) == before + 1
        writer.rollback()
    with Session(pg) as reader:
        assert counts.count_rows(reader, links) == before == _reference_links(pg, None, None)
