"""The gateway's result words and method names, mapped to our statuses and methods (contract §7.1, §4.1).

The one owner of "result word → :class:`PaymentStatus`": ingest, sync, reconcile, demo data and tests all ask
:func:`result_to_status`. Decisions, from contract §7.1 (§18 adds nothing on result words):

- ``CAPTURED``, ``SUCCESS`` (legacy spelling) → paid.
- ``NOT CAPTURED``, ``ERROR``, ``FAILED``, ``FAILURE`` → failed; so are ``DECLINED``, ``DENIED`` and ``REJECTED``,
  which §7.1 does not list but which say what it calls NOT CAPTURED ("declined / failed").
- ``CANCELED`` / ``CANCELLED`` → cancelled.
- ``REFUND`` (and ``REFUNDED``), a post-payment state: the payment was captured → paid; how much was refunded
  is the refund ledger's business.
- ``VOIDED``, a post-payment state: the authorisation was reversed and no money stays with the shop → cancelled.
- ``PENDING``, ``AUTHORIZED``, ``APPROVED``, ``Processing``, null and unknown words → pending (not final: re-check).
- No result and the gateway's ``status`` ``expired`` → expired.
"""

from __future__ import annotations

import re

from services.models import PaymentStatus

_SPACES = re.compile(r"(?:\s|\+|%20|_)+", re.IGNORECASE)

# §16 A14: CANCELED and CANCELLED both occur; we normalise to the spelling the gateway emits.
_SPELLINGS = {"CANCELLED": "CANCELED", "NOTCAPTURED": "NOT CAPTURED"}

_PAID = frozenset({"CAPTURED", "SUCCESS"})
# REFUND is a post-payment state: the payment itself was captured (refunds are tracked on their own).
_PAID_THEN_LATER = frozenset({"REFUND", "REFUNDED"})
_FAILED = frozenset({"NOT CAPTURED", "ERROR", "FAILED", "FAILURE", "DECLINED", "DENIED", "REJECTED"})
# VOIDED: the authorisation was reversed, no money moved — for the merchant that reads as cancelled.
_CANCELLED = frozenset({"CANCELED", "VOIDED"})

# Gateway ``src`` words (and the spellings plugins use) → our Method values.
_METHODS: dict[str, str] = {
    "knet": "knet",
    "cc": "card",
    "card": "card",
    "credit_card": "card",
    "creditcard": "card",
    "visa": "card",
    "mastercard": "card",
    "amex": "amex",
    "apple_pay": "apple_pay",
    "applepay": "apple_pay",
    "apple_pay_knet": "apple_pay_knet",
    "applepayknet": "apple_pay_knet",
    "google_pay": "google_pay",
    "googlepay": "google_pay",
    "samsung_pay": "samsung_pay",
    "samsungpay": "samsung_pay",
}


def normalise_result(result: str | None) -> str | None:
    """Result word in one spelling: ``"not+captured"`` → ``NOT CAPTURED``, ``Cancelled`` → ``CANCELED``."""
    if result is None:
        return None
    word = _SPACES.sub(" ", result).strip().upper()
    if not word or word in {"NULL", "NONE"}:
        return None
    return _SPELLINGS.get(word.replace(" ", ""), word)


def result_to_status(result: str | None, gateway_status: str | None = None) -> PaymentStatus:
    """Our payment status for a gateway ``result`` word (and the transaction's ``status``, for expiry).

    Unknown words, null and the not-final words (PENDING, AUTHORIZED, APPROVED, Processing) are pending: the
    caller re-checks the status later instead of guessing.
    """
    word = normalise_result(result)
    if word is None:
        if (gateway_status or "").strip().lower() == PaymentStatus.EXPIRED:
            return PaymentStatus.EXPIRED
        return PaymentStatus.PENDING
    if word in _PAID or word in _PAID_THEN_LATER:
        return PaymentStatus.PAID
    if word in _FAILED:
        return PaymentStatus.FAILED
    if word in _CANCELLED:
        return PaymentStatus.CANCELLED
    return PaymentStatus.PENDING


def _method_word(value: str | None) -> str | None:
    if not value:
        return None
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    return _METHODS.get(key)


def method_from(payment_method: str | None, payment_type: str | None) -> str | None:
    """Our method from the simulator's ``payment_method`` src word, else from the gateway's ``payment_type``.

    §16 A15: payment_type is ``knet``, or ``cc``/``card`` for cards and wallets. None when unknown.
    """
    return _method_word(payment_method) or _method_word(payment_type)
