"""Deep pages on PostgreSQL (services.search.deep_page): skipping whole days, (status, day) groups or amounts
counted in the summaries gives exactly the page the plain OFFSET walk gives, for every page of every sort.

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server (a database of its own). The skip starts at offset 0
here (the threshold is lowered), so every page but the first goes through it; payments on the very first and
last instant of a Kuwait day (21:00 UTC) check the day bounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.db import session_scope
from services.models import METHOD_FAMILY, Payment
from services.search import SearchFilter, deep_page, search
from services.timeutil import local_day
from tests.postgres import postgres_database
from tests.unit.test_search_postgres import _filled
from tests.unit.test_search_reference import ADMIN, _key, _matches

pytestmark = pytest.mark.postgres

FILTERS = [
    SearchFilter(),
    SearchFilter(day_from=date(2026, 1, 10), day_to=date(2026, 2, 20)),
    SearchFilter(statuses={"paid", "failed"}, families={"wallet", "card"}),
    SearchFilter(methods={"knet", "card", "apple_pay"}, day_to=date(2026, 2, 15)),
    SearchFilter(amount_min=2_500, amount_max=40_000, statuses={"paid", "pending"}),  # the amount summary
    SearchFilter(amount_min=12_500, day_from=date(2026, 1, 5)),  # no summary counts it: the plain walk
]
SORTS = [("created_at", True), ("created_at", False), ("status", True), ("status", False), ("amount", True),
         ("amount", False)]
SIZE = 7


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    with postgres_database("deeppage") as engine:
        rows = _filled(engine)
        edge: list[dict[str, Any]] = []  # on a day's first instant (21:00 UTC is midnight in Kuwait) and just before it
        for i, at in enumerate(datetime(2026, 1, d, 21, tzinfo=UTC) + timedelta(microseconds=-k)
                               for d in (14, 15, 31) for k in (0, 0, 1)):
            method = ("knet", "apple_pay", "card")[i % 3]
            edge.append({"order_id": f"EDGE-{i}", "amount_fils": 12_500, "status": ("paid", "failed")[i % 2],
                         "method": method, "method_family": METHOD_FAMILY[method], "customer_name": "Edge",
                         "created_at": at, "local_day": local_day(at)})
        with session_scope(engine) as session:
            session.add_all(Payment(**row) for row in edge)
        with session_scope(engine) as session:
            ids = {p.order_id: p.id for p in session.exec(select(Payment).where(col(Payment.order_id).like("EDGE-%")))}
        for row in edge:
            row.update({"id": ids[row["order_id"]], "track_id": None, "payment_id": None, "reference": None,
                        "customer_phone": None, "customer_email": None, "description": None, "created_by": None})
        yield engine, rows + edge


def _skips(sort: str, flt: SearchFilter) -> bool:
    if sort == "amount":
        return not (flt.day_from or flt.day_to) and (flt.dimension_only() or flt.amount_dimension_only())
    return flt.dimension_only()


@pytest.mark.parametrize(("sort", "descending"), SORTS, ids=[f"{s}-{'desc' if d else 'asc'}" for s, d in SORTS])
@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_every_page_equals_the_reference(pg, monkeypatch, flt: SearchFilter, sort: str, descending: bool) -> None:
    engine, rows = pg
    monkeypatch.setattr(deep_page, "SKIP_FROM", 1)
    expected = sorted((r for r in rows if _matches(r, flt)), key=_key(sort), reverse=descending)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        pages = -(-len(expected) // SIZE)
        assert pages >= 6
        for page in range(1, pages + 1):
            result = search(engine, ADMIN, flt, sort=sort, descending=descending, page=page, page_size=SIZE)
            assert result.total_count == len(expected)
            assert [r.id for r in result.rows] == [r["id"] for r in expected[(page - 1) * SIZE:page * SIZE]], page
    finally:
        event.remove(engine, "before_cursor_execute", record)
    skipped = [s for s in seen if "OVER (ORDER BY" in s]
    assert len(skipped) == (pages - 1 if _skips(sort, flt) else 0)


def test_small_offsets_walk(pg) -> None:
    engine, _rows = pg
    assert deep_page.SKIP_FROM > 1_000
    with engine.connect() as conn:
        assert deep_page.skip(conn, SearchFilter(), "created_at", True, deep_page.SKIP_FROM - 1) is None
        assert deep_page.skip(conn, SearchFilter(text="noura"), "created_at", True, 10**6) is None
        far = deep_page.skip(conn, SearchFilter(), "created_at", True, 10**6)  # past the end: nothing to skip to
    assert far is None
