"""The Transactions CSV's header row in the language chosen for that export (the ticket carries the choice).

English keeps the stable column names scripts and spreadsheets already read (``created_kuwait`` …); Arabic is each
column in words from the catalog. The services stay English: they receive the row ready-made.
"""

from __future__ import annotations

from dashboard import i18n
from services.search import COLUMN_LABELS, COLUMNS


def transactions_header(lang: str) -> list[str]:
    """One name per column of ``services.search.COLUMNS``, in order, in ``lang`` (``en`` or ``ar``)."""
    if lang == "en":
        return list(COLUMNS)
    with i18n.use(lang):
        return [i18n._(COLUMN_LABELS[column]) for column in COLUMNS]
