"""Split-payment refunds end to end against the sandbox (§11.2, §12.4–§12.5, §18 F4), documented fields only."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from services.db import session_scope
from services.gateway import SplitRefundNeeded
from services.ingest import observation_from_transaction, upsert
from services.models import Payment, RefundState
from services.permissions import SYSTEM, Role
from services.refunds import (
    RefundError,
    cancel_refund,
    refresh_refunds,
    request_refund,
    send_split_refund,
    settle_uncertain,
    vendor_shares,
)
from tests.factories import make_db, make_staff
from tests.integration.conftest import Api
from tests.integration.test_refunds_support import client_for, gateway_refunds, our_refunds, refunded_fils

IBAN_A, IBAN_B = "KW91KFHO0000000000051010173254", "KW31NBOK0000000000002010177457"


@pytest.fixture
def engine(tmp_path):
    return make_db(tmp_path)


@pytest.fixture
def client(sandbox):
    with client_for(sandbox.api_base, timeout=1.0) as c:
        yield c


def split_payment(engine, sandbox, client) -> Payment:
    """A 10.000 KWD payment split 6.000 / 4.000 between two vendors, captured at the sandbox and cached."""
    api = Api(sandbox)
    vendors = [{"amount": Decimal("6.000"), "knetCharge": Decimal("0.250"), "knetChargeType": "fixed",
                "ccCharge": Decimal("2.5"), "ccChargeType": "percentage", "ibanNumber": IBAN_A},
               {"amount": Decimal("4.000"), "knetCharge": Decimal("0.250"), "knetChargeType": "fixed",
                "ccCharge": Decimal("2.5"), "ccChargeType": "percentage", "ibanNumber": IBAN_B}]
    order_id = f"SP{uuid.uuid4().hex[:12].upper()}"
    done = api.paid(order_id=order_id, amount=Decimal("10.000"), extraMerchantData=vendors)
    tx = client.payments.status(track_id=done["track_id"])
    assert json.loads(tx.raw["extra_merchants_data"])[1]["ibanNumber"] == IBAN_B
    with session_scope(engine) as session:
        result = upsert(session, observation_from_transaction(tx))
        assert result.payment is not None
        pk = result.payment.id
    with Session(engine) as session:
        payment = session.get(Payment, pk)
        assert payment is not None
        return payment


def _ask(engine, client, actor, payment, amount, key) -> Any:
    return request_refund(engine, client, actor, payment_pk=payment.id, amount_fils=amount,
                          reason="customer_request", idempotency_key=key)


def test_the_client_answers_needs_split_with_both_spellings_of_the_flag(sandbox, client, engine) -> None:
    payment = split_payment(engine, sandbox, client)
    answer = client.refunds.create(order_id=payment.upay_order_id or "", amount_fils=1_000)
    assert isinstance(answer, SplitRefundNeeded)
    assert [(e.iban, e.total_paid_fils, e.remaining_fils) for e in answer.entries] == [(IBAN_A, 6_000, 6_000),
                                                                                      (IBAN_B, 4_000, 4_000)]
    assert gateway_refunds(sandbox, payment) == []  # nothing was refunded


def test_a_split_refund_is_completed_tracked_and_nothing_is_sent_twice(sandbox, client, engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = split_payment(engine, sandbox, client)
    refund = _ask(engine, client, finance, payment, 5_000, "split-1")
    assert refund.state == RefundState.NEEDS_SPLIT and refunded_fils(engine, payment) == 0
    shares = vendor_shares(engine, finance, refund_id=refund.id)
    assert [(s.iban, s.remaining_fils) for s in shares] == [(IBAN_A, 6_000), (IBAN_B, 4_000)]
    with pytest.raises(RefundError, match=r"more than the 4\.000 KWD still refundable"):
        send_split_refund(engine, client, finance, refund_id=refund.id, amounts={shares[1].refund_request_id: 4_500})
    with pytest.raises(RefundError, match=r"more than the 5\.000 KWD this refund was requested for"):
        send_split_refund(engine, client, finance, refund_id=refund.id,
                          amounts={shares[0].refund_request_id: 3_000, shares[1].refund_request_id: 3_000})
    amounts = {shares[0].refund_request_id: 3_000, shares[1].refund_request_id: 2_000}
    sent = send_split_refund(engine, client, finance, refund_id=refund.id, amounts=amounts)
    again = send_split_refund(engine, client, finance, refund_id=refund.id, amounts=amounts)  # double click
    assert sent.state == again.state == RefundState.INITIATED and sent.amount_fils == 5_000
    made = gateway_refunds(sandbox, payment)
    assert sorted(r["amount_fils"] for r in made) == [2_000, 3_000]  # two per-vendor refunds, once
    assert refunded_fils(engine, payment) == 5_000
    sandbox.settle_refunds()
    assert refresh_refunds(engine, client, actor=SYSTEM) == 1  # both elements bound by their own order ids
    [done] = our_refunds(engine, payment)
    assert done.state == RefundState.REFUNDED


def test_insufficient_vendor_balance_is_named_and_refunds_nothing(sandbox, client, engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = split_payment(engine, sandbox, client)
    sandbox.configure(vendor_balance_fils=1_000)
    refund = _ask(engine, client, finance, payment, 3_000, "split-poor")
    shares = vendor_shares(engine, finance, refund_id=refund.id)
    back = send_split_refund(engine, client, finance, refund_id=refund.id,
                             amounts={shares[0].refund_request_id: 3_000})
    assert back.state == RefundState.NEEDS_SPLIT and back.error is not None
    assert IBAN_A in back.error and "not enough balance" in back.error
    assert gateway_refunds(sandbox, payment) == [] and refunded_fils(engine, payment) == 0
    sandbox.configure(vendor_balance_fils=50_000)  # the vendor topped up: the same request can be sent now
    assert send_split_refund(engine, client, finance, refund_id=refund.id,
                             amounts={shares[0].refund_request_id: 3_000}).state == RefundState.INITIATED


def test_an_initiated_split_refund_is_cancelled_per_vendor(sandbox, client, engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = split_payment(engine, sandbox, client)
    refund = _ask(engine, client, finance, payment, 4_000, "split-cancel")
    shares = vendor_shares(engine, finance, refund_id=refund.id)
    send_split_refund(engine, client, finance, refund_id=refund.id,
                      amounts={shares[0].refund_request_id: 1_500, shares[1].refund_request_id: 2_500})
    cancelled = cancel_refund(engine, client, finance, refund_id=refund.id)
    assert cancelled.state == RefundState.CANCELLED and refunded_fils(engine, payment) == 0
    assert [r["state"] for r in gateway_refunds(sandbox, payment)] == ["deleted", "deleted"]


def test_a_lost_split_answer_is_settled_from_check_refund(sandbox, client, engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = split_payment(engine, sandbox, client)
    refund = _ask(engine, client, finance, payment, 4_000, "split-lost")
    shares = vendor_shares(engine, finance, refund_id=refund.id)
    sandbox.set_faults(malformed_json=True, paths=["create-multivendor-refund"], count=1)
    lost = send_split_refund(engine, client, finance, refund_id=refund.id,
                             amounts={shares[0].refund_request_id: 1_000, shares[1].refund_request_id: 3_000})
    assert lost.state == RefundState.UNCERTAIN
    assert settle_uncertain(engine, client, actor=SYSTEM) == 1
    [settled] = our_refunds(engine, payment)
    assert settled.state == RefundState.INITIATED and refunded_fils(engine, payment) == 4_000
    parts = json.loads(settled.split_generated or "[]")
    made = {r["order_id"] for r in gateway_refunds(sandbox, payment)}
    assert {p["order_id"] for p in parts} == made and len(made) == 2


def test_two_split_requests_cannot_refund_more_than_was_captured(sandbox, client, engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = split_payment(engine, sandbox, client)
    first = _ask(engine, client, finance, payment, 8_000, "split-over-a")
    second = _ask(engine, client, finance, payment, 8_000, "split-over-b")  # nothing is committed yet
    shares = vendor_shares(engine, finance, refund_id=first.id)
    send_split_refund(engine, client, finance, refund_id=first.id,
                      amounts={shares[0].refund_request_id: 6_000, shares[1].refund_request_id: 2_000})
    with pytest.raises(RefundError, match=r"still refundable on payment"):
        send_split_refund(engine, client, finance, refund_id=second.id,
                          amounts={shares[1].refund_request_id: 2_500})  # the stored limits are stale: 2.000 left
    assert refunded_fils(engine, payment) == 8_000 and len(gateway_refunds(sandbox, payment)) == 2
