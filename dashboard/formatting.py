"""Shared formatting for pages: money, Kuwait time, status labels (pure functions, no Streamlit)."""

from __future__ import annotations

from datetime import datetime

from services.money import format_money
from services.refund_state import LABELS as REFUND_LABELS
from services.refund_state import status_word
from services.timeutil import to_kuwait, utcnow

STATUS_LABELS = {
    "pending": "Awaiting payment",
    "paid": "Paid",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "expired": "Expired",
    **REFUND_LABELS,
}
#: A refund's own state (the refund ledger), in words.
REFUND_STATE_LABELS = {
    "pending_approval": "Awaiting approval", "rejected": "Rejected", "sending": "Being sent",
    "uncertain": "Being checked", "initiated": "Initiated", "refunded": "Refunded", "cancelled": "Cancelled",
    "failed": "Failed", "needs_split": "Needs per-vendor split",
}
METHOD_LABELS = {
    "knet": "KNET",
    "card": "Card",
    "amex": "Amex",
    "apple_pay": "Apple Pay",
    "apple_pay_knet": "Apple Pay (KNET)",
    "google_pay": "Google Pay",
    "samsung_pay": "Samsung Pay",
}


def money(minor: int | None, currency: str = "KWD") -> str:
    """``12500`` → ``"12.500 KWD"``; None → an em dash."""
    return "—" if minor is None else format_money(minor, currency)


def kuwait_time(value: datetime | None, *, seconds: bool = False) -> str:
    """An instant in Kuwait local time, ``2026-11-24 18:05``."""
    if value is None:
        return "—"
    return to_kuwait(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: ``just now``, ``3 min ago``, ``2 h ago``, ``5 days ago``."""
    if value is None:
        return "never"
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "—")


def payment_status_label(status: str, refund_state: str | None, pending_fils: int = 0,
                         currency: str = "KWD") -> str:
    """``Partially refunded`` / ``Refunded`` for refunded paid payments (services.refund_state), with refunds still
    pending beside: ``Paid · 5.000 KWD refund pending``."""
    label = status_label(status_word(status, refund_state))
    return f"{label} · {money(pending_fils, currency)} refund pending" if pending_fils > 0 else label


def method_label(method: str | None) -> str:
    return METHOD_LABELS.get(method or "", method or "—")

