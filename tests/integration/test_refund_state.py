"""One refund state everywhere: after partial and full refunds at the sandbox, the list, its filter, the totals,
the CSV and analytics agree (services/refund_state.py), and pending refunds are shown beside, never counted."""

from __future__ import annotations

import csv
import io

import pytest

from services.analytics import Period, kpis
from services.models import Payment
from services.permissions import Role
from services.policy import Policy, configure
from services.refunds import reject_refund, request_refund
from services.search import SearchFilter, export_csv, filter_from_query, filter_to_query, search, totals
from services.timeutil import kuwait_today
from tests.factories import make_payment, make_staff
from tests.integration.test_refunds_support import captured_payment, client_for


@pytest.fixture
def client(sandbox):
    with client_for(sandbox.api_base, timeout=2.0) as c:
        yield c


def _refund(engine, client, actor, payment: Payment, amount: int, key: str):
    return request_refund(engine, client, actor, payment_pk=payment.id or 0, amount_fils=amount,
                          reason="customer_request", idempotency_key=key)


def _row(engine, actor, payment: Payment):
    page = search(engine, actor, SearchFilter(order_id=payment.order_id))
    assert len(page.rows) == 1
    return page.rows[0]


def _csv_status(engine, actor, flt: SearchFilter) -> dict[str, tuple[str, str, str]]:
    rows = csv.DictReader(io.StringIO("".join(export_csv(engine, actor, flt))))
    return {r["order_id"]: (r["status"], r["refunded"], r["refund_pending"]) for r in rows}


def test_partial_then_full_refund_reads_the_same_in_list_filter_totals_csv_and_analytics(engine, client,
                                                                                           sandbox) -> None:
    configure(Policy(refund_approval_threshold_fils=100_000))
    finance, admin = make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)
    partly = captured_payment(engine, sandbox, client, 12_500)
    fully = captured_payment(engine, sandbox, client, 4_000)
    untouched = captured_payment(engine, sandbox, client, 3_000)
    make_payment(engine, amount_fils=9_999, status="pending", method=None)  # an unpaid link: never in "captured"

    _refund(engine, client, finance, partly, 7_500, "p-1")
    _refund(engine, client, finance, fully, 1_000, "f-1")
    _refund(engine, client, finance, fully, 3_000, "f-2")

    assert (_row(engine, finance, partly).status_word, _row(engine, finance, fully).status_word,
            _row(engine, finance, untouched).status_word) == ("partially_refunded", "refunded", "paid")

    only_partial = filter_from_query({"refund": "partially_refunded"})
    assert filter_to_query(only_partial) == {"refund": "partially_refunded"}  # the filter lives in the URL
    assert [r.order_id for r in search(engine, finance, only_partial).rows] == [partly.order_id]
    both = SearchFilter(refunds={"partially_refunded", "refunded"})
    assert {r.order_id for r in search(engine, finance, both).rows} == {partly.order_id, fully.order_id}

    for flt in (SearchFilter(), SearchFilter(statuses={"paid"}), SearchFilter(amount_min=1)):  # summary paths too
        total = totals(engine, flt)
        assert (total.captured_amount_fils, total.refunded_fils, total.net_fils) == (19_500, 11_500, 8_000)
    assert (totals(engine, SearchFilter()).awaiting_count, totals(engine, SearchFilter()).awaiting_fils) == (1, 9_999)

    exported = _csv_status(engine, admin, SearchFilter(statuses={"paid"}))
    assert exported == {partly.order_id: ("partially_refunded", "7.500", "0.000"),
                        fully.order_id: ("refunded", "4.000", "0.000"),
                        untouched.order_id: ("paid", "0.000", "0.000")}

    today = kpis(engine, admin, Period(kuwait_today(), kuwait_today()))
    assert (today.refunds, today.refunded_fils) == (3, 11_500)


def test_a_refund_awaiting_approval_is_pending_beside_the_state_until_decided(engine, client, sandbox) -> None:
    configure(Policy(refund_approval_threshold_fils=2_000))
    fahad, noura = make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)
    payment = captured_payment(engine, sandbox, client, 12_500)
    _refund(engine, client, fahad, payment, 1_500, "small")
    big = _refund(engine, client, fahad, payment, 5_000, "big")  # above the threshold: waits for approval
    row = _row(engine, fahad, payment)
    assert (row.status_word, row.refunded_fils, row.refund_pending_fils) == ("partially_refunded", 1_500, 5_000)
    assert _csv_status(engine, noura, SearchFilter(order_id=payment.order_id))[payment.order_id] == (
        "partially_refunded", "1.500", "5.000")
    assert totals(engine, SearchFilter()).refunded_fils == 1_500  # pending is never counted
    reject_refund(engine, noura, refund_id=big.id or 0, note="Customer kept the item")
    assert _row(engine, fahad, payment).refund_pending_fils == 0
