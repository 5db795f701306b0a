"""Every table on a page goes through here: one rule for right to left, and data made safe on the way.

``st.dataframe`` draws on a canvas (glide-data-grid), which has no right-to-left mode and which no stylesheet
reaches: in Arabic :func:`dataframe` mirrors the columns (the first column stands at the right edge) and aligns
every column's cells to the right through ``column_config`` (merged into the page's own, which stays keyed by
column name). Row selections are row positions, which mirroring leaves alone.

``st.table`` is an HTML table inside the page's ``direction: rtl``: the browser already lays its first column on
the right and ``static/souq.css`` aligns its cells right, so :func:`table` does not mirror it (that would undo it).

``tests/unit/test_markup_safety.py`` checks that no other module calls ``st.dataframe`` or ``st.table``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.i18n import is_rtl
from dashboard.safe import cells, md_cells

Rows = pd.DataFrame | Iterable[Mapping[str, Any]]


def mirrored(rows: Rows) -> pd.DataFrame | list[Mapping[str, Any]]:
    """The columns in reverse order when the page is right to left; unchanged (as a list) otherwise."""
    if isinstance(rows, pd.DataFrame):
        return rows[rows.columns[::-1]] if is_rtl() else rows
    listed = list(rows)
    return [dict(reversed(list(row.items()))) for row in listed] if is_rtl() else listed


def _names(rows: pd.DataFrame | list[Mapping[str, Any]]) -> list[str]:
    if isinstance(rows, pd.DataFrame):
        return [str(c) for c in rows.columns]
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(str(k) for k in row))
    return list(seen)


def aligned(rows: pd.DataFrame | list[Mapping[str, Any]],
            given: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The page's ``column_config``; right to left, every column's cells aligned right unless the page chose."""
    if not is_rtl():
        return dict(given) if given else None
    config: dict[str, Any] = dict(given or {})
    for name in _names(rows):
        own = config.get(name)
        if own is None:
            config[name] = st.column_config.Column(alignment="right")
        elif isinstance(own, Mapping) and own.get("alignment") is None:
            config[name] = {**own, "alignment": "right"}
    return config


def dataframe(rows: Rows, *, column_config: Mapping[str, Any] | None = None, hide_index: bool = True,
              **kwargs: Any) -> Any:
    """``st.dataframe`` of ``rows`` (rows or a DataFrame): cells made safe and localised (``safe.cells``),
    mirrored and right-aligned in Arabic. Returns what ``st.dataframe`` returns (a selection event)."""
    shown = mirrored(rows)
    return st.dataframe(cells(shown), hide_index=hide_index, column_config=aligned(shown, column_config), **kwargs)


def table(rows: Iterable[Mapping[str, Any]]) -> None:
    """``st.table`` of ``rows``: every cell and header as literal Markdown text (``safe.md_cells``), no index."""
    st.table(md_cells(rows), hide_index=True)
