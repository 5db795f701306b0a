"""Refunds: request (four-eyes approval above the shop's threshold), approve, reject, cancel, settle and list.

Owns the refund ledger and its one-in-flight rule (:mod:`.ledger`), the money-moving commands (:mod:`.commands`),
settling uncertain intents from check-refund (:mod:`.settle`), split-payment refunds sent per vendor
(:mod:`.split`) and the read side (:mod:`.queries`).
"""

from __future__ import annotations

from services.refunds.commands import (
    MAX_REFUND_FILS,
    RefundSummary,
    approval_threshold_fils,
    approve_refund,
    cancel_refund,
    get_refund,
    refund_summary,
    reject_refund,
    request_refund,
)
from services.refunds.ledger import (
    REASONS,
    ApprovalError,
    NotRefundable,
    OverRefund,
    RefundError,
    RefundInFlight,
    expected_arrival,
)
from services.refunds.queries import (
    PaymentHit,
    RefundFilter,
    RefundRow,
    distinct_requesters,
    export_refunds_csv,
    find_payments,
    list_refunds,
)
from services.refunds.settle import matches, refresh_refunds, settle_uncertain
from services.refunds.split import send_split_refund, vendor_shares

__all__ = [
    "MAX_REFUND_FILS",
    "REASONS",
    "ApprovalError",
    "NotRefundable",
    "OverRefund",
    "PaymentHit",
    "RefundError",
    "RefundFilter",
    "RefundInFlight",
    "RefundRow",
    "RefundSummary",
    "approval_threshold_fils",
    "approve_refund",
    "cancel_refund",
    "distinct_requesters",
    "expected_arrival",
    "export_refunds_csv",
    "find_payments",
    "get_refund",
    "list_refunds",
    "matches",
    "refresh_refunds",
    "refund_summary",
    "reject_refund",
    "request_refund",
    "send_split_refund",
    "settle_uncertain",
    "vendor_shares",
]
