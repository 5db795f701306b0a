"""Refund rules that are decided before (or without) the gateway: validation, reservation, approval, roles, list."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from services import audit
from services.models import AuditEntry, Payment, Refund, RefundState
from services.permissions import SYSTEM, PermissionDenied, Role
from services.policy import Policy, configure
from services.refunds import (
    ApprovalError,
    NotRefundable,
    OverRefund,
    RefundError,
    RefundFilter,
    RefundInFlight,
    approve_refund,
    cancel_refund,
    expected_arrival,
    export_refunds_csv,
    find_payments,
    get_refund,
    list_refunds,
    refresh_refunds,
    refund_summary,
    reject_refund,
    request_refund,
    settle_uncertain,
)
from services.timeutil import KUWAIT, utcnow
from tests.factories import make_payment, make_refund, make_staff

THRESHOLD = 100_000


def _paid(engine, amount=250_000, **kw):
    kw.setdefault("upay_order_id", f"UPAY{amount}X{kw.get('order_id', '')}")
    return make_payment(engine, amount_fils=amount, status="paid", customer_name="Fatma Al-Sabah", **kw)


def _refunds(engine) -> list[Refund]:
    with Session(engine) as session:
        return list(session.exec(select(Refund).order_by(col(Refund.id))).all())


def _ask(engine, client, actor, payment, amount, key, **kw):
    configure(Policy(refund_approval_threshold_fils=kw.pop("threshold_fils", THRESHOLD)))  # the shop's setting
    return request_refund(engine, client, actor, payment_pk=payment.id, amount_fils=amount,
                          reason=kw.pop("reason", "customer_request"), idempotency_key=key, **kw)


# ------------------------------------------------------------------ summary


@pytest.mark.parametrize(("status", "words"), [
    ("pending", "awaiting payment"), ("failed", "failed"), ("cancelled", "cancelled"), ("expired", "expired"),
])
def test_only_paid_payments_are_refundable_and_the_message_says_why(engine, status, words) -> None:
    payment = make_payment(engine, amount_fils=5_000, status=status, upay_order_id="U1")
    summary = refund_summary(engine, payment_pk=payment.id or 0)
    assert not summary.can_refund and summary.refundable_fils == 0 and summary.captured_fils == 0
    assert words in str(summary.reason_not) and "only paid payments" in str(summary.reason_not)


def test_summary_without_gateway_order_id_asks_for_a_resync(engine) -> None:
    payment = make_payment(engine, amount_fils=5_000, status="paid")
    summary = refund_summary(engine, payment_pk=payment.id or 0)
    assert not summary.can_refund and "re-sync" in str(summary.reason_not)
    assert summary.captured_fils == 5_000


def test_pending_approvals_reserve_their_amount(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine, 250_000)
    first = _ask(engine, dead_client, finance, payment, 150_000, "k-1")
    assert first.state == RefundState.PENDING_APPROVAL
    summary = refund_summary(engine, payment_pk=payment.id, actor=finance)
    assert (summary.captured_fils, summary.refunded_fils, summary.pending_fils, summary.refundable_fils) == (
        250_000, 0, 150_000, 100_000)
    # A second large request can't over-commit what the first one reserved …
    with pytest.raises(OverRefund, match=r"100\.000 KWD still refundable"):
        _ask(engine, dead_client, finance, payment, 100_001, "k-2")
    # … and reserving the rest leaves nothing, with the reason named.
    assert _ask(engine, dead_client, finance, payment, 100_000, "k-3", threshold_fils=0).state == "pending_approval"
    summary = refund_summary(engine, payment_pk=payment.id)
    assert summary.refundable_fils == 0 and "reserved by refunds awaiting approval" in str(summary.reason_not)
    assert [r.state for r in _refunds(engine)] == ["pending_approval", "pending_approval"]


# ------------------------------------------------------------------ validation before anything is written


@pytest.mark.parametrize(("amount", "reason", "note", "message"), [
    (0, "customer_request", None, "more than zero"),
    (-5, "customer_request", None, "more than zero"),
    (True, "customer_request", None, "more than zero"),
    (1_000, "because", None, "Unknown refund reason"),
    (1_000, "other", "   ", "write a note"),
    (1_000, "duplicate", "x" * 501, "too long"),
])
def test_invalid_requests_are_refused_before_anything_is_written(engine, dead_client, amount, reason, note,
                                                                 message) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    with pytest.raises(RefundError, match=message):
        _ask(engine, dead_client, finance, payment, amount, "k", reason=reason, note=note)
    assert _refunds(engine) == []


def test_over_refund_is_refused_by_us_before_the_gateway(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine, 10_000)
    with pytest.raises(OverRefund, match=r"10.001 KWD is more than the 10.000 KWD still refundable"):
        _ask(engine, dead_client, finance, payment, 10_001, "k")
    assert _refunds(engine) == []
    with pytest.raises(NotRefundable, match="only paid payments"):
        _ask(engine, dead_client, finance, make_payment(engine, status="pending", upay_order_id="U"), 1, "k2")


def test_unreachable_gateway_fails_the_intent_and_releases_the_reservation(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine, 10_000)
    refund = _ask(engine, dead_client, finance, payment, 4_000, "k")
    assert refund.state == RefundState.FAILED  # connection refused: nothing was sent, so not uncertain
    assert "could not be reached" in str(refund.error) and "nothing was sent" in str(refund.error)
    summary = refund_summary(engine, payment_pk=payment.id)
    assert summary.refundable_fils == 10_000 and summary.refunded_fils == 0
    again = _ask(engine, dead_client, finance, payment, 4_000, "k")  # the same key: same refund, no second try
    assert again.id == refund.id and len(_refunds(engine)) == 1
    actions = [e.action for e in audit.list_entries(engine, make_staff(engine, Role.ADMIN))[0]]
    assert actions[:2] == ["refund_failed", "refund_requested"]


def test_same_key_with_other_details_is_refused(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    _ask(engine, dead_client, finance, payment, 150_000, "k")
    with pytest.raises(RefundError, match="already submitted with other details"):
        _ask(engine, dead_client, finance, payment, 150_001, "k")


def test_a_second_refund_is_refused_while_one_is_in_flight(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine, 10_000)
    make_refund(engine, payment, idempotency_key="lost", amount_fils=1_000, reason="duplicate",
                requested_by=finance.email, state=RefundState.UNCERTAIN)
    with pytest.raises(RefundInFlight, match="being sent or its outcome is being checked"):
        _ask(engine, dead_client, finance, payment, 1_000, "k")
    # The settle attempt could not reach the gateway, so the uncertain intent stays as it was.
    assert [r.state for r in _refunds(engine)] == ["uncertain"]
    assert settle_uncertain(engine, dead_client, actor=SYSTEM) == 0


# ------------------------------------------------------------------ approval


def test_requester_cannot_approve_own_request_another_person_rejects(engine, dead_client) -> None:
    fahad, noura = make_staff(engine, Role.FINANCE), make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    refund = _ask(engine, dead_client, fahad, payment, 120_000, "k")
    with pytest.raises(ApprovalError, match="can't approve your own"):
        approve_refund(engine, dead_client, fahad, refund_id=refund.id)
    with pytest.raises(ApprovalError, match="can't decide your own"):
        reject_refund(engine, fahad, refund_id=refund.id, note="changed my mind")
    with pytest.raises(ApprovalError, match="write why"):
        reject_refund(engine, noura, refund_id=refund.id, note=" ")
    rejected = reject_refund(engine, noura, refund_id=refund.id, note="Customer kept the item")
    assert rejected.state == RefundState.REJECTED and rejected.approved_by == noura.email
    assert "Customer kept the item" in str(rejected.error)
    assert refund_summary(engine, payment_pk=payment.id).refundable_fils == 250_000  # reservation released
    with pytest.raises(ApprovalError, match="no longer waiting"):
        approve_refund(engine, dead_client, noura, refund_id=refund.id)


def test_requester_may_withdraw_a_pending_request(engine, dead_client) -> None:
    fahad = make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    refund = _ask(engine, dead_client, fahad, payment, 120_000, "k")
    cancelled = cancel_refund(engine, dead_client, fahad, refund_id=refund.id)
    assert cancelled.state == RefundState.CANCELLED
    assert cancel_refund(engine, dead_client, fahad, refund_id=refund.id).state == "cancelled"  # double click
    assert refund_summary(engine, payment_pk=payment.id).refundable_fils == 250_000


def test_cancel_is_refused_for_states_that_cannot_be_cancelled(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine, 10_000)
    failed = _ask(engine, dead_client, finance, payment, 1_000, "k")
    with pytest.raises(RefundError, match="only a refund that is initiated"):
        cancel_refund(engine, dead_client, finance, refund_id=failed.id)


# ------------------------------------------------------------------ roles


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_viewer_and_sales_are_refused_every_refund_action(engine, dead_client, role) -> None:
    someone = make_staff(engine, role)
    finance = make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    pending = _ask(engine, dead_client, finance, payment, 150_000, "k")
    entries_before = len(audit.list_entries(engine, make_staff(engine, Role.ADMIN))[0])
    calls = [
        lambda: _ask(engine, dead_client, someone, payment, 1_000, "k2"),
        lambda: approve_refund(engine, dead_client, someone, refund_id=pending.id),
        lambda: reject_refund(engine, someone, refund_id=pending.id, note="no"),
        lambda: cancel_refund(engine, dead_client, someone, refund_id=pending.id),
        lambda: export_refunds_csv(engine, someone),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    readers = [
        lambda: list_refunds(engine, someone),
        lambda: refund_summary(engine, payment_pk=payment.id, actor=someone),
        lambda: get_refund(engine, someone, refund_id=pending.id),
        lambda: find_payments(engine, someone, query=payment.order_id),
    ]
    for read in readers:
        if role == Role.VIEWER:
            assert read()  # viewers may look
        else:
            with pytest.raises(PermissionDenied):
                read()
    assert [(r.state, r.amount_fils) for r in _refunds(engine)] == [("pending_approval", 150_000)]
    assert len(audit.list_entries(engine, make_staff(engine, Role.ADMIN))[0]) == entries_before


def test_admin_may_approve_and_finance_may_request(engine, dead_client) -> None:
    admin, finance = make_staff(engine, Role.ADMIN), make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    refund = _ask(engine, dead_client, finance, payment, 150_000, "k")
    sent = approve_refund(engine, dead_client, admin, refund_id=refund.id)
    assert sent.approved_by == admin.email
    assert sent.state == RefundState.FAILED  # it was sent to the (closed) gateway only after approval
    assert approve_refund(engine, dead_client, admin, refund_id=refund.id).id == refund.id  # repeat = no-op


# ------------------------------------------------------------------ list, export, search, arrival, audit


def test_list_filters_and_pages(engine, dead_client) -> None:
    fahad, noura = make_staff(engine, Role.FINANCE), make_staff(engine, Role.FINANCE)
    viewer = make_staff(engine, Role.VIEWER)
    p1, p2 = _paid(engine, order_id="A-1"), _paid(engine, order_id="B-2")
    _ask(engine, dead_client, fahad, p1, 150_000, "a")
    _ask(engine, dead_client, noura, p2, 200_000, "b")
    _ask(engine, dead_client, noura, p2, 5_000, "c")  # fails at the closed gateway
    rows, total = list_refunds(engine, viewer)
    assert total == 3 and [r.amount_fils for r in rows] == [5_000, 200_000, 150_000]  # newest first
    rows, total = list_refunds(engine, viewer, filters=RefundFilter(states=("pending_approval",)))
    assert total == 2 and {r.order_id for r in rows} == {"A-1", "B-2"}
    rows, total = list_refunds(engine, viewer, filters=RefundFilter(requested_by=noura.email.upper()))
    assert total == 2
    rows, total = list_refunds(engine, viewer, filters=RefundFilter(order_id="A-1"))
    assert total == 1 and rows[0].customer_name == "Fatma Al-Sabah"
    rows, total = list_refunds(engine, viewer, page=2, page_size=2)
    assert total == 3 and len(rows) == 1 and rows[0].amount_fils == 150_000
    today = utcnow().astimezone(KUWAIT).date()
    assert list_refunds(engine, viewer, filters=RefundFilter(since=today, until=today))[1] == 3
    assert list_refunds(engine, viewer, filters=RefundFilter(since=today + timedelta(days=1)))[1] == 0


def test_export_streams_neutralised_csv_and_is_audited(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = make_payment(engine, amount_fils=250_000, status="paid", upay_order_id="U",
                           customer_name="=HYPERLINK(\"http://evil\")")
    _ask(engine, dead_client, finance, payment, 150_000, "k", reason="other", note="@SUM(A1) -cmd +x")
    lines = export_refunds_csv(engine, finance, RefundFilter(states=("pending_approval",)))
    admin = make_staff(engine, Role.ADMIN)
    assert audit.list_entries(engine, admin)[0][0].action != "refunds_exported"  # nothing produced yet
    text = "".join(lines)
    entry = audit.list_entries(engine, admin)[0][0]
    assert entry.action == "refunds_exported" and entry.actor == finance.email  # audited once produced
    assert json.loads(entry.after or "") == {"filters": {"states": ["pending_approval"]}, "rows": 1}
    header, row, end = text.split("\r\n")
    assert header.startswith("refund_id,requested_kuwait,order_id,customer,method,amount") and end == ""
    assert "'=HYPERLINK" in row and "'@SUM(A1) -cmd +x" in row and ",150.000,KWD,Other," in row


def test_find_payments_by_ids_and_phone(engine) -> None:
    viewer = make_staff(engine, Role.VIEWER)
    payment = _paid(engine, order_id="ORD-777", track_id="TRK777", customer_phone="+96550001234")
    _paid(engine, order_id="ORD-778", customer_phone="+96599990000")
    for query in ("ORD-777", "TRK777", payment.upay_order_id, "5000 1234", "+965 5000 1234"):
        assert [h.order_id for h in find_payments(engine, viewer, query=query)] == ["ORD-777"], query
    assert find_payments(engine, viewer, query="  ") == []
    assert find_payments(engine, viewer, query="nothing") == []


def test_find_payments_by_partial_phone_and_not_by_the_digits_of_an_id(engine) -> None:
    viewer = make_staff(engine, Role.VIEWER)
    _paid(engine, order_id="ORD-901", customer_phone="+96550001234")
    _paid(engine, order_id="ORD-902", track_id="T50001234", customer_phone="+96599990000")
    _paid(engine, order_id="ORD-903", customer_phone="+447700900123")  # a foreign number, typed in full
    assert [h.order_id for h in find_payments(engine, viewer, query="001234")] == ["ORD-901"]  # part of a number
    assert [h.order_id for h in find_payments(engine, viewer, query="T50001234")] == ["ORD-902"]  # the id only
    assert [h.order_id for h in find_payments(engine, viewer, query="+44 7700 900123")] == ["ORD-903"]


@pytest.mark.parametrize(("method", "initiated", "expected"), [
    ("knet", "2026-11-26 10:00", date(2026, 11, 29)),  # Thursday → Sunday (Fri/Sat are the weekend)
    ("knet", "2026-11-24 22:30", date(2026, 11, 26)),  # 01:30 Wednesday in Kuwait → Thursday
    ("card", "2026-11-22 09:00", date(2026, 12, 6)),  # Sunday + 10 working days
    ("apple_pay", "2026-11-22 09:00", date(2026, 12, 6)),
    (None, "2026-11-22 09:00", date(2026, 12, 6)),
])
def test_expected_arrival_uses_the_kuwaiti_working_week(method, initiated, expected) -> None:
    from datetime import UTC, datetime

    at = datetime.strptime(initiated, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert expected_arrival(method, at) == expected


def test_every_change_is_audited_with_before_and_after_and_the_chain_holds(engine, dead_client) -> None:
    fahad, noura = make_staff(engine, Role.FINANCE), make_staff(engine, Role.FINANCE)
    payment = _paid(engine)
    refund = _ask(engine, dead_client, fahad, payment, 150_000, "k")
    reject_refund(engine, noura, refund_id=refund.id, note="no")
    with Session(engine) as session:
        rows = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all())
    assert [r.action for r in rows] == ["refund_requested", "refund_rejected"]
    assert all(r.target == f"refund:{refund.id} order:{payment.order_id}" for r in rows)
    assert json.loads(rows[1].before or "")["state"] == "pending_approval"
    assert json.loads(rows[1].after or "")["state"] == "rejected"
    assert audit.verify(engine).ok


def test_refresh_without_initiated_refunds_calls_nothing(engine, dead_client) -> None:
    _paid(engine)
    assert refresh_refunds(engine, dead_client, actor=SYSTEM) == 0
    with Session(engine) as session:
        assert [p.refunded_fils for p in session.exec(select(Payment))] == [0]
