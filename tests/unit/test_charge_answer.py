"""Binding a get-payment-status answer to a saved-card charge before a person's track id settles it."""

from __future__ import annotations

from typing import Any

import pytest

from services.customers.charge_answer import mismatch, state_of
from services.gateway.models import Transaction
from services.models import CardCharge, CardChargeState

CHARGE = CardCharge(idempotency_key="k" * 16, order_id="SC261127abc", customer_key="+96550001234",
                    card_token="1234567890123456", amount_fils=12_500, description="Repeat order",
                    requested_by="f@shop.test")


def _tx(**changes: Any) -> Transaction:
    """A §6.2 ``data.transaction`` for the charge, with ``changes`` (None removes a field)."""
    wire = {"order_id": "ME3OdxVO6m-1", "track_id": "TRK1", "payment_id": "P1", "result": "CAPTURED",
            "payment_type": "card", "reference": "SC261127abc", "merchant_requested_order_id": "SC261127abc",
            "total_price": "12.500", "currency_type": "KWD", "status": "done"}
    wire.update(changes)
    return Transaction.model_validate({k: v for k, v in wire.items() if v is not None})


def test_the_charges_own_answer_is_accepted() -> None:
    assert mismatch(CHARGE, _tx(), track_id="TRK1") is None
    assert state_of(_tx()) == CardChargeState.PAID
    assert state_of(_tx(result="NOT CAPTURED")) == CardChargeState.DECLINED
    assert mismatch(CHARGE, _tx(merchant_requested_order_id=None)) is None  # the reference alone names the order


@pytest.mark.parametrize(("changes", "sentence"), [
    ({"merchant_requested_order_id": "SC-other"}, "belongs to order SC-other"),
    ({"reference": "SC-other"}, "belongs to order SC-other"),
    ({"merchant_requested_order_id": None, "reference": None}, "does not say which order"),
    ({"total_price": "12.000"}, "is for 12.000 KWD, not 12.500 KWD"),
    ({"currency_type": "USD", "total_price": "12.500"}, "not 12.500 KWD"),
    ({"total_price": None}, "no amount"),
    ({"track_id": "TRK2"}, "not TRK1"),
    ({"result": None}, "not final yet"),
    ({"result": "PENDING"}, "not final yet"),
])
def test_an_answer_of_another_order_amount_track_or_not_final_is_refused(changes: dict[str, Any],
                                                                         sentence: str) -> None:
    problem = mismatch(CHARGE, _tx(**changes), track_id="TRK1")
    assert problem is not None and sentence in problem
