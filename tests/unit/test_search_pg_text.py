"""PostgreSQL free text and totals (services.search.pg_text): walking the payments, asking the trigram index for
a few trigrams, or for whole tokens, and summing through the sort index give the same rows, order and totals.

The PostgreSQL cases run when SOUQ_TEST_POSTGRES_URL names a reachable server (a database of their own); the
choice of trigrams and the walk's arithmetic are checked without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from services.search import SearchFilter, pg_text, search
from services.search import plan as planner
from tests.postgres import postgres_database
from tests.unit.test_search_postgres import _contains, _filled, assert_pages_equal
from tests.unit.test_search_reference import ADMIN, _key, _matches

TEXT_FILTERS = [
    SearchFilter(text="noura"),  # a common token: a sixth of the payments
    SearchFilter(text="noura al-sabah", day_from=date(2026, 1, 10), day_to=date(2026, 2, 10)),
    SearchFilter(text="oud", statuses={"paid", "failed"}),
    SearchFilter(text="ORD-0123"),  # rare: one payment
    SearchFilter(text="TRK0012", day_from=date(2026, 1, 1)),
    SearchFilter(text="dana5@mail.test", families={"wallet", "card"}),
    SearchFilter(text="zzz-404"),  # nothing
]


def _sample(values: tuple[str, ...]) -> Any:
    return lambda _conn, _engine: values


def test_a_rare_token_asks_for_its_rarest_trigrams_never_the_ones_in_every_payment(monkeypatch) -> None:
    sample = tuple(f"sara al-enezi sara{i}@mail.test b1-000{i:06d} t1000000{i:06d}" for i in range(100))
    monkeypatch.setattr(pg_text, "sample", _sample(sample))
    keys = pg_text.index_keys(None, None, "B1-000653160")  # type: ignore[arg-type]
    assert 1 <= len(keys) <= pg_text.RARE_KEYS and "000" not in keys and "b1" not in keys
    assert all(len(k) == 3 and k in "000653160" for k in keys)
    assert "160" in keys  # the last trigram of an id (where ids differ) wins ties
    # A common token keeps one trigram; one in half the payments or more ("mail"), or under 3 characters, none.
    assert pg_text.index_keys(None, None, "sara") == []  # type: ignore[arg-type]
    monkeypatch.setattr(pg_text, "sample", _sample((*sample[:10], *(f"noura x{i}" for i in range(90)))))
    assert pg_text.index_keys(None, None, "al-enezi") == ["ezi"]  # type: ignore[arg-type]
    monkeypatch.setattr(pg_text, "sample", _sample(()))  # no statistics yet: the whole tokens, as before
    assert pg_text.index_keys(None, None, "noura") == []  # type: ignore[arg-type]


def test_walk_reads_counts_the_payments_before_enough_matches() -> None:
    assert pg_text.walk_reads(None, wanted=2_001) is None
    assert pg_text.walk_reads(0.1, wanted=2_001) == pytest.approx(20_010)
    assert pg_text.walk_reads(0.1, wanted=2_001, range_rows=5_000) == 5_000  # the whole range, then stop
    # Half the range passes the other filters: twice the reads.
    assert pg_text.walk_reads(0.1, wanted=2_001, range_rows=80_000, scope_rows=40_000) == pytest.approx(40_020)


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    with postgres_database("pgtext") as engine:
        rows = _filled(engine)
        with engine.begin() as conn:  # a few counted refunds, as the ledger writes them
            conn.execute(text("UPDATE payment SET refunded_fils = amount_fils / 2, refund_state = 'partially_refunded' "
                              "WHERE status = 'paid' AND id % 2 = 0"))
            conn.execute(text("ANALYZE payment"))  # the histogram pg_text reads
        yield engine, rows


class Statements:
    """The SQL the search sends on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)
        self.engine = engine

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _expected(rows: list[dict[str, Any]], flt: SearchFilter, sort: str, descending: bool) -> list[dict[str, Any]]:
    plain = flt.with_changes(text=None)
    return sorted((r for r in rows if _matches(r, plain) and _contains(r, flt.text or "")), key=_key(sort),
                  reverse=descending)


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["walk", "keys", "tokens"])
@pytest.mark.parametrize("flt", TEXT_FILTERS, ids=range(len(TEXT_FILTERS)))
def test_every_text_path_gives_the_reference_rows_and_totals(pg, monkeypatch, flt: SearchFilter, mode: str) -> None:
    engine, rows = pg
    with engine.connect() as conn:
        assert pg_text.sample(conn, engine)  # statistics exist: the choice is the code's, not forced
        common = pg_text.density(conn, engine, flt.text or "") is not None
    if mode == "walk":
        monkeypatch.setattr(pg_text, "WALK_ROWS", 10**9)
    else:
        monkeypatch.setattr(pg_text, "WALK_ROWS", 0)
    if mode == "tokens":
        monkeypatch.setattr(pg_text, "sample", _sample(()))
    log = Statements(engine)
    try:
        for sort, descending in (("created_at", True), ("amount", False)):
            assert_pages_equal(engine, flt, _expected(rows, flt, sort, descending), sort, descending, page_size=7)
    finally:
        log.close()
    counted = [s for s in log.seen if "array_agg" in s]
    assert counted, "the capped text count ran"
    walked = any("strpos" in s and "LIKE" not in s.upper() for s in counted)
    keyed = any("strpos" in s and "LIKE" in s.upper() for s in counted)
    assert walked == (mode == "walk" and common)  # a token too rare for the histogram keeps the index
    with engine.connect() as conn:
        keys = pg_text.index_keys(conn, engine, flt.text or "")
    assert keyed == (not walked and bool(keys))  # some trigrams asked, the tokens then checked
    assert mode != "keys" or keyed or not keys


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["walk", "keys"])
def test_a_capped_count_is_the_same_floor_and_page_either_way(pg, monkeypatch, mode: str) -> None:
    engine, rows = pg
    monkeypatch.setattr(planner, "TEXT_TOTALS_CAP", 5)
    monkeypatch.setattr(pg_text, "WALK_ROWS", 10**9 if mode == "walk" else 0)
    for flt in (SearchFilter(text="noura"), SearchFilter(text="al", day_from=date(2026, 1, 20))):
        expected = _expected(rows, flt, "created_at", True)
        assert len(expected) > 5
        result = search(engine, ADMIN, flt, page_size=4)
        assert (result.total_count, result.count_exact, result.totals_exact) == (5, False, False)
        assert [r.id for r in result.rows] == [r["id"] for r in expected[:4]]


@pytest.mark.postgres
@pytest.mark.parametrize("flt", [
    SearchFilter(day_from=date(2026, 1, 5), day_to=date(2026, 2, 5), amount_min=2_500, amount_max=40_000),
    SearchFilter(families={"wallet"}, statuses={"paid"}, amount_min=12_500),
    SearchFilter(methods={"knet"}, day_from=date(2026, 1, 15), amount_max=12_750),
], ids=range(3))
def test_totals_through_the_sort_index_equal_the_payments_sums(pg, flt: SearchFilter) -> None:
    """Without text, PostgreSQL sums from ix_payment_created_order and the refunds from ix_payment_refund: the
    same count, amounts and refunded total as summing the payments themselves."""
    engine, rows = pg
    from services.search.query import conditions

    result = search(engine, ADMIN, flt)
    expected = [r for r in rows if _matches(r, flt)]
    with engine.connect() as conn:
        where = " AND ".join(str(c.compile(engine, compile_kwargs={"literal_binds": True}))
                             for c in conditions(engine, flt))
        paid, refunded = conn.execute(text(
            f"SELECT count(*) FILTER (WHERE status = 'paid'), coalesce(sum(CASE WHEN status = 'paid' "  # noqa: S608
            f"THEN refunded_fils ELSE 0 END), 0) FROM payment WHERE {where}")).one()
    assert (result.total_count, result.total_amount_fils) == (len(expected), sum(r["amount_fils"] for r in expected))
    assert (result.captured_count, result.refunded_fils) == (paid, refunded)
    assert refunded > 0
