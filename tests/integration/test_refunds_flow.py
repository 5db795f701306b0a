"""Refunds against the sandbox over real HTTP: partial/full, approval, cancel, tracking, faults, roles."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services import audit
from services.models import RefundState
from services.permissions import SYSTEM, PermissionDenied, Role
from services.policy import Policy, configure
from services.refunds import (
    OverRefund,
    RefundFilter,
    RefundInFlight,
    approve_refund,
    cancel_refund,
    export_refunds_csv,
    list_refunds,
    refresh_refunds,
    refund_summary,
    reject_refund,
    request_refund,
    settle_uncertain,
)
from tests.factories import make_staff
from tests.integration.test_refunds_support import (
    captured_payment,
    client_for,
    gateway_refunds,
    our_refunds,
    references,
    refunded_fils,
)

THRESHOLD = 100_000
NOW: dict[str, Any] = {"sending_stale_after": timedelta(0), "absent_grace": timedelta(0)}


@pytest.fixture
def client(sandbox):
    with client_for(sandbox.api_base, timeout=1.0) as c:
        yield c


def _summary(engine, payment):
    return refund_summary(engine, payment_pk=payment.id)


def _ask(engine, client, actor, payment, amount, key, **kw):
    configure(Policy(refund_approval_threshold_fils=kw.pop("threshold_fils", THRESHOLD)))  # the shop's setting
    return request_refund(engine, client, actor, payment_pk=payment.id, amount_fils=amount,
                          reason=kw.pop("reason", "customer_request"), idempotency_key=key, **kw)


def test_partial_then_exact_remaining_once_each_then_tracked_to_refunded(engine, client, sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 12_500)
    first = _ask(engine, client, finance, payment, 2_500, "key-partial")
    assert first.state == RefundState.INITIATED and first.gateway_refund_order_id and first.gateway_refund_arn
    # A rerun / double click with the same key returns the same refund and calls nothing.
    again = _ask(engine, client, finance, payment, 2_500, "key-partial")
    assert again.id == first.id and references(sandbox, payment) == ["key-partial"]
    summary = _summary(engine, payment)
    assert (summary.refunded_fils, summary.completed_fils, summary.refundable_fils) == (2_500, 0, 10_000)
    rest = _ask(engine, client, finance, payment, summary.refundable_fils, "key-rest")
    assert rest.state == RefundState.INITIATED
    summary = _summary(engine, payment)
    assert summary.refundable_fils == 0 and not summary.can_refund and "in full" in str(summary.reason_not)
    with pytest.raises(OverRefund):
        _ask(engine, client, finance, payment, 1, "key-more")
    assert references(sandbox, payment) == ["key-partial", "key-rest"]
    assert refunded_fils(engine, payment) == 12_500
    assert refresh_refunds(engine, client, payment_pk=payment.id, actor=SYSTEM) == 0  # not executed yet
    assert sandbox.settle_refunds() == 2
    assert refresh_refunds(engine, client, actor=SYSTEM) == 2
    assert [r.state for r in our_refunds(engine, payment)] == ["refunded", "refunded"]
    assert all(r.refunded_at is not None for r in our_refunds(engine, payment))
    assert refunded_fils(engine, payment) == 12_500
    assert _summary(engine, payment).completed_fils == 12_500
    admin = make_staff(engine, Role.ADMIN)
    actions = [e.action for e in reversed(audit.list_entries(engine, admin)[0])]
    assert actions == ["refund_requested", "refund_sent", "refund_requested", "refund_sent", "refund_completed",
                       "refund_completed"]
    assert audit.verify(engine).ok


def test_large_refund_waits_for_another_persons_approval(engine, client, sandbox) -> None:
    fahad, noura = make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)
    payment = captured_payment(engine, sandbox, client, 200_000, method="card")
    refund = _ask(engine, client, fahad, payment, 150_000, "big")
    assert refund.state == RefundState.PENDING_APPROVAL and gateway_refunds(sandbox, payment) == []
    sent = approve_refund(engine, client, noura, refund_id=refund.id)
    assert sent.state == RefundState.INITIATED and sent.approved_by == noura.email
    assert approve_refund(engine, client, noura, refund_id=refund.id).id == refund.id  # double click: no-op
    assert references(sandbox, payment) == ["big"]
    rows, _ = list_refunds(engine, fahad, filters=RefundFilter(payment_pk=payment.id))
    assert rows[0].expected_arrival is not None and rows[0].state == "initiated"


def test_cancel_an_initiated_refund_deletes_it_at_the_gateway(engine, client, sandbox) -> None:
    sandbox.configure(refund_delay_seconds=600)
    admin = make_staff(engine, Role.ADMIN)
    payment = captured_payment(engine, sandbox, client, 8_000)
    refund = _ask(engine, client, admin, payment, 3_000, "to-cancel")
    assert refunded_fils(engine, payment) == 3_000
    cancelled = cancel_refund(engine, client, admin, refund_id=refund.id)
    assert cancelled.state == RefundState.CANCELLED and refunded_fils(engine, payment) == 0
    [record] = gateway_refunds(sandbox, payment)
    assert record["deleted_at"] is not None
    assert client.refunds.check(order_id=payment.upay_order_id) == []
    assert refresh_refunds(engine, client, payment_pk=payment.id, actor=SYSTEM) == 0
    assert _summary(engine, payment).refundable_fils == 8_000
    # A refund the gateway already executed can't be cancelled; the page gets one sentence.
    done = _ask(engine, client, admin, payment, 1_000, "executed")
    sandbox.settle_refunds()
    with pytest.raises(ValueError, match="would not cancel"):
        cancel_refund(engine, client, admin, refund_id=done.id)
    assert [r.state for r in our_refunds(engine, payment)] == ["cancelled", "refunded"]


def test_cancel_whose_answer_is_lost_is_settled_from_check_refund(engine, client, sandbox) -> None:
    sandbox.configure(refund_delay_seconds=600)
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 8_000)
    hung = _ask(engine, client, finance, payment, 1_000, "hang-cancel")
    sandbox.set_faults(hang_seconds=1.5, paths=["delete-refund"], count=1)
    with pytest.raises(ValueError, match="did not confirm cancelling"):  # never reached the handler: still there
        cancel_refund(engine, client, finance, refund_id=hung.id)
    assert [r.state for r in our_refunds(engine, payment)] == ["initiated"]
    assert gateway_refunds(sandbox, payment)[0]["deleted_at"] is None
    sandbox.set_faults(malformed_json=True, paths=["delete-refund"], count=1)  # deleted, answer cut off
    assert cancel_refund(engine, client, finance, refund_id=hung.id).state == RefundState.CANCELLED
    assert gateway_refunds(sandbox, payment)[0]["deleted_at"] is not None and refunded_fils(engine, payment) == 0


# ------------------------------------------------------------------ injected faults


def test_timeout_after_send_is_uncertain_then_settled_never_resent(engine, client, sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    sandbox.set_faults(hang_seconds=1.5, paths=["create-refund"], count=1)
    refund = _ask(engine, client, finance, payment, 4_000, "slow")
    assert refund.state == RefundState.UNCERTAIN and "will not be sent twice" in str(refund.error)
    # While it is uncertain the amount stays reserved and no second refund can start.
    assert _summary(engine, payment).pending_fils == 4_000
    with pytest.raises(RefundInFlight):
        _ask(engine, client, finance, payment, 1_000, "meanwhile")
    assert settle_uncertain(engine, client, actor=SYSTEM, **NOW) == 1
    [settled] = our_refunds(engine, payment)
    # The hung request never reached the handler, so the gateway has nothing: failed, nothing refunded.
    assert gateway_refunds(sandbox, payment) == [] and settled.state == RefundState.FAILED
    assert refunded_fils(engine, payment) == 0
    ok = _ask(engine, client, finance, payment, 4_000, "retry")
    assert ok.state == RefundState.INITIATED and references(sandbox, payment) == ["retry"]


def test_server_error_is_uncertain_then_settled(engine, client, sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    sandbox.set_faults(error_rate=1.0, paths=["create-refund"], count=1)
    refund = _ask(engine, client, finance, payment, 4_000, "k500")
    assert refund.state == RefundState.UNCERTAIN
    assert settle_uncertain(engine, client, actor=SYSTEM, **NOW) == 1
    assert [r.state for r in our_refunds(engine, payment)] == ["failed"] and gateway_refunds(sandbox, payment) == []


def test_lost_answer_after_the_gateway_made_the_refund_is_settled_as_initiated(engine, client,
                                                                               sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    sandbox.set_faults(malformed_json=True, paths=["create-refund"], count=1)
    refund = _ask(engine, client, finance, payment, 4_000, "cut-off")
    assert refund.state == RefundState.UNCERTAIN and refunded_fils(engine, payment) == 0
    [record] = gateway_refunds(sandbox, payment)
    # A settle pass before the grace period does not guess; the gateway listing decides as soon as it is seen.
    assert settle_uncertain(engine, client, actor=SYSTEM) == 1
    [settled] = our_refunds(engine, payment)
    assert settled.state == RefundState.INITIATED
    assert settled.gateway_refund_order_id == record["refund_order_id"]
    assert settled.gateway_order_id == record["order_id"]
    assert refunded_fils(engine, payment) == 4_000
    assert settle_uncertain(engine, client, actor=SYSTEM, **NOW) == 0  # settling twice changes nothing
    assert len(gateway_refunds(sandbox, payment)) == 1
    settled_entry = audit.list_entries(engine, make_staff(engine, Role.ADMIN))[0][0]
    assert settled_entry.action == "refund_settled" and json.loads(settled_entry.after or "")["outcome"] == (
        "the gateway has it")
    # §18 F2: the sandbox answered only {order_id, is_refunded, refunded_date}; the refund id came from the F3
    # suffix, so the settled refund can still be cancelled while initiated
    cancelled = cancel_refund(engine, client, finance, refund_id=settled.id or 0)
    assert cancelled.state == RefundState.CANCELLED and refunded_fils(engine, payment) == 0
    assert [r["state"] for r in gateway_refunds(sandbox, payment)] == ["deleted"]


def test_two_refunds_are_tracked_and_cancelled_from_the_documented_shape(engine, client, sandbox) -> None:
    """Both refunds bound by their own order ids (no amount, no refund id listed); the second is cancelled."""
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    first = _ask(engine, client, finance, payment, 3_000, "two-a")
    second = _ask(engine, client, finance, payment, 2_000, "two-b")
    assert first.state == second.state == RefundState.INITIATED
    assert cancel_refund(engine, client, finance, refund_id=second.id).state == RefundState.CANCELLED
    sandbox.settle_refunds()
    assert refresh_refunds(engine, client, actor=SYSTEM) == 1
    states = {r.id: r.state for r in our_refunds(engine, payment)}
    assert states == {first.id: RefundState.REFUNDED, second.id: RefundState.CANCELLED}
    assert refunded_fils(engine, payment) == 3_000


def test_insufficient_merchant_balance_fails_with_one_clear_sentence(engine, client, sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    sandbox.configure(merchant_balance_fils=1_000)
    refund = _ask(engine, client, finance, payment, 4_000, "short")
    assert refund.state == RefundState.FAILED
    assert refund.error is not None and refund.error.startswith("UPayments refused the refund: Insufficient balance")
    assert "Top up your UPayments balance" in refund.error and refund.error.count(". ") <= 2
    assert gateway_refunds(sandbox, payment) == [] and refunded_fils(engine, payment) == 0
    assert _summary(engine, payment).refundable_fils == 10_000


def test_over_refund_is_refused_by_us_before_the_gateway(engine, client, sandbox) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 10_000)
    with pytest.raises(OverRefund, match="nothing was sent"):
        _ask(engine, client, finance, payment, 10_001, "too-much")
    assert gateway_refunds(sandbox, payment) == [] and our_refunds(engine, payment) == []


# ------------------------------------------------------------------ roles with the real gateway


@pytest.mark.parametrize(("requester_role", "approver_role"), [
    (Role.FINANCE, Role.FINANCE), (Role.FINANCE, Role.ADMIN), (Role.ADMIN, Role.FINANCE), (Role.ADMIN, Role.ADMIN),
])
def test_finance_and_admin_may_request_approve_cancel_and_export(engine, client, sandbox, requester_role,
                                                                  approver_role) -> None:
    requester, approver = make_staff(engine, requester_role), make_staff(engine, approver_role)
    payment = captured_payment(engine, sandbox, client, 300_000)
    small = _ask(engine, client, requester, payment, 5_000, "small")
    big = _ask(engine, client, requester, payment, 120_000, "big")
    assert (small.state, big.state) == ("initiated", "pending_approval")
    assert approve_refund(engine, client, approver, refund_id=big.id).state == "initiated"
    assert cancel_refund(engine, client, approver, refund_id=small.id).state == "cancelled"
    rejected = _ask(engine, client, approver, payment, 150_000, "rej")
    assert reject_refund(engine, requester, refund_id=rejected.id, note="not agreed").state == "rejected"
    lines = list(export_refunds_csv(engine, requester))
    assert len(lines) == 4
    assert references(sandbox, payment) == ["small", "big"] and refunded_fils(engine, payment) == 120_000


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_viewer_and_sales_cannot_move_money_even_through_the_service(engine, client, sandbox,
                                                                     role) -> None:
    someone, finance = make_staff(engine, role), make_staff(engine, Role.FINANCE)
    payment = captured_payment(engine, sandbox, client, 300_000)
    initiated = _ask(engine, client, finance, payment, 5_000, "i")
    pending = _ask(engine, client, finance, payment, 150_000, "p")
    for call in (
        lambda: _ask(engine, client, someone, payment, 1_000, "x"),
        lambda: approve_refund(engine, client, someone, refund_id=pending.id),
        lambda: reject_refund(engine, someone, refund_id=pending.id, note="no"),
        lambda: cancel_refund(engine, client, someone, refund_id=initiated.id),
        lambda: export_refunds_csv(engine, someone),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert references(sandbox, payment) == ["i"]
    assert [r.state for r in our_refunds(engine, payment)] == ["initiated", "pending_approval"]

