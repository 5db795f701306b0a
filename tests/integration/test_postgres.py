"""The cache code runs unchanged on PostgreSQL: schema, staff, audit chain, and the idempotent upsert.

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server (scripts/test starts a local one); skips otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services import audit
from services.db import session_scope
from services.models import Payment
from services.permissions import Role
from services.staff import add_staff, bootstrap_admins, change_role, resolve_actor
from tests.postgres import postgres_database
from tests.unit.test_ingest import HISTORY, apply_all

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with postgres_database("cache") as engine:
        yield engine


def test_staff_and_audit_chain_on_postgres(pg_engine: Engine) -> None:
    bootstrap_admins(pg_engine, ["root@shop.test"])
    root = resolve_actor(pg_engine, "root@shop.test")
    assert root is not None and root.role == Role.ADMIN
    add_staff(pg_engine, root, email="sara@shop.test", role="sales")
    change_role(pg_engine, root, email="sara@shop.test", role="finance")
    result = audit.verify(pg_engine)
    assert result.ok and result.checked == 3


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(HISTORY))))[::5])
def test_upsert_is_order_independent_on_postgres(pg_engine: Engine, order) -> None:
    apply_all(pg_engine, [HISTORY[i] for i in order])
    apply_all(pg_engine, [HISTORY[i] for i in order])
    with Session(pg_engine) as session:
        payment = session.exec(select(Payment)).one()
    assert (payment.status, payment.track_id, payment.method_family) == ("paid", "T3", "wallet")
    with session_scope(pg_engine) as session:
        assert session.exec(select(Payment.local_day)).one() == "2026-11-20"


def test_concurrent_audit_writers_keep_one_unbroken_chain_on_postgres(pg_engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> None:
        with session_scope(pg_engine) as session:
            audit.record(session, actor="t@shop.test", action="concurrent", target=str(i))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(80)))
    result = audit.verify(pg_engine)
    assert result.ok and result.checked == 80
