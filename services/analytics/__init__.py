"""Analytics: KPIs, method mix and trends aggregated in SQL (see :mod:`services.analytics.report` for definitions)."""

from __future__ import annotations

from services.analytics.periods import (
    DEFAULT_PRESET,
    MAX_DAILY_DAYS,
    PRESETS,
    Period,
    period_for,
    previous_period,
)
from services.analytics.queries import (
    ANALYTICS_INDEX_COLUMNS,
    ANALYTICS_INDEX_NAME,
    COUNTED_REFUND_STATES,
    AnalyticsFilter,
    ensure_indexes,
)
from services.analytics.report import (
    DEFINITIONS,
    OTHER,
    WEEKDAYS,
    Change,
    Comparison,
    HeatCell,
    Kpis,
    MixRow,
    RefundByMethod,
    Report,
    SeriesPoint,
    SuccessPoint,
    compare,
    family_series,
    hour_weekday,
    kpis,
    report,
    transactions_query,
)
from services.search import kuwait_today  # the same "today" as the transactions page's presets

__all__ = [
    "ANALYTICS_INDEX_COLUMNS",
    "ANALYTICS_INDEX_NAME",
    "COUNTED_REFUND_STATES",
    "DEFAULT_PRESET",
    "DEFINITIONS",
    "MAX_DAILY_DAYS",
    "OTHER",
    "PRESETS",
    "WEEKDAYS",
    "AnalyticsFilter",
    "Change",
    "Comparison",
    "HeatCell",
    "Kpis",
    "MixRow",
    "Period",
    "RefundByMethod",
    "Report",
    "SeriesPoint",
    "SuccessPoint",
    "compare",
    "ensure_indexes",
    "family_series",
    "hour_weekday",
    "kpis",
    "kuwait_today",
    "period_for",
    "previous_period",
    "report",
    "transactions_query",
]
