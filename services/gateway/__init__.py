"""UPayments API client ("UInterfaceV2"): ``UPaymentsClient`` plus the redirect/webhook parsers.

>>> with UPaymentsClient("https://sandboxapi.upayments.com/api/v1/", token) as client:   # doctest: +SKIP
...     tx = client.payments.status(track_id="…")
"""

from __future__ import annotations

from . import errors
from .cards import AutoDeductResult, SavedCard
from .client import UPaymentsClient
from .errors import is_uncertain
from .limiter import Lane
from .limiter import lane as status_lane
from .models import (
    ChargeResult,
    Customer,
    DepositStatus,
    LegacyRefundStatus,
    PayButtons,
    Product,
    RedirectParams,
    RefundCreated,
    RefundStatusItem,
    Transaction,
)
from .redirect import parse_notification, parse_redirect
from .split import SplitRefundEntry, SplitRefundGenerated, SplitRefundNeeded, SplitRefundResult
from .vocab import method_from, normalise_result, result_to_status

__all__ = [
    "AutoDeductResult",
    "ChargeResult",
    "Customer",
    "DepositStatus",
    "Lane",
    "LegacyRefundStatus",
    "PayButtons",
    "Product",
    "RedirectParams",
    "RefundCreated",
    "RefundStatusItem",
    "SavedCard",
    "SplitRefundEntry",
    "SplitRefundGenerated",
    "SplitRefundNeeded",
    "SplitRefundResult",
    "Transaction",
    "UPaymentsClient",
    "errors",
    "is_uncertain",
    "method_from",
    "normalise_result",
    "parse_notification",
    "parse_redirect",
    "result_to_status",
    "status_lane",
]
