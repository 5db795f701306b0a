"""Binding a get-payment-status answer to one saved-card charge before believing it.

A person copies a track id from the UPayments portal; a wrong one may belong to another payment. The answer is
accepted only when it names this charge's order (``merchant_requested_order_id`` and/or ``reference``, which
auto-deduct sets to our order id), for its amount and currency, with the track id asked about, and with a final
result (contract §6.2: the SPX StatusVerifier's checks).
"""

from __future__ import annotations

from typing import Any

from services.gateway.vocab import result_to_status
from services.models import CardCharge, CardChargeState, PaymentStatus
from services.money import EXPONENTS, format_money
from services.sentence import Sentence, say


def mismatch(charge: CardCharge, tx: Any, *, track_id: str | None = None) -> Sentence | None:
    """Why ``tx`` (a ``Transaction``) is not this charge's final answer, as a sentence; None when it is."""
    named = [v for v in (tx.merchant_order_id, tx.reference) if v]
    if not named:
        return say("UPayments' answer does not say which order it belongs to; nothing was changed.")
    other = next((v for v in named if v != charge.order_id), None)
    if other is not None:
        return say("That payment belongs to order {other}, not to this charge ({order}); nothing was changed. Check "
                   "the track id in the UPayments portal.", other=other, order=charge.order_id)
    if track_id and tx.track_id and tx.track_id != track_id:
        return say("UPayments answered about track id {got}, not {asked}; nothing was changed.", got=tx.track_id,
                   asked=track_id)
    currency = (tx.currency or charge.currency).upper()
    if tx.amount_fils is None or tx.amount_fils != charge.amount_fils or currency != charge.currency:
        if tx.amount_fils is None or currency not in EXPONENTS:
            return say("That payment has no amount in {currency}; nothing was changed.", currency=currency)
        return say("That payment is for {got}, not {wanted}; nothing was changed.",
                   got=format_money(tx.amount_fils, currency),
                   wanted=format_money(charge.amount_fils, charge.currency))
    if state_of(tx) is None:
        return say("UPayments says this payment is not final yet ({result}); nothing was changed. Check again in a "
                   "few minutes.", result=tx.result or "—")
    return None


def state_of(tx: Any) -> CardChargeState | None:
    """The charge's state for a final result word; None while the gateway's result is not final."""
    status = result_to_status(tx.result, getattr(tx, "status", None))
    if status == PaymentStatus.PAID:
        return CardChargeState.PAID
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return CardChargeState.DECLINED
    return None
