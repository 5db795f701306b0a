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
from services.money import format_money


def mismatch(charge: CardCharge, tx: Any, *, track_id: str | None = None) -> str | None:
    """Why ``tx`` (a ``Transaction``) is not this charge's final answer, as a sentence; None when it is."""
    named = [v for v in (tx.merchant_order_id, tx.reference) if v]
    if not named:
        return "UPayments' answer does not say which order it belongs to; nothing was changed."
    other = next((v for v in named if v != charge.order_id), None)
    if other is not None:
        return (f"That payment belongs to order {other}, not to this charge ({charge.order_id}); "
                "nothing was changed. Check the track id in the UPayments portal.")
    if track_id and tx.track_id and tx.track_id != track_id:
        return f"UPayments answered about track id {tx.track_id}, not {track_id}; nothing was changed."
    currency = (tx.currency or charge.currency).upper()
    if tx.amount_fils is None or tx.amount_fils != charge.amount_fils or currency != charge.currency:
        shown = format_money(tx.amount_fils, currency) if tx.amount_fils is not None else "no amount"
        return (f"That payment is for {shown}, not {format_money(charge.amount_fils, charge.currency)}; "
                "nothing was changed.")
    if state_of(tx) is None:
        return (f"UPayments says this payment is not final yet ({tx.result or 'no result'}); nothing was changed. "
                "Check again in a few minutes.")
    return None


def state_of(tx: Any) -> CardChargeState | None:
    """The charge's state for a final result word; None while the gateway's result is not final."""
    status = result_to_status(tx.result, getattr(tx, "status", None))
    if status == PaymentStatus.PAID:
        return CardChargeState.PAID
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return CardChargeState.DECLINED
    return None
