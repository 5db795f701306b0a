"""Transaction search on real SQLite files: each filter, combinations, Kuwait days, paging, totals, sorting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.db import session_scope
from services.models import Payment, PaymentEvent, Refund, WebhookEvent
from services.permissions import Actor, PermissionDenied, Role
from services.search import (
    PaymentNotFound,
    SearchFilter,
    ensure_search_support,
    payment_detail,
    search,
    totals,
)
from services.search.support import fts_query, words
from tests.factories import enrol, make_db, make_payment, make_staff

FIN = Actor("fin@shop.test", Role.FINANCE)
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Kuwait


@pytest.fixture
def engine(engine):
    enrol(engine, FIN)
    return engine


def _orders(page) -> list[str]:
    return [row.order_id for row in page.rows]


def test_each_filter_alone(engine) -> None:
    a = make_payment(engine, order_id="A", amount_fils=12_500, status="paid", method="knet", created_at=T0,
                     customer_phone="+96550000001", customer_email="Noura@Mail.test", customer_name="Noura Al-Sabah",
                     track_id="TRK-A", payment_id="PAY-A", reference="REF-A", description="Oud perfume")
    b = make_payment(engine, order_id="B", amount_fils=3_000, status="failed", method="apple_pay",
                     created_at=T0 - timedelta(days=2), customer_phone="+96560000002", customer_email="x@y.test",
                     customer_name="Khaled Al-Ajmi", track_id="TRK-B", reference="REF-B", created_by="sara@shop.test")
    make_payment(engine, order_id="C", amount_fils=40_000, status="pending", method=None, created_at=T0 - timedelta(
        days=40), customer_name="Dana", description="Dates box")
    cases = {
        SearchFilter(day_from=date(2026, 3, 8), day_to=date(2026, 3, 8)): ["B"],
        SearchFilter(day_from=date(2026, 3, 1)): ["A", "B"],
        SearchFilter(day_to=date(2026, 3, 9)): ["B", "C"],
        SearchFilter(statuses={"paid", "pending"}): ["A", "C"],
        SearchFilter(families={"wallet"}): ["B"],
        SearchFilter(methods={"knet"}): ["A"],
        SearchFilter(amount_min=12_500): ["A", "C"],
        SearchFilter(amount_max=12_500): ["A", "B"],
        SearchFilter(amount_min=3_000, amount_max=3_000): ["B"],
        SearchFilter(phone="+96560000002"): ["B"],
        SearchFilter(email="noura@mail.TEST"): ["A"],
        SearchFilter(order_id="C"): ["C"],
        SearchFilter(track_id="TRK-B"): ["B"],
        SearchFilter(payment_id="PAY-A"): ["A"],
        SearchFilter(reference="REF-A"): ["A"],
        SearchFilter(created_by="Sara@Shop.test"): ["B"],
        SearchFilter(text="sabah"): ["A"],
        SearchFilter(text="perf"): ["A"],
        SearchFilter(text="dat"): ["C"],
        SearchFilter(text="trk-b"): ["B"],
        SearchFilter(text="Khaled Ajmi"): ["B"],
        SearchFilter(text="ajmi khaled"): ["B"],  # words in any order
        SearchFilter(text="noura@mail.test"): ["A"],
        SearchFilter(text="zzz"): [],
    }
    for flt, expected in cases.items():
        page = search(engine, FIN, flt)
        assert sorted(_orders(page)) == expected, flt
        assert page.total_count == len(expected)
        assert page.total_amount_fils == sum({"A": 12_500, "B": 3_000, "C": 40_000}[o] for o in expected)
    assert (a.id, b.id) != (None, None)


def test_combinations_all_must_hold(engine) -> None:
    make_payment(engine, order_id="P1", amount_fils=5_000, status="paid", method="knet", created_at=T0)
    make_payment(engine, order_id="P2", amount_fils=5_000, status="paid", method="card", created_at=T0)
    make_payment(engine, order_id="P3", amount_fils=9_000, status="paid", method="knet", created_at=T0)
    make_payment(engine, order_id="F1", amount_fils=5_000, status="failed", method="knet", created_at=T0)
    make_payment(engine, order_id="P4", amount_fils=5_000, status="paid", method="knet",
                 created_at=T0 - timedelta(days=3))
    flt = SearchFilter(day_from=date(2026, 3, 10), day_to=date(2026, 3, 10), statuses={"paid"}, families={"knet"},
                       amount_max=6_000)
    assert _orders(search(engine, FIN, flt)) == ["P1"]
    assert _orders(search(engine, FIN, SearchFilter(families={"card"}, methods={"knet"}))) == []
    assert sorted(_orders(search(engine, FIN, SearchFilter(families={"knet", "card"}, methods={"knet", "amex"})))) \
        == ["F1", "P1", "P3", "P4"]


def test_a_payment_at_2130_utc_belongs_to_the_next_kuwait_day(engine) -> None:
    make_payment(engine, order_id="late", created_at=datetime(2026, 3, 9, 21, 30, tzinfo=UTC))
    make_payment(engine, order_id="edge-before", created_at=datetime(2026, 3, 9, 20, 59, 59, 999_999, tzinfo=UTC))
    make_payment(engine, order_id="edge-on", created_at=datetime(2026, 3, 9, 21, 0, tzinfo=UTC))
    make_payment(engine, order_id="last", created_at=datetime(2026, 3, 10, 20, 59, 59, 999_999, tzinfo=UTC))
    make_payment(engine, order_id="next", created_at=datetime(2026, 3, 10, 21, 0, tzinfo=UTC))
    tenth = search(engine, FIN, SearchFilter(day_from=date(2026, 3, 10), day_to=date(2026, 3, 10)))
    assert sorted(_orders(tenth)) == ["edge-on", "last", "late"]
    ninth = search(engine, FIN, SearchFilter(day_from=date(2026, 3, 9), day_to=date(2026, 3, 9)))
    assert _orders(ninth) == ["edge-before"]
    # the same days, through the daily summary (no other filter) and through the table (with a status filter)
    assert totals(engine, SearchFilter(day_from=date(2026, 3, 10), day_to=date(2026, 3, 10))).count == 3
    assert totals(engine, SearchFilter(day_from=date(2026, 3, 10), day_to=date(2026, 3, 10),
                                       amount_min=0)).count == 3


def test_paging_totals_and_clamping(engine) -> None:
    for i in range(23):
        make_payment(engine, order_id=f"O{i:02d}", amount_fils=1_000 + i, status="paid" if i % 2 else "failed",
                     created_at=T0 + timedelta(minutes=i))
    first = search(engine, FIN, SearchFilter(), page_size=10)
    assert (first.total_count, first.pages, first.page) == (23, 3, 1)
    assert first.total_amount_fils == sum(1_000 + i for i in range(23))
    assert first.captured_count == 11 and first.captured_amount_fils == sum(1_000 + i for i in range(1, 23, 2))
    assert _orders(first) == [f"O{i:02d}" for i in range(22, 12, -1)]
    third = search(engine, FIN, SearchFilter(), page=3, page_size=10)
    assert _orders(third) == ["O02", "O01", "O00"]
    beyond = search(engine, FIN, SearchFilter(), page=99, page_size=10)
    assert beyond.page == 3 and _orders(beyond) == _orders(third)
    seen = [o for p in (1, 2, 3) for o in _orders(search(engine, FIN, SearchFilter(), page=p, page_size=10))]
    assert sorted(seen) == sorted(f"O{i:02d}" for i in range(23))
    empty = search(engine, FIN, SearchFilter(order_id="nope"), page=5)
    assert (empty.rows, empty.total_count, empty.page, empty.pages) == ([], 0, 1, 1)
    with pytest.raises(ValueError, match="Page size"):
        search(engine, FIN, SearchFilter(), page_size=0)


def test_sorting_by_created_amount_and_status(engine) -> None:
    make_payment(engine, order_id="old-big", amount_fils=9_000, status="paid", created_at=T0)
    make_payment(engine, order_id="new-small", amount_fils=1_000, status="pending", created_at=T0 + timedelta(hours=1))
    make_payment(engine, order_id="mid", amount_fils=5_000, status="failed", created_at=T0 + timedelta(minutes=30))
    assert _orders(search(engine, FIN, SearchFilter())) == ["new-small", "mid", "old-big"]
    assert _orders(search(engine, FIN, SearchFilter(), descending=False)) == ["old-big", "mid", "new-small"]
    assert _orders(search(engine, FIN, SearchFilter(), sort="amount")) == ["old-big", "mid", "new-small"]
    assert _orders(search(engine, FIN, SearchFilter(), sort="amount", descending=False)) == [
        "new-small", "mid", "old-big"]
    assert _orders(search(engine, FIN, SearchFilter(), sort="status", descending=False)) == [
        "mid", "old-big", "new-small"]  # failed < paid < pending
    with pytest.raises(ValueError, match="Cannot sort"):
        search(engine, FIN, SearchFilter(), sort="customer_name")


def test_rows_carry_utc_times_and_no_raw_payload(engine) -> None:
    make_payment(engine, order_id="R", created_at=T0, raw='{"token": "secret"}', paid_at=T0 + timedelta(minutes=1))
    row = search(engine, FIN, SearchFilter()).rows[0]
    assert row.created_at == T0 and row.created_at.tzinfo is not None and row.paid_at == T0 + timedelta(minutes=1)
    assert not hasattr(row, "raw")


@pytest.mark.parametrize("role", list(Role))
def test_permission_matrix_decides_who_may_search(engine, role: Role) -> None:
    make_payment(engine, order_id="X", created_at=T0)
    actor = make_staff(engine, role)
    # every role in the matrix may view transactions today; a role without it must be refused
    assert search(engine, actor, SearchFilter()).total_count == 1
    assert payment_detail(engine, actor, payment_pk=search(engine, actor, SearchFilter()).rows[0].id).payment


def test_a_role_without_view_transactions_is_refused(engine, monkeypatch) -> None:
    from services import permissions

    monkeypatch.setitem(permissions.MATRIX, Role.SALES, frozenset())
    sales = make_staff(engine, Role.SALES)
    with pytest.raises(PermissionDenied):
        search(engine, sales, SearchFilter())
    with pytest.raises(PermissionDenied):
        payment_detail(engine, sales, payment_pk=1)
    with pytest.raises(PermissionDenied):
        search(engine, None, SearchFilter())  # type: ignore[arg-type]


def test_detail_has_columns_payload_refunds_events_and_webhooks_newest_first(engine) -> None:
    p = make_payment(engine, order_id="D", amount_fils=10_000, created_at=T0,
                     raw='{"result": "CAPTURED", "track_id": "T1"}', refunded_fils=2_000)
    other = make_payment(engine, order_id="other", created_at=T0)
    assert p.id is not None and other.id is not None
    with session_scope(engine) as s:
        for i in range(2):
            s.add(Refund(payment_pk=p.id, idempotency_key=f"k{i}", amount_fils=1_000, reason="other",
                         requested_by="fin@shop.test", state="refunded", created_at=T0 + timedelta(hours=i)))
            s.add(PaymentEvent(payment_pk=p.id, kind=f"event{i}", at=T0 + timedelta(minutes=i)))
            s.add(WebhookEvent(body="{}", dedupe_key=f"d{i}", payment_pk=p.id, received_at=T0 + timedelta(seconds=i)))
        s.add(PaymentEvent(payment_pk=other.id, kind="not-mine", at=T0))
        s.add(WebhookEvent(body="{}", dedupe_key="unmatched", payment_pk=None, received_at=T0))
    detail = payment_detail(engine, FIN, payment_pk=p.id)
    assert detail.payment.order_id == "D" and detail.payment.raw is not None
    assert detail.gateway == {"result": "CAPTURED", "track_id": "T1"}
    assert [r.idempotency_key for r in detail.refunds] == ["k1", "k0"]
    assert [e.kind for e in detail.events] == ["event1", "event0"]
    assert [w.dedupe_key for w in detail.webhooks] == ["d1", "d0"]
    assert detail.remaining_fils == 8_000
    broken = make_payment(engine, order_id="broken", raw="not json")
    assert broken.id is not None
    assert payment_detail(engine, FIN, payment_pk=broken.id).gateway == {"raw": "not json"}
    with pytest.raises(PaymentNotFound, match="not in the cache"):
        payment_detail(engine, FIN, payment_pk=999_999)


def test_summary_and_text_index_follow_inserts_updates_and_deletes(engine) -> None:
    make_payment(engine, order_id="before", amount_fils=1_000, status="pending", created_at=T0,
                 customer_name="Maryam")
    assert ensure_search_support(engine) is False  # the migrations built it with the schema, before any row
    day = SearchFilter(day_from=date(2026, 3, 10), day_to=date(2026, 3, 10))
    assert totals(engine, day).count == 1  # the insert trigger summarised it
    after = make_payment(engine, order_id="after", amount_fils=2_000, status="pending", created_at=T0,
                         customer_name="Yousef")
    assert totals(engine, SearchFilter(day_from=date(2026, 3, 10), statuses={"pending"})).amount_fils == 3_000
    with session_scope(engine) as s:  # the gateway said paid, and the name was corrected
        row = s.get(Payment, after.id)
        assert row is not None
        row.status, row.amount_fils, row.customer_name = "paid", 2_500, "Yusuf"
    assert totals(engine, SearchFilter(statuses={"paid"})) == totals(engine, SearchFilter(statuses={"paid"},
                                                                                          amount_min=0))
    paid = totals(engine, SearchFilter(statuses={"paid"}, day_from=date(2026, 3, 10)))
    assert (paid.count, paid.amount_fils, paid.captured_amount_fils) == (1, 2_500, 2_500)
    by_amount = totals(engine, SearchFilter(amount_min=2_500, amount_max=2_500, statuses={"paid"}))  # amount summary
    assert (by_amount.count, by_amount.amount_fils) == (1, 2_500)
    assert totals(engine, SearchFilter(amount_min=2_000, amount_max=2_000)).count == 0
    assert _orders(search(engine, FIN, SearchFilter(text="yusuf"))) == ["after"]
    assert _orders(search(engine, FIN, SearchFilter(text="yousef"))) == []
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM payment WHERE order_id = 'before'"))
    assert totals(engine, day).count == 1
    assert totals(engine, SearchFilter(amount_max=1_000)).count == 0
    assert _orders(search(engine, FIN, SearchFilter(text="maryam"))) == []


def test_support_comes_with_the_schema(tmp_path) -> None:
    # Support built later for rows already there (a database from before migrations): test_migrations.py.
    engine = make_db(tmp_path, "existing.db")
    enrol(engine, FIN)
    make_payment(engine, order_id="E1", created_at=T0, customer_name="Abdullah")
    assert ensure_search_support(engine) is False
    assert ensure_search_support(engine) is False
    assert _orders(search(engine, FIN, SearchFilter(text="abdul"))) == ["E1"]
    assert totals(engine, SearchFilter()).count == 1
    again = make_db(tmp_path, "existing.db")  # another process/engine on the same file: nothing to create
    assert ensure_search_support(again) is False


def test_broad_text_search_reports_inexact_totals_instead_of_looking_up_every_match(engine, monkeypatch) -> None:
    monkeypatch.setattr("services.search.plan.TEXT_TOTALS_CAP", 3)
    monkeypatch.setattr("services.search.plan.EXACT_BUDGET", 0)
    for i in range(6):
        make_payment(engine, order_id=f"N{i}", amount_fils=1_000, status="paid" if i < 4 else "failed",
                     created_at=T0 + timedelta(minutes=i), customer_name="Noura")
    only_text = search(engine, FIN, SearchFilter(text="noura"), page_size=2)
    assert (only_text.total_count, only_text.count_exact, only_text.totals_exact) == (6, True, False)
    assert only_text.total_amount_fils == 0 and _orders(only_text) == ["N5", "N4"]
    narrowed = search(engine, FIN, SearchFilter(text="noura", statuses={"failed"}))
    assert (narrowed.totals_exact, narrowed.count_exact) == (False, False)
    assert 0 < narrowed.total_count <= 2
    exact = totals(engine, SearchFilter(text="noura", statuses={"failed"}))  # totals() is always exact
    assert (exact.count, exact.amount_fils, exact.exact) == (2, 2_000, True)
    few = search(engine, FIN, SearchFilter(text="N0"))
    assert (few.total_count, few.totals_exact, few.total_amount_fils) == (1, True, 1_000)


def test_fts_query_building() -> None:
    assert fts_query("Noura") == '"noura"*'
    assert fts_query("Al-Sabah") == '"sabah"*'  # "al" is in every other name: dropped inside a word
    assert fts_query("noura@mail.test") == '"noura" AND "mail" AND "test"*'
    assert fts_query("B1-000123 oud") == '"000123"* AND "oud"*'
    assert fts_query("٠٥٠ x") == '"050"* AND "x"'
    assert fts_query("TRK-B") == '"trk" AND "b"'
    assert fts_query('"; DROP TABLE payment; --') == '"drop"* AND "table"* AND "payment"*'
    assert fts_query(" -- ") is None
    assert words("a_b") == [["a", "b"]]


def test_punctuation_only_text_matches_nothing(engine) -> None:
    make_payment(engine, order_id="Z", created_at=T0)
    page = search(engine, FIN, SearchFilter(text="-- !!"))
    assert page.total_count == 0 and page.rows == []


def test_text_within_a_day_range_is_narrowed_to_the_days_id_span_and_stays_exact(engine, monkeypatch) -> None:
    from services.search import support

    monkeypatch.setattr("services.search.plan.TEXT_TOTALS_CAP", 8)
    monkeypatch.setattr("services.search.plan.LOOKUP", 0.5)
    spans: list[bool] = []
    original = support.fts_ids_sql

    def spy(limit: int | None = None, *, span: bool = False) -> object:
        spans.append(span)
        return original(limit, span=span)

    monkeypatch.setattr(support, "fts_ids_sql", spy)
    for i in range(40):  # four a day for ten days, inserted in time order (ids follow time)
        make_payment(engine, order_id=f"D{i:02d}", amount_fils=1_000 + i, created_at=T0 + timedelta(hours=6 * i),
                     customer_name="Noura")
    day = date(2026, 3, 12)
    flt = SearchFilter(text="noura", day_from=day, day_to=day)
    expected = sorted((f"D{i:02d}" for i in range(40) if (T0 + timedelta(hours=6 * i, minutes=180)).date() == day),
                      reverse=True)
    page = search(engine, FIN, flt)
    assert True in spans and page.totals_exact and _orders(page) == expected
    assert page.total_amount_fils == sum(1_000 + int(o[1:]) for o in expected)
    # a late arrival for that day (a large id) widens the span: still every row, still exact
    make_payment(engine, order_id="late", amount_fils=7, created_at=datetime(2026, 3, 12, 10, tzinfo=UTC),
                 customer_name="Noura")
    page = search(engine, FIN, flt)
    assert sorted(_orders(page)) == sorted([*expected, "late"]) and page.total_count == len(expected) + 1


def test_newest_first_text_page_from_the_latest_days_equals_the_full_walk(engine, monkeypatch) -> None:
    """A broad text search reads its first pages from the newest days only; the rows are those of the full walk,
    including a payment of the newest day written first (smallest id) and an old one written last (largest id)."""
    from services.search import plan as planner

    monkeypatch.setattr(planner, "WINDOW_MARGIN", 0)
    monkeypatch.setattr(planner, "TEXT_TOTALS_CAP", 5)
    newest = T0 + timedelta(days=30)
    make_payment(engine, order_id="first-written", created_at=newest, customer_name="Noura A")
    for i in range(60):  # two a day for thirty days; every other one is a Noura
        make_payment(engine, order_id=f"P{i:02d}", created_at=T0 + timedelta(hours=12 * i),
                     customer_name="Noura B" if i % 2 else "Sara C")
    make_payment(engine, order_id="last-written", created_at=T0 - timedelta(days=3), customer_name="Noura D")
    used: list[bool] = []
    original = planner.recent_window

    def spy(*args: object, **kwargs: object) -> object:
        found = original(*args, **kwargs)  # type: ignore[arg-type]
        used.append(found is not None)
        return found

    monkeypatch.setattr(planner, "recent_window", spy)
    pages = [search(engine, FIN, SearchFilter(text="noura"), page=n, page_size=4) for n in (1, 2, 9)]
    monkeypatch.setattr(planner, "recent_window", lambda *a, **k: None)
    full = [search(engine, FIN, SearchFilter(text="noura"), page=n, page_size=4) for n in (1, 2, 9)]
    assert True in used  # the narrowed read did run
    assert [_orders(p) for p in pages] == [_orders(p) for p in full]
    assert _orders(pages[0]) == ["first-written", "P59", "P57", "P55"]
    assert "last-written" in _orders(full[2])  # the oldest match, on the last page, found by the full walk
