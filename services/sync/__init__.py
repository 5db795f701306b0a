"""Keeping the cache true to the gateway: receive webhooks, verify them in the background, poll what is not final.

Owns the webhook inbox (:mod:`.receive` stores, :mod:`.inbox` lists), verification by status look-up
(:mod:`.verify`, :mod:`.events`, :mod:`.gate`, the :mod:`.worker` threads), sync passes (:mod:`.passes`,
last-sync time in :mod:`.state`) and the reconciliation report (:mod:`.reconcile`).
"""

from __future__ import annotations

from services.sync.events import ProcessOutcome, apply_redirect, process_event, process_events
from services.sync.inbox import EventDetail, InboxFilter, InboxRow, get_event, list_events
from services.sync.passes import SyncReport, sync_pending
from services.sync.receive import PayloadTooLarge, Receipt, receive
from services.sync.reconcile import (
    KIND_LABELS,
    LINK_UNCERTAIN,
    MAX_LIVE_SAMPLE,
    PAID_WITHOUT_WEBHOOK,
    STATUS_MISMATCH,
    WEBHOOK_UNKNOWN_ORDER,
    DriftItem,
    find_drift,
    resync,
)
from services.sync.state import get_time
from services.sync.verify import CannotLookUp, PaymentUnknown, lookup_payment, refresh_payment
from services.sync.worker import on_webhook_stored, wait_idle

__all__ = [
    "KIND_LABELS",
    "LINK_UNCERTAIN",
    "MAX_LIVE_SAMPLE",
    "PAID_WITHOUT_WEBHOOK",
    "STATUS_MISMATCH",
    "WEBHOOK_UNKNOWN_ORDER",
    "CannotLookUp",
    "DriftItem",
    "EventDetail",
    "InboxFilter",
    "InboxRow",
    "PayloadTooLarge",
    "PaymentUnknown",
    "ProcessOutcome",
    "Receipt",
    "SyncReport",
    "apply_redirect",
    "find_drift",
    "get_event",
    "get_time",
    "list_events",
    "lookup_payment",
    "on_webhook_stored",
    "process_event",
    "process_events",
    "receive",
    "refresh_payment",
    "resync",
    "sync_pending",
    "wait_idle",
]
