"""Transaction search over the payment cache: filter, URL round trip, paged results with totals, detail, CSV export."""

from __future__ import annotations

from services.search.detail import PaymentDetail, PaymentNotFound, parse_raw, payment_detail
from services.search.export import (
    COLUMN_LABELS,
    COLUMNS,
    HEADER_LANGUAGES,
    ExportRefused,
    Redeemed,
    export_csv,
    issue_ticket,
    redeem_ticket,
)
from services.search.filters import (
    FAMILIES,
    METHODS,
    PRESETS,
    REFUND_STATES,
    SORTS,
    STATUSES,
    SearchFilter,
    filter_from_query,
    filter_to_query,
    kuwait_today,
    preset_range,
)
from services.search.query import (
    MAX_PAGE_SIZE,
    PaymentRow,
    SearchPage,
    Totals,
    add_up,
    iter_rows,
    search,
    totals,
)
from services.search.support import ensure_search_support, optimize_search, search_health

__all__ = [
    "COLUMNS",
    "COLUMN_LABELS",
    "FAMILIES",
    "HEADER_LANGUAGES",
    "MAX_PAGE_SIZE",
    "METHODS",
    "PRESETS",
    "REFUND_STATES",
    "SORTS",
    "STATUSES",
    "ExportRefused",
    "PaymentDetail",
    "PaymentNotFound",
    "PaymentRow",
    "Redeemed",
    "SearchFilter",
    "SearchPage",
    "Totals",
    "add_up",
    "ensure_search_support",
    "export_csv",
    "filter_from_query",
    "filter_to_query",
    "issue_ticket",
    "iter_rows",
    "kuwait_today",
    "optimize_search",
    "parse_raw",
    "payment_detail",
    "preset_range",
    "redeem_ticket",
    "search",
    "search_health",
    "totals",
]
