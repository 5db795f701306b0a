"""The same search, detail and export code on PostgreSQL (no SQLite summary or FTS: plain SQL, ILIKE for text).

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server (scripts/test starts a local one); skips otherwise.
Uses a database of its own so it cannot disturb other tests sharing the server.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from services.db import session_scope
from services.models import Payment
from services.search import SearchFilter, ensure_search_support, payment_detail, search
from services.search.export import export_csv
from tests.factories import enrol
from tests.postgres import postgres_database
from tests.unit.test_search_reference import ADMIN, _key, _matches, _rows

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    with postgres_database("search") as engine:
        yield engine, _filled(engine)


def _filled(engine: Engine) -> list[dict[str, Any]]:
    """300 reference rows written to ``engine``, each with the id it got."""
    rows = _rows(300, seed=11)
    with session_scope(engine) as session:
        session.add_all(Payment(**row) for row in rows)
    enrol(engine, ADMIN)
    with session_scope(engine) as session:
        ids = {p.order_id: p.id for p in session.exec(select(Payment)).all()}
    for row in rows:
        row["id"] = ids[row["order_id"]]
    return rows


def _contains(row: dict[str, Any], query: str) -> bool:
    haystack = " ".join(str(row[c] or "") for c in ("customer_name", "customer_email", "description", "order_id",
                                                       "track_id", "payment_id", "reference")).lower()
    return all(t.lower() in haystack for t in re.findall(r"[^\W_]+", query))


FILTERS = [
    SearchFilter(),
    SearchFilter(day_from=date(2026, 1, 10), day_to=date(2026, 1, 20)),
    SearchFilter(statuses={"paid", "failed"}, families={"wallet"}),
    SearchFilter(methods={"knet"}, amount_min=2_500, amount_max=40_000),
    SearchFilter(phone="+96550000001", statuses={"paid"}),
    SearchFilter(email="DANA1@MAIL.TEST"),
    SearchFilter(reference="REF-3", created_by="sara@shop.test"),
    SearchFilter(text="al-sabah"),
    SearchFilter(text="noura oud", day_from=date(2026, 1, 15)),
]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
@pytest.mark.parametrize(("sort", "descending"), [("created_at", True), ("amount", False), ("status", True)])
def test_search_on_postgres_equals_the_reference(pg, flt: SearchFilter, sort: str, descending: bool) -> None:
    engine, rows = pg
    assert ensure_search_support(engine) is False  # nothing SQLite-specific is created here
    plain = flt.with_changes(text=None)  # PostgreSQL matches text as substrings (ILIKE), a superset of FTS's
    expected = sorted((r for r in rows if _matches(r, plain) and _contains(r, flt.text or "")), key=_key(sort),
                      reverse=descending)
    assert_pages_equal(engine, flt, expected, sort, descending, page_size=9)


def assert_pages_equal(engine: Engine, flt: SearchFilter, expected: list[dict[str, Any]], sort: str,
                       descending: bool, *, page_size: int) -> None:
    """Pages 1 and 2 of ``search`` hold ``expected``'s rows in order, with its exact count and amount."""
    for page in (1, 2):
        result = search(engine, ADMIN, flt, sort=sort, descending=descending, page=page, page_size=page_size)
        assert (result.total_count, result.total_amount_fils, result.totals_exact) == (
            len(expected), sum(r["amount_fils"] for r in expected), True)
        start = (result.page - 1) * page_size
        assert [r.id for r in result.rows] == [r["id"] for r in expected[start:start + page_size]]


def test_detail_and_export_on_postgres(pg) -> None:
    engine, rows = pg
    first = min(rows, key=lambda r: r["id"])
    detail = payment_detail(engine, ADMIN, payment_pk=first["id"])
    assert detail.payment.order_id == first["order_id"] and detail.refunds == []
    flt = SearchFilter(statuses={"paid"})
    exported = list(csv.DictReader(io.StringIO("".join(export_csv(engine, ADMIN, flt)))))
    paid = sorted((r for r in rows if r["status"] == "paid"), key=_key("created_at"))
    assert [r["order_id"] for r in exported] == [r["order_id"] for r in paid]
