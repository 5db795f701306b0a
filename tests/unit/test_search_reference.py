"""Search against a plain-Python reference on random data and random filters: whatever index the planner picks,
the rows, their order, the page and the totals must be exactly what filtering a list gives."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from services.db import session_scope
from services.models import METHOD_FAMILY, Payment
from services.permissions import Actor, Role
from services.search import SearchFilter, search, totals
from services.timeutil import kuwait_day_bounds, local_day
from tests.factories import enrol, make_db

ADMIN = Actor("admin@shop.test", Role.ADMIN)
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = [date(2026, 1, 1) + timedelta(days=d) for d in range(0, 64)]
STATUSES = ("pending", "paid", "failed", "cancelled", "expired")
METHODS = (*METHOD_FAMILY, None)
NAMES = ("Noura Al-Sabah", "Khaled Al-Ajmi", "Dana", "Yousef Al-Kandari", "Sara Al-Enezi", "Ahmad")
PHONES = ("+96550000001", "+96560000002", "+96590000003", None)
AMOUNTS = (250, 1_000, 2_500, 12_500, 12_750, 40_000, 99_999)


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        # created_at ties (same instant) are included on purpose: the order's later keys must decide them
        at = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 60)) if i % 17 else START + timedelta(days=20)
        method = rng.choice(METHODS)
        name = rng.choice(NAMES)
        rows.append({
            "order_id": f"ORD-{i:04d}", "track_id": f"TRK{i:05d}" if method else None,
            "payment_id": f"PAY{i}" if i % 3 == 0 else None, "reference": f"REF-{i % 40}",
            "amount_fils": rng.choice(AMOUNTS), "status": rng.choice(STATUSES), "method": method,
            "method_family": METHOD_FAMILY.get(method or ""), "customer_name": name,
            "customer_phone": rng.choice(PHONES), "customer_email": f"{name.split()[0].lower()}{i % 7}@Mail.test",
            "description": rng.choice(("Oud perfume", "Dates box", "Abaya", None)),
            "created_by": rng.choice(("sara@shop.test", "khaled@shop.test", None)), "created_at": at,
            "local_day": local_day(at),
        })
    return rows


class Data(tuple):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example: keep it readable
        return "<400 random payments>"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    engine = make_db(tmp_path_factory.mktemp("reference"))
    enrol(engine, ADMIN)
    rows = _rows(400, seed=7)
    with session_scope(engine) as session:
        session.add_all(Payment(**row) for row in rows)
    with session_scope(engine) as session:
        stored = {p.order_id: p.id for p in session.exec(select(Payment)).all()}
    for row in rows:
        row["id"] = stored[row["order_id"]]
    return Data((engine, rows))


def _tokens(row: dict[str, Any]) -> list[str]:
    text = " ".join(str(row[c] or "") for c in ("customer_name", "customer_email", "description", "order_id",
                                                   "track_id", "payment_id", "reference"))
    return [t.lower() for t in re.findall(r"[^\W_]+", text)]


def _text_matches(row: dict[str, Any], query: str) -> bool:
    tokens = _tokens(row)
    for word in query.split():
        parts = [t.lower() for t in re.findall(r"[^\W_]+", word)]
        if not parts:
            continue
        kept = [t for t in parts[:-1] if len(t) >= 3] + parts[-1:]
        if any(t not in tokens for t in kept[:-1]):
            return False
        last = kept[-1]
        if not any(t == last or (len(last) > 1 and t.startswith(last)) for t in tokens):
            return False
    return True


def _matches(row: dict[str, Any], flt: SearchFilter) -> bool:
    at = row["created_at"]
    checks = [
        flt.day_from is None or at >= kuwait_day_bounds(flt.day_from)[0],
        flt.day_to is None or at < kuwait_day_bounds(flt.day_to)[1],
        not flt.statuses or row["status"] in flt.statuses,
        not flt.families or row["method_family"] in flt.families,
        not flt.methods or row["method"] in flt.methods,
        flt.amount_min is None or row["amount_fils"] >= flt.amount_min,
        flt.amount_max is None or row["amount_fils"] <= flt.amount_max,
        flt.phone is None or row["customer_phone"] == flt.phone,
        flt.email is None or (row["customer_email"] or "").lower() == flt.email,
        flt.order_id is None or row["order_id"] == flt.order_id,
        flt.track_id is None or row["track_id"] == flt.track_id,
        flt.payment_id is None or row["payment_id"] == flt.payment_id,
        flt.reference is None or row["reference"] == flt.reference,
        flt.created_by is None or row["created_by"] == flt.created_by,
        flt.text is None or _text_matches(row, flt.text),
    ]
    return all(checks)


def _nullable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)  # SQL puts NULL first in ascending order


def _key(sort: str):
    columns = {"created_at": ("created_at", "status", "method_family", "method", "amount_fils", "id"),
               "amount": ("amount_fils", "created_at", "status", "method_family", "method", "id"),
               "status": ("status", "created_at", "method_family", "method", "amount_fils", "id")}[sort]
    return lambda row: tuple(_nullable(row[c]) for c in columns)


@st.composite
def filters(draw: st.DrawFn) -> SearchFilter:
    days = sorted(draw(st.lists(st.sampled_from(DAYS), max_size=2)))
    amounts = sorted(draw(st.lists(st.sampled_from((*AMOUNTS, 100_000)), max_size=2)))

    def maybe(values: tuple[str, ...], percent: int = 12) -> str | None:  # mostly absent: keys narrow a lot
        return draw(st.sampled_from(values)) if draw(st.integers(0, 99)) < percent else None

    use = [draw(st.booleans()) for _ in range(4)]  # which bounds of the drawn ranges to keep
    return SearchFilter(
        day_from=days[0] if days and use[0] else None,
        day_to=days[-1] if days and use[1] else None,
        statuses=draw(st.frozensets(st.sampled_from(STATUSES), max_size=3)),
        families=draw(st.frozensets(st.sampled_from(("knet", "card", "wallet")), max_size=2)),
        methods=draw(st.frozensets(st.sampled_from(tuple(METHOD_FAMILY)), max_size=3)),
        amount_min=amounts[0] if amounts and use[2] else None,
        amount_max=amounts[-1] if amounts and use[3] else None,
        phone=maybe(tuple(p for p in PHONES if p)),
        email=maybe(("noura3@mail.test", "DANA1@MAIL.TEST", "nobody@mail.test")),
        order_id=maybe(("ORD-0007", "ORD-0399", "ORD-9999")),
        reference=maybe(("REF-3", "REF-39")),
        created_by=maybe(("sara@shop.test",)),
        text=maybe(("noura", "al-sabah", "ajmi khaled", "oud", "dat", "trk0001", "mail", "ORD-0012",
                    "abaya noura", "ah", "zz", "Sara@", "ref-3"), percent=40),
    )


def _check(engine: Any, rows: list[dict[str, Any]], flt: SearchFilter, sort: str, descending: bool,
           page: int) -> None:
    expected = sorted((r for r in rows if _matches(r, flt)), key=_key(sort), reverse=descending)
    size = 7
    result = search(engine, ADMIN, flt, sort=sort, descending=descending, page=page, page_size=size)
    pages = max(1, -(-len(expected) // size))
    want_page = min(page, pages)
    if result.totals_exact:
        assert result.total_count == len(expected)
        assert result.total_amount_fils == sum(r["amount_fils"] for r in expected)
        paid = [r for r in expected if r["status"] == "paid"]
        assert (result.captured_count, result.captured_amount_fils) == (len(paid), sum(r["amount_fils"]
                                                                                       for r in paid))
        assert result.page == want_page
        assert [r.id for r in result.rows] == [r["id"] for r in expected[(want_page - 1) * size:want_page * size]]
    else:  # broad free text: a lower bound (or the exact FTS count), rows still right for the page shown
        assert flt.text and result.total_count <= len(expected) and result.total_amount_fils == 0
        if result.count_exact:
            assert result.total_count == len(expected)
        assert result.page == (want_page if result.count_exact else page)
        offset = (result.page - 1) * size
        assert [r.id for r in result.rows] == [r["id"] for r in expected[offset:offset + size]]
    exact = totals(engine, flt)
    assert (exact.count, exact.amount_fils, exact.exact) == (len(expected), sum(r["amount_fils"]
                                                                                for r in expected), True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=filters(), sort=st.sampled_from(("created_at", "amount", "status")), descending=st.booleans(),
       page=st.integers(1, 8))
def test_search_equals_the_reference(data, flt: SearchFilter, sort: str, descending: bool, page: int) -> None:
    engine, rows = data
    _check(engine, rows, flt, sort, descending, page)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=filters(), sort=st.sampled_from(("created_at", "amount", "status")), descending=st.booleans(),
       page=st.integers(1, 4))
def test_search_equals_the_reference_when_text_totals_are_capped(data, flt: SearchFilter, sort: str,
                                                                 descending: bool, page: int) -> None:
    engine, rows = data
    with pytest.MonkeyPatch.context() as patch:  # tiny cap and budget: the capped and sampled paths run too
        patch.setattr("services.search.plan.TEXT_TOTALS_CAP", 5)
        patch.setattr("services.search.plan.EXACT_BUDGET", 20)
        patch.setattr("services.search.plan.LOOKUP", 0.5)  # cheap look-ups: text-driven plans, also in an id span
        _check(engine, rows, flt, sort, descending, page)
