"""Payment links: create one exactly once, share it, follow it to a verified status, and land the customer.

Owns link creation and validation (:mod:`.create`), the sales list and timeline (:mod:`.follow`), WhatsApp/SMS/
e-mail/QR sharing (:mod:`.share`) and the customer's landing page view after the gateway (:mod:`.landing`).
"""

from __future__ import annotations

from services.links.create import (
    InvalidLinkRequest,
    LineItem,
    LinkOutcome,
    LinkRequest,
    LinkSettings,
    create_link,
    new_idempotency_key,
    validate_link_request,
)
from services.links.follow import (
    EVENT_LABELS,
    LINK_STATUSES,
    STATUS_LABELS,
    LinkDetail,
    LinkNotFound,
    LinkPage,
    LinkRow,
    TimelineEntry,
    check_link,
    link_creators,
    link_detail,
    list_links,
    refresh_awaiting,
    verified_refresh,
)
from services.links.landing import MAX_QUERY_BYTES, REFRESH_SECONDS, Landing, Receipt, land, receipt_view
from services.links.share import (
    ShareContext,
    ShareLinks,
    context_for,
    qr_png,
    receipt_links,
    record_share,
    share_links,
)

__all__ = [
    "EVENT_LABELS",
    "LINK_STATUSES",
    "MAX_QUERY_BYTES",
    "REFRESH_SECONDS",
    "STATUS_LABELS",
    "InvalidLinkRequest",
    "Landing",
    "LineItem",
    "LinkDetail",
    "LinkNotFound",
    "LinkOutcome",
    "LinkPage",
    "LinkRequest",
    "LinkRow",
    "LinkSettings",
    "Receipt",
    "ShareContext",
    "ShareLinks",
    "TimelineEntry",
    "check_link",
    "context_for",
    "create_link",
    "land",
    "link_creators",
    "link_detail",
    "list_links",
    "new_idempotency_key",
    "qr_png",
    "receipt_links",
    "receipt_view",
    "record_share",
    "refresh_awaiting",
    "share_links",
    "validate_link_request",
    "verified_refresh",
]
