"""Shop rules belong to the services: the refund approval threshold comes from settings, never from the page."""

from __future__ import annotations

import inspect
import json

import pytest
from sqlmodel import Session, col, select

from dashboard import runtime
from services import policy, refunds, sync
from services.gateway import UPaymentsClient
from services.models import AuditEntry, RefundState
from services.permissions import Role
from tests.factories import make_db, make_payment, make_staff


def test_request_refund_takes_no_threshold_from_its_caller() -> None:
    assert not [p for p in inspect.signature(refunds.request_refund).parameters if "threshold" in p]
    with pytest.raises(TypeError):
        refunds.request_refund(None, None, None, payment_pk=1, amount_fils=1, reason="other",  # type: ignore[arg-type, call-arg]
                               idempotency_key="k", threshold_fils=10**9)


def test_the_app_sets_the_threshold_from_its_settings_and_reset_restores_the_default(monkeypatch) -> None:
    monkeypatch.setenv("SOUQ_REFUND_APPROVAL_THRESHOLD_FILS", "2500")
    runtime.reset()
    try:
        assert runtime.settings().refund_approval_threshold_fils == 2500
        assert refunds.approval_threshold_fils() == 2500
    finally:
        runtime.reset()
    assert refunds.approval_threshold_fils() == policy.DEFAULT.refund_approval_threshold_fils == 100_000


@pytest.mark.parametrize("bad", [-1, True, "1000", 1.5])
def test_a_threshold_that_is_not_an_amount_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="approval threshold is not set to an amount"):
        policy.Policy(refund_approval_threshold_fils=bad)  # type: ignore[arg-type]


def test_the_service_applies_the_configured_threshold(tmp_path) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    payment = make_payment(engine, amount_fils=10_000, upay_order_id="UPAY-POLICY")
    policy.configure(policy.Policy(refund_approval_threshold_fils=1_000))
    # A closed port: above the threshold nothing is sent, so the client is never reached.
    with UPaymentsClient("http://127.0.0.1:9/api/v1/", "jtest123", timeout=1, max_retries=0) as dead:
        refund = refunds.request_refund(engine, dead, finance, payment_pk=payment.id or 0, amount_fils=1_001,
                                        reason="duplicate", idempotency_key="policy-1")
    assert refund.state == RefundState.PENDING_APPROVAL
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(col(AuditEntry.action) == "refund_requested")).one()
    assert json.loads(entry.after or "{}")["threshold_fils"] == 1_000


def test_reconciliation_caps_live_look_ups_itself(engine, dead_client) -> None:
    """The page's widget stops at the cap, but the service is what refuses: no gateway call is made."""
    finance = make_staff(engine, Role.FINANCE)
    with pytest.raises(ValueError, match=f"at most {sync.MAX_LIVE_SAMPLE} payments"):
        sync.find_drift(engine, finance, client=dead_client, sample=sync.MAX_LIVE_SAMPLE + 1)
    assert sync.find_drift(engine, finance) == []  # without a client: the stored drift only, none here
